"""WhmcsBackend under a caller that settles its own writes (``context.caller_settles``: a
migration, with its journal): no read before a write only to settle it, and a lost answer is
"outcome unknown" at once, never sent again.  Against the scriptable WHMCS on loopback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from gateway import context
from gateway.backends.whmcs import WhmcsBackend
from gateway.canonical import Author, NewNote, NewReply, NewTicket
from gateway.errors import WriteOutcomeUnknown
from gateway.mapping.loader import ZoneConfig, load_mappings
from gateway.store import MemoryStore
from tests.backends.whmcs_fake import FakeWhmcs, serve


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhmcs]:
    async for running in serve(FakeWhmcs()):
        yield running


@pytest.fixture
async def backend(fake: FakeWhmcs) -> AsyncIterator[WhmcsBackend]:
    mappings = load_mappings(zones=ZoneConfig(backend="UTC"))["whmcs"]
    async with aiohttp.ClientSession() as session:
        yield WhmcsBackend(fake.url, "api-id:api-secret", mappings, MemoryStore(), session=session, retries=1)


@pytest.fixture
def settling_caller() -> Iterator[None]:
    ctx = context.RequestContext(deadline=time.monotonic() + 10)
    ctx.caller_settles = True
    token = context.begin(ctx)
    yield
    context.end(token)


def actions(fake: FakeWhmcs) -> list[str]:
    return [name for name, _ in fake.calls]


CUSTOMER = Author(kind="customer", customer_id=1)


async def test_replies_and_notes_are_sent_without_a_read_first(
    fake: FakeWhmcs, backend: WhmcsBackend, settling_caller: None
) -> None:
    await backend.add_reply(1, NewReply(message="one", author=CUSTOMER))
    await backend.add_reply(1, NewReply(message="two", author=CUSTOMER))
    await backend.add_note(1, NewNote(message="a note", staff_name="alice"))
    assert actions(fake) == ["AddTicketReply", "AddTicketReply", "AddTicketNote"]
    assert [r["message"] for r in fake.tickets[1]["replies"]["reply"]][-2:] == ["one", "two"]


async def test_a_lost_reply_answer_is_unknown_and_not_sent_again(
    fake: FakeWhmcs, backend: WhmcsBackend, settling_caller: None
) -> None:
    fake.faults["AddTicketReply"] = "drop-after"
    with pytest.raises(WriteOutcomeUnknown):
        await backend.add_reply(1, NewReply(message="only once", author=CUSTOMER))
    assert actions(fake) == ["AddTicketReply"]
    assert [r["message"] for r in fake.tickets[1]["replies"]["reply"]].count("only once") == 1


async def test_open_lists_nothing_before_the_create_and_a_lost_answer_is_unknown(
    fake: FakeWhmcs, backend: WhmcsBackend, settling_caller: None
) -> None:
    ticket = await backend.open_ticket(NewTicket(subject="s", message="m", department_id=1, customer_id=1))
    assert "GetTickets" not in actions(fake) and actions(fake)[0] == "OpenTicket"
    assert ticket.subject == "s"
    before = len(fake.tickets)
    fake.faults["OpenTicket"] = "drop-after"
    with pytest.raises(WriteOutcomeUnknown):
        await backend.open_ticket(NewTicket(subject="lost", message="m", department_id=1, customer_id=1))
    assert actions(fake).count("OpenTicket") == 2 and len(fake.tickets) == before + 1


async def test_without_the_flag_a_lost_reply_is_still_settled_by_reading(
    fake: FakeWhmcs, backend: WhmcsBackend
) -> None:
    token = context.begin(context.RequestContext(deadline=time.monotonic() + 10))
    try:
        fake.faults["AddTicketReply"] = "drop-after"
        await backend.add_reply(2, NewReply(message="settled", author=CUSTOMER))
    finally:
        context.end(token)
    assert actions(fake).count("AddTicketReply") == 1 and "GetTicket" in actions(fake)
