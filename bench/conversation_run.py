"""``bench.run``'s conversation section: GetTicket of a ticket with replies, notes and staff.

An nginx backend serves ``bench/conversation.py``'s PMP 3.x answers (discovery finds
replies, notes and staff = yes) and logs every request it gets.  The gateway (one process)
and ``bench/naive_conversation.py`` (one process) are started against it in turn; each
one's answer is checked equal (after JSON parse) to the other's before any timing, then wrk
loads it with WHMCS ``GetTicket ticketid=1``.  Backend calls per request are the access
log's lines during the measured run over the requests wrk completed; the calls before the
first request (discovery) and those of the first request (cache fills) are listed apart.
"""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench import conversation as conv
from bench.run import (
    FORM_ONE,
    ROOT,
    TOKEN,
    Bench,
    Load,
    Server,
    free_port,
    gateway_config,
    nginx_conf,
    post,
    start_nginx,
    start_python,
)

GATEWAY, NAIVE = "gateway, 1 proc", "naive hand-written aiohttp, 1 proc"
SEQUENTIAL = 100  # GetTickets one at a time after the load, to count their backend calls exactly


@dataclass
class ConvTarget:
    label: str
    load: Load
    calls: int = 0  # backend requests during the measured run
    sequential: float | None = None  # backend requests per client request, one client request at a time
    breakdown: dict[str, int] = field(default_factory=dict)  # "GET /path" -> requests during the run
    startup: list[str] = field(default_factory=list)  # before the first client request
    first: list[str] = field(default_factory=list)  # the first GetTicket's

    @property
    def per_request(self) -> float | None:
        return self.calls / self.load.requests if self.load.requests else None


class CallLog:
    """The backend's access log (``METHOD URI STATUS`` a line), read from a mark."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mark = 0

    def lines(self) -> list[str]:
        try:
            return self.path.read_text().splitlines()
        except FileNotFoundError:
            return []

    def since_mark(self) -> list[str]:
        return self.lines()[self.mark :]

    def set_mark(self) -> None:
        self.mark = len(self.lines())


def _calls(lines: list[str]) -> list[str]:
    """``GET /path`` a line, with its status when not 200."""
    out = []
    for line in lines:
        method, uri, *status = line.split()
        out.append(f"`{method} {uri}`" + (f" ({status[0]})" if status and status[0] != "200" else ""))
    return out


def start_backend(nginx: str, tmp: Path) -> tuple[Server, CallLog]:
    static = tmp / "conv-static"
    static.mkdir()
    conv.write_static(static)
    static.chmod(0o755)
    port = free_port()
    log = CallLog(tmp / "conv-backend" / "calls.log")
    conf = nginx_conf(
        tmp,
        "conv-backend",
        port,
        f"        access_log {log.path} calls;\n" + conv.nginx_locations(static),
        http_extra=conv.nginx_http(),
    )
    return start_nginx(nginx, conf, "nginx conversation backend", port), log


def _answer(port: int) -> object:
    return orjson.loads(post(port, FORM_ONE))


def run(b: Bench, nginx: str, tmp: Path) -> list[ConvTarget]:
    backend, log = start_backend(nginx, tmp)
    b.others = [backend]
    burl = f"http://127.0.0.1:{backend.port}/"
    (tmp / "conv").mkdir()
    plan: list[tuple[str, list[str]]] = [
        (GATEWAY, ["-m", "gateway.cli", "serve", "--config", "CONF"]),
        (NAIVE, ["-m", "bench.naive_conversation", "--backend-url", burl, "--backend-token", TOKEN]),
    ]
    out: list[ConvTarget] = []
    reference: object = None
    try:
        for label, args in plan:
            port = free_port()
            if label == GATEWAY:
                args = [a if a != "CONF" else str(gateway_config(tmp / "conv", port, backend.port, 1)) for a in args]
            else:
                args = [*args, "--port", str(port)]
            print(f"bench: conversation, {label} ...", file=sys.stderr, flush=True)
            log.set_mark()
            server = start_python(label, args, port, 1, ROOT)
            try:
                time.sleep(1.0)  # discovery runs at start-up
                startup = log.since_mark()
                log.set_mark()
                answer = _answer(port)
                first = log.since_mark()
                if not (isinstance(answer, dict) and answer.get("result") == "success"):
                    raise SystemExit(f"bench: {label} answers wrongly: {str(answer)[:300]}")
                if reference is None:
                    reference = answer
                elif answer != reference:
                    raise SystemExit(f"bench: {label}'s GetTicket differs from the gateway's: not the same work")
                for _ in range(20):
                    post(port, FORM_ONE)
                url = f"http://127.0.0.1:{port}/includes/api.php"
                load = b.load(server, url, b.scripts["post_one"], on_start=log.set_mark)
                time.sleep(0.2)  # the requests wrk left in flight finish their backend calls
                measured = log.since_mark()
                # under load a few requests are cut off when wrk stops (their calls logged, the
                # requests not counted): the exact count comes from requests one at a time
                log.set_mark()
                for _ in range(SEQUENTIAL):
                    post(port, FORM_ONE)
                sequential = len(log.since_mark()) / SEQUENTIAL
                out.append(
                    ConvTarget(
                        label,
                        load,
                        calls=len(measured),
                        sequential=sequential,
                        breakdown=dict(Counter(" ".join(line.split()[:2]) for line in measured)),
                        startup=_calls(startup),
                        first=_calls(first),
                    )
                )
            finally:
                server.stop()
                if server.proc.returncode not in (0, -signal.SIGTERM):
                    err = server.proc.stderr.read().decode(errors="replace") if server.proc.stderr else ""
                    print(f"bench: {label} exited {server.proc.returncode}: {err[-2000:]}", file=sys.stderr)
    finally:
        backend.stop()
    return out


def table(targets: list[ConvTarget]) -> str:
    rows = [
        "| target | backend calls / request (one at a time / under load) | req/s | p50 ms | p99 ms | CPU µs/req "
        "| req/s vs naive | CPU vs naive | errors | other load (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    naive = next((t for t in targets if t.label == NAIVE), None)
    for t in targets:
        one = f"{t.sequential:.2f}" if t.sequential is not None else "-"
        per = f"{one} / {t.per_request:.3f}" if t.per_request is not None else one
        cpu = f"{t.load.cpu_us:.0f}" if t.load.cpu_us is not None else "-"
        vs = cpu_vs = "-"
        if naive is not None and naive.load.rps:
            vs = f"{t.load.rps / naive.load.rps:.2f}x"
        if naive is not None and naive.load.cpu_us and t.load.cpu_us:
            cpu_vs = f"{t.load.cpu_us / naive.load.cpu_us:.2f}x"
        rows.append(
            f"| {t.label} | {per} | {t.load.rps:,.0f} | {t.load.p50_ms:.2f} | {t.load.p99_ms:.2f} | {cpu} "
            f"| {vs} | {cpu_vs} | {t.load.errors} | {t.load.foreign:.2f} |"
        )
    return "\n".join(rows)


def _warning(targets: list[ConvTarget]) -> list[str]:
    worst = max((t.load.foreign for t in targets), default=0.0)
    if worst < 0.15:
        return []
    return [
        f"WARNING: processes outside the bench used up to {worst:.2f} cores during these measurements: "
        "the ratios are unreliable; rerun on a quiet machine.",
        "",
    ]


def calls_table(targets: list[ConvTarget]) -> str:
    """Each backend route's requests per client request during the measured run."""
    routes = sorted({r for t in targets for r in t.breakdown})
    rows = ["| backend call | " + " | ".join(t.label for t in targets) + " |", "|---" + "|---:" * len(targets) + "|"]
    for route in routes:
        cells = [f"{t.breakdown.get(route, 0) / t.load.requests:.4f}" if t.load.requests else "-" for t in targets]
        rows.append(f"| `{route}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def report(targets: list[ConvTarget]) -> list[str]:
    if not targets:
        return []
    lines = [
        "## GetTicket with the conversation (PMP 3.x: 5 replies, 2 notes, staff names)",
        "",
        "`bench/conversation.py`'s static nginx backend: ticket 1 with five replies (customers' and staff's) "
        "in `tblticket_replies`, two staff notes, three staff members, the customer's contacts; discovery "
        "finds replies, notes and staff = yes.  The gateway and `bench/naive_conversation.py` (which makes "
        "the same calls, answer checked equal before timing) under the same wrk load, one process each.  "
        f"Backend calls / request: the backend's access-log lines over {SEQUENTIAL} GetTickets sent one at "
        "a time after the load, and during the measured run over the requests wrk completed (a little high: "
        "the requests in flight when wrk stops made their calls but are not counted).",
        "",
        table(targets),
        "",
        *_warning(targets),
        "Backend calls per client request during the measured run:",
        "",
        calls_table(targets),
        "",
    ]
    for t in targets:
        lines += [
            f"{t.label}: before the first request (discovery) {', '.join(t.startup) or 'none'}; "
            f"the first GetTicket {', '.join(t.first) or 'none'}.  ",
        ]
    lines.append("")
    return lines
