"""A small, scriptable WHMCS External API on a loopback port, for the adapter's unit tests.

It keeps tickets, replies, notes and departments in memory and answers the
actions the adapter calls in WHMCS's JSON shapes (reference/whmcs-api.md).  A
test scripts faults per action (``fake.faults["AddTicketReply"] = "drop-after"``):

* ``drop-after``   the action is carried out, then the connection is closed unanswered
* ``drop-before``  the connection is closed before anything is done
* ``json-fail``    carried out, then answered with WHMCS's JSON encoding failure
                   (and ``responsetype=xml`` reads are answered as XML)
* ``auth`` / ``ip`` / ``perm`` / ``unknown``   WHMCS's refusals
* ``429`` / ``hang``                           rate limited / no answer in time
Every call is recorded in ``fake.calls`` as (action, parameters).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from gateway import formats


@dataclass
class FakeWhmcs:
    identifier: str = "api-id"
    secret: str = "api-secret"
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self.add_ticket(subject="Printer on fire", message="It is on fire.", userid="1", date="2024-03-01 09:15:00")
        self.add_ticket(subject="Guest question", message="How much?", userid="0", name="Gus", email="gus@x.example")

    def add_ticket(self, **values: Any) -> int:
        ticket_id = max(self.tickets, default=0) + 1
        date = values.pop("date", "2024-03-02 10:00:00")
        message = values.pop("message", "")
        self.tickets[ticket_id] = {
            "ticketid": str(ticket_id), "tid": str(100000 + ticket_id), "c": f"c{ticket_id:07d}",
            "deptid": str(values.pop("deptid", "1")), "deptname": "Support", "userid": "0", "contactid": "0",
            "name": "", "email": "", "requestor_name": "", "requestor_email": "", "requestor_type": "Owner",
            "cc": "", "date": date, "subject": "", "status": "Open", "priority": "Medium", "admin": "",
            "lastreply": date, "flag": "0", "service": "",
            "replies": {"reply": [{
                "replyid": "0", "userid": values.get("userid", "0"), "contactid": "0", "name": values.get("name", ""),
                "email": values.get("email", ""), "requestor_name": "", "requestor_email": "", "requestor_type": "",
                "date": date, "message": message, "attachment": "", "attachments": [], "attachments_removed": False,
                "admin": "",
            }]},
            "notes": {"note": []},
        } | values  # fmt: skip
        return ticket_id

    # ---------------------------------------------------------------- server

    async def handle(self, request: web.Request) -> web.StreamResponse:
        params = {**request.query, **{k: str(v) for k, v in (await request.post()).items()}}
        action = params.get("action", "").lower()
        name = next((a for a in _ACTIONS if a.lower() == action), action)
        self.calls.append((name, params))
        fault = self.faults.get(name, "")
        if fault == "drop-before" and request.transport is not None:
            request.transport.close()
            raise web.HTTPBadRequest()
        if params.get("identifier") != self.identifier or params.get("secret") != self.secret or fault == "auth":
            return _json({"result": "error", "message": "Authentication Failed"}, 403)
        if fault == "ip":
            return _json({"result": "error", "message": "Invalid IP 10.1.2.3"}, 403)
        if fault == "perm":
            text = f'Invalid Permissions: API action "{action}" is not allowed'
            return _json({"result": "error", "message": text}, 403)
        if fault == "429":
            return web.Response(status=429, headers={"Retry-After": "7"})
        if fault == "hang":
            await asyncio.sleep(30)
        handler = getattr(self, "do_" + name, None)
        if handler is None or fault == "unknown":
            return _json({"result": "error", "message": "Command Not Found"})
        answer: dict[str, Any] = handler(params)
        if fault == "drop-after" and request.transport is not None:
            request.transport.close()
            raise web.HTTPBadRequest()
        if fault == "json-fail":
            if params.get("responsetype") == "xml":
                return web.Response(body=_xml(action, answer), content_type="application/xml")
            text = "Error generating JSON encoded response: Malformed UTF-8 characters, possibly incorrectly encoded"
            return _json({"result": "error", "message": text})
        return _json(answer)

    # ---------------------------------------------------------------- actions

    def _ticket(self, p: dict[str, str]) -> dict[str, Any] | None:
        return self.tickets.get(int(p.get("ticketid") or 0))

    def do_GetTicket(self, p: dict[str, str]) -> dict[str, Any]:
        ticket = self._ticket(p)
        if ticket is None:
            return {"result": "error", "message": "Ticket ID Not Found"}
        return {"result": "success", **ticket}

    def do_GetTickets(self, p: dict[str, str]) -> dict[str, Any]:
        rows = [t for t in self.tickets.values() if not p.get("subject") or p["subject"] in t["subject"]]
        start, num = int(p.get("limitstart") or 0), int(p.get("limitnum") or 25)
        page = [
            {"id": t["ticketid"], **{k: v for k, v in t.items() if k not in ("ticketid", "replies", "notes")}}
            for t in rows[start : start + num]
        ]
        return {
            "result": "success", "totalresults": str(len(rows)), "startnumber": start, "numreturned": len(page),
            "tickets": {"ticket": page},
        }  # fmt: skip

    def do_OpenTicket(self, p: dict[str, str]) -> dict[str, Any]:
        ticket_id = self.add_ticket(
            subject=p["subject"], message=p["message"], deptid=p["deptid"], userid=p.get("clientid", "0"),
            name=p.get("name", ""), email=p.get("email", ""), priority=p.get("priority", "Medium"),
            date=p.get("created", "2024-04-01 12:00:00"),
        )  # fmt: skip
        t = self.tickets[ticket_id]
        return {"result": "success", "id": str(ticket_id), "tid": t["tid"], "c": t["c"]}

    def do_UpdateTicket(self, p: dict[str, str]) -> dict[str, Any]:
        ticket = self._ticket(p)
        if ticket is None:
            return {"result": "error", "message": "Ticket ID Not Found"}
        for key in ("status", "priority", "subject", "deptid", "flag"):
            if key in p:
                ticket[key] = p[key]
        return {"result": "success", "ticketid": ticket["ticketid"]}

    def do_DeleteTicket(self, p: dict[str, str]) -> dict[str, Any]:
        if self.tickets.pop(int(p.get("ticketid") or 0), None) is None:
            return {"result": "error", "message": "Ticket ID not found"}
        return {"result": "success"}

    def do_AddTicketReply(self, p: dict[str, str]) -> dict[str, Any]:
        ticket = self._ticket(p)
        if ticket is None:
            return {"result": "error", "message": "Ticket ID not found"}
        replies = ticket["replies"]["reply"]
        replies.append({
            "replyid": str(len(replies)), "userid": p.get("clientid", "0"), "contactid": "0", "name": p.get("name", ""),
            "email": p.get("email", ""), "date": p.get("created", "2024-04-02 08:00:00"), "message": p["message"],
            "attachment": "", "admin": p.get("adminusername", ""),
        })  # fmt: skip
        return {"result": "success"}

    def do_AddTicketNote(self, p: dict[str, str]) -> dict[str, Any]:
        ticket = self._ticket(p)
        if ticket is None:
            return {"result": "error", "message": "Ticket ID not found"}
        notes = ticket["notes"]["note"]
        notes.append({"noteid": str(len(notes) + 1), "date": p.get("created", "2024-04-02 08:00:00"),
                      "message": p["message"], "attachment": "", "admin": "API Admin"})  # fmt: skip
        return {"result": "success"}

    def do_GetSupportDepartments(self, p: dict[str, str]) -> dict[str, Any]:
        departments = [{"id": "1", "name": "Support", "awaitingreply": "0", "opentickets": "0"}]
        return {"result": "success", "totalresults": 1, "departments": {"department": departments}}

    def do_GetSupportStatuses(self, p: dict[str, str]) -> dict[str, Any]:
        statuses = [{"title": "Open", "count": 0, "color": "#779500"}, {"title": "Closed", "count": 0, "color": "#888"}]
        return {"result": "success", "totalresults": 2, "statuses": {"status": statuses}}


_ACTIONS = [name.removeprefix("do_") for name in dir(FakeWhmcs) if name.startswith("do_")]


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _xml(action: str, answer: dict[str, Any]) -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?>', '<whmcsapi version="8.13.1">', f"<action>{action}</action>"]
    formats.xml_elements(answer, out)
    out.append("</whmcsapi>")
    return "\n".join(out).encode()


async def serve(fake: FakeWhmcs) -> AsyncIterator[FakeWhmcs]:
    app = web.Application()
    app.router.add_post("/whmcs/includes/api.php", fake.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}/whmcs/"
    try:
        yield fake
    finally:
        await runner.cleanup()
