"""The WHMCS External API: ``POST /includes/api.php`` with ``action=...``.

Transport only; every field is in ``mappings/whmcs/*.yaml``.  What real WHMCS
clients do on the wire and how it answers (reference/whmcs-api.md):

* parameters from the query string and the form body, merged; the action
  name in any letter case;
* ``identifier``+``secret`` or ``username``+``password`` (secret or MD5 hex);
* ``responsetype=json`` | ``xml``; with none, the legacy answer: NVP
  (``key=value;``) for flat results and XML for nested ones (or JSON when the
  ``default_format: json`` switch is set);
* errors ``result=error`` + ``message``, HTTP 403 for authentication, 413 for
  a body over the limit, 200 for everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
from aiohttp import web

from gateway import formats
from gateway.auth import Credentials, Principal
from gateway.dialects.base import Dialect, Inbound, Route, read_form
from gateway.errors import (
    AuthError,
    Forbidden,
    GatewayError,
    PayloadTooLarge,
)
from gateway.mapping.loader import ActionSpec

JSON = "application/json"
XML = "application/xml"
TEXT = "text/plain"
_FORMATS = frozenset({"json", "xml", "nvp"})


class WhmcsDialect(Dialect):
    name: ClassVar[str] = "whmcs"
    vendor: ClassVar[str] = "whmcs"
    default_prefix: ClassVar[str] = "/includes/api.php"
    example_path: ClassVar[str] = " (action=..., identifier+secret)"
    route_table: ClassVar[tuple[Route, ...]] = (Route("POST", ""), Route("GET", ""))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._json_success = formats.SuccessBytes(_json_success)

    @property
    def version(self) -> str:
        return str(getattr(self.mappings.config, "version", "8.13.1"))

    async def read(self, request: web.Request, route: Route, inbound: Inbound) -> None:
        if request.query_string:  # (without one, an error before the body is read renders in the default)
            inbound.fmt = self._format(request.query.get("responsetype"))
        params = await read_form(request, self.max_body)
        inbound.params = params
        inbound.fmt = self._format(params.get("responsetype"))
        inbound.action = str(params.get("action") or "")

    def format_for(self, params: Mapping[str, str]) -> str:
        return self._format(params.get("responsetype"))

    def _format(self, requested: Any) -> str:
        if requested in _FORMATS:  # as clients write it
            return str(requested)
        value = str(requested or "").strip().lower()
        if value in _FORMATS:
            return value
        return self.settings.default_format or str(getattr(self.mappings.config, "default_format", "legacy"))

    def authenticate(self, request: web.Request, inbound: Inbound, credentials: Credentials) -> Principal:
        p = inbound.params
        if p.get("identifier"):
            return credentials.by_pair(str(p.get("identifier")), str(p.get("secret") or ""))
        if p.get("username"):
            return credentials.by_pair(str(p.get("username")), str(p.get("password") or ""))
        raise AuthError()

    # -- answers --------------------------------------------------------------

    def success(self, inbound: Inbound, spec: ActionSpec, body: Any) -> web.Response:
        if (inbound.fmt or self._format(None)) == "json" and body:
            return web.Response(body=self._json_success.get(body), content_type=JSON)
        payload: dict[str, Any] = {"result": "success"}
        payload.update(body or {})
        return self._respond(inbound, payload, 200)

    def error(self, inbound: Inbound, exc: GatewayError) -> web.Response:
        status = 403 if isinstance(exc, AuthError | Forbidden) else 413 if isinstance(exc, PayloadTooLarge) else 200
        return self._respond(inbound, {"result": "error", "message": self.error_text(inbound, exc)}, status)

    def _respond(self, inbound: Inbound, payload: dict[str, Any], status: int) -> web.Response:
        fmt = inbound.fmt or self._format(None)
        if fmt == "json":
            return web.Response(body=formats.json_bytes(payload), status=status, content_type=JSON)
        if fmt == "nvp" or (fmt == "legacy" and formats.is_flat(payload)):
            return web.Response(body=formats.nvp_bytes(payload), status=status, content_type=TEXT, charset="utf-8")
        return web.Response(body=self._xml(inbound, payload), status=status, content_type=XML, charset="utf-8")

    def _xml(self, inbound: Inbound, payload: dict[str, Any]) -> bytes:
        out = ['<?xml version="1.0" encoding="utf-8"?>', f'<whmcsapi version="{formats.xml_text(self.version)}">']
        out.append(f"<action>{formats.xml_text(inbound.action.lower())}</action>")
        formats.xml_elements(payload, out)
        out.append("</whmcsapi>")
        return "\n".join(out).encode()


_SUCCESS_OPEN = b'{"result":"success",'
# a body of this many members or more is spliced after the envelope's first member rather than
# copied into a new dict: a copy costs per member, a splice per byte (a list page has a handful
# of members and most of the bytes: copied; a ticket has dozens of short ones: spliced)
SPLICE_MIN_MEMBERS = 8


def _json_success(body: Any) -> bytes:
    """``json_bytes({"result": "success", **body})``, the usual body (a dict of many members, none
    of them ``result``) encoded as it is and joined after the envelope's first member."""
    if type(body) is dict and len(body) >= SPLICE_MIN_MEMBERS and "result" not in body:
        return _SUCCESS_OPEN + orjson.dumps(body)[1:]
    return formats.json_bytes({"result": "success", **body})


DIALECT = WhmcsDialect
