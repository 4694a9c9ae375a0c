"""``gateway migrate`` between the two embedded simulators: tickets per second and peak RSS.

Seeds a PMP simulator (module 3.x, demo data) with N tickets of K replies each, prepares a
WHMCS simulator with the demo's departments and admins, runs ``gateway migrate`` as its own
process and reads that process's peak RSS from the kernel (``wait4``).  The sizes run one
after another (default 1,000 and 10,000) so that RSS can be compared: it should stay flat.

    python -m bench.migrate_bench [--tickets 1000 10000] [--replies 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gateway.pmp_sim import SimDB, seed_tickets
from tests.migrate.conftest import prepare_whmcs_target, start_sim, start_whmcs

TOKEN = "bench-source-token"


def run(tickets: int, replies: int, concurrency: int) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one migration of ``tickets`` tickets."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with SimDB(root / "source.sqlite3", seed_demo=True) as db:
            seed_tickets(db, tickets, replies=replies)
        prepare_whmcs_target(root / "target.sqlite3")
        source = start_sim(root / "source.sqlite3", TOKEN, demo=True)
        target = start_whmcs(root / "target.sqlite3", demo=False)
        try:
            argv = [
                sys.executable, "-m", "gateway", "migrate",
                "--source-url", source.url, "--source-token", TOKEN,
                "--target-kind", "whmcs", "--target-url", target.url, "--target-token", target.token,
                "--store", str(root / "store.sqlite3"), "--allow-loss", "all",
                "--report", str(root / "report.json"), "--concurrency", str(concurrency),
            ]  # fmt: skip
            start = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            return elapsed, usage.ru_maxrss / 1024, proc.returncode
        finally:
            for sim in (source, target):
                sim.proc.kill()
                sim.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--replies", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(f"{'tickets':>8} {'replies':>8} {'seconds':>9} {'tickets/s':>10} {'peak RSS MiB':>13} {'exit':>5}")
    for n in args.tickets:
        seconds, rss, code = run(n, args.replies, args.concurrency)
        print(f"{n:>8} {args.replies:>8} {seconds:>9.1f} {n / seconds:>10.1f} {rss:>13.1f} {code:>5}", flush=True)


if __name__ == "__main__":
    main()
