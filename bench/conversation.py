"""A static PMP module 3.x backend for GetTicket with its conversation (replies, notes, staff).

The throughput run's plain backend serves one ticket row: one backend call per GetTicket.  A
3.x installation that allowlists ``tblticket_replies`` and grants notes and staff shows the
whole conversation, and the gateway then reads (steady state, ``bench.run``'s "conversation"
section lists them from the backend's access log):

* every request: ``GET api/tickets/1`` and ``GET api/notes/ticket/1`` (notes move nothing in
  the ticket row, so there is no freshness signal to cache them by);
* cached: the reply table ``GET api/thirdparty/customtable/tblticket_replies`` (read whole,
  again only when the ticket's ``lastreply`` is later than its newest indexed reply),
  ``GET api/staffs`` (60 s) and ``GET api/contacts/1`` (the customer's contacts, 10 s);
* at start-up, discovery: ``GET api/staffs?page=1&per_page=1`` (the ``{data, meta}`` envelope
  says 3.x), ``GET api/notes/ticket/0``, and a read plus a ``PUT .../0`` per custom table.

:data:`FILES` are the answers (deterministic bytes), :func:`nginx_locations` serves them with
nginx, :func:`make_app` with aiohttp (the test's backend: no nginx needed there).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from bench import payload

TICKET_ID = 1
REPLIES = 5  # on the benchmarked ticket
OTHER_TICKETS, OTHER_REPLIES = 40, 3  # the rest of the reply table (it is read whole)
NO_DATA = b'{"status":false,"message":"No data were found"}'

STAFF: list[dict[str, Any]] = [
    {
        "staffid": str(i),
        "email": f"{first.lower()}.{last.lower()}@helpdesk.example",
        "firstname": first,
        "lastname": last,
        "facebook": None,
        "linkedin": None,
        "phonenumber": "",
        "skype": None,
        "password": "$2a$08$" + "x" * 53,  # rows carry hashes: they never reach a client
        "datecreated": f"2023-01-0{i} 09:00:00",
        "profile_image": None,
        "last_ip": f"10.0.0.{i}",
        "last_login": "2024-03-01 08:00:00",
        "last_activity": None,
        "last_password_change": None,
        "new_pass_key": None,
        "new_pass_key_requested": None,
        "admin": "1" if i == 1 else "0",
        "role": "1" if i == 1 else "2",
        "active": "1",
        "default_language": "english",
        "direction": None,
        "media_path_slug": f"{first}-{last}".lower(),
        "is_not_staff": "0",
        "hourly_rate": "0.00",
        "two_factor_auth_enabled": "0",
        "two_factor_auth_code": None,
        "two_factor_auth_code_requested": None,
        "email_signature": None,
    }
    for i, (first, last) in enumerate((("Alice", "Admin"), ("Bob", "Builder"), ("Carla", "Support")), start=1)
]

CONTACTS: list[dict[str, Any]] = [
    {
        "id": str(cid),
        "userid": "1",
        "is_primary": "1" if cid == 1 else "0",
        "firstname": first,
        "lastname": last,
        "email": f"{first.lower()}.{last.lower()}@example.test",
        "phonenumber": f"+44 20 7946 000{cid}",
        "title": "CTO" if cid == 1 else "",
        "datecreated": "2023-02-01 10:00:00",
        "password": "$2a$08$" + "y" * 53,
        "new_pass_key": None,
        "new_pass_key_requested": None,
        "email_verified_at": "2023-02-01 10:05:00",
        "email_verification_key": None,
        "email_verification_sent_at": None,
        "last_ip": None,
        "last_login": None,
        "last_password_change": None,
        "active": "1",
        "profile_image": None,
        "direction": None,
        "invoice_emails": "1",
        "estimate_emails": "1",
        "credit_note_emails": "1",
        "contract_emails": "1",
        "task_emails": "1",
        "project_emails": "1",
        "ticket_emails": "1",
    }
    for cid, (first, last) in enumerate((("John", "Smith"), ("Jane", "Doe")), start=1)
]


def _reply(rid: int, ticket: int, n: int) -> dict[str, Any]:
    """Reply ``n`` (from 0) of ``ticket``: a customer's (even n) or a staff member's (odd n)."""
    staff = n % 2 == 1
    message = (
        f"<p>Thanks for waiting: step {n} of the fix is done.</p>\r\n<p>Please try again.</p>"
        if staff
        else f"Still failing after step {n}.<br />\nThe error reads &quot;invalid session&quot;.<br />\nJohn"
    )
    return {
        "id": str(rid),
        "ticketid": str(ticket),
        "userid": "0" if staff else "1",
        "contactid": "0" if staff else "1",
        "name": "" if staff else "John Smith",
        "email": "" if staff else "john.smith@example.test",
        "date": f"2024-03-01 {10 + n:02d}:{(7 * rid) % 60:02d}:00",
        "message": message,
        "attachment": "",
        "admin": str(1 + n % 3) if staff else "0",
    }


def reply_rows() -> list[dict[str, Any]]:
    rows, rid = [], 0
    for ticket in range(1, OTHER_TICKETS + 2):
        for n in range(REPLIES if ticket == TICKET_ID else OTHER_REPLIES):
            rid += 1
            rows.append(_reply(rid, ticket, n))
    return rows


def ticket_row() -> dict[str, Any]:
    """Ticket 1 with its ``lastreply`` at its newest reply (what Perfex's reply logic stamps)."""
    row = payload.ticket_row(TICKET_ID)
    row["lastreply"] = max(r["date"] for r in reply_rows() if r["ticketid"] == str(TICKET_ID))
    row["status"], row["ticketstatusid"], row["status_name"] = "3", "3", "Answered"
    return row


def note_rows() -> list[dict[str, Any]]:
    texts = ("Asked the hosting team to check the session store.", "Session store flushed; watching it.")
    return [
        {
            "id": str(i),
            "rel_id": str(TICKET_ID),
            "rel_type": "ticket",
            "description": text,
            "date_contacted": None,
            "addedfrom": str(i),
            "dateadded": f"2024-03-01 {11 + i:02d}:30:00",
        }
        for i, text in enumerate(texts, start=1)
    ]


DEPARTMENTS = [
    {"departmentid": str(i), "name": name, "email": "", "imap_username": "", "host": "", "password": None}
    for i, name in ((1, "Sales"), (2, "Technical Support"), (3, "Billing"))
]

TABLES = "api/thirdparty/customtable/"

#: path (without the query) -> the answer's body; every one a 200 but for :data:`MISSING`.
FILES: dict[str, bytes] = {
    f"api/tickets/{TICKET_ID}": orjson.dumps(ticket_row()),
    f"api/notes/ticket/{TICKET_ID}": orjson.dumps(note_rows()),
    "api/staffs": orjson.dumps(STAFF),  # without page/per_page: 2.x's plain array (3.x keeps it)
    "api/contacts/1": orjson.dumps(CONTACTS),
    TABLES + "tblticket_replies": orjson.dumps(reply_rows()),
    TABLES + "tbldepartments": orjson.dumps(DEPARTMENTS),
}
#: ``GET api/staffs?page=1&per_page=1`` (discovery): the 3.x envelope
STAFF_PAGE = orjson.dumps(
    {
        "data": STAFF[:1],
        "meta": {
            "page": 1,
            "per_page": 1,
            "total": len(STAFF),
            "total_pages": len(STAFF),
            "has_more": True,
            "current_page": 1,
            "last_page": len(STAFF),
        },
    }
)
#: 404 ``No data were found``: notes of ticket 0 (discovery), row 0 of each table (the PUT
#: probe: no table holds it, so the token's write grant shows), ticket 0 (``/readyz``'s ping)
MISSING = ("api/notes/ticket/0", "api/tickets/0", TABLES + "tblticket_replies/0", TABLES + "tbldepartments/0")

#: the calls of one steady-state GetTicket (gateway and naive translation alike)
PER_REQUEST = (f"GET /api/tickets/{TICKET_ID}", f"GET /api/notes/ticket/{TICKET_ID}")


def write_static(directory: Path) -> None:
    for path, body in FILES.items():
        (directory / (path.replace("/", "__") + ".json")).write_bytes(body)
    (directory / "staffs-page.json").write_bytes(STAFF_PAGE)


def nginx_http() -> str:
    """What goes in nginx's ``http`` block: the staff file by query string, the call log format."""
    return (
        '    map $arg_page $staffs_file { "" api__staffs.json; default staffs-page.json; }\n'
        "    log_format calls '$request_method $request_uri $status';\n"
    )


def nginx_locations(static: Path) -> str:
    """The ``server`` block's locations serving :data:`FILES` from ``static`` (see :func:`write_static`)."""
    out = ["        default_type application/json;"]
    for path in FILES:
        if path == "api/staffs":
            out.append(f"        location = /api/staffs {{ root {static}; try_files /$staffs_file =404; }}")
        else:
            out.append(f"        location = /{path} {{ alias {static}/{path.replace('/', '__')}.json; }}")
    for path in MISSING:
        out.append(f"        location = /{path} {{ return 404 '{NO_DATA.decode()}'; }}")
    return "\n".join(out)


# ------------------------------------------------------------------ the same backend in aiohttp (tests)


def make_app(calls: list[str] | None = None) -> web.Application:
    """The same answers from aiohttp; ``calls`` collects ``"METHOD /path"`` of every request."""

    async def handle(request: web.Request) -> web.Response:
        if calls is not None:
            calls.append(f"{request.method} {request.path}")
        path = request.path.lstrip("/")
        if path in MISSING:
            return web.Response(body=NO_DATA, status=404, content_type="application/json")
        if request.method != "GET" or path not in FILES:
            return web.Response(status=405 if path in FILES else 404)
        body = STAFF_PAGE if path == "api/staffs" and request.query.get("page") else FILES[path]
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="serve the conversation backend with aiohttp (for poking at it)")
    p.add_argument("--port", type=int, default=9010)
    ns = p.parse_args(argv)
    web.run_app(make_app(), host="127.0.0.1", port=ns.port)


if __name__ == "__main__":
    main()
