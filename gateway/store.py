"""Persistent state: the id cross-reference and write claims.

* Links: the number a dialect shows for a backend record where the two differ
  (a WHMCS ``tid`` imported from the old vendor -> the PMP ticket id).  With no
  link the number is the backend id itself.
* Idempotency records: an inbound ``Idempotency-Key`` (PMP dialect) claims the key
  before the write and keeps the answer after it, so a retry with the same key gets
  the first answer and writes nothing, on any replica sharing the store.
* Claims: when a backend does not say which record a create made (PMP's
  ``POST api/tickets``), the gateway finds the new record itself and claims its
  id here, so that two concurrent creates, even on two replicas sharing the
  store, never report the same record.

SQLite (WAL, one connection, a lock) is the default; each statement is a
sub-millisecond local call, so it runs inline on the event loop.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    kind TEXT NOT NULL,
    number TEXT NOT NULL,
    backend_id INTEGER NOT NULL,
    PRIMARY KEY (kind, number),
    UNIQUE (kind, backend_id)
);
CREATE TABLE IF NOT EXISTS claims (
    kind TEXT NOT NULL,
    backend_id INTEGER NOT NULL,
    claimed_at REAL NOT NULL,
    PRIMARY KEY (kind, backend_id)
);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    created_at REAL NOT NULL,
    status INTEGER,
    body BLOB,
    headers TEXT,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS generations (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS generation_items (
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    item INTEGER NOT NULL,
    PRIMARY KEY (name, value)
);
"""

#: How many generation items are kept per name: a worker further behind refreshes everything.
GENERATION_JOURNAL = 1000

#: How long an answer is kept for replay, and after how long an unfinished claim
#: (its process died mid-write) may be taken over.
IDEMPOTENCY_TTL = 24 * 3600.0
IDEMPOTENCY_STALE = 300.0


@dataclass(frozen=True)
class IdempotentAnswer:
    """What was answered to the first request with a key (``status`` None: still running)."""

    status: int | None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Store(Protocol):
    async def numbers_for(self, kind: str, backend_ids: Iterable[int]) -> dict[int, str]: ...
    async def id_for(self, kind: str, number: str) -> int | None: ...
    async def link(self, kind: str, number: str, backend_id: int) -> None: ...
    async def claim(self, kind: str, backend_id: int) -> bool: ...
    async def idem_claim(self, scope: str, key: str) -> bool:
        """Take an idempotency key before writing; False when someone holds or finished it."""
        ...

    async def idem_get(self, scope: str, key: str) -> IdempotentAnswer | None: ...
    async def idem_finish(self, scope: str, key: str, answer: IdempotentAnswer) -> None: ...
    async def idem_release(self, scope: str, key: str) -> None:
        """Give a key back (the write was refused before anything was sent)."""

    async def bump_generation(self, name: str, item: int = 0) -> int:
        """Count one change of ``name`` (touching ``item``; 0: unknown); the new generation."""
        ...

    async def generation(self, name: str) -> int:
        """The current generation of ``name`` (0 before any change)."""
        ...

    async def generation_items(self, name: str, since: int) -> list[int] | None:
        """The items changed after generation ``since``; None when the journal no longer covers them."""
        ...

    async def close(self) -> None: ...


class SQLiteStore:
    def __init__(self, path: str | Path, *, synchronous: str | None = None) -> None:
        """``synchronous``: SQLite's PRAGMA of that name (None: SQLite's default, FULL; a migration,
        whose own journal settles what a lost commit forgets, takes NORMAL: no fsync per claim)."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            if synchronous in ("OFF", "NORMAL", "FULL", "EXTRA"):
                self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
        self._empty: bool | None = None  # the links table's emptiness as last seen ...
        self._seen_version = -1  # ... at this PRAGMA data_version (other connections' commits bump it)
        self._checked_at = 0.0

    def _no_links(self) -> bool:
        """True while the links table is empty.  Most installations have no links at all, and
        this sits on every read: emptiness is re-checked at most once a second (and when
        another connection changed the file), so a link made by another process shows within it."""
        now = time.monotonic()
        if self._empty and now - self._checked_at < 1.0:
            return True
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._seen_version or self._empty is None:
            self._empty = self._db.execute("SELECT NOT EXISTS (SELECT 1 FROM links)").fetchone()[0] == 1
            self._seen_version = version
        self._checked_at = now
        return self._empty

    async def numbers_for(self, kind: str, backend_ids: Iterable[int]) -> dict[int, str]:
        # _no_links' answer while it stands, without the lock, the list and the call (on every
        # ticket read): its two fields are read as the locked check reads them, and a link made
        # meanwhile is one that check could as well have run before
        if self._empty and time.monotonic() - self._checked_at < 1.0:
            return {}
        ids = list(backend_ids)
        if not ids:
            return {}
        with self._lock:
            if self._no_links():
                return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT backend_id, number FROM links WHERE kind = ? AND backend_id IN ({marks})",
                (kind, *ids),
            ).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    async def id_for(self, kind: str, number: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT backend_id FROM links WHERE kind = ? AND number = ?", (kind, number)
            ).fetchone()
        return int(row[0]) if row else None

    async def link(self, kind: str, number: str, backend_id: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO links (kind, number, backend_id) VALUES (?, ?, ?)",
                (kind, number, backend_id),
            )
            self._empty = False  # our own writes do not change data_version

    async def claim(self, kind: str, backend_id: int) -> bool:
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO claims (kind, backend_id, claimed_at) VALUES (?, ?, ?)",
                (kind, backend_id, time.time()),
            )
        return cur.rowcount == 1

    async def idem_claim(self, scope: str, key: str) -> bool:
        now = time.time()
        with self._lock:
            self._db.execute(
                "DELETE FROM idempotency WHERE created_at < ? OR (status IS NULL AND created_at < ?)",
                (now - IDEMPOTENCY_TTL, now - IDEMPOTENCY_STALE),
            )
            cur = self._db.execute(
                "INSERT OR IGNORE INTO idempotency (scope, key, created_at) VALUES (?, ?, ?)", (scope, key, now)
            )
        return cur.rowcount == 1

    async def idem_get(self, scope: str, key: str) -> IdempotentAnswer | None:
        with self._lock:
            row = self._db.execute(
                "SELECT status, body, headers FROM idempotency WHERE scope = ? AND key = ?", (scope, key)
            ).fetchone()
        if row is None:
            return None
        return IdempotentAnswer(row[0], bytes(row[1] or b""), json.loads(row[2]) if row[2] else {})

    async def idem_finish(self, scope: str, key: str, answer: IdempotentAnswer) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE idempotency SET status = ?, body = ?, headers = ? WHERE scope = ? AND key = ?",
                (answer.status, answer.body, json.dumps(answer.headers), scope, key),
            )

    async def idem_release(self, scope: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM idempotency WHERE scope = ? AND key = ? AND status IS NULL", (scope, key))

    async def bump_generation(self, name: str, item: int = 0) -> int:
        # one transaction: the generation and its journal entry are written together, with one
        # commit (one WAL sync) instead of one per statement
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "INSERT INTO generations (name, value) VALUES (?, 1) "
                    "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
                    (name,),
                ).fetchone()
                value = int(row[0])
                self._db.execute("INSERT OR REPLACE INTO generation_items VALUES (?, ?, ?)", (name, value, item))
                if value % 100 == 0:
                    self._db.execute(
                        "DELETE FROM generation_items WHERE name = ? AND value <= ?",
                        (name, value - GENERATION_JOURNAL),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return value

    async def generation(self, name: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM generations WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    async def generation_items(self, name: str, since: int) -> list[int] | None:
        with self._lock:
            current = self._db.execute("SELECT value FROM generations WHERE name = ?", (name,)).fetchone()
            rows = self._db.execute(
                "SELECT item FROM generation_items WHERE name = ? AND value > ? ORDER BY value", (name, since)
            ).fetchall()
        return covered(int(current[0]) if current else 0, since, [int(r[0]) for r in rows])

    async def close(self) -> None:
        with self._lock:
            self._db.close()


def covered(current: int, since: int, items: list[int]) -> list[int] | None:
    """The journal's items when it holds every change after ``since`` and none is unknown (0)."""
    if len(items) != current - since or 0 in items:
        return None
    return items


class MemoryStore(SQLiteStore):
    """The same store in memory, for tests and `gateway translate`."""

    def __init__(self) -> None:
        super().__init__(":memory:")


async def open_store(url: str) -> Store:
    """The store a ``store`` setting names: a ``postgresql://``/``postgres://`` URL, else a SQLite path."""
    if url.startswith(("postgresql://", "postgres://")):
        from gateway.store_pg import PostgresStore

        return await PostgresStore.connect(url)
    return SQLiteStore(url)
