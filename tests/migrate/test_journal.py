"""The journal on SQLite and PostgreSQL, and the legacy id map built on it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.errors import NotFound
from gateway.migrate.journal import Entry, Journal, PostgresJournal, SQLiteJournal, open_journal
from gateway.migrate.legacy import IdMap
from tests.store.conftest import pg_server  # noqa: F401  (fixture)


@pytest.fixture(params=["sqlite", "postgres"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite3")
    url: str = request.getfixturevalue("pg_server").url()
    return url


@pytest_asyncio.fixture
async def journal(journal_url: str) -> AsyncIterator[Journal]:
    if journal_url.startswith("postgresql://"):
        fresh = await PostgresJournal.connect(journal_url)
        await fresh._pool.execute("DROP TABLE IF EXISTS migrate_map, migrate_meta, legacy_ids")
        await fresh.close()
        j: Journal = await PostgresJournal.connect(journal_url)
    else:
        j = SQLiteJournal(journal_url)
    yield j
    await j.close()


async def test_entries_round_trip_under_a_unique_key(journal: Journal) -> None:
    await journal.put(Entry("ticket", "7", None, "pending", "h1", "", json.dumps({"subject": "s"})))
    pending = await journal.get("ticket", "7")
    assert pending is not None and not pending.done
    await journal.put(Entry("ticket", "7", "107", "done", "h1", "fp"))
    done = await journal.get("ticket", "7")
    assert done == Entry("ticket", "7", "107", "done", "h1", "fp", "")
    assert await journal.by_target("ticket", "107") == done
    assert await journal.get("customer", "7") is None
    await journal.put(Entry("reply", "7:1", None, "done", "m"))
    await journal.put(Entry("reply", "7:2", None, "done", "m"))
    await journal.put(Entry("reply", "70:1", None, "done", "m"))
    assert [e.source_id for e in await journal.entries("reply", "7:")] == ["7:1", "7:2"]
    assert await journal.max_source_id("ticket") == 7
    assert await journal.done_pairs("ticket") == [("7", "107")]


async def test_meta_and_allocations_above_the_floor(journal: Journal) -> None:
    assert await journal.meta("target_kind") is None
    await journal.set_meta("target_kind", "pmp")
    await journal.set_meta("target_kind", "whmcs")
    assert await journal.meta("target_kind") == "whmcs"
    first = await journal.allocate("ticket", "100", floor=6)
    second = await journal.allocate("ticket", "101", floor=6)
    assert (first, second) == (7, 8)
    assert await journal.allocate("ticket", "100", floor=6) == 7  # stable
    assert await journal.allocate("customer", "50", floor=3) == 4  # per kind
    many = await asyncio.gather(*(journal.allocate("contact", str(i), floor=10) for i in range(20)))
    assert sorted(many) == list(range(11, 31))


async def test_a_read_only_journal_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nothing.sqlite3"
    journal = await open_journal(str(path), read_only=True)
    assert await journal.get("ticket", "1") is None
    with pytest.raises(RuntimeError):
        await journal.put(Entry("ticket", "1", "2", "done"))
    await journal.close()
    assert not path.exists()


async def test_id_map_shows_source_ids_and_allocates_for_target_only_records(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "store.sqlite3")
    hint = json.dumps({"number": "ABC-123", "key": "k3y"})
    await journal.put(Entry("ticket", "3", "103", "done", "h", "f", hint))
    await journal.put(Entry("ticket", "5", "105", "done", "h", "f"))
    await journal.set_meta("max_source_id:ticket", "9")
    await journal.set_meta("departments", json.dumps({"1": 4, "2": 4}))
    ids = IdMap(journal)
    await ids.load()
    assert await ids.shown("ticket", 103) == 3
    assert await ids.target("ticket", 3) == 103
    assert await ids.ticket_by_number("ABC-123") == 3
    assert ids.label(3) == ("ABC-123", "k3y")
    assert ids.label(5) == ("5", "")
    native = await ids.shown("ticket", 1)  # a target-only ticket whose raw id is a source id
    assert native == 10  # above the source's highest ticket id
    assert await ids.target("ticket", 10) == 1
    with pytest.raises(NotFound):
        await ids.target("ticket", 1)  # source id 1 was never migrated
    assert await ids.shown("department", 4) == 1  # two source departments on one target: the first
    assert await ids.target("department", 2) == 4
    assert await ids.shown("customer", 0) == 0
    await journal.close()
