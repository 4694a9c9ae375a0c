"""PMP (the Perfex CRM REST API module) as an inbound dialect, under ``/perfex`` by default.

Transport only; the rows, actions and texts are in ``mappings/pmp/dialect.yaml``.

* The module's routes (``api/tickets``, ``api/customers``, ``api/contacts``, and 3.x's
  ``api/staffs`` and ``api/notes``), the action fixed by the route; path ids become
  parameters (a non-numeric id is the module's 404 ``No data were found``).
* Parameters from the query string and a form, multipart or JSON body, merged.
* The token (a ``--client`` SECRET) in the ``authtoken`` header or ``?authtoken=``.
* Answers: rows as the module sends them (plain arrays; 3.x's ``{data, meta}`` envelope
  when ``page``/``per_page`` is sent, with ``sort``, ``fields``, ``created_after`` and
  ``created_before`` applied: :mod:`gateway.dialects.pmp_lists`); creates answer
  ``{"status": true, "message": ..., "record_id": N}`` (2.x: no ``record_id``).
* Errors ``{"status": false, "message": ...}`` with INTERFACE's PMP statuses (401, or 404
  for a 2.x client, ``Token is not defined.``; 404 ``No data were found``; 422 with 3.x's
  validation envelope; 501, 429 + Retry-After, 504, 503, 502, 413).
* ``Idempotency-Key`` on a POST: the key is claimed in the store before the write and the
  answer kept after it, so a retry (or a concurrent duplicate) gets the first answer and
  writes nothing: :mod:`gateway.idempotency`.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from gateway import formats
from gateway.auth import AUTH_FAILED, Credentials, Principal
from gateway.dialects.base import Dialect, Inbound, Route, read_form, retry_after
from gateway.dialects.pmp_lists import ListQuery, parse_list_query, search_rows, served_page, shape_list, shape_page
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
    WriteOutcomeUnknown,
)
from gateway.idempotency import idempotent
from gateway.mapping.loader import ActionSpec, VendorMappings
from gateway.settings import DialectSettings

if TYPE_CHECKING:
    from gateway.runtime import Runtime

JSON = "application/json"
TOKEN = "authtoken"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# path parameters that name a record: digits only, or the module's "not found"
_ID_PARAMS = ("id", "customer_id", "contact_id", "rel_id")

# the list options of the request being answered (set once it is authenticated)
_query: contextvars.ContextVar[ListQuery | None] = contextvars.ContextVar("pmp_list_query", default=None)
# whether the service cut the page itself (its paged path), rather than the rows being read whole
_served: contextvars.ContextVar[bool] = contextvars.ContextVar("pmp_served_page", default=False)
# the parameters through which a list asks the service for one page (never taken from a client)
PAGE_PARAMS = ("_page_offset", "_page_limit", "_page_order", "_page_desc")


def _api(method: str, path: str, action: str | None = None) -> Route:
    return Route(method, "/api" + path, action)


class PMPDialect(Dialect):
    name: ClassVar[str] = "pmp"
    vendor: ClassVar[str] = "pmp"
    default_prefix: ClassVar[str] = "/perfex"
    example_path: ClassVar[str] = "/api/tickets/{id} (authtoken: KEY)"
    # aiohttp matches in this order: the fixed segments (search, delete) before {id}
    route_table: ClassVar[tuple[Route, ...]] = (
        _api("GET", "/tickets", "ListTickets"),
        _api("POST", "/tickets", "OpenTicket"),
        _api("GET", "/tickets/search/{key}", "SearchTickets"),
        _api("GET", "/tickets/{id}", "GetTicket"),
        _api("PUT", "/tickets/{id}", "UpdateTicket"),
        _api("DELETE", "/tickets/{id}", "DeleteTicket"),
        _api("DELETE", "/delete/tickets/{id}", "DeleteTicket"),
        _api("GET", "/customers", "ListCustomers"),
        _api("POST", "/customers", "AddCustomer"),
        _api("GET", "/customers/search/{key}", "SearchCustomers"),
        _api("GET", "/customers/{id}", "GetCustomer"),
        _api("PUT", "/customers/{id}", "UpdateCustomer"),
        _api("DELETE", "/customers/{id}", "DeleteCustomer"),
        _api("DELETE", "/delete/customers/{id}", "DeleteCustomer"),
        _api("POST", "/contacts", "AddContact"),
        _api("GET", "/contacts/search/{key}", "SearchContacts"),
        _api("GET", "/contacts/{customer_id}", "ListContacts"),
        _api("GET", "/contacts/{customer_id}/{contact_id}", "GetContact"),
        _api("PUT", "/contacts/{id}", "UpdateContact"),
        _api("DELETE", "/contacts/{id}", "DeleteContact"),
        _api("DELETE", "/delete/contacts/{id}", "DeleteContact"),
        _api("GET", "/staffs", "ListStaff"),
        _api("GET", "/staffs/search/{key}", "SearchStaff"),
        _api("GET", "/staffs/{id}", "GetStaff"),
        _api("POST", "/staffs", "StaffWrite"),
        _api("PUT", "/staffs/{id}", "StaffWrite"),
        _api("DELETE", "/staffs/{id}", "StaffWrite"),
        _api("DELETE", "/delete/staffs/{id}", "StaffWrite"),
        _api("POST", "/notes", "AddNote"),
        _api("GET", "/notes/{rel_type}/{rel_id}", "ListNotes"),
        _api("GET", "/notes/{id}", "GetNote"),
        _api("PUT", "/notes/{id}", "UpdateNote"),
        _api("DELETE", "/notes/{id}", "DeleteNote"),
        # anything else under the prefix: the dialect's own 404, not aiohttp's page
        Route("*", "/{tail:.*}"),
    )

    @classmethod
    def routes_for(cls, prefix: str) -> list[Route]:
        routes = super().routes_for(prefix)
        # the bare prefix too: every answer under it is in the module's shape
        return [*routes, Route("*", prefix)] if prefix else routes

    def __init__(self, settings: DialectSettings, mappings: VendorMappings) -> None:
        super().__init__(settings, mappings)
        # 3 (module 3.x, the default) or 2 (seed 003's generation); read defensively
        self.generation = 2 if str(getattr(settings, "generation", 3)) == "2" else 3
        texts = mappings.settings.get("dialect_refused") or {}
        self._refused: dict[str, str] = {str(k): str(v) for k, v in texts.items()}
        cfg = mappings.settings
        self._per_page = (int(cfg.get("per_page_default", 25)), int(cfg.get("per_page_max", 100)))

    # -- request ------------------------------------------------------------

    async def handle(self, request: web.Request, route: Route, runtime: Runtime) -> web.Response:
        _query.set(None)
        _served.set(False)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if request.method != "POST" or key is None:
            return await super().handle(request, route, runtime)
        try:
            principal = runtime.credentials.by_key(self._token(request))
        except AuthError:
            return await super().handle(request, route, runtime)  # answers the auth error
        return await idempotent(
            runtime.service.store,
            f"{self.name} {principal.identifier} {request.path}",
            key,
            lambda: super(PMPDialect, self).handle(request, route, runtime),
            self._plain_error,
            deadline=runtime.settings.backend.timeout,
        )

    async def read(self, request: web.Request, route: Route, inbound: Inbound) -> None:
        inbound.fmt = "json"
        inbound.params = await read_form(request, self.max_body)
        inbound.params.update(request.match_info)  # the path's ids win over the body's
        inbound.credential = {TOKEN: self._token(request)}

    @staticmethod
    def _token(request: web.Request) -> str:
        """The module reads the header, or the query string (never the body)."""
        return str(request.headers.get(TOKEN) or request.query.get(TOKEN) or "")

    def authenticate(self, request: web.Request, inbound: Inbound, credentials: Credentials) -> Principal:
        token = inbound.credential.get(TOKEN, "")
        if not token:
            raise AuthError(AUTH_FAILED)
        return credentials.by_key(token)

    def find_action(self, inbound: Inbound) -> ActionSpec:
        refused = self._refused.get(inbound.action)
        if refused is not None:
            raise Unsupported(refused)
        spec = super().find_action(inbound)
        for name in _ID_PARAMS:
            value = inbound.params.get(name)
            if name in inbound.params and not (isinstance(value, str) and value.isascii() and value.isdigit()):
                raise NotFound(_kind(spec), "No data were found")
        rel_type = inbound.params.get("rel_type")
        if spec.operation in ("list_notes", "add_note") and str(rel_type or "ticket").casefold() != "ticket":
            raise Unsupported("Only ticket notes (rel_type ticket) are carried by the gateway")
        for name in PAGE_PARAMS:
            inbound.params.pop(name, None)
        if spec.options.get("answer") == "list" and self.generation == 3:
            query = parse_list_query(inbound.params, *self._per_page)
            _query.set(query)
            page = served_page(query) if spec.options.get("served_pages") else None
            if page is not None:
                # the service's paged path (as WHMCS GetTickets pages): its cost does not grow
                # with the backend, and the answer is the same bytes as a cut of the whole list
                _served.set(True)
                offset, limit, order_by, descending = page
                values = (str(offset), str(limit), order_by, str(descending))
                inbound.params.update(zip(PAGE_PARAMS, values, strict=True))
        return spec

    # -- answers --------------------------------------------------------------

    def success(self, inbound: Inbound, spec: ActionSpec, body: Any) -> web.Response:
        answer = spec.options.get("answer")
        if answer == "list":
            rows = self._rows(inbound, spec, body)
            options = spec.options
            query = _query.get()
            payload: Any
            if _served.get() and query is not None:
                payload = shape_page(rows, query, int((body or {}).get("total") or 0))
            else:
                payload = shape_list(rows, query, str(options.get("sort") or ""), str(options.get("created")))
            if payload is None:
                raise NotFound(_kind(spec), "No data were found")
        elif answer == "record":
            payload = body
            if spec.options.get("pick") == "first":
                rows = (body or {}).get("rows") or []
                if not rows:
                    raise NotFound(_kind(spec), "No data were found")
                payload = rows[0]
        else:
            payload = {"status": True, "message": str(spec.options.get("message", ""))}
            if answer == "created" and self.generation == 3:
                payload["record_id"] = (body or {}).get("id")
        return _json(payload, 200)

    def _rows(self, inbound: Inbound, spec: ActionSpec, body: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = list((body or {}).get("rows") or [])
        columns = spec.options.get("search")
        if columns:
            rows = search_rows(rows, str(inbound.params.get("key", "")), [str(c) for c in columns])
        rel_param = spec.options.get("rel_id")
        if rel_param:
            for row in rows:
                row.setdefault("rel_id", str(inbound.params.get(str(rel_param), "")))
        return rows

    def error(self, inbound: Inbound, exc: GatewayError) -> web.Response:
        status = self._status(exc)
        if isinstance(exc, InvalidInput):
            payload: dict[str, Any] = {
                "status": False,
                "error": "validation_failed",
                "message": str(self._texts.get("invalid") or "The given data was invalid."),
                "errors": {exc.field or "request": self.error_text(inbound, exc)},
            }
        else:
            payload = {"status": False, "message": self.error_text(inbound, exc)}
        return _json(payload, status, retry_after(exc))

    def _plain_error(self, status: int, text_key: str) -> web.Response:
        return _json({"status": False, "message": str(self._texts.get(text_key, text_key))}, status)

    def _status(self, exc: GatewayError) -> int:
        if isinstance(exc, AuthError):
            return 404 if self.generation == 2 else 401
        return next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)

    def error_text(self, inbound: Inbound, exc: GatewayError) -> str:
        # the module says the same for a missing record, an empty list and an unknown route
        if isinstance(exc, NotFound | UnknownAction):
            return str(self._texts.get("no_data") or "No data were found")
        return super().error_text(inbound, exc)


# INTERFACE's errors table, PMP column (AuthError: 401, or 404 for 2.x clients)
_STATUS: tuple[tuple[type[GatewayError], int], ...] = (
    (Forbidden, 403),
    (NotFound, 404),
    (UnknownAction, 404),
    (InvalidInput, 422),
    (Unsupported, 501),
    (RateLimited, 429),
    (PayloadTooLarge, 413),
    (BackendTimeout, 504),
    (WriteOutcomeUnknown, 502),
    (BackendError, 503),
)

_KINDS = {"ticket": "ticket", "customer": "customer", "contact": "contact", "staff": "staff", "note": "note"}


def _kind(spec: ActionSpec) -> str:
    """The record kind an action is about (for NotFound): from its operation's name."""
    return next((kind for word, kind in _KINDS.items() if word in spec.operation), "record")


def _json(payload: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=formats.json_bytes(payload), status=status, content_type=JSON, charset="utf-8", headers=headers
    )


DIALECT = PMPDialect
