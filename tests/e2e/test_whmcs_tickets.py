"""WHMCS support actions end to end: whmcspy and a raw client against gateway + PMP simulator."""

from __future__ import annotations

from typing import Any

import pytest
import whmcspy
from whmcspy import exceptions as whmcspy_errors

from tests.conftest import Gateway
from tests.e2e.conftest import (
    REPLY_KEYS,
    TICKET_KEYS,
    all_strings,
    in_thread,
    parse_xml,
    writes,
)

ALL_TICKETS = {1, 2, 3, 4, 5, 6}


async def ticket_ids(w: whmcspy.WHMCS, **params: Any) -> set[int]:
    out = await in_thread(w.call, "GetTickets", limitnum=100, **params)
    assert out["numreturned"] == len(out["tickets"]["ticket"])
    return {int(t["id"]) for t in out["tickets"]["ticket"]}


# ------------------------------------------------------------------ GetTicket


async def test_get_ticket_shape_and_values(gateway: Gateway, whmcspy_client: whmcspy.WHMCS) -> None:
    t = await in_thread(whmcspy_client.call, "GetTicket", ticketid=1)
    assert set(t) == TICKET_KEYS
    all_strings(t)
    row = gateway.sim.get_ticket(1)
    assert row is not None
    assert t["ticketid"] == "1" and t["tid"] == "1"
    assert t["c"] == str(row["ticketkey"])[:8] and len(t["c"]) == 8
    assert (t["deptid"], t["deptname"]) == ("2", "Technical Support")
    assert (t["userid"], t["contactid"]) == ("1", "1")
    assert (t["name"], t["email"]) == ("John Smith", "john.smith@acme.example")
    assert (t["status"], t["priority"]) == ("Open", "Medium")
    assert t["date"] == "2024-03-01 09:15:00"
    assert t["lastreply"] == "2024-03-01 09:15:00"
    assert (t["cc"], t["admin"], t["flag"]) == ("", "", "0")
    reply = t["replies"]["reply"][0]
    assert set(reply) >= REPLY_KEYS
    assert reply["replyid"] == "0"
    assert reply["message"] == row["message"]  # CRLF kept
    assert "\r\n" in reply["message"]
    assert reply["date"] == t["date"]
    assert t["notes"] == {"note": []}


async def test_get_ticket_non_client_and_quoted(gateway: Gateway) -> None:
    _, t = await gateway.whmcs("GetTicket", ticketid="4")
    assert (t["userid"], t["contactid"]) == ("0", "0")
    assert (t["name"], t["email"]) == ("Walk-in Visitor", "visitor@example.net")
    assert t["status"] == "On Hold"
    _, t = await gateway.whmcs("GetTicket", ticketid="3")
    assert t["subject"] == "Invoice #42: total shows <b>&amp;</b> \"wrong\" & 'odd' chars"
    assert t["lastreply"] == "2024-03-03 15:30:00"


async def test_get_ticket_by_number_equals_by_id(gateway: Gateway, whmcspy_client: whmcspy.WHMCS) -> None:
    by_id = await in_thread(whmcspy_client.call, "GetTicket", ticketid=5)
    by_num = await in_thread(whmcspy_client.call, "GetTicket", ticketnum=by_id["tid"])
    assert by_num == by_id
    assert by_id["status"] == "Closed"


@pytest.mark.parametrize("sort", ["ASC", "DESC", "asc", "desc"])
async def test_get_ticket_replies_sort(gateway: Gateway, sort: str) -> None:
    # the backend keeps only the opening message: replyid 0 in either order
    _, t = await gateway.whmcs("GetTicket", ticketid="2", repliessort=sort)
    assert t["result"] == "success"
    assert [r["replyid"] for r in t["replies"]["reply"]] == ["0"]
    assert t["replies"]["reply"][0]["message"].startswith("Xin chào")


@pytest.mark.parametrize(
    "params",
    [{"ticketid": "999"}, {"ticketnum": "999"}, {"ticketid": "0"}, {"ticketid": "abc"}, {}],
)
async def test_get_ticket_not_found(gateway: Gateway, params: dict[str, str]) -> None:
    status, body = await gateway.whmcs("GetTicket", **params)
    assert status == 200
    assert body == {"result": "error", "message": "Ticket ID Not Found"}


async def test_get_ticket_not_found_raises_in_whmcspy(whmcspy_client: whmcspy.WHMCS) -> None:
    with pytest.raises(whmcspy_errors.Error, match="Ticket ID Not Found"):
        await in_thread(whmcspy_client.call, "GetTicket", ticketid=999)


# ----------------------------------------------------------------- GetTickets


async def test_get_tickets_paginated_call_covers_all(whmcspy_client: whmcspy.WHMCS) -> None:
    pages = [p async for p in _pages(whmcspy_client, limitnum=4)]
    assert [p["numreturned"] for p in pages] == [4, 2]
    assert [p["startnumber"] for p in pages] == [0, 4]
    seen = [int(t["id"]) for p in pages for t in p["tickets"]["ticket"]]
    assert sorted(seen) == sorted(ALL_TICKETS) and len(seen) == len(set(seen))
    for p in pages:
        assert all(isinstance(p[k], int) for k in ("totalresults", "startnumber", "numreturned"))
        assert p["totalresults"] == 6
        for t in p["tickets"]["ticket"]:
            all_strings(t)
            assert "ticketid" not in t and {"id", "tid", "c", "status", "priority", "lastreply"} <= set(t)


async def _pages(w: whmcspy.WHMCS, **params: Any) -> Any:
    gen = w.paginated_call("GetTickets", **params)
    while True:
        page = await in_thread(next, gen, None)
        if page is None:
            return
        yield page


async def test_get_tickets_default_page_and_past_end(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("GetTickets")
    assert (body["totalresults"], body["startnumber"], body["numreturned"]) == (6, 0, 6)
    _, body = await gateway.whmcs("GetTickets", limitstart="10", limitnum="5")
    assert body == {
        "result": "success",
        "totalresults": 6,
        "startnumber": 10,
        "numreturned": 0,
        "tickets": {"ticket": []},
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"deptid": 2}, {1, 6}),
        ({"deptid": 1}, {2, 4}),
        ({"clientid": 1}, {1, 5, 6}),
        ({"email": "visitor@example.net"}, {4}),
        ({"status": "Open"}, {1, 6}),
        ({"status": "Closed"}, {5}),
        ({"status": "On Hold"}, {4}),
        ({"status": "In Progress"}, {2}),
        ({"status": "All Active Tickets"}, ALL_TICKETS - {5}),
        ({"status": "Awaiting Reply"}, {1, 6}),
        ({"subject": "pricing"}, {4}),
        ({"subject": "Ünïcødé"}, {5}),
        ({"clientid": 1, "status": "Open"}, {1, 6}),
        ({"deptid": 3, "status": "All Active Tickets"}, {3}),
    ],
)
async def test_get_tickets_filters(whmcspy_client: whmcspy.WHMCS, params: dict[str, Any], expected: set[int]) -> None:
    assert await ticket_ids(whmcspy_client, **params) == expected


async def test_get_tickets_empty_list_shape(gateway: Gateway) -> None:
    for params in ({"status": "Customer-Reply"}, {"clientid": "99"}, {"subject": "no such subject"}):
        _, body = await gateway.whmcs("GetTickets", **params)
        assert body == {
            "result": "success",
            "totalresults": 0,
            "startnumber": 0,
            "numreturned": 0,
            "tickets": {"ticket": []},
        }, params


async def test_get_tickets_xml_repeated_elements(gateway: Gateway) -> None:
    status, text = await gateway.whmcs("GetTickets", fmt="xml", deptid="2")
    assert status == 200
    root = parse_xml(text)
    assert root.tag == "whmcsapi" and root.get("version")
    assert root.findtext("action") == "gettickets"
    assert root.findtext("result") == "success"
    assert root.findtext("totalresults") == "2" and root.findtext("numreturned") == "2"
    tickets = root.findall("tickets/ticket")
    assert [t.findtext("id") for t in tickets] == ["1", "6"]
    # an empty page keeps the container
    _, text = await gateway.whmcs("GetTickets", fmt="xml", status="Customer-Reply")
    root = parse_xml(text)
    assert root.findtext("numreturned") == "0" and root.findall("tickets/ticket") == []


# ----------------------------------------------------------------- OpenTicket


async def test_open_ticket_client_read_back(gateway: Gateway, whmcspy_client: whmcspy.WHMCS) -> None:
    before = gateway.sim.count_tickets()
    message = "Line one\r\nLine two\r\n\r\n-- \r\nAcme"
    out = await in_thread(
        whmcspy_client.call,
        "OpenTicket",
        deptid=3,
        subject="Refund for invoice 77",
        message=message,
        clientid=1,
        priority="High",
    )
    assert set(out) == {"result", "id", "tid", "c"}
    all_strings(out)
    assert gateway.sim.count_tickets() == before + 1
    new_id = int(out["id"])
    row = gateway.sim.get_ticket(new_id)
    assert row is not None
    assert out["c"] == str(row["ticketkey"])[:8]
    t = await in_thread(whmcspy_client.call, "GetTicket", ticketid=new_id)
    all_strings(t)
    assert (t["ticketid"], t["tid"], t["c"]) == (out["id"], out["tid"], out["c"])
    assert (t["deptid"], t["deptname"]) == ("3", "Billing")
    assert (t["userid"], t["contactid"]) == ("1", "1")  # the primary contact
    assert (t["name"], t["email"]) == ("John Smith", "john.smith@acme.example")
    assert t["subject"] == "Refund for invoice 77"
    assert (t["status"], t["priority"]) == ("Open", "High")
    assert t["replies"]["reply"][0]["message"] == message
    assert t["replies"]["reply"][0]["replyid"] == "0"
    assert t["lastreply"] == t["date"] != ""
    # by the public number too
    assert (await in_thread(whmcspy_client.call, "GetTicket", ticketnum=out["tid"]))["ticketid"] == out["id"]


async def test_open_ticket_contact_and_guest(gateway: Gateway) -> None:
    _, out = await gateway.whmcs(
        "OpenTicket", deptid="1", subject="From Jane", message="hi", clientid="1", contactid="2"
    )
    assert out["result"] == "success", out
    _, t = await gateway.whmcs("GetTicket", ticketid=out["id"])
    assert (t["userid"], t["contactid"], t["email"]) == ("1", "2", "jane.oconnor@acme.example")
    assert t["priority"] == "Medium"  # default

    _, out = await gateway.whmcs(
        "OpenTicket", deptid="2", subject="Guest", message="hello", name="Guest Person", email="guest@example.org"
    )
    assert out["result"] == "success", out
    _, t = await gateway.whmcs("GetTicket", ticketid=out["id"])
    assert (t["userid"], t["contactid"]) == ("0", "0")
    assert (t["name"], t["email"]) == ("Guest Person", "guest@example.org")
    assert t["replies"]["reply"][0]["message"] == "hello"


AWKWARD = [
    ("unicode", "Ünïcødé ✓ — “smart” 🎫 Tiếng Việt", "Zoë says: 日本語テキスト ✓\r\nemoji 🎫🚀"),
    ("specials", "a & b < c > d \"q\" 'apos' + plus % pct", "&amp; &lt; <b>bold</b> \"x\" 'y' +1 100% a=b;c"),
    ("crlf", "subject", "first\r\nsecond\r\n\r\nfourth\nbare-lf\rbare-cr"),
    ("long", "S" * 250, ("0123456789abcdef" * 1000)),
]


@pytest.mark.parametrize(("label", "subject", "message"), AWKWARD, ids=[a[0] for a in AWKWARD])
async def test_open_ticket_awkward_round_trip(gateway: Gateway, label: str, subject: str, message: str) -> None:
    status, out = await gateway.whmcs("OpenTicket", deptid="2", clientid="2", subject=subject, message=message)
    assert status == 200 and out["result"] == "success", out
    _, t = await gateway.whmcs("GetTicket", ticketid=out["id"])
    assert t["subject"] == subject
    assert t["replies"]["reply"][0]["message"] == message
    # XML: escaped text, CR kept
    _, text = await gateway.whmcs("GetTicket", fmt="xml", ticketid=out["id"])
    root = parse_xml(text)
    assert root.findtext("subject") == subject
    assert root.findtext("replies/reply/message") == message
    # the list view agrees
    _, page = await gateway.whmcs("GetTickets", clientid="2", limitnum="100")
    assert subject in [x["subject"] for x in page["tickets"]["ticket"]]


async def test_open_ticket_padding_trimmed_by_backend(gateway: Gateway) -> None:
    # Perfex trims a new ticket's subject and message (CodeIgniter's form_validation "trim")
    _, out = await gateway.whmcs("OpenTicket", deptid="2", clientid="2", subject="  pad  ", message="\r\n  m  \r\n")
    _, t = await gateway.whmcs("GetTicket", ticketid=out["id"])
    assert (t["subject"], t["replies"]["reply"][0]["message"]) == ("pad", "m")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"subject": "", "message": "m"}, "Subject is required"),
        ({"subject": "s", "message": ""}, "Message is required"),
        ({"message": "m"}, "Subject is required"),
        ({"subject": "s", "deptid": ""}, "Department ID not found"),
        ({"subject": "s", "message": "m", "deptid": "x"}, "Department ID not found"),
        (
            {"subject": "s", "message": "m", "priority": "Urgent"},
            "Invalid Ticket Priority. Valid priorities are: Low,Medium,High",
        ),
        (
            {"subject": "s", "message": "m", "attachments": "W3sibmFtZSI6ImEudHh0IiwiZGF0YSI6IllRPT0ifV0="},
            "Attachments",
        ),
        ({"subject": "s", "message": "m", "customfields": "YToxOntpOjE7czoxOiJ4Ijt9"}, "Custom fields"),
        ({"subject": "s", "message": "m", "customfields[1]": "x"}, "Custom fields"),
        ({"subject": "s", "message": "m", "email": "not-an-email", "name": "X"}, "Email Address Invalid"),
    ],
)
async def test_open_ticket_refused_writes_nothing(gateway: Gateway, params: dict[str, str], message: str) -> None:
    data = {"deptid": "1", "clientid": "1", **params}
    before_count, before_writes = gateway.sim.count_tickets(), writes(gateway)
    status, body = await gateway.whmcs("OpenTicket", **data)
    assert status == 200
    assert body["result"] == "error"
    assert body["message"].startswith(message), body
    assert gateway.sim.count_tickets() == before_count
    assert writes(gateway) == before_writes


async def test_open_ticket_blank_subject_writes_nothing(gateway: Gateway) -> None:
    before = gateway.sim.count_tickets()
    _, body = await gateway.whmcs("OpenTicket", deptid="1", clientid="1", subject="   ", message="m")
    assert body["result"] == "error"
    assert gateway.sim.count_tickets() == before


async def test_open_ticket_blank_subject_text(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("OpenTicket", deptid="1", clientid="1", subject="   ", message="m")
    assert body == {"result": "error", "message": "Subject is required"}


UNCHECKED_REFERENCES = [
    ({"deptid": "99", "clientid": "1"}, "Department ID not found"),
    ({"deptid": "1", "clientid": "99"}, "Client ID Not Found"),
    ({"deptid": "1", "clientid": "1", "contactid": "99"}, "Contact ID Not Found"),
    ({"deptid": "1", "clientid": "1", "contactid": "3"}, "Contact ID Not Found"),  # contact of client 2
    ({"deptid": "1"}, "Name and email address are required if not a client"),
    ({"deptid": "1", "name": "Only Name"}, "Name and email address are required if not a client"),
]


@pytest.mark.parametrize(("params", "message"), UNCHECKED_REFERENCES)
async def test_open_ticket_unknown_references(gateway: Gateway, params: dict[str, str], message: str) -> None:
    before = gateway.sim.count_tickets()
    _, body = await gateway.whmcs("OpenTicket", subject="s", message="m", **params)
    assert body == {"result": "error", "message": message}
    assert gateway.sim.count_tickets() == before


# --------------------------------------------------------------- UpdateTicket


async def test_update_ticket_changes_only_what_was_sent(gateway: Gateway, whmcspy_client: whmcspy.WHMCS) -> None:
    before = await in_thread(whmcspy_client.call, "GetTicket", ticketid=1)
    row_before = gateway.sim.get_ticket(1)
    assert row_before is not None
    out = await in_thread(whmcspy_client.call, "UpdateTicket", ticketid=1, status="Answered")
    assert out == {"result": "success", "ticketid": "1"}
    after = await in_thread(whmcspy_client.call, "GetTicket", ticketid=1)
    assert after["status"] == "Answered"
    # regression: neither userid nor clientid sent used to move the ticket to client 0
    assert {k: v for k, v in after.items() if k != "status"} == {k: v for k, v in before.items() if k != "status"}

    out = await in_thread(
        whmcspy_client.call, "UpdateTicket", ticketid=1, priority="Low", subject="New subject ✓ & <x>", deptid=3
    )
    assert out == {"result": "success", "ticketid": "1"}
    after = await in_thread(whmcspy_client.call, "GetTicket", ticketid=1)
    assert (after["priority"], after["subject"], after["deptid"], after["deptname"]) == (
        "Low",
        "New subject ✓ & <x>",
        "3",
        "Billing",
    )
    assert after["status"] == "Answered"
    for key in ("userid", "contactid", "name", "email", "cc", "date", "c", "tid", "replies"):
        assert after[key] == before[key], key
    row = gateway.sim.get_ticket(1)
    assert row is not None
    # the module resets what a PUT leaves out: the gateway must have sent it back
    assert row["assigned"] == row_before["assigned"] == "1"
    assert row["service"] == row_before["service"]
    assert row["message"] == row_before["message"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ticketid": "999", "status": "Open"}, "Ticket ID Not Found"),
        ({"status": "Open"}, "Ticket ID Not Found"),
        ({"ticketid": "1", "priority": "Urgent"}, "Invalid Ticket Priority. Valid priorities are: Low,Medium,High"),
        ({"ticketid": "1", "status": "Bogus"}, "Invalid Ticket Status. Valid statuses are: "),
        ({"ticketid": "1", "customfields": "YToxOntpOjE7czoxOiJ4Ijt9"}, "Custom fields"),
    ],
)
async def test_update_ticket_errors(gateway: Gateway, params: dict[str, str], message: str) -> None:
    row = gateway.sim.get_ticket(1)
    before_writes = writes(gateway)
    _, body = await gateway.whmcs("UpdateTicket", **params)
    assert body["result"] == "error" and body["message"].startswith(message), body
    assert writes(gateway) == before_writes
    assert gateway.sim.get_ticket(1) == row


async def test_update_ticket_unknown_department(gateway: Gateway) -> None:
    row = gateway.sim.get_ticket(1)
    _, body = await gateway.whmcs("UpdateTicket", ticketid="1", deptid="99")
    assert body["result"] == "error" and body["message"].lower().startswith("department id not found"), body
    assert gateway.sim.get_ticket(1) == row


# ------------------------------------------------------------ DeleteTicket


async def test_delete_ticket(gateway: Gateway, whmcspy_client: whmcspy.WHMCS) -> None:
    before = gateway.sim.count_tickets()
    out = await in_thread(whmcspy_client.call, "DeleteTicket", ticketid=4)
    assert out == {"result": "success"}
    assert gateway.sim.count_tickets() == before - 1
    assert gateway.sim.get_ticket(4) is None
    _, body = await gateway.whmcs("GetTicket", ticketid="4")
    assert body == {"result": "error", "message": "Ticket ID Not Found"}
    _, body = await gateway.whmcs("DeleteTicket", ticketid="4")
    assert body == {"result": "error", "message": "Ticket ID not found"}
    assert 4 not in await ticket_ids(whmcspy_client)


# ------------------------------------------------- replies and notes (no backend API)


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("AddTicketReply", {"ticketid": "1", "message": "a reply", "clientid": "1"}),
        ("AddTicketReply", {"ticketid": "1", "message": "staff", "adminusername": "Alice"}),
        ("AddTicketNote", {"ticketid": "1", "message": "a note"}),
        ("AddTicketNote", {"ticketnum": "1", "message": "a note"}),
    ],
)
async def test_replies_and_notes_refused_cleanly(gateway: Gateway, action: str, params: dict[str, str]) -> None:
    row = gateway.sim.get_ticket(1)
    before_count, before_writes = gateway.sim.count_tickets(), writes(gateway)
    status, body = await gateway.whmcs(action, **params)
    assert status == 200
    assert body["result"] == "error"
    assert "cannot carry out" in body["message"].lower(), body
    assert "nothing was written" in body["message"].lower(), body
    assert writes(gateway) == before_writes
    assert gateway.sim.count_tickets() == before_count
    assert gateway.sim.get_ticket(1) == row
    _, t = await gateway.whmcs("GetTicket", ticketid="1")
    assert len(t["replies"]["reply"]) == 1 and t["notes"] == {"note": []}


async def test_replies_notes_whmcspy_raises(whmcspy_client: whmcspy.WHMCS) -> None:
    with pytest.raises(whmcspy_errors.Error):
        await in_thread(whmcspy_client.call, "AddTicketReply", ticketid=1, message="x", clientid=1)
    with pytest.raises(whmcspy_errors.Error):
        await in_thread(whmcspy_client.call, "AddTicketNote", ticketid=1, message="x")


async def test_reply_validation_first(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("AddTicketReply", ticketid="1", clientid="1")
    assert body == {"result": "error", "message": "Message is required"}
    _, body = await gateway.whmcs("AddTicketReply", ticketid="1", message="m", attachments="W10=")
    assert body["result"] == "error" and body["message"].startswith("Attachments"), body


async def test_get_ticket_notes_empty(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("GetTicketNotes", ticketid="1")
    assert body == {"result": "success", "totalresults": 0, "notes": {"note": []}}
    _, body = await gateway.whmcs("GetTicketNotes", ticketid="999")
    assert body == {"result": "error", "message": "Ticket ID Not Found"}
    _, text = await gateway.whmcs("GetTicketNotes", fmt="xml", ticketid="1")
    root = parse_xml(text)
    assert root.findtext("totalresults") == "0" and root.find("notes") is not None
    assert root.findall("notes/note") == []


# --------------------------------------------------- departments, statuses, counts


async def test_get_support_departments(whmcspy_client: whmcspy.WHMCS) -> None:
    out = await in_thread(whmcspy_client.call, "GetSupportDepartments")
    # Department 4 (Abuse) is in the demo data so that one department has no ticket.
    assert out["totalresults"] == 4 and isinstance(out["totalresults"], int)
    depts = out["departments"]["department"]
    for d in depts:
        assert set(d) == {"id", "name", "awaitingreply", "opentickets"}
        all_strings(d)
    assert [(d["id"], d["name"], d["opentickets"], d["awaitingreply"]) for d in depts] == [
        ("1", "Sales", "2", "0"),
        ("2", "Technical Support", "2", "2"),
        ("3", "Billing", "1", "0"),
        ("4", "Abuse", "0", "0"),
    ]


async def test_get_support_statuses(whmcspy_client: whmcspy.WHMCS) -> None:
    out = await in_thread(whmcspy_client.call, "GetSupportStatuses")
    statuses = out["statuses"]["status"]
    assert out["totalresults"] == len(statuses) and isinstance(out["totalresults"], int)
    counts = {s["title"]: s["count"] for s in statuses}
    assert counts == {"Open": 2, "In Progress": 1, "Answered": 1, "On Hold": 1, "Closed": 1}
    for s in statuses:
        assert isinstance(s["title"], str) and isinstance(s["count"], int)
        assert isinstance(s["color"], str) and len(s["color"]) == 7 and s["color"].startswith("#")
    out = await in_thread(whmcspy_client.call, "GetSupportStatuses", deptid=2)
    assert {s["title"]: s["count"] for s in out["statuses"]["status"]}["Open"] == 2
    assert sum(s["count"] for s in out["statuses"]["status"]) == 2


async def test_get_ticket_counts(whmcspy_client: whmcspy.WHMCS) -> None:
    out = await in_thread(whmcspy_client.call, "GetTicketCounts", includeCountsByStatus=True)
    assert out["filteredDepartments"] == [1, 2, 3, 4]
    assert (out["allActive"], out["awaitingReply"], out["flaggedTickets"]) == (5, 2, 0)
    assert out["status"]["open"] == {"title": "Open", "count": 2}
    assert out["status"]["inprogress"] == {"title": "In Progress", "count": 1}
    assert out["status"]["closed"] == {"title": "Closed", "count": 1}
    assert all(isinstance(v["count"], int) for v in out["status"].values())


async def test_counts_follow_writes(gateway: Gateway, whmcspy_client: whmcspy.WHMCS) -> None:
    await in_thread(whmcspy_client.call, "UpdateTicket", ticketid=5, status="Open")
    out = await in_thread(whmcspy_client.call, "GetTicketCounts")
    assert (out["allActive"], out["awaitingReply"]) == (6, 3)
    await in_thread(whmcspy_client.call, "DeleteTicket", ticketid=1)
    out = await in_thread(whmcspy_client.call, "GetTicketCounts")
    assert (out["allActive"], out["awaitingReply"]) == (5, 2)
