"""Keliweb's WHMCS-compatible REST API (seed 001).

``POST /api/v2/keliweb/<action-in-kebab-case>`` with ``Authorization: Bearer
TOKEN`` and form or multipart fields; the answers are WHMCS's shapes and value
types, so this dialect reads the ``whmcs`` mappings and differs only in
transport: the action comes from the path, the key from the header, errors
carry HTTP statuses (INTERFACE's table) and the body is always JSON.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from aiohttp import web

from gateway import formats
from gateway.auth import Credentials, Principal
from gateway.dialects.base import Dialect, Inbound, Route, read_form, rest_status, retry_after
from gateway.errors import (
    AuthError,
    GatewayError,
)
from gateway.mapping.loader import ActionSpec, VendorMappings
from gateway.settings import DialectSettings

_KEBAB = re.compile(r"(?<!^)(?=[A-Z])")


def kebab(action: str) -> str:
    """GetTicket -> get-ticket, GetClientsDetails -> get-clients-details."""
    return _KEBAB.sub("-", action).lower()


class KeliwebDialect(Dialect):
    name: ClassVar[str] = "keliweb"
    vendor: ClassVar[str] = "whmcs"
    default_prefix: ClassVar[str] = "/api/v2/keliweb"
    example_path: ClassVar[str] = "/get-ticket (Authorization: Bearer KEY)"
    # anything else under the prefix (another method, a deeper path) is Keliweb's 404, not aiohttp's page
    route_table: ClassVar[tuple[Route, ...]] = (Route("POST", "/{action}"), Route("*", "/{tail:.*}"))

    def __init__(self, settings: DialectSettings, mappings: VendorMappings) -> None:
        super().__init__(settings, mappings)
        # the kebab-case name is the only one Keliweb serves
        self._actions = {kebab(name): spec for name, spec in mappings.actions.items()}
        self._json_success = formats.SuccessBytes(lambda body: formats.json_bytes({"result": "success", **body}))

    async def read(self, request: web.Request, route: Route, inbound: Inbound) -> None:
        inbound.fmt = "json"
        inbound.action = request.match_info.get("action", "").lower()
        inbound.params = await read_form(request, self.max_body)

    def authenticate(self, request: web.Request, inbound: Inbound, credentials: Credentials) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError()
        return credentials.by_key(token.strip())

    def success(self, inbound: Inbound, spec: ActionSpec, body: Any) -> web.Response:
        return web.Response(body=self._json_success.get(body or {}), content_type="application/json")

    def error(self, inbound: Inbound, exc: GatewayError) -> web.Response:
        return web.Response(
            body=formats.json_bytes({"result": "error", "message": self.error_text(inbound, exc)}),
            status=rest_status(exc),
            content_type="application/json",
            headers=retry_after(exc),
        )


DIALECT = KeliwebDialect
