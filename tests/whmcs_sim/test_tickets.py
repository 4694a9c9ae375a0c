"""Support actions of the WHMCS simulator (reference section 2): happy paths, errors, value types."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from gateway.whmcs_sim import Credential
from tests.whmcs_sim.conftest import Sim, SimFactory

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def assert_date(value: Any) -> None:
    assert isinstance(value, str)
    datetime.strptime(value, DATE_FORMAT)  # no offset, no T


def assert_strings(record: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    for key, value in record.items():
        if key in skip:
            continue
        assert isinstance(value, str), (key, value)


# ------------------------------------------------------------------ GetTicket


async def test_get_ticket_shape_as_seed_001(sim: Sim) -> None:
    t = await sim.ok("GetTicket", ticketid=1)
    assert_strings(t, skip=("replies", "notes"))
    assert (t["ticketid"], t["deptid"], t["deptname"], t["userid"], t["contactid"]) == (
        "1",
        "2",
        "Technical Support",
        "1",
        "0",  # the primary contact is the client itself
    )
    assert (t["name"], t["email"]) == ("John Smith", "john.smith@acme.example")
    assert (t["status"], t["priority"], t["admin"], t["flag"], t["service"], t["cc"]) == (
        "Open",
        "Medium",
        "",
        "1",
        "",
        "",
    )
    assert len(t["tid"]) == 6 and t["tid"].isdigit()
    assert t["c"] == "0f6a3cc1"  # the first 8 characters of the demo key
    assert t["date"] == "2024-03-01 09:15:00" and t["lastreply"] == "2024-03-01 10:00:00"
    replies = t["replies"]["reply"]
    assert [r["replyid"] for r in replies] == ["0", "1", "2"]
    opening, staff, contact = replies
    assert opening["message"].startswith("Hello,\r\nsince") and opening["name"] == "John Smith"
    assert (staff["admin"], staff["userid"], staff["name"], staff["rating"]) == ("Alice Admin", "1", "", "0")
    assert (contact["admin"], contact["userid"], contact["contactid"]) == ("", "1", "2")
    assert contact["requestor_name"] == "Jane O'Connor" and contact["requestor_email"] == "jane.oconnor@acme.example"
    for r in replies:
        assert_date(r["date"])
        assert_strings(r, skip=("attachments", "attachments_removed"))
    notes = t["notes"]["note"]
    assert [(n["noteid"], n["admin"], n["message"]) for n in notes] == [
        ("1", "Bob Builder", "Checked the session store: fine.")
    ]


async def test_get_ticket_by_ticketnum_and_sort(sim: Sim) -> None:
    tid = (await sim.ok("GetTicket", ticketid=1))["tid"]
    t = await sim.ok("GetTicket", ticketnum=tid, repliessort="DESC")
    assert t["ticketid"] == "1"
    assert [r["replyid"] for r in t["replies"]["reply"]] == ["2", "1", "0"]


async def test_get_ticket_guest_and_staff_opened(sim: Sim) -> None:
    guest = await sim.ok("GetTicket", ticketid=4)
    assert (guest["userid"], guest["name"], guest["email"]) == ("0", "Walk-in Visitor", "visitor@example.net")
    assert guest["replies"]["reply"][1]["name"] == "Walk-in Visitor"
    assert guest["requestor_type"] == "Guest"
    staff = await sim.ok("GetTicket", ticketid=6)
    assert staff["admin"] == "Alice Admin" and staff["requestor_type"] == "Operator"
    # never replied: lastreply is the opening date
    assert staff["lastreply"] == staff["date"] == "2024-03-05 10:00:00"


@pytest.mark.parametrize("params", [{"ticketid": "999"}, {"ticketnum": "1"}, {}])
async def test_get_ticket_not_found(sim: Sim, params: dict[str, str]) -> None:
    assert await sim.error("GetTicket", **params) == "Ticket ID Not Found"


# ------------------------------------------------------------------ GetTickets


async def test_get_tickets_counters_are_ints_items_strings(sim: Sim) -> None:
    body = await sim.ok("GetTickets")
    assert (body["totalresults"], body["startnumber"], body["numreturned"]) == (6, 0, 6)
    for item in body["tickets"]["ticket"]:
        assert "ticketid" not in item
        assert_strings(item, skip=("attachments", "attachments_removed"))
        assert_date(item["date"])
        assert_date(item["lastreply"])
    # most recent activity first
    lastreplies = [t["lastreply"] for t in body["tickets"]["ticket"]]
    assert lastreplies == sorted(lastreplies, reverse=True)


async def test_get_tickets_paging(sim: Sim) -> None:
    seen: list[str] = []
    start = 0
    while True:
        page = await sim.ok("GetTickets", limitstart=start, limitnum=4)
        assert page["startnumber"] == start and page["totalresults"] == 6
        if not page["numreturned"]:
            break
        seen += [t["id"] for t in page["tickets"]["ticket"]]
        start += page["numreturned"]
    assert sorted(seen, key=int) == ["1", "2", "3", "4", "5", "6"]
    empty = await sim.ok("GetTickets", limitstart=50)
    assert (empty["numreturned"], empty["tickets"]) == (0, {"ticket": []})


@pytest.mark.parametrize(
    ("params", "ids"),
    [
        ({"deptid": "1"}, {"2", "4"}),
        ({"clientid": "1"}, {"1", "5", "6"}),
        ({"email": "visitor@example.net"}, {"4"}),
        ({"status": "Closed"}, {"5"}),
        ({"status": "On Hold"}, {"4"}),
        ({"status": "All Active Tickets"}, {"1", "2", "3", "4", "6"}),
        ({"status": "Awaiting Reply"}, {"1", "6"}),
        ({"status": "My Flagged Tickets"}, {"1", "5", "6"}),
        ({"subject": "invoice"}, {"3", "5"}),
        ({"clientid": "1", "status": "Open"}, {"1", "6"}),
    ],
)
async def test_get_tickets_filters(sim: Sim, params: dict[str, str], ids: set[str]) -> None:
    body = await sim.ok("GetTickets", **params)
    assert {t["id"] for t in body["tickets"]["ticket"]} == ids
    assert body["totalresults"] == len(ids)


async def test_department_assignments(make_sim: SimFactory) -> None:
    sim = await make_sim(credentials=[Credential("sales", "s3", departments=frozenset({1}))])
    auth = {"identifier": "sales", "secret": "s3", "responsetype": "json"}
    _, body = await sim.json("GetTickets", auth=auth)
    assert {t["deptid"] for t in body["tickets"]["ticket"]} == {"1"}
    _, body = await sim.json("GetTickets", auth=auth, ignore_dept_assignments="1")
    assert body["totalresults"] == 6
    _, body = await sim.json("GetSupportDepartments", auth=auth)
    assert [d["id"] for d in body["departments"]["department"]] == ["1"]
    _, body = await sim.json("GetSupportDepartments", auth=auth, ignore_dept_assignments="true")
    assert [d["id"] for d in body["departments"]["department"]] == ["1", "2", "3", "4"]
    _, body = await sim.json("GetTicketCounts", auth=auth)
    assert body["filteredDepartments"] == [1]
    _, body = await sim.json("GetTicketCounts", auth=auth, ignoreDepartmentAssignments="1")
    assert body["filteredDepartments"] == [1, 2, 3, 4]


# ------------------------------------------------------------------ OpenTicket


async def test_open_ticket_for_client_contact(sim: Sim) -> None:
    out = await sim.ok(
        "OpenTicket",
        deptid=3,
        subject="Refund",
        message="Please\r\nrefund",
        clientid=1,
        contactid=2,
        priority="High",
        noemail="1",
    )
    assert set(out) == {"result", "id", "tid", "c"}
    assert out["id"].isdigit() and out["tid"].isdigit() and len(out["tid"]) == 6
    assert len(out["c"]) == 8 and out["c"].isalnum()
    t = await sim.ok("GetTicket", ticketid=out["id"])
    assert (t["tid"], t["c"], t["deptid"], t["userid"], t["contactid"]) == (out["tid"], out["c"], "3", "1", "2")
    assert (t["status"], t["priority"], t["subject"]) == ("Open", "High", "Refund")
    assert (t["name"], t["email"]) == ("Jane O'Connor", "jane.oconnor@acme.example")
    assert t["replies"]["reply"][0]["message"] == "Please\r\nrefund"
    assert_date(t["date"])


async def test_open_ticket_guest_with_created(sim: Sim) -> None:
    out = await sim.ok(
        "OpenTicket",
        deptid=1,
        subject="Hi",
        message="m",
        name="Guest One",
        email="g1@example.org",
        created="2021-05-06T07:08:09",
    )
    t = await sim.ok("GetTicket", ticketid=out["id"])
    assert (t["userid"], t["name"], t["email"], t["priority"]) == ("0", "Guest One", "g1@example.org", "Medium")
    assert t["date"] == "2021-05-06 07:08:09" and t["lastreply"] == "2021-05-06 07:08:09"
    out = await sim.ok(
        "OpenTicket",
        deptid=1,
        subject="Hi",
        message="m",
        name="G",
        email="g@example.org",
        created="2020-01-02 03:04:05",
    )
    assert (await sim.ok("GetTicket", ticketid=out["id"]))["date"] == "2020-01-02 03:04:05"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"clientid": "99"}, "Client ID Not Found"),
        ({"clientid": "2", "contactid": "2"}, "Contact ID Not Found"),  # contact 2 belongs to client 1
        ({"clientid": "1", "contactid": "77"}, "Contact ID Not Found"),
        ({}, "Name and email address are required if not a client"),
        ({"name": "X"}, "Name and email address are required if not a client"),
        ({"name": "X", "email": "not-an-email"}, "Email Address Invalid"),
        ({"clientid": "1", "deptid": "99"}, "Department ID not found"),
        ({"clientid": "1", "deptid": ""}, "Department ID not found"),
        ({"clientid": "1", "subject": ""}, "Subject is required"),
        ({"clientid": "1", "message": " "}, "Message is required"),
        ({"clientid": "1", "priority": "Urgent"}, "Invalid Ticket Priority. Valid priorities are: Low,Medium,High"),
        ({"clientid": "1", "created": "yesterday"}, "Invalid Date Format"),
        ({"clientid": "1", "created": "2999-01-01 00:00:00"}, "Ticket creation date cannot be in the future"),
    ],
)
async def test_open_ticket_errors(sim: Sim, params: dict[str, str], message: str) -> None:
    before = sim.db.count_tickets()
    base = {"deptid": "1", "subject": "s", "message": "m"}
    assert await sim.error("OpenTicket", **{**base, **params}) == message
    assert sim.db.count_tickets() == before


# ------------------------------------------------------------------ UpdateTicket


async def test_update_ticket_changes_only_what_is_sent(sim: Sim) -> None:
    before = await sim.ok("GetTicket", ticketid=2)
    out = await sim.ok("UpdateTicket", ticketid=2, status="on hold", priority="high", deptid=3, flag=2)
    assert out == {"result": "success", "ticketid": "2"}
    after = await sim.ok("GetTicket", ticketid=2)
    assert (after["status"], after["priority"], after["deptid"], after["deptname"], after["flag"]) == (
        "On Hold",
        "High",
        "3",
        "Billing",
        "2",
    )
    same = {k: v for k, v in before.items() if k not in ("status", "priority", "deptid", "deptname", "flag")}
    assert {k: after[k] for k in same} == same
    await sim.ok("UpdateTicket", ticketid=2, removeFlag="1", subject="New subject", created="2024-01-01 00:00:00")
    after = await sim.ok("GetTicket", ticketid=2)
    assert (after["flag"], after["subject"], after["date"]) == ("0", "New subject", "2024-01-01 00:00:00")
    await sim.ok("UpdateTicket", ticketid=2, message="replaced opening")
    after = await sim.ok("GetTicket", ticketid=2)
    assert after["replies"]["reply"][0]["message"] == "replaced opening"


async def test_update_ticket_reassign_client(sim: Sim) -> None:
    await sim.ok("UpdateTicket", ticketid=4, userid=3)
    t = await sim.ok("GetTicket", ticketid=4)
    assert (t["userid"], t["email"]) == ("3", "zoe@unicode.example")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ticketid": "999", "status": "Open"}, "Ticket ID Not Found"),
        ({"status": "Open"}, "Ticket ID Not Found"),
        ({"ticketid": "1", "deptid": "99"}, "Department ID Not Found"),
        ({"ticketid": "1", "priority": "Urgent"}, "Invalid Ticket Priority. Valid priorities are: Low,Medium,High"),
        (
            {"ticketid": "1", "status": "Sleeping"},
            "Invalid Ticket Status. Valid statuses are: Open,Answered,Customer-Reply,On Hold,In Progress,Closed",
        ),
        ({"ticketid": "1", "created": "31/12/2020"}, "Invalid Date Format"),
        ({"ticketid": "1", "created": "2999-01-01"}, "Ticket creation date cannot be in the future"),
    ],
)
async def test_update_ticket_errors(sim: Sim, params: dict[str, str], message: str) -> None:
    before = await sim.ok("GetTicket", ticketid=1)
    assert await sim.error("UpdateTicket", **params) == message
    assert await sim.ok("GetTicket", ticketid=1) == before


# ------------------------------------------------------------------ DeleteTicket


async def test_delete_ticket(sim: Sim) -> None:
    assert await sim.ok("DeleteTicket", ticketid=1) == {"result": "success"}
    assert await sim.error("GetTicket", ticketid=1) == "Ticket ID Not Found"
    assert sim.db.scalar("SELECT COUNT(*) FROM tblticketreplies WHERE tid = 1") == 0
    assert sim.db.scalar("SELECT COUNT(*) FROM tblticketnotes WHERE ticketid = 1") == 0
    assert await sim.error("DeleteTicket", ticketid=1) == "Ticket ID not found"
    assert await sim.error("DeleteTicket") == "Ticket ID not found"


# ------------------------------------------------------------------ AddTicketReply


async def test_add_ticket_reply_as_admin_sets_answered(sim: Sim) -> None:
    out = await sim.ok("AddTicketReply", ticketid=2, message="On it.", adminusername="bob", noemail="true")
    assert out == {"result": "success"}
    t = await sim.ok("GetTicket", ticketid=2)
    last = t["replies"]["reply"][-1]
    assert (last["admin"], last["message"], last["requestor_type"]) == ("Bob Builder", "On it.", "Operator")
    assert t["status"] == "Answered" and t["lastreply"] == last["date"]


async def test_add_ticket_reply_as_client_contact_and_guest(sim: Sim) -> None:
    await sim.ok("AddTicketReply", ticketid=3, message="client says", clientid=3)
    t = await sim.ok("GetTicket", ticketid=3)
    last = t["replies"]["reply"][-1]
    assert (last["userid"], last["contactid"], last["admin"], t["status"]) == ("3", "0", "", "Customer-Reply")
    assert last["requestor_name"] == "Zoë Ünïcødé"
    await sim.ok("AddTicketReply", ticketid=1, message="contact says", clientid=1, contactid=2, status="On Hold")
    t = await sim.ok("GetTicket", ticketid=1)
    last = t["replies"]["reply"][-1]
    assert (last["userid"], last["contactid"], t["status"]) == ("1", "2", "On Hold")
    await sim.ok(
        "AddTicketReply", ticketid=4, message="guest says", name="Walk-in Visitor", email="visitor@example.net"
    )
    last = (await sim.ok("GetTicket", ticketid=4))["replies"]["reply"][-1]
    assert (last["userid"], last["name"], last["email"]) == ("0", "Walk-in Visitor", "visitor@example.net")


async def test_add_ticket_reply_back_dated(sim: Sim) -> None:
    await sim.ok("AddTicketReply", ticketid=2, message="old", adminusername="alice", created="2024-03-02 05:00:00")
    t = await sim.ok("GetTicket", ticketid=2)
    assert t["replies"]["reply"][-1]["date"] == "2024-03-02 05:00:00"
    assert t["lastreply"] == "2024-03-02 05:00:00"
    # a back-dated reply older than the last activity does not move lastreply back
    await sim.ok("AddTicketReply", ticketid=2, message="older", adminusername="alice", created="2024-03-02 04:00:00")
    t = await sim.ok("GetTicket", ticketid=2)
    assert t["lastreply"] == "2024-03-02 05:00:00"
    assert [r["message"] for r in t["replies"]["reply"][1:]] == ["older", "old"]  # in date order


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ticketid": "999", "message": "x", "adminusername": "alice"}, "Ticket ID not found"),
        ({"message": "x", "adminusername": "alice"}, "Ticket ID not found"),
        ({"ticketid": "1", "message": "x", "clientid": "99"}, "Client ID Not Found"),
        ({"ticketid": "1", "message": "x", "clientid": "1", "contactid": "4"}, "Contact ID Not Found"),
        ({"ticketid": "1", "message": "x"}, "Name and email address are required if not a client"),
        ({"ticketid": "1", "message": "x", "name": "N", "email": "bad"}, "Email Address Invalid"),
        ({"ticketid": "1", "message": "", "adminusername": "alice"}, "Message is required"),
        ({"ticketid": "1", "message": "x", "adminusername": "alice", "status": "Nope"}, "Invalid Ticket Status"),
        ({"ticketid": "1", "message": "x", "adminusername": "alice", "created": "soon"}, "Invalid Date Format"),
        (
            {"ticketid": "1", "message": "x", "adminusername": "alice", "created": "2999-01-01 00:00:00"},
            "Reply creation date cannot be in the future",
        ),
    ],
)
async def test_add_ticket_reply_errors(sim: Sim, params: dict[str, str], message: str) -> None:
    before = sim.db.scalar("SELECT COUNT(*) FROM tblticketreplies")
    assert await sim.error("AddTicketReply", **params) == message
    assert sim.db.scalar("SELECT COUNT(*) FROM tblticketreplies") == before


# ------------------------------------------------------------------ notes


async def test_add_ticket_note_and_get_ticket_notes(sim: Sim) -> None:
    tid = (await sim.ok("GetTicket", ticketid=3))["tid"]
    assert await sim.ok("AddTicketNote", ticketnum=tid, message="internal") == {"result": "success"}
    await sim.ok("AddTicketNote", ticketid=3, message="dated", created="2024-03-03 16:00:00", markdown="1")
    body = await sim.ok("GetTicketNotes", ticketid=3)
    assert body["totalresults"] == 2 and isinstance(body["totalresults"], int)
    notes = body["notes"]["note"]
    assert [n["message"] for n in notes] == ["internal", "dated"]
    assert notes[1]["date"] == "2024-03-03 16:00:00"
    for n in notes:
        assert set(n) >= {"id", "admin", "date", "message", "attachment", "attachments_removed"}
        assert n["admin"] == "Alice Admin"  # the credential's admin
        assert n["attachments_removed"] is False
        assert_date(n["date"])
    assert (await sim.ok("GetTicket", ticketid=3))["notes"]["note"][0]["noteid"] == notes[0]["id"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ticketid": "999", "message": "x"}, "Ticket ID not found"),
        ({"ticketnum": "nope", "message": "x"}, "Ticket ID not found"),
        ({"ticketid": "1", "message": ""}, "Message is required"),
        ({"ticketid": "1", "message": "x", "created": "bad"}, "Invalid Date Format"),
        ({"ticketid": "1", "message": "x", "created": "2999-01-01"}, "Ticket creation date cannot be in the future"),
    ],
)
async def test_add_ticket_note_errors(sim: Sim, params: dict[str, str], message: str) -> None:
    assert await sim.error("AddTicketNote", **params) == message


async def test_get_ticket_notes_unknown_ticket(sim: Sim) -> None:
    assert await sim.error("GetTicketNotes", ticketid=999) == "Ticket ID Not Found"


async def test_created_just_now_is_not_future(sim: Sim) -> None:
    recent = (datetime.now() - timedelta(minutes=1)).strftime(DATE_FORMAT)
    await sim.ok("AddTicketNote", ticketid=1, message="x", created=recent)


# ------------------------------------------------------------------ departments, statuses, counts


async def test_get_support_departments(sim: Sim) -> None:
    body = await sim.ok("GetSupportDepartments")
    assert body["totalresults"] == 4
    depts = {d["id"]: d for d in body["departments"]["department"]}
    for d in depts.values():
        assert_strings(d)
    assert depts["1"] == {"id": "1", "name": "Sales", "awaitingreply": "0", "opentickets": "2"}
    assert depts["2"]["awaitingreply"] == "2" and depts["2"]["opentickets"] == "2"
    assert depts["4"] == {"id": "4", "name": "Abuse", "awaitingreply": "0", "opentickets": "0"}


async def test_get_support_statuses(sim: Sim) -> None:
    body = await sim.ok("GetSupportStatuses")
    assert body["totalresults"] == 6
    statuses = body["statuses"]["status"]
    assert [s["title"] for s in statuses] == ["Open", "Answered", "Customer-Reply", "On Hold", "In Progress", "Closed"]
    counts = {s["title"]: s["count"] for s in statuses}
    assert counts == {"Open": 2, "Answered": 1, "Customer-Reply": 0, "On Hold": 1, "In Progress": 1, "Closed": 1}
    assert all(isinstance(s["count"], int) and s["color"].startswith("#") for s in statuses)
    body = await sim.ok("GetSupportStatuses", deptid=1)
    counts = {s["title"]: s["count"] for s in body["statuses"]["status"]}
    assert counts["In Progress"] == 1 and counts["On Hold"] == 1 and counts["Open"] == 0


async def test_get_ticket_counts(sim: Sim) -> None:
    body = await sim.ok("GetTicketCounts")
    assert body == {
        "result": "success",
        "filteredDepartments": [1, 2, 3, 4],
        "allActive": 5,
        "awaitingReply": 2,
        "flaggedTickets": 3,
    }
    body = await sim.ok("GetTicketCounts", includeCountsByStatus=1)
    assert body["status"]["customerreply"] == {"title": "Customer-Reply", "count": 0}
    assert body["status"]["onhold"] == {"title": "On Hold", "count": 1}
    assert set(body["status"]) == {"open", "answered", "customerreply", "onhold", "inprogress", "closed"}


# ------------------------------------------------------------------ GetAdminUsers (staff list)


async def test_get_admin_users(sim: Sim) -> None:
    sim.db.execute("INSERT INTO tbladmins (id, username, firstname, lastname, email, disabled) VALUES (3, 'zed', "
                   "'Aaron', 'Zed', 'zed@demo.example', 1)")  # fmt: skip
    body = await sim.ok("GetAdminUsers")
    assert body["count"] == 2 and isinstance(body["count"], int)
    alice, bob = body["admin_users"]
    assert (alice["id"], alice["username"], alice["firstname"], alice["lastname"], alice["email"]) == (
        1,
        "alice",
        "Alice",
        "Admin",
        "alice.admin@demo.example",
    )
    assert alice["isDisabled"] is False and alice["supportDepartmentIds"] == ["1", "2", "3", "4"]
    assert bob["username"] == "bob"
    assert "password" not in str(body)
    everyone = await sim.ok("GetAdminUsers", include_disabled="true")
    assert [a["id"] for a in everyone["admin_users"]] == [3, 1, 2]  # by first name
    found = await sim.ok("GetAdminUsers", email="bob@")
    assert [a["id"] for a in found["admin_users"]] == [2]


# ------------------------------------------------------------------ attachments, services, users


def _attachments(*names: str) -> str:
    import base64
    import json

    items = [{"name": n, "data": base64.b64encode(b"file body").decode()} for n in names]
    return base64.b64encode(json.dumps(items).encode()).decode()


async def test_attachments_on_ticket_reply_and_note(sim: Sim) -> None:
    out = await sim.ok(
        "OpenTicket", deptid=1, subject="s", message="m", clientid=1, attachments=_attachments("a.png", "b c.pdf")
    )
    await sim.ok("AddTicketReply", ticketid=out["id"], message="r", clientid=1, attachments=_attachments("log.txt"))
    await sim.ok("AddTicketNote", ticketid=out["id"], message="n", attachments=_attachments("x.txt"))
    await sim.ok("AddTicketNote", ticketid=out["id"], message="garbage ignored", attachments="%%%not base64")
    t = await sim.ok("GetTicket", ticketid=out["id"])
    opening, reply = t["replies"]["reply"]
    assert opening["attachments"] == [{"filename": "a.png", "index": 0}, {"filename": "b c.pdf", "index": 1}]
    stored = opening["attachment"].split("|")
    assert len(stored) == 2 and stored[0].endswith("_a.png") and stored[0][:6].isdigit()
    assert reply["attachments"] == [{"filename": "log.txt", "index": 0}]
    notes = t["notes"]["note"]
    assert notes[0]["attachments"] == [{"filename": "x.txt", "index": 0}] and notes[1]["attachment"] == ""
    listed = await sim.ok("GetTickets", clientid=1, limitnum=1)
    assert listed["tickets"]["ticket"][0]["attachment"] == opening["attachment"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"serviceid": "5"}, "Service ID Not Found"),
        ({"domainid": "5"}, "Domain ID Not Found"),
        ({"userid": "2"}, "The system cannot find the provided user ID."),  # user 2 owns client 2, not 1
        ({"userid": "99"}, "The system cannot find the provided user ID."),
    ],
)
async def test_open_ticket_related_items(sim: Sim, params: dict[str, str], message: str) -> None:
    assert await sim.error("OpenTicket", deptid=1, subject="s", message="m", clientid=1, **params) == message


async def test_open_ticket_with_owner_user(sim: Sim) -> None:
    out = await sim.ok("OpenTicket", deptid=1, subject="s", message="m", clientid=1, userid=1)
    assert (await sim.ok("GetTicket", ticketid=out["id"]))["userid"] == "1"


async def test_noemail_suppresses_notifications(sim: Sim) -> None:
    out = await sim.ok("OpenTicket", deptid=1, subject="s", message="m", clientid=1, noemail="1")
    await sim.ok("AddTicketReply", ticketid=out["id"], message="r", adminusername="alice", noemail="true")
    assert list(sim.stats.emails) == []
    await sim.ok("OpenTicket", deptid=1, subject="s", message="m", clientid=1)
    await sim.ok("AddTicketReply", ticketid=out["id"], message="r", clientid=1)
    assert list(sim.stats.emails) == [("OpenTicket", "ticket opened"), ("AddTicketReply", "customer reply")]
