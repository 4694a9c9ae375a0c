"""The kept-alive GET client against real servers on loopback: aiohttp ones for the well-behaved
answers, raw asyncio ones that close, stall or misbehave exactly when a test needs them to."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway import context
from gateway.backends import http
from gateway.backends.keepalive import KeepAlive
from gateway.backends.pmp import AiohttpTransport

HEADERS = {"authtoken": "tok", "Accept": "application/json"}
BIG_PARTS = 80  # 80 parts of 64 KiB: 5 MiB, more than the reading pause's high-water mark


def part_of_big(i: int) -> bytes:
    return bytes([65 + i % 26]) * 65536


@pytest.fixture(autouse=True)
def request_context() -> Iterator[None]:
    token = context.begin(context.RequestContext(deadline=time.monotonic() + 60, request_id="rid-1"))
    yield
    context.end(token)  # (a sync fixture sets it in the session's own context: later tests must not inherit it)


@dataclass
class Seen:
    peers: set[int] = field(default_factory=set)  # client ports: one per connection
    requests: list[web.Request] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()

    async def one(request: web.Request) -> web.StreamResponse:
        seen.peers.add(request.transport.get_extra_info("peername")[1])  # type: ignore[union-attr]
        seen.requests.append(request)
        seen.in_flight += 1
        seen.most_in_flight = max(seen.most_in_flight, seen.in_flight)
        try:
            kind = request.match_info["kind"]
            if kind == "slow":
                await asyncio.sleep(0.2)
            if kind == "chunked":
                resp = web.StreamResponse(headers={"Content-Type": "application/json"})
                resp.enable_chunked_encoding()
                await resp.prepare(request)
                for part in (b'{"a":', b'"chunk', b'ed"}'):
                    await resp.write(part)
                await resp.write_eof()
                return resp
            if kind == "gzip":
                return web.Response(
                    body=gzip.compress(b'{"zipped":true}'), headers={"Content-Encoding": "gzip", "X-Kind": "gz"}
                )
            if kind == "big":
                resp = web.StreamResponse(headers={"Content-Type": "application/json"})
                resp.enable_chunked_encoding()
                if request.query.get("gzip"):
                    resp.enable_compression(web.ContentCoding.gzip)
                await resp.prepare(request)
                for i in range(BIG_PARTS):
                    await resp.write(part_of_big(i))
                await resp.write_eof()
                return resp
            if kind == "busy":
                return web.Response(status=429, headers={"Retry-After": "3"}, text="slow down")
            if kind == "empty":
                return web.Response(status=204)
            return web.json_response({"kind": kind, "q": request.query_string, "path": request.raw_path})
        finally:
            seen.in_flight -= 1

    app = web.Application()
    app.router.add_get("/api/{kind}", one)
    app.router.add_post("/api/{kind}", one)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    await runner.cleanup()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


@pytest.fixture
async def raw() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """A raw server whose handler gets (reader, writer, connection number)."""
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        count = 0

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal count
            count += 1
            try:
                await handler(reader, writer, count)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        srv = await asyncio.start_server(accept, "127.0.0.1", 0)
        servers.append(srv)
        return f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"

    yield start
    for srv in servers:
        srv.close()
        await srv.wait_closed()


async def get(pool: KeepAlive, url: str, timeout: float = 5.0) -> http.Reply:
    where = pool.target(url)
    assert where is not None
    return await pool.get(*where, headers=HEADERS, timeout=timeout, connect_timeout=2.0)


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def answer(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


# ------------------------------------------------------------------ well-behaved servers


async def test_answers_come_back_whole_and_one_connection_serves_them_all(server: tuple[str, Seen]) -> None:
    base, seen = server
    pool = KeepAlive(limit=4)
    for i in range(5):
        reply = await get(pool, f"{base}/api/tickets?page={i}&fields=a,b")
        assert reply.status == 200
        assert reply.headers["content-type"].startswith("application/json")
        assert (
            reply.body
            == f'{{"kind": "tickets", "q": "page={i}&fields=a,b", "path": "/api/tickets?page={i}&fields=a,b"}}'.encode()
        )
    assert len(seen.peers) == 1
    got = seen.requests[0].headers
    assert got["authtoken"] == "tok" and got["X-Request-ID"] == "rid-1" and got["Host"] == base.split("//")[1]
    await pool.close()


async def test_chunked_and_gzip_bodies_are_decoded(server: tuple[str, Seen]) -> None:
    base, _ = server
    pool = KeepAlive()
    assert (await get(pool, f"{base}/api/chunked")).body == b'{"a":"chunked"}'
    zipped = await get(pool, f"{base}/api/gzip")
    assert zipped.body == b'{"zipped":true}' and zipped.headers["x-kind"] == "gz"
    empty = await get(pool, f"{base}/api/empty")
    assert (empty.status, empty.body) == (204, b"")
    busy = await get(pool, f"{base}/api/busy")
    assert busy.status == 429 and http.retry_after(busy.headers) == 3.0
    await pool.close()


async def test_the_url_is_encoded_as_aiohttp_encodes_it(server: tuple[str, Seen]) -> None:
    base, seen = server
    pool = KeepAlive()
    url = f"{base}/api/search?q=a b&name=é"
    mine = await get(pool, url)
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        theirs = await resp.read()
    assert mine.body == theirs
    assert seen.requests[0].raw_path == seen.requests[1].raw_path
    assert pool.target("http://user:pw@127.0.0.1/api/x") is None  # credentials: aiohttp's job
    assert pool.target("ftp://127.0.0.1/api/x") is None
    await pool.close()


async def test_at_most_limit_connections_are_in_use(server: tuple[str, Seen]) -> None:
    base, seen = server
    pool = KeepAlive(limit=2)
    replies = await asyncio.gather(*(get(pool, f"{base}/api/slow") for _ in range(6)))
    assert all(r.status == 200 for r in replies)
    assert seen.most_in_flight == 2
    assert len(seen.peers) == 2
    await pool.close()


async def test_the_transport_sends_gets_through_it_and_writes_through_aiohttp(server: tuple[str, Seen]) -> None:
    base, seen = server
    pool = KeepAlive()
    async with aiohttp.ClientSession() as session:
        transport = AiohttpTransport(session, 2.0, pool)
        for _ in range(3):
            reply = await transport("GET", f"{base}/api/one", headers=HEADERS, timeout=5.0)
            assert reply.status == 200
        assert len(seen.peers) == 1 and pool._live  # the pool's connection carried the three
        posted = await transport("POST", f"{base}/api/one", headers=HEADERS, form={"a": "1"}, timeout=5.0)
        assert posted.status == 200 and len(seen.peers) == 2  # aiohttp's own connection carried the POST
    await pool.close()
    assert not pool._live


async def test_writes_through_aiohttp_count_against_the_same_limit(server: tuple[str, Seen]) -> None:
    base, seen = server
    pool = KeepAlive(limit=1)
    async with aiohttp.ClientSession() as session:
        transport = AiohttpTransport(session, 2.0, pool)
        replies = await asyncio.gather(
            transport("GET", f"{base}/api/slow", headers=HEADERS, timeout=5.0),
            transport("POST", f"{base}/api/slow", headers=HEADERS, form={"a": "1"}, timeout=5.0),
            transport("GET", f"{base}/api/slow", headers=HEADERS, timeout=5.0),
        )
        async with transport.stream("GET", f"{base}/api/chunked", headers=HEADERS, timeout=5.0) as streamed:
            assert await streamed.body.read() == b'{"a":"chunked"}'
    assert [r.status for r in replies] == [200, 200, 200]
    assert seen.most_in_flight == 1
    await pool.close()


# ------------------------------------------------------------------ servers that misbehave


async def test_a_connection_the_server_dropped_while_idle_is_replaced_once(
    raw: Callable[[Handler], Awaitable[str]],
) -> None:
    async def one_answer_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_head(reader)
        writer.write(answer(f'{{"conn":{n}}}'.encode()))
        await writer.drain()
        await read_head(reader)  # the second GET on this connection: dropped unanswered

    base = await raw(one_answer_then_drop)
    pool = KeepAlive()
    assert (await get(pool, f"{base}/a")).body == b'{"conn":1}'
    assert (await get(pool, f"{base}/a")).body == b'{"conn":2}'  # sent again, on a new connection
    await pool.close()


async def test_a_connection_dropped_mid_answer_is_an_error_that_says_sent(
    raw: Callable[[Handler], Awaitable[str]],
) -> None:
    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_head(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"par')
        await writer.drain()

    pool = KeepAlive()
    with pytest.raises(http.TransportError) as info:
        await get(pool, f"{await raw(half)}/a")
    assert info.value.sent and not info.value.timeout
    await pool.close()


async def test_no_answer_in_time_is_a_timeout_after_sending(raw: Callable[[Handler], Awaitable[str]]) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_head(reader)
        await asyncio.sleep(5)

    pool = KeepAlive()
    started = time.monotonic()
    with pytest.raises(http.TransportError) as info:
        await get(pool, f"{await raw(silent)}/a", timeout=0.3)
    assert info.value.sent and info.value.timeout
    assert time.monotonic() - started < 3
    await pool.close()


async def test_a_refused_connection_was_never_sent() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    pool = KeepAlive()
    with pytest.raises(http.TransportError) as info:
        await get(pool, f"http://127.0.0.1:{port}/a")
    assert not info.value.sent and "cannot connect" in info.value.detail
    await pool.close()


async def test_a_body_without_length_ends_with_the_connection(raw: Callable[[Handler], Awaitable[str]]) -> None:
    async def http10(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_head(reader)
        writer.write(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"until":"close"}')
        await writer.drain()

    base = await raw(http10)
    pool = KeepAlive()
    for _ in range(2):  # and the closed connection is not reused
        assert (await get(pool, f"{base}/a")).body == b'{"until":"close"}'
    await pool.close()


async def test_an_interim_answer_is_skipped(raw: Callable[[Handler], Awaitable[str]]) -> None:
    async def interim(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"{}"))
        await writer.drain()
        await asyncio.sleep(1)

    pool = KeepAlive()
    reply = await get(pool, f"{await raw(interim)}/a")
    assert (reply.status, reply.body) == (200, b"{}")
    await pool.close()


async def test_a_cancelled_get_leaves_no_answer_behind_for_the_next(raw: Callable[[Handler], Awaitable[str]]) -> None:
    async def late_then_prompt(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            head = await read_head(reader)
            if b"/late" in head:
                await asyncio.sleep(0.3)
            writer.write(answer(b'"late"' if b"/late" in head else b'"prompt"'))
            await writer.drain()

    base = await raw(late_then_prompt)
    pool = KeepAlive(limit=1)
    task = asyncio.ensure_future(get(pool, f"{base}/late"))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await get(pool, f"{base}/prompt")).body == b'"prompt"'  # not the late answer
    await asyncio.sleep(0.4)
    assert (await get(pool, f"{base}/prompt")).body == b'"prompt"'
    await pool.close()


async def test_garbage_is_an_error_and_a_header_line_break_is_never_sent(
    raw: Callable[[Handler], Awaitable[str]],
) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_head(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    base = await raw(garbage)
    pool = KeepAlive()
    with pytest.raises(http.TransportError) as info:
        await get(pool, f"{base}/a")
    assert info.value.sent
    where = pool.target(f"{base}/a")
    assert where is not None
    with pytest.raises(http.TransportError) as bad:
        await pool.get(*where, headers={"authtoken": "x\r\nEvil: 1"}, timeout=2, connect_timeout=1)
    assert not bad.value.sent
    await pool.close()


# ------------------------------------------------------------------ streamed bodies


async def read_all(body: http.Body, size: int, *, slow: bool = False) -> bytes:
    parts = []
    while chunk := await body.read(size):
        parts.append(chunk)
        if slow:
            await asyncio.sleep(0)
    return b"".join(parts)


@pytest.mark.parametrize("zipped", [False, True])
async def test_a_large_body_streams_in_parts_and_the_connection_serves_the_next_get(
    server: tuple[str, Seen], zipped: bool
) -> None:
    base, seen = server
    pool = KeepAlive()
    where = pool.target(f"{base}/api/big" + ("?gzip=1" if zipped else ""))
    assert where is not None
    async with pool.stream(*where, headers=HEADERS, timeout=20, connect_timeout=2) as reply:
        assert reply.status == 200
        await asyncio.sleep(0.3)  # the server runs ahead of the reader: reading pauses, then resumes
        got = await read_all(reply.body, 50_000, slow=True)
    assert got == b"".join(part_of_big(i) for i in range(BIG_PARTS))
    assert (await get(pool, f"{base}/api/one")).status == 200
    assert len(seen.peers) == 1
    await pool.close()


async def test_a_stream_left_unread_closes_its_connection(server: tuple[str, Seen]) -> None:
    base, seen = server
    pool = KeepAlive()
    where = pool.target(f"{base}/api/big")
    assert where is not None
    async with pool.stream(*where, headers=HEADERS, timeout=20, connect_timeout=2) as reply:
        assert len(await reply.body.read(10)) == 10
    one = await get(pool, f"{base}/api/one")
    assert one.body.startswith(b'{"kind": "one"')  # not the rest of the big body
    assert len(seen.peers) == 2
    await pool.close()


async def test_a_stream_cut_mid_body_or_too_slow_is_a_transport_error(
    raw: Callable[[Handler], Awaitable[str]],
) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        head = await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n[1,2,")
        await writer.drain()
        if b"/slow" in head:
            await asyncio.sleep(5)

    base = await raw(cut)
    pool = KeepAlive()
    for path, timed_out in (("/cut", False), ("/slow", True)):
        where = pool.target(base + path)
        assert where is not None
        with pytest.raises(http.TransportError) as info:
            async with pool.stream(*where, headers=HEADERS, timeout=0.5, connect_timeout=1) as reply:
                assert await reply.body.read(4) == b"[1,2"
                await reply.body.read()
        assert info.value.sent and info.value.timeout is timed_out
    await pool.close()


# ------------------------------------------------------------------ https


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pmp.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(private, hashes.SHA256())
    )
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, key


async def test_https_answers_over_a_verified_kept_connection_and_an_unknown_certificate_is_refused(
    tmp_path: Path,
) -> None:
    cert, key = _certificate(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    peers: set[int] = set()

    async def one(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername")[1])  # type: ignore[union-attr]
        return web.json_response({"tls": True})

    app = web.Application()
    app.router.add_get("/api/one", one)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=served).start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}/api/one"
    try:
        trusting = KeepAlive(tls=ssl.create_default_context(cafile=str(cert)))
        for _ in range(3):
            reply = await get(trusting, url)
            assert (reply.status, reply.body) == (200, b'{"tls": true}')
        assert len(peers) == 1
        await trusting.close()
        system = KeepAlive()  # the system's CAs do not know this certificate
        with pytest.raises(http.TransportError) as info:
            await get(system, url)
        assert not info.value.sent and "cannot connect" in info.value.detail
        await system.close()
    finally:
        await runner.cleanup()
