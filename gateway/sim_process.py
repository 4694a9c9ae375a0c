"""What the embedded simulators share when they run as processes of their own
(``gateway pmp-sim``, ``gateway whmcs-sim``): serve until SIGINT/SIGTERM, then clean up,
and turn a failure to listen into one line and exit 1."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web


async def serve_until_signalled(runner: web.AppRunner) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run(name: str, serve: Callable[[], Coroutine[Any, Any, None]]) -> int:
    """Run ``serve`` to its end; 1 with one line on standard error when it cannot listen."""
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    except OSError as err:
        print(f"{name}: {err}", file=sys.stderr)
        return 1
    return 0
