"""Translation cost per request, no HTTP: PMP JSON -> canonical -> client bytes, per dialect.

For every dialect the gateway has (and whose mappings load), with the real
compiled mappings, dialect and service, against a hand-written Python
translation of the same payload (``bench/handwritten.py``):

* ``GetTicket``: one PMP ticket row (bytes, as the backend sends them) -> the
  client's response, end to end: action lookup, parameter mapping, argument
  model, service, PMP parse, result mapping, envelope, JSON, ``web.Response``;
* ``ticket, 10 replies (render)``: PMP tickets carry only their opening
  message, so a canonical Ticket with ten replies is built directly and
  rendered (result mapping + envelope + JSON + ``web.Response``);
* ``GetTickets, 25``: a list of 25 rows -> the client's page of 25, end to end;
* ``PMP row parse``: one row's bytes -> canonical Ticket (part of the first);
* the "changed" rows: the same, with the adapter's memo of unchanged answers
  defeated, so every answer is decoded and mapped from scratch (GetTicket by the
  fused translation, ``gateway/mapping/fuse.py``, where the dialect's ticket
  render composes with the PMP parse: WHMCS, Keliweb, Clientexec).

The backend is a :class:`gateway.backends.pmp.PMPBackend` whose transport
answers pre-encoded bytes (like ``gateway translate``'s replay, without
re-encoding the document on every call).  Before timing, each hand-written
result is checked to equal the gateway's (wall-clock fields aside).

    python -m bench.translate_bench [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from bench import handwritten as hw
from bench import payload
from gateway import canonical as c
from gateway import context, pipeline
from gateway.app import dialect_classes, zone_config
from gateway.backends import http
from gateway.backends.pmp import PMPBackend
from gateway.cli import steady_gc
from gateway.dialects.base import Dialect, Inbound
from gateway.mapping.compiler import MEMO_SIZE
from gateway.mapping.loader import MappingSet, load_mappings
from gateway.service import Service
from gateway.settings import Settings
from gateway.store import MemoryStore

VOLATILE = {"timestamp", "elapsed", "time_elapsed_in_minutes"}


_NO_DATA = http.Reply(404, {"Content-Type": "application/json"}, b'{"status":false,"message":"No data were found"}')


class ReplayTransport:
    """The real adapter's transport, answering fixed bytes (no network, no re-encoding).

    ``cold``: every answer differs from the last in every row (an extra column no mapping
    reads, alternating between two values), so neither the adapter's memo of unchanged
    answers nor its memo of unchanged rows hits: each answer is decoded, parsed and
    rendered from scratch."""

    def __init__(self, one: bytes, many: bytes, cold: bool = False) -> None:
        self._one = (one, _nonce(one, 1)) if cold else (one, one)
        self._many = (many, _nonce(many, 1)) if cold else (many, many)
        self.cold = cold
        self._flip = 0

    async def __call__(self, method: str, url: str, **kw: Any) -> http.Reply:
        path = url.split("replay.invalid/", 1)[-1]
        if not path.startswith("api/tickets"):
            return _NO_DATA  # discovery: a module with nothing beyond tickets
        bodies = self._many if path.split("?")[0].rstrip("/") == "api/tickets" else self._one
        self._flip ^= 1
        return http.Reply(200, {"Content-Type": "application/json"}, bodies[self._flip])


def _nonce(body: bytes, value: int) -> bytes:
    """The same answer with a column no mapping reads added to each row."""
    data = orjson.loads(body)
    rows = data if isinstance(data, list) else [data]
    for row in rows:
        row["bench_nonce"] = str(value)
    return orjson.dumps(data)


def replay_backend(mappings: MappingSet, one: bytes, many: bytes, cold: bool = False) -> PMPBackend:
    transport = ReplayTransport(one, many, cold)
    return PMPBackend("http://replay.invalid/", "x", mappings["pmp"], MemoryStore(), transport=transport)


@dataclass
class Case:
    label: str
    gateway: Callable[[], Awaitable[web.Response]]
    hand: Callable[[], Awaitable[web.Response]]


@dataclass
class Row:
    dialect: str
    case: str
    gateway_us: float
    hand_us: float | None

    @property
    def ratio(self) -> float | None:
        return self.gateway_us / self.hand_us if self.hand_us else None


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


async def _pipeline(dialect: Dialect, service: Service, inbound: Inbound) -> web.Response:
    """What ``Dialect.handle`` does after reading and authenticating the request: the shared pipeline."""
    return await pipeline.respond(dialect, service, inbound)


def ten_replies(base: c.Ticket) -> c.Ticket:
    start = base.created_at or datetime(2024, 3, 1, 9, 0)
    replies = [base.replies[0]] if base.replies else []
    for i in range(1, 10):
        staff = i % 2 == 0
        author = (
            c.Author(kind="staff", staff_id=3, name="Sara Bianchi", email="sara@helpdesk.example")
            if staff
            else base.requester
        )
        replies.append(
            c.Reply(
                id=100 + i,
                created_at=start + timedelta(hours=i),
                message=f"Reply {i}: " + ("We are looking into it.\r\nRegards" if staff else "Any news?\r\nThanks"),
                author=author,
            )
        )
    return base.model_copy(
        update={"replies": tuple(replies), "number": str(base.id), "last_reply_at": start + timedelta(hours=9)}
    )


def build_cases(mappings: MappingSet, cold: bool = False) -> dict[str, list[Case]]:
    one, many = payload.ticket_bytes(), payload.list_bytes(25)
    single_list = orjson.dumps([payload.ticket_row(1)])
    backend = replay_backend(mappings, one, many, cold)
    service = Service(backend, MemoryStore())
    rd_backend = replay_backend(mappings, one, single_list, cold)
    rd_service = Service(rd_backend, MemoryStore())
    settings = Settings()
    parsed = backend._parse("ticket", orjson.loads(one), c.Ticket)
    # the render case renders a new object each time (as a changed record is): more distinct
    # copies than the render memo holds, taken in turn
    pool = [ten_replies(parsed).model_copy(deep=True) for _ in range(2 * MEMO_SIZE + 1)]
    rich = itertools.cycle(pool).__next__
    out: dict[str, list[Case]] = {}
    classes = dialect_classes()
    for name, cls in classes.items():
        vm = mappings.get(cls.vendor)
        if vm is None:
            continue
        dialect = cls(settings.dialect(name), vm)
        cases: list[Case] = []
        if name in ("whmcs", "keliweb"):
            get_name, list_name = ("GetTicket", "GetTickets") if name == "whmcs" else ("get-ticket", "get-tickets")
            ib1 = Inbound(
                action=get_name, params={"action": "GetTicket", "ticketid": "1", "responsetype": "json"}, fmt="json"
            )
            ib25 = Inbound(
                action=list_name, params={"action": "GetTickets", "limitnum": "25", "responsetype": "json"}, fmt="json"
            )
            spec1 = dialect.find_action(ib1)

            async def g1(d: Dialect = dialect, ib: Inbound = ib1) -> web.Response:
                return await _pipeline(d, service, ib)

            async def h1() -> web.Response:
                return hw.json_response(hw.whmcs_ticket_row(orjson.loads(one)))

            async def gr(d: Dialect = dialect, ib: Inbound = ib1, spec: Any = spec1) -> web.Response:
                return d.success(ib, spec, spec.result(rich()))

            async def hr() -> web.Response:
                return hw.json_response(hw.whmcs_ticket(rich()))

            async def g25(d: Dialect = dialect, ib: Inbound = ib25) -> web.Response:
                return await _pipeline(d, service, ib)

            async def h25() -> web.Response:
                return hw.json_response(hw.whmcs_list_rows(orjson.loads(many), 0, 25))

        elif name == "clientexec":
            ib1 = Inbound(action="GetTicket", params={"ticket": "1"}, fmt="json")
            ib25 = Inbound(action="ListTickets", params={}, fmt="json")
            spec1 = dialect.find_action(ib1)

            async def g1(d: Dialect = dialect, ib: Inbound = ib1) -> web.Response:
                return await _pipeline(d, service, ib)

            async def h1() -> web.Response:
                return hw.json_response(hw.clientexec_ticket_row(orjson.loads(one), time.perf_counter()))

            async def gr(d: Dialect = dialect, ib: Inbound = ib1, spec: Any = spec1) -> web.Response:
                return d.success(ib, spec, spec.result(rich()))

            async def hr() -> web.Response:
                return hw.json_response(hw.clientexec_ticket(rich(), time.perf_counter()))

            async def g25(d: Dialect = dialect, ib: Inbound = ib25) -> web.Response:
                return await _pipeline(d, service, ib)

            async def h25() -> web.Response:
                return hw.json_response(hw.clientexec_list_rows(orjson.loads(many), time.perf_counter()))

        elif name == "readydesk":
            ib1 = Inbound(action="get_tickets", params={"action": "get_tickets", "format": "json"}, fmt="json")
            ib25 = ib1
            spec1 = dialect.find_action(ib1)
            one_ticket = vm.model("one_ticket")

            async def g1(d: Dialect = dialect, ib: Inbound = ib1) -> web.Response:
                return await _pipeline(d, rd_service, ib)

            async def h1() -> web.Response:
                return hw.json_response(hw.readydesk_list_rows(orjson.loads(single_list)))

            async def gr(  # type: ignore[misc]
                d: Dialect = dialect, ib: Inbound = ib1, spec: Any = spec1, render: Any = one_ticket
            ) -> web.Response:
                return d.success(ib, spec, render(rich()))

            async def hr() -> web.Response:
                return hw.json_response(hw.readydesk_ticket(rich()))

            async def g25(d: Dialect = dialect, ib: Inbound = ib25) -> web.Response:
                return await _pipeline(d, service, ib)

            async def h25() -> web.Response:
                return hw.json_response(hw.readydesk_list_rows(orjson.loads(many)))

        else:
            continue
        if cold:
            cases.append(Case("GetTicket, changed row (row -> bytes)", g1, h1))
            cases.append(Case("GetTickets, 25 changed (rows -> bytes)", g25, h25))
        else:
            cases.append(Case("GetTicket (row -> bytes)", g1, h1))
            cases.append(Case("ticket, 10 replies (render, new object)", gr, hr))
            cases.append(Case("GetTickets, 25 (rows -> bytes)", g25, h25))
        out[name] = cases
    if cold:
        return out

    async def parse() -> Any:
        return backend._parse("ticket", orjson.loads(one), c.Ticket)

    out["pmp"] = [Case("PMP row parse (bytes -> Ticket)", parse, None)]  # type: ignore[arg-type]
    return out


async def _time(fn: Callable[[], Awaitable[Any]], budget: float, repeats: int) -> float:
    """Best of ``repeats`` runs, each about ``budget`` seconds; CPU microseconds per call.

    The thread's CPU time, not the wall clock: on a shared machine, time the process spends
    waiting for a core is not the translation's cost."""
    clock = time.thread_time
    n = 1
    while True:
        t0 = clock()
        for _ in range(n):
            await fn()
        dt = clock() - t0
        if dt >= budget / 4:
            break
        n *= 2
    n = max(1, int(n * budget / max(dt, 1e-9)))
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        for _ in range(n):
            await fn()
        best = min(best, (clock() - t0) / n)
    return best * 1e6


async def _check(name: str, case: Case) -> str | None:
    g, h = await case.gateway(), await case.hand()
    gb, hb = _strip(orjson.loads(g.body)), _strip(orjson.loads(h.body))  # type: ignore[arg-type]
    if gb != hb:
        diff = [k for k in set(gb) | set(hb) if gb.get(k) != hb.get(k)] if isinstance(gb, dict) else "?"
        return f"{name} / {case.label}: hand-written output differs from the gateway's in {diff}"
    return None


async def run(quick: bool = False) -> tuple[list[Row], list[str]]:
    mappings = load_mappings(None, zone_config(Settings()))
    # warm: the backend answers what it answered before (the adapter reuses its mapping);
    # cold: every answer is new, decoded and mapped from scratch
    cases = build_cases(mappings)
    for name, items in build_cases(mappings, cold=True).items():
        cases[name] = [*cases.get(name, []), *items]
    budget, repeats = (0.05, 5) if quick else (0.2, 7)
    rows: list[Row] = []
    problems: list[str] = []
    token = context.begin(context.RequestContext(deadline=time.monotonic() + 1e9))
    # the collector tuned as `serve` tunes it once started (the hand-written code runs under the same)
    threshold = gc.get_threshold()
    steady_gc()
    try:
        for name, items in cases.items():
            for case in items:
                if case.hand is not None:
                    problem = await _check(name, case)
                    if problem:
                        problems.append(problem)
                g = await _time(case.gateway, budget, repeats)
                h = await _time(case.hand, budget, repeats) if case.hand is not None else None
                rows.append(Row(name, case.label, g, h))
    finally:
        context.end(token)
        gc.unfreeze()
        gc.set_threshold(*threshold)
    return rows, problems


def table(rows: list[Row]) -> str:
    out = [
        "| dialect | payload | gateway µs/op | hand-written µs/op | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        hand = f"{r.hand_us:.1f}" if r.hand_us else "-"
        ratio = f"{r.ratio:.2f}x" if r.ratio else "-"
        out.append(f"| {r.dialect} | {r.case} | {r.gateway_us:.1f} | {hand} | {ratio} |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    ns = p.parse_args()
    rows, problems = asyncio.run(run(ns.quick))
    print(table(rows))
    for line in problems:
        print("WARNING:", line)


if __name__ == "__main__":
    main()
