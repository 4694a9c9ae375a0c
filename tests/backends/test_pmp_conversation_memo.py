"""GetTicket with the conversation on PMP 3.x, polled: every backend read happens, nothing is parsed twice.

The scripted module of test_pmp_v3 answers; each test changes what it answers between reads
and checks that the next GetTicket shows it (INTERFACE "Freshness"), while an unchanged
conversation gives back the very same Ticket object (what lets the render memo serve it).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from gateway.backends import http
from gateway.backends.pmp.conversation import Memo, SingleFlight
from gateway.canonical import Author, NewReply
from gateway.mapping.loader import VendorMappings
from tests.backends.test_pmp_v3 import TICKET, Answer, Module, backend, deadline, mappings, reply

__all__ = ["deadline", "mappings"]  # the fixtures, shared with test_pmp_v3

TABLE = "api/thirdparty/customtable/tblticket_replies"


def _thread() -> tuple[list[dict[str, str]], dict[str, Any], list[dict[str, str]]]:
    table = [
        {"id": "1", "ticketid": "5", "admin": "1", "userid": "0", "contactid": "0", "message": "staff says",
         "date": "2024-03-01 10:00:00"},
        {"id": "2", "ticketid": "5", "admin": "0", "userid": "1", "contactid": "2", "message": "customer says",
         "date": "2024-03-01 11:00:00"},
        {"id": "3", "ticketid": "6", "admin": "0", "userid": "1", "contactid": "2", "message": "another ticket",
         "date": "2024-03-01 11:30:00"},
    ]  # fmt: skip
    row = dict(TICKET, lastreply="2024-03-01 11:00:00")
    notes = [{"id": "7", "rel_id": "5", "rel_type": "ticket", "description": "note one", "addedfrom": "2",
              "dateadded": "2024-03-01 12:00:00"}]  # fmt: skip
    return table, row, notes


def _module(table: list[dict[str, str]], row: dict[str, Any], notes: list[dict[str, str]]) -> Module:
    # each answer built at the time of the request, from the lists as they are then
    return Module(
        routes={
            ("GET", TABLE): lambda *a: reply(200, table),
            ("GET", "api/tickets/5"): lambda *a: reply(200, row),
            ("GET", "api/notes/ticket/5"): lambda *a: reply(200, notes),
        }
    )


async def test_an_unchanged_conversation_is_the_same_ticket_and_every_read_happens(
    mappings: VendorMappings, deadline: None
) -> None:
    table, row, notes = _thread()
    module = _module(table, row, notes)
    pmp = backend(mappings, module)
    await pmp.discover()
    first = await pmp.get_ticket(5)
    assert [(r.author.name, r.message) for r in first.replies[1:]] == [
        ("Alice Admin", "staff says"),
        ("Jo Doe", "customer says"),
    ]
    assert [(n.staff_name, n.message) for n in first.notes] == [("Bob Builder", "note one")]
    before = module.calls()
    for _ in range(3):
        assert await pmp.get_ticket(5) is first
    after = module.calls()[len(before) :]
    # every GetTicket read the ticket and its notes; the reply table, staff and contacts were cached
    assert after == [("GET", "api/tickets/5"), ("GET", "api/notes/ticket/5")] * 3


async def test_what_changed_in_the_backend_shows_at_the_next_read(mappings: VendorMappings, deadline: None) -> None:
    table, row, notes = _thread()
    module = _module(table, row, notes)
    pmp = backend(mappings, module)
    await pmp.discover()
    first = await pmp.get_ticket(5)

    notes.append(dict(notes[0], id="8", description="note two", addedfrom="1", dateadded="2024-03-01 13:00:00"))
    second = await pmp.get_ticket(5)
    assert second is not first
    named = [(n.staff_name, n.message) for n in second.notes]
    assert named == [("Bob Builder", "note one"), ("Alice Admin", "note two")]
    assert second.replies == first.replies

    row["subject"] = "renamed"
    third = await pmp.get_ticket(5)
    assert third.subject == "renamed" and third.notes == second.notes and third.replies == first.replies

    table.append({"id": "9", "ticketid": "5", "admin": "0", "userid": "0", "contactid": "0", "name": "Guest",
                  "email": "g@x.example", "message": "guest says", "date": "2024-03-02 08:00:00"})  # fmt: skip
    row["lastreply"] = "2024-03-02 08:00:00"
    fourth = await pmp.get_ticket(5)
    assert [(r.author.kind, r.message) for r in fourth.replies[1:]][-1] == ("guest", "guest says")
    assert len(fourth.replies) == len(first.replies) + 1

    notes.clear()
    fifth = await pmp.get_ticket(5)
    assert fifth.notes == () and fifth.replies == fourth.replies
    # the other ticket's replies come from the same index, parsed for it alone
    assert [r.message for r in (await pmp.with_replies([await pmp.ticket_summary(5)]))[0].replies[1:]] == [
        "staff says",
        "customer says",
        "guest says",
    ]


async def test_a_reply_written_through_the_gateway_shows_at_once(mappings: VendorMappings, deadline: None) -> None:
    table, row, notes = _thread()
    module = _module(table, row, notes)
    posted: list[dict[str, str]] = []

    def post(method: str, path: str, form: Mapping[str, str], body: Any) -> Answer:
        posted.append(dict(form))
        return reply(200, {"status": True, "record_id": 40 + len(posted)})

    module.routes[("POST", TABLE)] = post
    pmp = backend(mappings, module)
    await pmp.discover()
    first = await pmp.get_ticket(5)
    reads = module.calls().count(("GET", TABLE))
    await pmp.add_reply(5, NewReply(message="written here", author=Author(kind="staff", name="Bob Builder")))
    # the module's row still shows the old lastreply: the reply is known from the write itself
    second = await pmp.get_ticket(5)
    assert second is not first
    assert [(r.id, r.author.name, r.message) for r in second.replies[1:]][-1] == (41, "Bob Builder", "written here")
    assert module.calls().count(("GET", TABLE)) == reads


async def test_renamed_contacts_rename_the_replies_when_contacts_are_not_cached(
    mappings: VendorMappings, deadline: None
) -> None:
    uncached = dataclasses.replace(mappings, settings={**mappings.settings, "contacts_cache_seconds": 0})
    table, row, notes = _thread()
    people = [{"id": "2", "userid": "1", "firstname": "Jo", "lastname": "Doe", "email": "jo@x.example"}]
    module = _module(table, row, notes)
    module.routes[("GET", "api/contacts/1")] = lambda *a: reply(200, people)
    pmp = backend(uncached, module)
    await pmp.discover()
    first = await pmp.get_ticket(5)
    assert first.replies[-1].author.name == "Jo Doe"
    people[0] = dict(people[0], firstname="Joanna")
    second = await pmp.get_ticket(5)
    assert second.replies[-1].author.name == "Joanna Doe" and second.replies[-1].author.email == "jo@x.example"


async def test_an_expired_contacts_cache_is_read_once_for_all_waiting(mappings: VendorMappings, deadline: None) -> None:
    gate = asyncio.Event()
    people = [{"id": "2", "userid": "1", "firstname": "Jo", "lastname": "Doe", "email": "jo@x.example"}]

    async def contacts(*a: Any) -> Answer:
        await gate.wait()
        return reply(200, people)

    module = Module(routes={("GET", "api/contacts/1"): contacts})
    pmp = backend(mappings, module)
    waiting = [asyncio.ensure_future(pmp.list_contacts(1)) for _ in range(5)]
    await asyncio.sleep(0.01)
    gate.set()
    found = await asyncio.gather(*waiting)
    assert module.calls().count(("GET", "api/contacts/1")) == 1
    assert all([c.full_name for c in f] == ["Jo Doe"] for f in found)


async def test_single_flight_shares_one_read_and_never_another_requests_error() -> None:
    flight: SingleFlight[int, str] = SingleFlight()
    gate = asyncio.Event()
    reads: list[str] = []

    async def read(answer: str, fail: bool = False) -> str:
        reads.append(answer)
        await gate.wait()
        if fail:
            raise http.TransportError("refused", sent=False, timeout=False)
        return answer

    def reading(answer: str) -> Callable[[], Awaitable[str]]:
        return lambda: read(answer)

    shared = [asyncio.ensure_future(flight.run(1, reading(a))) for a in ("a", "b", "c")]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*shared) == ["a", "a", "a"] and reads == ["a"]

    # the leader fails: its error is its own, each waiter then reads for itself
    gate.clear()
    reads.clear()
    leader = asyncio.ensure_future(flight.run(1, lambda: read("x", fail=True)))
    await asyncio.sleep(0)
    waiters = [asyncio.ensure_future(flight.run(1, reading(a))) for a in ("y", "z")]
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(http.TransportError):
        await leader
    assert await asyncio.gather(*waiters) == ["y", "z"] and reads == ["x", "y", "z"]

    # a waiter cancelled leaves the read running for the others
    gate.clear()
    reads.clear()
    first = asyncio.ensure_future(flight.run(2, lambda: read("p")))
    await asyncio.sleep(0)
    quitter = asyncio.ensure_future(flight.run(2, lambda: read("q")))
    await asyncio.sleep(0)
    quitter.cancel()
    gate.set()
    assert await first == "p" and reads == ["p"]
    with pytest.raises(asyncio.CancelledError):
        await quitter

    # a write forgets the read in flight: the next caller starts a new one
    gate.clear()
    reads.clear()
    old = asyncio.ensure_future(flight.run(3, lambda: read("old")))
    await asyncio.sleep(0)
    epoch = flight.epoch
    flight.forget(3)
    new = asyncio.ensure_future(flight.run(3, lambda: read("new")))
    await asyncio.sleep(0)
    gate.set()
    assert (await old, await new) == ("old", "new") and flight.epoch == epoch + 1


def test_memo_is_bounded_least_recently_used_first() -> None:
    memo: Memo[int, str] = Memo(2)
    memo.put(1, "one")
    memo.put(2, "two")
    assert memo.get(1) == "one"  # 2 is now the least recently used
    memo.put(3, "three")
    assert (memo.get(2), memo.get(1), memo.get(3), len(memo)) == (None, "one", "three", 2)
    memo.pop(1)
    memo.pop(99)
    assert len(memo) == 1
