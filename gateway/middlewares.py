"""Cross-cutting request handling: request id and deadline, access log, error boundary."""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway import context
from gateway.errors import kind_of
from gateway.metrics import Metrics
from gateway.redact import header_secrets, presented_secrets, redact_url, scrub

__all__ = ["make_context_middleware", "redact_url", "request_id_of"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_log = logging.getLogger("gateway.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_NO_SECRETS: Callable[[], tuple[str, ...]] = tuple
monotonic = time.monotonic


class _RequestIds:
    """Fresh request ids: 32 hex digits, a random per-process prefix and a counter (unique without
    asking the kernel for randomness on every request; a forked child draws its own prefix)."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._count = itertools.count(int.from_bytes(secrets.token_bytes(4), "big"))

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFFFFFF:016x}"


new_request_id = _RequestIds()


def request_id_of(request: web.Request) -> str:
    given = request.headers.get("X-Request-ID")
    return given if given and _REQUEST_ID.match(given) else new_request_id()


def make_context_middleware(
    timeout: Callable[[], float],
    metrics: Callable[[], Metrics],
    access_log: bool,
    known_secrets: Callable[[], tuple[str, ...]] = _NO_SECRETS,
) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = monotonic()
        m = metrics()
        headers = request.headers
        given = headers.get("X-Request-ID")
        ctx = context.RequestContext(
            request_id=given if given and _REQUEST_ID.match(given) else new_request_id(),
            deadline=started + timeout(),
            observe=m.backend_call,
            # blanked from every log line written for this request (the dialect adds what the body presented)
            secrets=[
                *known_secrets(),
                *(presented_secrets(request.query, headers) if request.query_string else header_secrets(headers)),
            ],
        )
        token = context.begin(ctx)
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers["X-Request-ID"] = ctx.request_id
            return response
        except web.HTTPException as exc:
            status = exc.status
            exc.headers["X-Request-ID"] = ctx.request_id
            raise
        except Exception as exc:
            logging.getLogger("gateway").exception("unhandled error (request %s)", ctx.request_id)
            ctx.failed, ctx.error = kind_of(exc), "Internal gateway error"
            status = 500
            return web.json_response(
                {"result": "error", "message": "Internal gateway error"},
                status=500,
                headers={"X-Request-ID": ctx.request_id},
            )
        finally:
            elapsed = monotonic() - started
            context.end(token)
            if ctx.dialect:
                result = "error" if ctx.failed or status >= 400 else "success"
                m.request_done(ctx.dialect, ctx.action or "-", result, elapsed)
            if access_log and request.path not in ("/healthz", "/metrics"):
                _write_access(request, ctx, status, elapsed)

    return middleware


def _write_access(request: web.Request, ctx: context.RequestContext, status: int, elapsed: float) -> None:
    secrets_seen = ctx.secrets
    record: dict[str, object] = {
        "ts": round(time.time(), 3),
        "request_id": ctx.request_id,
        "remote": request.remote,
        "method": request.method,
        "path": scrub(redact_url(request.path_qs), secrets_seen),
        "dialect": ctx.dialect or None,
        "action": scrub(ctx.action or ctx.requested, secrets_seen) or None,
        "client": ctx.credential or None,
        "status": status,
        "backend_calls": ctx.backend_calls,
        "backend_ms": round(ctx.backend_seconds * 1000, 2),
        "latency_ms": round(elapsed * 1000, 2),
    }
    if ctx.failed:
        # a failed action is findable even where the dialect answers HTTP 200 (WHMCS, ReadyDesk)
        record["error_kind"] = ctx.failed
        record["error"] = scrub(ctx.error, secrets_seen)
    if ctx.hint:
        record["hint"] = ctx.hint
    sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
    sys.stdout.flush()
