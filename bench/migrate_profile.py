"""Where a migration's calls and time go: HTTP calls per ticket by route, in one process.

Seeds the source simulator (PMP 3.x or WHMCS) with N tickets of K replies each, starts both
simulators as their own processes, runs ``gateway migrate`` in this process with every
backend call counted (PMP: method and path with the ids folded; WHMCS: the action), and
prints the calls per ticket, the seconds, and optionally the top of a tracemalloc snapshot
or a cProfile of the migration process.

    python -m bench.migrate_profile --direction pmp-whmcs --tickets 300 [--tracemalloc] [--cprofile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.migrate_bench import Sides, start_sides
from gateway.backends.pmp import wire as pmp_wire
from gateway.backends.whmcs import api as whmcs_api
from gateway.migrate import command

CALLS: Counter[str] = Counter()
_IDS = re.compile(r"/\d+")


def _count_calls() -> None:
    """Wrap the two adapters' single HTTP entry points with a counter."""
    exchange = pmp_wire.Wire.exchange
    post = whmcs_api.WhmcsApi._post

    async def counted_exchange(self: pmp_wire.Wire, method: str, path: str, **kw: Any) -> Any:
        CALLS[f"pmp {method} {_IDS.sub('/N', path.split('?')[0])}"] += 1
        return await exchange(self, method, path, **kw)

    async def counted_post(
        self: whmcs_api.WhmcsApi, action: str, params: Mapping[str, Any] | None, fmt: str, reserve: float
    ) -> Any:
        CALLS[f"whmcs {action}"] += 1
        return await post(self, action, params, fmt, reserve)

    pmp_wire.Wire.exchange = counted_exchange  # type: ignore[method-assign]
    whmcs_api.WhmcsApi._post = counted_post  # type: ignore[method-assign]


def _argv(sides: Sides, root: Path, concurrency: int) -> list[str]:
    return [*sides.argv(root), "--concurrency", str(concurrency)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--direction", choices=("pmp-whmcs", "whmcs-pmp", "pmp-pmp"), default="pmp-whmcs")
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--replies", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--sort", default="tottime", help="cProfile order (tottime, cumulative)")
    parser.add_argument("--callers", default="", help="cProfile: also print the callers of functions matching this")
    parser.add_argument("--twice", action="store_true", help="also time a second (no-op) run")
    args = parser.parse_args()
    _count_calls()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with start_sides(root, args.direction, args.tickets, args.replies) as sides:
            argv = _argv(sides, root, args.concurrency)
            if args.tracemalloc:
                tracemalloc.start(12)
            prof = cProfile.Profile(time.process_time) if args.cprofile else None  # CPU, not waits
            start = time.perf_counter()
            cpu, sys_cpu = _cpu(resource.RUSAGE_SELF), _sys(resource.RUSAGE_SELF)
            if prof is not None:
                prof.enable()
            code = command.main(argv[4:])
            if prof is not None:
                prof.disable()
            elapsed = time.perf_counter() - start
            print(f"exit {code}; {args.tickets} tickets in {elapsed:.1f}s = {args.tickets / elapsed:.1f}/s")
            print(
                f"migrate process CPU: {_cpu(resource.RUSAGE_SELF) - cpu:.1f}s"
                f" (system {_sys(resource.RUSAGE_SELF) - sys_cpu:.1f}s)"
            )
            total = sum(CALLS.values())
            print(f"HTTP calls: {total} = {total / args.tickets:.1f} a ticket")
            for name, n in CALLS.most_common(25):
                print(f"  {n:>8} {n / args.tickets:>7.2f}/ticket  {name}")
            if args.tracemalloc:
                snap = tracemalloc.take_snapshot()
                current, peak = tracemalloc.get_traced_memory()
                print(f"tracemalloc now {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB; largest now:")
                for stat in snap.statistics("traceback")[:8]:
                    print(f"  {stat.size / 2**20:.1f} MiB {stat.count} blocks")
                    for line in stat.traceback.format()[-6:]:
                        print("     ", line)
            if prof is not None:
                stats = pstats.Stats(prof, stream=sys.stdout).sort_stats(args.sort)
                stats.print_stats(45)
                if args.callers:
                    stats.print_callers(args.callers)
            if args.twice:
                CALLS.clear()
                start = time.perf_counter()
                code = command.main(argv[4:])
                elapsed = time.perf_counter() - start
                print(f"second run: exit {code} in {elapsed:.1f}s, {sum(CALLS.values())} HTTP calls")
        print(
            f"simulators' CPU (both, whole life incl. start-up): {_cpu(resource.RUSAGE_CHILDREN):.1f}s"
            f" (system {_sys(resource.RUSAGE_CHILDREN):.1f}s)"
        )


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _sys(who: int) -> float:
    return resource.getrusage(who).ru_stime


if __name__ == "__main__":
    main()
