"""The Clientexec REST API: ``/api/ticket/{id}`` and its siblings (seed 000).

Transport only; every field is in ``mappings/clientexec/*.yaml``.

* One route per call, the action fixed by the route; the ticket id of the
  path is the ``ticket`` parameter (``GET /api/ticket?ticket=`` as well).
* Parameters from the query string and a JSON or form body, merged.
* The application key (a ``--client`` SECRET) as the ``apikey`` parameter or
  the ``X-API-KEY`` header.
* Success: ``{"timestamp": <unix now>, <the mapped body>, "elapsed": "0.012",
  "message": ""}``; errors ``{"error": true, "message": ...}`` with INTERFACE's
  HTTP statuses (401, 404, 422, 501, 429 + Retry-After, 504, 503, 413).
"""

from __future__ import annotations

import contextvars
import time
from typing import Any, ClassVar

from aiohttp import web

from gateway import formats
from gateway.auth import Credentials, Principal
from gateway.dialects.base import Dialect, Inbound, Route, read_form, rest_status, retry_after
from gateway.errors import (
    GatewayError,
)
from gateway.mapping.loader import ActionSpec
from gateway.mapping.transforms import to_int

JSON = "application/json"
KEY_HEADER = "X-API-KEY"

# when the request being answered started (set by read(), the pipeline's first step)
_started: contextvars.ContextVar[float] = contextvars.ContextVar("clientexec_started", default=0.0)


class ClientexecDialect(Dialect):
    name: ClassVar[str] = "clientexec"
    vendor: ClassVar[str] = "clientexec"
    default_prefix: ClassVar[str] = "/api"
    example_path: ClassVar[str] = "/ticket/{id}?apikey=KEY"
    route_table: ClassVar[tuple[Route, ...]] = (
        Route("GET", "/ticket/{id}", action="GetTicket"),
        Route("GET", "/ticket", action="GetTicket"),
        Route("GET", "/tickets", action="ListTickets"),
        Route("POST", "/ticket", action="OpenTicket"),
        Route("POST", "/ticket/{id}/reply", action="AddReply"),
        Route("PUT", "/ticket/{id}", action="UpdateTicket"),
        # anything else under the ticket resources: the dialect's own "unknown call" (404)
        Route("*", "/ticket"),
        Route("*", "/tickets"),
        Route("*", "/ticket/{id}"),
        Route("*", "/ticket/{id}/{tail:.*}"),
        Route("*", "/tickets/{tail:.*}"),
    )

    async def read(self, request: web.Request, route: Route, inbound: Inbound) -> None:
        _started.set(time.perf_counter())
        inbound.fmt = "json"
        inbound.params = await read_form(request, self.max_body)
        ticket = request.match_info.get("id")
        if ticket is not None:
            inbound.params["ticket"] = ticket
        key = request.headers.get(KEY_HEADER) or inbound.params.get("apikey")
        inbound.credential = {"apikey": str(key or "")}

    def authenticate(self, request: web.Request, inbound: Inbound, credentials: Credentials) -> Principal:
        return credentials.by_key(inbound.credential.get("apikey"))

    # -- answers --------------------------------------------------------------

    def success(self, inbound: Inbound, spec: ActionSpec, body: Any) -> web.Response:
        payload: dict[str, Any] = {"timestamp": int(time.time())}
        payload.update(body or {})
        for name, default in (spec.options.get("echo") or {}).items():
            payload[name] = to_int(inbound.params.get(name) or default)
        payload["elapsed"] = self._elapsed()
        payload["message"] = ""
        return web.Response(body=formats.json_bytes(payload), status=200, content_type=JSON)

    def error(self, inbound: Inbound, exc: GatewayError) -> web.Response:
        payload = {"error": True, "message": self.error_text(inbound, exc)}
        return web.Response(
            body=formats.json_bytes(payload), status=rest_status(exc), content_type=JSON, headers=retry_after(exc)
        )

    @staticmethod
    def _elapsed() -> str:
        started = _started.get()
        seconds = time.perf_counter() - started if started else 0.0
        return f"{seconds:.3f}"


DIALECT = ClientexecDialect
