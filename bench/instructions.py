"""Instructions per GetTicket (callgrind): a figure a busy machine cannot move.

    python -m bench.instructions [--call conversation|one|random] [--requests 200] [--target gateway] [--target naive]

``--call random`` sends a new ticket id each time (the same seeded sequence on every run) to a
static backend answering the same row for any id: every answer is one the gateway's memos do
not know (issue 11's "new backend answer").  ``--call conversation`` (the default) starts
``bench/conversation.py``'s nginx backend (as
``python -m bench.run --conversation-only`` does), ``--call one`` the issue's static backend
(one ticket row per GetTicket, as ``python -m bench.run``); then each target (the gateway, one
process; the naive translation making the same calls, ``bench/naive_conversation.py`` or
``bench/naive.py``) under
``valgrind --tool=callgrind --instr-atstart=no``.  After start-up and 30 warm-up requests,
instrumentation is switched on (``callgrind_control -i on``) while one keep-alive client sends
``--requests`` WHMCS ``GetTicket ticketid=1`` one at a time, then off again; the count is the
user-space instructions of the serving process over those requests (syscalls, cache misses and
the kernel are not in it).  Repeats within about 1%, whatever else the machine is doing:
the way to compare a code change before and after.  Needs valgrind (``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import payload
from bench.conversation_run import start_backend
from bench.run import (
    FORM_ONE,
    ROOT,
    TOKEN,
    Server,
    ensure_tools,
    free_port,
    gateway_config,
    nginx_conf,
    post,
    start_nginx,
    wait_port,
)

WARMUP = 30
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def forms(call: str) -> Iterator[str]:
    """The GetTicket forms sent: ticket 1 every time, or (``random``) a new ticket id each time, the
    same sequence on every run (seeded), so that no answer is one the gateway's memos know."""
    if call != "random":
        yield from itertools.repeat(FORM_ONE)
        return
    ids = random.Random(11)
    while True:
        yield FORM_ONE.replace("ticketid=1&", f"ticketid={ids.randint(2, 10**9)}&")


def burst(port: int, requests: int, sent: Iterator[str] | None = None) -> None:
    """``requests`` GetTickets, one at a time, on one keep-alive connection."""
    sent = sent if sent is not None else forms("one")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for _ in range(requests):
            conn.request("POST", "/includes/api.php", body=next(sent), headers=FORM_HEADERS)
            answer = conn.getresponse()
            if answer.status != 200:
                raise SystemExit(f"bench: GetTicket answered HTTP {answer.status}")
            answer.read()
    finally:
        conn.close()


def counted(out: Path, pid: int) -> int:
    """The instructions a callgrind output file of ``pid`` counts (its ``summary:``/``totals:`` line)."""
    total = 0
    for path in [out / f"callgrind.{pid}", *out.glob(f"callgrind.{pid}.*")]:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total


def measure(args: list[str], port: int, out: Path, requests: int, call: str = "one") -> int:
    """Instructions per request of the server ``args`` starts (listening on ``port``)."""
    grind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/callgrind.%p"]
    proc = subprocess.Popen(
        [*grind, sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port(port, proc, args[1], timeout=180)
        time.sleep(3)  # discovery at start-up, slow under valgrind
        sent = forms(call)
        for _ in range(WARMUP):
            post(port, next(sent))
        control = ["callgrind_control", "-i"]
        subprocess.run(
            [*control, "on", str(proc.pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        burst(port, requests, sent)
        subprocess.run(
            [*control, "off", str(proc.pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return counted(out, proc.pid) // requests


def one_row_backend(nginx: str, tmp: Path) -> Server:
    """The issue's static backend: ticket 1's row, nothing else (``bench.run``'s)."""
    static = tmp / "static"
    static.mkdir()
    (static / "ticket-1.json").write_bytes(payload.ticket_bytes())
    static.chmod(0o755)
    port = free_port()
    body = "        default_type application/json;\n"
    body += f"        location = /api/tickets/1 {{ alias {static}/ticket-1.json; }}"
    return start_nginx(nginx, nginx_conf(tmp, "backend", port, body), "nginx static backend", port)


def any_row_backend(nginx: str, tmp: Path) -> Server:
    """The random-id load's static backend: the same row answered for every ticket id."""
    static = tmp / "static"
    static.mkdir()
    (static / "ticket.json").write_bytes(payload.ticket_bytes())
    static.chmod(0o755)
    port = free_port()
    body = "        default_type application/json;\n"
    body += f"        location ~ ^/api/tickets/[0-9]+$ {{ root {static}; try_files /ticket.json =404; }}"
    return start_nginx(nginx, nginx_conf(tmp, "backend", port, body), "nginx static backend", port)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--call", choices=("conversation", "one", "random"), default="conversation")
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--target", action="append", choices=("gateway", "naive"))
    ns = p.parse_args(argv)
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        print("bench: valgrind missing: sudo apt-get install -y valgrind", file=sys.stderr)
        return 2
    _, nginx = ensure_tools()
    tmp = Path(tempfile.mkdtemp(prefix="bench-instr-"))
    tmp.chmod(0o755)
    if ns.call == "conversation":
        backend = start_backend(nginx, tmp)[0]
    else:
        backend = one_row_backend(nginx, tmp) if ns.call == "one" else any_row_backend(nginx, tmp)
    naive = "bench.naive_conversation" if ns.call == "conversation" else "bench.naive"
    found: dict[str, int] = {}
    try:
        (tmp / "conf").mkdir()
        for target in ns.target or ["gateway", "naive"]:
            port = free_port()
            if target == "gateway":
                conf = gateway_config(tmp / "conf", port, backend.port, 1)
                args = ["-m", "gateway.cli", "serve", "--config", str(conf)]
            else:
                url = f"http://127.0.0.1:{backend.port}/"
                args = ["-m", naive, "--backend-url", url, "--backend-token", TOKEN]
                args += ["--port", str(port)]
            print(f"bench: instructions, {target} ...", file=sys.stderr, flush=True)
            found[target] = measure(args, port, tmp, ns.requests, ns.call)
    finally:
        backend.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"| target | instructions / GetTicket ({ns.call}) | vs naive |\n|---|---:|---:|")
    for target, count in found.items():
        vs = f"{count / found['naive']:.2f}x" if found.get("naive") else "-"
        print(f"| {target} | {count / 1000:,.0f} k | {vs} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
