"""Fixtures: the WHMCS simulator on a loopback port, a fresh SQLite file per test, seeded from
this folder's demo fixture (the shared demo file's schema)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
import yaml
from aiohttp import web
from defusedxml import ElementTree

from gateway.whmcs_sim import DB_KEY, STATS_KEY, SimDB, SimStats, start_simulator

IDENT = "test-ident"
SECRET = "test-secret-xyz"
AUTH = {"identifier": IDENT, "secret": SECRET}
FIXTURE = Path(__file__).with_name("demo_fixture.yaml")


def demo_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    return data


@dataclass
class Sim:
    url: str
    runner: web.AppRunner
    session: aiohttp.ClientSession

    @property
    def api(self) -> str:
        return self.url + "includes/api.php"

    @property
    def db(self) -> SimDB:
        return self.runner.app[DB_KEY]

    @property
    def stats(self) -> SimStats:
        return self.runner.app[STATS_KEY]

    async def raw(
        self,
        action: str | None,
        *,
        auth: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        **params: Any,
    ) -> tuple[int, str, str]:
        """POST the form; return (HTTP status, content type, body text)."""
        data = {**(AUTH if auth is None else auth), **{k: str(v) for k, v in params.items()}}
        if action is not None:
            data["action"] = action
        async with self.session.post(self.api, data=data, params=query or {}) as resp:
            return resp.status, resp.content_type, await resp.text()

    async def json(self, action: str, *, auth: dict[str, str] | None = None, **params: Any) -> tuple[int, Any]:
        async with self.session.post(
            self.api,
            data={**(AUTH if auth is None else auth), "action": action, "responsetype": "json", **params},
        ) as resp:
            assert resp.content_type == "application/json"
            return resp.status, await resp.json()

    async def ok(self, action: str, **params: Any) -> Any:
        status, body = await self.json(action, **{k: str(v) for k, v in params.items()})
        assert status == 200 and body["result"] == "success", body
        return body

    async def error(self, action: str, **params: Any) -> str:
        status, body = await self.json(action, **{k: str(v) for k, v in params.items()})
        assert status == 200 and set(body) == {"result", "message"} and body["result"] == "error", body
        return str(body["message"])


SimFactory = Callable[..., Awaitable[Sim]]


@pytest_asyncio.fixture
async def make_sim(tmp_path: Path) -> AsyncIterator[SimFactory]:
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def factory(name: str = "whmcs.sqlite3", **options: Any) -> Sim:
        options.setdefault("demo", demo_data())  # demo=None: the shared gateway/demo data
        runner, url = await start_simulator(db_path=tmp_path / name, identifier=IDENT, secret=SECRET, **options)
        runners.append(runner)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Sim(url, runner, session)

    yield factory
    for session in sessions:
        await session.close()
    for runner in runners:
        await runner.cleanup()


@pytest_asyncio.fixture
async def sim(make_sim: SimFactory) -> Sim:
    return await make_sim()


def parse_xml(text: str) -> Any:
    return ElementTree.fromstring(text.encode())


def parse_nvp(text: str) -> dict[str, str]:
    assert text.endswith(";"), text
    return dict(part.split("=", 1) for part in text[:-1].split(";"))
