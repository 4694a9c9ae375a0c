"""A WHMCS client in front of a WHMCS backend sees what WHMCS itself sends; writes land exactly once;
WHMCS's refusals reach the client as the gateway's errors (INTERFACE "Backends")."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.whmcs_backend import SIM_ID, SIM_SECRET, WhmcsPair, start_pair

CASES = yaml.safe_load((Path(__file__).parent / "data" / "whmcs_identity.yaml").read_text(encoding="utf-8"))


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[WhmcsPair]:
    async for running in start_pair(tmp_path):
        yield running


async def _fill(pair: WhmcsPair, params: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, value in params.items():
        match = re.fullmatch(r"\{tid:(\d+)\}", value)
        if match:
            _, ticket = await pair.direct("GetTicket", ticketid=match.group(1))
            value = ticket["tid"]
        out[key] = value
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['action']}{sorted(c['params'].items())}")
async def test_a_whmcs_read_through_the_gateway_is_what_whmcs_sends(pair: WhmcsPair, case: dict[str, Any]) -> None:
    params = await _fill(pair, case["params"])
    direct = await pair.direct(case["action"], **params)
    through = await pair.through(case["action"], **params)
    for key in case.get("ignore", ()):
        direct[1].pop(key, None)
        through[1].pop(key, None)
    assert through == direct


async def test_identity_holds_after_writes_through_the_gateway(pair: WhmcsPair) -> None:
    status, opened = await pair.through(
        "OpenTicket", deptid="1", subject="Identity", message="Line one\r\nLine two", clientid="1", priority="High"
    )
    assert status == 200 and opened["result"] == "success"
    await pair.through("AddTicketReply", ticketid=opened["id"], message="A reply", clientid="1")
    await pair.through("AddTicketNote", ticketid=opened["id"], message="A note")
    await pair.through("UpdateTicket", ticketid=opened["id"], status="On Hold", flag="1")
    for action, params in (("GetTicket", {"ticketid": opened["id"]}), ("GetTickets", {})):
        assert await pair.through(action, **params) == await pair.direct(action, **params)
    _, ticket = await pair.direct("GetTicket", ticketid=opened["id"])
    assert (ticket["tid"], ticket["c"]) == (opened["tid"], opened["c"])  # WHMCS's own ids
    assert (ticket["status"], ticket["priority"], ticket["flag"]) == ("On Hold", "High", "1")


async def test_a_write_lands_exactly_once(pair: WhmcsPair) -> None:
    _, before = await pair.direct("GetTickets", limitnum="1")
    _, opened = await pair.through("OpenTicket", deptid="2", subject="Once", message="m", name="G", email="g@x.example")
    _, after = await pair.direct("GetTickets", limitnum="1")
    assert int(after["totalresults"]) == int(before["totalresults"]) + 1
    await pair.through("AddTicketReply", ticketid=opened["id"], message="only once", name="G", email="g@x.example")
    _, ticket = await pair.direct("GetTicket", ticketid=opened["id"])
    assert [r["message"] for r in ticket["replies"]["reply"]].count("only once") == 1


async def test_original_dates_are_kept(pair: WhmcsPair) -> None:
    _, opened = await pair.through(
        "OpenTicket", deptid="1", subject="Old", message="m", clientid="1", created="2020-01-02 03:04:05"
    )
    reply = {"message": "r", "clientid": "1", "created": "2020-01-03 04:05:06"}
    await pair.through("AddTicketReply", ticketid=opened["id"], **reply)
    _, ticket = await pair.direct("GetTicket", ticketid=opened["id"])
    assert ticket["date"] == "2020-01-02 03:04:05"
    assert ticket["replies"]["reply"][-1]["date"] == "2020-01-03 04:05:06"


async def test_a_missing_ticket_is_whmcs_not_found(pair: WhmcsPair) -> None:
    _, answer = await pair.through("AddTicketReply", ticketid="999999", message="x", clientid="1")
    assert answer == {"result": "error", "message": "Ticket ID not found"}


@pytest.fixture
async def walled(tmp_path: Path) -> AsyncIterator[WhmcsPair]:
    async for running in start_pair(tmp_path, allowed_ips=["10.9.9.9"]):
        yield running


async def test_invalid_ip_is_reported_as_exactly_that(walled: WhmcsPair) -> None:
    status, answer = await walled.through("GetTicket", ticketid="1")
    assert status == 200 and answer["result"] == "error"
    assert "Invalid IP 127.0.0.1" in answer["message"] and "accesskey" in answer["message"]
    assert "Authentication Failed" not in answer["message"]


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[WhmcsPair]:
    from gateway.whmcs_sim.common import Credential

    reads = frozenset({"GetTicket", "GetTickets", "GetSupportDepartments", "GetClientsDetails", "GetContacts"})
    credential = Credential("reader", "reader-secret", actions=reads)
    async for running in start_pair(tmp_path, "reader:reader-secret", credentials=[credential]):
        yield running


async def test_invalid_permissions_is_a_capability_the_role_lacks(limited: WhmcsPair) -> None:
    status, answer = await limited.through("AddTicketNote", ticketid="1", message="x")
    assert status == 200 and answer["result"] == "error"
    assert "AddTicketNote" in answer["message"] and "role" in answer["message"]
    assert "Authentication Failed" not in answer["message"]
    status, answer = await limited.through("GetTicket", ticketid="1")
    assert answer["result"] == "success"


async def test_a_wrong_backend_credential_is_not_the_clients_failure(tmp_path: Path) -> None:
    async for pair in start_pair(tmp_path, f"{SIM_ID}:{SIM_SECRET}-wrong"):
        status, answer = await pair.through("GetTicket", ticketid="1")
        assert status == 200 and answer["result"] == "error" and answer["message"] != "Authentication Failed"
