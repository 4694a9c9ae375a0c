"""Shared fixtures: a real gateway on a loopback port in front of the embedded PMP simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.app import STATE, create_app, shape_protocol_error
from gateway.pmp_sim import STATS_KEY, SimDB
from gateway.server import GatewayRunner
from gateway.settings import ClientCredential, Settings

WHMCS_AUTH = {"identifier": "demo", "secret": "demo-secret"}


@dataclass
class Gateway:
    url: str
    app: web.Application
    session: aiohttp.ClientSession
    data_dir: Path

    @property
    def sim(self) -> SimDB:
        return SimDB(self.data_dir / "pmp-sim.sqlite3", seed_demo=False)

    async def whmcs(self, action: str, fmt: str | None = "json", **params: Any) -> tuple[int, Any]:
        data = {"action": action, **WHMCS_AUTH, **params}
        if fmt:
            data["responsetype"] = fmt
        async with self.session.post(self.url + "/includes/api.php", data=data) as resp:
            if fmt == "json":
                return resp.status, await resp.json(content_type=None)
            return resp.status, await resp.text()

    @property
    def backend_calls(self) -> int:
        """Requests that reached the embedded simulator so far."""
        runner = self.app[STATE].sim_runner
        assert runner is not None
        return runner.app[STATS_KEY].requests


async def start_gateway(settings: Settings) -> tuple[web.AppRunner, str]:
    app = create_app(settings)
    runner = GatewayRunner(app, access_log=None, shape_error=shape_protocol_error(app))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = Settings(
        data_dir=tmp_path,
        access_log=False,
        clients=(ClientCredential(identifier="ops", secret="ops-secret"),),
    )
    runner, url = await start_gateway(settings)
    async with aiohttp.ClientSession() as session:
        yield Gateway(url, runner.app, session, tmp_path)
    await runner.cleanup()
