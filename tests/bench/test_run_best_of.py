"""bench.run keeps each call's best round of a target (rounds alternate the targets)."""

from __future__ import annotations

from bench.run import Load, Target, best_of


def test_each_call_keeps_its_fastest_round_with_that_round_s_cpu_and_latency() -> None:
    runs = [
        Target("gateway, 1 proc", 1, Load(rps=5000, p99_ms=9, cpu_us=190), Load(rps=4000, cpu_us=230),
               [64_000], [65_000], Load(rps=450, p99_ms=4.1)),
        Target("gateway, 1 proc", 1, Load(rps=10000, p99_ms=5, cpu_us=92), Load(rps=3900, cpu_us=240),
               [63_000], [66_000], Load(rps=450, p99_ms=3.2)),
        Target("gateway, 1 proc", 1, Load(rps=9000, p99_ms=6, cpu_us=99), Load(rps=4431, cpu_us=225),
               [63_500], [65_500], None),
    ]  # fmt: skip
    best = best_of(runs)
    assert (best.label, best.procs) == ("gateway, 1 proc", 1)
    assert (best.one.rps, best.one.cpu_us, best.one.p99_ms) == (10000, 92, 5)
    assert (best.many.rps, best.many.cpu_us) == (4431, 225)
    assert best.paced is not None and best.paced.p99_ms == 3.2
    assert best.idle_kb == [64_000] and best.peak_kb == [66_000]
    assert best_of(runs[:1]) == runs[0]
