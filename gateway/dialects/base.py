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
import math
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from multidict import MultiDictProxy

from gateway import context, pipeline
from gateway.auth import Credentials, Principal, authorize
from gateway.billing import BILLING_HINT, is_billing_action
from gateway.errors import (
    AuthError,
    BackendError,
    BackendTimeout,
    Forbidden,
    GatewayError,
    InternalError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UnknownAction,
    Unsupported,
    kind_of,
)
from gateway.mapping.loader import ActionSpec, VendorMappings
from gateway.mapping.vendor_settings import error_texts
from gateway.redact import presented_secrets
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
        self._texts: Mapping[str, str] = error_texts(mappings.config) or error_texts(mappings.settings)

    # -- what a dialect supplies ------------------------------------------

    route_table: ClassVar[tuple[Route, ...]]
    example_path: ClassVar[str] = ""  # what the banner shows after the prefix
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

    def format_for(self, params: Mapping[str, str]) -> str:
        """The answer format a request asks for (dialects with several formats override)."""
        return "json"

    def claims(self, path: str) -> bool:
        """Whether a request path belongs to this dialect (for answering requests too broken to route)."""
        return bool(self.prefix) and (path == self.prefix or path.startswith(self.prefix + "/"))

    def claim(self, path: str) -> int:
        """How specifically this dialect claims ``path`` (0: not at all); the most specific
        claim answers a request no route matched (``/api/default.aspx`` is ReadyDesk's, not
        Clientexec's, though it is under Clientexec's ``/api``)."""
        return len(self.prefix) + 1 if self.claims(path) else 0

    def unrouted(self, request: web.Request, runtime: Runtime) -> web.Response:
        """A path or method under this dialect's prefix that none of its routes takes:
        the dialect's own "unknown call" answer, never the server's plain-text page."""
        ctx = context.current()
        exc = UnknownAction()
        ctx.dialect, ctx.failed = self.name, kind_of(exc)
        ctx.error = self.error_text(Inbound(), exc)
        runtime.metrics.error(self.name, "-", ctx.failed)
        return self.error(Inbound(fmt=self.format_for(request.query)), exc)

    def protocol_error(self, query: Mapping[str, str], status: int) -> web.Response:
        """A request aiohttp could not parse, answered in this dialect's shape."""
        inbound = Inbound(fmt=self.format_for(query))
        if status == 413:
            return self.error(inbound, PayloadTooLarge("Request body too large"))
        return self.error(inbound, InvalidInput("Malformed request", "body"))

    def error_text(self, inbound: Inbound, exc: GatewayError) -> str:
        """What a client is told: the text the action's ``options.errors`` or the mapping's
        ``settings.errors`` gives the error's code, else a backend refusal in the vendor's
        words, else the error's own message."""
        spec = self._actions.get(inbound.action.casefold())
        text = (spec.options.get("errors") or {}).get(exc.code) if spec else None
        if text is None:
            text = self._texts.get(exc.code)
        if text is None:
            return reword_refusal(spec, exc) if isinstance(exc, InvalidInput) else exc.message
        return fill_text(str(text), exc)

    def find_action(self, inbound: Inbound) -> ActionSpec:
        spec = self._actions.get(inbound.action.casefold())
        if spec is None:
            raise UnknownAction()
        return spec

    def refuse_lost_params(self, inbound: Inbound, spec: ActionSpec) -> None:
        params = inbound.params
        # (the usual request, told in C: none of these parameters and no bracketed key)
        if spec.unsupported.keys().isdisjoint(params) and "[" not in "".join(params):
            return
        # (the `name[...]` keys looked for only when some key has a bracket: most requests have none)
        bracketed = [k for k in params if "[" in k]
        for param, message in spec.unsupported.items():
            value = params.get(param)
            if value not in (None, "", [], {}) or (bracketed and any(k.startswith(param + "[") for k in bracketed)):
                raise Unsupported(str(message), reason="lost_parameter", parameter=param)

    async def handle(self, request: web.Request, route: Route, runtime: Runtime) -> web.Response:
        """Serve one request through the shared pipeline (:func:`gateway.pipeline.respond`)."""
        inbound = Inbound(action=route.action or "")
        ctx = context.current()
        ctx.dialect = self.name
        principal: list[Principal] = []
        failed: list[GatewayError] = []

        async def authenticate() -> None:
            await self.read(request, route, inbound)
            ctx.secrets.extend(presented_secrets(inbound.params, {}))
            ctx.secrets.extend(v for v in inbound.credential.values() if v)
            ctx.requested = inbound.action[:64]
            principal.append(self.authenticate(request, inbound, runtime.credentials))
            ctx.credential = principal[0].identifier

        def admit(spec: ActionSpec) -> None:
            ctx.action = spec.name
            who = principal[0]
            # the peer address only when the credential is bound to networks (it costs a look-up)
            authorize(who, spec.name, spec.operation, request.remote if who.networks is not None else None)
            runtime.limiter.check(who.identifier)

        def on_error(exc: GatewayError) -> None:
            # the log carries what the client was told, in its dialect's words
            ctx.failed, ctx.error = kind_of(exc), self.error_text(inbound, exc)
            if isinstance(exc, UnknownAction) and is_billing_action(inbound.action):
                ctx.hint = BILLING_HINT
            runtime.metrics.error(self.name, ctx.action or "-", ctx.failed)
            failed.append(exc)

        try:
            response = await pipeline.respond(
                self, runtime.service, inbound, authenticate=authenticate, admit=admit, on_error=on_error
            )
        except Exception:
            ctx.failed, ctx.error = "internal", "Internal gateway error"
            log.exception("unhandled error in %s %s (request %s)", self.name, inbound.action, ctx.request_id)
            runtime.metrics.error(self.name, ctx.action or "-", ctx.failed)
            return self.error(inbound, InternalError(f"Internal gateway error (request id {ctx.request_id})"))
        exc = failed[0] if failed else None
        if isinstance(exc, PayloadTooLarge) or (isinstance(exc, InvalidInput) and exc.field == "body"):
            response.force_close()  # do not read on through an upload we refused
        return response


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def fill_text(text: str, exc: GatewayError) -> str:
    """A mapping's error text with ``{field}``, ``{kind}``, ``{grant}``... from the error's details."""
    if "{" not in text:
        return text
    values = _Blank(exc.details)
    values.setdefault("message", exc.message)
    try:
        return text.format_map(values)
    except (ValueError, IndexError, AttributeError):
        return text  # the loader checks placeholders; a text it let through is shown as written


# INTERFACE's error table for the dialects that speak HTTP statuses (Keliweb, Clientexec)
REST_STATUS: tuple[tuple[type[GatewayError], int], ...] = (
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


def rest_status(exc: GatewayError) -> int:
    return next((code for cls, code in REST_STATUS if isinstance(exc, cls)), 500)


def retry_after(exc: GatewayError) -> dict[str, str]:
    """The ``Retry-After`` header a rate-limited answer carries."""
    return {"Retry-After": str(max(1, math.ceil(exc.retry_after)))} if isinstance(exc, RateLimited) else {}


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE)


def reword_refusal(spec: ActionSpec | None, exc: GatewayError) -> str:
    """A backend's refusal in the dialect's words.

    An action's ``options.refused`` maps a regular expression over the backend's
    message to the vendor's text (``This Email is already exists`` -> ``Duplicate Email
    Address``).  Only refusals that came from the backend (an InvalidInput naming no
    field) are reworded; what the gateway added after the backend's sentence (``(the
    customer was not created)``) stays.
    """
    if spec is None or not isinstance(exc, InvalidInput) or exc.field:
        return exc.message
    for pattern, text in (spec.options.get("refused") or {}).items():
        reworded, n = _pattern(str(pattern)).subn(str(text).replace("\\", "\\\\"), exc.message, count=1)
        if n:
            return reworded
    return exc.message


# ------------------------------------------------------------ request helpers


async def read_form(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """Query string and body merged (body wins), form/multipart/JSON, PHP brackets kept as keys."""
    params: dict[str, Any] = {}
    if request.query_string:  # (an empty one is not parsed at all)
        _merge_multi(params, request.query)
    if request.method in ("POST", "PUT", "PATCH") and request.can_read_body:
        ctype = request.content_type
        length = request.content_length
        if length is not None and length > max_bytes:
            raise PayloadTooLarge("Request body too large")
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        try:
            if encoding not in ("", "identity"):
                params.update(await _read_encoded(request, ctype, encoding, max_bytes))
            elif ctype == "application/json":
                params.update(_json_params(await _read_limited(request, max_bytes)))
            elif ctype == "application/x-www-form-urlencoded":
                _merge_form(params, await request.post())
            elif ctype in ("multipart/form-data", ""):
                _merge_multi(params, await request.post())
            else:
                await _read_limited(request, max_bytes)
        except web.HTTPRequestEntityTooLarge:
            raise PayloadTooLarge("Request body too large") from None
        except _MALFORMED as exc:
            # nothing more will be read: the connection closes after the error answer
            request.content.feed_eof()
            raise InvalidInput(f"Malformed request body ({type(exc).__name__})", "body") from None
    return params


# what a body that is not what its headers say raises on the way in: a bad charset,
# a broken compression or multipart header, a truncated upload
_MALFORMED: tuple[type[BaseException], ...] = (
    ValueError,
    UnicodeDecodeError,
    AssertionError,
    LookupError,
    HttpProcessingError,
    RequestPayloadError,
)


def _merge_multi(params: dict[str, Any], multi: MultiDictProxy[Any] | Mapping[str, Any]) -> None:
    lists: dict[str, list[str]] = {}
    for key, value in multi.items():
        text = value if isinstance(value, str) else getattr(value, "filename", "") or "file"
        if key.endswith("[]"):
            # every value of a PHP list key, in order (this source's replace another's)
            found = lists.get(key)
            if found is None:
                found = lists[key] = params[key] = []
            found.append(text)
        else:
            params[key] = text  # a repeated plain key: the last wins, as PHP does


def _merge_form(params: dict[str, Any], form: MultiDictProxy[Any]) -> None:
    """``_merge_multi`` for a url-encoded body (text values only): a dict of its pairs keeps the
    last of a repeated plain key already; only PHP list keys need the slow way."""
    if _has_list_key(tuple(form.keys())):
        _merge_multi(params, form)
    else:
        params.update(form.items())


@lru_cache(maxsize=256)  # clients send the same names request after request
def _has_list_key(names: tuple[str, ...]) -> bool:
    return any(name.endswith("[]") for name in names)


async def _read_encoded(request: web.Request, ctype: str, encoding: str, max_bytes: int) -> dict[str, Any]:
    """A compressed body (the server does not decompress: a bomb or garbage is ours to refuse)."""
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise InvalidInput(f"Unsupported Content-Encoding: {encoding[:20]}", "body")
    raw = await _read_limited(request, max_bytes)
    # gzip and zlib headers are detected (32); a bare deflate stream is tried next (-15)
    try:
        inflater = zlib.decompressobj(47 if encoding != "deflate" else 15 + 32)
        data = inflater.decompress(raw, max_bytes + 1)
    except zlib.error:
        try:
            inflater = zlib.decompressobj(-15)
            data = inflater.decompress(raw, max_bytes + 1)
        except zlib.error:
            raise InvalidInput(f"Malformed request body (not valid {encoding})", "body") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLarge("Request body too large")
    if ctype == "application/json":
        return _json_params(data)
    if ctype in ("application/x-www-form-urlencoded", ""):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("Malformed request body (not UTF-8)", "body") from None
        return dict(parse_qsl(text, keep_blank_values=True))
    raise InvalidInput("A compressed body must be form-encoded or JSON", "body")


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
        out[str(key)] = "" if item is None else (("1" if item else "0") if isinstance(item, bool) else str(item))
    return out


Handler = Callable[[web.Request], Any]
