"""The backend fails in every way a real one does; clients get their dialect's error, in time.

Real sockets throughout: a fault server (or a chaos proxy in front of the
simulator) on loopback, the gateway on loopback, clients over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.pmp_sim import SimDB, start_simulator
from gateway.settings import BackendSettings, ClientCredential, Settings

TOKEN = "fault-token"
CLIENT = ClientCredential(identifier="c", secret="c-secret")
WHMCS = {"identifier": "c", "secret": "c-secret", "responsetype": "json"}
TIMEOUT = 1.5


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


def gateway_app(backend_url: str, tmp: Path, timeout: float = TIMEOUT) -> web.Application:
    return create_app(
        Settings(
            backend=BackendSettings(url=backend_url, token=TOKEN, timeout=timeout, connect_timeout=0.5),
            clients=(CLIENT,),
            data_dir=tmp,
            access_log=False,
        )
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _hang(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(30)
    return web.json_response([])


async def _500(request: web.Request) -> web.StreamResponse:
    return web.Response(status=500, text="<h1>A PHP Error was encountered</h1>", content_type="text/html")


async def _429(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": False, "message": "Too many"}, status=429, headers={"Retry-After": "1"})


async def _garbage(request: web.Request) -> web.StreamResponse:
    return web.Response(status=200, text="this is not json {", content_type="application/json")


async def _truncated(request: web.Request) -> web.StreamResponse:
    return web.Response(status=200, text='{"ticketid": "1", "subject": "cut he', content_type="application/json")


async def _html(request: web.Request) -> web.StreamResponse:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    return web.Response(status=200, text=page, content_type="text/html")


async def _close_mid_response(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json", "Content-Length": "500"})
    await resp.prepare(request)
    await resp.write(b'{"ticketid": "1", "subj')
    assert request.transport is not None
    request.transport.close()
    return resp


FAULTS: dict[str, Handler] = {
    "hanging": _hang,
    "http-500": _500,
    "http-429": _429,
    "garbage-json": _garbage,
    "truncated-json": _truncated,
    "html-page": _html,
    "closes-mid-response": _close_mid_response,
}


def fault_app(handler: Handler, seen: list[str]) -> web.Application:
    async def record(request: web.Request) -> web.StreamResponse:
        seen.append(f"{request.method} {request.path}")
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    return app


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


async def _ask(session: aiohttp.ClientSession, gw: str) -> tuple[float, int, Any, int, Any]:
    started = time.monotonic()
    async with session.post(gw + "includes/api.php", data={"action": "GetTicket", "ticketid": "1", **WHMCS}) as r:
        whmcs = (r.status, await r.json(content_type=None))
    headers = {"Authorization": "Bearer c-secret"}
    async with session.post(gw + "api/v2/keliweb/get-ticket", data={"ticketid": "1"}, headers=headers) as r:
        keliweb = (r.status, await r.json(content_type=None))
    return time.monotonic() - started, whmcs[0], whmcs[1], keliweb[0], keliweb[1]


@pytest.mark.parametrize("fault", ["backend-down", *FAULTS])
async def test_each_fault_gives_a_dialect_error_in_time(fault: str, tmp_path: Path) -> None:
    seen: list[str] = []
    async with (
        serve(fault_app(FAULTS[fault], seen)) if fault != "backend-down" else _nothing(closed_port()) as backend,
        serve(gateway_app(backend, tmp_path)) as gw,
        aiohttp.ClientSession() as session,
    ):
        # the gateway keeps serving other requests while one hangs
        slow = asyncio.create_task(_ask(session, gw))
        await asyncio.sleep(0.05)
        async with session.get(gw + "healthz") as r:
            assert r.status == 200
        elapsed, w_status, w_body, k_status, k_body = await slow
    assert elapsed < 2 * (TIMEOUT + 0.5), f"{fault}: answered after {elapsed:.2f}s"
    assert w_status == 200 and w_body["result"] == "error", w_body
    text = w_body["message"].lower()
    assert ("timed out" in text or "time" in text) if fault == "hanging" else "unavailable" in text, text
    assert k_status == (504 if fault == "hanging" else 503), (k_status, k_body)
    assert k_body["result"] == "error"
    for body in (json.dumps(w_body), json.dumps(k_body)):
        assert TOKEN not in body and "Traceback" not in body


@asynccontextmanager
async def _nothing(url: str) -> AsyncIterator[str]:
    yield url


async def test_a_failed_write_is_not_retried(tmp_path: Path) -> None:
    seen: list[str] = []

    async def backend(request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            return await _500(request)
        if request.path == "/api/customers/1":
            return web.json_response({"userid": "1", "company": "Acme", "active": "1"})
        return web.json_response({"status": False, "message": "No data were found"}, status=404)

    data = {"action": "OpenTicket", "deptid": "1", "clientid": "1", "subject": "s", "message": "m", **WHMCS}
    async with (
        serve(fault_app(backend, seen)) as url,
        serve(gateway_app(url, tmp_path)) as gw,
        aiohttp.ClientSession() as session,
        session.post(gw + "includes/api.php", data=data) as r,
    ):
        body = await r.json(content_type=None)
    assert body["result"] == "error"
    assert seen.count("POST /api/tickets") == 1, seen


async def test_breaker_opens_and_answers_fast(tmp_path: Path) -> None:
    seen: list[str] = []
    ask = {"action": "GetTicket", "ticketid": "1", **WHMCS}
    async with (
        serve(fault_app(_500, seen)) as url,
        serve(gateway_app(url, tmp_path)) as gw,
        aiohttp.ClientSession() as session,
    ):
        for _ in range(8):
            async with session.post(gw + "includes/api.php", data=ask):
                pass
        calls = len(seen)
        async with session.post(gw + "includes/api.php", data=ask) as r:
            body = await r.json(content_type=None)
        async with session.get(gw + "readyz") as r:
            ready = r.status
    assert "circuit breaker" in body["message"]
    assert len(seen) == calls, "an open breaker must not call the backend"
    assert ready == 503


# ------------------------------------------------- 200 clients, 10% failing backend


def chaos_proxy(upstream: str, rng: random.Random, log: list[str]) -> web.Application:
    """Forwards to the simulator; ~10% of calls fail: refused before, or dropped after, the write."""

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        roll = rng.random()
        if roll < 0.05:
            log.append("503-before")
            return web.Response(status=503, text="<h1>Service Unavailable</h1>", content_type="text/html")
        headers = {
            k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authtoken", "idempotency-key")
        }
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, upstream.rstrip("/") + request.path_qs, data=body or None, headers=headers
            ) as resp,
        ):
            raw = await resp.read()
        if roll < 0.10:
            log.append(f"drop-after {request.method}")
            assert request.transport is not None
            request.transport.close()  # the backend did the work; the answer never arrives
            return web.Response(status=200)
        return web.Response(body=raw, status=resp.status, content_type=resp.content_type)

    app = web.Application(client_max_size=1 << 24)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@pytest.mark.parametrize("module", [3, 2])
async def test_200_concurrent_opens_against_a_flaky_backend(tmp_path: Path, module: int) -> None:
    # 3.x: lost answers are replayed with their Idempotency-Key; 2.x: settled by one listing
    runner, sim_url = await start_simulator(
        db_path=tmp_path / "sim.sqlite3", token=TOKEN, seed_demo=True, module=module
    )
    log: list[str] = []
    try:
        async with (
            serve(chaos_proxy(sim_url, random.Random(7), log)) as proxy,
            serve(
                create_app(
                    Settings(
                        backend=BackendSettings(url=proxy, token=TOKEN, timeout=120, breaker_failures=1000),
                        clients=(CLIENT,),
                        data_dir=tmp_path,
                        access_log=False,
                    )
                )
            ) as gw,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180)) as session,
        ):

            async def open_one(i: int) -> tuple[int, dict[str, Any]]:
                data = {
                    "action": "OpenTicket",
                    "deptid": "1",
                    "clientid": "1",
                    "contactid": "1",
                    "subject": f"chaos #{i}",
                    "message": f"body {i}",
                    **WHMCS,
                }
                async with session.post(gw + "includes/api.php", data=data) as r:
                    return i, await r.json(content_type=None)

            results = await asyncio.gather(*(open_one(i) for i in range(200)))
    finally:
        await runner.cleanup()
    rows = SimDB(tmp_path / "sim.sqlite3", seed_demo=False).list_ticket_rows()
    by_subject: dict[str, list[str]] = {}
    for row in rows:
        by_subject.setdefault(str(row["subject"]), []).append(str(row["ticketid"]))
    created = sum(1 for _, body in results if body["result"] == "success")
    assert any(entry.startswith("drop-after POST") for entry in log), "the chaos never hit a write"
    for i, body in results:
        ids = by_subject.get(f"chaos #{i}", [])
        assert len(ids) <= 1, f"ticket {i} written twice: {ids}"
        if body["result"] == "success":
            assert ids == [body["id"]], (i, body, ids)
        elif "unknown" not in body["message"].lower():
            assert ids == [], f"client {i} was told {body['message']!r} but the ticket exists"
    assert created >= 150, f"only {created} of 200 succeeded"
