"""How the PMP adapter's requests travel: an injected transport.

The adapter never talks to aiohttp itself.  It hands each exchange to a
:class:`Transport`, a callable in the manner of httpx's ``MockTransport``:
the server uses :class:`AiohttpTransport`; ``gateway translate``, the
benchmarks and tests plug in their own (a replay of fixed answers, a
:class:`RecordingTransport` around the real one) without subclassing the
adapter or touching its private methods.

Large listings (2.x answers a whole table) are read as a stream: a transport
may also offer :meth:`StreamingTransport.stream`, an exchange whose body the
caller reads in parts.  :func:`open_stream` uses it when the transport has it
and otherwise serves the whole answer in parts, so that an injected transport
with only ``__call__`` still carries every request.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from gateway.backends import http
from gateway.backends.keepalive import KeepAlive

Reply = http.Reply
StreamReply = http.StreamReply


class Transport(Protocol):
    async def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: float,
    ) -> Reply:
        """One HTTP exchange taking at most ``timeout`` seconds.

        Raises :class:`gateway.backends.http.TransportError` when no answer came
        (saying whether the request can have reached the server)."""
        ...


class StreamingTransport(Transport, Protocol):
    def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: float
    ) -> AbstractAsyncContextManager[StreamReply]:
        """One exchange whose body is read, in parts, inside the ``async with`` (at most ``timeout``
        seconds in all).  Raises TransportError like ``__call__``, also while the body is read."""
        ...


@contextlib.asynccontextmanager
async def open_stream(
    transport: Transport, method: str, url: str, *, headers: Mapping[str, str], timeout: float
) -> AsyncIterator[StreamReply]:
    """``transport.stream`` when it has one; else its whole answer, served in parts."""
    stream = getattr(transport, "stream", None)
    if stream is not None:
        async with stream(method, url, headers=headers, timeout=timeout) as reply:
            yield reply
        return
    whole = await transport(method, url, headers=headers, timeout=timeout)
    yield StreamReply(whole.status, whole.headers, http.WholeBody(whole.body))


class AiohttpTransport:
    """The real transport: one aiohttp exchange, never following redirects; with ``keepalive``, the
    GETs (plain and streamed) go over its kept-alive connections instead."""

    def __init__(
        self, session: aiohttp.ClientSession, connect_timeout: float = 5.0, keepalive: KeepAlive | None = None
    ) -> None:
        self._session = session
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive

    def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: float,
    ) -> Coroutine[Any, Any, Reply]:
        # the wire sized ``timeout`` from the request deadline (less a reserve); the attempt's
        # coroutine is handed back as it is (no coroutine layer of our own on every backend call)
        keepalive = self._keepalive
        if keepalive is not None and method == "GET" and form is None and json is None:
            where = keepalive.target(url)
            if where is not None:
                return keepalive.get(*where, headers=headers, timeout=timeout, connect_timeout=self._connect_timeout)

        def call() -> Coroutine[Any, Any, Reply]:
            return http.attempt(
                self._session,
                method,
                url,
                headers=headers,
                connect_timeout=self._connect_timeout,
                total=timeout,
                data=aiohttp.FormData(list(form.items()), charset="utf-8") if form is not None else None,
                json_body=json,
            )

        return call() if keepalive is None else keepalive.holding(call, timeout)

    def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: float
    ) -> AbstractAsyncContextManager[StreamReply]:
        keepalive = self._keepalive
        if keepalive is not None and method == "GET":
            where = keepalive.target(url)
            if where is not None:
                return keepalive.stream(*where, headers=headers, timeout=timeout, connect_timeout=self._connect_timeout)
        reserve = max(0.0, http.remaining() - timeout)
        opened = http.streaming(
            self._session, method, url, headers=headers, connect_timeout=self._connect_timeout, reserve=reserve
        )
        return opened if self._keepalive is None else _held(self._keepalive, opened, timeout)


@contextlib.asynccontextmanager
async def _held(
    keepalive: KeepAlive, opened: AbstractAsyncContextManager[StreamReply], timeout: float
) -> AsyncIterator[StreamReply]:
    """A streamed exchange in one of ``keepalive``'s slots (``backend.max_concurrency`` caps them all)."""
    await keepalive.acquire(timeout)
    try:
        async with opened as reply:
            yield reply
    finally:
        keepalive.release()


@dataclass
class Exchange:
    """One exchange as a RecordingTransport wrote it down."""

    method: str
    url: str
    headers: dict[str, str]
    form: dict[str, str] | None
    json: Any
    status: int = 0


@dataclass
class RecordingTransport:
    """Passes every exchange on to ``inner`` and writes it down (``gateway translate``, tests)."""

    inner: Transport
    calls: list[Exchange] = field(default_factory=list)

    async def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: float,
    ) -> Reply:
        call = Exchange(method, url, dict(headers), dict(form) if form is not None else None, json)
        self.calls.append(call)
        reply = await self.inner(method, url, headers=headers, form=form, json=json, timeout=timeout)
        call.status = reply.status
        return reply

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: float
    ) -> AsyncIterator[StreamReply]:
        call = Exchange(method, url, dict(headers), None, None)
        self.calls.append(call)
        async with open_stream(self.inner, method, url, headers=headers, timeout=timeout) as reply:
            call.status = reply.status
            yield reply
