"""A faithful simulator of the PMP backend (Perfex CRM's REST API module) on SQLite.

It is the quick start's default backend and the backend of the end-to-end tests.  Two
generations (``module=``):

* **2** (seed 003): 404 for almost every failure (``Token is not defined.`` for a bad token),
  form-only POSTs, no ids in answers unless ``record_id=True``, resets on PUT, plain arrays;
  see :mod:`gateway.pmp_sim.routes`.
* **3** (default; ``reference/pmp-module-3.md``): everything 2.x answers, plus
  ``page``/``per_page`` lists answering ``{"data", "meta"}`` (paged in SQL), ``fields``,
  ``sort``, ``created_after``/``created_before`` (:mod:`.listing`); 401 for a bad token (also
  ``?authtoken=``), 403 for a resource the token may not use, 409 duplicates, 422 validation
  envelopes; JSON POST bodies; ``record_id`` in every create answer; ``Idempotency-Key``
  replays per token; ``X-RateLimit-*`` headers on every answer and an optional limit (429);
  partial ``PUT /api/tickets/{id}``; ``DELETE /api/{resource}/{id}``; ``/api/staffs``,
  ``/api/notes`` and ``/api/thirdparty/customtable/{table}`` (:mod:`.resources`).

Realistic choices the gateway must cope with:

* an empty list, and a page past the end, answer 404 ``No data were found`` (the module's
  controllers answer 404 for any empty result): only ``meta.total`` of a non-empty page counts;
* staff rows carry their ``password`` hash (the module returns whole rows): the gateway strips it;
* each token belongs to a staff member (the demo token to staff 1: notes' ``addedfrom``) and
  has its own custom-table grants; the demo allowlist grants ``tblticket_replies`` and
  ``tbldepartments`` read+write; core tables are always denied; ``PUT`` on row id 0 answers
  403 without a write grant, 404 with one;
* writing a ``tblticket_replies`` row changes nothing else (no ``lastreply``, status or read
  flags, no e-mail), like any direct table write.

Demo data (``seed_demo=True``, written only into an empty database) comes from the
vendor-neutral :mod:`gateway.demo` file ``data.yaml``: staff 1 Alice Admin, 2 Bob Builder,
3 Chloé Dupont; departments 1 Sales, 2 Technical Support, 3 Billing, 4 Abuse (unused);
services 1 Web Hosting, 2 Domain Registration; customers 1-3 with contacts 1-5 (5 inactive);
tickets 1-6 (4 a guest's, 6 opened by staff 1) with replies and notes.
:func:`seed_tickets` (``--seed-tickets N``) bulk-inserts benchmark tickets.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

from aiohttp import web

from gateway import sim_process

from . import routes
from .db import SimDatabaseError, SimDB, count_tickets, list_ticket_rows
from .resources import DEMO_ALLOWLIST, add_v3_routes
from .routes import DB_KEY, RECORD_ID_KEY, STATS_KEY, STRIP_HTML_KEY, TOKEN_KEY, SimStats
from .seeding import seed_tickets
from .v3 import IDEM_KEY, MODULE_KEY, RATE_KEY, TOKENS_KEY, Grant, IdempotencyLocks, RateLimiter, SimToken

__all__ = [
    "DB_KEY",
    "DEFAULT_DB_PATH",
    "DEFAULT_TOKEN",
    "DEMO_ALLOWLIST",
    "STATS_KEY",
    "SimDB",
    "SimDatabaseError",
    "SimStats",
    "SimToken",
    "count_tickets",
    "create_app",
    "list_ticket_rows",
    "main",
    "seed_tickets",
    "start_simulator",
]

#: The fixed demo token of the quick start.
DEFAULT_TOKEN = "pmp-sim-demo-token-0123456789abcdef"
DEFAULT_DB_PATH = Path("gateway-data") / "pmp-sim.sqlite3"


def _tokens(
    token: str,
    allow_tables: Mapping[str, Grant] | Sequence[str] | None,
    extra_tokens: Sequence[SimToken],
) -> dict[str, SimToken]:
    if allow_tables is None:
        tables: dict[str, Grant] = dict(DEMO_ALLOWLIST)
    elif isinstance(allow_tables, Mapping):
        tables = dict(allow_tables)
    else:
        tables = dict(parse_allow_table(spec) for spec in allow_tables)
    main_token = SimToken(token, staff_id=1, tables=tables)
    out = {t.token: t for t in extra_tokens}
    out[token] = main_token
    return out


def parse_allow_table(spec: str) -> tuple[str, Grant]:
    """``NAME`` (read and write) or ``NAME:read`` / ``NAME:write``."""
    name, _, grant = spec.partition(":")
    if grant not in ("", "read", "write") or not name:
        raise ValueError(f"--allow-table {spec!r}: expected NAME, NAME:read or NAME:write")
    return name, "read" if grant == "read" else "write"


def create_app(
    db_path: str | Path,
    token: str,
    *,
    record_id: bool = False,
    seed_demo: bool = True,
    strip_ticket_html: bool | None = None,
    module: int = 3,
    allow_tables: Mapping[str, Grant] | Sequence[str] | None = None,
    extra_tokens: Sequence[SimToken] = (),
    rate_limit: int | None = None,
) -> web.Application:
    """Build the simulator's aiohttp application on the SQLite file ``db_path``.

    ``module`` 3 (default) behaves as module 3.x, 2 as seed 003's generation.
    ``record_id=True`` adds ``record_id`` to 2.x POST answers (3.x always has it).
    ``allow_tables``: the custom-table allowlist of ``token`` (names, ``NAME:read`` specs or a
    name -> grant map); None = the demo allowlist (``tblticket_replies``, ``tbldepartments``, write).
    ``extra_tokens``: more tokens (other staff, grants, denied resources) for tests.
    ``rate_limit``: requests per minute and token before 429 (3.x; None = never).
    ``strip_ticket_html`` (default :data:`routes.STRIP_TICKET_HTML`) strips HTML from new tickets.
    The database connection is available as ``app[DB_KEY]`` and closed on cleanup.
    """
    if not token:
        raise ValueError("the simulator needs a non-empty token")
    if module not in (2, 3):
        raise ValueError(f"unknown module generation {module!r} (2 or 3)")
    app = web.Application(middlewares=[routes.pmp_middleware])
    db = SimDB(db_path, seed_demo=seed_demo)
    app[DB_KEY] = db
    app[TOKEN_KEY] = token
    app[MODULE_KEY] = module
    app[TOKENS_KEY] = _tokens(token, allow_tables, extra_tokens)
    app[RATE_KEY] = RateLimiter(rate_limit)
    app[IDEM_KEY] = IdempotencyLocks()
    app[RECORD_ID_KEY] = record_id or module >= 3
    app[STRIP_HTML_KEY] = routes.STRIP_TICKET_HTML if strip_ticket_html is None else strip_ticket_html
    app[STATS_KEY] = SimStats()
    routes.add_routes(app)
    if module >= 3:
        add_v3_routes(app)

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
    module: int = 3,
    allow_tables: Mapping[str, Grant] | Sequence[str] | None = None,
    extra_tokens: Sequence[SimToken] = (),
    rate_limit: int | None = None,
) -> tuple[web.AppRunner, str]:
    """Start the simulator; return its runner (call ``await runner.cleanup()``) and base URL."""
    app = create_app(
        db_path,
        token,
        record_id=record_id,
        seed_demo=seed_demo,
        module=module,
        allow_tables=allow_tables,
        extra_tokens=extra_tokens,
        rate_limit=rate_limit,
    )
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
    """``gateway pmp-sim [--port 8090] [--db FILE] [--token TOKEN] [--record-id] [--module 2|3]
    [--allow-table NAME[:read|:write]]... [--no-demo] [--seed-tickets N [--seed-replies K]] [--rate-limit N]``."""
    parser = argparse.ArgumentParser(prog="gateway pmp-sim", description="Run the PMP (Perfex CRM API) simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--db", default=str(DEFAULT_DB_PATH), help="SQLite file (created with demo data)")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--record-id", action="store_true", help="add record_id to POST answers")
    parser.add_argument("--no-demo", action="store_true", help="do not seed demo data into a new database")
    parser.add_argument("--module", type=int, choices=(2, 3), default=3, help="module generation (default 3)")
    parser.add_argument(
        "--allow-table",
        action="append",
        metavar="NAME[:read|:write]",
        help="put a table on the custom-table allowlist (repeatable; default: the demo allowlist)",
    )
    parser.add_argument("--seed-tickets", type=int, default=0, metavar="N", help="bulk-insert N tickets first")
    parser.add_argument("--seed-replies", type=int, default=0, metavar="K", help="with --seed-tickets: K replies each")
    parser.add_argument("--rate-limit", type=int, default=None, metavar="N", help="3.x: 429 past N requests/minute")
    args = parser.parse_args(argv)
    try:
        allow = None if args.allow_table is None else dict(parse_allow_table(a) for a in args.allow_table)
    except ValueError as err:
        parser.error(str(err))
    if args.seed_tickets:
        with SimDB(Path(args.db), seed_demo=not args.no_demo) as db:
            first = seed_tickets(db, args.seed_tickets, replies=args.seed_replies)
        print(f"seeded tickets {first}..{first + args.seed_tickets - 1}", flush=True)

    async def serve() -> None:
        runner, url = await start_simulator(
            args.host,
            args.port,
            db_path=Path(args.db),
            token=args.token,
            record_id=args.record_id,
            seed_demo=not args.no_demo,
            module=args.module,
            allow_tables=allow,
            rate_limit=args.rate_limit,
        )
        print(f"PMP simulator (module {args.module}.x) listening on {url}", flush=True)
        print(f"authtoken: {args.token}", flush=True)
        print(f"database: {Path(args.db).resolve()}", flush=True)
        await sim_process.serve_until_signalled(runner)

    return sim_process.run("pmp-sim", serve)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
