"""Lists, counts and statistics of the service, served by the header index and backend pages,
against the PMP simulator (real HTTP on loopback), checked against a brute-force computation
over every ticket the backend holds."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway import canonical as c
from gateway import context
from gateway import operations as ops
from gateway.backends.pmp import PMPBackend
from gateway.mapping.loader import PACKAGED_ROOT, VendorMappings, load_mappings
from gateway.pmp_sim import DB_KEY, SimDB, create_app
from gateway.service import Service
from gateway.store import MemoryStore

TOKEN = "test-token-123"
N = 240


@pytest.fixture(scope="module")
def mappings(tmp_path_factory: pytest.TempPathFactory) -> VendorMappings:
    root = tmp_path_factory.mktemp("mappings")
    (root / "pmp").symlink_to(PACKAGED_ROOT / "pmp", target_is_directory=True)
    return load_mappings(roots=[root])["pmp"]


def seed(db: SimDB, n: int) -> None:
    rnd = random.Random(11)
    for i in range(n):
        contact = rnd.choice([0, 1, 2, 3])
        db.insert_ticket(
            {
                "userid": 0 if contact == 0 else rnd.choice([1, 2]),
                "contactid": contact,
                "email": f"guest{i % 4}@example.net" if contact == 0 else None,
                "name": "Guest" if contact == 0 else None,
                "department": rnd.choice([1, 2, 3]),
                "priority": rnd.choice([1, 2, 3]),
                "status": rnd.choice([1, 2, 3, 4, 5]),
                "subject": rnd.choice(["Invoice", "Login problem", "DNS", "Refund please"]) + f" #{i}",
                "message": f"message {i}",
                "date": f"2024-0{1 + i % 9}-{10 + i % 18:02d} 10:{i % 60:02d}:00",
                "ticketkey": f"k{i}",
            }
        )


class World:
    def __init__(self, service: Service, backend: PMPBackend, db: SimDB, calls: list[str]) -> None:
        self.service = service
        self.backend = backend
        self.db = db
        self.calls = calls

    async def every_ticket(self) -> list[c.Ticket]:
        return list(await self.backend.list_tickets())


@pytest.fixture(params=[2, 3], ids=["2.x", "3.x"])
async def world(request: pytest.FixtureRequest, tmp_path: Path, mappings: VendorMappings) -> AsyncIterator[World]:
    calls: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        calls.append(f"{request.method} {request.path_qs}")
        return await handler(request)  # type: ignore[no-any-return]

    app = create_app(tmp_path / "sim.db", TOKEN, seed_demo=True, module=request.param)
    app.middlewares.insert(0, record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    db = app[DB_KEY]
    seed(db, N)
    context.begin(context.RequestContext(deadline=time.monotonic() + 60))
    async with aiohttp.ClientSession() as session:
        backend = PMPBackend(url, TOKEN, mappings, MemoryStore(), session=session)
        service = Service(backend, MemoryStore(), max_staleness=5)
        yield World(service, backend, db, calls)
        await service.index.close()
    await runner.cleanup()


def brute(tickets: list[c.Ticket], keep: Any, key: Any, descending: bool = False) -> list[int]:
    return [t.id for t in sorted((t for t in tickets if keep(t)), key=key, reverse=descending)]


CASES: list[tuple[dict[str, Any], Any, Any]] = [
    ({"department_id": 2}, lambda t: t.department.id == 2, lambda t: t.id),
    ({"customer_id": 1}, lambda t: t.customer_id == 1, lambda t: t.id),
    ({"statuses": frozenset({c.Status.OPEN, c.Status.ANSWERED})}, lambda t: t.status in {"open", "answered"}, None),
    ({"priorities": c.Priority.HIGH}, lambda t: t.priority is c.Priority.HIGH, None),
    ({"email": "GUEST2@example.net"}, lambda t: t.requester.email == "guest2@example.net", None),
    ({"subject": "login"}, lambda t: "login" in t.subject.casefold(), None),
    ({"id_min": 50, "id_max": 90}, lambda t: 50 <= t.id <= 90, None),
    ({"ticket_ids": (3, 7, 200, 9999)}, lambda t: t.id in (3, 7, 200), None),
    (
        {"created_from": datetime(2024, 3, 1, tzinfo=UTC), "created_to": datetime(2024, 6, 1, tzinfo=UTC)},
        lambda t: datetime(2024, 3, 1, tzinfo=UTC) <= t.created_at <= datetime(2024, 6, 1, tzinfo=UTC),
        None,
    ),
    ({"number_glob": "1?"}, lambda t: len(str(t.id)) == 2 and str(t.id).startswith("1"), None),
    ({"department_id": 3, "order_by": "subject"}, lambda t: t.department.id == 3, lambda t: (t.subject.casefold(),)),
    (
        {"statuses": c.Status.CLOSED, "order_by": "created_at", "descending": True},
        lambda t: t.status is c.Status.CLOSED,
        lambda t: (t.created_at, t.id),
    ),
    ({"order_by": "last_reply_at"}, lambda t: True, lambda t: (t.last_reply_at or t.created_at, t.id)),
]


@pytest.mark.parametrize("case", range(len(CASES)))
async def test_filtered_pages_match_brute_force(world: World, case: int) -> None:
    filters, keep, key = CASES[case]
    every = await world.every_ticket()
    descending = bool(filters.get("descending"))
    want = brute(every, keep, key or (lambda t: t.id), descending)
    for offset, limit in ((0, 25), (10, 7), (len(want), 5)):
        page = await world.service.list_tickets(ops.ListTicketsArgs(offset=offset, limit=limit, **filters))
        assert page.total == len(want)
        assert [t.id for t in page.items] == want[offset : offset + limit]
    counted = await world.service.list_tickets(ops.ListTicketsArgs(count_only=True, **filters))
    assert counted.total == len(want) and counted.items == ()


async def test_counts_and_department_statistics_match_brute_force(world: World) -> None:
    every = await world.every_ticket()
    counts = await world.service.ticket_counts(ops.TicketCountsArgs(by_status=True))
    assert counts.all_active == sum(1 for t in every if t.status in c.ACTIVE_STATUSES)
    assert counts.awaiting_reply == sum(1 for t in every if t.status in c.AWAITING_REPLY_STATUSES)
    by_status = {s.status: s.count for s in counts.by_status}
    for status in {t.status for t in every}:
        assert by_status[status] == sum(1 for t in every if t.status == status)
    stats = await world.service.list_departments(ops.DepartmentStatsArgs())
    assert stats.items
    for d in stats.items:
        mine = [t for t in every if t.department is not None and t.department.id == d.id]
        assert d.open_tickets == sum(1 for t in mine if t.status in c.ACTIVE_STATUSES)
        assert d.awaiting_reply == sum(1 for t in mine if t.status in c.AWAITING_REPLY_STATUSES)
    statuses = await world.service.list_statuses(ops.DepartmentStatsArgs(department_id=1))
    for s in statuses.items:
        assert s.count == sum(
            1 for t in every if t.department is not None and t.department.id == 1 and t.status == s.status
        )


async def test_a_page_reads_only_its_own_tickets_and_the_index_once(world: World) -> None:
    args = ops.ListTicketsArgs(offset=0, limit=10, department_id=1)
    await world.service.list_tickets(args)
    world.calls.clear()
    page = await world.service.list_tickets(ops.ListTicketsArgs(offset=10, limit=10, department_id=1))
    singles = [call for call in world.calls if call.startswith("GET /api/tickets/")]
    assert len(singles) == len(page.items) == 10  # the page's tickets, each once
    assert len(world.calls) == 10  # the index is fresh: no listing


async def test_gateway_writes_show_at_once_and_outside_changes_within_the_bound(world: World) -> None:
    args = ops.ListTicketsArgs(limit=500, statuses=c.Status.ON_HOLD)
    before = {t.id for t in (await world.service.list_tickets(args)).items}
    target = next(t for t in await world.every_ticket() if t.id not in before)
    await world.service.update_ticket(ops.UpdateTicketArgs(ticket_id=target.id, status=c.Status.ON_HOLD))
    after = {t.id for t in (await world.service.list_tickets(args)).items}
    assert after == before | {target.id}  # at once, although the index is well within its bound
    # a change made in the backend itself is seen once the bound has passed
    other = next(t for t in await world.every_ticket() if t.id not in after)
    world.db.update_ticket(other.id, {"status": 4})
    world.service.index._taken_at -= 5.0  # the bound (5 s) has passed
    seen = {t.id for t in (await world.service.list_tickets(args)).items}
    assert other.id in seen


async def test_page_rows_are_kept_with_their_snapshot_and_never_across_a_write(world: World) -> None:
    args = ops.ListTicketsArgs(limit=10, department_id=3)
    first = await world.service.list_tickets(args)
    world.calls.clear()
    assert await world.service.list_tickets(args) == first
    assert world.calls == []  # the rows were read since the snapshot that lists them
    target, outside = first.items[0], first.items[1]
    await world.service.update_ticket(ops.UpdateTicketArgs(ticket_id=target.id, subject="Changed here"))
    world.db.update_ticket(outside.id, {"subject": "Changed outside"})
    world.calls.clear()
    page = await world.service.list_tickets(args)
    assert page.items[0].subject == "Changed here"  # a write through the gateway: at once
    assert world.calls == [f"GET /api/tickets/{target.id}"]  # that row alone is read again
    assert [t.id for t in page.items] == [t.id for t in first.items]  # (in its place among the kept)
    assert page.items[1:] == first.items[1:]
    world.service.index._taken_at -= 5.0  # the bound (5 s) has passed: a new snapshot, new rows
    page = await world.service.list_tickets(args)
    assert page.items[1].subject == "Changed outside"


# ------------------------------------------------------------------ module 3.x: pages, never a full listing


@pytest.fixture
async def world3(tmp_path: Path, mappings: VendorMappings) -> AsyncIterator[World]:
    from gateway.pmp_sim import seed_tickets

    calls: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        calls.append(f"{request.method} {request.path_qs}")
        return await handler(request)  # type: ignore[no-any-return]

    app = create_app(tmp_path / "sim3.db", TOKEN, seed_demo=True, module=3)
    app.middlewares.insert(0, record)
    seed_tickets(app[DB_KEY], 450)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    context.begin(context.RequestContext(deadline=time.monotonic() + 60))
    async with aiohttp.ClientSession() as session:
        backend = PMPBackend(url, TOKEN, mappings, MemoryStore(), session=session)
        service = Service(backend, MemoryStore(), max_staleness=5)
        yield World(service, backend, app[DB_KEY], calls)
        await service.index.close()
    await runner.cleanup()


def _listings(calls: list[str]) -> list[str]:
    return [c for c in calls if c.split("?")[0] == "GET /api/tickets"]


async def test_3x_page_one_is_one_backend_page(world3: World) -> None:
    page = await world3.service.list_tickets(ops.ListTicketsArgs(offset=0, limit=25))
    assert [t.id for t in page.items] == list(range(1, 26)) and page.total == 456
    assert world3.calls == ["GET /api/tickets?page=1&per_page=25&sort=ticketid"]
    world3.calls.clear()
    page = await world3.service.list_tickets(ops.ListTicketsArgs(offset=200, limit=25, descending=True))
    assert [t.id for t in page.items] == list(range(256, 231, -1)) and page.total == 456
    assert world3.calls == ["GET /api/tickets?page=9&per_page=25&sort=-ticketid"]


async def test_3x_index_reads_projected_pages_never_a_full_listing(world3: World) -> None:
    every = await world3.every_ticket()
    world3.calls.clear()
    page = await world3.service.list_tickets(ops.ListTicketsArgs(limit=25, department_id=2))
    assert [t.id for t in page.items] == [t.id for t in every if t.department and t.department.id == 2][:25]
    listings = _listings(world3.calls)
    assert len(listings) == 5  # 456 headers, 100 a page
    assert all("page=" in c and "per_page=100" in c and "fields=" in c for c in listings)
    assert len(world3.calls) == 5 + 25  # and the page's own tickets, one read each
    world3.calls.clear()
    await world3.service.ticket_counts(ops.TicketCountsArgs(by_status=True))
    await world3.service.list_departments(ops.DepartmentStatsArgs())
    assert _listings(world3.calls) == []  # the index is fresh


async def test_2x_large_table_pages_come_from_the_index(tmp_path: Path, mappings: VendorMappings) -> None:
    from gateway.pmp_sim import seed_tickets

    calls: list[str] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        calls.append(f"{request.method} {request.path_qs}")
        return await handler(request)  # type: ignore[no-any-return]

    app = create_app(tmp_path / "sim2.db", TOKEN, seed_demo=True, module=2)
    app.middlewares.insert(0, record)
    seed_tickets(app[DB_KEY], 900)  # a whole table well above what a page request may read
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    context.begin(context.RequestContext(deadline=time.monotonic() + 60))
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
            service = Service(PMPBackend(url, TOKEN, mappings, MemoryStore(), session=session), MemoryStore())
            for _ in range(2):
                calls.clear()
                page = await service.list_tickets(ops.ListTicketsArgs(offset=0, limit=25))
                assert [t.id for t in page.items] == list(range(1, 26)) and page.total == 906
            # the second time: no listing (the index is fresh), and no read of the page's tickets
            # either: they were read since the snapshot that lists them
            assert calls == []
            calls.clear()
            page = await service.list_tickets(ops.ListTicketsArgs(offset=25, limit=25))
            assert sorted(calls) == sorted(f"GET /api/tickets/{i}" for i in range(26, 51))
            await service.index.close()
    finally:
        await runner.cleanup()


def test_a_list_is_unfiltered_exactly_when_every_filter_is_none() -> None:
    from gateway.service import _FILTERS, _unfiltered

    assert _unfiltered(ops.ListTicketsArgs())
    for name in _FILTERS:
        values: dict[str, Any] = {name: object()}  # any set value (built as it is, not validated)
        args = ops.ListTicketsArgs.model_construct(**values)
        assert getattr(args, name) is not None
        assert not _unfiltered(args), name
        values[name] = None
        assert _unfiltered(ops.ListTicketsArgs.model_construct(**values))


async def test_a_list_with_messages_reads_the_conversation_once(world: World) -> None:
    """A list whose dialect shows messages (ReadyDesk): every ticket completed once, not again for
    its page, and each shows the replies a read of that ticket alone shows."""
    backend = world.backend
    asked: list[int] = []
    with_replies = backend.with_replies

    async def counted(tickets: Any) -> list[c.Ticket]:
        asked.append(len(tickets))
        return await with_replies(tickets)

    backend.with_replies = counted  # type: ignore[method-assign]
    args = ops.ListTicketsArgs(offset=3, limit=None, with_messages=True, keyword="message 1")
    page = await world.service.list_tickets(args)
    assert asked == [len(await world.every_ticket())]  # one pass, over every listed ticket
    assert page.items and all("message 1" in t.replies[0].message for t in page.items)
    for shown in page.items[:5]:
        alone = await world.service.get_ticket(ops.GetTicketArgs(ticket_id=shown.id))
        assert [r.message for r in shown.replies] == [r.message for r in alone.replies]


async def test_an_exact_number_names_the_tickets_showing_it_as_a_scan_of_every_number_would(world: World) -> None:
    """A number without wildcards (ReadyDesk's tid) is found by the store's links and the id,
    not by testing every row: the same tickets as matching every ticket's shown number (its link,
    else its id), alone, with other filters and with named tickets; a wildcard still scans."""
    import fnmatch

    store = world.service.store
    await store.link("ticket", "LEGACY-7", 7)  # ticket 7 shows LEGACY-7, no longer "7"
    await store.link("ticket", "5", 12)  # ticket 12 shows "5", as ticket 5 does
    await store.link("ticket", "009", 9)  # "9" is no longer ticket 9's number; "009" is
    every = await world.every_ticket()
    links = await store.numbers_for("ticket", [t.id for t in every])

    def shown(t: c.Ticket) -> str:
        return links.get(t.id) or str(t.id)

    cases: list[dict[str, Any]] = [
        {"number_glob": g}
        for g in ("5", "7", "LEGACY-7", "legacy-7", "9", "009", "05", "0", "12", "100", "99999", "", "5 ", "1?", "*-7")
    ]
    cases += [
        {"number_glob": "5", "department_id": 2},
        {"number_glob": "5", "ticket_ids": (12, 40)},
        {"number_glob": "100", "statuses": frozenset({c.Status.OPEN, c.Status.CLOSED})},
    ]
    for filters in cases:
        glob = filters["number_glob"]
        dept, named, statuses = filters.get("department_id"), filters.get("ticket_ids"), filters.get("statuses")
        want = [
            t.id
            for t in sorted(every, key=lambda t: t.id)
            if fnmatch.fnmatchcase(shown(t), glob)
            and (dept is None or (t.department is not None and t.department.id == dept))
            and (named is None or t.id in named)
            and (statuses is None or t.status in statuses)
        ]
        for limit in (25, None):
            page = await world.service.list_tickets(ops.ListTicketsArgs(offset=0, limit=limit, **filters))
            assert sorted(t.id for t in page.items) == want, filters
            assert page.total == len(want), filters
            assert all(t.number == shown(t) for t in page.items), filters


async def test_an_exact_number_asks_the_store_for_one_ticket_not_every_one(world: World) -> None:
    store = world.service.store
    asked: list[int] = []
    numbers_for = store.numbers_for

    async def counting(kind: str, ids: Any) -> dict[int, str]:
        ids = list(ids)
        asked.append(len(ids))
        return await numbers_for(kind, ids)

    store.numbers_for = counting  # type: ignore[method-assign,assignment]
    await world.service.list_tickets(ops.ListTicketsArgs(offset=0, limit=25, number_glob="17"))
    assert asked and max(asked) == 1  # the ticket of id 17, and the page's one ticket
    asked.clear()
    await world.service.list_tickets(ops.ListTicketsArgs(offset=0, limit=25, number_glob="1*"))
    assert max(asked) >= N  # a wildcard tests every ticket's number
