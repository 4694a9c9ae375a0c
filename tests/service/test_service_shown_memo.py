"""A ticket shown with the store's number or its replies newest first is the same object while the
backend's ticket is (the dialect's render memo knows it again), and a new one when that changes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from gateway import canonical as c
from gateway import context
from gateway import operations as ops
from gateway.backends.base import BackendDefaults
from gateway.service import Service
from gateway.store import MemoryStore


def _ticket(subject: str) -> c.Ticket:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    replies = tuple(
        c.Reply(id=i, created_at=when, message=f"reply {i}", author=c.Author(kind="customer", name="Ann"))
        for i in range(3)
    )
    return c.Ticket(id=7, number="7", subject=subject, status=c.Status.OPEN, created_at=when, replies=replies)


class OneTicket(BackendDefaults):
    """A backend whose one ticket is the same object until ``change`` (as the PMP adapter's memo)."""

    name = "test"

    def __init__(self) -> None:
        self.ticket = _ticket("first")

    def change(self) -> None:
        self.ticket = _ticket("second")

    async def get_ticket(self, ticket_id: int) -> c.Ticket:
        return self.ticket


async def test_replies_newest_first_and_a_linked_number_are_the_same_object_until_the_ticket_changes() -> None:
    context.begin(context.RequestContext(deadline=time.monotonic() + 60))
    backend = OneTicket()
    store = MemoryStore()
    service = Service(backend, store)  # type: ignore[arg-type]
    desc = ops.GetTicketArgs(ticket_id=7, replies_desc=True)
    first = await service.get_ticket(desc)
    assert [r.id for r in first.replies] == [2, 1, 0]
    assert await service.get_ticket(desc) is first
    assert (await service.get_ticket(ops.GetTicketArgs(ticket_id=7))) is backend.ticket  # ascending: as it is
    await store.link("ticket", "ABC-123", 7)
    linked = await service.get_ticket(desc)
    assert linked.number == "ABC-123" and [r.id for r in linked.replies] == [2, 1, 0]
    assert await service.get_ticket(desc) is linked
    backend.change()
    changed = await service.get_ticket(desc)
    assert changed.subject == "second" and changed is not linked and changed.number == "ABC-123"
