"""The simulator driven by real PyPI WHMCS clients: whmcspy (requests) and whmcs-api-client (urllib3).

Both are synchronous: each call runs in a worker thread while the event loop serves the simulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import whmcs_client
import whmcspy
from whmcspy import exceptions as whmcspy_errors

from gateway.whmcs_sim import Credential
from tests.whmcs_sim.conftest import IDENT, SECRET, Sim, SimFactory

T = TypeVar("T")
AUTH = {"username": IDENT, "password": SECRET, "responsetype": "json"}


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(fn, *args, **kwargs)


@pytest.fixture
def whmcspy_client(sim: Sim) -> whmcspy.WHMCS:
    return whmcspy.WHMCS(sim.api, IDENT, SECRET)


@pytest.fixture
def whmcs_api(sim: Sim) -> Iterator[whmcs_client.DefaultApi]:
    config = whmcs_client.Configuration(host=sim.url + "includes")
    with whmcs_client.ApiClient(config) as api_client:
        yield whmcs_client.DefaultApi(api_client)


async def test_whmcspy_pages_tickets(sim: Sim, whmcspy_client: whmcspy.WHMCS) -> None:
    def collect() -> list[str]:
        return [t["id"] for t in whmcspy_client.get_tickets(limitnum=4)]

    ids = await in_thread(collect)
    assert sorted(ids, key=int) == ["1", "2", "3", "4", "5", "6"] and len(ids) == 6


async def test_whmcspy_open_ticket_and_reply(sim: Sim, whmcspy_client: whmcspy.WHMCS) -> None:
    before = sim.db.count_tickets()
    await in_thread(whmcspy_client.open_ticket, 2, "From whmcspy", "Hello\r\nthere", clientid=3)
    assert sim.db.count_tickets() == before + 1
    new_id = sim.db.scalar("SELECT MAX(id) FROM tbltickets")
    out = await in_thread(whmcspy_client.call, "AddTicketReply", ticketid=new_id, message="ok", adminusername="alice")
    assert out == {"result": "success"}
    ticket = await in_thread(whmcspy_client.call, "GetTicket", ticketid=new_id)
    assert (ticket["subject"], ticket["status"], ticket["userid"]) == ("From whmcspy", "Answered", "3")


async def test_whmcspy_errors(sim: Sim, whmcspy_client: whmcspy.WHMCS) -> None:
    with pytest.raises(whmcspy_errors.Error, match="Ticket ID Not Found"):
        await in_thread(whmcspy_client.call, "GetTicket", ticketid=999)
    with pytest.raises(whmcspy_errors.Error, match="Command Not Found"):
        await in_thread(whmcspy_client.call, "NoSuchThing")
    bad = whmcspy.WHMCS(sim.api, IDENT, "wrong")
    with pytest.raises(whmcspy_errors.MissingPermission, match="Authentication Failed"):
        await in_thread(bad.call, "GetTickets")


async def test_whmcspy_missing_permission(make_sim: SimFactory) -> None:
    sim = await make_sim(credentials=[Credential("ro", "ro-secret", actions=frozenset({"gettickets"}))])
    client = whmcspy.WHMCS(sim.api, "ro", "ro-secret")
    with pytest.raises(whmcspy_errors.MissingPermission, match='API action "getclients" is not allowed'):
        await in_thread(client.call, "GetClients")


async def test_whmcspy_paginated_contacts(sim: Sim, whmcspy_client: whmcspy.WHMCS) -> None:
    for i in range(3):
        await in_thread(whmcspy_client.call, "AddContact", clientid=3, firstname=f"C{i}", email=f"c{i}@example.org")

    def collect() -> list[int]:
        pages = whmcspy_client.paginated_call("GetContacts", limitnum=2)
        return [c["id"] for page in pages for c in page["contacts"]["contact"]]

    assert len(await in_thread(collect)) == 4


async def test_whmcs_api_client_get_clients(whmcs_api: whmcs_client.DefaultApi) -> None:
    out = await in_thread(whmcs_api.get_clients, **AUTH)
    assert out.result == "success"
    assert (out.totalresults, out.startnumber, out.numreturned) == (3, 0, 3)
    assert out.clients is not None and out.clients.client is not None
    assert [c.id for c in out.clients.client] == [1, 2, 3]
    assert out.clients.client[0].datecreated == "2023-02-01"
    empty = await in_thread(whmcs_api.get_clients, **AUTH, search="nobody")
    assert empty.numreturned == 0


async def test_whmcs_api_client_details_add_update(whmcs_api: whmcs_client.DefaultApi) -> None:
    details = await in_thread(whmcs_api.get_clients_details, **AUTH, clientid=2)
    assert details.client is not None and details.client.email == "an.nguyen@trungbinh.example"
    added = await in_thread(
        whmcs_api.add_client,
        **AUTH,
        firstname="Ann",
        lastname="Lee",
        email="ann.lee@example.org",
        address1="1 Road",
        city="Leeds",
        state="West Yorkshire",
        postcode="LS1",
        country="GB",
        phonenumber="+44 113 000",
    )
    assert added.result == "success" and added.clientid == 4
    updated = await in_thread(whmcs_api.update_client, **AUTH, clientid=4, city="York")
    assert (updated.result, updated.clientid) == ("success", "4")
    refused = await in_thread(
        whmcs_api.add_client, **AUTH, firstname="A", lastname="B", email="zoe@unicode.example", address1="x",
        city="x", state="x", postcode="x", country="GB", phonenumber="1",
    )  # fmt: skip
    assert (refused.result, refused.message) == ("error", "A user already exists with that email address")
