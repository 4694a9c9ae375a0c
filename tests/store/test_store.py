"""The id store: the same contract on SQLite and on a real PostgreSQL server.

``opener`` opens a new store on the same backing database each time it is
called: two stores from one opener stand for two gateway processes (SQLite,
``--workers``) or two replicas (PostgreSQL) sharing the store.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from gateway.settings import BackendSettings, ClientCredential, Settings, SettingsError
from gateway.store import SQLiteStore, Store, open_store

Opener = Callable[[], Awaitable[Store]]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "store" / "gateway.sqlite3")


@pytest.fixture
async def opener(store_url: str) -> AsyncIterator[Opener]:
    url = store_url
    opened: list[Store] = []

    async def open_one() -> Store:
        store = await open_store(url)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


# ------------------------------------------------------------------ contract, both backends


async def test_links_round_trip(opener: Opener) -> None:
    store = await opener()
    assert await store.id_for("ticket", "ABC-1") is None
    assert await store.numbers_for("ticket", [1, 2]) == {}
    await store.link("ticket", "ABC-1", 7)
    await store.link("ticket", "ABC-2", 8)
    await store.link("client", "ABC-1", 99)  # kinds are separate namespaces
    assert await store.id_for("ticket", "ABC-1") == 7
    assert await store.id_for("client", "ABC-1") == 99
    assert await store.numbers_for("ticket", [7, 8, 9]) == {7: "ABC-1", 8: "ABC-2"}
    assert await store.numbers_for("ticket", []) == {}
    assert await store.numbers_for("ticket", iter([8])) == {8: "ABC-2"}


async def test_link_replaces_on_number_and_on_backend_id(opener: Opener) -> None:
    store = await opener()
    await store.link("ticket", "OLD-1", 7)
    await store.link("ticket", "NEW-1", 7)  # renumber backend record 7
    assert await store.id_for("ticket", "OLD-1") is None
    assert await store.numbers_for("ticket", [7]) == {7: "NEW-1"}
    await store.link("ticket", "NEW-1", 8)  # the number now points elsewhere
    assert await store.id_for("ticket", "NEW-1") == 8
    assert await store.numbers_for("ticket", [7, 8]) == {8: "NEW-1"}
    await store.link("ticket", "NEW-1", 8)  # idempotent
    assert await store.numbers_for("ticket", [8]) == {8: "NEW-1"}


async def test_claim_once(opener: Opener) -> None:
    store = await opener()
    assert await store.claim("ticket", 41) is True
    assert await store.claim("ticket", 41) is False
    assert await store.claim("contact", 41) is True


async def test_claims_unique_under_concurrent_tasks(opener: Opener) -> None:
    first, second = await opener(), await opener()
    ids = range(1, 21)
    racers = (first, second, first, second)
    results = await asyncio.gather(*(s.claim("ticket", i) for i in ids for s in racers))
    won = [r for r in results if r]
    assert len(won) == len(ids)  # each id claimed exactly once across both stores


async def test_persists_across_reopen(opener: Opener) -> None:
    store = await opener()
    await store.link("ticket", "KEEP-1", 5)
    assert await store.claim("ticket", 5)
    await store.close()
    again = await opener()
    assert await again.id_for("ticket", "KEEP-1") == 5
    assert await again.numbers_for("ticket", [5]) == {5: "KEEP-1"}
    assert await again.claim("ticket", 5) is False


async def test_link_seen_by_a_store_opened_before_it(opener: Opener, store_url: str) -> None:
    reader, writer = await opener(), await opener()
    assert await reader.id_for("ticket", "LATE-1") is None
    await writer.link("ticket", "LATE-1", 12)
    assert await reader.numbers_for("ticket", [12]) == {12: "LATE-1"}
    assert await reader.id_for("ticket", "LATE-1") == 12


async def test_concurrent_links_of_one_pair(opener: Opener) -> None:
    first, second = await opener(), await opener()
    await asyncio.gather(*(s.link("ticket", "RACE-1", 3) for _ in range(10) for s in (first, second)))
    assert await first.numbers_for("ticket", [3]) == {3: "RACE-1"}


# ------------------------------------------------------------------ SQLite specifics


def test_sqlite_claims_unique_under_threads(tmp_path: Path) -> None:
    """Several processes' worth of connections on one file, claiming the same ids at once."""
    path = tmp_path / "gateway.sqlite3"
    SQLiteStore(path)  # create the schema before the race
    wins: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def worker() -> None:
        store = SQLiteStore(path)

        async def run() -> list[int]:
            return [i for i in range(50) if await store.claim("ticket", i)]

        barrier.wait()
        mine = asyncio.run(run())
        asyncio.run(store.close())
        with lock:
            wins.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == list(range(50))


async def test_open_store_picks_by_scheme(tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "a" / "s.sqlite3"))
    assert isinstance(store, SQLiteStore)
    await store.close()
    assert (tmp_path / "a" / "s.sqlite3").exists()


async def test_postgres_url_without_asyncpg_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # import asyncpg -> ImportError
    with pytest.raises(SettingsError, match=r"helpdesk-gateway\[postgres\]"):
        await open_store("postgresql://gateway@127.0.0.1:1/gateway")


def test_redact_url() -> None:
    from gateway.store_pg import redact_url

    assert redact_url("postgresql://gw:s3cr%40t@db:5432/gw") == "postgresql://gw:***@db:5432/gw"
    assert redact_url("postgresql://gw@db/gw") == "postgresql://gw@db/gw"


async def test_postgres_unreachable_is_a_clear_error_without_password() -> None:
    pytest.importorskip("asyncpg", reason="asyncpg not installed: pip install -e '.[postgres]'")
    from gateway.store_pg import PostgresStore, StoreUnavailable

    with pytest.raises(StoreUnavailable) as info:
        await PostgresStore.connect("postgresql://gw:topsecret@127.0.0.1:1/gw", wait=0.3)
    assert "topsecret" not in str(info.value) and "127.0.0.1:1" in str(info.value)


# ------------------------------------------------------------------ PostgreSQL specifics


async def test_pg_migration_idempotent_and_safe_when_replicas_start_together(pg_url: str) -> None:
    import asyncpg

    from gateway.store_pg import SCHEMA_VERSION, PostgresStore

    stores = await asyncio.gather(*(PostgresStore.connect(pg_url, max_size=2) for _ in range(6)))
    try:
        conn = await asyncpg.connect(pg_url)
        try:
            rows = await conn.fetch("SELECT version FROM schema_version ORDER BY 1")
            versions = [r["version"] for r in rows]
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = {r["tablename"] for r in rows}
        finally:
            await conn.close()
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        assert {"links", "claims", "schema_version"} <= tables
    finally:
        for s in stores:
            await s.close()


async def test_pg_refuses_a_newer_schema(pg_url: str) -> None:
    import asyncpg

    from gateway.store_pg import SCHEMA_VERSION, PostgresStore, StoreUnavailable

    await (await PostgresStore.connect(pg_url)).close()  # migrate once
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", SCHEMA_VERSION + 1)
    finally:
        await conn.close()
    with pytest.raises(StoreUnavailable, match="newer"):
        await PostgresStore.connect(pg_url)


# ------------------------------------------------------------------ two replicas, one PostgreSQL


async def test_ticket_opened_on_one_replica_reads_back_on_another(pg_url: str, tmp_path: Path) -> None:
    import gateway.app
    from gateway import pmp_sim
    from gateway.store_pg import PostgresStore
    from tests.conftest import start_gateway

    if not hasattr(gateway.app, "open_store"):
        pytest.skip("gateway.app does not open its store with gateway.store.open_store yet")

    sim_runner, sim_url = await pmp_sim.start_simulator(
        "127.0.0.1", 0, db_path=tmp_path / "pmp-sim.sqlite3", token="replica-test-token"
    )
    runners = []
    try:
        for name in ("a", "b"):
            settings = Settings(
                data_dir=tmp_path / name,
                store=pg_url,
                access_log=False,
                backend=BackendSettings(url=sim_url, token="replica-test-token"),
                clients=(ClientCredential(identifier="a", secret="b"),),
            )
            runners.append(await start_gateway(settings))
        (_, url_a), (_, url_b) = runners

        async with aiohttp.ClientSession() as http:

            async def whmcs(base: str, action: str, **params: str) -> dict[str, str]:
                data = {"action": action, "identifier": "a", "secret": "b", "responsetype": "json", **params}
                async with http.post(base + "/includes/api.php", data=data) as resp:
                    body = await resp.json(content_type=None)
                assert resp.status == 200 and body["result"] == "success", body
                return dict(body)

            async def open_ticket(base: str, n: int) -> dict[str, str]:
                return await whmcs(
                    base, "OpenTicket", deptid="1", clientid="1", subject=f"replica test {n}", message="Printer on fire"
                )

            opened = await open_ticket(url_a, 0)
            ticket_id, tid, c = str(opened["id"]), str(opened["tid"]), str(opened["c"])
            assert tid == ticket_id and len(c) == 8

            seen = await whmcs(url_b, "GetTicket", ticketnum=tid)
            assert (seen["ticketid"], seen["tid"], seen["c"]) == (ticket_id, tid, c)

            # a number imported from the old vendor, linked once, shows on every replica
            linker = await PostgresStore.connect(pg_url)
            try:
                await linker.link("ticket", "ABC-123", int(ticket_id))
            finally:
                await linker.close()
            for base in (url_b, url_a):
                seen = await whmcs(base, "GetTicket", ticketnum="ABC-123")
                assert (seen["ticketid"], seen["tid"], seen["c"]) == (ticket_id, "ABC-123", c)
                listed = await whmcs(base, "GetTickets", limitnum="100")
                tids = {t["id"]: t["tid"] for t in listed["tickets"]["ticket"]}  # type: ignore[index]
                assert str(tids[ticket_id]) == "ABC-123"

            # creates racing on both replicas each report a record of their own (claims in PG)
            many = await asyncio.gather(*(open_ticket(url, n) for n in range(1, 4) for url in (url_a, url_b)))
            ids = [str(t["id"]) for t in many]
            assert len(set(ids)) == len(ids) and ticket_id not in ids
    finally:
        for runner, _ in runners:
            await runner.cleanup()
        await sim_runner.cleanup()
