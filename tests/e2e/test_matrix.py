"""The matrix: every dialect in front of every backend (PMP, WHMCS), a read, a write and an error
per cell, through real sockets.  The cases are data (tests/e2e/data/matrix.yaml)."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import aiohttp
import pytest
import yaml

from gateway.app import STATE, dialect_classes
from gateway.backends.base import Backend
from gateway.settings import Settings
from tests.conftest import Gateway, start_gateway
from tests.e2e.whmcs_backend import start_pair

MATRIX: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "data" / "matrix.yaml").read_text(encoding="utf-8")
)
BACKENDS = ("pmp", "whmcs")
CELLS = [
    (dialect, backend, step)
    for (dialect, steps), backend in itertools.product(MATRIX.items(), BACKENDS)
    for step in ("read", "write", "error")
    if step in steps
]


@pytest.fixture
async def on_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    if request.param == "pmp":  # the embedded PMP simulator
        runner, url = await start_gateway(Settings(data_dir=tmp_path, access_log=False))
        try:
            async with aiohttp.ClientSession() as session:
                yield Gateway(url, runner.app, session, tmp_path)
        finally:
            await runner.cleanup()
        return
    async for pair in start_pair(tmp_path):
        yield pair.gateway


def backend_of(gw: Gateway) -> Backend:
    runtime = gw.app[STATE].runtime
    assert runtime is not None
    return runtime.service.backend


async def placeholders(gw: Gateway) -> dict[str, str]:
    backend = backend_of(gw)
    ticket = await backend.get_ticket(1)
    department = (await backend.list_departments())[0]
    client = next(t.customer_id for t in await backend.list_tickets() if t.customer_id)
    contacts = await backend.list_contacts(client)
    contact = next((ct.id for ct in contacts if ct.is_primary), contacts[0].id if contacts else 0)
    return {
        "id": str(ticket.id),
        "number": ticket.number or str(ticket.id),
        "subject": ticket.subject,
        "message": ticket.message,
        "dept": str(department.id),
        "client": str(client),
        "contact": str(contact),
        "new_subject": f"Matrix {uuid.uuid4().hex[:10]}",
    }


def fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], value)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    return value


def dig(body: Any, path: str) -> Any:
    for part in path.split("."):
        body = body[int(part)] if isinstance(body, list) else body.get(part) if isinstance(body, dict) else None
    return body


async def send(gw: Gateway, request: dict[str, Any]) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": request.get("headers", {}), "params": request.get("query")}
    if "form" in request:
        kwargs["data"] = request["form"]
    if "json" in request:
        kwargs["json"] = request["json"]
    async with gw.session.request(request["method"], gw.url + request["path"], **kwargs) as resp:
        return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize(
    ("dialect", "on_backend", "step"), CELLS, indirect=["on_backend"], ids=["-".join(c) for c in CELLS]
)
async def test_cell(dialect: str, on_backend: Gateway, step: str) -> None:
    if dialect not in dialect_classes():
        pytest.skip(f"the {dialect} dialect is not in this build")
    gw = on_backend
    values = await placeholders(gw)
    case = fill(MATRIX[dialect][step], values)
    status, body = await send(gw, case["request"])
    expect = case["expect"]
    assert status == expect["status"], body
    for path, wanted in expect.get("json", {}).items():
        got = dig(body, path)
        if expect.get("decode") == "url" and isinstance(got, str):
            got = unquote_plus(got)
        if wanted == "*":
            assert got not in (None, "", [], {}), (path, body)
        else:
            assert got == wanted, (path, body)
    if step == "write":
        made = [t for t in await backend_of(gw).list_tickets() if t.subject == values["new_subject"]]
        assert len(made) == 1, "a write through the gateway lands exactly once"
