"""The PMP dialect's paged ticket list: with page/per_page (and the module's order or
sort=[-]ticketid) it asks the service for that page alone, as WHMCS GetTickets does, so its cost
does not grow with the backend; the answer is byte for byte the cut of the whole list.

End to end on both module generations of the simulator (3.x pages itself; 2.x's header index
names the page's tickets), with 240 tickets so that a whole listing is visible in the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway.pmp_sim import STATS_KEY, SimDB, seed_tickets, start_simulator
from gateway.settings import BackendSettings, ClientCredential, IndexSettings, Settings
from tests.conftest import start_gateway
from tests.e2e.whmcs_backend import start_pair

TOKEN = "paging-backend-token"
SECRET = "paging-secret"
LIST = "/perfex/api/tickets"
EXTRA = 234  # beside the 6 demo tickets


@dataclass
class Served:
    url: str
    sim: web.AppRunner
    session: aiohttp.ClientSession

    async def get(self, query: str) -> tuple[int, bytes]:
        async with self.session.get(f"{self.url}{LIST}?{query}", headers={"authtoken": SECRET}) as resp:
            return resp.status, await resp.read()

    def log(self) -> list[tuple[str, str]]:
        return list(self.sim.app[STATS_KEY].recent)


@pytest.fixture(params=[3, 2], ids=["module3", "module2"])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    db_path = tmp_path / "sim.sqlite3"
    with SimDB(db_path) as db:
        seed_tickets(db, EXTRA)
    sim, sim_url = await start_simulator(db_path=db_path, token=TOKEN, module=request.param)
    settings = Settings(
        backend=BackendSettings(url=sim_url, token=TOKEN, timeout=20),
        clients=(ClientCredential(identifier="paging", secret=SECRET),),
        data_dir=tmp_path,
        access_log=False,
        # 2.x: the header index's refill (a whole listing, its own cost) must not fall inside a test
        index=IndexSettings(max_staleness=3600),
    )
    runner, url = await start_gateway(settings)
    try:
        async with aiohttp.ClientSession() as session:
            yield Served(url, sim, session)
    finally:
        await runner.cleanup()
        await sim.cleanup()


# created_after=1970-01-01 filters nothing but takes the whole-list path: the reference answer
WHOLE = "&created_after=1970-01-01"
QUERIES = [
    "page=1&per_page=25",
    "page=3&per_page=7",
    "page=10&per_page=25",  # the last, short page
    "page=11&per_page=25",  # past the end: the module's 404
    "per_page=100",
    "page=2",
    "page=2&per_page=5&limit=9",
    "page=4&per_page=10&sort=-ticketid",
    "page=1&per_page=3&sort=ticketid&fields=subject,status",
    "page=2&limit=4",  # limit is per_page's alias when page is sent
]


@pytest.mark.parametrize("query", QUERIES)
async def test_a_served_page_is_the_same_bytes_as_the_cut_of_the_whole_list(served: Served, query: str) -> None:
    paged = await served.get(query)
    whole = await served.get(query + WHOLE)
    assert paged == whole


async def test_a_page_reads_no_whole_listing(served: Served) -> None:
    await served.get("page=1&per_page=1")  # the header index's first fill (2.x) is not the page's cost
    start = len(served.log())
    for query in ("page=2&per_page=25", "page=7&per_page=10&sort=-ticketid", "page=1&per_page=100"):
        status, _ = await served.get(query)
        assert status == 200
    calls = served.log()[start:]
    listings = [c for c in calls if c[0] == "GET" and c[1] == "/api/tickets"]
    assert listings == [], calls
    # one page is a bounded number of backend requests, whatever the backend holds
    assert len(calls) <= 3 * 100 + 10, len(calls)


async def test_other_lists_still_read_the_whole_list(served: Served) -> None:
    """Sorting by another column, or a date filter, is done on the whole list (as before)."""
    start = len(served.log())
    status, _ = await served.get("page=1&per_page=5&sort=-date")
    assert status == 200
    assert ("GET", "/api/tickets") in served.log()[start:]


async def test_served_pages_on_a_whmcs_backend_keep_the_modules_order(tmp_path: Path) -> None:
    """WHMCS lists in its own order: a served page still answers the module's (ticketid) order."""
    async for pair in start_pair(tmp_path):
        gw = pair.gateway
        for query in ("page=1&per_page=4", "page=2&per_page=4", "page=1&per_page=3&sort=-ticketid", "page=5"):
            answers = []
            for extra in ("", WHOLE):
                async with gw.session.get(f"{gw.url}{LIST}?{query}{extra}", headers={"authtoken": "demo-secret"}) as r:
                    answers.append((r.status, await r.read()))
            assert answers[0] == answers[1], query
        async with gw.session.get(f"{gw.url}{LIST}?page=1&per_page=100", headers={"authtoken": "demo-secret"}) as r:
            ids = [int(row["ticketid"]) for row in (await r.json())["data"]]
        assert ids == sorted(ids) and len(ids) > 1
