"""The generic inbound pipeline every dialect shares.

    read the request  ->  authenticate  ->  find the action  ->  allow-lists / rate
    -> refuse parameters that would be lost  ->  params mapping  ->  argument model
    -> service  ->  result mapping  ->  the dialect's envelope and wire format

A dialect subclass supplies only the vendor's transport: where the action,
parameters and credential are in a request (:meth:`read`,
:meth:`authenticate`) and how a success or an error looks on the wire
(:meth:`success`, :meth:`error`).  The field knowledge is in its mapping files.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web
from multidict import MultiDictProxy

from gateway import context
from gateway.auth import Credentials, Principal, authorize
from gateway.errors import GatewayError, InternalError, InvalidInput, PayloadTooLarge, UnknownAction, Unsupported
from gateway.mapping.loader import ActionSpec, VendorMappings
from gateway.service import build_args
from gateway.settings import DialectSettings

log = logging.getLogger("gateway")

if TYPE_CHECKING:
    from gateway.runtime import Runtime


@dataclass
class Inbound:
    """One client request as the dialect read it."""

    action: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    fmt: str = ""
    credential: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # relative to the dialect's prefix; may hold {placeholders}
    action: str | None = None  # fixed action for REST-style routes


class Dialect(abc.ABC):
    name: ClassVar[str]
    vendor: ClassVar[str]  # the mapping directory it reads
    default_prefix: ClassVar[str]

    def __init__(self, settings: DialectSettings, mappings: VendorMappings) -> None:
        self.settings = settings
        self.mappings = mappings
        self.prefix = (settings.prefix if settings.prefix is not None else self.default_prefix).rstrip("/")
        self._actions = {name.casefold(): spec for name, spec in mappings.actions.items()}

    # -- what a dialect supplies ------------------------------------------

    route_table: ClassVar[tuple[Route, ...]]
    max_body: int = 1 << 20

    @classmethod
    def routes_for(cls, prefix: str) -> list[Route]:
        """The dialect's routes under ``prefix`` (the vendor's own path unless configured)."""
        return [Route(r.method, prefix + r.path, r.action) for r in cls.route_table]

    @abc.abstractmethod
    async def read(self, request: web.Request, route: Route, inbound: Inbound) -> None:
        """Fill ``inbound`` from the request; set ``fmt`` first so errors render in it."""

    @abc.abstractmethod
    def authenticate(self, request: web.Request, inbound: Inbound, credentials: Credentials) -> Principal: ...

    @abc.abstractmethod
    def success(self, inbound: Inbound, spec: ActionSpec, body: Any) -> web.Response: ...

    @abc.abstractmethod
    def error(self, inbound: Inbound, exc: GatewayError) -> web.Response: ...

    # -- shared -------------------------------------------------------------

    def find_action(self, inbound: Inbound) -> ActionSpec:
        spec = self._actions.get(inbound.action.casefold())
        if spec is None:
            raise UnknownAction("Command Not Found")
        return spec

    def refuse_lost_params(self, inbound: Inbound, spec: ActionSpec) -> None:
        for param, message in spec.unsupported.items():
            value = inbound.params.get(param)
            if value not in (None, "", [], {}) or any(k.startswith(param + "[") for k in inbound.params):
                raise Unsupported(str(message))

    async def handle(self, request: web.Request, route: Route, runtime: Runtime) -> web.Response:
        inbound = Inbound(action=route.action or "")
        ctx = context.current()
        ctx.dialect = self.name
        try:
            await self.read(request, route, inbound)
            ctx.action = inbound.action
            principal = self.authenticate(request, inbound, runtime.credentials)
            ctx.credential = principal.identifier
            spec = self.find_action(inbound)
            ctx.action = spec.name
            authorize(principal, spec.name, spec.operation, request.remote)
            runtime.limiter.check(principal.identifier)
            self.refuse_lost_params(inbound, spec)
            args = build_args(spec.operation, spec.params(inbound.params))
            result = await runtime.service.run(spec.operation, args)
            body = spec.result(result) if spec.result is not None else {}
            return self.success(inbound, spec, body)
        except GatewayError as exc:
            runtime.metrics.error(self.name, type(exc).__name__)
            return self.error(inbound, exc)
        except Exception:
            log.exception("unhandled error in %s %s (request %s)", self.name, inbound.action, ctx.request_id)
            runtime.metrics.error(self.name, "InternalError")
            return self.error(inbound, InternalError(f"Internal gateway error (request id {ctx.request_id})"))


# ------------------------------------------------------------ request helpers


async def read_form(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """Query string and body merged (body wins), form/multipart/JSON, PHP brackets kept as keys."""
    params: dict[str, Any] = {}
    _merge_multi(params, request.query)
    if request.method in ("POST", "PUT", "PATCH") and request.can_read_body:
        ctype = request.content_type
        if request.content_length is not None and request.content_length > max_bytes:
            raise PayloadTooLarge("Request body too large")
        if ctype == "application/json":
            body = await _read_limited(request, max_bytes)
            params.update(_json_params(body))
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise PayloadTooLarge("Request body too large") from None
            except (ValueError, UnicodeDecodeError, AssertionError) as exc:
                raise InvalidInput(f"Malformed request body: {type(exc).__name__}", "body") from None
            _merge_multi(params, form)
        else:
            await _read_limited(request, max_bytes)
    return params


def _merge_multi(params: dict[str, Any], multi: MultiDictProxy[Any] | Mapping[str, Any]) -> None:
    for key in multi:
        values = multi.getall(key) if isinstance(multi, MultiDictProxy) else [multi[key]]
        text_values = [v if isinstance(v, str) else getattr(v, "filename", "") or "file" for v in values]
        # a repeated plain key: the last wins, as PHP does
        params[key] = text_values[-1]
        if key.endswith("[]"):
            params[key] = text_values


async def _read_limited(request: web.Request, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge("Request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_params(body: bytes) -> dict[str, Any]:
    import orjson

    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("Malformed JSON body", "body") from None
    if not isinstance(value, dict):
        raise InvalidInput("The JSON body must be an object", "body")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise InvalidInput(f"{key}: nested values are not accepted", str(key))
        out[str(key)] = (
            "" if item is None else (("1" if item else "0") if isinstance(item, bool) else str(item))
        )
    return out


Handler = Callable[[web.Request], Any]
