"""WhmcsBackend against a scriptable WHMCS API on a loopback port (tests/backends/whmcs_fake.py):
the wire (credential, accesskey, responsetype, ignore_dept_assignments, paging), WHMCS's refusals
mapped to the canonical errors, the XML fallback, and writes that are never sent twice."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from gateway import context
from gateway.backends.whmcs import WhmcsBackend
from gateway.canonical import Author, NewNote, NewReply, NewTicket, Priority, Status, TicketPatch
from gateway.errors import (
    BackendAddressRefused,
    BackendAuthError,
    BackendTimeout,
    BackendUnavailable,
    InvalidInput,
    NotFound,
    RateLimited,
    Unsupported,
)
from gateway.mapping.loader import ZoneConfig, load_mappings
from gateway.store import MemoryStore
from tests.backends.whmcs_fake import FakeWhmcs, serve

ZONE = "Europe/Rome"


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhmcs]:
    async for running in serve(FakeWhmcs()):
        yield running


@pytest.fixture
async def backend(fake: FakeWhmcs) -> AsyncIterator[WhmcsBackend]:
    mappings = load_mappings(zones=ZoneConfig(backend=ZONE))["whmcs"]
    async with aiohttp.ClientSession() as session:
        yield WhmcsBackend(
            fake.url, "api-id:api-secret", mappings, MemoryStore(), session=session, accesskey="k3y", retries=1
        )


def actions(fake: FakeWhmcs) -> list[str]:
    return [name for name, _ in fake.calls]


# ---------------------------------------------------------------- reads


async def test_reads_carry_the_credential_accesskey_json_and_every_department(
    fake: FakeWhmcs, backend: WhmcsBackend
) -> None:
    await backend.list_tickets()
    _, params = next(c for c in fake.calls if c[0] == "GetTickets")
    assert params["identifier"] == "api-id" and params["secret"] == "api-secret"
    assert params["accesskey"] == "k3y" and params["responsetype"] == "json"
    assert params["ignore_dept_assignments"] == "1"


async def test_get_ticket_is_whmcs_ids_names_and_dates_in_the_backend_zone(backend: WhmcsBackend) -> None:
    ticket = await backend.get_ticket(1)
    assert (ticket.id, ticket.number, ticket.access_key) == (1, "100001", "c0000001")
    assert (ticket.status, ticket.priority) == (Status.OPEN, Priority.MEDIUM)
    assert ticket.created_at == datetime(2024, 3, 1, 9, 15, tzinfo=ZoneInfo(ZONE))
    assert ticket.replies[0].message == "It is on fire." and ticket.requester.kind == "customer"
    assert ticket.remote is not None and ticket.remote.vendor == "whmcs"
    assert ticket.remote.fields["tid"] == "100001" and "result" not in ticket.remote.fields
    guest = await backend.get_ticket(2)
    assert guest.requester.kind == "guest" and guest.requester.email == "gus@x.example"


async def test_lists_page_with_limitstart_and_limitnum(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    for n in range(5):
        fake.add_ticket(subject=f"bulk {n}")
    backend._page = 3
    tickets = await backend.list_tickets()
    assert [t.id for t in tickets] == list(range(1, 8))
    starts = [p["limitstart"] for name, p in fake.calls if name == "GetTickets"]
    assert starts == ["0", "3", "6"]
    assert all(t.department is not None and t.department.name == "Support" for t in tickets)


async def test_unknown_ticket_is_not_found(backend: WhmcsBackend) -> None:
    with pytest.raises(NotFound) as caught:
        await backend.get_ticket(99)
    assert caught.value.kind == "ticket"


async def test_a_json_answer_whmcs_cannot_encode_is_read_again_as_xml(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    fake.faults["GetTicket"] = "json-fail"
    ticket = await backend.get_ticket(1)
    assert ticket.subject == "Printer on fire" and len(ticket.replies) == 1
    assert [p["responsetype"] for name, p in fake.calls if name == "GetTicket"] == ["json", "xml"]


# ---------------------------------------------------------------- refusals


async def test_authentication_failed_is_the_backend_refusing_the_gateway(
    fake: FakeWhmcs, backend: WhmcsBackend
) -> None:
    fake.faults["GetTicket"] = "auth"
    with pytest.raises(BackendAuthError):
        await backend.get_ticket(1)


async def test_invalid_ip_is_reported_as_exactly_that(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    fake.faults["GetTicket"] = "ip"
    with pytest.raises(BackendAddressRefused) as caught:
        await backend.get_ticket(1)
    assert "Invalid IP 10.1.2.3" in caught.value.message and "accesskey" in caught.value.message
    assert not isinstance(caught.value, BackendAuthError)


async def test_invalid_permissions_is_a_capability_the_role_lacks(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    fake.faults["AddTicketNote"] = "perm"
    with pytest.raises(Unsupported) as caught:
        await backend.add_note(1, NewNote(message="x"))
    assert "AddTicketNote" in caught.value.message
    assert backend.support("add_note")[0] == "refused"
    assert backend.capabilities().features["notes"] == "read-only"
    assert backend.support("add_reply")[0] == "full"


async def test_command_not_found_is_unsupported(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    assert await backend.list_staff() == []  # the fake has no GetAdminUsers
    assert backend.capabilities().features["staff"] == "no"


async def test_rate_limited_reads_are_retried_then_reported(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    fake.faults["GetTicket"] = "429"
    with pytest.raises(RateLimited):
        await backend.get_ticket(1)
    assert actions(fake).count("GetTicket") == 2  # one retry (retries=1)


async def test_a_backend_that_does_not_answer_in_time_is_a_timeout(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    fake.faults["GetTicket"] = "hang"
    token = context.begin(context.RequestContext(deadline=time.monotonic() + 0.5))
    try:
        with pytest.raises(BackendTimeout):
            await backend.get_ticket(1)
    finally:
        context.end(token)


async def test_a_validation_refusal_is_invalid_input_in_whmcs_words(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    fake.faults["UpdateTicket"] = ""

    def refuse(p: dict[str, str]) -> dict[str, str]:
        return {"result": "error", "message": "Invalid Ticket Priority. Valid priorities are: Low,Medium,High"}

    fake.do_UpdateTicket = refuse  # type: ignore[method-assign]
    with pytest.raises(InvalidInput) as caught:
        await backend.update_ticket(1, TicketPatch(priority=Priority.HIGH))
    assert caught.value.message.startswith("Invalid Ticket Priority")


# ---------------------------------------------------------------- writes


async def test_writes_send_names_created_dates_and_noemail(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    created = datetime(2023, 5, 6, 7, 8, 9, tzinfo=ZoneInfo("UTC"))
    new = NewTicket(subject="s", message="m", department_id=1, customer_id=1, priority=Priority.HIGH, notify=False)
    ticket = await backend.open_ticket(new.model_copy(update={"created_at": created}))
    _, params = next(c for c in fake.calls if c[0] == "OpenTicket")
    assert params["priority"] == "High" and params["clientid"] == "1" and params["noemail"] == "1"
    assert params["created"] == "2023-05-06 09:08:09"  # UTC 07:08 in the backend's zone (Rome, summer)
    assert "name" not in params and "contactid" not in params
    assert ticket.number == fake.tickets[ticket.id]["tid"]
    await backend.update_ticket(ticket.id, TicketPatch(status=Status.ON_HOLD, assigned_staff_id=0))
    _, params = next(c for c in fake.calls if c[0] == "UpdateTicket")
    assert params["status"] == "On Hold" and params["removeFlag"] == "1" and "priority" not in params
    await backend.add_reply(ticket.id, NewReply(message="hi", author=Author(kind="staff", name="alice")))
    _, params = next(c for c in fake.calls if c[0] == "AddTicketReply")
    assert params["adminusername"] == "alice" and "clientid" not in params and "noemail" not in params


async def test_a_reply_whose_answer_is_lost_is_not_sent_again_and_counts_once(
    fake: FakeWhmcs, backend: WhmcsBackend
) -> None:
    fake.faults["AddTicketReply"] = "drop-after"
    await backend.add_reply(1, NewReply(message="only once", author=Author(kind="customer", customer_id=1)))
    assert actions(fake).count("AddTicketReply") == 1
    assert [r["message"] for r in fake.tickets[1]["replies"]["reply"]].count("only once") == 1


async def test_a_reply_that_never_landed_is_reported_not_added(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    fake.faults["AddTicketReply"] = "drop-before"
    with pytest.raises(BackendUnavailable) as caught:
        await backend.add_reply(1, NewReply(message="lost", author=Author(kind="customer", customer_id=1)))
    assert "NOT added" in caught.value.message
    assert actions(fake).count("AddTicketReply") == 1


async def test_an_open_whose_answer_is_lost_finds_the_ticket_it_made(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    fake.faults["OpenTicket"] = "drop-after"
    before = len(fake.tickets)
    new = NewTicket(subject="Exactly once", message="m", department_id=1, customer_id=1)
    ticket = await backend.open_ticket(new)
    assert actions(fake).count("OpenTicket") == 1 and len(fake.tickets) == before + 1
    assert ticket.subject == "Exactly once" and ticket.id == max(fake.tickets)


async def test_a_write_whmcs_cannot_answer_in_json_is_settled_not_resent(
    fake: FakeWhmcs, backend: WhmcsBackend
) -> None:
    fake.faults["AddTicketNote"] = "json-fail"
    await backend.add_note(1, NewNote(message="a note"))
    assert actions(fake).count("AddTicketNote") == 1
    assert [n["message"] for n in fake.tickets[1]["notes"]["note"]] == ["a note"]


async def test_delete_whose_answer_is_lost_is_settled_by_reading(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    fake.faults["DeleteTicket"] = "drop-after"
    await backend.delete_ticket(2)
    assert 2 not in fake.tickets and actions(fake).count("DeleteTicket") == 1
    del fake.faults["DeleteTicket"]
    with pytest.raises(NotFound):
        await backend.delete_ticket(2)


async def test_capabilities_and_statuses_after_discovery(backend: WhmcsBackend) -> None:
    caps = await backend.discover()
    assert caps.kind == "whmcs" and caps.writable("replies") and caps.has("paging")
    assert [(s, c) for s, c in backend.statuses()] == [(Status.OPEN, "#779500"), (Status.CLOSED, "#888")]


async def test_ping_is_an_authenticated_read(fake: FakeWhmcs, backend: WhmcsBackend) -> None:
    await backend.ping()
    fake.faults["GetSupportDepartments"] = "perm"
    await backend.ping()  # WHMCS answered and knew the credential: reachable
    fake.faults["GetSupportDepartments"] = "auth"
    with pytest.raises(BackendAuthError):
        await backend.ping()
