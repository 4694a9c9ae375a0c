"""The PMP 3.x reply index, kept on disk: ticket id -> its ``tblticket_replies`` rows.

The module's custom-table route has no filter and no documented paging: its one read is
the whole table.  The rows are taken from the answer as it streams in and written to a
private temporary SQLite database (SQLite deletes it when it is closed), so the memory the
index takes stays the same however large the table grows (a migration of a large helpdesk,
a long-running gateway); a ticket's rows are read back when that ticket is asked for.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

import orjson

from gateway.backends.pmp.wire import Row, to_int

_SCHEMA = """
CREATE TABLE replies (seq INTEGER PRIMARY KEY, ticket INTEGER NOT NULL, row BLOB NOT NULL);
CREATE INDEX replies_ticket ON replies (ticket, seq);
"""
_BATCH = 1000  # rows a statement while the table streams in


class ReplyIndex:
    """One fill of the index from one read of the whole table (``serial`` counts the reads)."""

    def __init__(self, refreshed_at: datetime | None = None, serial: int = 0) -> None:
        self.refreshed_at = refreshed_at  # when the read that filled it started (UTC); None: never filled
        self.serial = serial
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            # "": a temporary database on disk, private to this connection, removed on close
            self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=OFF")  # a cache: nothing to roll back or recover
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.executescript(_SCHEMA)
        return self._db

    async def fill(self, rows: AsyncIterator[Row]) -> int:
        """Take the table's rows as they arrive; how many were indexed."""
        db = self._conn()
        batch: list[tuple[int, bytes]] = []
        count = 0
        db.execute("BEGIN")
        try:
            async for row in rows:
                ticket_id = to_int(row.get("ticketid"))
                if ticket_id <= 0:
                    continue
                batch.append((ticket_id, _dump(row)))
                if len(batch) >= _BATCH:
                    count += self._insert(batch)
            count += self._insert(batch)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return count

    def _insert(self, batch: list[tuple[int, bytes]]) -> int:
        if batch:
            self._conn().executemany("INSERT INTO replies (ticket, row) VALUES (?, ?)", batch)
        n = len(batch)
        batch.clear()
        return n

    def add(self, row: Row) -> None:
        """A row written since the fill (by this gateway)."""
        ticket_id = to_int(row.get("ticketid"))
        if ticket_id > 0:
            self._conn().execute("INSERT INTO replies (ticket, row) VALUES (?, ?)", (ticket_id, _dump(row)))

    def rows(self, ticket_id: int) -> list[Row]:
        """The ticket's rows in the table's order."""
        if self._db is None:
            return []
        found = self._db.execute("SELECT row FROM replies WHERE ticket = ? ORDER BY seq", (ticket_id,)).fetchall()
        return [_load(r[0]) for r in found]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


async def rows_from(rows: Iterable[Row]) -> AsyncIterator[Row]:
    """Rows already in memory (an injected transport's whole answer) as the stream :meth:`ReplyIndex.fill` takes."""
    for row in rows:
        yield row


def _dump(row: Row) -> bytes:
    return orjson.dumps(row, default=str)


def _load(raw: Any) -> Row:
    loaded: Row = orjson.loads(raw)
    return loaded
