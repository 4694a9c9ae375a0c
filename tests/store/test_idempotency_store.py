"""Idempotency records in the store: the same contract on SQLite and on a real PostgreSQL.

Two stores opened on one database stand for two gateway processes or replicas: a key
claimed through one is held for the other, and its answer replays through both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from gateway.store import IdempotentAnswer, Store, open_store

Opener = Callable[[], Awaitable[Store]]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "store" / "gateway.sqlite3")


@pytest.fixture
async def opener(store_url: str) -> AsyncIterator[Opener]:
    opened: list[Store] = []

    async def open_one() -> Store:
        store = await open_store(store_url)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


async def test_a_key_is_claimed_once_and_its_answer_kept(opener: Opener) -> None:
    one, two = await opener(), await opener()
    assert await one.idem_claim("pmp ops /perfex/api/tickets", "k")
    assert not await two.idem_claim("pmp ops /perfex/api/tickets", "k")
    running = await two.idem_get("pmp ops /perfex/api/tickets", "k")
    assert running is not None and running.status is None
    answer = IdempotentAnswer(200, b'{"status": true, "record_id": 7}', {"Content-Type": "application/json"})
    await one.idem_finish("pmp ops /perfex/api/tickets", "k", answer)
    assert await two.idem_get("pmp ops /perfex/api/tickets", "k") == answer
    # another scope (credential, path) is another key
    assert await two.idem_claim("pmp other /perfex/api/tickets", "k")


async def test_a_released_key_can_be_claimed_again_but_a_finished_one_stays(opener: Opener) -> None:
    store = await opener()
    assert await store.idem_claim("s", "k")
    await store.idem_release("s", "k")
    assert await store.idem_get("s", "k") is None
    assert await store.idem_claim("s", "k")
    await store.idem_finish("s", "k", IdempotentAnswer(201, b"{}", {}))
    await store.idem_release("s", "k")  # a finished answer is never given back
    assert (await store.idem_get("s", "k")) == IdempotentAnswer(201, b"{}", {})


async def test_concurrent_claims_have_one_winner(opener: Opener) -> None:
    stores = [await opener() for _ in range(3)]
    wins = await asyncio.gather(*(s.idem_claim("s", "race") for s in stores for _ in range(5)))
    assert wins.count(True) == 1
