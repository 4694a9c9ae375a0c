"""Support actions (reference section 2): tickets, replies, notes, departments, statuses, counts.

Value types follow the reference's examples: GetTicket/GetTickets values are strings (seed 001),
paging counters and GetSupportStatuses/GetTicketCounts counts are JSON integers.
"""

from __future__ import annotations

from typing import Any

from .common import (
    ApiError,
    Call,
    attachment_list,
    full_name,
    page_bounds,
    parse_created,
    stored_attachments,
    valid_email,
)
from .db import PRIORITIES, Row, new_access_key, now_str

_TICKET_NOT_FOUND = "Ticket ID Not Found"  # GetTicket, UpdateTicket, GetTicketNotes
_TICKET_NOT_FOUND_LOWER = "Ticket ID not found"  # DeleteTicket, AddTicketReply, AddTicketNote


# --------------------------------------------------------------------------- shared


def _status_titles(call: Call) -> list[str]:
    return [str(r["title"]) for r in call.db.statuses()]


def _status_flags(call: Call, flag: str) -> list[str]:
    return [str(r["title"]) for r in call.db.statuses() if r[flag]]


def _find_ticket(call: Call, missing: str) -> Row:
    """By ``ticketid`` or else ``ticketnum`` (the public ``tid``)."""
    p = call.params
    row: Row | None = None
    if p.text("ticketid").strip():
        row = call.db.ticket(ticket_id=p.num("ticketid"))
    elif p.text("ticketnum").strip():
        row = call.db.ticket(tid=p.text("ticketnum").strip())
    if row is None:
        raise ApiError(missing)
    return row


def _owner(call: Call, ticket: Row) -> tuple[str, str]:
    """The submitter's name and email: from the client record when the ticket has a client."""
    if int(ticket["userid"]):
        contact = call.db.contact(int(ticket["contactid"])) if int(ticket["contactid"]) else None
        person = contact or call.db.client(int(ticket["userid"]))
        if person is not None:
            return full_name(person["firstname"], person["lastname"]), str(person["email"])
    return str(ticket["name"]), str(ticket["email"])


def _requestor_type(ticket_or_reply: Row, admin: str = "") -> str:
    """8.0's ``requestor_type``: Operator (staff), Owner (the client), Authorized User (a contact), Guest."""
    if admin:
        return "Operator"
    if int(ticket_or_reply["userid"]):
        return "Authorized User" if int(ticket_or_reply["contactid"]) else "Owner"
    return "Guest"


def _dept_name(call: Call, dept_id: int) -> str:
    dept = call.db.department(dept_id)
    return str(dept["name"]) if dept else ""


# --------------------------------------------------------------------------- GetTicket


async def get_ticket(call: Call) -> dict[str, Any]:
    t = _find_ticket(call, _TICKET_NOT_FOUND)
    name, email = _owner(call, t)
    out: dict[str, Any] = {
        "result": "success",
        "ticketid": str(t["id"]),
        "tid": str(t["tid"]),
        "c": str(t["c"]),
        "deptid": str(t["did"]),
        "deptname": _dept_name(call, int(t["did"])),
        "userid": str(t["userid"]),
        "contactid": str(t["contactid"]),
        "name": name,
        "email": email,
        "requestor_name": name,
        "requestor_email": email,
        "requestor_type": _requestor_type(t, str(t["admin"])),
        "cc": str(t["cc"]),
        "date": str(t["date"]),
        "subject": str(t["title"]),
        "status": str(t["status"]),
        "priority": str(t["urgency"]),
        "admin": str(t["admin"]),
        "lastreply": str(t["lastreply"]),
        "flag": str(t["flag"]),
        "service": str(t["service"]),
    }
    replies = [_opening_reply(t, name, email), *(_reply(call, t, r) for r in _replies(call, int(t["id"])))]
    if call.params.text("repliessort").strip().upper() == "DESC":
        replies.reverse()
    out["replies"] = {"reply": replies}
    notes = call.db.all("SELECT * FROM tblticketnotes WHERE ticketid = ? ORDER BY id", (t["id"],))
    out["notes"] = {"note": [_note(n, "noteid") for n in notes]}
    return out


def _replies(call: Call, ticket_id: int) -> list[Row]:
    return call.db.all("SELECT * FROM tblticketreplies WHERE tid = ? ORDER BY date, id", (ticket_id,))


def _opening_reply(t: Row, name: str, email: str) -> dict[str, Any]:
    """``replyid`` "0": the opening message, as the GetTicket example lists it first."""
    return {
        "replyid": "0",
        "userid": str(t["userid"]),
        "contactid": str(t["contactid"]),
        "name": name,
        "email": email,
        "requestor_name": name,
        "requestor_email": email,
        "requestor_type": _requestor_type(t, str(t["admin"])),
        "date": str(t["date"]),
        "message": str(t["message"]),
        "attachment": str(t["attachment"]),
        "attachments": attachment_list(str(t["attachment"])),
        "attachments_removed": False,
        "admin": str(t["admin"]),
    }


def _reply(call: Call, t: Row, r: Row) -> dict[str, Any]:
    admin = str(r["admin"])
    if admin:
        req_name, req_email = admin, ""
    elif int(r["userid"]):
        person = call.db.contact(int(r["contactid"])) if int(r["contactid"]) else call.db.client(int(r["userid"]))
        req_name = full_name(person["firstname"], person["lastname"]) if person else ""
        req_email = str(person["email"]) if person else ""
    else:
        req_name, req_email = str(r["name"]), str(r["email"])
    return {
        "replyid": str(r["id"]),
        "userid": str(r["userid"]),
        "contactid": str(r["contactid"]),
        "name": str(r["name"]),
        "email": str(r["email"]),
        "requestor_name": req_name,
        "requestor_email": req_email,
        "requestor_type": _requestor_type(r, admin),
        "date": str(r["date"]),
        "message": str(r["message"]),
        "attachment": str(r["attachment"]),
        "attachments": attachment_list(str(r["attachment"])),
        "attachments_removed": False,
        "admin": admin,
        "rating": str(r["rating"]),
    }


def _note(n: Row, id_key: str) -> dict[str, Any]:
    return {
        id_key: str(n["id"]),
        "date": str(n["date"]),
        "message": str(n["message"]),
        "attachment": str(n["attachments"]),
        "attachments": attachment_list(str(n["attachments"])),
        "attachments_removed": False,
        "admin": str(n["admin"]),
    }


# --------------------------------------------------------------------------- GetTickets


async def get_tickets(call: Call) -> dict[str, Any]:
    p = call.params
    where: list[str] = []
    args: list[Any] = []
    depts = call.visible_departments(p.flag("ignore_dept_assignments"))
    if depts is not None:
        where.append(f"did IN ({','.join('?' * len(depts))})" if depts else "0")
        args.extend(depts)
    if p.text("deptid").strip():
        where.append("did = ?")
        args.append(p.num("deptid"))
    if p.text("clientid").strip():
        where.append("userid = ?")
        args.append(p.num("clientid"))
    if p.text("email").strip():
        where.append("userid = 0 AND lower(email) = lower(?)")
        args.append(p.text("email").strip())
    if p.text("subject").strip():
        where.append("title LIKE ?")
        args.append(f"%{p.text('subject').strip()}%")
    _status_filter(call, p.text("status").strip(), where, args)
    sql_where = f"WHERE {' AND '.join(where)}" if where else ""
    start, num = page_bounds(p)
    total = int(call.db.scalar(f"SELECT COUNT(*) FROM tbltickets {sql_where}", args))
    # Newest activity first (WHMCS orders this list by lastreply); id breaks ties so pages are stable.
    rows = call.db.all(
        f"SELECT * FROM tbltickets {sql_where} ORDER BY lastreply DESC, id DESC LIMIT ? OFFSET ?",
        [*args, num, start],
    )
    return {
        "result": "success",
        "totalresults": total,
        "startnumber": start,
        "numreturned": len(rows),
        "tickets": {"ticket": [_list_item(call, t) for t in rows]},
    }


def _status_filter(call: Call, status: str, where: list[str], args: list[Any]) -> None:
    if not status:
        return
    if status == "Awaiting Reply":
        titles = _status_flags(call, "showawaiting")
    elif status == "All Active Tickets":
        titles = _status_flags(call, "showactive")
    elif status == "My Flagged Tickets":
        where.append("flag = ?")
        args.append(int(call.admin["id"]))
        return
    else:
        titles = [status]
    where.append(f"status IN ({','.join('?' * len(titles))})" if titles else "0")
    args.extend(titles)


def _list_item(call: Call, t: Row) -> dict[str, Any]:
    name, email = _owner(call, t)
    owner = call.db.client(int(t["userid"])) if int(t["userid"]) else None
    return {
        "id": str(t["id"]),
        "tid": str(t["tid"]),
        "deptid": str(t["did"]),
        "userid": str(t["userid"]),
        "name": name,
        "owner_name": full_name(owner["firstname"], owner["lastname"]) if owner else "",
        "email": email,
        "requestor_name": name,
        "requestor_email": email,
        "requestor_type": _requestor_type(t, str(t["admin"])),
        "cc": str(t["cc"]),
        "c": str(t["c"]),
        "date": str(t["date"]),
        "subject": str(t["title"]),
        "status": str(t["status"]),
        "priority": str(t["urgency"]),
        "admin": str(t["admin"]),
        "attachment": str(t["attachment"]),
        "attachments": attachment_list(str(t["attachment"])),
        "attachments_removed": False,
        "lastreply": str(t["lastreply"]),
        "flag": str(t["flag"]),
        "service": str(t["service"]),
    }


# --------------------------------------------------------------------------- OpenTicket


async def open_ticket(call: Call) -> dict[str, Any]:
    p = call.params
    client_id = p.num("clientid") if p.text("clientid").strip() else 0
    contact_id = p.num("contactid") if p.text("contactid").strip() else 0
    name, email = p.text("name").strip(), p.text("email").strip()
    if client_id:
        if call.db.client(client_id) is None:
            raise ApiError("Client ID Not Found")
        if p.num("userid"):
            client = call.db.client(client_id)
            user = call.db.one("SELECT id FROM tblusers WHERE id = ?", (p.num("userid"),))
            if user is None or client is None or int(client["owner_user_id"]) != p.num("userid"):
                raise ApiError("The system cannot find the provided user ID.")
        elif contact_id:
            contact = call.db.contact(contact_id)
            if contact is None or int(contact["userid"]) != client_id:
                raise ApiError("Contact ID Not Found")
        name = email = ""  # the client record is the submitter
    else:
        contact_id = 0
        if not name or not email:
            raise ApiError("Name and email address are required if not a client")
        if not valid_email(email):
            raise ApiError("Email Address Invalid")
    dept_id = p.num("deptid")
    if call.db.department(dept_id) is None:
        raise ApiError("Department ID not found")
    subject, message = p.text("subject"), p.text("message")
    if not subject.strip():
        raise ApiError("Subject is required")
    if not message.strip():
        raise ApiError("Message is required")
    service = _service(call)
    priority = _priority(p.text("priority").strip() or "Medium")
    created = (
        parse_created(p.text("created"), "Ticket creation date cannot be in the future")
        if p.text("created").strip()
        else now_str()
    )
    tid, c = call.db.new_tid(), new_access_key()
    ticket_id = call.db.insert(
        "tbltickets",
        {
            "tid": tid,
            "did": dept_id,
            "userid": client_id,
            "contactid": contact_id,
            "name": name,
            "email": email,
            "cc": p.text("cc"),
            "c": c,
            "date": created,
            "title": subject,
            "message": message,
            "status": "Open",
            "urgency": priority,
            "lastreply": created,
            "editor": "markdown" if p.flag("markdown") else "plain",
            "service": service,
            "attachment": stored_attachments(p),
        },
    )
    call.email("ticket opened")
    return {"result": "success", "id": str(ticket_id), "tid": tid, "c": c}


def _service(call: Call) -> str:
    """``serviceid``/``domainid``: the simulator holds no services or domains, so any id is unknown."""
    p = call.params
    if p.num("serviceid"):
        raise ApiError("Service ID Not Found")
    if p.num("domainid"):
        raise ApiError("Domain ID Not Found")
    return ""


def _priority(value: str) -> str:
    for name in PRIORITIES:
        if name.lower() == value.lower():
            return name
    raise ApiError(f"Invalid Ticket Priority. Valid priorities are: {','.join(PRIORITIES)}")


# --------------------------------------------------------------------------- UpdateTicket


async def update_ticket(call: Call) -> dict[str, Any]:
    p = call.params
    t = call.db.ticket(ticket_id=p.num("ticketid")) if p.text("ticketid").strip() else None
    if t is None:
        raise ApiError(_TICKET_NOT_FOUND)
    changes: dict[str, Any] = {}
    if p.has("deptid"):
        if call.db.department(p.num("deptid")) is None:
            raise ApiError("Department ID Not Found")
        changes["did"] = p.num("deptid")
    if p.has("status"):
        changes["status"] = _status(call, p.text("status").strip(), with_list=True)
    if p.has("priority"):
        changes["urgency"] = _priority(p.text("priority").strip())
    for param, column in (("subject", "title"), ("cc", "cc"), ("name", "name"), ("email", "email")):
        if p.has(param):
            changes[column] = p.text(param)
    if p.has("message") and p.text("message").strip():
        changes["message"] = p.text("message")
    client_key = "userid" if p.has("userid") else "clientid" if p.has("clientid") else ""
    if client_key:
        new_client = p.num(client_key)
        if new_client and call.db.client(new_client) is None:
            raise ApiError("Client ID Not Found")
        changes["userid"] = new_client
        changes["contactid"] = 0
    if p.has("created") and p.text("created").strip():
        changes["date"] = parse_created(p.text("created"), "Ticket creation date cannot be in the future")
    if p.flag("removeFlag"):
        changes["flag"] = 0
    elif p.has("flag"):
        changes["flag"] = p.num("flag")
    call.db.update("tbltickets", int(t["id"]), changes)
    return {"result": "success", "ticketid": str(t["id"])}


def _status(call: Call, value: str, *, with_list: bool) -> str:
    titles = _status_titles(call)
    for title in titles:
        if title.lower() == value.lower():
            return title
    if with_list:
        raise ApiError(f"Invalid Ticket Status. Valid statuses are: {','.join(titles)}")
    raise ApiError("Invalid Ticket Status")


# --------------------------------------------------------------------------- DeleteTicket


async def delete_ticket(call: Call) -> dict[str, Any]:
    p = call.params
    t = call.db.ticket(ticket_id=p.num("ticketid")) if p.text("ticketid").strip() else None
    if t is None:
        raise ApiError(_TICKET_NOT_FOUND_LOWER)
    with call.db.lock:
        call.db.execute("DELETE FROM tblticketreplies WHERE tid = ?", (t["id"],))
        call.db.execute("DELETE FROM tblticketnotes WHERE ticketid = ?", (t["id"],))
        call.db.execute("DELETE FROM tbltickets WHERE id = ?", (t["id"],))
    return {"result": "success"}


# --------------------------------------------------------------------------- AddTicketReply


async def add_ticket_reply(call: Call) -> dict[str, Any]:
    p = call.params
    t = call.db.ticket(ticket_id=p.num("ticketid")) if p.text("ticketid").strip() else None
    if t is None:
        raise ApiError(_TICKET_NOT_FOUND_LOWER)
    reply: dict[str, Any] = {"tid": t["id"], "userid": 0, "contactid": 0, "name": "", "email": "", "admin": ""}
    if p.text("adminusername").strip():
        admin = call.db.admin_by_username(p.text("adminusername").strip())
        # An unknown login is shown as given, as WHMCS stores the name it was passed.
        reply["admin"] = full_name(admin["firstname"], admin["lastname"]) if admin else p.text("adminusername").strip()
        reply["userid"] = t["userid"]
    elif p.text("clientid").strip() and p.num("clientid"):
        _reply_client(call, reply)
    else:
        name, email = p.text("name").strip(), p.text("email").strip()
        if not name or not email:
            raise ApiError("Name and email address are required if not a client")
        if not valid_email(email):
            raise ApiError("Email Address Invalid")
        reply["name"], reply["email"] = name, email
    if not p.text("message").strip():
        raise ApiError("Message is required")
    status = (
        _status(call, p.text("status").strip(), with_list=False)
        if p.text("status").strip()
        else ("Answered" if reply["admin"] else "Customer-Reply")
    )
    created = (
        parse_created(p.text("created"), "Reply creation date cannot be in the future")
        if p.text("created").strip()
        else now_str()
    )
    reply.update(date=created, message=p.text("message"), attachment=stored_attachments(p))
    with call.db.lock:
        call.db.insert("tblticketreplies", reply)
        last = max(str(t["lastreply"]), created)
        call.db.update("tbltickets", int(t["id"]), {"status": status, "lastreply": last})
    call.email("staff reply" if reply["admin"] else "customer reply")
    return {"result": "success"}


def _reply_client(call: Call, reply: dict[str, Any]) -> None:
    p = call.params
    client_id = p.num("clientid")
    if call.db.client(client_id) is None:
        raise ApiError("Client ID Not Found")
    reply["userid"] = client_id
    if p.text("contactid").strip() and p.num("contactid"):
        contact = call.db.contact(p.num("contactid"))
        if contact is None or int(contact["userid"]) != client_id:
            raise ApiError("Contact ID Not Found")
        reply["contactid"] = int(contact["id"])


# --------------------------------------------------------------------------- notes


async def add_ticket_note(call: Call) -> dict[str, Any]:
    p = call.params
    t = _find_ticket(call, _TICKET_NOT_FOUND_LOWER)
    if not p.text("message").strip():
        raise ApiError("Message is required")
    created = (
        parse_created(p.text("created"), "Ticket creation date cannot be in the future")
        if p.text("created").strip()
        else now_str()
    )
    admin = call.admin
    call.db.insert(
        "tblticketnotes",
        {
            "ticketid": t["id"],
            "admin": full_name(admin.get("firstname"), admin.get("lastname")),
            "date": created,
            "message": p.text("message"),
            "attachments": stored_attachments(p),
        },
    )
    return {"result": "success"}


async def get_ticket_notes(call: Call) -> dict[str, Any]:
    p = call.params
    t = call.db.ticket(ticket_id=p.num("ticketid")) if p.text("ticketid").strip() else None
    if t is None:
        raise ApiError(_TICKET_NOT_FOUND)
    notes = call.db.all("SELECT * FROM tblticketnotes WHERE ticketid = ? ORDER BY id", (t["id"],))
    return {
        "result": "success",
        "totalresults": len(notes),
        "notes": {"note": [_note(n, "id") for n in notes]},
    }


# --------------------------------------------------------------------------- departments, statuses, counts


async def get_support_departments(call: Call) -> dict[str, Any]:
    depts = call.visible_departments(call.params.flag("ignore_dept_assignments"))
    rows = call.db.all('SELECT * FROM tblticketdepartments ORDER BY "order", id')
    if depts is not None:
        rows = [r for r in rows if int(r["id"]) in depts]
    awaiting = _status_flags(call, "showawaiting")
    active = _status_flags(call, "showactive")
    counts = _counts_by(call, "did")
    out = []
    for r in rows:
        per = counts.get(int(r["id"]), {})
        out.append(
            {
                "id": str(r["id"]),
                "name": str(r["name"]),
                "awaitingreply": str(sum(per.get(s, 0) for s in awaiting)),
                "opentickets": str(sum(per.get(s, 0) for s in active)),
            }
        )
    return {"result": "success", "totalresults": len(out), "departments": {"department": out}}


def _counts_by(call: Call, column: str) -> dict[int, dict[str, int]]:
    rows = call.db.all(f"SELECT {column} AS k, status, COUNT(*) AS n FROM tbltickets GROUP BY {column}, status")
    out: dict[int, dict[str, int]] = {}
    for r in rows:
        out.setdefault(int(r["k"]), {})[str(r["status"])] = int(r["n"])
    return out


async def get_support_statuses(call: Call) -> dict[str, Any]:
    p = call.params
    if p.text("deptid").strip():
        rows = call.db.all(
            "SELECT status, COUNT(*) AS n FROM tbltickets WHERE did = ? GROUP BY status", (p.num("deptid"),)
        )
    else:
        rows = call.db.all("SELECT status, COUNT(*) AS n FROM tbltickets GROUP BY status")
    counts = {str(r["status"]): int(r["n"]) for r in rows}
    statuses = [
        {"title": str(s["title"]), "count": counts.get(str(s["title"]), 0), "color": str(s["color"])}
        for s in call.db.statuses()
    ]
    return {"result": "success", "totalresults": len(statuses), "statuses": {"status": statuses}}


async def get_ticket_counts(call: Call) -> dict[str, Any]:
    p = call.params
    depts = call.visible_departments(p.flag("ignoreDepartmentAssignments"))
    all_depts = [int(r["id"]) for r in call.db.all("SELECT id FROM tblticketdepartments ORDER BY id")]
    shown = all_depts if depts is None else [d for d in all_depts if d in depts]
    per_dept = _counts_by(call, "did")
    by_status: dict[str, int] = {}
    for d in shown:
        for status, n in per_dept.get(d, {}).items():
            by_status[status] = by_status.get(status, 0) + n
    marks = ",".join("?" * len(shown))
    flagged = (
        int(
            call.db.scalar(
                f"SELECT COUNT(*) FROM tbltickets WHERE flag = ? AND did IN ({marks})", [call.admin["id"], *shown]
            )
        )
        if shown
        else 0
    )
    out: dict[str, Any] = {
        "result": "success",
        "filteredDepartments": shown,
        "allActive": sum(by_status.get(s, 0) for s in _status_flags(call, "showactive")),
        "awaitingReply": sum(by_status.get(s, 0) for s in _status_flags(call, "showawaiting")),
        "flaggedTickets": flagged,
    }
    if p.flag("includeCountsByStatus"):
        out["status"] = {_slug(t): {"title": t, "count": by_status.get(t, 0)} for t in _status_titles(call)}
    return out


def _slug(title: str) -> str:
    return title.lower().replace(" ", "").replace("-", "")
