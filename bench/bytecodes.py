"""Python bytecodes per translation, by function: where the interpreter's work goes.

    python -m bench.bytecodes [--dialect whmcs] [--case 0] [--side gateway|hand] [--warm] [--top 40]

Runs one of ``bench.translate_bench``'s cases (by default the "changed" ones: every backend
answer new, every memo defeated) 300 times untraced, then ``--calls`` times with a tracer that
counts each bytecode executed (``sys.settrace`` with ``f_trace_opcodes``), and prints the
bytecodes per call of every Python function on the path, the most first.  C functions (orjson,
dict methods, pydantic-core) run no bytecodes and are not listed: the count is the
interpreter's own work, which on this path is what the gateway adds to the hand-written code
(callgrind: the gateway's changed GetTicket mispredicts about twice as many indirect branches
as the hand-written code, most of them in the interpreter's dispatch).  Tracing slows the calls
down a hundredfold; the counts do not depend on it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from types import FrameType
from typing import Any

from bench import translate_bench as tb

WARMUP = 300

Key = tuple[str, int, str]


def count(dialect: str, index: int, side: str, cold: bool, calls: int) -> tuple[float, list[tuple[Key, float]]]:
    """(bytecodes per call, [(function, bytecodes per call)] the most first)."""
    from gateway import context
    from gateway.app import zone_config
    from gateway.mapping.loader import load_mappings
    from gateway.settings import Settings

    counts: Counter[Key] = Counter()

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            counts[(code.co_filename.rsplit("/", 1)[-1], code.co_firstlineno, code.co_name)] += 1
        return tracer

    async def run() -> None:
        mappings = load_mappings(None, zone_config(Settings()))
        case = tb.build_cases(mappings, cold=cold)[dialect][index]
        fn = case.gateway if side == "gateway" else case.hand
        token = context.begin(context.RequestContext(deadline=time.monotonic() + 1e9))
        try:
            for _ in range(WARMUP):
                await fn()
            sys.settrace(tracer)
            try:
                for _ in range(calls):
                    await fn()
            finally:
                sys.settrace(None)
        finally:
            context.end(token)

    asyncio.run(run())
    total = sum(counts.values()) / calls
    return total, [(key, n / calls) for key, n in counts.most_common()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dialect", default="whmcs")
    p.add_argument("--case", type=int, default=0, help="the case's index in translate_bench's list for the dialect")
    p.add_argument("--side", choices=("gateway", "hand"), default="gateway")
    p.add_argument("--warm", action="store_true", help="the repeated-answer cases instead of the changed ones")
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--top", type=int, default=40)
    ns = p.parse_args(argv)
    total, rows = count(ns.dialect, ns.case, ns.side, not ns.warm, max(1, ns.calls))
    print(f"{ns.dialect} case {ns.case} ({ns.side}): {total:,.0f} bytecodes a call, {len(rows)} functions")
    for (file, line, name), n in rows[: ns.top]:
        print(f"{n:9,.0f}  {file}:{line} {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
