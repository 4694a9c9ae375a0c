"""The migration's journal, kept in the gateway's store (SQLite file or PostgreSQL).

One row per source record and kind (``customer``, ``contact``, ``ticket``, ``reply``,
``note``, ``department``, ``staff``) under the unique key ``(kind, source_id)``:

* ``state`` ``pending`` is written *before* the target write, with a ``hint`` saying how to
  find the record on the target; ``done`` after it, with the target id.  A crash between the
  two leaves a pending row, which the next run settles by looking for the record on the
  target (never by writing it blindly again).
* ``source_hash`` is the source record's content hash when it was last carried: a later run
  copies only records whose hash changed (incremental).
* ``target_fp`` is the target record's fingerprint right after the migration wrote it: a
  target record whose fingerprint differs later was changed on the target, a conflict.

``meta`` holds the source and target vendors (for "Legacy ids").  The tables are additive:
the store's own tables are untouched.  A dry run opens the journal read-only and writes
nothing, not even the schema.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS migrate_map (
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    target_id TEXT,
    state TEXT NOT NULL,
    source_hash TEXT NOT NULL DEFAULT '',
    target_fp TEXT NOT NULL DEFAULT '',
    hint TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, source_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS migrate_map_target ON migrate_map (kind, target_id);
CREATE TABLE IF NOT EXISTS migrate_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS legacy_ids (
    kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    shown_id BIGINT NOT NULL,
    PRIMARY KEY (kind, target_id),
    UNIQUE (kind, shown_id)
);
"""


@dataclass(frozen=True)
class Entry:
    kind: str
    source_id: str
    target_id: str | None
    state: str  # "pending" | "done"
    source_hash: str = ""
    target_fp: str = ""
    hint: str = ""

    @property
    def done(self) -> bool:
        return self.state == "done"


class Journal(Protocol):
    async def get(self, kind: str, source_id: str) -> Entry | None: ...
    async def by_target(self, kind: str, target_id: str) -> Entry | None: ...
    async def put(self, entry: Entry) -> None: ...
    async def put_many(self, entries: Sequence[Entry]) -> None: ...
    async def entries(self, kind: str, prefix: str = "") -> list[Entry]: ...
    async def meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...
    async def max_source_id(self, kind: str) -> int: ...
    async def done_pairs(self, kind: str) -> list[tuple[str, str]]: ...
    async def allocations(self) -> list[tuple[str, str, int]]: ...
    async def allocate(self, kind: str, target_id: str, floor: int) -> int: ...
    async def close(self) -> None: ...


def _entry(row: Any) -> Entry:
    return Entry(
        kind=row[0],
        source_id=row[1],
        target_id=row[2],
        state=row[3],
        source_hash=row[4],
        target_fp=row[5],
        hint=row[6],
    )


_COLUMNS = "kind, source_id, target_id, state, source_hash, target_fp, hint"


def _values(entry: Entry) -> tuple[str, str, str | None, str, str, str, str]:
    return (
        entry.kind,
        entry.source_id,
        entry.target_id,
        entry.state,
        entry.source_hash,
        entry.target_fp,
        entry.hint,
    )


def _upper(prefix: str) -> str:
    """The least string above every string starting with ``prefix`` (a range an index can serve)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class SQLiteJournal:
    """The journal in the store's SQLite file; every put is its own committed statement (a checkpoint)."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self._lock = threading.Lock()
        self.read_only = read_only
        if read_only:
            # A dry run: never create the file or the schema.  A missing file is an empty journal.
            if str(path) == ":memory:" or not Path(path).exists():
                self._db = sqlite3.connect(":memory:", check_same_thread=False)
                self._db.executescript(SCHEMA)
            else:
                uri = Path(path).resolve().as_uri() + "?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                if not self._has_tables():
                    self._db.close()
                    self._db = sqlite3.connect(":memory:", check_same_thread=False)
                    self._db.executescript(SCHEMA)
            return
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: each checkpoint survives the process being killed (SIGKILL, a crash); only a
        # power loss may drop the last few, which a resumed run then settles like any pending write.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(SCHEMA)

    def _has_tables(self) -> bool:
        row = self._db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'migrate_map'").fetchone()
        return bool(row and row[0])

    async def get(self, kind: str, source_id: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM migrate_map WHERE kind = ? AND source_id = ?", (kind, source_id)
            ).fetchone()
        return _entry(row) if row else None

    async def by_target(self, kind: str, target_id: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM migrate_map WHERE kind = ? AND target_id = ?", (kind, target_id)
            ).fetchone()
        return _entry(row) if row else None

    async def put(self, entry: Entry) -> None:
        if self.read_only:
            raise RuntimeError("the journal is read-only (a dry run writes nothing)")
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO migrate_map ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", _values(entry)
            )

    async def put_many(self, entries: Sequence[Entry]) -> None:
        """Several checkpoints in one transaction: all of them or none survive a crash."""
        if self.read_only:
            raise RuntimeError("the journal is read-only (a dry run writes nothing)")
        if not entries:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    f"INSERT OR REPLACE INTO migrate_map ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [_values(e) for e in entries],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    async def entries(self, kind: str, prefix: str = "") -> list[Entry]:
        # a range, not LIKE: the primary key serves it (a ticket's messages among millions of rows)
        sql = f"SELECT {_COLUMNS} FROM migrate_map WHERE kind = ?"
        params: tuple[str, ...] = (kind,)
        if prefix:
            sql += " AND source_id >= ? AND source_id < ?"
            params = (kind, prefix, _upper(prefix))
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY source_id", params).fetchall()
        return [_entry(r) for r in rows]

    async def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM migrate_meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    async def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO migrate_meta (key, value) VALUES (?, ?)", (key, value))

    async def max_source_id(self, kind: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT max(CAST(source_id AS INTEGER)) FROM migrate_map WHERE kind = ?", (kind,)
            ).fetchone()
        return int(row[0] or 0) if row else 0

    async def done_pairs(self, kind: str) -> list[tuple[str, str]]:
        """(source id, target id) of every carried record of a kind."""
        with self._lock:
            rows = self._db.execute(
                "SELECT source_id, target_id FROM migrate_map WHERE kind = ? AND state = 'done' "
                "AND target_id IS NOT NULL",
                (kind,),
            ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    async def allocations(self) -> list[tuple[str, str, int]]:
        with self._lock:
            rows = self._db.execute("SELECT kind, target_id, shown_id FROM legacy_ids").fetchall()
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def allocate(self, kind: str, target_id: str, floor: int) -> int:
        """The id legacy clients see for a target-only record: above ``floor`` and every id given out.

        One write transaction (BEGIN IMMEDIATE), so workers sharing the file never hand out one id twice."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT shown_id FROM legacy_ids WHERE kind = ? AND target_id = ?", (kind, target_id)
                ).fetchone()
                if row is None:
                    top = self._db.execute("SELECT max(shown_id) FROM legacy_ids WHERE kind = ?", (kind,)).fetchone()
                    shown = max(floor, int(top[0] or 0)) + 1
                    self._db.execute(
                        "INSERT INTO legacy_ids (kind, target_id, shown_id) VALUES (?, ?, ?)", (kind, target_id, shown)
                    )
                else:
                    shown = int(row[0])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return shown

    async def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresJournal:
    """The same journal in PostgreSQL (the store of several replicas)."""

    _LOCK = 0x67776D67  # "gwmg": serialises the schema creation of concurrent starters

    def __init__(self, pool: Any, *, read_only: bool = False) -> None:
        self._pool = pool
        self.read_only = read_only
        self._missing = False  # read-only on a database without the tables: an empty journal

    @classmethod
    async def connect(cls, url: str, *, read_only: bool = False) -> PostgresJournal:
        from gateway.store_pg import _asyncpg

        pool = await _asyncpg().create_pool(url, min_size=1, max_size=4, command_timeout=30)
        journal = cls(pool, read_only=read_only)
        async with pool.acquire() as conn:
            if read_only:
                exists = await conn.fetchval("SELECT to_regclass('migrate_map') IS NOT NULL")
                journal._missing = not exists
            else:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", cls._LOCK)
                    await conn.execute(SCHEMA)
        return journal

    async def get(self, kind: str, source_id: str) -> Entry | None:
        if self._missing:
            return None
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM migrate_map WHERE kind = $1 AND source_id = $2", kind, source_id
        )
        return _entry(row) if row else None

    async def by_target(self, kind: str, target_id: str) -> Entry | None:
        if self._missing:
            return None
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM migrate_map WHERE kind = $1 AND target_id = $2", kind, target_id
        )
        return _entry(row) if row else None

    _UPSERT = (
        f"INSERT INTO migrate_map ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (kind, source_id) DO UPDATE SET target_id = $3, state = $4, "
        "source_hash = $5, target_fp = $6, hint = $7"
    )

    async def put(self, entry: Entry) -> None:
        await self._pool.execute(self._UPSERT, *_values(entry))

    async def put_many(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(self._UPSERT, [_values(e) for e in entries])

    async def entries(self, kind: str, prefix: str = "") -> list[Entry]:
        if self._missing:
            return []
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM migrate_map WHERE kind = $1 AND starts_with(source_id, $2) ORDER BY source_id",
            kind,
            prefix,
        )
        return [_entry(r) for r in rows]

    async def meta(self, key: str) -> str | None:
        if self._missing:
            return None
        value = await self._pool.fetchval("SELECT value FROM migrate_meta WHERE key = $1", key)
        return None if value is None else str(value)

    async def set_meta(self, key: str, value: str) -> None:
        await self._pool.execute(
            "INSERT INTO migrate_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2",
            key,
            value,
        )

    async def max_source_id(self, kind: str) -> int:
        if self._missing:
            return 0
        value = await self._pool.fetchval(
            "SELECT max(CAST(source_id AS BIGINT)) FROM migrate_map WHERE kind = $1 AND source_id ~ '^[0-9]+$'",
            kind,
        )
        return int(value or 0)

    async def done_pairs(self, kind: str) -> list[tuple[str, str]]:
        if self._missing:
            return []
        rows = await self._pool.fetch(
            "SELECT source_id, target_id FROM migrate_map WHERE kind = $1 AND state = 'done' AND target_id IS NOT NULL",
            kind,
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    async def allocations(self) -> list[tuple[str, str, int]]:
        if self._missing:
            return []
        rows = await self._pool.fetch("SELECT kind, target_id, shown_id FROM legacy_ids")
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def allocate(self, kind: str, target_id: str, floor: int) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", self._LOCK, kind)
            shown = await conn.fetchval(
                "SELECT shown_id FROM legacy_ids WHERE kind = $1 AND target_id = $2", kind, target_id
            )
            if shown is None:
                top = await conn.fetchval("SELECT max(shown_id) FROM legacy_ids WHERE kind = $1", kind)
                shown = max(floor, int(top or 0)) + 1
                await conn.execute(
                    "INSERT INTO legacy_ids (kind, target_id, shown_id) VALUES ($1, $2, $3)", kind, target_id, shown
                )
        return int(shown)

    async def close(self) -> None:
        await self._pool.close()


async def open_journal(url: str, *, read_only: bool = False) -> Journal:
    """The journal in the store a ``--store`` value names (SQLite path or postgresql:// URL)."""
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresJournal.connect(url, read_only=read_only)
    return SQLiteJournal(url, read_only=read_only)
