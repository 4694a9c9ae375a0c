"""Large PMP listings travel through the adapter's injected transport, streamed when it can stream.

Against the simulator on loopback (module 2.x: every list route answers the whole table): the
header index's refresh and a 2.x create's listing are exchanges of the injected transport, a
RecordingTransport sees them, and a transport that can only answer whole still carries them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from gateway import context
from gateway.backends import http, pmp_lists
from gateway.backends.pmp import AiohttpTransport, Exchange, PMPBackend, RecordingTransport
from gateway.backends.pmp_lists import HEADER_CHUNK
from gateway.errors import BackendUnavailable
from gateway.mapping.loader import PACKAGED_ROOT, VendorMappings, load_mappings
from gateway.pmp_sim import DB_KEY, SimDB, create_app, seed_tickets
from gateway.store import MemoryStore

TOKEN = "test-token-123"


@pytest.fixture(scope="module")
def mappings() -> VendorMappings:
    return load_mappings(roots=[PACKAGED_ROOT])["pmp"]


@pytest.fixture
async def sim2(tmp_path: Path) -> AsyncIterator[tuple[str, SimDB]]:
    app = create_app(tmp_path / "sim2.db", TOKEN, seed_demo=True, module=2)
    seed_tickets(app[DB_KEY], 1500)  # a whole table of a few MB: many stream reads and decoded batches
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    context.begin(context.RequestContext(deadline=time.monotonic() + 60))
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/", app[DB_KEY]
    await runner.cleanup()


class WholeOnly:
    """A transport with ``__call__`` alone (no ``stream``): every answer is read whole."""

    def __init__(self, inner: AiohttpTransport) -> None:
        self.inner = inner
        self.urls: list[str] = []

    async def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: float,
    ) -> http.Reply:
        self.urls.append(url)
        return await self.inner(method, url, headers=headers, form=form, json=json, timeout=timeout)


async def test_the_whole_table_streams_through_the_injected_transport(
    sim2: tuple[str, SimDB], mappings: VendorMappings
) -> None:
    url, db = sim2
    async with aiohttp.ClientSession() as session:
        recorder = RecordingTransport(AiohttpTransport(session))
        backend = PMPBackend(url, TOKEN, mappings, MemoryStore(), transport=recorder)
        headers = await backend.ticket_headers()
    want = db.list_ticket_rows()
    assert [h.id for h in headers] == [int(str(r["ticketid"])) for r in want]
    assert [h.subject for h in headers] == [r["subject"] for r in want]
    [call] = recorder.calls
    assert call.method == "GET" and call.url.startswith(url + "api/tickets?page=1") and call.status == 200


async def test_a_transport_that_cannot_stream_still_carries_lists(
    sim2: tuple[str, SimDB], mappings: VendorMappings
) -> None:
    url, db = sim2
    async with aiohttp.ClientSession() as session:
        whole = WholeOnly(AiohttpTransport(session))
        backend = PMPBackend(url, TOKEN, mappings, MemoryStore(), transport=whole)
        headers = await backend.ticket_headers()
        rows = await backend._lists.ticket_rows(("ticketid", "subject"))
    assert len(headers) == len(rows) == db.count_tickets()
    assert rows[-1] == {"ticketid": str(db.count_tickets()), "subject": db.list_ticket_rows()[-1]["subject"]}
    assert len(whole.urls) == 2


async def test_the_simulators_streamed_table_is_the_plain_array(sim2: tuple[str, SimDB]) -> None:
    url, db = sim2
    async with aiohttp.ClientSession() as session, session.get(url + "api/tickets", headers={"authtoken": TOKEN}) as r:
        body = await r.read()
    assert r.status == 200 and r.content_type == "application/json"
    assert orjson.loads(body) == db.ticket_rows_joined()


class Flaky(RecordingTransport):
    """Streams through ``inner`` after ``failures`` answers of 503 (or connection failures)."""

    def __init__(self, inner: AiohttpTransport, failures: int, *, connection: bool = False) -> None:
        super().__init__(inner)
        self.failures = failures
        self.connection = connection

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: float
    ) -> AsyncIterator[http.StreamReply]:
        if self.failures > 0:
            self.failures -= 1
            self.calls.append(Exchange(method, url, dict(headers), None, None, 503))
            if self.connection:
                raise http.TransportError("connection failed (ClientOSError)", sent=True)
            yield http.StreamReply(503, {"Retry-After": "0"}, http.WholeBody(b"busy"))
            return
        async with super().stream(method, url, headers=headers, timeout=timeout) as reply:
            yield reply


async def test_a_streamed_listing_is_retried_like_every_read(sim2: tuple[str, SimDB], mappings: VendorMappings) -> None:
    url, db = sim2
    async with aiohttp.ClientSession() as session:
        flaky = Flaky(AiohttpTransport(session), failures=1)
        backend = PMPBackend(url, TOKEN, mappings, MemoryStore(), transport=flaky, retries=2)
        assert len(await backend.ticket_headers()) == db.count_tickets()
        assert [c.status for c in flaky.calls] == [503, 200]
        down = Flaky(AiohttpTransport(session), failures=5, connection=True)
        backend = PMPBackend(url, TOKEN, mappings, MemoryStore(), transport=down, retries=2)
        with pytest.raises(BackendUnavailable) as caught:
            await backend.ticket_headers()
    assert len(down.calls) == 3 and "ClientOSError" in caught.value.message


async def test_the_index_takes_the_streamed_listing_a_chunk_at_a_time(
    sim2: tuple[str, SimDB], mappings: VendorMappings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2.x's whole table comes to the header index in chunks as it streams in, never as one list
    of every header; a reader that stops early leaves no read behind it."""
    url, db = sim2
    async with aiohttp.ClientSession() as session:
        backend = PMPBackend(url, TOKEN, mappings, MemoryStore(), transport=AiohttpTransport(session))
        chunks = [list(c) async for c in backend.ticket_header_chunks()]
        assert [len(c) for c in chunks] == [HEADER_CHUNK, db.count_tickets() - HEADER_CHUNK]
        assert [h.id for c in chunks for h in c] == [int(str(r["ticketid"])) for r in db.list_ticket_rows()]
        monkeypatch.setattr(pmp_lists, "HEADER_CHUNK", 100)  # more chunks than the reader may queue
        stream = backend._lists.header_chunks()
        first = await anext(stream)
        await asyncio.sleep(0.05)  # the reader fills the queue and waits
        await stream.aclose()  # the index stopped reading (a refresh abandoned)
        await asyncio.sleep(0.05)
        assert len(first) == 100
        names = [getattr(t.get_coro(), "__qualname__", "") for t in asyncio.all_tasks() if not t.done()]
        readers = [n for n in names if n == "PMPLists._streamed"]
        assert not readers
