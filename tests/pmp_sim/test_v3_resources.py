"""Module 3.x resources: staffs, notes and custom tables (allowlist, core tables, grants)."""

from __future__ import annotations

import pytest

from gateway.pmp_sim import SimToken

from .conftest import Sim, SimFactory, assert_php_row

pytestmark = pytest.mark.asyncio

REPLIES = "api/thirdparty/customtable/tblticket_replies"


async def test_v3_routes_are_unknown_in_2x(make_sim: SimFactory) -> None:
    sim2 = await make_sim(module=2)
    for path in ("api/staffs", "api/notes/1", "api/notes/ticket/1", f"{REPLIES}"):
        status, body = await sim2.call("GET", path)
        assert status == 404 and isinstance(body, str) and "404 Page Not Found" in body, path


async def test_staffs_list_get_search_keep_password_hashes(sim3: Sim) -> None:
    status, rows = await sim3.call("GET", "api/staffs")
    assert status == 200 and [r["staffid"] for r in rows] == ["1", "2", "3"]
    for row in rows:
        assert_php_row(row)
        assert str(row["password"]).startswith("$2y$10$")  # the gateway must strip it
    status, row = await sim3.call("GET", "api/staffs/3")
    assert (status, row["firstname"], row["lastname"]) == (200, "Chloé", "Dupont")
    status, rows = await sim3.call("GET", "api/staffs/search/chloe")
    assert status == 200 and [r["staffid"] for r in rows] == ["3"]
    status, body = await sim3.call("GET", "api/staffs?page=1&per_page=2")
    assert body["meta"]["total"] == 3 and len(body["data"]) == 2
    assert (await sim3.call("GET", "api/staffs/99"))[0] == 404


async def test_staffs_create_update_delete(sim3: Sim) -> None:
    form = {"firstname": "Dan", "lastname": "New", "email": "dan@pmp.example", "password": "pw"}
    status, body = await sim3.call("POST", "api/staffs", data=form)
    assert (status, body["record_id"]) == (200, 4)
    status, body = await sim3.call("POST", "api/staffs", data=form)
    assert status == 409
    status, body = await sim3.call("POST", "api/staffs", data={"firstname": "x"})
    assert status == 422 and set(body["errors"]) == {"lastname", "email"}
    status, _ = await sim3.call("PUT", "api/staffs/4", json={"lastname": "Newer", "bogus": 1})
    assert status == 200
    _, row = await sim3.call("GET", "api/staffs/4")
    assert (row["firstname"], row["lastname"]) == ("Dan", "Newer")
    assert (await sim3.call("DELETE", "api/staffs/4"))[0] == 200
    assert (await sim3.call("GET", "api/staffs/4"))[0] == 404


async def test_notes_of_a_ticket_and_crud(make_sim: SimFactory) -> None:
    sim = await make_sim(module=3, extra_tokens=[SimToken("bob-token", staff_id=2)])
    status, rows = await sim.call("GET", "api/notes/ticket/3")
    assert status == 200 and [(r["id"], r["addedfrom"], r["rel_type"]) for r in rows] == [("2", "2", "ticket")]
    status, body = await sim.call(
        "POST", "api/notes", token="bob-token", data={"rel_type": "ticket", "rel_id": "1", "description": "Called"}
    )
    assert (status, body["record_id"]) == (200, 3)
    status, row = await sim.call("GET", "api/notes/3")
    assert (row["addedfrom"], row["rel_id"], row["description"]) == ("2", "1", "Called")
    assert len(str(row["dateadded"])) == 19
    status, body = await sim.call("POST", "api/notes", data={"rel_type": "planet", "rel_id": "x"})
    assert status == 422 and set(body["errors"]) == {"rel_type", "rel_id", "description"}
    assert (await sim.call("PUT", "api/notes/3", json={"description": "Called back"}))[0] == 200
    assert sim.db.get_row("tblnotes", "id", 3)["description"] == "Called back"  # type: ignore[index]
    assert (await sim.call("DELETE", "api/notes/3"))[0] == 200
    assert (await sim.call("GET", "api/notes/3"))[0] == 404
    assert (await sim.call("GET", "api/notes/ticket/2"))[0] == 404


async def test_custom_table_read_and_write_leave_the_ticket_alone(sim3: Sim) -> None:
    status, rows = await sim3.call("GET", REPLIES)
    assert status == 200 and [r["id"] for r in rows] == ["1", "2", "3", "4"]
    staff_reply = rows[1]
    assert (staff_reply["ticketid"], staff_reply["admin"], staff_reply["name"]) == ("3", "2", None)
    before = sim3.db.get_ticket(1)
    row = {"ticketid": 1, "userid": 0, "contactid": 0, "message": "On it", "admin": 1, "date": "2024-03-01 10:00:00"}
    status, body = await sim3.call("POST", REPLIES, json=row)
    assert (status, body) == (200, {"status": True, "message": "Record created successfully.", "id": 5})
    assert sim3.db.get_ticket(1) == before  # no lastreply/status/read-flag change
    status, got = await sim3.call("GET", f"{REPLIES}/5")
    assert (got["message"], got["admin"]) == ("On it", "1")
    assert (await sim3.call("PUT", f"{REPLIES}/5", json={"message": "Done"}))[0] == 200
    assert (await sim3.call("DELETE", f"{REPLIES}/5"))[0] == 200
    status, depts = await sim3.call("GET", "api/thirdparty/customtable/tbldepartments")
    assert [d["name"] for d in depts] == ["Sales", "Technical Support", "Billing", "Abuse"]


async def test_custom_table_validation(sim3: Sim) -> None:
    status, body = await sim3.call("POST", REPLIES, json={"ticketid": 1, "nope": "x"})
    assert status == 422 and set(body["errors"]) == {"nope"}
    status, body = await sim3.call("POST", REPLIES, json={})
    assert status == 422


async def test_core_tables_always_denied(make_sim: SimFactory) -> None:
    sim = await make_sim(module=3, allow_tables=["tblstaff", "tbloptions"])
    for table in ("tblstaff", "tbloptions", "tblroles", "tblmigrations", "tblsessions", "tblapi_idempotency"):
        assert (await sim.call("GET", f"api/thirdparty/customtable/{table}"))[0] == 403, table


async def test_table_not_on_allowlist_403(make_sim: SimFactory) -> None:
    sim = await make_sim(module=3, allow_tables=["tbldepartments"])
    status, body = await sim.call("GET", REPLIES)
    assert status == 403 and body["status"] is False
    assert (await sim.call("GET", "api/thirdparty/customtable/tbldepartments"))[0] == 200


async def test_read_only_grant_and_put_on_row_zero(make_sim: SimFactory) -> None:
    sim = await make_sim(
        module=3, extra_tokens=[SimToken("reader", tables={"tblticket_replies": "read", "tbldepartments": "read"})]
    )
    assert (await sim.call("GET", REPLIES, token="reader"))[0] == 200
    assert (await sim.call("POST", REPLIES, token="reader", json={"ticketid": 1}))[0] == 403
    assert (await sim.call("PUT", f"{REPLIES}/1", token="reader", json={"message": "x"}))[0] == 403
    assert (await sim.call("DELETE", f"{REPLIES}/1", token="reader"))[0] == 403
    # The discovery probe: PUT on row 0 changes nothing; 403 without a write grant, 404 with one.
    assert (await sim.call("PUT", f"{REPLIES}/0", token="reader", json={"message": "x"}))[0] == 403
    assert (await sim.call("PUT", f"{REPLIES}/0", json={"message": "x"}))[0] == 404
    assert sim.db.count_tickets() == 6


async def test_allow_table_specs(make_sim: SimFactory) -> None:
    sim = await make_sim(module=3, allow_tables=["tblticket_replies:read"])
    assert (await sim.call("GET", REPLIES))[0] == 200
    assert (await sim.call("PUT", f"{REPLIES}/0", json={"message": "x"}))[0] == 403
