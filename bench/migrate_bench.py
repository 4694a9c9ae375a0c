"""``gateway migrate`` between the two embedded simulators: tickets per second and peak RSS.

Seeds the source simulator (PMP module 3.x or WHMCS, each with its demo data) with N tickets
of K replies each, prepares the other simulator as a running helpdesk with the demo's
departments and staff, runs ``gateway migrate`` as its own process and reads that process's
peak RSS from the kernel (``wait4``).  The sizes run one after another (default 1,000 and
10,000) so that RSS can be compared: it should stay flat.  Both directions by default.

    python -m bench.migrate_bench [--tickets 1000 10000] [--replies 5] [--concurrency 8]
                                  [--direction pmp-whmcs whmcs-pmp]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway.pmp_sim import SimDB, seed_tickets
from tests.migrate.conftest import (
    SOURCE_TOKEN,
    TARGET_TOKEN,
    SimProc,
    prepare_target,
    prepare_whmcs_target,
    start_sim,
    start_whmcs,
)

DIRECTIONS = ("pmp-whmcs", "whmcs-pmp")


@dataclass
class Sides:
    source_kind: str
    target_kind: str
    source: SimProc
    target: SimProc

    def argv(self, root: Path) -> list[str]:
        return [
            sys.executable, "-m", "gateway", "migrate",
            "--source-kind", self.source_kind, "--source-url", self.source.url, "--source-token", self.source.token,
            "--target-kind", self.target_kind, "--target-url", self.target.url, "--target-token", self.target.token,
            "--store", str(root / "store.sqlite3"), "--allow-loss", "all",
            "--report", str(root / "report.json"),
        ]  # fmt: skip


def _seed_source(kind: str, db: Path, tickets: int, replies: int) -> None:
    if kind == "pmp":
        with SimDB(db, seed_demo=True) as sim:
            seed_tickets(sim, tickets, replies=replies)
        return
    from gateway.whmcs_sim import default_demo
    from gateway.whmcs_sim.db import SimDB as WhmcsDB
    from gateway.whmcs_sim.db import seed_bulk_tickets, seed_demo

    wdb = WhmcsDB(db)
    try:
        seed_demo(wdb, default_demo())
        seed_bulk_tickets(wdb, tickets, replies)
    finally:
        wdb.close()


@contextmanager
def start_sides(root: Path, direction: str, tickets: int, replies: int) -> Iterator[Sides]:
    """Both simulators on loopback, the source seeded, the target a running helpdesk."""
    source_kind, target_kind = direction.split("-")
    # Seeded in a process of its own: the migration is forked from this one, and the kernel's
    # peak RSS of a child (wait4) starts from its parent's at the fork, so a bench process grown
    # by seeding 10,000 tickets (~83 MiB) would be reported as the migration's peak.
    seeding = multiprocessing.get_context("spawn").Process(
        target=_seed_source, args=(source_kind, root / "source.sqlite3", tickets, replies)
    )
    seeding.start()
    seeding.join()
    if seeding.exitcode != 0:
        raise RuntimeError(f"seeding the source failed (exit {seeding.exitcode})")
    if target_kind == "pmp":
        prepare_target(root / "target.sqlite3")
    else:
        prepare_whmcs_target(root / "target.sqlite3")
    sims: list[SimProc] = []
    try:
        for kind, name, token in ((source_kind, "source", SOURCE_TOKEN), (target_kind, "target", TARGET_TOKEN)):
            db = root / f"{name}.sqlite3"
            sims.append(start_sim(db, token, demo=False) if kind == "pmp" else start_whmcs(db, demo=False))
        yield Sides(source_kind, target_kind, sims[0], sims[1])
    finally:
        for sim in sims:
            sim.proc.kill()
            sim.proc.wait()


def run(direction: str, tickets: int, replies: int, concurrency: int) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one migration of ``tickets`` tickets."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with start_sides(root, direction, tickets, replies) as sides:
            argv = [*sides.argv(root), "--concurrency", str(concurrency)]
            start = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples: list[float] = []
            sampler = threading.Thread(target=_sample_rss, args=(proc.pid, samples), daemon=True)
            sampler.start()
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            sampler.join()
            if samples:  # how RSS moved during the run: at a tenth, a half and nine tenths of it
                marks = [samples[min(len(samples) - 1, int(len(samples) * f))] for f in (0.1, 0.5, 0.9)]
                print(
                    f"    RSS during the run (MiB, at 10/50/90%): {' / '.join(f'{m:.0f}' for m in marks)}", flush=True
                )
            return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def _sample_rss(pid: int, out: list[float]) -> None:
    """The process's resident size every second, until it ends."""
    path = Path(f"/proc/{pid}/status")
    while True:
        try:
            text = path.read_text()
        except OSError:
            return
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                out.append(int(line.split()[1]) / 1024)
        if "State:\tZ" in text:
            return
        time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--replies", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--direction", nargs="+", choices=DIRECTIONS, default=list(DIRECTIONS))
    args = parser.parse_args()
    head = f"{'direction':>10} {'tickets':>8} {'replies':>8} {'seconds':>9} {'tickets/s':>10} {'peak RSS MiB':>13}"
    print(f"{head} {'exit':>5}", flush=True)
    for direction in args.direction:
        for n in args.tickets:
            seconds, rss, code = run(direction, n, args.replies, args.concurrency)
            print(
                f"{direction:>10} {n:>8} {args.replies:>8} {seconds:>9.1f} {n / seconds:>10.1f} {rss:>13.1f} {code:>5}",
                flush=True,
            )


if __name__ == "__main__":
    main()
