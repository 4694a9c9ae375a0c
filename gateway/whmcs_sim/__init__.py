"""A WHMCS External API simulator (``POST /includes/api.php``) on SQLite.

It answers as the reference (shared/reference/whmcs-api.md) says WHMCS does: the action name in
any letter case, parameters from the query string and the form body, ``identifier``/``secret``
or ``username``/``password`` (plain API secret, or md5 of an admin's login password), an
optional IP allow-list with ``accesskey`` bypass, API roles per credential, JSON / XML / legacy
NVP answers, WHMCS's error texts and HTTP statuses, string-valued ticket records, integer paging
counters.

Seeded (into an empty database) with the same demo people and tickets as the PMP simulator
(``gateway.demo.load_demo()``; see :func:`gateway.whmcs_sim.db.seed_demo` for how the demo
schema maps onto WHMCS tables).  ``--seed-tickets N`` adds N bulk tickets for benchmarks.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway import sim_process

from . import api
from .api import CONFIG_KEY, DB_KEY, STATS_KEY, SimConfig, SimStats
from .common import Credential
from .db import DEMO_ADMIN_PASSWORD, SimDB, seed_bulk_tickets, seed_demo

__all__ = [
    "CONFIG_KEY",
    "DB_KEY",
    "DEFAULT_DB_PATH",
    "DEFAULT_IDENTIFIER",
    "DEFAULT_SECRET",
    "DEMO_ADMIN_PASSWORD",
    "STATS_KEY",
    "Credential",
    "SimConfig",
    "SimDB",
    "SimStats",
    "create_app",
    "default_demo",
    "main",
    "seed_bulk_tickets",
    "start_simulator",
]

#: The fixed demo API credential of the quick start.
DEFAULT_IDENTIFIER = "whmcs-sim-demo-identifier"
DEFAULT_SECRET = "whmcs-sim-demo-secret-0123456789"
DEFAULT_DB_PATH = Path("gateway-data") / "whmcs-sim.sqlite3"


def default_demo() -> Mapping[str, Any]:
    """The shared demo data (gateway/demo/data.yaml); empty if that package is not installed."""
    try:
        module = importlib.import_module("gateway.demo")  # the shared demo data (another branch's work)
    except ImportError:
        return {}
    data: Any = module.load_demo()
    if hasattr(data, "model_dump"):
        dumped: Mapping[str, Any] = data.model_dump()
        return dumped
    return dict(data)


def create_app(
    db_path: str | Path,
    identifier: str = DEFAULT_IDENTIFIER,
    secret: str = DEFAULT_SECRET,
    *,
    credentials: Iterable[Credential] = (),
    allowed_ips: Iterable[str] | None = None,
    access_key: str | None = None,
    seed: bool = True,
    demo: Mapping[str, Any] | None = None,
    seed_tickets: int = 0,
    seed_replies: int = 0,
) -> web.Application:
    """The simulator's aiohttp application on the SQLite file ``db_path``.

    ``identifier``/``secret`` is a full-permission credential of admin 1; ``credentials`` adds more
    (with API roles and department assignments).  ``allowed_ips`` turns the IP allow-list on.
    An empty database is seeded with ``demo`` (default: :func:`default_demo`) when ``seed``.
    """
    if not identifier or not secret:
        raise ValueError("the simulator needs a non-empty identifier and secret")
    db = SimDB(db_path)
    if seed and db.is_empty():
        seed_demo(db, default_demo() if demo is None else demo)
    if seed_tickets:
        seed_bulk_tickets(db, seed_tickets, seed_replies)
    app = web.Application()
    app[DB_KEY] = db
    app[CONFIG_KEY] = SimConfig(
        credentials=[Credential(identifier, secret), *credentials],
        allowed_ips=None if allowed_ips is None else frozenset(allowed_ips),
        access_key=access_key,
    )
    app[STATS_KEY] = SimStats()
    api.add_routes(app)

    async def _close(app: web.Application) -> None:
        app[DB_KEY].close()

    app.on_cleanup.append(_close)
    return app


async def start_simulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    db_path: str | Path,
    identifier: str = DEFAULT_IDENTIFIER,
    secret: str = DEFAULT_SECRET,
    **options: Any,
) -> tuple[web.AppRunner, str]:
    """Start the simulator; return its runner (``await runner.cleanup()``) and its root URL.

    The root URL is WHMCS's root: the API is at ``<url>includes/api.php``.  ``options`` are
    :func:`create_app`'s keyword arguments.
    """
    app = create_app(db_path, identifier, secret, **options)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    actual_port = port
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            actual_port = int(addr[1])
            break
    shown_host = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown_host}:{actual_port}/"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway whmcs-sim", description="Run the WHMCS API simulator.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--db", default=str(DEFAULT_DB_PATH), help="SQLite file (created with demo data)")
    p.add_argument("--identifier", default=DEFAULT_IDENTIFIER)
    p.add_argument("--secret", default=DEFAULT_SECRET)
    p.add_argument("--allow-ip", action="append", dest="allow_ip", metavar="IP", help="turn on the IP allow-list")
    p.add_argument("--accesskey", help="the access key that bypasses the IP allow-list")
    p.add_argument("--no-demo", action="store_true", help="do not seed demo data into a new database")
    p.add_argument("--seed-tickets", type=int, default=0, metavar="N", help="bulk-insert N more tickets")
    p.add_argument("--seed-replies", type=int, default=0, metavar="K", help="with --seed-tickets: K replies each")
    return p


def main(argv: list[str] | None = None) -> int:
    """``gateway whmcs-sim [--host H] [--port 8091] [--db FILE] [--identifier ID --secret S] ...``."""
    args = _parser().parse_args(argv)

    async def serve() -> None:
        runner, url = await start_simulator(
            args.host,
            args.port,
            db_path=Path(args.db),
            identifier=args.identifier,
            secret=args.secret,
            allowed_ips=args.allow_ip,
            access_key=args.accesskey,
            seed=not args.no_demo,
            seed_tickets=args.seed_tickets,
            seed_replies=args.seed_replies,
        )
        print(f"WHMCS simulator (demo) listening on {url}includes/api.php", flush=True)
        print(f"identifier: {args.identifier}", flush=True)
        print(f"secret: {args.secret}", flush=True)
        print(f"database: {Path(args.db).resolve()}", flush=True)
        await sim_process.serve_until_signalled(runner)

    return sim_process.run("whmcs-sim", serve)
