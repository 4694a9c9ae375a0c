"""What module 3.x adds around every route: tokens with grants, rate-limit headers, 422s, idempotency.

Kept apart from :mod:`gateway.pmp_sim.routes` (the 2.x handlers) so that the 2.x behaviour stays
readable; the middleware in ``routes`` calls in here only when the app runs as module 3.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web

Grant = Literal["read", "write"]

MODULE_KEY: web.AppKey[int] = web.AppKey("pmp_sim_module", int)


@dataclass(frozen=True)
class SimToken:
    """One API token of the module (``tbl_api_tokens`` in 3.x).

    ``staff_id`` is the staff member the token belongs to (notes' ``addedfrom``);
    ``tables`` the custom-table grants (3.1.0: per token, read or write);
    ``denied`` the resources (``tickets``, ``staffs``, ``notes`` ...) it has no permission for."""

    token: str
    staff_id: int = 1
    tables: Mapping[str, Grant] = field(default_factory=dict)
    denied: frozenset[str] = frozenset()


TOKENS_KEY: web.AppKey[dict[str, SimToken]] = web.AppKey("pmp_sim_tokens", dict)
#: The SimToken of this request (set by the middleware once the token is known).
CURRENT_TOKEN: web.RequestKey[SimToken] = web.RequestKey("pmp_sim_current_token", SimToken)


def current_token(request: web.Request) -> SimToken:
    return request[CURRENT_TOKEN]


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", charset="utf-8")


def validation_failed(errors: Mapping[str, str]) -> web.Response:
    """3.x's 422 envelope."""
    return json_response(
        {
            "status": False,
            "error": "validation_failed",
            "message": "The given data was invalid.",
            "errors": dict(errors),
        },
        422,
    )


def forbidden(message: str = "You do not have permission to perform this action.") -> web.Response:
    return json_response({"status": False, "message": message}, 403)


# --------------------------------------------------------------------------- rate limit


class RateLimiter:
    """A fixed window per token, as the module's ``X-RateLimit-*`` headers describe.

    ``limit=None`` never refuses (the default) but still reports the window, like an
    installation whose limit is generous."""

    NOMINAL_LIMIT = 1000

    def __init__(self, limit: int | None = None, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, token: str) -> tuple[bool, dict[str, str]]:
        """Count one request; (allowed, headers)."""
        now = time.time()
        start, count = self._windows.get(token, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        count += 1
        self._windows[token] = (start, count)
        limit = self.limit if self.limit is not None else self.NOMINAL_LIMIT
        reset = math.ceil(start + self.window)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - count)),
            "X-RateLimit-Reset": str(reset),
        }
        allowed = self.limit is None or count <= self.limit
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
        return allowed, headers


RATE_KEY: web.AppKey[RateLimiter] = web.AppKey("pmp_sim_rate", RateLimiter)


# --------------------------------------------------------------------------- idempotency


@dataclass
class IdempotencyLocks:
    """One asyncio lock per (token, key): a retry racing the first request waits for its answer."""

    locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    def get(self, token: str, key: str) -> asyncio.Lock:
        return self.locks.setdefault((token, key), asyncio.Lock())


IDEM_KEY: web.AppKey[IdempotencyLocks] = web.AppKey("pmp_sim_idem", IdempotencyLocks)
