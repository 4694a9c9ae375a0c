"""Discovery's read probe of a custom table costs the same whatever the table holds.

The custom-table list route answers the whole table (pmp-module-3.md): discovery reads
only its first rows off the stream.  Against the 3.x simulator on loopback, a transport
that counts the body bytes it hands out shows how much of the reply table was read, and
a transport that can only answer whole finds the very same features."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway import context
from gateway.backends import http, jsonstream
from gateway.backends.pmp import AiohttpTransport, PMPBackend
from gateway.backends.pmp.discovery import REPLIES_TABLE
from gateway.mapping.loader import PACKAGED_ROOT, VendorMappings, load_mappings
from gateway.pmp_sim import DB_KEY, SimDB, create_app, seed_tickets
from gateway.pmp_sim.v3 import Grant
from gateway.store import MemoryStore

TOKEN = "test-token-123"
#: What the probe may read of a table: one decoded batch and the reads that fill it.
PROBE_BUDGET = jsonstream.BATCH_BYTES + 4 * jsonstream.READ_BYTES


@pytest.fixture(scope="module")
def mappings() -> VendorMappings:
    return load_mappings(roots=[PACKAGED_ROOT])["pmp"]


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, tables: Mapping[str, Grant] | Sequence[str] | None, replies: int
) -> AsyncIterator[tuple[str, SimDB]]:
    app = create_app(tmp_path / "sim3.db", TOKEN, seed_demo=True, module=3, allow_tables=tables)
    if replies:
        seed_tickets(app[DB_KEY], 3000 if replies > 1 else 20, replies=replies)  # ~180 bytes a reply
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    context.begin(context.RequestContext(deadline=time.monotonic() + 60))
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/", app[DB_KEY]
    finally:
        await runner.cleanup()


class Counted:
    """A body that counts the bytes it hands out."""

    def __init__(self, inner: http.Body, tally: dict[str, int], url: str) -> None:
        self.inner = inner
        self.tally = tally
        self.url = url

    async def read(self, n: int = -1) -> bytes:
        chunk = await self.inner.read(n)
        self.tally[self.url] = self.tally.get(self.url, 0) + len(chunk)
        return chunk


class CountingTransport(AiohttpTransport):
    """The real transport; its streamed answers' bytes read are counted by URL."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        super().__init__(session)
        self.tally: dict[str, int] = {}
        self.whole: list[str] = []

    async def __call__(self, method: str, url: str, **kwargs: Any) -> http.Reply:
        self.whole.append(url)
        return await super().__call__(method, url, **kwargs)

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: float
    ) -> AsyncIterator[http.StreamReply]:
        async with super().stream(method, url, headers=headers, timeout=timeout) as reply:
            yield http.StreamReply(reply.status, reply.headers, Counted(reply.body, self.tally, url))


class WholeOnly:
    """A transport with ``__call__`` alone (no ``stream``): every answer is read whole."""

    def __init__(self, inner: AiohttpTransport) -> None:
        self.inner = inner

    async def __call__(self, method: str, url: str, **kwargs: Any) -> http.Reply:
        return await self.inner(method, url, **kwargs)


async def _features(url: str, mappings: VendorMappings, transport: Any) -> dict[str, str]:
    backend = PMPBackend(url, TOKEN, mappings, MemoryStore(), transport=transport)
    return dict((await backend.discover()).features)


async def test_a_large_reply_table_is_probed_by_its_first_rows(tmp_path: Path, mappings: VendorMappings) -> None:
    async with running(tmp_path, None, replies=5) as (url, _), aiohttp.ClientSession() as session:
        counting = CountingTransport(session)
        found = await _features(url, mappings, counting)
        whole = await _features(url, mappings, WholeOnly(AiohttpTransport(session)))
        async with session.get(url + "api/thirdparty/customtable/" + REPLIES_TABLE, headers={"authtoken": TOKEN}) as r:
            table_bytes = len(await r.read())
    assert found["replies"] == "yes" and found["departments"] == "yes"
    assert found == whole  # the same outcome as reading every row
    [(probed, read)] = [(u, n) for u, n in counting.tally.items() if u.endswith(REPLIES_TABLE)]
    assert table_bytes > 4 * PROBE_BUDGET  # the table is far larger than what the probe may read
    assert read <= PROBE_BUDGET
    assert probed not in counting.whole  # not read again whole


@pytest.mark.parametrize(
    ("tables", "want"),
    [
        ({"tbldepartments": "write"}, "no"),  # not on the allowlist: 403 on the read
        ({"tblticket_replies": "read", "tbldepartments": "write"}, "read-only"),
        ({"tblticket_replies": "write", "tbldepartments": "write"}, "yes"),
    ],
)
async def test_grants_decide_as_before(
    tmp_path: Path, mappings: VendorMappings, tables: dict[str, Grant], want: str
) -> None:
    async with running(tmp_path, tables, replies=1) as (url, _), aiohttp.ClientSession() as session:
        found = await _features(url, mappings, CountingTransport(session))
        whole = await _features(url, mappings, WholeOnly(AiohttpTransport(session)))
    assert found["replies"] == want
    assert found == whole


async def test_an_empty_reply_table_is_readable(tmp_path: Path, mappings: VendorMappings) -> None:
    async with running(tmp_path, None, replies=0) as (url, db), aiohttp.ClientSession() as session:
        db.conn.execute(f"DELETE FROM {REPLIES_TABLE}")  # "No data were found": still a read granted
        db.conn.commit()
        found = await _features(url, mappings, CountingTransport(session))
    assert found["replies"] == "yes"
