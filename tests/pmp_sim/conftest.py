"""Fixtures: a PMP simulator on loopback with a fresh SQLite file per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from gateway.pmp_sim import DB_KEY, SimDB, start_simulator

TOKEN = "test-token-abc"


@dataclass
class Sim:
    url: str
    session: aiohttp.ClientSession
    db: SimDB
    db_path: Path

    async def call(self, method: str, path: str, *, token: str | None = TOKEN, **kw: Any) -> tuple[int, Any]:
        headers = {"authtoken": token} if token is not None else {}
        async with self.session.request(method, self.url + path, headers=headers, **kw) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.text()


SimFactory = Callable[..., Awaitable[Sim]]


@pytest_asyncio.fixture
async def make_sim(tmp_path: Path) -> AsyncIterator[SimFactory]:
    runners: list[aiohttp.web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def factory(
        *, record_id: bool = False, seed_demo: bool = True, name: str = "pmp.sqlite3", module: int = 2, **kw: Any
    ) -> Sim:
        # The older tests describe seed 003's generation (module 2); 3.x tests ask for module=3.
        db_path = tmp_path / name
        runner, url = await start_simulator(
            db_path=db_path, token=TOKEN, record_id=record_id, seed_demo=seed_demo, module=module, **kw
        )
        runners.append(runner)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Sim(url, session, runner.app[DB_KEY], db_path)

    yield factory
    for session in sessions:
        await session.close()
    for runner in runners:
        await runner.cleanup()


@pytest_asyncio.fixture
async def sim(make_sim: SimFactory) -> Sim:
    return await make_sim()


@pytest_asyncio.fixture
async def sim3(make_sim: SimFactory) -> Sim:
    """A module 3.x simulator with the demo data and the demo allowlist."""
    return await make_sim(module=3, name="pmp3.sqlite3")


def assert_php_row(row: Any) -> None:
    """Every value of a record is a string or null."""
    assert isinstance(row, dict)
    for key, value in row.items():
        assert isinstance(key, str)
        assert value is None or isinstance(value, str), (key, value)
