"""Instructions per translation (callgrind): ``bench.translate_bench``'s cases, counted, not timed.

    python -m bench.translate_instructions [--dialect whmcs ...] [--warm] [--ops 300] [--jobs 2]

The same cases as ``python -m bench.translate_bench`` (by default the "changed" ones: every
backend answer new, every memo defeated), each run in its own process under
``valgrind --tool=callgrind --instr-atstart=no``: after 300 untimed calls, instrumentation is
switched on for ``--ops`` calls of the gateway's path (or of the hand-written translation),
then off.  The figure is user-space instructions per call; unlike the CPU time
``translate_bench`` reports, it does not move with whatever else the machine is running, so a
ratio measured on a busy machine still holds.  Needs valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import translate_bench as tb
from bench.instructions import counted

WARMUP = 300


def _one(dialect: str, index: int, side: str, cold: bool, ops: int) -> None:
    """Inside valgrind: warm one case up, then count ``ops`` calls of it."""
    from gateway import context
    from gateway.app import zone_config
    from gateway.cli import steady_gc
    from gateway.mapping.loader import load_mappings
    from gateway.settings import Settings

    async def run() -> None:
        mappings = load_mappings(None, zone_config(Settings()))
        case = tb.build_cases(mappings, cold=cold)[dialect][index]
        fn = case.gateway if side == "gateway" else case.hand
        token = context.begin(context.RequestContext(deadline=time.monotonic() + 1e9))
        steady_gc()
        try:
            for _ in range(WARMUP):
                await fn()
            _control("on")
            for _ in range(ops):
                await fn()
            _control("off")
        finally:
            context.end(token)

    asyncio.run(run())


def _control(state: str) -> None:
    subprocess.run(
        ["callgrind_control", "-i", state, str(os.getpid())],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def count(dialect: str, index: int, side: str, cold: bool, ops: int) -> int:
    out = Path(tempfile.mkdtemp(prefix="bench-tinstr-"))
    try:
        args = ["-m", "bench.translate_instructions", "--one", dialect, str(index), side, str(int(cold)), str(ops)]
        grind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/callgrind.%p"]
        proc = subprocess.run(
            [*grind, sys.executable, *args],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"bench: {dialect} case {index} ({side}) failed: {proc.stderr.decode()[-400:]}")
        pids = {p.name.split(".")[1] for p in out.glob("callgrind.*")}
        return max((counted(out, int(pid)) for pid in pids), default=0) // ops
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dialect", action="append")
    p.add_argument("--warm", action="store_true", help="the repeated-answer cases instead of the changed ones")
    p.add_argument("--ops", type=int, default=300)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    ns = p.parse_args(argv)
    if ns.one:
        dialect, index, side, cold, ops = ns.one
        _one(dialect, int(index), side, cold == "1", int(ops))
        return 0
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        print("bench: valgrind missing: sudo apt-get install -y valgrind", file=sys.stderr)
        return 2
    from gateway.app import zone_config
    from gateway.mapping.loader import load_mappings
    from gateway.settings import Settings

    cold = not ns.warm
    cases = tb.build_cases(load_mappings(None, zone_config(Settings())), cold=cold)
    jobs = [
        (dialect, i, case.label)
        for dialect, items in cases.items()
        if not ns.dialect or dialect in ns.dialect
        for i, case in enumerate(items)
        if case.hand is not None
    ]
    with ThreadPoolExecutor(max(1, ns.jobs)) as pool:
        gateway = list(pool.map(lambda j: count(j[0], j[1], "gateway", cold, ns.ops), jobs))
        hand = list(pool.map(lambda j: count(j[0], j[1], "hand", cold, ns.ops), jobs))
    print("| dialect | payload | gateway instructions | hand-written | ratio |\n|---|---|---:|---:|---:|")
    for (dialect, _, label), g, h in zip(jobs, gateway, hand, strict=True):
        print(f"| {dialect} | {label} | {g / 1000:,.0f} k | {h / 1000:,.0f} k | {g / h:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
