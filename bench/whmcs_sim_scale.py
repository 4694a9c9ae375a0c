"""The WHMCS simulator at scale: bulk-seed N tickets, then time paged list calls over HTTP.

    python -m bench.whmcs_sim_scale [--tickets 100000] [--replies 2]

Prints the seeding time and the median latency of GetTickets pages at several offsets,
GetSupportDepartments and GetTicketCounts (aggregates over every ticket).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from gateway.whmcs_sim import DEFAULT_IDENTIFIER, DEFAULT_SECRET, SimDB, seed_bulk_tickets, start_simulator
from gateway.whmcs_sim.db import seed_demo


async def _time(session: aiohttp.ClientSession, url: str, action: str, runs: int = 5, **params: str) -> float:
    data = {"identifier": DEFAULT_IDENTIFIER, "secret": DEFAULT_SECRET, "responsetype": "json", "action": action}
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        async with session.post(url, data={**data, **params}) as resp:
            body = await resp.json()
        samples.append(time.perf_counter() - start)
        assert body["result"] == "success", body
    return statistics.median(samples) * 1000


async def main(tickets: int, replies: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.sqlite3"
        db = SimDB(path)
        seed_demo(db, {"departments": [{"id": i, "name": f"Dept {i}"} for i in range(1, 5)]})
        start = time.perf_counter()
        seed_bulk_tickets(db, tickets, replies)
        print(f"seeded {tickets} tickets (+{replies} replies each) in {time.perf_counter() - start:.1f}s")
        db.close()
        runner, root = await start_simulator(db_path=path, seed=False)
        url = root + "includes/api.php"
        try:
            async with aiohttp.ClientSession() as session:
                for offset in (0, tickets // 2, max(tickets - 25, 0)):
                    ms = await _time(session, url, "GetTickets", limitstart=str(offset), limitnum="25")
                    print(f"GetTickets limitstart={offset}: {ms:.1f} ms")
                ms = await _time(session, url, "GetTickets", status="Open", limitstart=str(tickets // 10))
                print(f"GetTickets status=Open deep page: {ms:.1f} ms")
                for action in ("GetSupportDepartments", "GetTicketCounts", "GetSupportStatuses"):
                    print(f"{action}: {await _time(session, url, action):.1f} ms")
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--replies", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.tickets, args.replies))
