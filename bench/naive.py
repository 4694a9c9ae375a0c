"""A naive hand-written aiohttp translation of WHMCS GetTicket / GetTickets onto PMP.

What one would write without the gateway: parse the form, check the one
credential, GET the PMP row(s) through one shared ``ClientSession``, build the
WHMCS dict by hand (``bench/handwritten.py``, same output as the gateway), and
``orjson`` it.  No mapping engine, canonical model, deadline, retries, metrics
or context: the reference the issue quotes at about 0.55x of the floor.

    python -m bench.naive --port 9002 --backend-url http://127.0.0.1:9000/ [--workers N]
"""

from __future__ import annotations

import argparse

import aiohttp
import orjson
from aiohttp import web

from bench import handwritten as hw
from bench._server import main

SESSION = web.AppKey("session", aiohttp.ClientSession)
CLIENTS = {"bench": "bench-secret"}


def make_app(ns: argparse.Namespace) -> web.Application:
    base = ns.backend_url.rstrip("/") + "/"
    headers = {"authtoken": ns.backend_token, "Accept": "application/json"}

    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
        yield
        await app[SESSION].close()

    def error(message: str, status: int = 200) -> web.Response:
        return web.Response(
            body=orjson.dumps({"result": "error", "message": message}), status=status, content_type="application/json"
        )

    async def api(request: web.Request) -> web.Response:
        form = await request.post()
        if CLIENTS.get(str(form.get("identifier", ""))) != form.get("secret"):
            return error("Authentication Failed", 403)
        action = str(form.get("action", "")).lower()
        session = request.app[SESSION]
        if action == "getticket":
            tid = str(form.get("ticketid", ""))
            if not tid.isdigit():
                return error("Ticket ID Not Found")
            async with session.get(f"{base}api/tickets/{tid}", headers=headers) as resp:
                if resp.status == 404:
                    return error("Ticket ID Not Found")
                row = orjson.loads(await resp.read())
            return hw.json_response(hw.whmcs_ticket_row(row))
        if action == "gettickets":
            start = int(str(form.get("limitstart") or 0))
            num = int(str(form.get("limitnum") or 25))
            async with session.get(f"{base}api/tickets", headers=headers) as resp:
                rows = orjson.loads(await resp.read()) if resp.status == 200 else []
            return hw.json_response(hw.whmcs_list_rows(rows, start, num))
        return error("Command Not Found")

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/includes/api.php", api)
    return app


if __name__ == "__main__":
    main(make_app, "naive hand-written aiohttp WHMCS->PMP translation")
