"""A list's result model built without pydantic's validator where validation could change nothing.

Every ticket list ends in ``operations.TicketPage(items=..., total=..., offset=...)``, and
validating that model walks its items to find what the service already knows: each one is a
``canonical.Ticket`` (the model's instances pass validation as they are), the counts are
ints.  :func:`ticket_page` sets that instance's state directly when every value is exactly of
its field's type (about a fifth of the cost), and validates anything else as usual.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from gateway import canonical as c
from gateway import operations as ops
from gateway.mapping.builder import instance

_TICKETS_ONLY = frozenset({c.Ticket})
_FIELDS = ("items", "total", "offset")

#: the page each list request (a ``slot``: the service and the request's arguments) was last
#: answered with, and the identities it was built from.  A polled list whose tickets are the
#: very same objects (the adapter hands back the same Ticket for an unchanged row, the index its
#: kept rows) gets the very same page, which the render memo and the dialect's answer bytes then
#: know: no rendering and no encoding of an unchanged page.  One page per slot, replaced when its
#: tickets change: the memo never keeps a ticket the list no longer shows (a page held with its
#: 25 tickets' raw rows after they changed made a changed list's translation 2.2x the
#: hand-written code's CPU instead of 1.6x).  The page holds its tickets: their ids cannot be
#: reused while the entry lives.  At most PAGE_MEMO_SIZE slots, the oldest out first.
PAGE_MEMO_SIZE = 16
_PAGES: dict[Hashable, tuple[tuple[int, ...], ops.TicketPage]] = {}


def ticket_page(items: Sequence[c.Ticket], total: int, offset: int, slot: Hashable = None) -> ops.TicketPage:
    """``ops.TicketPage(items=items, total=total, offset=offset)``; for a ``slot``, the page it was
    last answered with while these are the very same tickets."""
    if (
        type(items) is tuple
        and type(total) is int
        and type(offset) is int
        and (not items or frozenset(map(type, items)) == _TICKETS_ONLY)
    ):
        hit: tuple[tuple[int, ...], ops.TicketPage] | None = None
        key: tuple[int, ...] = ()
        if slot is not None:
            key = (total, offset, *map(id, items))
            try:
                hit = _PAGES.get(slot)
            except TypeError:  # (arguments that cannot be hashed: no memo)
                slot = None
            if hit is not None and hit[0] == key:
                return hit[1]
        page = _built(ops.TicketPage, {"items": items, "total": total, "offset": offset})
        if slot is not None:
            if hit is None and len(_PAGES) >= PAGE_MEMO_SIZE:
                del _PAGES[next(iter(_PAGES))]
            _PAGES[slot] = (key, page)
        return page
    return ops.TicketPage(items=tuple(items), total=total, offset=offset)


def _built(cls: type[ops.TicketPage], values: dict[str, Any]) -> ops.TicketPage:
    """The instance validation would build from ``values`` (each already of its field's exact type)."""
    return instance(cls, values, set(_FIELDS))
