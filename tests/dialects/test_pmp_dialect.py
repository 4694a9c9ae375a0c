"""The PMP dialect's parts without sockets: its rows rendered from canonical records (any
backend), the raw-row pass-through, the 3.x list options, idempotency claims, prefixes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gateway.canonical import Author, Contact, Department, Priority, RemoteData, Reply, Status, Ticket, Unmapped
from gateway.dialects.base import Route
from gateway.dialects.pmp_lists import ListQuery, parse_list_query, search_rows, shape_list
from gateway.errors import InvalidInput
from gateway.idempotency import idempotent
from gateway.mapping.loader import VendorMappings, load_mappings
from gateway.mapping.source import MappingErrors
from gateway.pmp_sim import SimDB
from gateway.prefixes import collisions
from gateway.store import MemoryStore


@pytest.fixture(scope="module")
def pmp() -> VendorMappings:
    return load_mappings()["pmp"]


@pytest.fixture(scope="module")
def sim_row(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = SimDB(tmp_path_factory.mktemp("sim") / "sim.sqlite3", seed_demo=True)
    row: dict[str, Any] = db.ticket_rows_joined(1)[0]
    return row


def _ticket(**changes: Any) -> Ticket:
    base = Ticket(
        id=42,
        access_key="abc123",
        subject="Printer on fire",
        status=Status.ANSWERED,
        priority=Priority.HIGH,
        department=Department(id=2, name="Technical Support"),
        customer_id=7,
        contact_id=9,
        requester=Author(kind="customer", customer_id=7, contact_id=9, name="Ada Lovelace", email="ada@x.example"),
        created_at=datetime(2024, 3, 1, 9, 15, tzinfo=UTC),
        assigned_staff_id=3,
        replies=(Reply(id=0, message="It burns"),),
    )
    return base.model_copy(update=changes)


# ------------------------------------------------------------------ rows from canonical records


def test_a_ticket_row_from_any_backend_speaks_the_modules_columns(pmp: VendorMappings, sim_row: dict[str, Any]) -> None:
    row = pmp.model("ticket_row")(_ticket())
    assert set(row) <= set(sim_row), set(row) - set(sim_row)
    assert all(v is None or isinstance(v, str) for v in row.values())
    assert row["ticketid"] == "42" and row["ticketkey"] == "abc123"
    assert (row["status"], row["status_name"], row["statuscolor"]) == ("3", "Answered", "#0000ff")
    assert (row["priority"], row["priority_name"], row["name"]) == ("3", "High", "High")
    assert (row["department"], row["department_name"]) == ("2", "Technical Support")
    assert (row["user_firstname"], row["user_lastname"], row["email"]) == ("Ada", "Lovelace", "ada@x.example")
    assert (row["from_name"], row["ticket_email"]) == (None, None)
    assert (row["date"], row["lastreply"], row["message"]) == ("2024-03-01 09:15:00", None, "It burns")


def test_a_guests_ticket_keeps_name_and_email_on_the_ticket(pmp: VendorMappings) -> None:
    guest = Author(kind="guest", name="Walk In", email="walk@in.example")
    row = pmp.model("ticket_row")(_ticket(customer_id=0, contact_id=0, requester=guest, department=None))
    assert (row["from_name"], row["ticket_email"]) == ("Walk In", "walk@in.example")
    assert (row["email"], row["user_firstname"], row["user_lastname"]) == (None, None, None)
    assert (row["department"], row["department_name"]) == ("0", None)


def test_a_status_no_table_knows_passes_through(pmp: VendorMappings) -> None:
    row = pmp.model("ticket_row")(_ticket(status=Unmapped(vendor="pmp", code="7", label="Escalated")))
    assert row["status"] == "Escalated" and row["status_name"] == "Escalated"


def test_the_raw_row_wins_only_for_its_own_vendor(pmp: VendorMappings) -> None:
    raw = {"ticketid": "42", "project_id": "5", "company": "Acme"}
    mine = pmp.model("ticket_row")(_ticket(remote=RemoteData(vendor="pmp", fields=raw)))
    assert (mine["project_id"], mine["company"], mine["subject"]) == ("5", "Acme", "Printer on fire")
    theirs = pmp.model("ticket_row")(_ticket(remote=RemoteData(vendor="whmcs", fields={"flag": "1"})))
    assert "flag" not in theirs and theirs["project_id"] == "0"


def test_a_contact_row_never_has_secrets(pmp: VendorMappings) -> None:
    contact = Contact(id=5, customer_id=1, firstname="Jo", email="jo@x.example", is_primary=True, email_invoice=False)
    row = pmp.model("contact_row")(contact)
    assert (row["id"], row["userid"], row["is_primary"], row["invoice_emails"]) == ("5", "1", "1", "0")
    assert not {"password", "new_pass_key", "email_verification_key"} & set(row)


def test_the_backend_keeps_the_raw_row_without_secrets(pmp: VendorMappings, sim_row: dict[str, Any]) -> None:
    ticket = Ticket.model_validate(pmp.model("ticket")(dict(sim_row, password="$2y$10$hash", last_ip="1.2.3.4")))
    assert ticket.remote is not None and ticket.remote.vendor == "pmp"
    assert ticket.remote.fields["ticketid"] == "1"
    assert "password" not in ticket.remote.fields and "last_ip" not in ticket.remote.fields


def test_a_bad_remote_spec_is_a_mapping_error(tmp_path: Path) -> None:
    vendor = tmp_path / "acme"
    vendor.mkdir()
    (vendor / "m.yaml").write_text(
        "models:\n  t:\n    direction: parse\n    source: dict\n    target: Department\n"
        "    remote: {from: $, drop: password}\n    fields:\n      id: {from: id, transform: int}\n"
    )
    with pytest.raises(MappingErrors) as err:
        load_mappings(roots=[tmp_path])
    assert "models.t.remote" in str(err.value)


# ------------------------------------------------------------------ 3.x list options

ROWS: list[dict[str, Any]] = [
    {"ticketid": "1", "subject": "b", "priority": "2", "date": "2024-03-01 09:00:00"},
    {"ticketid": "10", "subject": "A", "priority": "3", "date": "2024-03-02 09:00:00"},
    {"ticketid": "2", "subject": "c", "priority": None, "date": "2024-03-03 23:59:59"},
]


def test_default_order_is_numeric_where_the_column_is() -> None:
    assert [r["ticketid"] for r in shape_list(list(ROWS), None, "ticketid", "date")] == ["1", "2", "10"]


def test_sort_several_columns_nulls_first() -> None:
    query = parse_list_query({"sort": "priority,-ticketid"})
    assert [r["ticketid"] for r in shape_list(list(ROWS), query, "ticketid", "date")] == ["2", "1", "10"]
    query = parse_list_query({"sort": "subject"})
    assert [r["subject"] for r in shape_list(list(ROWS), query, "", "date")] == ["A", "b", "c"]


def test_created_range_is_inclusive_by_day() -> None:
    query = parse_list_query({"created_after": "2024-03-02", "created_before": "2024-03-03"})
    assert [r["ticketid"] for r in shape_list(list(ROWS), query, "ticketid", "date")] == ["2", "10"]


def test_fields_keep_the_id() -> None:
    query = parse_list_query({"fields": "subject"})
    assert shape_list(list(ROWS), query, "ticketid", "date")[0] == {"ticketid": "1", "subject": "b"}


def test_envelope_meta() -> None:
    query = parse_list_query({"page": "2", "per_page": "2"})
    body = shape_list(list(ROWS), query, "ticketid", "date")
    assert [r["ticketid"] for r in body["data"]] == ["10"]
    assert body["meta"] == {
        "page": 2, "per_page": 2, "total": 3, "total_pages": 2, "has_more": False, "current_page": 2, "last_page": 2,
    }  # fmt: skip
    assert parse_list_query({"page": "1"}) == ListQuery(page=1, per_page=25)


def test_nothing_matched_is_none() -> None:
    assert shape_list([], None, "ticketid", "date") is None
    assert shape_list(list(ROWS), parse_list_query({"created_after": "2030-01-01"}), "", "date") is None
    assert shape_list(list(ROWS), parse_list_query({"page": "3", "per_page": "2"}), "", "date") is None


@pytest.mark.parametrize(
    "query",
    [
        {"page": "-1"},
        {"per_page": "0"},
        {"per_page": "abc"},
        {"sort": "a;drop"},
        {"fields": "-x"},
        {"created_before": "3/1"},
    ],
)
def test_bad_options_name_the_parameter(query: dict[str, str]) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_list_query(query)
    assert err.value.field == next(iter(query))


def test_search_columns_and_joined_columns() -> None:
    rows = [{"id": "1", "firstname": "Jane", "lastname": "Doe"}, {"id": "2", "firstname": "John", "lastname": "Roe"}]
    assert [r["id"] for r in search_rows(rows, "jane doe", ["firstname", "firstname+lastname"])] == ["1"]
    assert search_rows(rows, "zzz", ["firstname"]) == []


# ------------------------------------------------------------------ idempotency


def _plain_error(status: int, key: str) -> web.Response:
    return web.json_response({"status": False, "message": key}, status=status)


async def test_concurrent_duplicates_run_once_and_share_the_answer() -> None:
    store = MemoryStore()
    runs: list[int] = []

    async def create() -> web.Response:
        runs.append(1)
        await asyncio.sleep(0.05)
        return web.json_response({"status": True, "record_id": len(runs)})

    answers = await asyncio.gather(*(idempotent(store, "s", "k", create, _plain_error, deadline=5) for _ in range(5)))
    assert len(runs) == 1
    assert {a.body for a in answers} == {b'{"status": true, "record_id": 1}'}
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true", "true", "true", "true"]
    await store.close()


async def test_an_answer_that_wrote_nothing_frees_the_key() -> None:
    store = MemoryStore()
    statuses = iter([503, 200])

    async def create() -> web.Response:
        return web.json_response({}, status=next(statuses))

    first = await idempotent(store, "s", "k", create, _plain_error, deadline=5)
    second = await idempotent(store, "s", "k", create, _plain_error, deadline=5)
    assert (first.status, second.status) == (503, 200)
    await store.close()


async def test_a_failed_run_frees_the_key_and_bad_keys_are_refused() -> None:
    store = MemoryStore()

    async def boom() -> web.Response:
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        await idempotent(store, "s", "k", boom, _plain_error, deadline=5)
    assert await store.idem_get("s", "k") is None
    for key in ("", "x" * 256, "tab\tkey"):
        answer = await idempotent(store, "s", key, boom, _plain_error, deadline=5)
        assert answer.status == 422
    await store.close()


async def test_a_key_still_running_past_the_deadline_is_busy() -> None:
    store = MemoryStore()
    assert await store.idem_claim("s", "k")
    answer = await idempotent(store, "s", "k", lambda: asyncio.sleep(0), _plain_error, deadline=0.1)  # type: ignore[arg-type,return-value]
    assert answer.status == 409
    await store.close()


# ------------------------------------------------------------------ prefixes


def test_overlapping_routes_are_found() -> None:
    pmp = [Route("GET", "/api/tickets"), Route("*", "/{tail:.*}")]
    clientexec = [Route("GET", "/api/tickets"), Route("*", "/api/ticket/{id}")]
    assert collisions({"pmp": pmp, "clientexec": clientexec}) == ["pmp and clientexec would both answer /api/tickets"]
    moved = [Route("GET", "/perfex/api/tickets"), Route("*", "/perfex/{tail:.*}")]
    assert collisions({"pmp": moved, "clientexec": clientexec}) == []
