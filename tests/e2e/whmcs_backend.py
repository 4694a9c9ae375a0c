"""A gateway in front of the embedded WHMCS simulator (``--backend-kind whmcs``), both on loopback
ports, and a way to ask the simulator itself the same thing (the identity tests compare the two)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from gateway.settings import BackendSettings, ClientCredential, Settings
from tests.conftest import WHMCS_AUTH, Gateway, start_gateway

SIM_ID = "whmcs-api-id"
SIM_SECRET = "whmcs-api-secret"
API = "/includes/api.php"
FIXTURE = Path(__file__).resolve().parent.parent / "whmcs_sim" / "demo_fixture.yaml"


def demo() -> Any:
    """The shared demo data when it is packaged (gateway.demo), else the simulator tests' copy of it."""
    try:
        importlib.import_module("gateway.demo")
    except ImportError:
        if not FIXTURE.is_file():
            pytest.skip("no WHMCS demo data (gateway.demo or tests/whmcs_sim/demo_fixture.yaml)")
        return yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    return None  # the simulator's default: gateway.demo


@dataclass
class WhmcsPair:
    """The simulator (``sim_url``) and a gateway in front of it (``gateway``)."""

    sim_url: str
    sim: web.AppRunner
    gateway: Gateway

    async def direct(self, action: str, fmt: str = "json", **params: Any) -> tuple[int, Any]:
        """The same call sent to the simulator itself, with the gateway's backend credential."""
        data = {"action": action, "identifier": SIM_ID, "secret": SIM_SECRET, "responsetype": fmt, **params}
        async with self.gateway.session.post(self.sim_url.rstrip("/") + API, data=data) as resp:
            return resp.status, (await resp.json(content_type=None)) if fmt == "json" else await resp.text()

    async def through(self, action: str, fmt: str = "json", **params: Any) -> tuple[int, Any]:
        return await self.gateway.whmcs(action, fmt, **params)


async def start_pair(tmp_path: Path, token: str | None = None, **sim_options: Any) -> AsyncIterator[WhmcsPair]:
    """``token``: the gateway's backend credential (default: the simulator's own)."""
    sim_module = pytest.importorskip("gateway.whmcs_sim")
    runner, sim_url = await sim_module.start_simulator(
        db_path=tmp_path / "whmcs-sim.sqlite3", identifier=SIM_ID, secret=SIM_SECRET, demo=demo(), **sim_options
    )
    settings = Settings(
        data_dir=tmp_path,
        access_log=False,
        backend=BackendSettings(kind="whmcs", url=sim_url, token=token or f"{SIM_ID}:{SIM_SECRET}"),
        clients=(ClientCredential(identifier=WHMCS_AUTH["identifier"], secret=WHMCS_AUTH["secret"]),),
    )
    gw_runner, url = await start_gateway(settings)
    try:
        async with aiohttp.ClientSession() as session:
            yield WhmcsPair(sim_url, runner, Gateway(url, gw_runner.app, session, tmp_path))
    finally:
        await gw_runner.cleanup()
        await runner.cleanup()
