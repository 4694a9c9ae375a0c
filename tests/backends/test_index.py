"""The header index: freshness bound, stale-while-revalidate, single refresh, writes, cross-worker generations.

The loader here is a plain table the test edits (standing for the backend's
data) with a counter of full reads; the clock is the test's, so that ages are
exact without sleeping.  Cross-worker tests use two SQLite stores on one file,
as two ``--workers`` processes do.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.backends.base import TicketHeader
from gateway.backends.index import HeaderIndex, Query, Snapshot, select, sort_key, tally, window
from gateway.canonical import Priority, Status
from gateway.errors import BackendUnavailable
from gateway.store import SQLiteStore


def header(i: int, status: Status = Status.OPEN, dept: int = 1, subject: str = "") -> TicketHeader:
    created = datetime(2024, 1, 1, tzinfo=UTC).replace(day=1 + i % 28)
    return TicketHeader(
        i, status, Priority.MEDIUM, dept, i % 3, 0, f"u{i % 5}@x.example", subject or f"s{i}", created, None
    )


class Backend:
    """The data behind the index, a read counter, and a gate that holds reads while closed."""

    def __init__(self, n: int = 5) -> None:
        self.rows = {i: header(i) for i in range(1, n + 1)}
        self.reads = 0
        self.fetches = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def load(self) -> list[TicketHeader]:
        self.reads += 1
        await self.gate.wait()
        if self.fail:
            raise BackendUnavailable("down")
        return list(self.rows.values())

    async def fetch(self, ticket_id: int) -> TicketHeader | None:
        self.fetches += 1
        return self.rows.get(ticket_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(backend: Backend, clock: Clock, bound: float = 5.0, store: SQLiteStore | None = None) -> HeaderIndex:
    return HeaderIndex(backend.load, backend.fetch, store=store, max_staleness=bound, clock=clock)


def ids(index_snapshot: object) -> list[int]:
    snap = index_snapshot
    return sorted(snap.ids[p] for p in snap.rows())  # type: ignore[attr-defined]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_served_from_memory_within_half_the_bound() -> None:
    backend, clock = Backend(), Clock()
    index = make(backend, clock)
    assert ids(await index.snapshot()) == [1, 2, 3, 4, 5]
    backend.rows[6] = header(6)  # changed outside the gateway
    clock.now += 2.4
    assert ids(await index.snapshot()) == [1, 2, 3, 4, 5]
    assert backend.reads == 1


async def test_past_half_the_bound_served_at_once_and_refreshed_behind() -> None:
    backend, clock = Backend(), Clock()
    index = make(backend, clock)
    await index.snapshot()
    backend.rows[6] = header(6)
    clock.now += 3.0
    assert ids(await index.snapshot()) == [1, 2, 3, 4, 5]  # not waiting for the refresh
    await settle()
    assert backend.reads == 2
    assert ids(await index.snapshot()) == [1, 2, 3, 4, 5, 6]


async def test_older_than_the_bound_waits_for_the_refresh() -> None:
    backend, clock = Backend(), Clock()
    index = make(backend, clock)
    await index.snapshot()
    backend.rows[6] = header(6)
    clock.now += 5.0
    backend.gate.clear()
    waiting = asyncio.ensure_future(index.snapshot())
    await settle()
    assert not waiting.done()  # the bound wins over serving older data
    backend.gate.set()
    assert ids(await waiting) == [1, 2, 3, 4, 5, 6]


async def test_bound_zero_reads_the_backend_for_every_request() -> None:
    backend, clock = Backend(), Clock()
    index = make(backend, clock, bound=0)
    for n in range(3):
        backend.rows[10 + n] = header(10 + n)
        assert 10 + n in ids(await index.snapshot())
    assert backend.reads == 3


async def test_one_refresh_for_many_concurrent_requests() -> None:
    backend, clock = Backend(), Clock()
    index = make(backend, clock)
    backend.gate.clear()
    waiting = [asyncio.ensure_future(index.snapshot()) for _ in range(50)]
    await settle()
    backend.gate.set()
    snaps = await asyncio.gather(*waiting)
    assert backend.reads == 1
    assert all(s is snaps[0] for s in snaps)


async def test_a_failed_refresh_reaches_the_waiting_requests_and_the_next_one_retries() -> None:
    backend, clock = Backend(), Clock()
    index = make(backend, clock)
    backend.fail = True
    with pytest.raises(BackendUnavailable):
        await index.snapshot()
    backend.fail = False
    assert ids(await index.snapshot()) == [1, 2, 3, 4, 5]


async def test_a_write_is_visible_at_once_and_survives_a_refresh_that_read_before_it() -> None:
    backend, clock = Backend(), Clock()
    index = make(backend, clock)
    await index.snapshot()
    clock.now += 3.0
    backend.gate.clear()
    await index.snapshot()  # starts a background refresh, which now reads the old data
    await settle()
    backend.rows[2] = header(2, Status.CLOSED)
    await index.wrote(2, backend.rows[2])
    del backend.rows[3]
    await index.wrote(3, None, deleted=True)
    snap = await index.snapshot()
    assert ids(snap) == [1, 2, 4, 5]
    assert snap.values[snap.status[_row(snap, 2)]] is Status.CLOSED
    backend.rows[2] = header(2)  # the refresh's stale view of ticket 2 ...
    backend.rows[3] = header(3)  # ... and of ticket 3
    backend.gate.set()
    await settle()
    assert backend.reads == 2
    snap = await index.snapshot()
    assert ids(snap) == [1, 2, 4, 5]  # ... lose to the writes made while it ran
    assert snap.values[snap.status[_row(snap, 2)]] is Status.CLOSED


async def test_write_without_the_record_reads_it_once() -> None:
    backend, clock = Backend(), Clock()
    index = make(backend, clock)
    await index.snapshot()
    backend.rows[4] = header(4, Status.ANSWERED)
    await index.wrote(4, None)
    snap = await index.snapshot()
    assert snap.values[snap.status[_row(snap, 4)]] is Status.ANSWERED
    assert (backend.reads, backend.fetches) == (1, 1)


async def test_another_worker_sees_a_write_through_the_store(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store_a, store_b = SQLiteStore(path), SQLiteStore(path)
    backend, clock = Backend(), Clock()
    a = make(backend, clock, store=store_a)
    b = make(backend, clock, store=store_b)
    await a.snapshot()
    await b.snapshot()
    backend.rows[2] = header(2, Status.CLOSED)
    await a.wrote(2, backend.rows[2])
    snap = await b.snapshot()  # well within the bound, yet b re-reads ticket 2 first
    assert snap.values[snap.status[_row(snap, 2)]] is Status.CLOSED
    assert backend.reads == 2 and backend.fetches == 1  # one item re-read, not everything
    await a.snapshot()
    assert backend.fetches == 1  # a knew its own write
    await store_a.close()
    await store_b.close()


async def test_a_worker_far_behind_re_reads_everything(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store_a, store_b = SQLiteStore(path), SQLiteStore(path)
    backend, clock = Backend(60), Clock()
    a = make(backend, clock, store=store_a)
    b = make(backend, clock, store=store_b)
    await b.snapshot()
    for i in range(1, 60):
        await a.wrote(i, header(i, Status.CLOSED))
        backend.rows[i] = header(i, Status.CLOSED)
    reads = backend.reads
    snap = await b.snapshot()
    assert backend.reads == reads + 1
    assert sum(1 for p in snap.rows() if snap.values[snap.status[p]] is Status.CLOSED) == 59
    await store_a.close()
    await store_b.close()


# ------------------------------------------------------------------ queries against brute force


def test_select_sort_and_tally_match_brute_force() -> None:
    statuses = [Status.OPEN, Status.ANSWERED, Status.CLOSED, Status.CUSTOMER_REPLY]
    rows = [header(i, statuses[i % 4], dept=i % 3, subject=f"Subject {i % 7}") for i in range(1, 400)]

    snap = Snapshot(reversed(rows))
    for i in range(1, 400, 9):
        snap.remove(i)
    live = [h for h in rows if (h.id - 1) % 9 != 0]
    q = Query(department_id=1, statuses=lambda v: v in {Status.OPEN, Status.CLOSED}, subject="ject 3")
    got = {snap.ids[p] for p in select(snap, q)}
    want = {
        h.id
        for h in live
        if h.department_id == 1 and h.status in {Status.OPEN, Status.CLOSED} and "ject 3" in h.subject
    }
    assert got == want and want
    email = Query(email="U2@X.example", id_min=50, id_max=300)
    assert {snap.ids[p] for p in select(snap, email)} == {
        h.id for h in live if h.email == "u2@x.example" and 50 <= h.id <= 300
    }
    key = sort_key(snap, "created_at", str)
    assert key is not None
    page = [snap.ids[p] for p in window(snap.rows(), key, True, 10, 20)]
    brute = sorted(live, key=lambda h: (h.created_at, h.id), reverse=True)[10:30]
    assert page == [h.id for h in brute]
    counts = tally(snap)
    assert sum(counts.values()) == len(live)
    for (dept, code), n in counts.items():
        assert n == sum(1 for h in live if h.department_id == dept and h.status is snap.values[code])


async def test_slow_refreshes_start_earlier_so_that_they_land_within_the_bound() -> None:
    backend, clock = Backend(), Clock()
    index = make(backend, clock)
    await index.snapshot()
    index.last_refresh_seconds = 2.0  # as measured: a refresh takes 2 s of the 5 s bound
    clock.now += 1.2  # past bound - 2 x refresh, well before half the bound
    await index.snapshot()
    await settle()
    assert backend.reads == 2


async def test_a_refresh_slower_than_the_bound_counts_from_its_end() -> None:
    backend, clock = Backend(), Clock()
    index = make(backend, clock)
    backend.gate.clear()
    waiting = asyncio.ensure_future(index.snapshot())
    await settle()
    clock.now += 8.0  # the refresh takes 8 s, more than the 5 s bound
    backend.gate.set()
    await waiting
    clock.now += 1.0
    backend.gate.clear()
    served = asyncio.ensure_future(index.snapshot())
    await settle()
    assert served.done()  # served from memory, not waiting for another full refresh ...
    assert backend.reads == 2  # ... which runs behind it
    backend.gate.set()


@pytest.mark.parametrize("ascending", [False, True], ids=["ids-in-any-order", "ids-ascending"])
def test_look_ups_follow_every_put_update_and_removal_and_select_matches_brute_force(ascending: bool) -> None:
    """A random run of new tickets, changed ones (status, department, customer), removals and
    revivals: after each step the look-ups hold exactly the live rows of each value, and every
    kind of query selects what a scan of the live headers selects, in storage order.  New ids in
    ascending order (a paged refresh's, later creates'): rows are found by bisecting the ids; in
    any order: by the id -> row table the snapshot then keeps."""
    import random

    rnd = random.Random(5)
    statuses = [Status.OPEN, Status.ANSWERED, Status.CLOSED, Status.CUSTOMER_REPLY, Status.ON_HOLD]
    snap = Snapshot([])
    live: dict[int, TicketHeader] = {}

    def make(i: int) -> TicketHeader:
        created = datetime(2024, 1 + rnd.randrange(12), 1 + rnd.randrange(28), tzinfo=UTC)
        return TicketHeader(
            i, rnd.choice(statuses), rnd.choice(list(Priority)), rnd.randrange(4), rnd.randrange(6), 0,
            f"u{rnd.randrange(3)}@x.example", f"Subject {rnd.randrange(5)}", created, None,
        )  # fmt: skip

    queries = [
        Query(department_id=2),
        Query(customer_id=3),
        Query(department_id=0, customer_id=0),
        Query(statuses=lambda v: v is Status.OPEN),
        Query(statuses=lambda v: v in {Status.ANSWERED, Status.CLOSED}, department_id=1),
        Query(statuses=lambda v: v in {Status.ON_HOLD}, customer_id=5, department_id=3, subject="ject 1"),
        Query(department_id=99),
        Query(statuses=lambda v: False),
        Query(id_min=20, id_max=60, department_id=2),
        Query(ticket_ids=frozenset({3, 4, 500}), department_id=1),
        Query(email="U1@x.example", customer_id=2),
    ]

    def brute(q: Query) -> list[int]:
        rows = []
        for p, i in enumerate(snap.ids):
            h = live.get(i)
            if h is None or not snap.alive[p]:
                continue
            if q.ticket_ids is not None and i not in q.ticket_ids:
                continue
            if (q.id_min is not None and i < q.id_min) or (q.id_max is not None and i > q.id_max):
                continue
            if q.department_id is not None and h.department_id != q.department_id:
                continue
            if q.customer_id is not None and h.customer_id != q.customer_id:
                continue
            if q.statuses is not None and not q.statuses(h.status):
                continue
            if q.email is not None and h.email.casefold() != q.email.casefold():
                continue
            if q.subject is not None and q.subject.casefold() not in h.subject.casefold():
                continue
            rows.append(p)
        return rows

    for step in range(1500):
        action = rnd.random()
        if action < 0.45 or not live:
            # a new ticket, or one seen before (changed, or revived)
            i = (
                (len(snap.ids) + 1 if rnd.random() < 0.5 else rnd.randrange(1, len(snap.ids) + 2))
                if ascending
                else rnd.randrange(1, 200)
            )
            live[i] = make(i)
            snap.put(live[i])
        elif action < 0.75:
            i = rnd.choice(list(live))
            live[i] = make(i)
            snap.put(live[i])
        else:
            i = rnd.choice(list(live))
            del live[i]
            snap.remove(i)
        if step % 25:
            continue
        assert snap.sorted_ids is ascending or step < 25
        assert [snap.position(i) for i in snap.ids] == list(range(len(snap.ids)))
        assert snap.position(0) is None and snap.position(10_000) is None
        for lookup, column in ((snap.by_department, snap.department), (snap.by_customer, snap.customer)):
            expected: dict[int, list[int]] = {}
            for p in range(len(snap.ids)):
                if snap.alive[p]:
                    expected.setdefault(column[p], []).append(p)
            assert {v: sorted(rows) for v, rows in lookup.items()} == expected
        by_status = {snap.values[code]: sorted(rows) for code, rows in snap.by_status.items()}
        assert by_status == {
            s: sorted(p for p in range(len(snap.ids)) if snap.alive[p] and live[snap.ids[p]].status is s)
            for s in {h.status for h in live.values()}
        }
        # the kept (department, status) counts: what counting every live header gives
        pairs = Counter((h.department_id, snap.code(h.status)) for h in live.values())
        assert snap.pairs == pairs and tally(snap) == pairs
        for q in queries:
            got = select(snap, q)
            if q.ticket_ids is not None:  # (named tickets come in id order)
                got = sorted(got)
            assert got == brute(q), (step, q)


def _row(snap: Snapshot, ticket_id: int) -> int:
    p = snap.position(ticket_id)
    assert p is not None
    return p
