"""Hand-written Python translations: the references the gateway's mappings are measured against.

What a competent engineer would write by hand for one vendor, with no mapping
engine and no canonical model: read the PMP row's fields, look statuses and
priorities up in a dict, reformat dates, build the vendor's dict, ``orjson``
it into a ``web.Response``.  They produce the same JSON the gateway does for
the benchmark payloads (``translate_bench`` checks that before timing), so a
ratio compares equal work.

``*_row`` functions translate PMP rows (the end-to-end path); ``*_ticket``
functions render a canonical :class:`gateway.canonical.Ticket` (the render side).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import orjson
from aiohttp import web

from gateway.canonical import Ticket

JSON = "application/json"

# PMP status / priority ids -> vendor texts
WHMCS_STATUS: dict[Any, str] = {"1": "Open", "2": "In Progress", "3": "Answered", "4": "On Hold", "5": "Closed"}
WHMCS_PRIORITY: dict[Any, str] = {"1": "Low", "2": "Medium", "3": "High"}
CE_STATUS: dict[Any, str] = {"1": "1", "2": "2", "3": "3", "4": "2", "5": "-1"}
CE_STATUS_NAME: dict[Any, str] = {
    "1": "Open",
    "2": "In Progress",
    "3": "Waiting on Customer",
    "4": "In Progress",
    "5": "Closed",
}
CE_PRIORITY: dict[Any, str] = {"1": "3", "2": "2", "3": "1"}
RD_STATUS = WHMCS_STATUS
RD_PRIORITY = WHMCS_PRIORITY
# canonical enum values -> vendor texts (render side)
C_WHMCS_STATUS: dict[Any, str] = {
    "open": "Open",
    "in_progress": "In Progress",
    "answered": "Answered",
    "on_hold": "On Hold",
    "closed": "Closed",
    "customer_reply": "Customer-Reply",
    "unassigned": "Open",
    "waiting_on_customer": "Answered",
}
C_WHMCS_PRIORITY: dict[Any, str] = {"low": "Low", "medium": "Medium", "high": "High"}
C_CE_STATUS: dict[Any, str] = {
    "open": "1",
    "in_progress": "2",
    "waiting_on_customer": "3",
    "closed": "-1",
    "unassigned": "0",
    "answered": "3",
    "on_hold": "2",
    "customer_reply": "1",
}
C_CE_STATUS_NAME: dict[Any, str] = {
    "open": "Open",
    "in_progress": "In Progress",
    "waiting_on_customer": "Waiting on Customer",
    "closed": "Closed",
    "unassigned": "Unassigned",
    "answered": "Waiting on Customer",
    "on_hold": "In Progress",
    "customer_reply": "Open",
}
C_CE_PRIORITY: dict[Any, str] = {"high": "1", "medium": "2", "low": "3"}


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _i(v: Any) -> int:
    return int(v) if v not in (None, "") else 0


def _dt(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _ymd(d: datetime | None) -> str:
    return d.strftime("%Y-%m-%d %H:%M:%S") if d else ""


def _name(row: dict[str, Any]) -> str:
    return " ".join(v for v in (row.get("user_firstname"), row.get("user_lastname"), row.get("from_name")) if v)


def _message(text: Any) -> str:
    return _s(text).replace("<br />\r\n", "\r\n").replace("<br />\n", "\r\n").replace("<br />", "\r\n")


def json_response(payload: Any) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type=JSON)


# ------------------------------------------------------------------ WHMCS (and Keliweb: same body)


def whmcs_ticket_row(row: dict[str, Any]) -> dict[str, Any]:
    date = _dt(row.get("date"))
    last = _dt(row.get("lastreply")) or date
    name, email = _name(row), row.get("email") or row.get("ticket_email") or ""
    tid = str(_i(row["ticketid"]))
    return {
        "result": "success",
        "ticketid": tid,
        "tid": tid,
        "c": _s(row.get("ticketkey"))[:8],
        "deptid": str(_i(row.get("department"))),
        "deptname": _s(row.get("department_name")),
        "userid": str(_i(row.get("userid"))),
        "contactid": str(_i(row.get("contactid"))),
        "name": name,
        "email": email,
        "cc": _s(row.get("cc")),
        "date": _ymd(date),
        "subject": _s(row.get("subject")),
        "status": WHMCS_STATUS.get(row.get("status"), row.get("status_name")),
        "priority": WHMCS_PRIORITY.get(row.get("priority"), row.get("priority_name")),
        "admin": "",
        "lastreply": _ymd(last),
        "flag": "0",
        "service": "",
        "replies": {
            "reply": [
                {
                    "replyid": "0",
                    "userid": str(_i(row.get("userid"))),
                    "contactid": str(_i(row.get("contactid"))),
                    "name": name,
                    "email": email,
                    "date": _ymd(date),
                    "message": _message(row.get("message")),
                    "attachment": "",
                    "admin": "",
                }
            ]
        },
        "notes": {"note": []},
    }


def whmcs_summary_row(row: dict[str, Any]) -> dict[str, Any]:
    date = _dt(row.get("date"))
    last = _dt(row.get("lastreply")) or date
    tid = str(_i(row["ticketid"]))
    return {
        "id": tid,
        "tid": tid,
        "deptid": str(_i(row.get("department"))),
        "userid": str(_i(row.get("userid"))),
        "name": _name(row),
        "email": row.get("email") or row.get("ticket_email") or "",
        "cc": _s(row.get("cc")),
        "c": _s(row.get("ticketkey"))[:8],
        "date": _ymd(date),
        "subject": _s(row.get("subject")),
        "status": WHMCS_STATUS.get(row.get("status"), row.get("status_name")),
        "priority": WHMCS_PRIORITY.get(row.get("priority"), row.get("priority_name")),
        "admin": "",
        "attachment": "",
        "lastreply": _ymd(last),
        "flag": "0",
        "service": "",
    }


def whmcs_list_rows(rows: list[dict[str, Any]], offset: int = 0, limit: int = 25) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: _i(r["ticketid"]))
    page = [whmcs_summary_row(r) for r in rows[offset : offset + limit]]
    return {
        "result": "success",
        "totalresults": len(rows),
        "startnumber": offset,
        "numreturned": len(page),
        "tickets": {"ticket": page},
    }


def whmcs_ticket(t: Ticket) -> dict[str, Any]:
    d = t.department
    last = t.last_reply_at or t.created_at
    return {
        "result": "success",
        "ticketid": str(t.id),
        "tid": t.number,
        "c": t.access_key[:8],
        "deptid": str(d.id) if d else "",
        "deptname": d.name if d else "",
        "userid": str(t.customer_id),
        "contactid": str(t.contact_id),
        "name": t.requester.name,
        "email": t.requester.email,
        "cc": t.cc,
        "date": _ymd(t.created_at),
        "subject": t.subject,
        "status": C_WHMCS_STATUS.get(t.status, str(t.status)),
        "priority": C_WHMCS_PRIORITY.get(t.priority, str(t.priority)),
        "admin": "",
        "lastreply": _ymd(last),
        "flag": "0",
        "service": "",
        "replies": {
            "reply": [
                {
                    "replyid": str(r.id),
                    "userid": str(r.author.customer_id),
                    "contactid": str(r.author.contact_id),
                    "name": "" if r.author.kind == "staff" else r.author.name,
                    "email": "" if r.author.kind == "staff" else r.author.email,
                    "date": _ymd(r.created_at),
                    "message": r.message,
                    "attachment": "|".join(r.attachments),
                    "admin": r.author.name if r.author.kind == "staff" else "",
                    **({"rating": "0"} if r.id else {}),
                }
                for r in t.replies
            ]
        },
        "notes": {
            "note": [
                {"noteid": str(n.id), "date": _ymd(n.created_at), "message": n.message, "admin": n.staff_name}
                for n in t.notes
            ]
        },
    }


# ------------------------------------------------------------------ Clientexec


def _hm(minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    text = f"{rest // 60} hrs  {rest % 60} mins"
    return f"{days} days {text}" if days else text


def _ce_date(d: datetime | None) -> str:
    return d.strftime("%m/%d/%Y %I:%M:%S ").lower() + d.strftime("%p").lower() if d else ""


def _ce_metadata(
    tid: str,
    email: str,
    name: str,
    guest: bool,
    prio: str,
    date: datetime | None,
    last: datetime | None,
    status: str,
    status_name: str,
    userid: str,
    assigned: str,
    dept_id: str,
    dept_name: str,
    subject: str,
    now: datetime,
) -> dict[str, Any]:
    between = int((last - date).total_seconds() // 60) if date and last else 0
    return {
        "id": tid,
        "userStatus": "1",
        "userEmail": email,
        "isGuest": guest,
        "userGroupColor": "",
        "submittedBy": name,
        "priority": prio,
        "domainid": "0",
        "userPackageReference": "Not applicable",
        "planname": "Not applicable",
        "serverName": "",
        "flag": "clear",
        "dateSubmitted": int(date.replace(tzinfo=UTC).timestamp()) if date else 0,
        "dateSubmittedFormatted": _ymd(date),
        "statusName": status_name,
        "status": status,
        "userid": userid,
        "assignedToId": assigned,
        "assignedToDeptId": dept_id,
        "assignedToFull": dept_name,
        "assignedToName": dept_name,
        "subscribe_title": "Subscribe",
        "subscribe_id": 0,
        "ticket_priority": prio,
        "ticket_status_name": status_name,
        "ticket_status": status,
        "ticket_type": "1",
        "ticket_type_name": "General",
        "subject": subject,
        "time_elapsed": _hm(max(0, between)),
        "time_elapsed_in_minutes": max(0, int((now - date.replace(tzinfo=UTC)).total_seconds() // 60)) if date else 0,
        "show_delete_action": False,
        "show_spam_action": False,
        "show_notification_action": False,
        "show_close_action": True,
        "show_reply_action": False,
        "file_upload_size": "25M",
        "file_upload_ext": "",
        "show_attachments": False,
        "ticket-action-attach": False,
        "allowed_ext": "*",
        "attachments": [],
    }


def _ce_row_metadata(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    st = row.get("status")
    return _ce_metadata(
        str(_i(row["ticketid"])),
        row.get("email") or row.get("ticket_email") or "",
        _name(row),
        _i(row.get("contactid")) == 0,
        CE_PRIORITY.get(row.get("priority"), _s(row.get("priority_name"))),
        _dt(row.get("date")),
        _dt(row.get("lastreply")),
        CE_STATUS.get(st, _s(row.get("status_name"))),
        CE_STATUS_NAME.get(st, _s(row.get("status_name"))),
        str(_i(row.get("userid"))),
        str(_i(row.get("assigned"))),
        str(_i(row.get("department"))),
        _s(row.get("department_name")),
        _s(row.get("subject")),
        now,
    )


def clientexec_ticket_row(row: dict[str, Any], started: float) -> dict[str, Any]:
    now = datetime.now(UTC)
    date = _dt(row.get("date"))
    contactid = _i(row.get("contactid"))
    userid = _i(row.get("userid"))
    comment: dict[str, Any] = {
        "logid": 0,
        "authorName": _name(row),
        "authorEmail": row.get("email") or row.get("ticket_email") or "",
        "isAdmin": False,
        "authorId": str(userid) if userid else 0,
        "action": "0",
        "createdAt": _ce_date(date),
        "avatar_url": "",
        "message": _message(row.get("message")),
        "isExternalEmail": False,
        "attachments": [],
    }
    return {
        "timestamp": int(time.time()),
        "metadata": _ce_row_metadata(row, now),
        "comments": [comment],
        "commentcount": 1 if contactid >= 0 else 0,
        "elapsed": f"{time.perf_counter() - started:.3f}",
        "message": "",
    }


def clientexec_list_rows(rows: list[dict[str, Any]], started: float) -> dict[str, Any]:
    now = datetime.now(UTC)
    rows = sorted(rows, key=lambda r: _i(r["ticketid"]))
    items = [_ce_row_metadata(r, now) for r in rows]
    return {
        "timestamp": int(time.time()),
        "tickets": items,
        "ticketcount": len(items),
        "total": len(rows),
        "offset": 0,
        "page": 1,
        "limit": 0,
        "elapsed": f"{time.perf_counter() - started:.3f}",
        "message": "",
    }


def clientexec_ticket(t: Ticket, started: float) -> dict[str, Any]:
    now = datetime.now(UTC)
    d = t.department
    created = t.created_at.replace(tzinfo=None) if t.created_at else None
    last = t.last_reply_at.replace(tzinfo=None) if t.last_reply_at else None
    meta = _ce_metadata(
        str(t.id),
        t.requester.email,
        t.requester.name,
        t.requester.kind == "guest",
        C_CE_PRIORITY.get(t.priority, str(t.priority)),
        created,
        last,
        C_CE_STATUS.get(t.status, str(t.status)),
        C_CE_STATUS_NAME.get(t.status, str(t.status)),
        str(t.customer_id),
        str(t.assigned_staff_id),
        str(d.id) if d else "",
        d.name if d else "",
        t.subject,
        now,
    )
    comments = [
        {
            "logid": r.id,
            "authorName": r.author.name,
            "authorEmail": r.author.email,
            "isAdmin": r.author.kind == "staff",
            "authorId": str(r.author.customer_id) if r.author.customer_id and r.author.kind != "staff" else 0,
            "action": "0",
            "createdAt": _ce_date(r.created_at),
            "avatar_url": "",
            "message": r.message,
            "isExternalEmail": False,
            "attachments": list(r.attachments),
        }
        for r in t.replies
    ]
    return {
        "timestamp": int(time.time()),
        "metadata": meta,
        "comments": comments,
        "commentcount": len(comments),
        "elapsed": f"{time.perf_counter() - started:.3f}",
        "message": "",
    }


# ------------------------------------------------------------------ ReadyDesk (format=json)


def _rd_date(d: datetime | None) -> str:
    if not d:
        return ""
    ampm = "PM" if d.hour >= 12 else "AM"
    return f"{d.month}/{d.day}/{d.year} {(d.hour % 12) or 12}:{d.minute:02d}:{d.second:02d} {ampm}"


def _rd_record(
    tid: str,
    cid: int,
    name: str,
    email: str,
    cc: str,
    date: datetime | None,
    last: datetime | None,
    category: str,
    status: str,
    priority: str,
    updated_by: str,
    updater: str,
    assigned: int,
    subject: str,
    summary: str,
    company: str = "",
    opened_by: str = "",
) -> dict[str, Any]:
    return {
        "tid": tid,
        "cid": quote_plus(str(cid)) if cid else "",
        "company_id": str(cid),
        "company_name": quote_plus(company),
        "contact": quote_plus(name),
        "phone": "",
        "email": quote_plus(email),
        "cc_addresses": quote_plus(cc),
        "date_opened": _rd_date(date),
        "date_closed": "",
        "source": "",
        "category": quote_plus(category),
        "sub_category": "",
        "status": quote_plus(status),
        "priority": quote_plus(priority),
        "escalation_level": "",
        "due_date": "",
        "opened_by": opened_by or (str(cid) if cid else "WEBSITE"),
        "last_updated": _rd_date(last or date),
        "updated_by": quote_plus(updated_by),
        "updater_type": updater,
        "assigned_tech": str(assigned) if assigned else "",
        "assigned_group_id": "0",
        "assigned_group_name": "",
        "customer_group_id": "0",
        "customer_group_name": "",
        "locked": "N",
        "locked_by": "",
        "linked_asset": "",
        "linked_calls": "",
        "linked_devices": "",
        "merged": "N",
        "merged_to": "",
        "parent_ticket": "0",
        "children_tickets": "",
        "custom_fields": [{}],
        "subject": quote_plus(subject),
        "summary": quote_plus(summary),
    }


def _rd_row(row: dict[str, Any]) -> dict[str, Any]:
    cid = _i(row.get("userid"))
    name = _name(row)
    staff = _i(row.get("admin"))  # a staff-opened ticket: its opening message is theirs
    return _rd_record(
        str(_i(row["ticketid"])),
        cid,
        name,
        row.get("email") or row.get("ticket_email") or "",
        _s(row.get("cc")),
        _dt(row.get("date")),
        _dt(row.get("lastreply")),
        _s(row.get("department_name")),
        RD_STATUS.get(row.get("status"), _s(row.get("status_name"))),
        RD_PRIORITY.get(row.get("priority"), _s(row.get("priority_name"))),
        str(staff) if staff else str(cid) if cid else name,
        "TECH" if staff else "CUSTOMER",
        _i(row.get("assigned")),
        _s(row.get("subject")),
        _message(row.get("message")),
        _s(row.get("company")) if cid else "",
        str(staff) if staff else "",
    )


def readydesk_list_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: _i(r["ticketid"]))
    return {"tickets": [_rd_row(r) for r in rows]}


def readydesk_ticket(t: Ticket) -> dict[str, Any]:
    last = t.replies[-1].author if t.replies else None
    first = t.replies[0].author if t.replies else None
    updated_by = (str(last.staff_id or last.staff_name or last.customer_id or last.name)) if last else ""
    opened_by = str(first.staff_id or first.staff_name or first.customer_id or "") if first else ""
    updater = "TECH" if last and last.kind == "staff" else "CUSTOMER"
    return {
        "tickets": [
            _rd_record(
                t.number,
                t.customer_id,
                t.requester.name,
                t.requester.email,
                t.cc,
                t.created_at,
                t.last_reply_at,
                t.department.name if t.department else "",
                C_WHMCS_STATUS.get(t.status, str(t.status)),
                C_WHMCS_PRIORITY.get(t.priority, str(t.priority)),
                updated_by,
                updater,
                t.assigned_staff_id,
                t.subject,
                t.message,
                t.company,
                opened_by,
            )
        ]
    }
