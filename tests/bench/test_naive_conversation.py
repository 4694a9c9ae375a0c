"""bench/naive_conversation.py stays equivalent to the gateway on the conversation backend
(bench/conversation.py): the same WHMCS GetTicket (replies, notes, staff names) and, once
warm, the same backend calls per request, so bench.run's conversation section compares equal
work.  Real servers on loopback ports: the static backend, the gateway and the naive one."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bench import conversation as conv
from bench import naive_conversation
from gateway.settings import BackendSettings, ClientCredential, Settings
from tests.conftest import start_gateway

FORM = {"action": "GetTicket", "ticketid": "1", "identifier": "bench", "secret": "bench-secret", "responsetype": "json"}


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[tuple[list[str], str, str]]:
    """(the backend's call log, the gateway's URL, the naive translation's URL)."""
    calls: list[str] = []
    backend, backend_url = await _serve(conv.make_app(calls))
    settings = Settings(
        data_dir=tmp_path,
        access_log=False,
        clients=(ClientCredential(identifier="bench", secret="bench-secret"),),
        backend=BackendSettings(url=backend_url + "/", token="x"),
    )
    gateway, gateway_url = await start_gateway(settings)
    ns = argparse.Namespace(backend_url=backend_url + "/", backend_token="x")
    naive, naive_url = await _serve(naive_conversation.make_app(ns))
    try:
        yield calls, gateway_url, naive_url
    finally:
        await naive.cleanup()
        await gateway.cleanup()
        await backend.cleanup()


async def _get_ticket(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.post(url + "/includes/api.php", data=FORM) as resp:
        assert resp.status == 200
        return await resp.json(content_type=None)


async def test_naive_answer_equals_the_gateways(servers: tuple[list[str], str, str]) -> None:
    _, gateway_url, naive_url = servers
    async with aiohttp.ClientSession() as session:
        ours = await _get_ticket(session, gateway_url)
        theirs = await _get_ticket(session, naive_url)
    assert ours["result"] == "success"
    replies, notes = ours["replies"]["reply"], ours["notes"]["note"]
    # the opening message and the ticket's five replies, staff and customers' names resolved
    assert [r["replyid"] for r in replies] == [str(i) for i in range(conv.REPLIES + 1)]
    assert {r["admin"] for r in replies} >= {"Alice Admin", "Bob Builder"}
    assert [n["admin"] for n in notes] == ["Alice Admin", "Bob Builder"]
    assert theirs == ours


async def test_both_make_the_same_calls_once_warm(servers: tuple[list[str], str, str]) -> None:
    calls, gateway_url, naive_url = servers
    seen: dict[str, list[str]] = {}
    async with aiohttp.ClientSession() as session:
        for name, url in (("gateway", gateway_url), ("naive", naive_url)):
            await _get_ticket(session, url)  # the first fills the caches (reply table, staff, contacts)
            calls.clear()
            for _ in range(3):
                await _get_ticket(session, url)
            seen[name] = list(calls)
    assert seen["gateway"] == list(conv.PER_REQUEST) * 3
    assert seen["naive"] == seen["gateway"]
