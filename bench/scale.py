"""Lists and writes at scale: the gateway against a PMP simulator of 100 to 100,000 tickets.

For each module generation (2.x: plain arrays; 3.x: pages, ``fields``, ``sort``) and
each size, it seeds a fresh simulator (``python -m gateway.pmp_sim --seed-tickets N``,
its own process), starts ``gateway serve`` (one worker, its own process, access log
off) against it, and times WHMCS calls from this process, one at a time:

* ``GetTickets`` page 1 (``limitnum=25``), a middle page (``limitstart`` = N/2) and a
  filtered page (``status=Open``, ``deptid=2``),
* ``GetTicketCounts``, and ``OpenTicket`` (fewer: each adds a ticket),

reporting the median and p99 of each, the gateway's RSS (``VmRSS``, after the run;
``VmHWM``, its peak) and how long one full header-index refresh takes
(``ticket_headers()`` timed against the same simulator).  The index keeps its default
bound (``index.max_staleness`` 5 s): a filtered call that finds the index older waits for a
refresh, so its p99 shows the refresh time once a refresh takes longer than the bound.

    python -m bench.scale                              # 100, 2000, 20000 tickets; both generations
    python -m bench.scale --sizes 100,20000,100000 --modules 3 --calls 40

It prints one markdown table (also written to ``bench/results/scale.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-scale-token-0123456789"
CLIENT_ID, CLIENT_SECRET = "bench", "bench-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], label: str, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{label} exited: {err[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{label} did not listen on {port}")


@contextlib.contextmanager
def process(label: str, args: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_port(port, proc, label)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def gateway_config(tmp: Path, port: int, backend_port: int, workers: int = 1) -> Path:
    conf = tmp / "gateway.yaml"
    conf.write_text(
        f"""host: 127.0.0.1
port: {port}
workers: {workers}
backend:
  url: http://127.0.0.1:{backend_port}/
  token: {TOKEN}
clients:
  - "{CLIENT_ID}:{CLIENT_SECRET}"
data_dir: {tmp / "gateway-data"}
access_log: false
log_level: warning
"""
    )
    return conf


@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)
    errors: int = 0

    def cell(self) -> str:
        if not self.samples:
            return f"- ({self.errors} err)" if self.errors else "-"
        ordered = sorted(self.samples)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        out = f"{statistics.median(ordered) * 1000:.1f} / {p99 * 1000:.0f}"
        return out + (f" ({self.errors} err)" if self.errors else "")


@dataclass
class Row:
    module: int
    tickets: int
    timings: dict[str, Timing]
    rss_mb: float
    hwm_mb: float
    refresh_s: float
    pages_or_listing: str


#: "page 1 alone": GetTickets page 1, one call after another and nothing else (what a poller, or the
#: issue's independent check, does); the others are timed in one interleaved round after it.
CALLS = ("page 1 alone", "page 1", "middle page", "filtered", "counts", "open")


async def call(session: aiohttp.ClientSession, url: str, form: dict[str, str]) -> dict[str, Any]:
    body = {"identifier": CLIENT_ID, "secret": CLIENT_SECRET, "responsetype": "json", **form}
    async with session.post(url, data=body) as resp:
        answer: dict[str, Any] = orjson.loads(await resp.read())
    if answer.get("result") != "success":
        raise RuntimeError(f"{form['action']}: {answer}")
    return answer


async def warm_up(session: aiohttp.ClientSession, url: str, form: dict[str, str], tries: int = 20) -> None:
    """The first call, not timed: on 2.x it waits for the index's first fill, which can outlast one
    request's deadline at 100,000 tickets (the fill goes on, and a later call finds it)."""
    for attempt in range(tries):
        try:
            await call(session, url, form)
            return
        except RuntimeError as exc:
            if "did not answer in time" not in str(exc) or attempt == tries - 1:
                raise


async def measure(base: str, tickets: int, calls: int) -> dict[str, Timing]:
    url = base + "/includes/api.php"
    forms: dict[str, dict[str, str]] = {
        "page 1": {"action": "GetTickets", "limitnum": "25"},
        "middle page": {"action": "GetTickets", "limitnum": "25", "limitstart": str(tickets // 2)},
        "filtered": {"action": "GetTickets", "limitnum": "25", "status": "Open", "deptid": "2"},
        "counts": {"action": "GetTicketCounts"},
        "open": {
            "action": "OpenTicket",
            "deptid": "2",
            "clientid": "1",
            "subject": "bench scale",
            "message": "opened by bench.scale",
        },
    }
    forms["page 1 alone"] = forms["page 1"]
    timings = {name: Timing() for name in CALLS}
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await warm_up(session, url, forms["page 1"])
        for _ in range(calls * 2):
            started = time.perf_counter()
            await call(session, url, forms["page 1"])
            timings["page 1 alone"].samples.append(time.perf_counter() - started)
        for name in ("filtered", "counts"):  # the index's first fill (3.x) is not timed either
            await warm_up(session, url, forms[name])
        for i in range(calls):
            for name in CALLS[1:]:
                if name == "open" and i % 4:
                    continue  # a quarter as many creates: each one grows the backend
                started = time.perf_counter()
                try:
                    await call(session, url, forms[name])
                except Exception:
                    timings[name].errors += 1
                    continue
                timings[name].samples.append(time.perf_counter() - started)
    return timings


async def refresh_time(base: str) -> tuple[float, str]:
    """One full header read, as the gateway's index does it, against the simulator."""
    from gateway import context
    from gateway.backends.pmp import PMPBackend
    from gateway.mapping.loader import PACKAGED_ROOT, load_mappings
    from gateway.store import MemoryStore

    mappings = load_mappings(roots=[PACKAGED_ROOT])["pmp"]
    context.begin(context.RequestContext(deadline=time.monotonic() + 600))
    calls_before = context.current().backend_calls
    async with aiohttp.ClientSession() as session:
        backend = PMPBackend(base + "/", TOKEN, mappings, MemoryStore(), session=session)
        started = time.perf_counter()
        await backend.ticket_headers()
        elapsed = time.perf_counter() - started
    made = context.current().backend_calls - calls_before
    return elapsed, f"{made} request{'s' if made != 1 else ''}"


def run_one(module: int, tickets: int, calls: int) -> Row:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sim_port, gw_port = free_port(), free_port()
        sim_args = ["-m", "gateway.pmp_sim", "--port", str(sim_port), "--db", str(tmp / "sim.sqlite3")]
        sim_args += ["--token", TOKEN, "--module", str(module), "--seed-tickets", str(tickets)]
        with process("simulator", sim_args, sim_port):
            conf = gateway_config(tmp, gw_port, sim_port)
            with process("gateway", ["-m", "gateway.cli", "serve", "--config", str(conf)], gw_port) as gw:
                timings = asyncio.run(measure(f"http://127.0.0.1:{gw_port}", tickets, calls))
                rss, hwm = status_kb(gw.pid, "VmRSS") / 1024, status_kb(gw.pid, "VmHWM") / 1024
            refresh, how = asyncio.run(refresh_time(f"http://127.0.0.1:{sim_port}"))
    return Row(module, tickets, timings, rss, hwm, refresh, how)


def table(rows: list[Row]) -> str:
    head = "| module | tickets | " + " | ".join(f"{c} ms (median / p99)" for c in CALLS)
    head += " | RSS MB (end / peak) | index refresh |\n"
    head += "|---" * (len(CALLS) + 4) + "|\n"
    lines = []
    for r in rows:
        cells = " | ".join(r.timings[c].cell() for c in CALLS)
        refresh = f"{r.refresh_s:.2f} s ({r.pages_or_listing})"
        lines.append(f"| {r.module}.x | {r.tickets:,} | {cells} | {r.rss_mb:.0f} / {r.hwm_mb:.0f} | {refresh} |")
    return head + "\n".join(lines) + "\n" + growth(rows)


def growth(rows: list[Row]) -> str:
    """Median GetTickets page 1 (alone) at each size over that at the smallest (the issue's <= 3x)."""
    out = []
    for module in sorted({r.module for r in rows}):
        mine = sorted((r for r in rows if r.module == module), key=lambda r: r.tickets)
        base = mine[0].timings["page 1 alone"].samples
        if len(mine) < 2 or not base:
            continue
        first = statistics.median(base)
        steps = [
            f"{r.tickets:,}: {statistics.median(r.timings['page 1 alone'].samples) / first:.2f}x"
            for r in mine[1:]
            if r.timings["page 1 alone"].samples
        ]
        out.append(f"* {module}.x page 1 median over {mine[0].tickets:,} tickets': " + ", ".join(steps))
    return ("\n" + "\n".join(out) + "\n") if out else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,2000,20000", help="backend sizes, comma-separated")
    parser.add_argument("--modules", default="2,3", help="module generations, comma-separated")
    parser.add_argument("--calls", type=int, default=40, help="calls of each kind per size (creates: a quarter)")
    args = parser.parse_args()
    rows: list[Row] = []
    for module in (int(m) for m in args.modules.split(",")):
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"module {module}.x, {size} tickets ...", file=sys.stderr, flush=True)
            rows.append(run_one(module, size, args.calls))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    report = table(rows)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "scale.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
