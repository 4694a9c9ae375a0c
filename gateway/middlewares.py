"""Cross-cutting request handling: request id and deadline, access log, error boundary."""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway import context
from gateway.metrics import Metrics

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_log = logging.getLogger("gateway.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SECRET_PARAMS = re.compile(
    r"(?i)((?:^|[?&;])(?:key|apikey|api_key|password|secret|accesskey|token|authtoken|identifier)=)[^&;]*"
)


def redact_url(path_qs: str) -> str:
    """A URL fit for a log line: secret-bearing parameters blanked."""
    return _SECRET_PARAMS.sub(r"\1[redacted]", path_qs)


def request_id_of(request: web.Request) -> str:
    given = request.headers.get("X-Request-ID")
    return given if given and _REQUEST_ID.match(given) else secrets.token_hex(16)


def make_context_middleware(
    timeout: Callable[[], float], metrics: Callable[[], Metrics], access_log: bool
) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        m = metrics()
        ctx = context.RequestContext(
            request_id=request_id_of(request), deadline=started + timeout(), observe=m.backend_call
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
        except Exception:
            logging.getLogger("gateway").exception("unhandled error (request %s)", ctx.request_id)
            status = 500
            return web.json_response(
                {"result": "error", "message": "Internal gateway error"},
                status=500,
                headers={"X-Request-ID": ctx.request_id},
            )
        finally:
            elapsed = time.monotonic() - started
            context.end(token)
            if ctx.dialect:
                result = "error" if ctx.failed or status >= 400 else "success"
                m.request_done(ctx.dialect, ctx.action or "-", result, elapsed)
            if access_log and request.path not in ("/healthz", "/metrics"):
                _write_access(request, ctx, status, elapsed)

    return middleware


def _write_access(request: web.Request, ctx: context.RequestContext, status: int, elapsed: float) -> None:
    record = {
        "ts": round(time.time(), 3),
        "request_id": ctx.request_id,
        "remote": request.remote,
        "method": request.method,
        "path": redact_url(request.path_qs),
        "dialect": ctx.dialect or None,
        "action": ctx.action or ctx.requested or None,
        "client": ctx.credential or None,
        "status": status,
        "backend_calls": ctx.backend_calls,
        "backend_ms": round(ctx.backend_seconds * 1000, 2),
        "latency_ms": round(elapsed * 1000, 2),
    }
    sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
    sys.stdout.flush()
