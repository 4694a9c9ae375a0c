"""What the two reference servers share: argument parsing, N processes on one port, uvloop.

They run the way ``gateway serve`` runs (uvloop when installed, one
``web.AppRunner`` per process, ``SO_REUSEPORT`` with ``--workers N``) so that
a comparison with the gateway measures the handler, not the server setup.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
from collections.abc import Callable
from typing import Any

from aiohttp import web


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--backend-url", required=True)
    p.add_argument("--backend-token", default="x")
    p.add_argument("--workers", type=int, default=1)
    return p.parse_args()


async def _serve(
    make_app: Callable[[argparse.Namespace], web.Application], ns: argparse.Namespace, reuse: bool
) -> None:
    runner = web.AppRunner(make_app(ns), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", ns.port, reuse_port=reuse or None)
    await site.start()
    print(f"listening on 127.0.0.1:{ns.port} (pid {os.getpid()})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def _one(make_app: Any, ns: argparse.Namespace, reuse: bool) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(make_app, ns, reuse))


def main(make_app: Callable[[argparse.Namespace], web.Application], description: str) -> None:
    ns = parse_args(description)
    if ns.workers <= 1:
        _one(make_app, ns, False)
        return
    procs = [multiprocessing.Process(target=_one, args=(make_app, ns, True)) for _ in range(ns.workers)]
    for p in procs:
        p.start()

    def stop(signum: int, frame: Any) -> None:
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.join()
