"""Deadline-aware HTTP plumbing a backend adapter shares: one attempt, its timeout, retry pacing.

Every call of a client request fits inside that request's deadline
(:mod:`gateway.context`): the timeout of an attempt is what is left of it,
counted and timed in the request context.  :func:`attempt` performs one HTTP
exchange and turns aiohttp's many failures into :class:`TransportError`, which
says whether the request can have reached the server (``sent``): a write whose
request was sent has an unknown outcome, one that was never sent wrote nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp

from gateway import context
from gateway.errors import BackendTimeout

TIMEOUT_MESSAGE = "The backend did not answer in time"
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportError(Exception):
    """No HTTP answer: ``sent`` False means the request cannot have reached the server."""

    def __init__(self, detail: str, *, sent: bool, timeout: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.sent = sent
        self.timeout = timeout


def remaining(reserve: float = 0.0) -> float:
    """Seconds left of the request's deadline, less ``reserve``; BackendTimeout when none."""
    left = context.current().deadline - time.monotonic() - reserve  # (RequestContext.remaining, inlined)
    if left <= 0:
        raise BackendTimeout(TIMEOUT_MESSAGE)
    return left


def deadline_timeout(connect_timeout: float, reserve: float = 0.0) -> aiohttp.ClientTimeout:
    left = remaining(reserve)
    return aiohttp.ClientTimeout(total=left, connect=min(connect_timeout, left))


def _timeout_for(total: float, connect_timeout: float) -> aiohttp.ClientTimeout:
    """``ClientTimeout(total, connect)`` with ``total`` cut to whole milliseconds, the objects
    shared (building one is an attrs class's frozen ``__init__`` on every backend call; aiohttp
    rounds timeouts above 5 s up to whole seconds anyway)."""
    ms = int(total * 1000)
    if ms <= 0:  # (0 would mean no timeout at all)
        return aiohttp.ClientTimeout(total=total, connect=min(connect_timeout, total))
    key = (ms, connect_timeout)
    found = _TIMEOUTS.get(key)
    if found is None:
        if len(_TIMEOUTS) >= 512:
            _TIMEOUTS.clear()
        left = ms / 1000
        found = _TIMEOUTS[key] = aiohttp.ClientTimeout(total=left, connect=min(connect_timeout, left))
    return found


_TIMEOUTS: dict[tuple[int, float], aiohttp.ClientTimeout] = {}


async def attempt(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    connect_timeout: float,
    reserve: float = 0.0,
    data: Any = None,
    json_body: Any = None,
    total: float | None = None,
) -> Reply:
    """One HTTP exchange within the deadline; never follows redirects (they would carry the token).

    ``total``: the seconds the caller already worked out from the deadline (else: what is left
    of it less ``reserve``)."""
    if total is None:
        timeout = deadline_timeout(connect_timeout, reserve)
    elif total <= 0:
        raise BackendTimeout(TIMEOUT_MESSAGE)
    else:
        timeout = _timeout_for(total, connect_timeout)
    ctx = context.current()
    ctx.backend_calls += 1
    started = time.monotonic()
    status = 0
    try:
        async with session.request(
            method,
            url,
            headers={**headers, "X-Request-ID": ctx.request_id},
            data=data,
            json=json_body,
            timeout=timeout,
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            status = resp.status
            # the response's own (read-only, case-insensitive) headers: no copy on every call
            return Reply(resp.status, resp.headers, body)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise transport_error(exc) from None
    finally:
        account(ctx, method, status, started)


def transport_error(exc: TimeoutError | aiohttp.ClientError) -> TransportError:
    """An aiohttp failure as the TransportError the adapters settle by: was the request sent, did it
    time out.  The order matters: a connection timeout is a TimeoutError, a connector error a
    ClientError."""
    name = type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportError(f"connection timed out ({name})", sent=False, timeout=True)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.InvalidURL):
        return TransportError(f"cannot connect ({name})", sent=False)
    if isinstance(exc, TimeoutError):
        return TransportError("no answer in time", sent=True, timeout=True)
    return TransportError(f"connection failed ({name})", sent=True)


def account(ctx: context.RequestContext, method: str, status: int, started: float) -> None:
    """A backend call's time on the request (access log, metrics)."""
    elapsed = time.monotonic() - started
    ctx.backend_seconds += elapsed
    if ctx.observe is not None:
        ctx.observe(method, status, elapsed)


class Body(Protocol):
    """An answer's body read in parts (aiohttp's ``StreamReader`` is one)."""

    async def read(self, n: int = -1) -> bytes: ...


@dataclass(frozen=True)
class StreamReply:
    """An answer whose body is still to be read, a part at a time (large listings)."""

    status: int
    headers: Mapping[str, str]
    body: Body


class WholeBody:
    """A body already read, served in parts: how a transport that cannot stream answers a stream."""

    def __init__(self, data: bytes) -> None:
        self._whole = data
        self._data = memoryview(data)
        self._at = 0

    async def read(self, n: int = -1) -> bytes:
        if self._at == 0 and (n < 0 or n >= len(self._data)) and type(self._whole) is bytes:
            # the whole body in one part (a list page's answer, read 64 KiB at a time): the
            # bytes themselves, not a copy of them (bytes are immutable)
            self._at = len(self._data)
            return self._whole
        end = len(self._data) if n < 0 else self._at + n
        out = bytes(self._data[self._at : end])
        self._at += len(out)
        return out


@contextlib.asynccontextmanager
async def streaming(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    connect_timeout: float,
    reserve: float = 0.0,
) -> AsyncIterator[StreamReply]:
    """:func:`attempt` whose body the caller reads inside the ``async with``, in parts; a failure while
    it reads is a TransportError too (the request was sent).  Left unread, the connection is closed."""
    timeout = deadline_timeout(connect_timeout, reserve)
    ctx = context.current()
    ctx.backend_calls += 1
    started = time.monotonic()
    status = 0
    try:
        async with session.request(
            method, url, headers={**headers, "X-Request-ID": ctx.request_id}, timeout=timeout, allow_redirects=False
        ) as resp:
            status = resp.status
            yield StreamReply(resp.status, dict(resp.headers), resp.content)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise transport_error(exc) from None
    finally:
        account(ctx, method, status, started)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff(attempt_no: int, base: float, cap: float) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0.0, min(cap, base * (2**attempt_no)))


async def pause(seconds: float) -> bool:
    """Sleep if the deadline leaves room for the sleep and another attempt; False otherwise."""
    if seconds >= context.current().remaining() - 0.05:
        return False
    await asyncio.sleep(seconds)
    return True
