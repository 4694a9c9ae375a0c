"""The migration's batching and pacing units: checkpoints committed together, a ticket's message
rows found by key range, and a wait one worker is told about held for the whole pool."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.errors import RateLimited
from gateway.migrate import politeness
from gateway.migrate.journal import Entry, SQLiteJournal
from tests.migrate.test_journal import journal, journal_url  # noqa: F401  (fixtures, both stores)
from tests.migrate.test_units import FakeClock
from tests.store.conftest import pg_server  # noqa: F401  (fixture)


async def test_put_many_commits_checkpoints_together(journal: SQLiteJournal) -> None:  # noqa: F811
    rows = [Entry("reply", f"7:{i}", None, "pending", f"h{i}", "", '{"ticket": 70}') for i in range(3)]
    await journal.put_many([Entry("ticket", "7", "70", "done", "t", "fp"), *rows])
    await journal.put_many([])  # nothing to commit is no error
    assert (await journal.get("ticket", "7")) == Entry("ticket", "7", "70", "done", "t", "fp")
    assert [e.source_id for e in await journal.entries("reply", "7:")] == ["7:0", "7:1", "7:2"]
    # later rows of one batch win (a ticket's done row, then its refreshed fingerprint)
    await journal.put_many([Entry("ticket", "7", "70", "done", "t", "a"), Entry("ticket", "7", "70", "done", "t", "b")])
    entry = await journal.get("ticket", "7")
    assert entry is not None and entry.target_fp == "b"


async def test_a_ticket_prefix_never_reaches_another_tickets_messages(journal: SQLiteJournal) -> None:  # noqa: F811
    for key in ("1:5", "1:50", "10:1", "11:2", "1", "2:1"):
        await journal.put(Entry("reply", key, None, "done", "h"))
    assert [e.source_id for e in await journal.entries("reply", "1:")] == ["1:5", "1:50"]
    assert [e.source_id for e in await journal.entries("reply", "10:")] == ["10:1"]
    assert len(await journal.entries("reply")) == 6


async def test_put_many_is_all_or_nothing(tmp_path: Path) -> None:
    j = SQLiteJournal(tmp_path / "s.sqlite3")
    good = Entry("reply", "1:1", None, "pending", "h")
    bad = Entry("reply", None, None, "pending", "h")  # type: ignore[arg-type]  # NOT NULL violated
    with pytest.raises(sqlite3.IntegrityError):
        await j.put_many([good, bad])
    assert await j.get("reply", "1:1") is None
    await j.close()


async def test_a_wait_one_worker_hears_of_holds_every_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(politeness.asyncio, "sleep", clock.sleep)  # type: ignore[attr-defined]
    bucket = politeness.TokenBucket(0.0, clock=clock)  # no rate limit: only the hold paces
    failures: list[Exception] = [RateLimited("slow down", retry_after=3.0)]

    async def call() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    assert await politeness.with_retries(call, on_wait=bucket.hold) == "ok"
    assert clock.slept == [3.0]
    # the same moment seen by another worker: the hold has passed with the first worker's wait
    await bucket.take()
    assert clock.slept == [3.0]
    bucket.hold(2.5)
    await bucket.take()  # another worker's next call waits out the hold
    assert clock.slept == [3.0, 2.5]
