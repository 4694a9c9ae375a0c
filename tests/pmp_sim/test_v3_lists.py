"""Module 3.x lists: the {data, meta} envelope, fields, sort, created_* and their 422s."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Sim, SimFactory, assert_php_row

pytestmark = pytest.mark.asyncio


async def test_without_list_params_the_legacy_array(sim3: Sim) -> None:
    status, body = await sim3.call("GET", "api/tickets")
    assert status == 200
    assert isinstance(body, list)
    assert [r["ticketid"] for r in body] == ["1", "2", "3", "4", "5", "6"]


async def test_page_and_meta(sim3: Sim) -> None:
    status, body = await sim3.call("GET", "api/tickets?page=2&per_page=4")
    assert status == 200
    assert [r["ticketid"] for r in body["data"]] == ["5", "6"]
    assert body["meta"] == {
        "page": 2,
        "per_page": 4,
        "total": 6,
        "total_pages": 2,
        "has_more": False,
        "current_page": 2,
        "last_page": 2,
    }
    for row in body["data"]:
        assert_php_row(row)


async def test_per_page_alone_pages_with_default_page(sim3: Sim) -> None:
    status, body = await sim3.call("GET", "api/tickets?per_page=2")
    assert status == 200
    assert [r["ticketid"] for r in body["data"]] == ["1", "2"]
    assert body["meta"]["has_more"] is True and body["meta"]["total_pages"] == 3


async def test_page_alone_uses_default_per_page(sim3: Sim) -> None:
    status, body = await sim3.call("GET", "api/customers?page=1")
    assert status == 200
    assert body["meta"]["per_page"] == 25 and body["meta"]["total"] == 3


async def test_bare_limit_does_not_page_but_is_per_page_with_page(sim3: Sim) -> None:
    status, body = await sim3.call("GET", "api/tickets?limit=2&fields=subject")
    assert status == 200 and isinstance(body, list) and len(body) == 6
    status, body = await sim3.call("GET", "api/tickets?page=1&limit=2")
    assert status == 200 and body["meta"]["per_page"] == 2 and len(body["data"]) == 2


async def test_page_past_the_end_is_404_no_data(sim3: Sim) -> None:
    status, body = await sim3.call("GET", "api/tickets?page=9&per_page=5")
    assert (status, body) == (404, {"status": False, "message": "No data were found"})


async def test_fields_project_and_keep_the_id(sim3: Sim) -> None:
    status, body = await sim3.call("GET", "api/tickets?page=1&fields=subject,status")
    assert status == 200
    assert body["data"][0] == {"ticketid": "1", "subject": "Cannot log in to the control panel", "status": "1"}
    status, body = await sim3.call("GET", "api/staffs?fields=email")
    assert body[0] == {"staffid": "1", "email": "alice.admin@pmp.example"}


async def test_sort_descending_then_ascending(sim3: Sim) -> None:
    status, body = await sim3.call("GET", "api/tickets?sort=-priority,ticketid&fields=priority")
    assert status == 200
    assert [(r["priority"], r["ticketid"]) for r in body] == [
        ("3", "3"),
        ("3", "6"),
        ("2", "1"),
        ("2", "4"),
        ("1", "2"),
        ("1", "5"),
    ]


async def test_created_bounds_are_inclusive_dates(sim3: Sim) -> None:
    status, body = await sim3.call("GET", "api/tickets?created_after=2024-03-02&created_before=2024-03-04")
    assert status == 200
    assert [r["ticketid"] for r in body] == ["2", "3", "4"]
    status, body = await sim3.call("GET", "api/customers?created_before=2023-02-28&page=1")
    assert [r["userid"] for r in body["data"]] == ["1"] and body["meta"]["total"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("fields=nope", "fields"),
        ("sort=-nope", "sort"),
        ("sort=t.ticketid", "sort"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2024-13-45x", "created_before"),
    ],
)
async def test_invalid_list_params_422(sim3: Sim, query: str, field: str) -> None:
    status, body = await sim3.call("GET", f"api/tickets?{query}")
    assert status == 422
    assert body["status"] is False and body["error"] == "validation_failed"
    assert body["message"] == "The given data was invalid."
    assert field in body["errors"]


async def test_contacts_of_a_customer_paged(sim3: Sim) -> None:
    status, body = await sim3.call("GET", "api/contacts/1?page=1&per_page=1")
    assert status == 200
    assert [r["id"] for r in body["data"]] == ["1"]  # primary first; the inactive contact 5 is not listed
    assert body["meta"]["total"] == 2 and body["meta"]["has_more"] is True


async def test_module2_ignores_list_params(make_sim: SimFactory) -> None:
    sim2 = await make_sim(module=2)
    status, body = await sim2.call("GET", "api/tickets?page=1&per_page=2&fields=subject")
    assert status == 200 and isinstance(body, list) and len(body) == 6
    assert "message" in body[0]


async def test_empty_list_is_404_in_both(make_sim: SimFactory) -> None:
    empty = await make_sim(module=3, seed_demo=False)
    for path in ("api/tickets", "api/tickets?page=1"):
        status, body = await empty.call("GET", path)
        assert (status, body) == (404, {"status": False, "message": "No data were found"})


async def test_ticket_rows_name_the_opening_staff(sim3: Sim) -> None:
    _, row = await sim3.call("GET", "api/tickets/6")
    assert (row["admin"], row["staff_firstname"], row["staff_lastname"]) == ("1", "Alice", "Admin")
    assert {"lastreply", "clientread", "adminread"} <= set(row)
    _, row = await sim3.call("GET", "api/tickets/1")
    assert (row["staff_firstname"], row["staff_lastname"]) == (None, None)


def _ids(body: Any) -> list[str]:
    return [r["ticketid"] for r in body]
