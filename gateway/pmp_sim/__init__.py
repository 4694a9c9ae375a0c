"""A faithful simulator of the PMP backend (Perfex CRM's REST API module) on SQLite.

It is the quick start's default backend and the backend of the end-to-end tests.  It keeps
the module's awkward behaviour (404 for almost every failure, form-only POSTs, no ids in
answers, string-only values, colliding columns in ticket rows, resets on PUT, secrets in
contact rows); see :mod:`gateway.pmp_sim.routes` for the list.

Demo data (``seed_demo=True``, written only into an empty database):

* staff 1 Alice Admin;
* departments 1 Sales, 2 Technical Support, 3 Billing; services 1 Web Hosting, 2 Domain Registration;
* statuses 1 Open, 2 In progress, 3 Answered, 4 On Hold, 5 Closed; priorities 1 Low, 2 Medium, 3 High;
* customers 1 "Acme Widgets Ltd" (contacts 1 John Smith primary, 2 Jane O'Connor, 5 Old Employee
  inactive), 2 "Công ty TNHH Trung bình" (contact 3 primary), 3 "Ünïcødé ✓ & <Sons> ..." (contact 4 primary);
* tickets 1 Open (contact 1, empty cc, CRLF message, tags), 2 In progress (Vietnamese, HTML message),
  3 Answered (``&<>"'``), 4 On Hold (non-contact: userid 0, contactid 0, from_name/ticket_email),
  5 Closed (unicode), 6 Open (opened by staff 1: firstname/lastname set).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from aiohttp import web

from . import routes
from .db import SimDatabaseError, SimDB, count_tickets, list_ticket_rows
from .routes import DB_KEY, RECORD_ID_KEY, STATS_KEY, STRIP_HTML_KEY, TOKEN_KEY, SimStats

__all__ = [
    "DB_KEY",
    "DEFAULT_DB_PATH",
    "DEFAULT_TOKEN",
    "STATS_KEY",
    "SimDB",
    "SimDatabaseError",
    "SimStats",
    "count_tickets",
    "create_app",
    "list_ticket_rows",
    "main",
    "start_simulator",
]

#: The fixed demo token of the quick start.
DEFAULT_TOKEN = "pmp-sim-demo-token-0123456789abcdef"
DEFAULT_DB_PATH = Path("gateway-data") / "pmp-sim.sqlite3"


def create_app(
    db_path: str | Path,
    token: str,
    *,
    record_id: bool = False,
    seed_demo: bool = True,
    strip_ticket_html: bool | None = None,
) -> web.Application:
    """Build the simulator's aiohttp application on the SQLite file ``db_path``.

    ``record_id=True`` emulates newer module versions that add ``record_id`` to POST answers.
    ``strip_ticket_html`` (default :data:`routes.STRIP_TICKET_HTML`) strips HTML from new tickets.
    The database connection is available as ``app[DB_KEY]`` and closed on cleanup.
    """
    if not token:
        raise ValueError("the simulator needs a non-empty token")
    app = web.Application(middlewares=[routes.pmp_middleware])
    db = SimDB(db_path, seed_demo=seed_demo)
    app[DB_KEY] = db
    app[TOKEN_KEY] = token
    app[RECORD_ID_KEY] = record_id
    app[STRIP_HTML_KEY] = routes.STRIP_TICKET_HTML if strip_ticket_html is None else strip_ticket_html
    app[STATS_KEY] = SimStats()
    routes.add_routes(app)

    async def _close(app: web.Application) -> None:
        app[DB_KEY].close()

    app.on_cleanup.append(_close)
    return app


async def start_simulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    db_path: str | Path,
    token: str,
    record_id: bool = False,
    seed_demo: bool = True,
) -> tuple[web.AppRunner, str]:
    """Start the simulator; return its runner (call ``await runner.cleanup()``) and base URL."""
    app = create_app(db_path, token, record_id=record_id, seed_demo=seed_demo)
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


def main(argv: list[str] | None = None) -> int:
    """``gateway pmp-sim [--host H] [--port 8090] [--db FILE] [--token TOKEN] [--record-id] [--no-demo]``."""
    parser = argparse.ArgumentParser(prog="gateway pmp-sim", description="Run the PMP (Perfex CRM API) simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--db", default=str(DEFAULT_DB_PATH), help="SQLite file (created with demo data)")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--record-id", action="store_true", help="add record_id to POST answers")
    parser.add_argument("--no-demo", action="store_true", help="do not seed demo data into a new database")
    args = parser.parse_args(argv)

    async def serve() -> None:
        runner, url = await start_simulator(
            args.host,
            args.port,
            db_path=Path(args.db),
            token=args.token,
            record_id=args.record_id,
            seed_demo=not args.no_demo,
        )
        print(f"PMP simulator listening on {url}", flush=True)
        print(f"authtoken: {args.token}", flush=True)
        print(f"database: {Path(args.db).resolve()}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    except OSError as err:
        print(f"pmp-sim: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
