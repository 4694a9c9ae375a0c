"""The floor any aiohttp gateway pays: forward the call, translate nothing.

``POST /includes/api.php`` with a WHMCS form: read the form, make the one
backend GET the gateway would make (``api/tickets/<id>`` for GetTicket,
``api/tickets`` otherwise) through one shared ``ClientSession`` with the
``authtoken`` header, and return the backend's bytes unchanged.

    python -m bench.passthrough --port 9001 --backend-url http://127.0.0.1:9000/ [--workers N]
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

from bench._server import main

SESSION = web.AppKey("session", aiohttp.ClientSession)


def make_app(ns: argparse.Namespace) -> web.Application:
    base = ns.backend_url.rstrip("/") + "/"
    headers = {"authtoken": ns.backend_token, "Accept": "application/json"}

    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
        yield
        await app[SESSION].close()

    async def api(request: web.Request) -> web.Response:
        form = await request.post()
        if str(form.get("action", "")).lower() == "getticket":
            url = f"{base}api/tickets/{form.get('ticketid', '')}"
        else:
            url = f"{base}api/tickets"
        async with request.app[SESSION].get(url, headers=headers) as resp:
            body = await resp.read()
            return web.Response(body=body, status=resp.status, content_type="application/json")

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/includes/api.php", api)
    return app


if __name__ == "__main__":
    main(make_app, "bare aiohttp pass-through (no translation)")
