"""The adapter's per-row shortcuts: the row memo (an inline ordered dict) and the list's sort key."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bench import payload
from gateway.backends.pmp import PMPBackend
from gateway.backends.pmp.adapter import RowMemo
from gateway.backends.pmp.wire import Refused, row_of
from gateway.backends.pmp_lists import _int, _row_id
from gateway.errors import BackendUnavailable, NotFound
from gateway.mapping.loader import PACKAGED_ROOT, VendorMappings, load_mappings
from gateway.store import MemoryStore

ODD_IDS: list[Any] = ["12", "0012", " 12 ", "", None, "\uff11\uff12", "\u00b2", "-3", "+4", "12.5", "abc"]


@pytest.mark.parametrize("value", [*ODD_IDS, 12, 12.5, True, False, "9" * 30])
def test_the_sort_key_reads_a_row_id_as_int_reads_it(value: Any) -> None:
    assert _row_id({"ticketid": value}) == _int(value)
    assert type(_row_id({"ticketid": value})) is int


@pytest.fixture(scope="module")
def pmp_mappings() -> VendorMappings:
    return load_mappings(roots=[PACKAGED_ROOT])["pmp"]


def _backend(mappings: VendorMappings, size: int) -> PMPBackend:
    async def never(*_: Any, **__: Any) -> Any:
        raise AssertionError("no request expected")

    backend = PMPBackend("http://module.invalid/", "tok", mappings, MemoryStore(), transport=never)
    backend._rows = RowMemo(size)
    return backend


def _row(ticket_id: int, subject: str = "Subject") -> dict[str, Any]:
    row: dict[str, Any] = orjson.loads(payload.ticket_bytes())
    row.update(ticketid=str(ticket_id), subject=subject)
    return row


def test_an_unchanged_row_gives_back_its_ticket_and_the_memo_keeps_the_most_recent(
    pmp_mappings: VendorMappings,
) -> None:
    backend = _backend(pmp_mappings, 2)
    one, two, three = (backend._ticket(_row(i)) for i in (1, 2, 3))
    assert [t.id for t in (one, two, three)] == [1, 2, 3]
    assert list(backend._rows) == ["2", "3"]  # at most two, the least recently used gone
    assert backend._ticket(_row(2)) is two  # an equal row: the same Ticket, not parsed again
    assert list(backend._rows) == ["3", "2"]  # (and it is the most recent now)
    changed = backend._ticket(_row(3, "Changed"))
    assert changed is not three and changed.subject == "Changed"
    assert list(backend._rows) == ["2", "3"]
    assert backend._ticket(_row(1)) is not one  # pushed out: parsed again
    assert list(backend._rows) == ["3", "1"]


def test_a_single_ticket_answer_is_read_as_row_of_reads_it(pmp_mappings: VendorMappings) -> None:
    backend = _backend(pmp_mappings, 8)
    row = _row(7)
    # the row itself (the short way), a row with a "data" column (still the row), and the shapes row_of unwraps
    for answer in (row, {**row, "data": {"ticketid": "8"}}, {"data": row}, [row]):
        expected = backend._ticket(row_of(answer, "ticket", "Ticket ID Not Found", "ticketid"))
        assert backend._ticket_answer(answer) == expected
    with pytest.raises(NotFound):
        backend._ticket_answer(Refused(404, "Ticket ID Not Found"))
    with pytest.raises(BackendUnavailable):
        backend._ticket_answer({"subject": "no id"})
