"""The WHMCS External API on the wire: one ``POST includes/api.php`` per action.

Every call carries ``action``, the API credential (``identifier``/``secret``),
``responsetype=json`` and, when configured, the ``accesskey`` that lets the
gateway past WHMCS's IP allow-list.  WHMCS answers HTTP 200 with
``{"result": "error", "message": ...}`` for almost every refusal (403 for
authentication, the IP allow-list and API-role permissions), so the message
tells the refusals apart (the patterns are in ``mappings/whmcs/backend.yaml``):

* ``Authentication Failed``       -> BackendAuthError (the gateway's credential)
* ``Invalid IP <address>``        -> BackendAddressRefused, saying exactly that and the fix
* ``Invalid Permissions: ...``    -> Unsupported naming the action the API role lacks
* ``Command Not Found``           -> Unsupported (the installation has no such action)
* ``<Kind> ID Not Found``         -> NotFound(kind)
* anything else                   -> InvalidInput with WHMCS's own message

Reads are retried on connection errors and HTTP 429/502/503/504 within the
request's deadline; an answer WHMCS could not encode as JSON (``Error
generating JSON encoded response``, or a body that is not JSON) is asked again
as XML.  Writes are sent once: :class:`Unsettled` says that their outcome is
open and the adapter settles it by reading (see the package docstring).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import orjson

from gateway.backends import http
from gateway.errors import (
    BackendAddressRefused,
    BackendAuthError,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    GatewayError,
    InvalidInput,
    NotFound,
    RateLimited,
    Unsupported,
)

log = logging.getLogger(__name__)

Answer = dict[str, Any]
AUTH_MESSAGE = "The backend (WHMCS) refused the gateway's API credential (Authentication Failed)"
UNAVAILABLE = "The backend is unavailable"


class Unsettled(BackendError):
    """A write got no usable answer: ``sent`` False means it cannot have reached WHMCS."""

    def __init__(self, detail: str, *, sent: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.sent = sent


class _NeedsXml(Exception):
    """WHMCS could not encode its answer as JSON."""


def unavailable(detail: str) -> BackendUnavailable:
    return BackendUnavailable(f"{UNAVAILABLE} ({detail})")


@dataclass(frozen=True)
class Knobs:
    """The adapter's settings (``settings.backend`` of the WHMCS mappings)."""

    api_path: str = "includes/api.php"
    json_failure: str = "Error generating JSON encoded response"
    xml_lists: Mapping[str, str] | None = None
    errors: Mapping[str, Any] | None = None
    attempts: int = 3
    backoff: float = 0.2
    backoff_cap: float = 2.0

    @classmethod
    def from_settings(cls, s: Mapping[str, Any], retries: int | None) -> Knobs:
        attempts = retries + 1 if retries is not None else int(s.get("read_attempts", 3))
        return cls(
            api_path=str(s.get("api_path", "includes/api.php")),
            json_failure=str(s.get("json_failure", cls.json_failure)),
            xml_lists=dict(s.get("xml_lists") or {}),
            errors=dict(s.get("errors") or {}),
            attempts=max(1, attempts),
            backoff=float(s.get("retry_backoff_seconds", 0.2)),
            backoff_cap=float(s.get("retry_backoff_max_seconds", 2.0)),
        )


class WhmcsApi:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        root_url: str,
        token: str,
        knobs: Knobs,
        *,
        accesskey: str | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        identifier, _, secret = token.partition(":")
        self._session = session
        self._url = (root_url if root_url.endswith("/") else root_url + "/") + knobs.api_path
        self._auth = {"identifier": identifier, "secret": secret}
        if accesskey:
            self._auth["accesskey"] = accesskey
        self._knobs = knobs
        self._connect_timeout = connect_timeout
        errors = knobs.errors or {}
        self._patterns = {k: re.compile(str(v), re.I) for k, v in errors.items() if isinstance(v, str)}
        self._not_found = {k: re.compile(str(v), re.I) for k, v in (errors.get("not_found") or {}).items()}
        #: the actions WHMCS refused with "Invalid Permissions" (the API role lacks them)
        self.denied: set[str] = set()

    def __repr__(self) -> str:  # never shows the credential
        return f"WhmcsApi({self._url!r})"

    # ------------------------------------------------------------ calls

    async def read(self, action: str, params: Mapping[str, Any] | None = None) -> Answer:
        """A read: retried within the deadline; XML when WHMCS cannot encode JSON."""
        try:
            return await self._read(action, params, "json")
        except _NeedsXml:
            log.info("whmcs %s: the JSON answer failed on the WHMCS side; asking for XML", action)
            try:
                return await self._read(action, params, "xml")
            except _NeedsXml:
                raise unavailable("the answer could not be read as JSON or XML") from None

    async def write(self, action: str, params: Mapping[str, Any], *, reserve: float = 0.0) -> Answer:
        """A write, sent once; Unsettled when the outcome is open, the refusal when WHMCS refused."""
        try:
            reply = await self._post(action, params, "json", reserve)
        except http.TransportError as exc:
            raise Unsettled(exc.detail, sent=exc.sent) from None
        if reply.status >= 500:
            # a proxy's 502/504 or a PHP error after the insert: the write may have happened
            raise Unsettled(f"HTTP {reply.status}", sent=True)
        try:
            return self._answer(action, reply)
        except _NeedsXml:
            # WHMCS did the work and then failed to encode the answer: never send it again
            raise Unsettled("WHMCS could not encode its answer", sent=True) from None
        except BackendUnavailable as exc:
            if reply.status == 200:
                raise Unsettled(exc.message, sent=True) from None
            raise

    async def _read(self, action: str, params: Mapping[str, Any] | None, fmt: str) -> Answer:
        tries = 0
        while True:
            try:
                reply = await self._post(action, params, fmt, 0.0)
            except http.TransportError as exc:
                tries += 1
                if tries < self._knobs.attempts and await http.pause(self._wait(tries)):
                    continue
                if exc.timeout:
                    raise BackendTimeout(http.TIMEOUT_MESSAGE) from None
                raise unavailable(exc.detail) from None
            if reply.status in http.RETRYABLE_STATUS:
                tries += 1
                asked = http.retry_after(reply.headers)
                if tries < self._knobs.attempts and await http.pause(asked if asked is not None else self._wait(tries)):
                    continue
            return self._answer(action, reply)

    def _wait(self, tries: int) -> float:
        return http.backoff(tries - 1, self._knobs.backoff, self._knobs.backoff_cap)

    async def _post(self, action: str, params: Mapping[str, Any] | None, fmt: str, reserve: float) -> http.Reply:
        fields: list[tuple[str, str]] = [("action", action), *self._auth.items(), ("responsetype", fmt)]
        fields += [(k, _text(v)) for k, v in (params or {}).items() if v is not None]
        reply = await http.attempt(
            self._session,
            "POST",
            self._url,
            headers=_FORM_HEADERS,
            connect_timeout=self._connect_timeout,
            reserve=reserve,
            data=form_body(fields),
        )
        log.debug("whmcs %s -> %s", action, reply.status)
        return reply

    # ------------------------------------------------------------ answers

    def _answer(self, action: str, reply: http.Reply) -> Answer:
        if reply.status == 429:
            wait = http.retry_after(reply.headers) or 1.0
            raise RateLimited("The backend (WHMCS) is rate limiting the gateway", wait)
        if reply.status >= 500:
            raise unavailable(f"HTTP {reply.status}")
        if 300 <= reply.status < 400:
            raise unavailable(f"HTTP {reply.status} redirect: check the backend URL")
        data = self._decode(reply.body)
        if data is None:
            if reply.status in (401, 403):
                raise BackendAuthError(AUTH_MESSAGE)
            if reply.status == 200 and reply.body.strip()[:1] not in (b"<",):
                raise _NeedsXml()  # an empty or broken body: the JSON encoder failed
            raise unavailable(f"HTTP {reply.status}, the answer is not a WHMCS answer")
        result = str(data.get("result", data.get("status", ""))).lower()
        if result == "success":
            return data
        message = str(data.get("message") or "").strip()
        if message.startswith(self._knobs.json_failure):
            raise _NeedsXml()
        if result == "error" or message:
            raise self.refusal(action, message, reply.status)
        if reply.status in (401, 403):
            raise BackendAuthError(AUTH_MESSAGE)
        raise unavailable(f"HTTP {reply.status}, an answer with no result")

    def _decode(self, body: bytes) -> Answer | None:
        text = body.lstrip(b"\xef\xbb\xbf").strip()
        if not text:
            return None
        if text[:1] == b"{":
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                return None
            return value if isinstance(value, dict) else None
        if text[:1] == b"<":
            return xml_answer(text, self._knobs.xml_lists or {})
        return nvp_answer(text)

    def refusal(self, action: str, message: str, status: int) -> GatewayError:
        """WHMCS's ``result=error`` as the gateway's error (see the module docstring)."""
        p = self._patterns
        shown = _clean(message) or f"WHMCS refused {action}"
        if _hit(p.get("auth"), message):
            return BackendAuthError(AUTH_MESSAGE)
        if _hit(p.get("ip"), message):
            return BackendAddressRefused(
                f"The backend (WHMCS) answered {shown!r}: add the gateway's address to WHMCS's API IP "
                f"allow-list, or set backend.accesskey"
            )
        if _hit(p.get("permission"), message):
            self.denied.add(action.lower())
            return Unsupported(
                f"The backend's WHMCS API role does not allow the action {action}: grant {action} to the "
                f"role of the gateway's API credential (Setup > Staff Management > Manage API Credentials)"
            )
        if _hit(p.get("unknown_action"), message):
            return Unsupported(f"The backend (WHMCS) has no API action {action}")
        for kind, pattern in self._not_found.items():
            if pattern.search(message):
                return NotFound(kind, shown)
        if status in (401, 403):
            return BackendAuthError(AUTH_MESSAGE)
        return InvalidInput(shown)


_FORM_HEADERS = {"Accept": "application/json, application/xml", "Content-Type": "application/x-www-form-urlencoded"}
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")  # what quote_plus leaves as it is


def form_body(fields: Iterable[tuple[str, str]]) -> bytes:
    """The urlencoded body aiohttp's FormData would send (UTF-8, ``quote_plus``), without its
    per-field bookkeeping: every backend call posts one, and most values need no quoting."""
    return "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in fields).encode("ascii")


def _quoted(text: str) -> str:
    return text if _UNRESERVED.fullmatch(text) else quote_plus(text)


def _hit(pattern: re.Pattern[str] | None, message: str) -> bool:
    return pattern is not None and pattern.search(message) is not None


_SPACE = re.compile(r"\s+")


def _clean(message: str) -> str:
    return _SPACE.sub(" ", re.sub(r"<[^>]*>", " ", message)).strip()[:300]


def _text(value: Any) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    return str(value)


# ---------------------------------------------------------------- other formats


def xml_answer(body: bytes, lists: Mapping[str, str]) -> Answer | None:
    """``<whmcsapi>`` as the JSON WHMCS would have sent (every value a string: XML has no types).

    A container listed in ``lists`` (``replies`` -> ``reply``) becomes ``{"reply": [...]}`` even
    with one item, since XML cannot tell a one-item list from a single child."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if root.tag != "whmcsapi":
        return None
    out = _element(root, lists)
    if not isinstance(out, dict):
        return None
    out.pop("action", None)
    return out


def _element(node: ET.Element, lists: Mapping[str, str]) -> Any:
    children = list(node)
    if not children:
        return node.text or ""
    item = lists.get(node.tag)
    if item is not None:
        return {item: [_element(c, lists) for c in children if c.tag == item]}
    out: dict[str, Any] = {}
    for child in children:
        value = _element(child, lists)
        if child.tag in out:
            previous = out[child.tag]
            out[child.tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[child.tag] = value
    return out


def nvp_answer(body: bytes) -> Answer | None:
    """The legacy ``key=value;`` answer (some errors come this way whatever was asked)."""
    text = body.decode("utf-8", "replace")
    if "=" not in text:
        return None
    out: dict[str, Any] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = value
    return out if "result" in out else None
