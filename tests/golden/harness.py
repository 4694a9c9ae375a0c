"""Golden cases as data: a client request, the backend calls it must make, the backend's
answers, and the exact response the client must get.

    tests/golden/<dialect>/<case>/
        request.json             {"method", "path", "query", "form", "json", "headers", "mask", "expect"}
        backend-calls.json       [{"method", "path", "form"|"json"}]   what the gateway must send, in order
        backend-responses.json   [{"status", "json"|"text"}]           what the backend answers, in order
        response.json | response.xml | response.txt                    the exact body (masked keys aside)

A scripted PMP (a real aiohttp server on loopback) replays the answers and
records the calls.  ``python -m tests.golden.harness record DIR...`` records a
case against the embedded simulator (through a recording proxy) so that a new
case is written by running it once and then reading every line of it.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from gateway.app import create_app
from gateway.settings import BackendSettings, ClientCredential, DialectSettings, Settings

ROOT = Path(__file__).parent
TOKEN = "golden-backend-token"
CLIENT = ClientCredential(identifier="golden", secret="golden-secret")
RESPONSE_FILES = ("response.json", "response.xml", "response.txt")


@dataclass
class Script:
    responses: list[dict[str, Any]]
    calls: list[dict[str, Any]] = field(default_factory=list)
    upstream: str | None = None  # record mode: forward to this base URL


async def _read_call(request: web.Request) -> tuple[dict[str, Any], bytes]:
    body = await request.read()
    call: dict[str, Any] = {"method": request.method, "path": request.path_qs}
    ctype = request.content_type
    if body and ctype == "application/json":
        call["json"] = json.loads(body)
    elif body and ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # the body read above is cached
        call["form"] = {k: str(v) for k, v in form.items()}
    elif body:
        call["text"] = body.decode("utf-8", "replace")
    if request.headers.get("authtoken") != TOKEN:
        call["authtoken"] = "missing or wrong"
    return call, body


# What the PMP adapter asks once per installation (discovery, INTERFACE "Backends"): not part
# of a case.  The scripted backend answers as seed 003's module (2.x) does: no such routes.
_DISCOVERY = re.compile(r"^/api/(staffs\?page=1&per_page=1|notes/ticket/0|thirdparty/customtable/\w+(/0)?)$")


def _scripted_app(script: Script) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        if _DISCOVERY.match(request.path_qs):
            return web.Response(status=404, text="<h1>404 Page Not Found</h1>", content_type="text/html")
        call, body = await _read_call(request)
        script.calls.append(call)
        if script.upstream is not None:
            return await _forward(request, body, script)
        if not script.responses:
            return web.json_response({"status": False, "message": "golden script exhausted"}, status=599)
        answer = script.responses.pop(0)
        if "json" in answer:
            return web.json_response(answer["json"], status=answer.get("status", 200))
        return web.Response(
            text=answer.get("text", ""),
            status=answer.get("status", 200),
            content_type=answer.get("content_type", "text/html"),
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _forward(request: web.Request, body: bytes, script: Script) -> web.StreamResponse:
    assert script.upstream is not None
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authtoken")}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            request.method, script.upstream.rstrip("/") + request.path_qs, data=body or None, headers=headers
        ) as resp,
    ):
        raw = await resp.read()
        answer: dict[str, Any] = {"status": resp.status}
        try:
            answer["json"] = json.loads(raw)
        except ValueError:
            answer["text"] = raw.decode("utf-8", "replace")
            answer["content_type"] = resp.content_type
        script.responses.append(answer)
        return web.Response(body=raw, status=resp.status, content_type=resp.content_type)


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


def gateway_settings(backend_url: str, data_dir: Path, request: dict[str, Any]) -> Settings:
    dialects = {k: DialectSettings(**v) for k, v in (request.get("dialects") or {}).items()}
    return Settings(
        backend=BackendSettings(url=backend_url, token=TOKEN, timeout=10, retries=0),
        clients=(CLIENT,),
        data_dir=data_dir,
        access_log=False,
        dialects=dialects,
    )


async def send(base: str, request: dict[str, Any]) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session:
        kwargs: dict[str, Any] = {
            "params": request.get("query") or None,
            "headers": request.get("headers") or None,
        }
        if "form" in request:
            kwargs["data"] = request["form"]
        if "json" in request:
            kwargs["json"] = request["json"]
        async with session.request(request.get("method", "POST"), base.rstrip("/") + request["path"], **kwargs) as r:
            return r.status, r.content_type, await r.read()


def mask(body: bytes, keys: list[str]) -> bytes:
    text = body.decode("utf-8")
    for key in keys:
        text = re.sub(rf'("{re.escape(key)}"\s*:\s*)("[^"]*"|-?[\d.]+)', r'\1"<masked>"', text)
        text = re.sub(rf"(<{re.escape(key)}>)[^<]*(</{re.escape(key)}>)", r"\1<masked>\2", text)
    return text.encode()


@dataclass
class Outcome:
    status: int
    content_type: str
    body: bytes
    calls: list[dict[str, Any]]
    responses: list[dict[str, Any]]


async def run_case(case: Path, upstream: str | None = None) -> Outcome:
    request = json.loads((case / "request.json").read_text(encoding="utf-8"))
    responses = [] if upstream else json.loads((case / "backend-responses.json").read_text(encoding="utf-8"))
    script = Script(responses=list(responses), upstream=upstream)
    with tempfile.TemporaryDirectory() as tmp:
        async with serve(_scripted_app(script)) as backend_url:
            app = create_app(gateway_settings(backend_url, Path(tmp), request))
            async with serve(app) as gateway_url:
                status, ctype, body = await send(gateway_url, request)
    return Outcome(
        status,
        ctype,
        mask(body, request.get("mask", [])),
        script.calls,
        script.responses if upstream else responses,
    )


def response_file(case: Path) -> Path | None:
    return next((case / n for n in RESPONSE_FILES if (case / n).exists()), None)


def cases(dialect: str | None = None) -> list[Path]:
    pattern = f"{dialect}/*/request.json" if dialect else "*/*/request.json"
    return sorted(p.parent for p in ROOT.glob(pattern))


# ------------------------------------------------------------------ recording


async def record(case: Path) -> None:
    from gateway import pmp_sim

    with tempfile.TemporaryDirectory() as tmp:
        runner, sim_url = await pmp_sim.start_simulator(db_path=Path(tmp) / "sim.sqlite3", token=TOKEN)
        try:
            outcome = await run_case(case, upstream=sim_url)
        finally:
            await runner.cleanup()
    request = json.loads((case / "request.json").read_text(encoding="utf-8"))
    expect = request.setdefault("expect", {})
    expect["status"] = outcome.status
    expect["content_type"] = outcome.content_type
    (case / "request.json").write_text(json.dumps(request, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (case / "backend-calls.json").write_text(
        json.dumps(outcome.calls, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (case / "backend-responses.json").write_text(
        json.dumps(outcome.responses, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    ext = {"application/json": "json", "application/xml": "xml", "text/xml": "xml"}.get(outcome.content_type, "txt")
    for old in RESPONSE_FILES:
        (case / old).unlink(missing_ok=True)
    body = outcome.body
    if ext == "json":
        body = (json.dumps(json.loads(body), indent=2, ensure_ascii=False) + "\n").encode()
    (case / f"response.{ext}").write_bytes(body)
    print(f"recorded {case}: {outcome.status} {len(outcome.calls)} backend calls")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "record":
        print("usage: python -m tests.golden.harness record CASE_DIR...", file=sys.stderr)
        raise SystemExit(2)
    for arg in sys.argv[2:]:
        asyncio.run(record(Path(arg)))
