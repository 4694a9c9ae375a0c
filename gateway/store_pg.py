"""The id store in PostgreSQL, shared by several gateway replicas.

Same contract as :class:`gateway.store.SQLiteStore` (links and claims), on an
asyncpg pool.  The schema is created or migrated at start-up: each replica
takes a transaction-scoped advisory lock, reads ``schema_version`` and applies
the missing steps, so replicas that start together migrate exactly once.
Nothing is cached per replica: every lookup asks the database, so a link made
through one replica is visible through every other at once.

asyncpg is the optional extra ``postgres`` (``pip install 'helpdesk-gateway[postgres]'``)
and is imported only when a ``postgresql://`` store is configured.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterable
from typing import Any

from gateway.settings import SettingsError
from gateway.store import GENERATION_JOURNAL, IDEMPOTENCY_STALE, IDEMPOTENCY_TTL, IdempotentAnswer, covered

# Arbitrary constant keys for pg_advisory_xact_lock ("gw-store" in ASCII; "gwln").
_MIGRATION_LOCK = 0x67772D73746F7265
_LINK_LOCK = 0x67776C6E

# Step n brings the schema from version n-1 to n; append, never edit.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS links (
        kind TEXT NOT NULL,
        number TEXT NOT NULL,
        backend_id BIGINT NOT NULL,
        PRIMARY KEY (kind, number),
        UNIQUE (kind, backend_id)
    );
    CREATE TABLE IF NOT EXISTS claims (
        kind TEXT NOT NULL,
        backend_id BIGINT NOT NULL,
        claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, backend_id)
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS idempotency (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        status INTEGER,
        body BYTEA,
        headers TEXT,
        PRIMARY KEY (scope, key)
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS generations (
        name TEXT PRIMARY KEY,
        value BIGINT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS generation_items (
        name TEXT NOT NULL,
        value BIGINT NOT NULL,
        item BIGINT NOT NULL,
        PRIMARY KEY (name, value)
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class StoreUnavailable(RuntimeError):
    """The PostgreSQL store could not be reached or migrated (the message never carries the password)."""


def redact_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:
        raise SettingsError(
            "store: a postgresql:// store needs asyncpg: pip install 'helpdesk-gateway[postgres]'"
        ) from None
    return asyncpg


async def migrate(conn: Any) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION`; idempotent and safe to run concurrently."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = await conn.fetchval("SELECT max(version) FROM schema_version")
        current = int(current or 0)
        if current > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"the store's schema is version {current}, newer than this gateway's {SCHEMA_VERSION}"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            await conn.execute(MIGRATIONS[version - 1])
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
        return SCHEMA_VERSION


class PostgresStore:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 1, max_size: int = 10, wait: float = 30.0) -> PostgresStore:
        """Open a pool and migrate; retries for up to ``wait`` seconds while the server is starting."""
        asyncpg = _asyncpg()
        transient = (OSError, asyncio.TimeoutError, asyncpg.CannotConnectNowError)
        deadline = time.monotonic() + wait
        delay = 0.2
        while True:
            try:
                pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, command_timeout=30)
                break
            except transient as exc:
                if time.monotonic() + delay > deadline:
                    where = redact_url(url)
                    raise StoreUnavailable(f"cannot reach the PostgreSQL store {where}: {exc}") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except asyncpg.PostgresError as exc:
                raise StoreUnavailable(f"PostgreSQL store {redact_url(url)}: {exc}") from None
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool)

    async def numbers_for(self, kind: str, backend_ids: Iterable[int]) -> dict[int, str]:
        ids = list(backend_ids)
        if not ids:
            return {}
        rows = await self._pool.fetch(
            "SELECT backend_id, number FROM links WHERE kind = $1 AND backend_id = ANY($2::bigint[])",
            kind,
            ids,
        )
        return {int(r["backend_id"]): str(r["number"]) for r in rows}

    async def id_for(self, kind: str, number: str) -> int | None:
        value = await self._pool.fetchval("SELECT backend_id FROM links WHERE kind = $1 AND number = $2", kind, number)
        return None if value is None else int(value)

    async def link(self, kind: str, number: str, backend_id: int) -> None:
        # Like SQLite's INSERT OR REPLACE: the new link displaces any link on either the
        # number or the backend id.  Links are rare (imports), so links of one kind are
        # serialised with a transaction-scoped advisory lock: no unique-index races.
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LINK_LOCK, kind)
            await conn.execute(
                "DELETE FROM links WHERE kind = $1 AND (number = $2 OR backend_id = $3)",
                kind,
                number,
                backend_id,
            )
            await conn.execute(
                "INSERT INTO links (kind, number, backend_id) VALUES ($1, $2, $3)", kind, number, backend_id
            )

    async def claim(self, kind: str, backend_id: int) -> bool:
        inserted = await self._pool.fetchval(
            "INSERT INTO claims (kind, backend_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
            kind,
            backend_id,
        )
        return inserted is True

    async def idem_claim(self, scope: str, key: str) -> bool:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM idempotency WHERE created_at < now() - make_interval(secs => $1)"
                " OR (status IS NULL AND created_at < now() - make_interval(secs => $2))",
                IDEMPOTENCY_TTL,
                IDEMPOTENCY_STALE,
            )
            inserted = await conn.fetchval(
                "INSERT INTO idempotency (scope, key) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                scope,
                key,
            )
        return inserted is True

    async def idem_get(self, scope: str, key: str) -> IdempotentAnswer | None:
        row = await self._pool.fetchrow(
            "SELECT status, body, headers FROM idempotency WHERE scope = $1 AND key = $2", scope, key
        )
        if row is None:
            return None
        headers = json.loads(row["headers"]) if row["headers"] else {}
        return IdempotentAnswer(row["status"], bytes(row["body"] or b""), headers)

    async def idem_finish(self, scope: str, key: str, answer: IdempotentAnswer) -> None:
        await self._pool.execute(
            "UPDATE idempotency SET status = $1, body = $2, headers = $3 WHERE scope = $4 AND key = $5",
            answer.status,
            answer.body,
            json.dumps(answer.headers),
            scope,
            key,
        )

    async def idem_release(self, scope: str, key: str) -> None:
        await self._pool.execute("DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND status IS NULL", scope, key)

    async def bump_generation(self, name: str, item: int = 0) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            value = int(
                await conn.fetchval(
                    "INSERT INTO generations (name, value) VALUES ($1, 1) "
                    "ON CONFLICT (name) DO UPDATE SET value = generations.value + 1 RETURNING value",
                    name,
                )
            )
            await conn.execute(
                "INSERT INTO generation_items (name, value, item) VALUES ($1, $2, $3) "
                "ON CONFLICT (name, value) DO UPDATE SET item = EXCLUDED.item",
                name,
                value,
                item,
            )
            if value % 100 == 0:
                await conn.execute(
                    "DELETE FROM generation_items WHERE name = $1 AND value <= $2", name, value - GENERATION_JOURNAL
                )
        return value

    async def generation(self, name: str) -> int:
        value = await self._pool.fetchval("SELECT value FROM generations WHERE name = $1", name)
        return 0 if value is None else int(value)

    async def generation_items(self, name: str, since: int) -> list[int] | None:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            current = await conn.fetchval("SELECT value FROM generations WHERE name = $1", name)
            rows = await conn.fetch(
                "SELECT item FROM generation_items WHERE name = $1 AND value > $2 ORDER BY value", name, since
            )
        return covered(int(current or 0), since, [int(r["item"]) for r in rows])

    async def close(self) -> None:
        await self._pool.close()
