"""The header index fills itself a page at a time on module 3.x (PMPLists.header_chunks).

Against the 3.x simulator on loopback: the chunks are the pages in page order (so the snapshot
keeps ascending ids and needs no sort), no more pages are asked for ahead than
``header_concurrency``, and a page that fails ends the refresh with the backend's error, the
pages asked for ahead given up on."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web

from gateway import context
from gateway.backends import http
from gateway.backends.index import HeaderIndex
from gateway.backends.pmp import AiohttpTransport, PMPBackend
from gateway.errors import BackendUnavailable
from gateway.mapping.loader import PACKAGED_ROOT, VendorMappings, load_mappings
from gateway.pmp_sim import DB_KEY, SimDB, create_app, seed_tickets
from gateway.service import Service
from gateway.store import MemoryStore

TOKEN = "test-token-123"
TICKETS = 1050  # eleven pages of 100, the last one part-full


@pytest.fixture(scope="module")
def mappings() -> VendorMappings:
    return load_mappings(roots=[PACKAGED_ROOT])["pmp"]


@pytest.fixture
async def sim3(tmp_path: Path) -> AsyncIterator[tuple[str, SimDB]]:
    app = create_app(tmp_path / "sim3.db", TOKEN, seed_demo=False, module=3)
    seed_tickets(app[DB_KEY], TICKETS)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    token = context.begin(context.RequestContext(deadline=time.monotonic() + 60))
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/", app[DB_KEY]
    context.end(token)
    await runner.cleanup()


class Pages:
    """The real transport, counting the list pages in flight at once; ``fail``: those page numbers
    answer a PHP error page (not retried: the backend's failure)."""

    def __init__(self, inner: AiohttpTransport, fail: frozenset[int] = frozenset()) -> None:
        self.inner, self.fail = inner, fail
        self.asked: list[int] = []
        self.in_flight = self.most = 0

    async def __call__(self, method: str, url: str, *, headers: Mapping[str, str], **kw: Any) -> http.Reply:
        query = parse_qs(urlsplit(url).query)
        number = int(query["page"][0]) if "page" in query else None
        if number is not None:
            self.asked.append(number)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.01 * (number or 0) % 0.05)  # pages answer out of order
            if number in self.fail:
                return http.Reply(200, {"Content-Type": "text/html"}, b"<html>Fatal error</html>")
            return await self.inner(method, url, headers=headers, **kw)
        finally:
            self.in_flight -= 1


def _backend(url: str, mappings: VendorMappings, transport: Any) -> PMPBackend:
    return PMPBackend(url, TOKEN, mappings, MemoryStore(), transport=transport, retries=1)


async def test_the_chunks_are_the_pages_in_page_order_a_few_asked_for_ahead(
    sim3: tuple[str, SimDB], mappings: VendorMappings
) -> None:
    url, db = sim3
    async with aiohttp.ClientSession() as session:
        pages = Pages(AiohttpTransport(session))
        backend = _backend(url, mappings, pages)
        chunks = [list(chunk) async for chunk in backend.ticket_header_chunks()]
        whole = await backend.ticket_headers()
    ids = [h.id for chunk in chunks for h in chunk]
    assert ids == sorted(ids) == [int(str(r["ticketid"])) for r in db.list_ticket_rows()]
    assert [len(c) for c in chunks] == [100] * 10 + [50]
    assert [h.id for h in whole] == ids
    assert 1 < pages.most <= 1 + int(mappings.settings.get("header_concurrency", 4))


async def test_the_index_fills_itself_from_the_chunks_in_id_order(
    sim3: tuple[str, SimDB], mappings: VendorMappings
) -> None:
    url, db = sim3
    async with aiohttp.ClientSession() as session:
        service = Service(_backend(url, mappings, Pages(AiohttpTransport(session))), MemoryStore())
        snap = await service.index.snapshot()
    assert len(snap) == TICKETS and snap.sorted_ids
    assert list(snap.ids) == [int(str(r["ticketid"])) for r in db.list_ticket_rows()]


async def test_a_failing_page_ends_the_refresh_and_the_pages_ahead_are_given_up(
    sim3: tuple[str, SimDB], mappings: VendorMappings
) -> None:
    url, _ = sim3
    async with aiohttp.ClientSession() as session:
        # page 5 fails first (page 4 answers late): its failure is never awaited
        pages = Pages(AiohttpTransport(session), fail=frozenset({4, 5}))
        index = HeaderIndex(_backend(url, mappings, pages).ticket_header_chunks, _no_fetch)
        with pytest.raises(BackendUnavailable):
            await index.snapshot()
        await asyncio.sleep(0.1)  # the tasks given up on finish
    assert max(pages.asked) < 11  # the pages past those asked for ahead were never asked for
    ahead = [
        t
        for t in gc.get_objects()
        if isinstance(t, asyncio.Task) and "header_chunks" in getattr(t.get_coro(), "__qualname__", "")
    ]
    assert ahead and all(t.done() for t in ahead)  # none left running after the refresh ended


async def _no_fetch(ticket_id: int) -> None:
    return None
