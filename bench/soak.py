"""Soak: mixed dialects and writes against one gateway for N minutes; RSS over time and errors.

Seeds a PMP simulator (``--module`` 2 or 3, ``--tickets`` N), starts ``gateway serve``
(``--workers``, access log off) against it, and keeps ``--concurrency`` clients busy with a
mix of reads and writes in every dialect the gateway serves:

* WHMCS (form POST, JSON and XML): GetTickets page 1, a filtered GetTickets, GetTicket,
  GetTicketCounts, OpenTicket, AddTicketReply, UpdateTicket;
* Keliweb ``get-ticket``; Clientexec ``GET /api/ticket/{id}``; ReadyDesk ``get_tickets``.

Every ``--sample`` seconds it writes down each gateway process's ``VmRSS`` and the calls and
errors so far.  An error is any answer other than HTTP 200 with the dialect's success (the
first few are printed).  The report (markdown, also ``bench/results/soak.md``) gives the
samples, the RSS growth from the first sample after warm-up to the last, and the error count.

    python -m bench.soak --minutes 10
    python -m bench.soak --minutes 2 --module 2 --tickets 20000 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.scale import CLIENT_ID, CLIENT_SECRET, ROOT, TOKEN, free_port, gateway_config, process, status_kb


@dataclass
class Tally:
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    created: list[int] = field(default_factory=list)

    def fail(self, name: str, detail: str) -> None:
        self.errors[name] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{name}: {detail[:300]}")


class Client:
    """One simulated client: picks a call from the mix, checks the answer is a success."""

    def __init__(self, session: aiohttp.ClientSession, base: str, tickets: int, tally: Tally, rng: random.Random):
        self.s, self.base, self.tickets, self.tally, self.rng = session, base, tickets, tally, rng

    def some_ticket(self) -> int:
        if self.tally.created and self.rng.random() < 0.3:
            return self.rng.choice(self.tally.created[-200:])
        return self.rng.randint(1, self.tickets)

    async def whmcs(self, fmt: str = "json", **form: str) -> Any:
        body = {"identifier": CLIENT_ID, "secret": CLIENT_SECRET, "responsetype": fmt, **form}
        async with self.s.post(self.base + "/includes/api.php", data=body) as r:
            raw = await r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status} {raw[:200]!r}")
        if fmt == "xml":
            if b"<result>success</result>" not in raw:
                raise RuntimeError(raw[:300].decode(errors="replace"))
            return None
        answer = orjson.loads(raw)
        if answer.get("result") != "success":
            raise RuntimeError(str(answer)[:300])
        return answer

    async def get(self, path: str, headers: dict[str, str] | None = None, **params: str) -> bytes:
        async with self.s.get(self.base + path, params=params, headers=headers or {}) as r:
            raw = await r.read()
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status} {raw[:200]!r}")
            return raw

    async def one(self) -> None:
        name, call, _ = self.rng.choices(self.MIX, weights=[w for *_, w in self.MIX])[0]
        self.tally.calls[name] += 1
        try:
            await call(self)
        except Exception as exc:
            self.tally.fail(name, f"{type(exc).__name__}: {exc}")

    async def tickets_page(self) -> None:
        await self.whmcs(action="GetTickets", limitnum="25")

    async def tickets_filtered(self) -> None:
        await self.whmcs(action="GetTickets", limitnum="25", status="Open", deptid=str(self.rng.randint(1, 3)))

    async def ticket(self) -> None:
        await self.whmcs(action="GetTicket", ticketid=str(self.some_ticket()))

    async def ticket_xml(self) -> None:
        await self.whmcs("xml", action="GetTicket", ticketid=str(self.some_ticket()))

    async def counts(self) -> None:
        await self.whmcs(action="GetTicketCounts")

    async def open(self) -> None:
        answer = await self.whmcs(
            action="OpenTicket", deptid="2", clientid="1", subject="soak", message="opened by bench.soak"
        )
        self.tally.created.append(int(answer["id"]))

    async def reply(self) -> None:
        await self.whmcs(action="AddTicketReply", ticketid=str(self.some_ticket()), clientid="1", message="soak reply")

    async def update(self) -> None:
        status = self.rng.choice(["Open", "In Progress", "Answered", "On Hold"])
        await self.whmcs(action="UpdateTicket", ticketid=str(self.some_ticket()), status=status)

    async def keliweb(self) -> None:
        auth = {"Authorization": f"Bearer {CLIENT_SECRET}"}
        async with self.s.post(
            self.base + "/api/v2/keliweb/get-ticket", data={"ticketid": str(self.some_ticket())}, headers=auth
        ) as r:
            raw = await r.read()
            if r.status != 200 or orjson.loads(raw).get("result") != "success":
                raise RuntimeError(f"HTTP {r.status} {raw[:200]!r}")

    async def clientexec(self) -> None:
        await self.get(f"/api/ticket/{self.some_ticket()}", {"X-API-KEY": CLIENT_SECRET})

    async def readydesk(self) -> None:
        raw = await self.get(
            "/API/default.aspx", key=CLIENT_SECRET, format="json", action="get_tickets", tid=str(self.some_ticket())
        )
        if not orjson.loads(raw).get("tickets"):
            raise RuntimeError(raw[:200].decode(errors="replace"))

    MIX = (
        ("whmcs GetTickets", tickets_page, 12),
        ("whmcs GetTickets filtered", tickets_filtered, 6),
        ("whmcs GetTicket", ticket, 20),
        ("whmcs GetTicket xml", ticket_xml, 5),
        ("whmcs GetTicketCounts", counts, 5),
        ("whmcs OpenTicket", open, 4),
        ("whmcs AddTicketReply", reply, 4),
        ("whmcs UpdateTicket", update, 4),
        ("keliweb get-ticket", keliweb, 10),
        ("clientexec ticket", clientexec, 10),
        ("readydesk get_tickets", readydesk, 10),
    )


def gateway_pids(main: int) -> list[int]:
    """The serving processes: the main one and its children (``--workers`` > 1)."""
    children = Path(f"/proc/{main}/task/{main}/children")
    found = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [main, *found]


@dataclass
class Sample:
    at: float
    calls: int
    errors: int
    rss_mb: list[float]


async def soak(base: str, pid: int, args: argparse.Namespace) -> tuple[list[Sample], Tally]:
    tally = Tally()
    samples: list[Sample] = []
    stop = time.monotonic() + args.minutes * 60
    started = time.monotonic()

    def sample() -> None:
        rss = [status_kb(p, "VmRSS") / 1024 for p in gateway_pids(pid)]
        samples.append(Sample(time.monotonic() - started, sum(tally.calls.values()), sum(tally.errors.values()), rss))

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker(seed: int) -> None:
            client = Client(session, base, args.tickets, tally, random.Random(seed))
            while time.monotonic() < stop:
                await client.one()

        async def sampler() -> None:
            while time.monotonic() < stop:
                sample()
                await asyncio.sleep(min(args.sample, max(0.0, stop - time.monotonic())))
            sample()

        await asyncio.gather(sampler(), *(worker(i) for i in range(args.concurrency)))
    return samples, tally


def report(samples: list[Sample], tally: Tally, args: argparse.Namespace) -> str:
    lines = [
        f"Soak: module {args.module}.x, {args.tickets:,} tickets, {args.workers} worker(s), "
        f"{args.concurrency} clients, {args.minutes:g} min",
        "",
        "| t (s) | calls | errors | RSS MB per process |",
        "|---|---|---|---|",
    ]
    lines += [f"| {s.at:.0f} | {s.calls} | {s.errors} | {' / '.join(f'{r:.0f}' for r in s.rss_mb)} |" for s in samples]
    warm = samples[1] if len(samples) > 2 else samples[0]
    last = samples[-1]
    growth = [b - a for a, b in zip(warm.rss_mb, last.rss_mb, strict=False)]
    elapsed = max(1e-9, last.at)
    lines += [
        "",
        f"calls {last.calls} ({last.calls / elapsed:.0f}/s), errors {last.errors}; "
        f"RSS growth after warm-up ({warm.at:.0f} s -> {last.at:.0f} s): " + " / ".join(f"{g:+.1f} MB" for g in growth),
        "",
        "| call | count | errors |",
        "|---|---|---|",
        *(f"| {name} | {n} | {tally.errors[name]} |" for name, n in sorted(tally.calls.items())),
    ]
    if tally.examples:
        lines += ["", "First errors:", *(f"- {e}" for e in tally.examples)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--module", type=int, default=3, choices=(2, 3))
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between RSS samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sim_port, gw_port = free_port(), free_port()
        sim_args = ["-m", "gateway.pmp_sim", "--port", str(sim_port), "--db", str(tmp / "sim.sqlite3")]
        sim_args += ["--token", TOKEN, "--module", str(args.module), "--seed-tickets", str(args.tickets)]
        with process("simulator", sim_args, sim_port):
            conf = gateway_config(tmp, gw_port, sim_port, workers=args.workers)
            with process("gateway", ["-m", "gateway.cli", "serve", "--config", str(conf)], gw_port) as gw:
                print(f"soaking for {args.minutes:g} min ...", file=sys.stderr, flush=True)
                samples, tally = asyncio.run(soak(f"http://127.0.0.1:{gw_port}", gw.pid, args))
    text = report(samples, tally, args)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "soak.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
