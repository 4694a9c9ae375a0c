"""GetTicket's fused translation end to end (``gateway/mapping/fuse.py``), real HTTP on both sides.

A module 2.x simulator has no conversation tables, so a changed ticket's first read is answered
by the fused function (row -> the client's answer, no Ticket) and its second read, the same
bytes, the usual way (the Ticket made, then rendered).  The two answers must be the same, in
every dialect whose ticket render composes, and must show the change; the backend is read once
a request either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.pmp_sim import STATS_KEY, SimDB, start_simulator
from gateway.settings import BackendSettings, ClientCredential, Settings
from tests.conftest import start_gateway

TOKEN = "fused-test-token"
SECRET = "fused-secret"
VOLATILE = {"timestamp", "elapsed", "time_elapsed_in_minutes"}  # (the clock's: differ between two reads)


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


class Clients:
    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url, self.session = url, session

    async def whmcs(self, ticket_id: int, fmt: str = "json") -> Any:
        form = {"action": "GetTicket", "ticketid": str(ticket_id), "identifier": "fz", "secret": SECRET}
        form["responsetype"] = fmt
        async with self.session.post(self.url + "/includes/api.php", data=form) as r:
            return await r.json(content_type=None) if fmt == "json" else await r.text()

    async def keliweb(self, ticket_id: int) -> Any:
        headers = {"Authorization": f"Bearer {SECRET}"}
        url = f"{self.url}/api/v2/keliweb/get-ticket"
        async with self.session.post(url, data={"ticketid": str(ticket_id)}, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def clientexec(self, ticket_id: int) -> Any:
        headers = {"X-API-KEY": SECRET}
        async with self.session.get(f"{self.url}/api/ticket/{ticket_id}", headers=headers) as r:
            return r.status, _stable(await r.json(content_type=None))


@pytest.fixture
async def module2(tmp_path: Path) -> AsyncIterator[tuple[Clients, Any, SimDB]]:
    db_path = tmp_path / "sim.sqlite3"
    sim_runner, sim_url = await start_simulator(db_path=db_path, token=TOKEN, module=2)
    settings = Settings(
        backend=BackendSettings(url=sim_url, token=TOKEN, timeout=20),
        clients=(ClientCredential(identifier="fz", secret=SECRET),),
        data_dir=tmp_path,
        access_log=False,
    )
    runner, url = await start_gateway(settings)
    try:
        async with aiohttp.ClientSession() as session:
            yield Clients(url, session), sim_runner.app[STATS_KEY], SimDB(db_path, seed_demo=False)
    finally:
        await runner.cleanup()
        await sim_runner.cleanup()


def _ticket_reads(stats: Any, ticket_id: int) -> int:
    return sum(1 for _, path in stats.recent if path.rstrip("/").endswith(f"/api/tickets/{ticket_id}"))


@pytest.mark.parametrize("dialect", ["whmcs", "whmcs xml", "keliweb", "clientexec"])
@pytest.mark.parametrize("ticket_id", [1, 4, 6])  # a customer's, a guest's, one opened by staff
async def test_a_changed_ticket_reads_the_same_fused_and_the_usual_way(
    module2: tuple[Clients, Any, SimDB], dialect: str, ticket_id: int
) -> None:
    clients, stats, db = module2
    kind, _, fmt = dialect.partition(" ")

    async def read() -> Any:
        if kind == "whmcs":
            return await clients.whmcs(ticket_id, fmt or "json")
        return await (clients.keliweb(ticket_id) if kind == "keliweb" else clients.clientexec(ticket_id))

    await read()  # (the gateway's first request discovers the installation)
    for subject, status in (("Changed once", 3), ("Changed twice & <more>", 5)):
        db.update_ticket(ticket_id, {"subject": subject, "status": status})
        before = _ticket_reads(stats, ticket_id)
        fused, usual, again = await read(), await read(), await read()
        assert fused == usual == again
        assert _ticket_reads(stats, ticket_id) - before == 3  # one backend read a request
        text = str(fused)
        assert subject.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in text or subject in text
