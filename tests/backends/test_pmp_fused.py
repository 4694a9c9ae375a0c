"""GetTicket through a fused translation (``Service.ticket_body`` -> ``PMPBackend.get_ticket_fused``):
the answer the usual way gives, for a new row without building its Ticket, and the usual way
wherever the gateway or the backend changes the ticket."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bench import payload
from gateway import operations as ops
from gateway.backends import http
from gateway.backends.guard import CircuitBreaker, GuardedBackend
from gateway.backends.pmp import PMPBackend
from gateway.backends.pmp.wire import PENDING
from gateway.canonical import Ticket
from gateway.errors import GatewayError
from gateway.mapping.loader import MappingSet, load_mappings
from gateway.service import Service
from gateway.store import MemoryStore

PATH = "api/tickets/1"
_NO_DATA = http.Reply(404, {"Content-Type": "application/json"}, b'{"status":false,"message":"No data were found"}')


class Answers:
    """A backend that answers ``GET api/tickets/1`` with ``self.body`` (and nothing else: discovery
    finds a module with tickets only, no conversation)."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.body = orjson.dumps(row)
        self.reads = 0

    async def __call__(self, method: str, url: str, **_: Any) -> http.Reply:
        if url.endswith(PATH):
            self.reads += 1
            return http.Reply(200, {"Content-Type": "application/json"}, self.body)
        return _NO_DATA


@pytest.fixture(scope="module")
def mappings() -> MappingSet:
    return load_mappings()


def _row(**change: Any) -> dict[str, Any]:
    row: dict[str, Any] = orjson.loads(payload.ticket_bytes())
    row.update({"ticketid": "1", **change})
    return row


def _render(mappings: MappingSet, vendor: str = "whmcs") -> Any:
    render = mappings[vendor].action("GetTicket").result  # type: ignore[union-attr]
    assert render is not None
    return render


def _service(mappings: MappingSet, answers: Answers, store: MemoryStore | None = None) -> tuple[PMPBackend, Service]:
    backend = PMPBackend("http://module.invalid/", "tok", mappings["pmp"], MemoryStore(), transport=answers)
    return backend, Service(backend, store or MemoryStore())


async def _usual(mappings: MappingSet, row: dict[str, Any], args: ops.GetTicketArgs, store: Any = None) -> Any:
    """What the usual way answers for ``row``: a backend of its own, the Ticket, then the render."""
    _, service = _service(mappings, Answers(row), store)
    return _render(mappings)(await service.get_ticket(args))


async def _memo_value(backend: PMPBackend) -> Any:
    return backend._wire.memo[PATH][1]


async def test_a_new_answer_is_fused_and_its_ticket_made_when_it_comes_again(mappings: MappingSet) -> None:
    answers = Answers(_row(subject="Before"))
    backend, service = _service(mappings, answers)
    render, args = _render(mappings), ops.GetTicketArgs(ticket_id=1)
    # the first read finds out what the installation has (discovery): the usual way
    assert await service.ticket_body(args, render) == await _usual(mappings, _row(subject="Before"), args)
    assert type(await _memo_value(backend)) is Ticket
    answers.body = orjson.dumps(_row())
    usual = await _usual(mappings, _row(), args)
    first = await service.ticket_body(args, render)
    assert first == usual
    assert await _memo_value(backend) is PENDING  # answered without its Ticket
    second = await service.ticket_body(args, render)
    assert second == usual and type(await _memo_value(backend)) is Ticket  # the same bytes: the Ticket made
    assert await service.ticket_body(args, render) is second  # then the memos answer
    answers.body = orjson.dumps(_row(subject="Changed", status="3"))
    changed = await service.ticket_body(args, render)
    assert changed == await _usual(mappings, _row(subject="Changed", status="3"), args)
    assert changed["subject"] == "Changed" and await _memo_value(backend) is PENDING
    assert answers.reads == 5  # one backend read a request, as the usual way


@pytest.mark.parametrize(
    "change",
    [
        {"admin": "1", "staff_firstname": "Sara", "staff_lastname": "Bianchi"},  # opened by staff
        {"ticketid": "2"},  # another ticket's row
    ],
)
async def test_a_row_the_fused_function_does_not_speak_for_goes_the_usual_way(
    mappings: MappingSet, change: dict[str, Any]
) -> None:
    backend, service = _service(mappings, Answers(_row(**change)))
    args = ops.GetTicketArgs(ticket_id=1)
    assert await service.ticket_body(args, _render(mappings)) == await _usual(mappings, _row(**change), args)
    assert type(await _memo_value(backend)) is Ticket


async def test_a_number_of_the_stores_is_shown(mappings: MappingSet) -> None:
    store = MemoryStore()
    await store.link("ticket", "ABC-123456", 1)
    backend, service = _service(mappings, Answers(_row()), store)
    args = ops.GetTicketArgs(ticket_id=1)
    body = await service.ticket_body(args, _render(mappings))
    assert body["tid"] == "ABC-123456" and body == await _usual(mappings, _row(), args, store)
    assert type(await _memo_value(backend)) is Ticket


async def test_replies_newest_first_and_a_ticket_number_go_the_usual_way(mappings: MappingSet) -> None:
    for args in (ops.GetTicketArgs(ticket_id=1, replies_desc=True), ops.GetTicketArgs(ticket_number="1")):
        backend, service = _service(mappings, Answers(_row()))
        assert await service.ticket_body(args, _render(mappings)) == await _usual(mappings, _row(), args)
        assert type(await _memo_value(backend)) is Ticket


async def test_an_installation_with_a_conversation_goes_the_usual_way(
    mappings: MappingSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, service = _service(mappings, Answers(_row()))
    await backend._ensure_discovered()
    monkeypatch.setattr(backend, "_conversation_kept", lambda: True)
    monkeypatch.setattr(backend, "_with_conversation", _as_is)
    args = ops.GetTicketArgs(ticket_id=1)
    assert await service.ticket_body(args, _render(mappings)) == await _usual(mappings, _row(), args)
    assert type(await _memo_value(backend)) is Ticket


async def _as_is(ticket: Ticket) -> Ticket:
    return ticket


async def test_data_the_parse_refuses_fails_as_the_usual_way_fails(mappings: MappingSet) -> None:
    _, service = _service(mappings, Answers(_row(date="yesterday-ish")))
    _, usual = _service(mappings, Answers(_row(date="yesterday-ish")))
    args = ops.GetTicketArgs(ticket_id=1)
    with pytest.raises(GatewayError) as fused_error:
        await service.ticket_body(args, _render(mappings))
    with pytest.raises(GatewayError) as usual_error:
        await usual.get_ticket(args)
    assert type(fused_error.value) is type(usual_error.value)
    assert str(fused_error.value) == str(usual_error.value)


async def test_the_guard_passes_the_fused_read_through_unless_it_caches_tickets(mappings: MappingSet) -> None:
    render = _render(mappings)
    inner, _ = _service(mappings, Answers(_row()))
    await inner._ensure_discovered()
    guarded = GuardedBackend(inner, CircuitBreaker(5, 10.0), ttl=0, size=8)
    assert guarded.fuse_ticket_render(render) is not None
    body = await Service(guarded, MemoryStore()).ticket_body(ops.GetTicketArgs(ticket_id=1), render)
    assert body == await _usual(mappings, _row(), ops.GetTicketArgs(ticket_id=1))
    assert await _memo_value(inner) is PENDING
    caching = GuardedBackend(inner, CircuitBreaker(5, 10.0), ttl=5, size=8, cache_tickets=True)
    assert caching.fuse_ticket_render(render) is None


async def test_a_dialect_whose_render_does_not_compose_goes_the_usual_way(mappings: MappingSet) -> None:
    backend, service = _service(mappings, Answers(_row()))
    render = _render(mappings, "pmp")  # (reads the raw record: not composed)
    assert backend.fuse_ticket_render(render) is None
    args = ops.GetTicketArgs(ticket_id=1)
    _, usual = _service(mappings, Answers(_row()))
    assert await service.ticket_body(args, render) == render(await usual.get_ticket(args))
    assert type(await _memo_value(backend)) is Ticket
