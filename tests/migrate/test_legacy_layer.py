"""The legacy id layer over a small in-memory backend: both directions of translation, per dialect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple, cast

import pytest

from gateway import context
from gateway.backends.base import BackendDefaults
from gateway.canonical import Author, Contact, ContactPatch, Department, NewTicket, Ticket
from gateway.errors import NotFound
from gateway.migrate.journal import Entry, SQLiteJournal
from gateway.migrate.legacy import IdMap, LegacyIds


class Header(NamedTuple):
    id: int
    department_id: int
    customer_id: int
    contact_id: int


class Target:
    """Just enough of a backend: tickets by id, and what open_ticket was asked."""

    name = "pmp"

    def __init__(self) -> None:
        self.tickets = {
            103: Ticket(
                id=103, subject="migrated", customer_id=53, contact_id=73, department=Department(id=2, name="S")
            ),
            100: Ticket(id=100, subject="native", customer_id=50, requester=Author(kind="customer", customer_id=50)),
        }
        self.opened: list[NewTicket] = []

    async def get_ticket(self, ticket_id: int) -> Ticket:
        if ticket_id not in self.tickets:
            raise NotFound("ticket", "Ticket ID Not Found")
        return self.tickets[ticket_id]

    async def ticket_headers(self) -> list[Header]:
        return [Header(t.id, t.department.id if t.department else 0, t.customer_id, t.contact_id)
                for t in self.tickets.values()]  # fmt: skip

    async def open_ticket(self, new: NewTicket) -> Ticket:
        self.opened.append(new)
        made = Ticket(id=108, subject=new.subject, customer_id=new.customer_id)
        self.tickets[108] = made
        return made


async def _layer(tmp_path: Path) -> tuple[LegacyIds, Target]:
    journal = SQLiteJournal(tmp_path / "store.sqlite3")
    await journal.put(Entry("ticket", "3", "103", "done", "", "", json.dumps({"number": "T-3", "key": "abc"})))
    await journal.put(Entry("customer", "3", "53", "done"))
    await journal.put(Entry("contact", "4", "73", "done"))
    await journal.set_meta("departments", json.dumps({"1": 2}))
    await journal.set_meta("max_source_id:ticket", "6")
    await journal.set_meta("max_source_id:customer", "3")
    ids = IdMap(journal)
    await ids.load()
    target = Target()
    layer: Any = LegacyIds(cast(Any, target), ids, native_dialects=["pmp"])
    return layer, target


def _as(dialect: str) -> None:
    context.begin(context.RequestContext(dialect=dialect))


async def test_legacy_dialects_see_source_ids_and_the_target_dialect_real_ones(tmp_path: Path) -> None:
    layer, _ = await _layer(tmp_path)
    _as("whmcs")
    t = await layer.get_ticket(3)
    assert (t.id, t.number, t.access_key, t.customer_id, t.contact_id) == (3, "T-3", "abc", 3, 4)
    assert t.department is not None and t.department.id == 1
    with pytest.raises(NotFound):
        await layer.get_ticket(7)  # not shown yet: no id was allocated
    headers = await layer.ticket_headers()
    assert sorted(h.id for h in headers) == [3, 7]  # the target-only ticket 100 above the source's 6
    assert {h.customer_id for h in headers} == {3, 4}  # customer 50 allocated above the source's 3
    assert (await layer.get_ticket(7)).subject == "native"
    with pytest.raises(NotFound):
        await layer.get_ticket(103)  # a target id means nothing to a legacy client
    _as("pmp")
    assert (await layer.get_ticket(103)).id == 103
    assert sorted(h.id for h in await layer.ticket_headers()) == [100, 103]


async def test_a_legacy_write_is_translated_in_and_gets_an_allocated_id(tmp_path: Path) -> None:
    layer, target = await _layer(tmp_path)
    _as("clientexec")
    made = await layer.open_ticket(NewTicket(subject="s", message="m", department_id=1, customer_id=3))
    assert (target.opened[0].department_id, target.opened[0].customer_id) == (2, 53)
    assert made.id > 6 and made.customer_id == 3
    assert (await layer.get_ticket(made.id)).subject == "s"
    with pytest.raises(NotFound):
        await layer.open_ticket(NewTicket(subject="s", message="m", department_id=9))


class NumberedTarget(Target, BackendDefaults):
    """A target with its own ticket numbers and contacts (a WHMCS-like backend)."""

    def __init__(self) -> None:
        super().__init__()
        self.contacts = {73: Contact(id=73, customer_id=53, lastname="Old")}

    async def ticket_id_for(self, number: str) -> int | None:
        return {"NAT-100": 100, "MIG-103": 103}.get(number)

    async def flagged_tickets(self) -> int:
        return 2

    async def update_contact(self, contact_id: int, patch: ContactPatch) -> Contact:
        made = self.contacts[contact_id].model_copy(update=patch.model_dump(exclude_unset=True))
        self.contacts[contact_id] = made
        return made


async def test_optional_methods_are_forwarded_and_translated(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "store.sqlite3")
    await journal.put(Entry("ticket", "3", "103", "done", "", "", json.dumps({"number": "T-3"})))
    await journal.put(Entry("contact", "4", "73", "done"))
    await journal.set_meta("max_source_id:ticket", "6")
    ids = IdMap(journal)
    await ids.load()
    target = NumberedTarget()
    layer: Any = LegacyIds(cast(Any, target), ids, native_dialects=["whmcs"])
    _as("clientexec")
    assert await layer.resolve_number("T-3") == 3  # the source's number
    assert await layer.ticket_id_for("MIG-103") == 3  # the target's number, shown under the legacy id
    native = await layer.ticket_id_for("NAT-100")
    assert native is not None and native > 6  # allocated above the source's highest
    assert await layer.flagged_tickets() == 2
    assert (await layer.ticket_summary(3)).subject == "migrated"
    changed = await layer.update_contact(4, ContactPatch(lastname="New"))
    assert (changed.id, changed.lastname) == (4, "New")  # the legacy contact id in and out
    assert target.contacts[73].lastname == "New"
    _as("whmcs")
    assert await layer.resolve_number("T-3") is None  # the target's own dialect: no legacy numbers
    assert await layer.ticket_id_for("MIG-103") == 103
