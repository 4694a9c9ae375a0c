"""SQLiteStore.numbers_for's unlocked answer for a link-free store, against the locked check and
the links table itself: the same numbers, another connection's link within the same second."""

from __future__ import annotations

from pathlib import Path

from gateway.store import SQLiteStore


def _truth(store: SQLiteStore, kind: str, ids: list[int]) -> dict[int, str]:
    """What the links table holds, asked directly."""
    with store._lock:
        rows = store._db.execute("SELECT backend_id, number FROM links WHERE kind = ?", (kind,)).fetchall()
    return {int(i): str(n) for i, n in rows if int(i) in ids}


def _a_second_later(store: SQLiteStore) -> None:
    store._checked_at -= 1.0  # (what the clock moving on does)


async def test_a_store_without_links_answers_none_and_its_own_link_at_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    for ids in ([], [1], [1, 2, 3], list(range(50))):
        assert await store.numbers_for("ticket", ids) == {} == _truth(store, "ticket", ids)
        assert await store.numbers_for("ticket", iter(ids)) == {}  # any iterable
    await store.link("ticket", "ABC-1", 2)
    for ids in ([2], [1, 2], [3]):
        assert await store.numbers_for("ticket", ids) == _truth(store, "ticket", ids)
    assert await store.numbers_for("ticket", (2,)) == {2: "ABC-1"}
    assert await store.numbers_for("customer", (2,)) == {}


async def test_another_connections_link_shows_within_the_second(tmp_path: Path) -> None:
    reader, writer = SQLiteStore(tmp_path / "s.db"), SQLiteStore(tmp_path / "s.db")
    assert await reader.numbers_for("ticket", [7]) == {}
    await writer.link("ticket", "T-7", 7)
    _a_second_later(reader)
    assert await reader.numbers_for("ticket", [7]) == {7: "T-7"} == _truth(reader, "ticket", [7])
    # and no longer link-free: every later call asks the table
    assert await reader.numbers_for("ticket", (7, 8)) == {7: "T-7"}


async def test_the_unlocked_answer_is_the_locked_checks(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    for step in range(6):
        with store._lock:
            link_free = store._no_links()
        got = await store.numbers_for("ticket", [1, 2])
        assert (got == {}) if link_free else (got == _truth(store, "ticket", [1, 2]))
        if step == 2:
            await store.link("ticket", "N-1", 1)
        _a_second_later(store)
