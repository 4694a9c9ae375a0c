"""An inbound ``Idempotency-Key`` on a create, honoured through the store (any dialect
may use it; the PMP dialect does, as module 3.x honours the header).

The key (scoped to the credential and the path) is claimed in the store *before* the
write: of two concurrent requests with one key only the claimant writes; the other
waits for the claimant's answer and replays it.  A finished answer is kept (24 hours)
and replayed to every retry, so a retry writes nothing.  An answer that says nothing
was written (429, 503: refused before reaching the backend) gives the key back so that
the client's retry is carried out.  A claim whose process died unfinished is taken over
after ``IDEMPOTENCY_STALE`` seconds (a write may then be repeated: the outcome of such a
claim is unknown, like the 502 answer the client would have had).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.store import IdempotentAnswer, Store

#: answers after which nothing was written: the key is released for the retry
RETRYABLE = frozenset({429, 503})
#: response headers a replay repeats
KEPT_HEADERS = ("Retry-After",)
MAX_KEY = 255
_POLL = 0.05


async def idempotent(
    store: Store,
    scope: str,
    key: str,
    run: Callable[[], Awaitable[web.Response]],
    plain_error: Callable[[int, str], web.Response],
    *,
    deadline: float,
) -> web.Response:
    """``run()`` at most once per (scope, key); later calls get its answer."""
    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable() or not key.isascii():
        return plain_error(422, "idempotency_key")
    give_up = time.monotonic() + deadline
    while not await store.idem_claim(scope, key):
        found = await store.idem_get(scope, key)
        if found is not None and found.status is not None:
            headers = dict(found.headers)
            headers["Idempotent-Replayed"] = "true"
            return web.Response(body=found.body, status=found.status, headers=headers)
        if time.monotonic() >= give_up:
            return plain_error(409, "idempotency_busy")
        if found is not None:
            await asyncio.sleep(_POLL)  # the first request is still running: wait for its answer
        # else the first request gave the key back (nothing was written): claim it again
    finished = False
    try:
        response = await run()
        if response.status in RETRYABLE:
            return response
        await store.idem_finish(scope, key, _answer(response))
        finished = True
        return response
    finally:
        if not finished:
            await store.idem_release(scope, key)


def _answer(response: web.Response) -> IdempotentAnswer:
    body = response.body if isinstance(response.body, bytes) else b""
    headers = {"Content-Type": response.headers.get("Content-Type", "application/json")}
    headers.update({h: response.headers[h] for h in KEPT_HEADERS if h in response.headers})
    return IdempotentAnswer(response.status, body, headers)
