"""The HTTP server under the app: aiohttp's, with protocol errors answered quietly.

aiohttp answers a request it cannot parse (a bad request line, an invalid
header, an over-long URL) with a text page that quotes the offending bytes,
which can hold a client's secret (``?secret=...``, ``Authorization: Bearer
...``).  The gateway's runner answers those with the status and its standard
phrase only, and logs the error's type, never its text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

log = logging.getLogger("gateway.http")


class _QuietRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        log.warning("refused a request: HTTP %s (%s)", status, type(exc).__name__ if exc else "no detail")
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        shaped: ErrorShaper | None = getattr(self._manager, "shape_error", None)
        resp: web.StreamResponse | None = None
        if shaped is not None:
            try:
                resp = shaped(request, status)
            except Exception:  # the request may be too broken to route; fall back to plain text
                resp = None
        if resp is None:
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            resp = web.Response(status=status, text=f"{status} {phrase}\n", content_type="text/plain")
        resp.force_close()
        return resp


# given the unparsable request's path and status, the answer in the dialect that path belongs to
ErrorShaper = Callable[[BaseRequest, int], web.StreamResponse | None]


class _QuietServer(Server):
    shape_error: ErrorShaper | None = None

    def __call__(self) -> RequestHandler:
        return _QuietRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer protocol errors without echoing the request,
    in the dialect of the path when ``shape_error`` can tell it."""

    def __init__(self, app: web.Application, *, shape_error: ErrorShaper | None = None, **kwargs: Any) -> None:
        # bodies arrive as sent: the dialect inflates them itself, within the body limit
        kwargs.setdefault("auto_decompress", False)
        super().__init__(app, **kwargs)
        self._shape_error = shape_error

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _QuietServer
        server.shape_error = self._shape_error  # type: ignore[attr-defined]
        return server
