"""The adapter's per-row shortcuts: the row memo (an inline ordered dict) and the list's sort key."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from bench import payload
from gateway.backends.pmp import PMPBackend
from gateway.backends.pmp.adapter import RowMemo
from gateway.backends.pmp.wire import Refused, row_of
from gateway.backends.pmp_lists import _int, _row_id
from gateway.canonical import Customer, Ticket
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


def test_the_row_memo_keeps_the_order_a_plain_lru_keeps(pmp_mappings: VendorMappings) -> None:
    """New, unchanged and changed rows in a seeded random order: the memo's keys, oldest first, are
    those of an LRU map (every use, a parse or a hit, makes the ticket the most recent)."""
    import random

    size = 5
    backend = _backend(pmp_mappings, size)
    reference: list[str] = []
    rows: dict[int, dict[str, Any]] = {}
    pick = random.Random(7)
    for step in range(300):
        ticket_id = pick.randint(1, 9)
        if ticket_id not in rows or pick.random() < 0.3:
            rows[ticket_id] = _row(ticket_id, f"Subject {step}")  # new, or changed
        before = backend._rows.get(str(ticket_id))
        got = backend._ticket(dict(rows[ticket_id]))
        assert got.subject == rows[ticket_id]["subject"]
        if before is not None and before[0] == rows[ticket_id]:
            assert got is before[1]
        key = str(ticket_id)
        if key in reference:
            reference.remove(key)
        reference.append(key)
        del reference[:-size]
        assert list(backend._rows) == reference


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(("offset", "limit"), [(0, 25), (0, 3), (2, 4), (10, 25), (40, 5), (0, 0), (3, -1)])
def test_a_page_cut_from_a_full_listing_is_sorted_by_the_row_id(
    pmp_mappings: VendorMappings, descending: bool, offset: int, limit: int
) -> None:
    backend = _backend(pmp_mappings, 64)
    lists = backend._lists
    lists._ticket = lambda row: row  # type: ignore[assignment,return-value]  # (the rows themselves, in the page's order)
    ids: list[Any] = ["12", "3", "0012", " 7 ", "", None, "abc", "5", "12", 9, "\u00b2", "-4", "100", "3", 2.5, True]
    rows = [{"ticketid": value, "n": i} for i, value in enumerate(ids)]
    expected_rows = sorted(rows, key=_row_id, reverse=descending)
    window = expected_rows[offset : offset + limit] if limit > 0 else []
    result = lists._from_full(rows, offset, limit, descending)
    assert result is not None
    got, total = result
    assert total == len(rows)
    assert [id(r) for r in got] == [id(r) for r in window]


@pytest.mark.parametrize("admin", [None, "", "0", 0, "00", " 0 ", False, True, "3", 3, "x", 0.0, "\u0660"])
def test_a_row_without_a_staff_opening_skips_the_call_that_changes_nothing(
    pmp_mappings: VendorMappings, admin: Any
) -> None:
    from gateway.backends.pmp.conversation import staff_opening

    backend = _backend(pmp_mappings, 8)
    row = {**_row(4), "admin": admin}
    try:
        expected: Any = staff_opening(backend._parse("ticket", row, Ticket), row)
    except (ValueError, BackendUnavailable) as exc:
        expected = type(exc)
    try:
        got: Any = backend._ticket(dict(row))
    except (ValueError, BackendUnavailable) as exc:
        got = type(exc)
    assert got == expected


def test_a_rows_secrets_leave_it_and_the_ticket_keeps_the_row_itself(pmp_mappings: VendorMappings) -> None:
    backend = _backend(pmp_mappings, 4)
    secrets = pmp_mappings.secrets("ticket")
    assert {"password", "last_ip", "two_factor_auth_code"} <= secrets
    original = _row(5)
    assert secrets <= original.keys()  # (the payload's row joins them, as PMP's does)
    row = dict(original)
    ticket = backend._ticket(row)
    assert ticket.remote is not None
    assert ticket.remote.fields is row  # no copy: the row is the adapter's own
    assert secrets.isdisjoint(row) and secrets.isdisjoint(ticket.remote.fields)
    assert row == {k: v for k, v in original.items() if k not in secrets}
    # the same ticket a row of someone else's is parsed into (that row copied, not changed)
    elsewhere = dict(original)
    reference = pmp_mappings.parse("ticket", elsewhere, Ticket)
    assert elsewhere == original and reference.remote is not None and reference.remote.fields is not elsewhere
    assert reference == ticket
    # an equal row, secrets and all, is still the memo's: the same Ticket
    assert backend._ticket(dict(original)) is ticket


# rows whose values the inline record cannot keep as they are (validation converts or refuses
# them), or that no field can read at all: the adapter's direct call of the record function
# gives what `VendorMappings.parse` gives, or refuses the row in the same words
AWKWARD_ROWS: list[dict[str, Any]] = [
    {},
    {"subject": "x"},
    {"ticketid": "7", "status": "99", "priority": "9"},  # unmapped codes
    {"ticketid": "7", "status": "", "status_name": "Weird"},
    {"ticketid": "7", "userid": "0", "contactid": "0", "assigned": "0"},
    {"ticketid": "7", "date": "0000-00-00 00:00:00", "lastreply": ""},
    {"ticketid": "7", "date": "not a date"},
    {"ticketid": "7", "subject": ["a", "list"]},
    {"ticketid": "7", "userid": {"a": 1}},
    {"ticketid": "abc"},
    {"ticketid": "-5"},
    {"ticketid": 7, "department": 3, "subject": 12, "cc": True},
    {"ticketid": "7", "email": "not an email", "message": None},
    {"ticketid": "7", "admin": "3", "staff_firstname": "Sara", "staff_lastname": ""},
]


def _parsed_as_before(mappings: VendorMappings, row: dict[str, Any]) -> Ticket | type[BaseException]:
    try:
        return mappings.parse("ticket", row, Ticket)
    except (ValueError, TypeError, KeyError) as exc:  # (ValidationError and DateFormatError are ValueErrors)
        return type(exc)


@pytest.mark.parametrize("changes", AWKWARD_ROWS, ids=range(len(AWKWARD_ROWS)))
def test_the_direct_record_call_parses_or_refuses_as_parse_does(
    pmp_mappings: VendorMappings, changes: dict[str, Any]
) -> None:
    base = {k: v for k, v in _row(1).items() if k not in pmp_mappings.secrets("ticket")}
    for row in (changes, {**base, **changes}):
        expected = _parsed_as_before(pmp_mappings, dict(row))
        backend = _backend(pmp_mappings, 4)
        if isinstance(expected, type):
            with pytest.raises(BackendUnavailable) as err:
                backend._ticket(dict(row))
            assert err.value.message == "The backend is unavailable (a ticket record has the wrong shape)"
            continue
        got = backend._ticket(dict(row))
        if row.get("admin") in (None, "", "0"):
            assert got == expected
            assert got.__dict__ == expected.__dict__ and got.model_fields_set == expected.model_fields_set
        else:  # a staff opening: the opening message is theirs
            assert got.replies[0].author.kind == "staff" and got.id == expected.id


def test_unvalidated_record_is_the_record_or_values_that_fail_validation(pmp_mappings: VendorMappings) -> None:
    fn = pmp_mappings.unvalidated_record("ticket", Ticket)
    good = fn(_row(3))
    assert type(good) is Ticket and good == pmp_mappings.parse("ticket", _row(3), Ticket)
    values = fn({"subject": "no id"})  # (a ticket needs its id: the values go on, unbuilt)
    assert type(values) is dict and values["subject"] == "no id"
    with pytest.raises(ValidationError):
        Ticket.model_validate(values)
    # a model without a record of that class: parse() itself, and what it raises
    other = pmp_mappings.unvalidated_record("ticket", Customer)
    with pytest.raises(ValidationError):
        other(_row(3))
