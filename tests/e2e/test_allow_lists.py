"""Per-credential allow-lists (actions, client networks) and rate limits, as WHMCS clients meet them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.settings import ClientCredential, LimitSettings, Settings
from tests.conftest import Gateway, start_gateway


async def _gateway(tmp_path: Path, **kw: object) -> AsyncIterator[Gateway]:
    settings = Settings(data_dir=tmp_path, access_log=False, **kw)
    runner, url = await start_gateway(settings)
    async with aiohttp.ClientSession() as session:
        yield Gateway(url, runner.app, session, tmp_path)
    await runner.cleanup()


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Gateway]:
    clients = (
        ClientCredential(identifier="reader", secret="r-secret", actions=("GetTicket", "get_tickets")),
        ClientCredential(identifier="faraway", secret="f-secret", networks=("10.0.0.0/8",)),
        ClientCredential(identifier="local", secret="l-secret", networks=("127.0.0.0/8", "::1/128")),
    )
    async for gw in _gateway(tmp_path, clients=clients, limits=LimitSettings(rate_per_second=0.01, rate_burst=3)):
        yield gw


async def _call(gw: Gateway, ident: str, secret: str, action: str, **params: str) -> tuple[int, dict[str, str]]:
    data = {"action": action, "identifier": ident, "secret": secret, "responsetype": "json", **params}
    async with gw.session.post(gw.url + "/includes/api.php", data=data) as r:
        return r.status, await r.json(content_type=None)


async def test_action_allow_list(limited: Gateway) -> None:
    assert (await _call(limited, "reader", "r-secret", "GetTicket", ticketid="1"))[1]["result"] == "success"
    before = limited.backend_calls
    status, body = await _call(limited, "reader", "r-secret", "DeleteTicket", ticketid="1")
    assert status == 403
    assert body == {"result": "error", "message": 'Invalid Permissions: API action "deleteticket" is not allowed'}
    assert limited.backend_calls == before
    assert limited.sim.get_ticket(1) is not None


async def test_network_allow_list(limited: Gateway) -> None:
    status, body = await _call(limited, "faraway", "f-secret", "GetTicket", ticketid="1")
    assert status == 403 and body["message"].startswith("Invalid IP 127.0.0.1")
    assert (await _call(limited, "local", "l-secret", "GetTicket", ticketid="1"))[1]["result"] == "success"


async def test_rate_limit_per_credential(limited: Gateway) -> None:
    results = [await _call(limited, "local", "l-secret", "GetTicket", ticketid="1") for _ in range(5)]
    assert [b["result"] for _, b in results[:3]] == ["success"] * 3
    assert results[3][0] == 200 and results[3][1]["result"] == "error"
    assert "rate limit" in results[3][1]["message"].lower()
    # another credential has its own bucket
    assert (await _call(limited, "reader", "r-secret", "GetTicket", ticketid="1"))[1]["result"] == "success"
