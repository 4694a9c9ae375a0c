"""The kept-alive client's per-GET shortcuts checked against what they skip: the deadline timer kept
armed across a connection's exchanges, and request-targets split from URLs of a known origin
instead of parsed (real loopback servers; yarl's own parse as the reference)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from gateway import context
from gateway.backends import http
from gateway.backends.keepalive import KeepAlive

HEADERS = {"authtoken": "tok", "Accept": "application/json"}
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
# an outer bound only, so that a GET whose deadline timer never fires fails the test instead of hanging it
HANG = 10.0


@pytest.fixture(autouse=True)
def request_context() -> Iterator[None]:
    token = context.begin(context.RequestContext(deadline=time.monotonic() + 60, request_id="rid-1"))
    yield
    context.end(token)


@pytest.fixture
async def raw() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await handler(reader, writer)
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


def _answer(body: bytes) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


async def _scripted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers each GET as its path says: /quick at once, /late after 0.5 s, /never not at all."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        if b" /never " in head:
            await asyncio.sleep(HANG * 2)
        if b" /late " in head:
            await asyncio.sleep(0.5)
        writer.write(_answer(b'"ok"'))
        await writer.drain()


async def _get(pool: KeepAlive, url: str, timeout: float) -> http.Reply:
    where = pool.target(url)
    assert where is not None
    return await asyncio.wait_for(pool.get(*where, headers=HEADERS, timeout=timeout, connect_timeout=2.0), HANG)


async def test_a_kept_connection_reuses_its_timer_and_each_exchange_keeps_its_own_deadline(
    raw: Callable[[Handler], Awaitable[str]],
) -> None:
    base = await raw(_scripted)
    pool = KeepAlive(limit=1)
    # a short deadline answered in time: its timer stays armed on the connection
    assert (await _get(pool, f"{base}/quick", 0.1)).body == b'"ok"'
    conn = next(iter(pool._live))
    armed = conn._timer
    assert armed is not None
    # a later deadline: no timer of its own; the earlier one, firing meanwhile, must not end it
    assert (await _get(pool, f"{base}/late", 5.0)).body == b'"ok"'
    assert next(iter(pool._live)) is conn
    # the connection's timer now stands for the later deadline (re-armed once, when the first fired)
    assert conn._timer is not None and conn._timer is not armed
    kept = conn._timer
    assert (await _get(pool, f"{base}/quick", 10.0)).body == b'"ok"'
    assert conn._timer is kept  # (later still: nothing scheduled or cancelled)
    # an earlier deadline than the armed one: it is re-armed for it, and the GET times out by it
    with pytest.raises(http.TransportError) as info:
        await _get(pool, f"{base}/never", 0.3)
    assert info.value.timeout and info.value.sent
    assert conn.closed and conn._timer is None
    await pool.close()


async def test_an_exchange_after_an_expired_timer_still_times_out(raw: Callable[[Handler], Awaitable[str]]) -> None:
    base = await raw(_scripted)
    pool = KeepAlive(limit=1)
    assert (await _get(pool, f"{base}/quick", 0.05)).body == b'"ok"'
    await asyncio.sleep(0.1)  # the first exchange's timer fires on an idle connection: disarmed
    conn = next(iter(pool._live))
    assert conn._timer is None
    with pytest.raises(http.TransportError) as info:
        await _get(pool, f"{base}/never", 0.3)
    assert info.value.timeout
    await pool.close()


async def test_a_closed_connection_leaves_no_timer_behind(raw: Callable[[Handler], Awaitable[str]]) -> None:
    base = await raw(_scripted)
    pool = KeepAlive(limit=1)
    assert (await _get(pool, f"{base}/quick", 30.0)).body == b'"ok"'
    conn = next(iter(pool._live))
    assert conn._timer is not None
    await pool.close()
    assert conn._timer is None


URLS = [
    "http://127.0.0.1:8080/api/tickets/12",
    "http://127.0.0.1:8080/api/tickets?page=1&per_page=25&sort=-ticketid",
    "http://127.0.0.1:8080/api/tickets/../secret",
    "http://127.0.0.1:8080/api/./tickets",
    "http://127.0.0.1:8080/api/tickets/%41",
    "http://127.0.0.1:8080/api/a b",
    "http://127.0.0.1:8080/api/search?q=a b&name=é",
    "http://127.0.0.1:8080/api/x?y=%2F",
    "http://127.0.0.1:8080/api/x?",
    "http://127.0.0.1:8080/api/x#frag",
    "http://127.0.0.1:8080/api/x;p",
    "http://127.0.0.1:8080//api//x",
    "http://127.0.0.1:8080/api/x?a=b=c&&d=e+f",
    "http://127.0.0.1:8080/api/thirdparty/customtable/tbl_x?select=a.b",
    "http://127.0.0.1:8080/",
    "http://127.0.0.1:8080/é",
    "https://Backend.Example/api/tickets/1",
    "https://backend.example:443/api/tickets/1",
    "http://backend.example/api/tickets/1",
    "http://user:pw@backend.example/api/tickets/1",
    "ftp://backend.example/api/tickets/1",
    "http://[::1]:8080/api/tickets/1",
    "http://backend.example?x=/api",
]


def test_request_targets_split_from_known_origins_equal_yarls_parse() -> None:
    pool = KeepAlive()
    reference = [pool._parse_target(url, url.find("/", 8)) for url in URLS]  # yarl, every time
    for _ in range(2):  # (the second round: every plain origin is known, so the split is taken)
        assert [pool.target(url) for url in URLS] == reference
    assert set(pool._prefixes) == {
        "http://127.0.0.1:8080",
        "https://Backend.Example",
        "https://backend.example:443",
        "http://backend.example",
    }
    # the split serves new URLs of a known origin (a new ticket id each) without parsing them
    split = pool.target("http://127.0.0.1:8080/api/tickets/98765")
    assert split is not None and split[1] == "/api/tickets/98765"
    assert split[0] is reference[0][0]  # type: ignore[index]
