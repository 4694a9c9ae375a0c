"""Requests to the PMP module and what its answers mean.

* ``404`` means many things; only the message tells them apart.  A missing or
  wrong token (401, or 2.x's 404 ``Token is not defined.``) is an
  authentication failure of the gateway, never "not found"; ``No data were
  found`` is an empty list or a missing record; a ``status: false`` answer to a
  write is the module's validation message, passed on (without markup) as
  invalid input, and 3.x's 422 envelope names the field.
* 403 (3.x) is a permission the token lacks: "cannot carry out", naming it.
* 5xx, HTML pages, non-JSON or truncated bodies and JSON of the wrong shape mean
  the backend is unavailable.  Reads are retried on connection errors and HTTP
  429/502/503/504 with capped, jittered exponential backoff (honouring
  ``Retry-After`` and 3.x's ``X-RateLimit-Reset``) inside the request's
  deadline.  Writes are retried only on 429 (the module refused them unread).
* POSTs are form data (the module reads ``$_POST``); PUTs are JSON.
* 3.x lists answer a ``{data, meta}`` envelope when paging is asked for.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from gateway.backends import http
from gateway.backends.pmp.transport import Transport, open_stream
from gateway.errors import (
    BackendAuthError,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    GatewayError,
    InvalidInput,
    NotFound,
    Unsupported,
)

log = logging.getLogger(__name__)

AUTH_MESSAGE = "The backend refused the gateway's credentials"
UNAVAILABLE = "The backend is unavailable"
_TOKEN_FAILURE = re.compile(r"\btoken\b.*\b(not defined|invalid|expired|missing|required)\b", re.I)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_CUSTOM_TABLE = re.compile(r"api/thirdparty/customtable/([A-Za-z0-9_]+)")

Row = dict[str, Any]
T = TypeVar("T")


class _Pending:
    """A read memo's value for an answer that was answered without its record (``read_memo``'s
    ``fast``): the record is made when the same bytes come again."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PENDING"


PENDING: Any = _Pending()


# ---------------------------------------------------------------- answers


@dataclass(frozen=True)
class Refused:
    """A ``status: false`` answer (not an authentication failure)."""

    status: int
    message: str


class WriteRefused(InvalidInput):
    """The backend refused a write; ``raw`` is its message as sent."""

    def __init__(self, status: int, raw: str, field: str = "") -> None:
        super().__init__(clean(raw) or "The backend refused the change", field)
        self.status = status
        self.raw = raw


class Unsettled(BackendError):
    """A write got no answer; ``sent``: the request may have reached the backend;
    ``timeout``: the gateway's own deadline ran out (nothing dropped)."""

    def __init__(self, detail: str, *, sent: bool, timeout: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.sent = sent
        self.timeout = timeout


class NoGrant(Unsupported):
    """403: the token lacks a permission (``grant`` names what the administrator must add)."""

    def __init__(self, grant: str) -> None:
        super().__init__(
            f"The backend cannot carry this out: the gateway's API token lacks the permission for {grant}; "
            f"an administrator must grant it in Perfex's API module"
        )
        self.grant = grant


def grant_for(method: str, path: str) -> str:
    """The permission an administrator must add for a request, in Perfex's terms."""
    table = _CUSTOM_TABLE.search(path)
    access = "read" if method == "GET" else "write"
    if table:
        return f"the custom table {table.group(1)} ({access} grant; the table must be on the allowlist)"
    resource = path.split("?")[0].split("/")
    name = resource[2] if len(resource) > 2 and resource[1] == "delete" else (resource[1] if len(resource) > 1 else "")
    return f"{name or 'this resource'} ({access})"


def clean(message: Any) -> str:
    """A backend message fit for a client: no markup, one line, bounded."""
    text = html.unescape(_TAG.sub(" ", str(message or "")))
    return _SPACE.sub(" ", text).strip()[:300]


def plain(value: Any) -> str:
    """Text compared as the backend may have stored it (tags stripped, <br /> added, trimmed)."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", "" if value is None else str(value)))).strip()


def same(stored: Any, wanted: Any) -> bool:
    a = "" if stored is None else str(stored).strip()
    b = "" if wanted is None else str(wanted).strip()
    if a == b:
        return True
    if re.fullmatch(r"-?\d+", a or "0") and re.fullmatch(r"-?\d+", b or "0"):
        return int(a or 0) == int(b or 0)
    return plain(a) == plain(b)


def to_int(value: Any) -> int:
    try:
        return int(str(value).strip()) if value not in (None, "") else 0
    except ValueError:
        return 0


def unavailable(detail: str) -> BackendUnavailable:
    return BackendUnavailable(f"{UNAVAILABLE} ({detail})")


def with_message(exc: GatewayError, message: str) -> GatewayError:
    """The same error (class and attributes) with another message."""
    out = type(exc).__new__(type(exc))
    out.__dict__.update(exc.__dict__)
    out.message = message
    out.args = (message,)
    return out


_NOT_JSON = object()
_JSON_STARTS = frozenset((b"{", b"["))


def parse_json(body: bytes) -> Any:
    if body[:1] in _JSON_STARTS:
        # the usual answer, decoded as it is (orjson skips JSON's own whitespace around it): no
        # copies of the body to strip it; anything orjson refuses takes the careful way below
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return parse_stripped(body)


def parse_stripped(body: bytes) -> Any:
    """The body's JSON after a byte-order mark and surrounding ASCII whitespace; _NOT_JSON if none."""
    text = body.lstrip(b"\xef\xbb\xbf").strip()
    if not text:
        return _NOT_JSON
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in ("false", "0"))


def token_failure(data: Mapping[str, Any]) -> bool:
    """A ``status: false`` answer that is about the token (2.x answers 404 for a bad token)."""
    return is_false(data.get("status")) and bool(_TOKEN_FAILURE.search(str(data.get("message") or "")))


def rate_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds a 429 asks to wait: ``Retry-After``, else 3.x's ``X-RateLimit-Reset`` (Unix time)."""
    asked = http.retry_after(headers)
    if asked is not None:
        return asked
    reset = headers.get("X-RateLimit-Reset") or headers.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset.strip()) - time.time())
    return None


def field_errors(data: Any) -> tuple[str, str] | None:
    """The first field and reason of 3.x's 422 validation envelope."""
    if not isinstance(data, dict) or not isinstance(data.get("errors"), dict) or not data["errors"]:
        return None
    name, reason = next(iter(data["errors"].items()))
    if isinstance(reason, list):
        reason = "; ".join(str(r) for r in reason)
    return str(name), clean(reason)


# ---------------------------------------------------------------- the wire


class Wire:
    """The module's HTTP conversation: one place for URLs, retries and answer interpretation."""

    def __init__(
        self,
        base_url: str,
        token: str,
        transport: Transport,
        *,
        attempts: int = 3,
        backoff: float = 0.2,
        backoff_cap: float = 2.0,
        memo_size: int = 1024,
    ) -> None:
        self.base = base_url if base_url.endswith("/") else base_url + "/"
        self._headers = {"authtoken": token, "Accept": "application/json"}
        self.transport = transport
        self.attempts = max(1, attempts)
        self._backoff = backoff
        self._backoff_cap = backoff_cap
        # path -> (the body last answered, what it converted to); see read_memo
        # (a plain ordered dict: cachetools' LRUCache costs several Python calls a look-up)
        self.memo: OrderedDict[str, tuple[bytes, Any]] = OrderedDict()
        self._memo_size = max(1, memo_size)

    async def exchange(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        body: Any = None,
        reserve: float = 0.0,
        headers: Mapping[str, str] | None = None,
    ) -> http.Reply:
        sent_headers = {**self._headers, **headers} if headers else self._headers
        reply = await self.transport(
            method, self.base + path, headers=sent_headers, form=form, json=body, timeout=http.remaining(reserve)
        )
        if log.isEnabledFor(logging.DEBUG):  # (one call, not two, when debug is off)
            log.debug("pmp %s %s -> %s", method, path, reply.status)
        return reply

    # ------------------------------------------------------------ reads

    async def read(self, path: str) -> Any:
        """GET with retries; the JSON answer, or a Refused for a ``status: false`` one."""
        return self.interpret(await self.fetch(path), "GET", path)

    async def read_memo(
        self, path: str, convert: Callable[[Any], T], fast: Callable[[Any], Any] | None = None
    ) -> T | Any:
        """A read whose conversion is reused while the backend answers the very same bytes.

        Polling clients read mostly unchanged records: comparing the body (a memcmp) is far
        cheaper than decoding and mapping it again.  Canonical records are immutable.

        ``fast``: a new answer's data is first offered to it (a fused translation, see
        ``gateway.mapping.fuse``); what it gives, if not None, is the answer, and the record is
        made only if the same bytes come again (the memo notes them as ``PENDING``)."""
        # (fetch's first attempt spelled out: one coroutine layer fewer on every record read)
        url = self.base + path
        try:
            reply = await self.transport("GET", url, headers=self._headers, timeout=http.remaining())
        except http.TransportError as exc:
            reply = await self._again(path, url, exc)
        else:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("pmp GET %s -> %s", path, reply.status)
            if reply.status in http.RETRYABLE_STATUS:
                reply = await self._again(path, url, reply)
        if reply.status != 200:
            return convert(self.interpret(reply, "GET", path))
        body, memo = reply.body, self.memo
        hit = memo.get(path)
        out: Any = None
        if hit is not None and hit[0] == body:
            if hit[1] is not PENDING:
                memo.move_to_end(path)  # least recently used first
                return hit[1]
            value = convert(self.interpret(reply, "GET", path))  # (a new answer seen again: its record now)
        else:
            data = self.interpret(reply, "GET", path)
            out = fast(data) if fast is not None else None
            value = PENDING if out is not None else convert(data)
        memo[path] = (body, value)
        memo.move_to_end(path)
        if len(memo) > self._memo_size:
            memo.popitem(last=False)
        return value if out is None else out

    async def fetch(self, path: str) -> http.Reply:
        """GET with retries on connection errors and 429/502/503/504, within the deadline."""
        url = self.base + path
        try:
            # (exchange's call inlined: one coroutine layer fewer on every read)
            reply = await self.transport("GET", url, headers=self._headers, timeout=http.remaining())
        except http.TransportError as exc:
            return await self._again(path, url, exc)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("pmp GET %s -> %s", path, reply.status)
        if reply.status in http.RETRYABLE_STATUS:
            return await self._again(path, url, reply)
        return reply

    async def _again(self, path: str, url: str, failed: http.Reply | http.TransportError) -> http.Reply:
        """A GET's further attempts after one that ``failed`` (a connection error or a 429/502/503/504):
        paced, within the deadline, at most ``attempts`` in all (a rate limit that says when it
        lifts is waited for as long as the deadline allows); the last retryable answer is answered."""
        tries = 0
        while True:
            tries += 1
            if isinstance(failed, http.TransportError):
                if not (tries < self.attempts and await http.pause(self._backoff_for(tries))):
                    if failed.timeout:
                        raise BackendTimeout(http.TIMEOUT_MESSAGE) from None
                    raise unavailable(failed.detail) from None
            else:
                status = failed.status
                asked = rate_wait(failed.headers) if status == 429 else http.retry_after(failed.headers)
                wait = asked if asked is not None else self._backoff_for(tries)
                if not ((tries < self.attempts or (status == 429 and asked is not None)) and await http.pause(wait)):
                    return failed
            try:
                reply = await self.transport("GET", url, headers=self._headers, timeout=http.remaining())
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("pmp GET %s -> %s", path, reply.status)
            except http.TransportError as exc:
                failed = exc
                continue
            if reply.status not in http.RETRYABLE_STATUS:
                return reply
            failed = reply

    def _backoff_for(self, tries: int) -> float:
        return http.backoff(tries - 1, self._backoff, self._backoff_cap)

    def backoff_for(self, tries: int) -> float:
        """The pause before attempt ``tries + 1`` of a read (for reads retried outside :meth:`fetch`)."""
        return self._backoff_for(tries)

    def stream(self, path: str) -> AbstractAsyncContextManager[http.StreamReply]:
        """One GET of ``path`` whose body is read in parts inside the ``async with`` (large listings);
        no retry here: the caller retries, since it may have consumed part of the body."""
        return open_stream(self.transport, "GET", self.base + path, headers=self._headers, timeout=http.remaining())

    def interpret(self, reply: http.Reply, method: str = "GET", path: str = "") -> Any:
        # (parse_json and is_false spelled out for the usual answer: two calls fewer on every read)
        body = reply.body
        if body[:1] in _JSON_STARTS:
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                data = parse_stripped(body)
        else:
            data = parse_stripped(body)
        # the usual answer, a 2xx record or list, told at once (what _refusal would find too: its
        # checks are about other statuses, or about dicts whose status is false); a status that is
        # None, true or digits other than "0" (a ticket row's status id: digits have no case and
        # no spaces) is not false without is_false's strip and lower
        if 200 <= reply.status < 300:
            kind = type(data)
            if kind is list or (
                kind is dict
                and (
                    (status := data.get("status")) is None
                    or status is True
                    or (type(status) is str and status.isdigit() and status != "0")
                    or not is_false(status)
                )
            ):
                return data
        return self._refusal(reply, data, method, path)

    def _refusal(self, reply: http.Reply, data: Any, method: str, path: str) -> Any:
        """What an answer other than a 2xx record or list means (an error raised, or a Refused)."""
        if reply.status == 401:
            raise BackendAuthError(AUTH_MESSAGE)
        if isinstance(data, dict) and token_failure(data):
            raise BackendAuthError(AUTH_MESSAGE)
        if reply.status == 403:
            raise NoGrant(grant_for(method, path))
        if reply.status == 429:
            raise unavailable("rate limited")
        if reply.status >= 500:
            raise unavailable(f"HTTP {reply.status}")
        if 300 <= reply.status < 400:
            raise unavailable(f"HTTP {reply.status} redirect: check the backend URL")
        if data is _NOT_JSON:
            raise unavailable(f"HTTP {reply.status}, the answer is not JSON")
        if 200 <= reply.status < 300 and not (isinstance(data, dict) and is_false(data.get("status"))):
            return data
        if reply.status in (400, 422) and method != "GET":
            found = field_errors(data)
            if found is not None:
                raise WriteRefused(reply.status, f"{found[0]}: {found[1]}", found[0])
        if isinstance(data, dict) and is_false(data.get("status")):
            return Refused(reply.status, str(data.get("message") or ""))
        raise unavailable(f"unexpected HTTP {reply.status}")

    async def rows(self, path: str) -> list[Row]:
        """A list route: its rows, [] for ``No data were found``."""
        return rows_of(await self.read(path))

    async def row(self, path: str, kind: str, missing: str, id_key: str) -> Row:
        """A single-record route: its row, NotFound for a 404."""
        return row_of(await self.read(path), kind, missing, id_key)

    async def exists(self, path: str) -> bool:
        data = await self.read(path)
        if isinstance(data, Refused):
            if data.status == 404:
                return False
            raise unavailable(f"HTTP {data.status}")
        return True

    # ------------------------------------------------------------ writes

    async def write(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        body: Any = None,
        reserve: float = 0.0,
        headers: Mapping[str, str] | None = None,
    ) -> Row:
        """One write: the answer, WriteRefused, or Unsettled when its outcome is open.

        Only a 429 is retried: the module refused the request before reading it."""
        while True:
            try:
                reply = await self.exchange(method, path, form=form, body=body, reserve=reserve, headers=headers)
            except http.TransportError as exc:
                raise Unsettled(exc.detail, sent=exc.sent, timeout=exc.timeout) from None
            if reply.status == 429:
                wait = rate_wait(reply.headers)
                if await http.pause(wait if wait is not None else self._backoff):
                    continue
            break
        if reply.status >= 500:
            # a proxy's 502/504 or a PHP error after the insert: the write may have happened
            raise Unsettled(f"HTTP {reply.status}", sent=True, timeout=False)
        answer = self.interpret(reply, method, path)
        if isinstance(answer, Refused):
            raise WriteRefused(answer.status, answer.message)
        if not isinstance(answer, dict):
            raise unavailable("the answer to a write has the wrong shape")
        return answer


def rows_of(data: Any) -> list[Row]:
    if isinstance(data, Refused):
        if data.status == 404:
            return []
        raise unavailable(f"HTTP {data.status}")
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]  # 3.x's paging envelope
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise unavailable("a list answer has the wrong shape")
    return data


def row_of(data: Any, kind: str, missing: str, id_key: str) -> Row:
    if isinstance(data, Refused):
        if data.status == 404:
            raise NotFound(kind, missing)
        raise unavailable(f"HTTP {data.status}")
    if isinstance(data, dict) and isinstance(data.get("data"), (dict, list)) and id_key not in data:
        data = data["data"]
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict) or id_key not in data:
        raise unavailable(f"the {kind} answer has the wrong shape")
    return data
