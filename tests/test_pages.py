"""gateway.pages.ticket_page against validating ``operations.TicketPage`` with the same values."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway import canonical as c
from gateway import operations as ops
from gateway.pages import ticket_page


class SubTicket(c.Ticket):
    pass


def _ticket(i: int) -> c.Ticket:
    return c.Ticket(id=i, subject=f"s{i}", status=c.Status.OPEN, priority=c.Priority.LOW)


def _validated(items: Any, total: Any, offset: Any) -> Any:
    try:
        return ops.TicketPage(items=tuple(items), total=total, offset=offset)
    except ValidationError as exc:
        return ("invalid", [e["type"] for e in exc.errors()])


def _built(items: Any, total: Any, offset: Any) -> Any:
    try:
        return ticket_page(items, total, offset)
    except ValidationError as exc:
        return ("invalid", [e["type"] for e in exc.errors()])


CASES: list[tuple[Any, Any, Any]] = [
    ((), 0, 0),
    ((_ticket(1),), 1, 0),
    (tuple(_ticket(i) for i in range(25)), 400, 25),
    ([_ticket(1), _ticket(2)], 2, 0),  # a list: validated
    ((SubTicket(id=3, subject="x", status=c.Status.OPEN, priority=c.Priority.LOW),), 1, 0),
    ((_ticket(1),), True, 0),
    ((_ticket(1),), 1, False),
    ((_ticket(1),), "7", 0),
    ((_ticket(1),), 1.0, 0),
    ((_ticket(1),), -1, -5),
    (({"id": 4, "subject": "d"},), 1, 0),
    (("not a ticket",), 1, 0),
    ((_ticket(1),), None, 0),
]


@pytest.mark.parametrize(("items", "total", "offset"), CASES)
def test_a_page_built_directly_is_the_validated_one(items: Any, total: Any, offset: Any) -> None:
    built, validated = _built(items, total, offset), _validated(items, total, offset)
    assert built == validated
    if isinstance(validated, ops.TicketPage):
        assert isinstance(built, ops.TicketPage)
        assert built.__dict__ == validated.__dict__
        assert [type(v) for v in built.__dict__.values()] == [type(v) for v in validated.__dict__.values()]
        assert built.model_fields_set == validated.model_fields_set
        assert built.model_dump() == validated.model_dump()
        assert built.model_dump_json() == validated.model_dump_json()
        assert built.returned == validated.returned
        with pytest.raises(ValidationError):
            built.total = 3  # type: ignore[misc]  # frozen, as validated ones are


def test_a_slot_gets_back_its_page_while_its_tickets_are_the_same_objects() -> None:
    from gateway import pages

    pages._PAGES.clear()
    items = tuple(_ticket(i) for i in range(25))
    page = ticket_page(items, 400, 25, "list A")
    assert ticket_page(tuple(items), 400, 25, "list A") is page  # a new tuple of the very same tickets
    assert ticket_page(items, 400, 25) is not page  # no slot: never kept
    assert ticket_page(items, 400, 25, "list B") is not page  # another list's own page
    equal = tuple(t.model_copy() for t in items)  # equal tickets, other objects: another page, equal
    again = ticket_page(equal, 400, 25, "list A")
    assert again is not page and again == page
    # one page a slot: the old one (and its tickets) is no longer held
    assert pages._PAGES["list A"][1] is again and len(pages._PAGES) == 2
    assert ticket_page(equal, 401, 25, "list A") is not again
    assert ticket_page(equal, 401, 0, "list A") is not again
    assert ticket_page(equal[:24], 401, 0, "list A") is not again
    assert ticket_page((), 0, 0, "empty") is ticket_page((), 0, 0, "empty")
    assert ticket_page(list(items), 400, 25, "list C") is not ticket_page(list(items), 400, 25, "list C")
    assert ticket_page(items, 400, 25, ("unhashable", [1])) == page  # (built, not kept)


def test_the_page_memo_is_bounded_and_drops_the_oldest_slot_first() -> None:
    from gateway import pages

    pages._PAGES.clear()
    items = (_ticket(1),)
    first = ticket_page(items, 1, 0, 0)
    made = [ticket_page(items, 1, 0, n) for n in range(1, pages.PAGE_MEMO_SIZE)]
    assert len(pages._PAGES) == pages.PAGE_MEMO_SIZE and ticket_page(items, 1, 0, 0) is first
    ticket_page(items, 1, 0, 999)  # one more slot: the oldest goes
    assert len(pages._PAGES) == pages.PAGE_MEMO_SIZE
    assert ticket_page(items, 1, 0, 0) is not first and ticket_page(items, 1, 0, 0) == first
    assert ticket_page(items, 1, 0, pages.PAGE_MEMO_SIZE - 1) is made[-1]
