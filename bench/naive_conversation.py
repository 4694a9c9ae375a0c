"""A naive hand-written aiohttp WHMCS GetTicket onto PMP module 3.x, with the conversation.

What one would write by hand for a ticket with replies, notes and staff names, making the
same backend calls the gateway makes (``bench/conversation.py`` lists them):

* per request ``GET api/tickets/{id}`` then ``GET api/notes/ticket/{id}``;
* the reply table ``api/thirdparty/customtable/tblticket_replies`` read whole into a dict
  (ticket -> rows), read again only when a ticket's ``lastreply`` is later than its newest
  reply (2 s of slack: Perfex stamps the two separately), as the gateway's reply index does;
* ``api/staffs`` kept 60 s and each customer's ``api/contacts/{userid}`` 10 s, the
  gateway's default lifetimes.

The answer is built with plain dicts and ``orjson`` (``bench/handwritten.py``'s ticket, plus
the replies and notes), the same JSON the gateway gives (``tests/bench`` checks it, and
``bench.run`` checks it before timing).  No deadline, retries, metrics or discovery.

    python -m bench.naive_conversation --port 9003 --backend-url http://127.0.0.1:9000/
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from bench import handwritten as hw
from bench._server import main

Row = dict[str, Any]
SESSION = web.AppKey("session", aiohttp.ClientSession)
CLIENTS = {"bench": "bench-secret"}
REPLIES_PATH = "api/thirdparty/customtable/tblticket_replies"
STAFF_TTL, CONTACTS_TTL = 60.0, 10.0
SLACK = timedelta(seconds=2)
_BR = re.compile(r"<br\s*/?>(\r?\n)?")


def _text(value: Any) -> str:
    text = hw._s(value)
    return _BR.sub("\r\n", text) if "<br" in text else text


def _when(text: Any) -> datetime:
    return datetime.fromisoformat(text) if text else datetime.min


def _full(row: Row) -> str:
    return f"{hw._s(row.get('firstname'))} {hw._s(row.get('lastname'))}".strip()


class Caches:
    """The reply table by ticket, the staff names and the customers' contacts."""

    def __init__(self) -> None:
        self.replies: dict[int, list[Row]] | None = None
        self.covered: dict[int, str] = {}  # ticket -> the lastreply a table read already answered
        self.staff: tuple[float, dict[int, str]] = (0.0, {})
        self.contacts: dict[int, tuple[float, dict[int, Row]]] = {}


def reply_item(row: Row, staff: dict[int, str], contacts: dict[int, Row]) -> Row:
    admin, userid, contactid = hw._i(row.get("admin")), hw._i(row.get("userid")), hw._i(row.get("contactid"))
    name, email = hw._s(row.get("name")), hw._s(row.get("email"))
    if admin:
        userid = contactid = 0
        name = email = ""
    elif userid and (contact := contacts.get(contactid)) is not None:
        name, email = _full(contact), hw._s(contact.get("email"))
    item = {
        "replyid": str(hw._i(row.get("id"))),
        "userid": str(userid),
        "contactid": str(contactid),
        "name": name,
        "email": email,
        "date": hw._ymd(_when(row.get("date"))),
        "message": _text(row.get("message")),
        "attachment": "",
        "admin": staff.get(admin, "") if admin else "",
        "rating": "0",
    }
    return item


def note_item(row: Row, staff: dict[int, str]) -> Row:
    return {
        "noteid": str(hw._i(row.get("id"))),
        "date": hw._ymd(_when(row.get("dateadded"))),
        "message": _text(row.get("description")),
        "admin": staff.get(hw._i(row.get("addedfrom")), ""),
    }


def whmcs_ticket(
    row: Row, replies: list[Row], notes: list[Row], staff: dict[int, str], contacts: dict[int, Row]
) -> Row:
    out = hw.whmcs_ticket_row(row)
    ordered = sorted(replies, key=lambda r: (_when(r.get("date")), hw._i(r.get("id"))))
    out["replies"]["reply"].extend(reply_item(r, staff, contacts) for r in ordered)
    tid = hw._i(row.get("ticketid"))
    mine = [n for n in notes if (n.get("rel_type") or "ticket") == "ticket" and hw._i(n.get("rel_id") or tid) == tid]
    mine.sort(key=lambda n: (_when(n.get("dateadded")), hw._i(n.get("id"))))
    out["notes"]["note"] = [note_item(n, staff) for n in mine]
    return out


def make_app(ns: argparse.Namespace) -> web.Application:
    base = ns.backend_url.rstrip("/") + "/"
    headers = {"authtoken": ns.backend_token, "Accept": "application/json"}
    caches = Caches()

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
        yield
        await app[SESSION].close()

    def error(message: str, status: int = 200) -> web.Response:
        return web.Response(
            body=orjson.dumps({"result": "error", "message": message}), status=status, content_type="application/json"
        )

    async def get(session: aiohttp.ClientSession, path: str) -> Any:
        """The decoded answer; None for a 404 (``No data were found``)."""
        async with session.get(base + path, headers=headers) as resp:
            if resp.status == 404:
                return None
            resp.raise_for_status()
            return orjson.loads(await resp.read())

    async def replies_of(session: aiohttp.ClientSession, tid: int, lastreply: str | None) -> list[Row]:
        table = caches.replies
        rows = table.get(tid, []) if table is not None else []
        newest = max((_when(r.get("date")) for r in rows), default=None)
        stale = lastreply and (newest is None or newest + SLACK < _when(lastreply))
        if table is None or (stale and caches.covered.get(tid, "") < str(lastreply)):
            fresh: dict[int, list[Row]] = {}
            for r in await get(session, REPLIES_PATH) or []:
                fresh.setdefault(hw._i(r.get("ticketid")), []).append(r)
            caches.replies, rows = fresh, fresh.get(tid, [])
            if lastreply:
                caches.covered[tid] = str(lastreply)
        return rows

    async def staff_names(session: aiohttp.ClientSession) -> dict[int, str]:
        expires, names = caches.staff
        if time.monotonic() >= expires:
            rows = await get(session, "api/staffs") or []
            names = {hw._i(r.get("staffid")): _full(r) for r in rows}
            caches.staff = (time.monotonic() + STAFF_TTL, names)
        return names

    async def contacts_of(session: aiohttp.ClientSession, userid: int) -> dict[int, Row]:
        expires, found = caches.contacts.get(userid, (0.0, {}))
        if time.monotonic() >= expires:
            found = {hw._i(r.get("id")): r for r in await get(session, f"api/contacts/{userid}") or []}
            caches.contacts[userid] = (time.monotonic() + CONTACTS_TTL, found)
        return found

    async def get_ticket(session: aiohttp.ClientSession, tid: str) -> web.Response:
        row = await get(session, f"api/tickets/{tid}")
        if not isinstance(row, dict):
            return error("Ticket ID Not Found")
        n = int(tid)
        replies = await replies_of(session, n, row.get("lastreply"))
        notes = await get(session, f"api/notes/ticket/{n}") or []
        staff = await staff_names(session)
        contacts: dict[int, Row] = {}
        for userid in {hw._i(r.get("userid")) for r in replies if not hw._i(r.get("admin"))} - {0}:
            contacts.update(await contacts_of(session, userid))
        return hw.json_response(whmcs_ticket(row, replies, notes, staff, contacts))

    async def api(request: web.Request) -> web.Response:
        form = await request.post()
        if CLIENTS.get(str(form.get("identifier", ""))) != form.get("secret"):
            return error("Authentication Failed", 403)
        if str(form.get("action", "")).lower() != "getticket":
            return error("Command Not Found")
        tid = str(form.get("ticketid", ""))
        if not tid.isdigit():
            return error("Ticket ID Not Found")
        return await get_ticket(request.app[SESSION], tid)

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/includes/api.php", api)
    return app


if __name__ == "__main__":
    main(make_app, "naive hand-written aiohttp WHMCS GetTicket with replies and notes on PMP 3.x")
