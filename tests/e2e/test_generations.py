"""Both PMP module generations end to end, in every dialect (issue 10).

A real gateway on a loopback port in front of the simulator started as module
3.x (custom tables tblticket_replies and tbldepartments allowlisted, notes,
staff) or as seed 003's module 2.x.  The checks read the simulator's tables and
its request log, so a 3.x feature that goes silently unused fails them (an
unpaged listing of all tickets during a create, a reply that never reaches
the reply table).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.pmp_sim import STATS_KEY, SimDB, start_simulator
from gateway.settings import BackendSettings, ClientCredential, Settings
from tests.conftest import start_gateway

TOKEN = "generation-test-token"
SECRET = "gen-secret"
WHMCS = {"identifier": "gen", "secret": SECRET, "responsetype": "json"}


@dataclass
class Setup:
    module: int
    url: str
    sim_runner: web.AppRunner
    session: aiohttp.ClientSession
    db_path: Path

    @property
    def db(self) -> SimDB:
        return SimDB(self.db_path, seed_demo=False)

    @property
    def sim_log(self) -> list[tuple[str, str]]:
        return list(self.sim_runner.app[STATS_KEY].recent)

    @property
    def writes(self) -> int:
        return self.sim_runner.app[STATS_KEY].writes

    async def whmcs(self, action: str, **params: str) -> dict[str, Any]:
        async with self.session.post(self.url + "/includes/api.php", data={"action": action, **WHMCS, **params}) as r:
            body: dict[str, Any] = await r.json(content_type=None)
            return body

    async def keliweb(self, action: str, **params: str) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {SECRET}"}
        async with self.session.post(f"{self.url}/api/v2/keliweb/{action}", data=params, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def clientexec(self, method: str, path: str, **params: str) -> tuple[int, dict[str, Any]]:
        headers = {"X-API-KEY": SECRET}
        kw: dict[str, Any] = {"params": params} if method == "GET" else {"data": params}
        async with self.session.request(method, f"{self.url}/api{path}", headers=headers, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def readydesk(self, action: str, **params: str) -> dict[str, Any]:
        query = {"key": SECRET, "action": action, "format": "json", **params}
        async with self.session.get(f"{self.url}/API/default.aspx", params=query) as r:
            body: dict[str, Any] = await r.json(content_type=None)
            return body


@pytest.fixture(params=[3, 2], ids=["module3", "module2"])
async def setup(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Setup]:
    db_path = tmp_path / "sim.sqlite3"
    sim_runner, sim_url = await start_simulator(db_path=db_path, token=TOKEN, module=request.param)
    settings = Settings(
        backend=BackendSettings(url=sim_url, token=TOKEN, timeout=20),
        clients=(ClientCredential(identifier="gen", secret=SECRET),),
        data_dir=tmp_path,
        access_log=False,
    )
    runner, url = await start_gateway(settings)
    try:
        async with aiohttp.ClientSession() as session:
            yield Setup(request.param, url, sim_runner, session, db_path)
    finally:
        await runner.cleanup()
        await sim_runner.cleanup()


def _replies(setup: Setup, ticket_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in setup.db.list_reply_rows(ticket_id)]


async def test_customer_reply_is_written_and_read_back_in_every_dialect(setup: Setup) -> None:
    before = _replies(setup, 1)
    writes = setup.writes
    body = await setup.whmcs("AddTicketReply", ticketid="1", clientid="1", message="Still <b>broken</b>\nafter reboot")
    if setup.module == 2:
        assert body["result"] == "error" and "cannot carry out" in body["message"], body
        assert "tblticket_replies" in body["message"]
        assert setup.writes == writes and _replies(setup, 1) == before
        return
    assert body["result"] == "success", body
    rows = _replies(setup, 1)
    assert len(rows) == len(before) + 1
    row = rows[-1]
    assert (str(row["userid"]), str(row["contactid"]), str(row["admin"] or 0)) == ("1", "1", "0")
    assert row["message"] == "Still broken<br />\nafter reboot"  # as Perfex stores a customer's message
    ticket = setup.db.get_ticket(1)
    assert ticket is not None
    assert str(ticket["status"]) == "1" and str(ticket["adminread"]) == "0"
    assert str(ticket["lastreply"]) == str(row["date"])

    got = await setup.whmcs("GetTicket", ticketid="1")
    last = got["replies"]["reply"][-1]
    assert last["message"].replace("\r\n", "\n") == "Still broken\nafter reboot"
    assert last["name"] == "John Smith" and last["userid"] == "1" and last["admin"] == ""
    assert got["lastreply"] == last["date"]

    status, kel = await setup.keliweb("get-ticket", ticketid="1")
    assert status == 200 and kel["replies"]["reply"][-1]["message"].startswith("Still broken")

    status, ce = await setup.clientexec("GET", "/ticket/1")
    assert status == 200
    assert any("Still broken" in str(c) for c in ce["comments"]), ce["comments"]

    # ReadyDesk shows no conversation: its last-update field carries the reply's date
    rd = await setup.readydesk("get_tickets", tid="1")
    record = next(t for t in rd["tickets"] if t["tid"] == "1")
    when = datetime.strptime(str(row["date"]), "%Y-%m-%d %H:%M:%S")
    shown = f"{when.month}/{when.day}/{when.year} {when.hour % 12 or 12}:{when:%M:%S} {when:%p}"
    assert record["last_updated"] == shown, record


async def test_staff_reply_names_the_staff_member_and_answers_the_ticket(setup: Setup) -> None:
    if setup.module == 2:
        pytest.skip("module 2 has no reply table: covered by the customer reply test")
    writes = setup.writes
    bad = await setup.whmcs("AddTicketReply", ticketid="2", adminusername="Nobody Known", message="hi")
    assert bad["result"] == "error" and "adminusername" in bad["message"], bad
    assert setup.writes == writes
    ok = await setup.whmcs("AddTicketReply", ticketid="2", adminusername="Bob Builder", message="<p>Fixed</p>")
    assert ok["result"] == "success", ok
    row = _replies(setup, 2)[-1]
    assert str(row["admin"]) == "2" and row["message"] == "<p>Fixed</p>"  # a staff message as given
    ticket = setup.db.get_ticket(2)
    assert ticket is not None and str(ticket["status"]) == "3" and str(ticket["clientread"]) == "0"
    by_email = await setup.whmcs("AddTicketReply", ticketid="2", adminusername="alice.admin@pmp.example", message="x")
    assert by_email["result"] == "success" and str(_replies(setup, 2)[-1]["admin"]) == "1"
    got = await setup.whmcs("GetTicket", ticketid="2", repliessort="DESC")
    assert got["replies"]["reply"][0]["admin"] == "Alice Admin"


async def test_reply_to_a_missing_ticket_writes_nothing(setup: Setup) -> None:
    writes = setup.writes
    body = await setup.whmcs("AddTicketReply", ticketid="9999", clientid="1", message="hello")
    assert body["result"] == "error" and "not found" in body["message"].lower(), body
    assert setup.writes == writes


async def test_notes(setup: Setup) -> None:
    writes = setup.writes
    body = await setup.whmcs("AddTicketNote", ticketid="1", message="Called the customer")
    if setup.module == 2:
        assert body["result"] == "error" and "cannot carry out" in body["message"], body
        assert setup.writes == writes
        return
    assert body["result"] == "success", body
    notes = await setup.whmcs("GetTicketNotes", ticketid="1")
    messages = [n["message"] for n in notes["notes"]["note"]]
    assert "Called the customer" in messages
    assert all(n["admin"] for n in notes["notes"]["note"]), notes  # the addedfrom staff member's name
    got = await setup.whmcs("GetTicket", ticketid="1")
    assert "Called the customer" in [n["message"] for n in got["notes"]["note"]]


async def test_departments(setup: Setup) -> None:
    deps = await setup.whmcs("GetSupportDepartments")
    names = {d["name"] for d in deps["departments"]["department"]}
    if setup.module == 3:
        # tbldepartments: the complete list, with the one no ticket uses
        assert names == {row[1] for row in setup.db.list_departments()}
    else:
        assert names <= {row[1] for row in setup.db.list_departments()}


async def test_open_ticket_uses_what_the_module_offers(setup: Setup) -> None:
    start = len(setup.sim_log)
    body = await setup.whmcs(
        "OpenTicket", deptid="1", clientid="1", contactid="1", subject="generation check", message="hello"
    )
    assert body["result"] == "success", body
    calls = setup.sim_log[start:]
    listings = [c for c in calls if c[0] == "GET" and c[1].split("?")[0].rstrip("/") == "/api/tickets"]
    if setup.module == 3:
        assert listings == [], f"an unpaged listing during a create on 3.x: {calls}"
    else:
        assert len(listings) <= 1, calls
    rows = [r for r in setup.db.list_ticket_rows() if r["subject"] == "generation check"]
    assert [str(r["ticketid"]) for r in rows] == [str(body["id"])]
