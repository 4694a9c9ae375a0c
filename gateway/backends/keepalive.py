"""Backend reads over kept-alive HTTP/1.1 connections: the hot path's one GET, without a client stack.

A GetTicket is one backend GET.  aiohttp's client spends about 70 µs of CPU on
one (request and response objects, a timer object, a connector, cookie and
trace hooks), more than the translation around it; a GET on a connection
already open needs a few bytes written and one parse of the answer
(``httptools``, the C parser uvicorn uses).  :class:`KeepAlive` is that: the
GETs of the PMP transport go through it, everything else (writes, streamed
listings) stays on aiohttp.

What it keeps of an HTTP client's behaviour, so that the adapters cannot tell
the difference:

* **Connections**: per origin, reused last-in first-out, at most ``limit``
  in use at once over all origins (as aiohttp's connector limit); an idle one
  older than ``idle_seconds`` is closed rather than reused.
* **A stale connection** (the server closed it while idle, and the GET found
  out before any byte of an answer) is retried once on a new connection: a GET
  is safe to send again.  Any other failure is a :class:`TransportError`
  with aiohttp's wording, saying whether the request can have been sent.
* **The deadline**: the whole exchange (waiting for a free connection,
  connecting, the answer) within ``timeout`` seconds; connecting also within
  ``connect_timeout``.
* **Answers**: ``Content-Length``, chunked or read-to-close bodies; ``gzip``
  and ``deflate`` bodies are decoded (they are asked for, as aiohttp does);
  headers as a case-insensitive multidict; at most 64 KiB of headers.
* **Only** ``http``/``https`` URLs without credentials in them
  (:meth:`KeepAlive.target` says None otherwise: the caller uses aiohttp).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from gateway import __version__, context
from gateway.backends import http
from gateway.errors import BackendTimeout

T = TypeVar("T")
# a URL's scheme and authority with nothing yarl would decode, lower or refuse (no credentials)
_PLAIN_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?")
# a path and query yarl hands back as written: no dot segments, escapes, spaces or fragment
_PLAIN_TARGET = re.compile(r"/[A-Za-z0-9_~/-]*(?:\?[A-Za-z0-9_~=&+-]+)?")
MAX_HEADER_BYTES = 64 * 1024
HIGH_WATER = 1 << 20  # unread bytes of a streamed body at which reading from the socket pauses
USER_AGENT = f"helpdesk-gateway/{__version__}"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a GET goes: the connection's key, and what its requests say in ``Host``."""

    scheme: str
    host: str
    port: int
    host_header: str


class _Failed(Exception):
    """How a connection's exchange ended without an answer (turned into a TransportError)."""

    def __init__(self, name: str, *, answered: bool, timeout: bool = False) -> None:
        super().__init__(name)
        self.name = name
        self.answered = answered  # any byte of an answer had come
        self.timeout = timeout


class _Connection(asyncio.Protocol):
    """One kept-alive connection: one GET at a time, its answer parsed as the bytes arrive.

    A plain GET's answer comes back whole; a streamed one's as soon as its headers are in, its
    body then read through :class:`_StreamBody`."""

    def __init__(self, origin: Origin, live: set[_Connection]) -> None:
        self.origin = origin
        self._live = live  # the pool's open connections: this one leaves it when it closes
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[http.Reply] | None = None
        # the deadline timer: armed for ``_armed_at`` (loop time), it checks the exchange then under
        # way against that exchange's ``_deadline`` (see request)
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = 0.0
        self._deadline = 0.0
        self._busy = False  # from a request's first byte to its answer's last
        self.stream: _StreamBody | None = None
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._answered = False
        self._headers_done = False

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's is not a subclass of asyncio's)
        self._live.add(self)

    def data_received(self, data: bytes) -> None:
        if not self._busy:
            self.abort()  # bytes nobody asked for: the connection cannot be trusted again
            return
        self._answered = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(_Failed(f"ClientResponseError: {exc}", answered=True))

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._live.discard(self)
        if not self._busy:
            self._stop_timer()
            return
        if self._headers_done and self._reads_to_close():
            self._finish(keep=False)  # a body without a length ends where the connection does
            return
        name = "ServerDisconnectedError" if exc is None else "ClientOSError"
        self._fail(_Failed(name, answered=self._answered))

    # ------------------------------------------------------------ httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEADER_BYTES:
            raise httptools.HttpParserError("the answer's headers are too large")
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._headers_done = True
        if self.stream is not None and self._status >= 200:
            headers = CIMultiDictProxy(CIMultiDict(self._headers))
            self.stream.decoder = _decoder(headers.get("Content-Encoding", ""))
            self._resolve(http.Reply(self._status, headers, b""))

    def on_body(self, body: bytes) -> None:
        if self.stream is not None:
            self.stream.feed(body)
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._status < 200:  # an interim answer (100 Continue): the real one follows
            self._reset()
            return
        self._finish(keep=self._parser.should_keep_alive())

    # ------------------------------------------------------------ the exchange

    def _reads_to_close(self) -> bool:
        names = {k.lower() for k, _ in self._headers}
        return "content-length" not in names and "transfer-encoding" not in names

    def _finish(self, *, keep: bool) -> None:
        self._busy = False  # (the deadline timer stays armed for the next exchange: see _arm)
        if not keep:
            self.abort()
        if self.stream is not None:
            self.stream.end(keep)
            return
        body = b"".join(self._body)
        headers = CIMultiDictProxy(CIMultiDict(self._headers))
        encoding = headers.get("Content-Encoding", "")
        if body and encoding:
            decoder = _decoder(encoding)
            if decoder is not None:
                try:
                    body = decoder.decompress(body) + decoder.flush()
                except zlib.error:
                    self._fail(_Failed("ClientPayloadError", answered=True))
                    return
        self._resolve(http.Reply(self._status, headers, body))

    def _resolve(self, reply: http.Reply) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)

    def _fail(self, failure: _Failed) -> None:
        self._busy = False
        self._stop_timer()
        self.abort()
        if self.stream is not None:
            self.stream.fail(failure)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(failure)

    def abort(self) -> None:
        self.closed = True
        self._stop_timer()
        if self.transport is not None:
            self.transport.abort()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Have the timer fire at ``deadline`` at the latest for the exchange now starting.

        The timer outlives an exchange that ends in time (a connection's exchanges follow one
        another, each with a deadline about as far ahead): one armed for an earlier deadline than
        this exchange's is kept, and when it fires it re-arms for this one (``_expire``).  So most
        exchanges schedule and cancel no timer of their own, and none expires later than its own
        deadline, nor earlier."""
        self._deadline = deadline
        timer = self._timer
        if timer is not None:
            if self._armed_at <= deadline:
                return
            timer.cancel()
        self._armed_at = deadline
        self._timer = loop.call_at(deadline, self._expire)

    async def request(self, head: bytes, deadline: float, stream: _StreamBody | None = None) -> http.Reply:
        """Send one GET's bytes; its answer (with ``stream``: its status and headers, the body to be
        read from ``stream``), or _Failed (also when ``deadline``, loop time, passes first: for a
        stream, the deadline covers its body too)."""
        loop = asyncio.get_running_loop()
        self._reset()
        self.stream = stream
        if stream is not None:
            stream.conn = self
        waiter = self._waiter = loop.create_future()
        self._arm(loop, deadline)
        self._busy = True
        try:
            assert self.transport is not None
            self.transport.write(head)
            reply: http.Reply = await waiter
            return reply
        except BaseException:
            self._stop_timer()
            raise
        finally:
            self._waiter = None

    def _expire(self) -> None:
        self._timer = None
        if not self._busy or self.closed:
            return  # the exchange it was armed for ended in time; none is under way
        if self._deadline > self._armed_at:
            # armed for an earlier exchange's deadline: this one's comes later
            self._armed_at = self._deadline
            self._timer = asyncio.get_running_loop().call_at(self._deadline, self._expire)
            return
        self._fail(_Failed("no answer in time", answered=True, timeout=True))


class _StreamBody:
    """A streamed answer's body as it arrives (``read(n)`` as aiohttp's StreamReader): reading stops
    while more than :data:`HIGH_WATER` bytes wait unread."""

    def __init__(self) -> None:
        self.conn: _Connection | None = None
        self.decoder: Any = None  # zlib's decompressobj for a gzip or deflate body
        self._parts: deque[bytes] = deque()
        self._size = 0
        self._paused = False
        self.ended = False
        self.keep = False
        self._failure: _Failed | None = None
        self._wake: asyncio.Future[None] | None = None

    def feed(self, data: bytes) -> None:
        if self.decoder is not None:
            try:
                data = self.decoder.decompress(data)
            except zlib.error:
                raise httptools.HttpParserError("the body does not decode") from None
        if data:
            self._parts.append(data)
            self._size += len(data)
            if self._size > HIGH_WATER and not self._paused and self.conn is not None and self.conn.transport:
                self.conn.transport.pause_reading()
                self._paused = True
        self._wakeup()

    def end(self, keep: bool) -> None:
        if self.decoder is not None:
            rest = self.decoder.flush()
            if rest:
                self._parts.append(rest)
                self._size += len(rest)
        self.ended = True
        self.keep = keep
        self._wakeup()

    def fail(self, failure: _Failed) -> None:
        self._failure = failure
        self._wakeup()

    def _wakeup(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def _wait(self) -> None:
        self._wake = asyncio.get_running_loop().create_future()
        try:
            await self._wake
        finally:
            self._wake = None

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (at least one, b"" at the end); all that is left when ``n`` < 0."""
        while self._failure is None and not self.ended and (n < 0 or not self._parts):
            if self._paused and self.conn is not None and self.conn.transport:
                self._paused = False
                self.conn.transport.resume_reading()
            await self._wait()
        if self._failure is not None:
            raise _transport_error(self._failure)
        if n < 0 or n >= self._size:
            out = b"".join(self._parts)
            self._parts.clear()
        else:
            pieces, want = [], n
            while want > 0:
                part = self._parts.popleft()
                if len(part) > want:
                    self._parts.appendleft(part[want:])
                    part = part[:want]
                pieces.append(part)
                want -= len(part)
            out = b"".join(pieces)
        self._size -= len(out)
        if self._paused and self._size < HIGH_WATER // 4 and self.conn is not None and self.conn.transport:
            self._paused = False
            self.conn.transport.resume_reading()
        return out


def _transport_error(failed: _Failed) -> http.TransportError:
    if failed.timeout:
        return http.TransportError("no answer in time", sent=True, timeout=True)
    return http.TransportError(f"connection failed ({failed.name})", sent=True)


def _decoder(encoding: str) -> Any:
    """zlib's incremental decoder for a ``gzip`` or ``deflate`` body (None for an identity one)."""
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # (zlib-wrapped or gzip, detected)
    return None


class KeepAlive:
    """GETs over kept-alive connections, per origin; ``limit`` connections in use at once."""

    def __init__(self, *, limit: int = 64, idle_seconds: float = 15.0, tls: ssl.SSLContext | None = None) -> None:
        """``tls``: the context ``https`` connections are verified with (default: the system's CAs,
        as aiohttp's own default)."""
        self._slots = asyncio.Semaphore(max(1, limit))
        self._idle: dict[Origin, list[_Connection]] = {}
        self._idle_seconds = idle_seconds
        self._origins: dict[tuple[str, str, int | None], Origin] = {}
        self._prefixes: dict[str, Origin] = {}  # "scheme://host[:port]" as written -> its Origin (see target)
        self._tls = tls
        self._live: set[_Connection] = set()
        self._closed = False

    def target(self, url: str) -> tuple[Origin, str] | None:
        """Where ``url`` goes and its request-target (encoded as aiohttp would), or None when this
        client does not carry it (another scheme, credentials in the URL)."""
        # Every backend GET names a new URL (a ticket id each): parsing it costs yarl ~5 µs.  A URL
        # whose origin was seen before and whose path and query hold only characters no encoding
        # or normalisation touches is its own request-target after the origin: split, not parsed.
        cut = url.find("/", 8)  # (past "https://")
        if cut > 0:
            known = self._prefixes.get(url[:cut])
            if known is not None and _PLAIN_TARGET.fullmatch(url, cut):
                return known, url[cut:]
        return self._parse_target(url, cut)

    def _parse_target(self, url: str, cut: int) -> tuple[Origin, str] | None:
        u = URL(url)
        if u.scheme not in ("http", "https") or u.raw_user is not None or not u.raw_host:
            return None
        key = (u.scheme, u.raw_host, u.port)
        origin = self._origins.get(key)
        if origin is None:
            port = u.port or (443 if u.scheme == "https" else 80)
            origin = self._origins[key] = Origin(u.scheme, u.raw_host, port, u.host_port_subcomponent or u.raw_host)
        target = u.raw_path_qs
        if cut > 0 and _PLAIN_ORIGIN.fullmatch(url, 0, cut) and url[cut:] == target:
            if len(self._prefixes) >= 64:
                self._prefixes.clear()
            self._prefixes[url[:cut]] = origin  # (a plain origin: its URLs may be split from now on)
        return origin, target

    async def get(
        self, origin: Origin, target: str, *, headers: Mapping[str, str], timeout: float, connect_timeout: float
    ) -> http.Reply:
        """One GET within ``timeout`` seconds, counted and timed on the request like any backend call."""
        ctx, started = _begin(timeout)
        status = 0
        try:
            head = _head(origin, target, headers, ctx.request_id)
            deadline = asyncio.get_running_loop().time() + timeout
            await self.acquire(timeout)
            try:
                conn, reply = await self._exchange(origin, head, deadline, connect_timeout, None)
                self._put_back(conn)
            finally:
                self._slots.release()
            status = reply.status
            return reply
        finally:
            http.account(ctx, "GET", status, started)

    @contextlib.asynccontextmanager
    async def stream(
        self, origin: Origin, target: str, *, headers: Mapping[str, str], timeout: float, connect_timeout: float
    ) -> AsyncIterator[http.StreamReply]:
        """One GET whose body the caller reads, in parts, inside the ``async with`` (``timeout``
        covers the body too); left unread, the connection is closed rather than reused."""
        ctx, started = _begin(timeout)
        status = 0
        head = _head(origin, target, headers, ctx.request_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self.acquire(timeout)
        conn: _Connection | None = None
        try:
            body = _StreamBody()
            conn, reply = await self._exchange(origin, head, deadline, connect_timeout, body)
            status = reply.status
            yield http.StreamReply(reply.status, reply.headers, body)
            if body.ended and body.keep:
                self._put_back(conn)
            else:
                conn.abort()  # (the rest of the body would come ahead of the next answer)
        except BaseException:
            if conn is not None:
                conn.abort()
            raise
        finally:
            if conn is not None:
                conn.stream = None
            self._slots.release()
            http.account(ctx, "GET", status, started)

    async def _exchange(
        self, origin: Origin, head: bytes, deadline: float, connect_timeout: float, stream: _StreamBody | None
    ) -> tuple[_Connection, http.Reply]:
        """Send ``head`` on an idle connection (a new one if none, or if the idle one turns out to have
        been closed by the server before answering): the connection and its answer."""
        loop = asyncio.get_running_loop()
        for fresh in (False, True):
            conn = None if fresh else self._reuse(origin, loop.time())
            reused = conn is not None
            if conn is None:
                conn = await self._connect(origin, deadline, connect_timeout)
            try:
                return conn, await conn.request(head, deadline, stream)
            except _Failed as failed:
                if reused and not failed.answered:
                    continue  # closed by the server while idle: a GET may go again
                raise _transport_error(failed) from None
            except BaseException:  # cancelled mid-answer: the connection's state is unknown
                conn.abort()
                raise
        raise AssertionError("unreachable")  # (the second round's connection is a new one: it never continues)

    def _put_back(self, conn: _Connection) -> None:
        if not conn.closed:
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(conn.origin, []).append(conn)

    async def acquire(self, timeout: float) -> None:
        """One of the ``limit`` slots, within ``timeout`` seconds (the caller releases it)."""
        if not self._slots.locked():
            await self._slots.acquire()  # (free: no timer)
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout)
        except TimeoutError:
            raise _connect_timeout() from None

    def release(self) -> None:
        self._slots.release()

    async def holding(self, call: Callable[[], Awaitable[T]], timeout: float) -> T:
        """``call()`` in one of the slots: the exchanges that go through aiohttp count against the same
        ``limit`` as the GETs here, so that ``backend.max_concurrency`` caps them all."""
        await self.acquire(timeout)
        try:
            return await call()
        finally:
            self._slots.release()

    def _reuse(self, origin: Origin, now: float) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self._idle_seconds:
                return conn
            conn.abort()
        return None

    async def _connect(self, origin: Origin, deadline: float, connect_timeout: float) -> _Connection:
        if self._closed:
            raise http.TransportError("cannot connect (ClientConnectorError: the client is closed)", sent=False)
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if origin.scheme == "https" else None
        wait = min(connect_timeout, deadline - loop.time())
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(origin, self._live),
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls is not None else None,
                ),
                wait,
            )
        except TimeoutError:
            raise http.TransportError(
                "connection timed out (ConnectionTimeoutError)", sent=False, timeout=True
            ) from None
        except OSError as exc:
            name = "ClientConnectorDNSError" if isinstance(exc, socket.gaierror) else "ClientConnectorError"
            raise http.TransportError(f"cannot connect ({name})", sent=False) from None
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()  # verified, as aiohttp's default
        return self._tls

    async def close(self) -> None:
        """Close every connection, idle or not (shutdown)."""
        self._closed = True
        for conn in list(self._live):
            conn.abort()
        self._live.clear()
        self._idle.clear()


def _begin(timeout: float) -> tuple[context.RequestContext, float]:
    """A backend call begins: refused when no time is left, else counted on the request (and when)."""
    if timeout <= 0:
        raise BackendTimeout(http.TIMEOUT_MESSAGE)
    ctx = context.current()
    ctx.backend_calls += 1
    return ctx, time.monotonic()


def _connect_timeout() -> http.TransportError:
    return http.TransportError("connection timed out (ConnectionTimeoutError)", sent=False, timeout=True)


def _head(origin: Origin, target: str, headers: Mapping[str, str], request_id: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", f"Host: {origin.host_header}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise http.TransportError("cannot connect (a header holds a line break)", sent=False)
        lines.append(f"{name}: {value}")
    lines.append(f"X-Request-ID: {request_id}")
    lines.append("Accept-Encoding: gzip, deflate")
    lines.append(f"User-Agent: {USER_AGENT}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
