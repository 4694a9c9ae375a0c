"""One command, one table: the gateway against its references, measured in the same run.

    python -m bench.run [--quick] [--duration S] [--connections N] [--skip-translate]
                        [--skip-conversation | --conversation-only]

* installs ``wrk`` and ``nginx`` with apt-get when they are missing (or prints
  the exact command to run);
* serves static PMP JSON with nginx (``GET api/tickets/1``: one row,
  ``GET api/tickets``: 25 rows), and starts, on loopback ports, an nginx
  reverse-proxy hop in front of it, a bare aiohttp pass-through
  (``bench/passthrough.py``), a naive hand-written aiohttp translation
  (``bench/naive.py``) and the gateway itself (``gateway serve --config``,
  access log off), with 1 and 2 processes;
* drives each with wrk (WHMCS ``GetTicket`` and ``GetTickets`` with
  ``limitnum=25``; the direct backend and the proxy hop get the backend's own
  ``GET``), and reads throughput, p50/p99, the CPU seconds the server spent
  per request (``/proc/<pid>/stat``) and its memory (``VmRSS`` idle,
  ``VmHWM`` peak);
* GetTicket with the conversation (``bench/conversation_run.py``): a PMP 3.x
  backend with replies, notes and staff, the gateway beside a naive translation
  making the same backend calls (``bench/naive_conversation.py``), with the
  backend calls per request counted off the backend's access log;
* runs ``bench/translate_bench.py`` (translation cost per dialect against
  hand-written Python);
* prints one markdown report with ratios to the references and the targets,
  and writes it to ``bench/results/latest.md``.

Only 127.0.0.1 is ever contacted (apt-get aside).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import payload

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
TOKEN = "x"
CLIENT_ID, CLIENT_SECRET = "bench", "bench-secret"
FORM_ONE = f"action=GetTicket&ticketid=1&identifier={CLIENT_ID}&secret={CLIENT_SECRET}&responsetype=json"
FORM_LIST = f"action=GetTickets&limitnum=25&identifier={CLIENT_ID}&secret={CLIENT_SECRET}&responsetype=json"
APT = ["apt-get", "install", "-y", "--no-install-recommends", "wrk", "nginx"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PACED_CONNECTIONS, PACE_MS = 10, 20  # about 500 req/s offered: latency below saturation


# ------------------------------------------------------------------ tools


def ensure_tools() -> tuple[str, str]:
    def find() -> tuple[str | None, str | None]:
        nginx = shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
        )
        return shutil.which("wrk"), nginx

    wrk, nginx = find()
    if wrk and nginx:
        return wrk, nginx
    missing = " and ".join(n for n, p in (("wrk", wrk), ("nginx", nginx)) if not p)
    print(f"bench: {missing} missing; installing: {' '.join(APT)}", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    ok = False
    if shutil.which("apt-get"):
        for cmds in ([[*sudo, *APT]], [[*sudo, "apt-get", "update"], [*sudo, *APT]]):
            ok = all(subprocess.run(c, env=env, stdout=subprocess.DEVNULL).returncode == 0 for c in cmds)
            if ok:
                break
    wrk, nginx = find()
    if not (ok and wrk and nginx):
        raise SystemExit(
            "bench: could not install wrk and nginx; run this, then try again:\n"
            "    sudo apt-get update && sudo apt-get install -y --no-install-recommends wrk nginx\n"
            "(other systems: brew install wrk nginx / dnf install wrk nginx)"
        )
    # the Debian package starts a system nginx on port 80; the bench does not need it
    subprocess.run([*sudo, "service", "nginx", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wrk, nginx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ processes


@dataclass
class Server:
    label: str
    procs: int
    proc: subprocess.Popen[bytes]
    port: int

    def pids(self) -> list[int]:
        """The server's process tree (the workers of a multi-process server included)."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def workers(self) -> list[int]:
        """The processes that serve requests (a master that only waits is left out)."""
        pids = self.pids()
        return pids[1:] if len(pids) > 1 else pids

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLK_TCK

    def status_kb(self, key: str) -> list[int]:
        out = []
        for pid in self.workers():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(key + ":"):
                        out.append(int(line.split()[1]))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                for pid in reversed(self.pids()):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.proc.wait(5)


def wait_port(port: int, proc: subprocess.Popen[bytes], label: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"bench: {label} exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"bench: {label} did not listen on {port} within {timeout}s")


def post(port: int, form: str) -> bytes:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/includes/api.php",
        data=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        body: bytes = resp.read()
        return body


def get(port: int, path: str) -> bytes:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"authtoken": TOKEN})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body: bytes = resp.read()
        return body


# ------------------------------------------------------------------ nginx


def nginx_conf(tmp: Path, name: str, port: int, body: str, http_extra: str = "") -> Path:
    """``http_extra``: lines for the ``http`` block ahead of the server (``map``, ``log_format``)."""
    prefix = tmp / name
    prefix.mkdir(exist_ok=True)
    user = "user root;" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""
{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
{http_extra}
    server {{
        listen 127.0.0.1:{port} reuseport;
{body}
    }}
}}
"""
    )
    return conf


def start_nginx(nginx: str, conf: Path, label: str, port: int) -> Server:
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(conf.parent)], stdout=subprocess.DEVNULL)
    wait_port(port, proc, label)
    return Server(label, 1, proc, port)


# ------------------------------------------------------------------ wrk


@dataclass
class Load:
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    errors: int = 0
    cpu_us: float | None = None  # server CPU per request
    foreign: float = 0.0  # cores used by processes outside the bench during the run


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    return float(m.group(1)) * _UNIT[m.group(2)] if m else float("nan")


def parse_wrk(out: str) -> Load:
    load = Load()
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        load.rps = float(m.group(1))
    if m := re.search(r"(\d+) requests in", out):
        load.requests = int(m.group(1))
    if m := re.search(r"^\s+50%\s+(\S+)", out, re.M):
        load.p50_ms = _ms(m.group(1))
    if m := re.search(r"^\s+99%\s+(\S+)", out, re.M):
        load.p99_ms = _ms(m.group(1))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        load.errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        load.errors += sum(int(x) for x in m.groups())
    return load


def lua_scripts(tmp: Path) -> dict[str, Path]:
    scripts = {}
    for name, form in (("post_one", FORM_ONE), ("post_list", FORM_LIST)):
        scripts[name] = tmp / f"{name}.lua"
        scripts[name].write_text(
            'wrk.method = "POST"\n'
            f'wrk.body = "{form}"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        )
    scripts["get"] = tmp / "get.lua"
    scripts["get"].write_text(f'wrk.headers["authtoken"] = "{TOKEN}"\n')
    # the same calls paced: each connection waits PACE_MS before its next request, so the offered
    # load is about PACED_CONNECTIONS * 1000 / PACE_MS req/s whatever the server's speed
    pace = f"function delay()\n    return {PACE_MS}\nend\n"
    for name in ("post_one", "get"):
        scripts[name + "_paced"] = tmp / f"{name}_paced.lua"
        scripts[name + "_paced"].write_text(scripts[name].read_text() + pace)
    return scripts


@dataclass
class Bench:
    wrk: str
    duration: float
    connections: int
    warmup: float
    scripts: dict[str, Path]

    def wrk_run(self, url: str, script: Path, seconds: float, connections: int | None = None) -> str:
        cmd = [
            self.wrk,
            "-t1",
            f"-c{connections or self.connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    others: list[Server] = field(default_factory=list)  # the nginx processes, always running

    def paced(self, url: str, script: Path) -> Load:
        """Latency at a fixed offered load (about 500 req/s), not at saturation."""
        return parse_wrk(self.wrk_run(url, script, max(3.0, self.duration / 2), PACED_CONNECTIONS))

    def load(self, server: Server, url: str, script: Path, on_start: Callable[[], object] | None = None) -> Load:
        """wrk after a warm-up; ``on_start`` runs between the two (a count the run is measured from)."""
        self.wrk_run(url, script, self.warmup)
        if on_start is not None:
            on_start()
        mine = [server, *(o for o in self.others if o is not server)]
        cpu0, all0, wrk0, t0 = server.cpu_seconds(), sum(s.cpu_seconds() for s in mine), _children_cpu(), _busy()
        started = time.monotonic()
        result = parse_wrk(self.wrk_run(url, script, self.duration))
        elapsed = time.monotonic() - started
        cpu = server.cpu_seconds() - cpu0
        ours = sum(s.cpu_seconds() for s in mine) - all0 + _children_cpu() - wrk0
        result.foreign = max(0.0, (_busy() - t0 - ours) / elapsed)
        if result.requests:
            result.cpu_us = cpu / result.requests * 1e6
        return result


def _busy() -> float:
    """Machine-wide busy CPU seconds (/proc/stat: user nice system irq softirq steal)."""
    f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return sum(int(f[i]) for i in (0, 1, 2, 5, 6, 7)) / CLK_TCK


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ------------------------------------------------------------------ the run


@dataclass
class Target:
    label: str
    procs: int
    one: Load
    many: Load
    idle_kb: list[int] = field(default_factory=list)
    peak_kb: list[int] = field(default_factory=list)
    paced: Load | None = None  # GetTicket at about 500 req/s


def start_python(label: str, args: list[str], port: int, procs: int, cwd: Path) -> Server:
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_port(port, proc, label)
    return Server(label, procs, proc, port)


def gateway_config(tmp: Path, port: int, backend_port: int, workers: int) -> Path:
    conf = tmp / f"gateway-{workers}.yaml"
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


def check_answers(port: int, label: str) -> None:
    import orjson

    one = orjson.loads(post(port, FORM_ONE))
    many = orjson.loads(post(port, FORM_LIST))
    if label.startswith("aiohttp pass-through"):
        ok = one.get("ticketid") == "1" and isinstance(many, list) and len(many) == 25
    else:
        ok = one.get("result") == "success" and one.get("ticketid") == "1" and many.get("numreturned") == 25
    if not ok:
        raise SystemExit(f"bench: {label} answers wrongly: {str(one)[:200]} / {str(many)[:200]}")


def best_of(runs: list[Target]) -> Target:
    """One target's rounds as one: each call's fastest round (its throughput, latency and CPU
    together), the paced latency of the round with the lowest p99, the first idle memory and the
    highest peak.  The machine's speed drifts from minute to minute here (a neighbour on the
    host: one run measured the gateway at 191 µs of CPU a request, the next at 92), and the
    rounds alternate the targets, so each target's best round is measured in the same conditions
    as the others'."""
    one = max((r.one for r in runs), key=lambda load: load.rps)
    many = max((r.many for r in runs), key=lambda load: load.rps)
    paced = [r.paced for r in runs if r.paced is not None]
    peak = max((r.peak_kb for r in runs), key=lambda kb: sum(kb) / max(1, len(kb)))
    first = runs[0]
    best_paced = min(paced, key=lambda load: load.p99_ms) if paced else None
    return Target(first.label, first.procs, one, many, first.idle_kb, peak, best_paced)


def http_bench(
    b: Bench, nginx: str, tmp: Path, worker_counts: tuple[int, ...], rounds: int = 1
) -> tuple[list[Target], dict[str, float]]:
    static = tmp / "static"
    static.mkdir()
    (static / "ticket-1.json").write_bytes(payload.ticket_bytes())
    (static / "tickets.json").write_bytes(payload.list_bytes(25))
    for p in (tmp, static):
        p.chmod(0o755)
    backend_port, hop_port = free_port(), free_port()
    backend_conf = nginx_conf(
        tmp,
        "backend",
        backend_port,
        f"""        default_type application/json;
        location = /api/tickets/1 {{ alias {static}/ticket-1.json; }}
        location = /api/tickets {{ alias {static}/tickets.json; }}
        location = /api/tickets/ {{ alias {static}/tickets.json; }}""",
    )
    hop_conf = nginx_conf(
        tmp,
        "hop",
        hop_port,
        f"""        location / {{
            proxy_pass http://pmp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
    upstream pmp {{
        server 127.0.0.1:{backend_port};
        keepalive 64;""",
    )
    targets: list[Target] = []
    servers: list[Server] = []
    try:
        backend = start_nginx(nginx, backend_conf, "nginx static backend", backend_port)
        servers.append(backend)
        hop = start_nginx(nginx, hop_conf, "nginx proxy hop", hop_port)
        servers.append(hop)
        b.others = [backend, hop]
        assert get(backend_port, "/api/tickets/1") == payload.ticket_bytes()
        assert get(hop_port, "/api/tickets") == payload.list_bytes(25)
        for server, label in ((backend, "PMP backend direct (nginx static)"), (hop, "nginx proxy hop -> backend")):
            base = f"http://127.0.0.1:{server.port}"
            print(f"bench: {label} ...", file=sys.stderr, flush=True)
            one = b.load(server, base + "/api/tickets/1", b.scripts["get"])
            many = b.load(server, base + "/api/tickets", b.scripts["get"])
            paced = b.paced(base + "/api/tickets/1", b.scripts["get_paced"])
            targets.append(Target(label, 1, one, many, paced=paced))
        burl = f"http://127.0.0.1:{backend_port}/"
        plan: list[tuple[str, int, list[str]]] = []
        for n in worker_counts:
            plan.append(
                (
                    "aiohttp pass-through (floor)",
                    n,
                    ["-m", "bench.passthrough", "--backend-url", burl, "--backend-token", TOKEN, "--workers", str(n)],
                )
            )
            if n == 1:
                plan.append(
                    (
                        "naive hand-written aiohttp",
                        n,
                        ["-m", "bench.naive", "--backend-url", burl, "--backend-token", TOKEN, "--workers", str(n)],
                    )
                )
            plan.append(("gateway", n, ["-m", "gateway.cli", "serve", "--config", "CONF"]))
        measured: dict[str, list[Target]] = {}
        for label, n, args in [step for _ in range(max(1, rounds)) for step in plan]:
            port = free_port()
            if label == "gateway":
                args = [a if a != "CONF" else str(gateway_config(tmp, port, backend_port, n)) for a in args]
            else:
                args = [*args, "--port", str(port)]
            full = f"{label}, {n} proc" + ("s" if n > 1 else "")
            print(f"bench: {full} ...", file=sys.stderr, flush=True)
            server = start_python(full, args, port, n, ROOT)
            servers.append(server)
            try:
                # every worker has to be up: SO_REUSEPORT spreads connections over those listening
                time.sleep(0.5 + 0.5 * n)
                check_answers(port, label)
                for _ in range(20):
                    post(port, FORM_ONE)
                idle = server.status_kb("VmRSS")
                url = f"http://127.0.0.1:{port}/includes/api.php"
                one = b.load(server, url, b.scripts["post_one"])
                many = b.load(server, url, b.scripts["post_list"])
                paced = b.paced(url, b.scripts["post_one_paced"])
                peak = server.status_kb("VmHWM")
                measured.setdefault(full, []).append(Target(full, n, one, many, idle, peak, paced))
            finally:
                server.stop()
                if server.proc.returncode not in (0, -signal.SIGTERM):
                    err = server.proc.stderr.read().decode(errors="replace") if server.proc.stderr else ""
                    print(f"bench: {full} exited {server.proc.returncode}: {err[-2000:]}", file=sys.stderr)
        targets.extend(best_of(runs) for runs in measured.values())
    finally:
        for s in servers:
            s.stop()
    return targets, {}


# ------------------------------------------------------------------ report


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.machine()}, {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {cpu}"


def versions(wrk: str, nginx: str) -> str:
    import aiohttp

    w = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    n = subprocess.run([nginx, "-v"], capture_output=True, text=True)
    wv = (w.stdout + w.stderr).split("\n")[0].split(" [")[0]
    nv = (n.stdout + n.stderr).strip().replace("nginx version: ", "")
    try:
        import uvloop

        loop = f"uvloop {getattr(uvloop, '__version__', '?')}"
    except ImportError:
        loop = "asyncio loop"
    return f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}, {loop}, {wv}, {nv}"


def _find(targets: list[Target], prefix: str, procs: int) -> Target | None:
    return next((t for t in targets if t.label.startswith(prefix) and t.procs == procs), None)


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def http_table(targets: list[Target]) -> str:
    out = [
        "| target | GetTicket req/s | p50 ms | p99 ms | GetTickets(25) req/s | p50 ms | p99 ms "
        "| req/s vs floor (same procs) | CPU µs/req (1 / 25) | GetTicket at ~500 req/s: p50 / p99 ms "
        "| errors | other load (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in targets:
        floor = _find(targets, "aiohttp pass-through", t.procs) if "gateway" in t.label or "naive" in t.label else None
        vs = f"{_ratio(t.one.rps, floor.one.rps)} / {_ratio(t.many.rps, floor.many.rps)}" if floor else "-"
        cpu = (
            f"{t.one.cpu_us:.0f} / {t.many.cpu_us:.0f}"
            if t.one.cpu_us is not None and t.many.cpu_us is not None
            else "-"
        )
        out.append(
            f"| {t.label} | {t.one.rps:,.0f} | {t.one.p50_ms:.2f} | {t.one.p99_ms:.2f} | {t.many.rps:,.0f} "
            f"| {t.many.p50_ms:.2f} | {t.many.p99_ms:.2f} | {vs} | {cpu} "
            f"| {f'{t.paced.p50_ms:.2f} / {t.paced.p99_ms:.2f} ({t.paced.rps:.0f}/s)' if t.paced else '-'} "
            f"| {t.one.errors + t.many.errors + (t.paced.errors if t.paced else 0)} "
            f"| {t.one.foreign:.2f} / {t.many.foreign:.2f} |"
        )
    return "\n".join(out)


def _foreign_warning(targets: list[Target]) -> list[str]:
    worst = max((max(t.one.foreign, t.many.foreign) for t in targets), default=0.0)
    if worst < 0.15:
        return []
    return [
        f"WARNING: processes outside the bench used up to {worst:.2f} cores during the measurements "
        '("other load" column): the ratios are unreliable; rerun on a quiet machine.',
        "",
    ]


def memory_table(targets: list[Target]) -> str:
    out = ["| server | idle RSS per process (MiB) | peak RSS under load per process (MiB) |", "|---|---:|---:|"]
    for t in targets:
        if t.idle_kb:
            idle = ", ".join(f"{k / 1024:.1f}" for k in t.idle_kb)
            peak = ", ".join(f"{k / 1024:.1f}" for k in t.peak_kb)
            out.append(f"| {t.label} | {idle} | {peak} |")
    return "\n".join(out)


def targets_table(targets: list[Target], translation: list[object], cores: int) -> str:
    rows: list[tuple[str, str, str, bool | None]] = []
    gw1, fl1 = _find(targets, "gateway", 1), _find(targets, "aiohttp pass-through", 1)
    hop = _find(targets, "nginx proxy hop", 1)
    naive = _find(targets, "naive", 1)
    for n in range(1, cores + 1):
        gw, fl = _find(targets, "gateway", n), _find(targets, "aiohttp pass-through", n)
        if gw and fl:
            r = gw.one.rps / fl.one.rps
            rows.append((f"GetTicket throughput vs aiohttp floor, {n} proc", f"{r:.2f}x", ">= 0.80x", r >= 0.8))
    if naive and fl1:
        r = naive.one.rps / fl1.one.rps
        rows.append(("(reference) naive hand-written vs floor, 1 proc", f"{r:.2f}x", "~0.55x", None))
    if fl1 and hop:
        r = fl1.one.rps / hop.one.rps
        rows.append(("(reference) aiohttp floor vs nginx hop, per process", f"{r:.2f}x", "~0.2x", None))
    if gw1 and hop and gw1.paced and hop.paced:
        d = gw1.paced.p99_ms - hop.paced.p99_ms
        rows.append(("GetTicket p99 minus nginx hop p99 at ~500 req/s, 1 proc", f"{d:+.2f} ms", "<= 8 ms", d <= 8))
    if gw1 and hop:
        d = gw1.one.p99_ms - hop.one.p99_ms
        rows.append(("(at saturation, 32 connections) p99 minus nginx hop p99", f"{d:+.2f} ms", "-", None))
    if gw1 and gw1.one.cpu_us and gw1.many.cpu_us:
        r = gw1.many.cpu_us / gw1.one.cpu_us
        rows.append(("GetTickets(25) CPU / GetTicket CPU, gateway", f"{r:.2f}x", "<= 2x", r <= 2))
    if fl1 and fl1.one.cpu_us and fl1.many.cpu_us:
        r = fl1.many.cpu_us / fl1.one.cpu_us
        rows.append(("(reference) same ratio for the floor", f"{r:.2f}x", "-", None))
    for row in translation:
        ratio = getattr(row, "ratio", None)
        if ratio is not None and "render" not in row.case:  # type: ignore[attr-defined]
            rows.append(
                (
                    f"translation {row.dialect} {row.case.split(' (')[0]} vs hand-written",  # type: ignore[attr-defined]
                    f"{ratio:.2f}x",
                    "<= 1.5x",
                    ratio <= 1.5,
                )
            )
    counts = sorted({t.procs for t in targets if t.label == "gateway" or t.label.startswith("gateway,")})
    if gw1 and len(counts) > 1:
        top = _find(targets, "gateway", counts[-1])
        if top:
            r = top.one.rps / gw1.one.rps
            rows.append(
                (
                    f"gateway scaling, {counts[-1]} procs / 1 proc (GetTicket)",
                    f"{r:.2f}x",
                    f"grows (> 1.2x) up to {cores} cores",
                    r > 1.2,
                )
            )
    out = ["| target | measured | goal | met |", "|---|---:|---|:---:|"]
    for label, value, goal, ok in rows:
        out.append(f"| {label} | {value} | {goal} | {'-' if ok is None else ('yes' if ok else '**no**')} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a few seconds per target (about 4 minutes in all)")
    p.add_argument("--duration", type=float, help="seconds of measured load per target and call (default 10; quick 3)")
    p.add_argument("--connections", type=int, default=32, help="concurrent wrk connections (default 32)")
    p.add_argument("--workers", default="1,2", help="process counts for the floor and the gateway (default 1,2)")
    p.add_argument(
        "--rounds", type=int, default=3, help="rounds over the Python servers, each one's best kept (default 3)"
    )
    p.add_argument("--skip-translate", action="store_true")
    p.add_argument("--skip-http", action="store_true")
    p.add_argument("--skip-conversation", action="store_true", help="leave out GetTicket with replies and notes")
    p.add_argument(
        "--conversation-only", action="store_true", help="only GetTicket with replies and notes (bench/conversation.py)"
    )
    ns = p.parse_args(argv)
    if ns.conversation_only:
        ns.skip_translate = ns.skip_http = True
    duration = ns.duration or (3.0 if ns.quick else 10.0)
    cores = len(os.sched_getaffinity(0))
    worker_counts = tuple(int(x) for x in ns.workers.split(","))
    started = dt.datetime.now().astimezone()

    translation: list[object] = []
    problems: list[str] = []
    if not ns.skip_translate:
        from bench import translate_bench

        print("bench: translation ...", file=sys.stderr, flush=True)
        translation, problems = asyncio.run(translate_bench.run(ns.quick))  # type: ignore[assignment]

    targets: list[Target] = []
    conversation: list[Any] = []
    wrk = nginx = ""
    if not (ns.skip_http and ns.skip_conversation):
        wrk, nginx = ensure_tools()
        with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp_name:
            tmp = Path(tmp_name)
            b = Bench(wrk, duration, ns.connections, 1.0 if ns.quick else 2.0, lua_scripts(tmp))
            if not ns.skip_http:
                targets, _ = http_bench(b, nginx, tmp, worker_counts, ns.rounds)
            if not ns.skip_conversation:
                from bench import conversation_run

                conversation = conversation_run.run(b, nginx, tmp)

    lines = [
        f"# Gateway benchmark, {started:%Y-%m-%d %H:%M %Z}",
        "",
        f"Machine: {machine()}.  ",
        f"Software: {versions(wrk, nginx) if wrk else 'Python ' + platform.python_version()}.  ",
        f"Run: `python -m bench.run{' --quick' if ns.quick else ''}`, wrk -t1 -c{ns.connections}, "
        f"{duration:g} s per target and call after a warm-up, {ns.rounds} rounds over the Python servers "
        "(each call's best round kept); everything on this machine, loopback only, "
        "sharing its cores (wrk and the nginx backend included).",
        "",
    ]
    if targets:
        lines += [
            "## Throughput and latency (WHMCS GetTicket / GetTickets limitnum=25)",
            "",
            "The direct backend and the proxy hop answer the backend's own `GET api/tickets/1` / "
            "`GET api/tickets`; the others take the WHMCS form POST.  CPU µs/req: CPU seconds of the server's "
            "processes per request (/proc/<pid>/stat).",
            "",
            http_table(targets),
            "",
            *_foreign_warning(targets),
            "## Memory",
            "",
            memory_table(targets),
            "",
        ]
    if conversation:
        from bench import conversation_run

        lines += conversation_run.report(conversation)
    if translation:
        from bench.translate_bench import table

        lines += [
            "## Translation cost per request (no HTTP), against hand-written Python",
            "",
            table(translation),  # type: ignore[arg-type]
            "",
        ]
        lines += [f"WARNING: {x}" for x in problems]
    lines += ["## Targets", "", targets_table(targets, translation, cores), ""]
    report = "\n".join(lines)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report, encoding="utf-8")
    print(f"(written to {RESULTS / 'latest.md'})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
