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
from gateway.auth import AUTH_FAILED, Credentials, Principal
from gateway.dialects.base import Dialect, Inbound, Route, read_form, reword_refusal
from gateway.errors import (
    AuthError,
    BackendError,
    BackendTimeout,
    Forbidden,
    GatewayError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UnknownAction,
    Unsupported,
)
from gateway.mapping.loader import ActionSpec, VendorMappings
from gateway.settings import DialectSettings

_KEBAB = re.compile(r"(?<!^)(?=[A-Z])")

_STATUS: tuple[tuple[type[GatewayError], int], ...] = (
    (AuthError, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (UnknownAction, 404),
    (InvalidInput, 422),
    (Unsupported, 501),
    (RateLimited, 429),
    (PayloadTooLarge, 413),
    (BackendTimeout, 504),
    (BackendError, 503),
)


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
        self._texts: dict[str, Any] = dict(mappings.settings.get("errors") or {})

    async def read(self, request: web.Request, route: Route, inbound: Inbound) -> None:
        inbound.fmt = "json"
        inbound.action = request.match_info.get("action", "").lower()
        inbound.params = await read_form(request, self.max_body)

    def authenticate(self, request: web.Request, inbound: Inbound, credentials: Credentials) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(AUTH_FAILED)
        return credentials.by_key(token.strip())

    def success(self, inbound: Inbound, spec: ActionSpec, body: Any) -> web.Response:
        payload: dict[str, Any] = {"result": "success"}
        payload.update(body or {})
        return web.Response(body=formats.json_bytes(payload), content_type="application/json")

    def error(self, inbound: Inbound, exc: GatewayError) -> web.Response:
        status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
        message = exc.message
        if isinstance(exc, AuthError):
            message = "Unauthenticated."
        elif isinstance(exc, NotFound):
            spec = self._actions.get(inbound.action)
            per_action = (spec.options.get("not_found") or {}) if spec else {}
            message = str(per_action.get(exc.kind) or (self._texts.get("not_found") or {}).get(exc.kind) or message)
        elif isinstance(exc, BackendTimeout):
            message = str(self._texts.get("timeout", message))
        elif isinstance(exc, InvalidInput):
            message = reword_refusal(self._actions.get(inbound.action), exc)
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return web.Response(
            body=formats.json_bytes({"result": "error", "message": message}),
            status=status,
            content_type="application/json",
            headers=headers,
        )


DIALECT = KeliwebDialect
