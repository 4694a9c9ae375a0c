"""Where the gateway spends its time per request: py-spy on a gateway under wrk load.

    python -m bench.profile [--call one|list|conversation] [--seconds 15] [--workers 1] [--connections 32]

Starts the static nginx backend and the gateway exactly as ``bench.run`` does,
drives WHMCS GetTicket (``--call one``) or GetTickets limitnum=25 (``list``)
with wrk, samples the serving process with ``py-spy record`` (``pip install
py-spy``; root or ptrace permission needed), and prints the functions with the
most samples, self and inclusive, by file:function.  The raw collapsed stacks
are kept in ``bench/results/profile-<target>-<call>.txt`` (load them in speedscope or
flamegraph.pl).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench import payload
from bench.run import (
    FORM_ONE,
    RESULTS,
    ROOT,
    Bench,
    ensure_tools,
    free_port,
    gateway_config,
    lua_scripts,
    nginx_conf,
    start_nginx,
    start_python,
)


def _frame_name(frame: str) -> str:
    # py-spy raw frames: "function (path/to/file.py:123)"
    name, _, where = frame.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{name}"


def summarize(raw: str, top: int) -> str:
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        self_c[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    out = [f"{total} samples", "", "self%   function"]
    out += [f"{100 * c / total:5.1f}   {f}" for f, c in self_c.most_common(top)]
    out += ["", "incl%   function"]
    out += [f"{100 * c / total:5.1f}   {f}" for f, c in incl.most_common(top * 2)]
    return "\n".join(out)


_CALLS = {
    "one": "GetTicket",
    "list": "GetTickets(25)",
    "conversation": "GetTicket with replies and notes",
    "random": "GetTicket of a new ticket id each time",
}
# a new ticket id on every request: every answer is one the gateway's memos do not know
RANDOM_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  return wrk.format(nil, nil, nil, (string.gsub("%s", "ticketid=1&", "ticketid=" .. math.random(2, 1000000000) .. "&")))
end
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--call",
        choices=("one", "list", "conversation", "random"),
        default="one",
        help="conversation: GetTicket with replies, notes and staff (bench/conversation.py's backend)",
    )
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--native", action="store_true", help="py-spy --native (C frames too)")
    p.add_argument(
        "--target",
        choices=("gateway", "passthrough", "naive"),
        default="gateway",
        help="profile a reference server instead (bench/passthrough.py, bench/naive.py)",
    )
    ns = p.parse_args()
    pyspy = shutil.which("py-spy")
    if not pyspy:
        raise SystemExit("bench.profile: py-spy is missing: pip install py-spy")
    wrk, nginx = ensure_tools()
    with tempfile.TemporaryDirectory(prefix="gateway-profile-") as name:
        tmp = Path(name)
        static = tmp / "static"
        static.mkdir()
        (static / "ticket-1.json").write_bytes(payload.ticket_bytes())
        (static / "tickets.json").write_bytes(payload.list_bytes(25))
        for d in (tmp, static):
            d.chmod(0o755)
        bport, gport = free_port(), free_port()
        conf = nginx_conf(
            tmp,
            "backend",
            bport,
            f"""        default_type application/json;
        location = /api/tickets/1 {{ alias {static}/ticket-1.json; }}
        location = /api/tickets {{ alias {static}/tickets.json; }}
        location ~ ^/api/tickets/[0-9]+$ {{ root {static}; try_files /ticket-1.json =404; }}""",
        )
        if ns.call == "conversation":
            from bench import conversation_run

            backend, _ = conversation_run.start_backend(nginx, tmp)
            bport = backend.port
        else:
            backend = start_nginx(nginx, conf, "nginx static backend", bport)
        module = "naive_conversation" if ns.call == "conversation" and ns.target == "naive" else ns.target
        if ns.target == "gateway":
            args = ["-m", "gateway.cli", "serve", "--config", str(gateway_config(tmp, gport, bport, ns.workers))]
        else:
            args = [
                "-m",
                f"bench.{module}",
                "--port",
                str(gport),
                "--backend-url",
                f"http://127.0.0.1:{bport}/",
                "--workers",
                str(ns.workers),
            ]
        gw = start_python(ns.target, args, gport, ns.workers, ROOT)
        try:
            time.sleep(1.0 + 0.5 * ns.workers)
            scripts = lua_scripts(tmp)
            b = Bench(wrk, ns.seconds + 4, ns.connections, 1, scripts)
            script = scripts["post_list" if ns.call == "list" else "post_one"]
            if ns.call == "random":
                script = tmp / "random.lua"
                script.write_text(RANDOM_LUA % FORM_ONE)
            url = f"http://127.0.0.1:{gport}/includes/api.php"
            b.wrk_run(url, script, 2)
            result: dict[str, str] = {}
            load = threading.Thread(target=lambda: result.update(out=b.wrk_run(url, script, ns.seconds + 4)))
            load.start()
            time.sleep(1)
            out = tmp / "raw.txt"
            cmd = [
                pyspy,
                "record",
                "--format",
                "raw",
                "--rate",
                "250",
                "--duration",
                str(ns.seconds),
                "--output",
                str(out),
                "--pid",
                str(gw.workers()[0]),
            ]
            # --nonblocking (no pauses of the target) cannot unwind native frames
            cmd.append("--native" if ns.native else "--nonblocking")
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            load.join()
            raw = out.read_text()
        finally:
            gw.stop()
            backend.stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"profile-{ns.target}-{ns.call}.txt").write_text(raw)
    rps = next((line for line in result.get("out", "").splitlines() if "Requests/sec" in line), "")
    print(f"{ns.target}, {ns.workers} proc(s), WHMCS {_CALLS[ns.call]}: {rps.strip()}")
    print(summarize(raw, ns.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
