"""The simulator's auth, ticket routes and routing errors, over real loopback HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.pmp_sim import routes

pytestmark = pytest.mark.asyncio


def assert_php_row(row: Any) -> None:
    assert isinstance(row, dict)
    for key, value in row.items():
        assert value is None or isinstance(value, str), (key, value)


TICKET_FORM = {
    "subject": "Printer on fire",
    "department": "2",
    "contactid": "1",
    "userid": "1",
    "priority": "3",
    "message": 'Line one\r\nLine <b>two</b> & "three"',
    "cc": "",
    "tags": "fire,printer",
}


# ----------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "api/tickets"),
        ("GET", "api/tickets/1"),
        ("POST", "api/tickets"),
        ("PUT", "api/tickets/1"),
        ("DELETE", "api/delete/tickets/1"),
        ("GET", "api/customers"),
        ("GET", "api/contacts/1"),
        ("POST", "api/contacts"),
    ],
)
@pytest.mark.parametrize("token", [None, "", "wrong-token"])
async def test_bad_token_is_404_token_not_defined(sim: Any, method: str, path: str, token: str | None) -> None:
    status, body = await sim.call(method, path, token=token)
    assert status == 404
    assert body == {"status": False, "message": "Token is not defined."}


async def test_authorization_header_is_not_read(sim: Any) -> None:
    async with sim.session.get(sim.url + "api/tickets", headers={"Authorization": "test-token-abc"}) as r:
        assert r.status == 404
        assert (await r.json())["message"] == "Token is not defined."


# ----------------------------------------------------------------------------- GET


async def test_list_is_plain_array_of_string_rows(sim: Any) -> None:
    status, body = await sim.call("GET", "api/tickets")
    assert status == 200
    assert isinstance(body, list)
    assert [r["ticketid"] for r in body] == ["1", "2", "3", "4", "5", "6"]
    for row in body:
        assert_php_row(row)
    statuses = {r["ticketid"]: (r["status"], r["status_name"]) for r in body}
    assert statuses["1"] == ("1", "Open")
    assert statuses["2"] == ("2", "In progress")
    assert statuses["3"] == ("3", "Answered")
    assert statuses["4"] == ("4", "On Hold")
    assert statuses["5"] == ("5", "Closed")


async def test_joined_row_columns_collide_like_perfex(sim: Any) -> None:
    status, row = await sim.call("GET", "api/tickets/1")
    assert status == 200
    assert_php_row(row)
    assert row["ticketid"] == "1"
    assert row["email"] == "john.smith@acme.example"  # the contact's
    assert row["name"] == "Medium" == row["priority_name"]  # the priority's
    assert row["priority"] == "2"
    assert row["department_name"] == "Technical Support"
    assert row["service_name"] == "Web Hosting"
    assert row["statuscolor"].startswith("#")
    assert (row["user_firstname"], row["user_lastname"]) == ("John", "Smith")
    assert row["firstname"] is None and row["lastname"] is None  # staff join: nobody
    assert row["company"] == "Acme Widgets Ltd"
    assert row["from_name"] is None and row["ticket_email"] is None
    assert row["cc"] == ""
    assert "\r\n" in row["message"]
    assert row["id"] == "1"  # the contact's id, not the ticket's
    assert "tags" not in row


async def test_non_contact_and_staff_tickets(sim: Any) -> None:
    _, row4 = await sim.call("GET", "api/tickets/4")
    assert (row4["userid"], row4["contactid"]) == ("0", "0")
    assert row4["email"] is None
    assert row4["from_name"] == "Walk-in Visitor"
    assert row4["ticket_email"] == "visitor@example.net"
    assert row4["company"] is None
    _, row6 = await sim.call("GET", "api/tickets/6")
    assert (row6["firstname"], row6["lastname"]) == ("Alice", "Admin")
    assert row6["admin"] == "1"
    assert row6["password"].startswith("$2y$10$")  # the staff hash leaks, like the real thing


async def test_awkward_demo_data_round_trips(sim: Any) -> None:
    _, row2 = await sim.call("GET", "api/tickets/2")
    assert "Trung bình" in row2["subject"]
    _, row3 = await sim.call("GET", "api/tickets/3")
    assert all(ch in row3["subject"] for ch in "&<>\"'")
    _, row5 = await sim.call("GET", "api/tickets/5")
    assert "Ünïcødé ✓" in row5["subject"]


@pytest.mark.parametrize("ticket_id", ["999", "abc", "0", "-1"])
async def test_missing_ticket_is_404(sim: Any, ticket_id: str) -> None:
    status, body = await sim.call("GET", f"api/tickets/{ticket_id}")
    assert status == 404
    assert body == {"status": False, "message": "No data were found"}


async def test_empty_list_is_404(make_sim: Any) -> None:
    sim = await make_sim(seed_demo=False)
    status, body = await sim.call("GET", "api/tickets")
    assert status == 404
    assert body == {"status": False, "message": "No data were found"}
    status, body = await sim.call("GET", "api/customers")
    assert (status, body["message"]) == (404, "No data were found")


async def test_ticket_search(sim: Any) -> None:
    status, body = await sim.call("GET", "api/tickets/search/maintenance")
    assert status == 200
    assert [r["ticketid"] for r in body] == ["6"]
    status, _ = await sim.call("GET", "api/tickets/search/nothing-like-this")
    assert status == 404


# ----------------------------------------------------------------------------- POST


async def test_post_form_answers_without_id(sim: Any) -> None:
    before = sim.db.count_tickets()
    status, body = await sim.call("POST", "api/tickets", data=TICKET_FORM)
    assert status == 200
    assert body == {"status": True, "message": "Ticket add successful."}
    assert sim.db.count_tickets() == before + 1
    new = sim.db.list_ticket_rows()[-1]
    assert new["ticketid"] == "7"
    assert new["subject"] == "Printer on fire"
    assert new["message"] == TICKET_FORM["message"]  # stored as given by default
    assert new["status"] == "1"
    assert new["lastreply"] is None
    assert len(new["ticketkey"] or "") == 32
    assert new["date"] and len(new["date"]) == 19
    assert sim.db.ticket_tags(7) == ["fire", "printer"]
    status, row = await sim.call("GET", "api/tickets/7")
    assert status == 200
    assert row["priority_name"] == "High"
    assert_php_row(row)


async def test_post_multipart_and_record_id(make_sim: Any) -> None:
    import aiohttp

    sim = await make_sim(record_id=True)
    form = aiohttp.FormData()
    for key, val in TICKET_FORM.items():
        form.add_field(key, val)
    status, body = await sim.call("POST", "api/tickets", data=form)
    assert status == 200
    assert body == {"status": True, "message": "Ticket add successful.", "record_id": 7}
    assert isinstance(body["record_id"], int)


async def test_post_optional_fields_defaults(sim: Any) -> None:
    form = {"subject": "  Minimal  ", "department": "1", "contactid": "3", "userid": "2"}
    status, _ = await sim.call("POST", "api/tickets", data=form)
    assert status == 200
    new = sim.db.get_ticket(7)
    assert new is not None
    assert new["subject"] == "Minimal"
    assert (new["priority"], new["assigned"], new["project_id"]) == ("0", "0", "0")
    assert new["service"] is None
    assert new["message"] == ""
    assert new["cc"] == ""


async def test_post_json_body_is_seen_as_empty(sim: Any) -> None:
    before = sim.db.count_tickets()
    status, body = await sim.call("POST", "api/tickets", json=TICKET_FORM)
    assert status == 404
    assert body["status"] is False
    assert set(body["error"]) == {"subject", "department", "contactid", "userid"}
    assert body["error"]["subject"] == "The Ticket Name field is required."
    assert "The Department field is required." in body["message"]
    assert sim.db.count_tickets() == before


async def test_post_missing_one_field(sim: Any) -> None:
    form = dict(TICKET_FORM)
    del form["department"]
    form["subject"] = "   "
    status, body = await sim.call("POST", "api/tickets", data=form)
    assert status == 404
    assert set(body["error"]) == {"subject", "department"}


async def test_post_strip_html_option(make_sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "STRIP_TICKET_HTML", True)
    sim = await make_sim()
    status, _ = await sim.call("POST", "api/tickets", data=TICKET_FORM)
    assert status == 200
    new = sim.db.get_ticket(7)
    assert new is not None
    assert new["message"] == 'Line one<br />\r\nLine two & "three"'


# ----------------------------------------------------------------------------- PUT


async def test_put_resets_priority_and_assigned(sim: Any) -> None:
    before = sim.db.get_ticket(1)
    assert before is not None and (before["priority"], before["assigned"]) == ("2", "1")
    status, body = await sim.call("PUT", "api/tickets/1", json={"status": "2"})
    assert status == 200
    assert body == {"status": True, "message": "Ticket Update Successful."}
    after = sim.db.get_ticket(1)
    assert after is not None
    assert after["status"] == "2"
    assert (after["priority"], after["assigned"]) == ("0", "0")
    assert sim.db.ticket_tags(1) == []  # tags missing -> cleared


async def test_put_full_set_keeps_values_and_empty_priority_resets(sim: Any) -> None:
    status, _ = await sim.call("PUT", "api/tickets/2", json={"status": "3", "priority": "1", "assigned": "1"})
    assert status == 200
    row = sim.db.get_ticket(2)
    assert row is not None and (row["status"], row["priority"], row["assigned"]) == ("3", "1", "1")
    status, _ = await sim.call("PUT", "api/tickets/2", json={"status": "3", "priority": "", "assigned": 1})
    assert status == 200
    row = sim.db.get_ticket(2)
    assert row is not None and (row["priority"], row["assigned"]) == ("0", "1")


async def test_put_nothing_changed_is_404(sim: Any) -> None:
    body = {"status": "1", "priority": "2", "assigned": "1", "tags": "login,urgent"}
    status, answer = await sim.call("PUT", "api/tickets/1", json=body)
    assert status == 404
    assert answer == {"status": False, "message": "Ticket Update Fail."}


async def test_put_missing_ticket_is_404(sim: Any) -> None:
    status, body = await sim.call("PUT", "api/tickets/999", json={"status": "2"})
    assert status == 404
    assert body == {"status": False, "message": "Ticket Update Fail."}


async def test_put_unknown_column_is_500(sim: Any) -> None:
    status, body = await sim.call("PUT", "api/tickets/1", json={"status": "2", "status_name": "x"})
    assert status == 500
    assert isinstance(body, str)
    assert "Unknown column" in body and "status_name" in body
    assert "A Database Error Occurred" in body
    row = sim.db.get_ticket(1)
    assert row is not None and row["status"] == "1"


async def test_put_form_or_empty_body_not_acceptable(sim: Any) -> None:
    status, body = await sim.call("PUT", "api/tickets/1", data={"status": "2"})
    assert status == 406
    assert body["status"] is False
    status, _ = await sim.call("PUT", "api/tickets/1", json={})
    assert status == 406


async def test_put_contactid_clears_ticket_name_and_email(sim: Any) -> None:
    change = {"contactid": "1", "userid": "1", "priority": "2"}
    status, _ = await sim.call("PUT", "api/tickets/4", json=change)
    assert status == 200
    row = sim.db.get_ticket(4)
    assert row is not None and row["name"] is None and row["email"] is None


# ----------------------------------------------------------------------------- DELETE


async def test_delete_ticket(sim: Any) -> None:
    status, body = await sim.call("DELETE", "api/delete/tickets/3")
    assert (status, body) == (200, {"status": True, "message": "Ticket Delete Successful."})
    status, body = await sim.call("DELETE", "api/delete/tickets/3")
    assert (status, body) == (404, {"status": False, "message": "Ticket Delete Fail."})
    status, _ = await sim.call("GET", "api/tickets/3")
    assert status == 404


# ----------------------------------------------------------------------------- routing


async def test_unknown_route_and_wrong_method(sim: Any) -> None:
    status, _ = await sim.call("GET", "api/nothing")
    assert status == 404
    status, _ = await sim.call("GET", "api/tickets/1/extra")
    assert status == 404
    status, body = await sim.call("PATCH", "api/tickets/1")
    assert status == 405
    assert body["status"] is False
    status, body = await sim.call("PATCH", "api/tickets/1", token="bad")
    assert (status, body["message"]) == (404, "Token is not defined.")


async def test_data_persists_in_the_file(make_sim: Any) -> None:
    sim = await make_sim()
    await sim.call("POST", "api/tickets", data=TICKET_FORM)
    again = await make_sim()  # same file, no second seeding
    assert again.db.count_tickets() == 7
    assert again.db.count_customers() == 3
