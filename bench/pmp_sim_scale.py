"""The PMP simulator at scale: bulk seeding time and 3.x list-page latency.

Seeds N tickets (default 100,000) with K replies each into a fresh SQLite file, then
times a few paged list queries as the simulator runs them (SQL ``LIMIT``/``OFFSET`` with a
``COUNT(*)``), first page, a middle page, the last page and a sorted page.

    python -m bench.pmp_sim_scale [--tickets N] [--replies K]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gateway.pmp_sim import SimDB, seed_tickets
from gateway.pmp_sim.db import TICKETS_SOURCE
from gateway.pmp_sim.listing import parse_list_query


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--replies", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SimDB(Path(tmp) / "scale.sqlite3", seed_demo=True) as db:
        start = time.perf_counter()
        seed_tickets(db, args.tickets, replies=args.replies)
        print(f"seed {args.tickets} tickets x {args.replies} replies: {time.perf_counter() - start:.2f} s")
        columns = db.columns_of(TICKETS_SOURCE.select)
        last = max(1, (db.count_tickets() + 24) // 25)
        for label, query in (
            ("first page", {"page": "1"}),
            ("middle page", {"page": str(last // 2)}),
            ("last page", {"page": str(last)}),
            ("sorted -date", {"page": "1", "sort": "-date"}),
        ):
            q = parse_list_query(query, list(TICKETS_SOURCE.sortable), columns)
            start = time.perf_counter()
            rows, total = db.list_page(TICKETS_SOURCE, q)
            print(f"{label:>14}: {(time.perf_counter() - start) * 1000:7.1f} ms ({len(rows)} of {total})")


if __name__ == "__main__":
    main()
