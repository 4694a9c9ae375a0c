"""``gateway migrate ...`` (INTERFACE "gateway migrate"): flags, the run, exit codes 0/1/2/3."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import inspect
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from gateway.backends.base import Backend
from gateway.errors import BackendAuthError, GatewayError
from gateway.mapping.loader import MappingSet, VendorMappings, ZoneConfig, load_mappings
from gateway.mapping.source import MappingErrors
from gateway.migrate import config
from gateway.migrate.engine import Migration, Options
from gateway.migrate.journal import Journal, open_journal
from gateway.migrate.plan import refusal
from gateway.migrate.progress import Progress
from gateway.settings import SettingsError
from gateway.store import MemoryStore, SQLiteStore, Store, open_store


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway migrate", description="Copy a helpdesk from one backend to another.")
    for side in ("source", "target"):
        p.add_argument(f"--{side}-kind", dest=f"{side}_kind", choices=("pmp", "whmcs"))
        p.add_argument(f"--{side}-url", dest=f"{side}_url")
        p.add_argument(f"--{side}-token", dest=f"{side}_token")
    p.add_argument("--config", type=Path)
    p.add_argument("--store", help="SQLite path or postgresql:// URL (the journal and the id cross-reference)")
    p.add_argument("--mappings", type=Path)
    p.add_argument("--dry-run", dest="dry_run", action="store_true")
    p.add_argument("--sample", type=int, metavar="N")
    p.add_argument("--only", metavar="KIND,...")
    p.add_argument("--allow-loss", dest="allow_loss", metavar="WHAT,...")
    p.add_argument("--rate", type=float, default=0.0, metavar="PER_SECOND")
    p.add_argument("--report", type=Path)
    p.add_argument("--concurrency", type=int, metavar="N")
    return p


def main(argv: list[str]) -> int:
    ns = parser().parse_args(argv)
    try:
        ms = config.load(vars(ns), ns.config)
        for side, block in (("source", ms.source), ("target", ms.target)):
            if not block.url or not block.token:
                raise SettingsError(f"--{side}-url and --{side}-token (or the config's {side}: block) are required")
        if ns.sample is not None and ns.sample < 1:
            raise SettingsError("--sample takes a positive number")
        if ns.rate < 0:
            raise SettingsError("--rate takes a number of calls per second (0: no limit)")
        options = Options(
            dry_run=ns.dry_run,
            sample=ns.sample,
            only=config.parse_only(ns.only),
            allow_loss=config.parse_losses(ns.allow_loss),
            rate=ns.rate,
            concurrency=ns.concurrency or ms.migrate.concurrency,
            call_timeout=max(ms.source.timeout, ms.target.timeout),
            department_map=dict(ms.migrate.departments),
            default_department=str(ms.migrate.default_department),
            staff_map=dict(ms.migrate.staff),
        )
    except SettingsError as exc:
        print(f"gateway migrate: {exc}", file=sys.stderr)
        return 2
    report = ns.report if ns.report is not None else (None if ns.dry_run else ms.data_dir / "migrate-report.json")
    try:
        return asyncio.run(_run(ms, options, report))
    except (SettingsError, MappingErrors) as exc:
        print(f"gateway migrate: {exc}", file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"gateway migrate: stopped: {exc.message} (run it again to resume)", file=sys.stderr)
        return 1


def _build(side: config.Side, mappings: MappingSet, store: Store, session: aiohttp.ClientSession) -> Backend:
    """The adapter ``serve`` would use for this side (its kind), unguarded: every read is fresh."""
    kwargs: dict[str, Any] = {
        "session": session,
        "connect_timeout": side.connect_timeout,
        "retries": side.retries,
        "features": dict(side.features) or None,
        "accesskey": side.accesskey,
    }
    cls: Any
    if side.kind == "whmcs":
        try:
            from gateway.backends.whmcs import WhmcsBackend  # type: ignore[import-not-found,unused-ignore]
        except ModuleNotFoundError:
            raise SettingsError("this gateway has no WHMCS backend adapter") from None
        cls = WhmcsBackend
    else:
        from gateway.backends.pmp import PMPBackend

        cls = PMPBackend
    # Only the keywords this adapter takes (they grow additively as adapters gain settings).
    accepted = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in accepted and v is not None}
    backend: Backend = cls(side.url, side.token, _one_pass(mappings[side.kind]), store, **kwargs)
    return backend


#: A migration reads each record once or twice, by a few workers at a time: the read memos sized
#: for polling clients (serve) would only hold about a thousand tickets' bodies and records.
ONE_PASS_MEMOS = {"read_memo_size": 64, "row_memo_size": 64}


def _one_pass(maps: VendorMappings) -> VendorMappings:
    return dataclasses.replace(maps, settings={**maps.settings, **ONE_PASS_MEMOS})


@asynccontextmanager
async def _sides(ms: config.MigrateSettings, store: Store) -> AsyncIterator[tuple[Backend, Backend]]:
    source_maps = load_mappings(ms.mappings, ZoneConfig(backend=ms.source.zone))
    same_zone = ms.target.zone == ms.source.zone
    target_maps = source_maps if same_zone else load_mappings(ms.mappings, ZoneConfig(backend=ms.target.zone))
    limit = ms.source.max_concurrency + ms.target.max_concurrency
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as session:
        source = _build(ms.source, source_maps, store, session)
        target = _build(ms.target, target_maps, store, session)
        try:
            yield source, target
        finally:
            await source.close()
            await target.close()


async def _same_migration(journal: Journal, ms: config.MigrateSettings, dry_run: bool) -> str | None:
    """A store journals one migration: refuse another pair of helpdesks on it."""
    want = {
        "source_kind": ms.source.kind,
        "source_url": ms.source.url,
        "target_kind": ms.target.kind,
        "target_url": ms.target.url,
    }
    for key, value in want.items():
        had = await journal.meta(key)
        if had is not None and had != value:
            return f"the store journals another migration ({key} {had}, not {value}); use another --store"
    if not dry_run:
        for key, value in want.items():
            await journal.set_meta(key, value)
    return None


async def _run(ms: config.MigrateSettings, options: Options, report_path: Path | None) -> int:
    # A dry run writes nothing anywhere: the journal is opened read-only and the adapters'
    # write claims go to a throw-away store.
    journal = await open_journal(ms.store_url, read_only=options.dry_run)
    store: Store = MemoryStore() if options.dry_run else await _open_store(ms.store_url)
    try:
        async with _sides(ms, store) as (source, target):
            return await _migrate(source, target, journal, ms, options, report_path)
    finally:
        await store.close()
        await journal.close()


async def _open_store(url: str) -> Store:
    """The store the adapters claim the records they create in.  On SQLite without an fsync per
    claim: a claim a power loss forgets is harmless to a migration, which settles every write
    through its own journal (and the claims sit on its every create, in the event loop)."""
    if url.startswith(("postgresql://", "postgres://")):
        return await open_store(url)
    return SQLiteStore(url, synchronous="NORMAL")


async def _migrate(
    source: Backend,
    target: Backend,
    journal: Journal,
    ms: config.MigrateSettings,
    options: Options,
    report_path: Path | None,
) -> int:
    problem = await _same_migration(journal, ms, options.dry_run)
    if problem:
        print(f"gateway migrate: {problem}", file=sys.stderr)
        return 2
    progress = Progress(sys.stderr)
    migration = Migration(source, target, journal, options, progress.update)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, migration.stop.set)
    try:
        return await _plan_and_run(migration, options, report_path, progress)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        progress.close()


async def _plan_and_run(migration: Migration, options: Options, report_path: Path | None, progress: Progress) -> int:
    try:
        plan = await migration.make_plan()
    except BackendAuthError as exc:
        print(f"gateway migrate: a backend refused the credential: {exc.message}", file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"gateway migrate: cannot read the plan: {exc.message}", file=sys.stderr)
        return 1
    unaccepted = plan.unaccepted(options.allow_loss)
    refused = bool(unaccepted or plan.problems)
    if options.dry_run or refused:
        print(plan.render(options.allow_loss), file=sys.stdout if options.dry_run else sys.stderr)
    if refused:
        if unaccepted:
            print(f"gateway migrate: {refusal(unaccepted)}", file=sys.stderr)
        print("gateway migrate: refused; nothing was written", file=sys.stderr)
        return 2
    report = await migration.run()
    progress.close()
    if report_path is not None:
        report.write(report_path)
    if options.dry_run:
        print("what a real run would do now:")
    print(report.summary())
    return 0 if options.dry_run else report.exit_code()
