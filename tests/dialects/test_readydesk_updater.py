"""ReadyDesk's "who touched it last" fields (seed 002: opened_by, updated_by, updater_type,
last_updated) on tickets with staff replies, customer replies and notes, end to end on the
embedded PMP 3.x simulator (whose reply table the gateway reads).

Demo data: ticket 3's last reply is staff member 2's (Bob Builder); ticket 6 was opened by
staff member 1 (Alice Admin) for customer 1; ticket 1 has a staff note and no reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.app import STATE
from gateway.pmp_sim import STATS_KEY
from tests.dialects.test_readydesk import FORMATS, KEY, Client, _start

WHO = ("opened_by", "updated_by", "updater_type")


@pytest.fixture
async def rd(tmp_path: Path) -> AsyncIterator[Client]:
    async for client in _start(tmp_path):
        yield client


async def _record(rd: Client, fmt: str, tid: int, **params: str) -> dict[str, str]:
    records = await rd.records(fmt, tid=str(tid), **params)
    assert len(records) == 1, records
    return records[0]


async def _reply(rd: Client, tid: int, **author: str) -> None:
    form = {"action": "AddTicketReply", "identifier": "rd", "secret": KEY, "responsetype": "json"}
    form.update(ticketid=str(tid), message="Checked again.", **author)
    async with rd.gw.session.post(rd.gw.url + "/includes/api.php", data=form) as resp:
        assert (resp.status, (await resp.json(content_type=None))["result"]) == (200, "success")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_staff_reply_is_the_technicians_update(rd: Client, fmt: str) -> None:
    three = await _record(rd, fmt, 3)
    # opened by customer 3, last answered by staff member 2
    assert tuple(three[k] for k in WHO) == ("3", "2", "TECH")
    assert three["last_updated"] == "3/3/2024 3:30:00 PM"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_ticket_opened_by_staff_shows_the_technician(rd: Client, fmt: str) -> None:
    six = await _record(rd, fmt, 6)
    assert tuple(six[k] for k in WHO) == ("1", "1", "TECH")
    assert (six["cid"], six["assigned_tech"]) == ("1", "1")  # still the customer's ticket


async def test_a_note_is_not_an_update_by_the_customer_or_staff(rd: Client) -> None:
    one = await _record(rd, "json", 1)
    assert tuple(one[k] for k in WHO) == ("1", "1", "CUSTOMER")
    assert one["last_updated"] == one["date_opened"] == "3/1/2024 9:15:00 AM"


async def test_replies_written_through_the_gateway_move_the_updater(rd: Client) -> None:
    await _reply(rd, 1, adminusername="bob.builder@pmp.example")
    after_staff = await _record(rd, "json", 1)
    assert tuple(after_staff[k] for k in WHO) == ("1", "2", "TECH")
    assert after_staff["status"] == "Answered"
    await _reply(rd, 1, clientid="1")
    after_customer = await _record(rd, "xml", 1)
    assert tuple(after_customer[k] for k in WHO) == ("1", "1", "CUSTOMER")
    await _reply(rd, 1, name="Pat Guest", email="pat@example.org")
    after_guest = await _record(rd, "url", 1)
    assert tuple(after_guest[k] for k in WHO) == ("1", "Pat Guest", "CUSTOMER")


@pytest.mark.parametrize(
    "params",
    [{}, {"count": "2", "page": "2", "order": "tid"}, {"count": "3", "order": "tid DESC"}, {"cid": "3"}],
    ids=["whole", "paged", "ordered", "filtered"],
)
async def test_every_list_path_names_the_last_author(rd: Client, params: dict[str, str]) -> None:
    """Whole lists, backend pages, index pages and filtered lists all show the same authors."""
    records = await rd.records("json", tid="*", **params)
    assert records
    expected = {
        1: ("1", "1", "CUSTOMER"),
        2: ("2", "2", "CUSTOMER"),
        3: ("3", "2", "TECH"),
        4: ("WEBSITE", "Walk-in Visitor", "CUSTOMER"),
        6: ("1", "1", "TECH"),
    }
    for record in records:
        tid = int(record["tid"])
        if tid in expected:
            assert tuple(record[k] for k in WHO) == expected[tid], tid


@pytest.mark.parametrize("fmt", FORMATS)
async def test_company_name_is_the_customers_company(rd: Client, fmt: str) -> None:
    """Seed 002's company_name ("URL Encoded: Yes"): the customer's company; none for a walk-in."""
    records = {int(r["tid"]): r for r in await rd.records(fmt, tid="*")}
    assert records[1]["company_name"] == "Acme Widgets Ltd"  # decoded by the helper
    assert records[4]["company_name"] == ""
    _, _, raw = await rd.raw({"action": "get_tickets", "tid": "3", "format": fmt})
    assert "%26+%3CSons%3E" in raw  # "& <Sons>" form-encoded in every format


async def test_a_list_names_the_last_author_without_a_read_per_ticket(rd: Client) -> None:
    """The reply index names who wrote last: no ticket, contact or extra table read per row."""
    runner = rd.gw.app[STATE].sim_runner
    assert runner is not None
    log = runner.app[STATS_KEY].recent
    start = len(log)
    records = await rd.records("json", tid="*")
    assert {r["updater_type"] for r in records} == {"CUSTOMER", "TECH"}
    calls = list(log)[start:]
    assert not [c for c in calls if c[1].startswith(("/api/contacts", "/api/tickets/"))], calls
    assert len([c for c in calls if "tblticket_replies" in c[1]]) <= 1, calls
