"""The ticket header index: filtered lists, counts and statistics without a backend listing per request.

Vendor-neutral: it is filled from any backend's ``ticket_headers()`` and holds,
per ticket, only what filters, counts and sorts need (:class:`TicketHeader`),
as columns (``array`` of machine integers and floats, lists of interned
strings) rather than one object per ticket: about 200 bytes a ticket.

Freshness (INTERFACE "Freshness", setting ``index.max_staleness``, the *bound*):

* An answer is never built from a snapshot older than the bound: a request
  that finds the index older waits for a refresh (the bound wins over
  serving older data).  A bound of 0 reads the backend for every request.
* Past half the bound (earlier when refreshes are slow: twice the last
  refresh's duration before the bound) a request is served at once and starts
  a refresh in the background (stale-while-revalidate), so that a steady
  stream of requests rarely waits.
* One refresh at a time: concurrent requests share the flight.  A snapshot is
  as old as the moment its refresh *started* (the backend may change while it
  is read); that of a refresh slower than the bound, which cannot honour it,
  as old as its end (else every request would wait for a full refresh).
* Writes through this worker update the index at once (:meth:`HeaderIndex.put`,
  :meth:`HeaderIndex.remove`) and bump a generation counter in the shared
  store with the item they touched.  A worker (or replica) whose last seen
  generation is behind re-reads just those items, or everything when the
  store's journal no longer covers the gap, before it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from array import array
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway import context
from gateway.backends.base import TicketHeader
from gateway.errors import BackendTimeout
from gateway.store import Store

log = logging.getLogger(__name__)

GENERATION = "tickets"  # the store's generation counter of ticket writes
NO_DATE = -math.inf  # a missing date sorts first, as "" did
#: A refresh runs in a context of its own, with this deadline (it is not any one request's).
REFRESH_DEADLINE = 120.0
#: Past this many changed items, catching up re-reads everything.
CATCH_UP_LIMIT = 50

#: every ticket's header: all at once, or in chunks as the backend reads them (a refresh then fills
#: its snapshot as they come, never holding every header as an object); an id may come twice
#: (paging shifted its row): the last one counts
Loader = Callable[[], Awaitable[Iterable[TicketHeader]] | AsyncIterator[Iterable[TicketHeader]]]
Fetcher = Callable[[int], Awaitable[TicketHeader | None]]


def _stamp(value: datetime | None) -> float:
    return value.timestamp() if value is not None else NO_DATE


class Snapshot:
    """The index's data as columns; row ``p`` of every column is one ticket (``alive[p]`` 0: deleted)."""

    def __init__(self, headers: Iterable[TicketHeader]) -> None:
        self.ids = array("q")
        self.status = array("H")  # codes into self.values
        self.priority = array("H")
        self.department = array("q")
        self.customer = array("q")
        self.contact = array("q")
        self.created = array("d")
        self.replied = array("d")
        self.email: list[str] = []
        self.subject: list[str] = []
        self.alive = bytearray()
        self.values: list[Any] = []  # distinct status/priority values, shared by both columns
        self._codes: dict[Any, int] = {}
        self._strings: dict[str, str] = {}
        # ticket id -> row, kept only once the rows are not in ascending id order: until then (a
        # paged refresh sorted by id, the usual case) a row is found by bisecting `ids`, and the
        # index holds no two int objects and a dict slot per ticket (~1.9 MB at 20,000 tickets)
        self._pos: dict[int, int] | None = None
        self.department_names: dict[int, str] = {}  # as the tickets name them
        # value -> the live rows holding it, for the equality filters lists use most (a filtered
        # page then costs its matches, not a scan of every row: select())
        # (arrays of 4-byte row numbers, in no set order: a set would cost ten times the memory)
        self.by_department: dict[int, array[int]] = {}
        self.by_customer: dict[int, array[int]] = {}
        self.by_status: dict[int, array[int]] = {}  # status code -> rows
        # live rows per (department id, status code): counts and department statistics read it
        # as it stands (kept on every put and removal, not counted over every row per request)
        self.pairs: Counter[tuple[int, int]] = Counter()
        self.version = 0  # bumped by every change: per-snapshot caches key on it
        self.dead = 0
        for h in headers:
            self.put(h)

    def __len__(self) -> int:
        return len(self.ids) - self.dead

    def code(self, value: Any) -> int:
        found = self._codes.get(value)
        if found is None:
            found = self._codes[value] = len(self.values)
            self.values.append(value)
        return found

    def _intern(self, text: str) -> str:
        # requester e-mails repeat across a customer's tickets: hold each once
        return self._strings.setdefault(text, text)

    def put(self, h: TicketHeader) -> None:
        """Add or replace one ticket's row."""
        self.version += 1
        if h.department_id and h.department_name:
            self.department_names[h.department_id] = h.department_name
        row = (
            self.code(h.status),
            self.code(h.priority),
            h.department_id,
            h.customer_id,
            h.contact_id,
            _stamp(h.created_at),
            _stamp(h.last_reply_at if h.last_reply_at is not None else h.created_at),
            self._intern(h.email),
            h.subject,
        )
        p = self.position(h.id)
        if p is None:
            if self.ids and h.id < self.ids[-1] and self._pos is None:
                self._pos = {ticket_id: row for row, ticket_id in enumerate(self.ids)}
            p = len(self.ids)
            if self._pos is not None:
                self._pos[h.id] = p
            self.ids.append(h.id)
            self.alive.append(1)
            for column, value in zip(self._columns(), row, strict=True):
                column.append(value)
            self._enter(p)
            return
        if self.alive[p]:
            self._leave(p)
        else:
            self.alive[p] = 1
            self.dead -= 1
        for column, value in zip(self._columns(), row, strict=True):
            column[p] = value
        self._enter(p)

    @property
    def sorted_ids(self) -> bool:
        """Rows in ascending id order (the default order needs no sort): no id -> row table yet."""
        return self._pos is None

    def position(self, ticket_id: int) -> int | None:
        """The row of ``ticket_id`` (alive or not), or None."""
        if self._pos is not None:
            return self._pos.get(ticket_id)
        ids = self.ids
        p = bisect_left(ids, ticket_id)
        return p if p < len(ids) and ids[p] == ticket_id else None

    def remove(self, ticket_id: int) -> None:
        p = self.position(ticket_id)
        if p is not None and self.alive[p]:
            self.version += 1
            self._leave(p)
            self.alive[p] = 0
            self.dead += 1

    def _lookups(self) -> tuple[tuple[dict[int, array[int]], Any], ...]:
        return ((self.by_department, self.department), (self.by_customer, self.customer), (self.by_status, self.status))

    def _enter(self, p: int) -> None:
        """Live row ``p`` into the look-ups of its values."""
        for lookup, column in self._lookups():
            found = lookup.get(column[p])
            if found is None:
                lookup[column[p]] = array("I", (p,))
            else:
                found.append(p)
        self.pairs[(self.department[p], self.status[p])] += 1

    def _leave(self, p: int) -> None:
        """Row ``p`` out of the look-ups of the values it holds (before they change or it dies)."""
        for lookup, column in self._lookups():
            found = lookup.get(column[p])
            if found is not None:
                found.remove(p)  # (a write: one memmove in C)
                if not found:
                    del lookup[column[p]]
        pair = (self.department[p], self.status[p])
        left = self.pairs[pair] - 1
        if left > 0:
            self.pairs[pair] = left
        else:
            del self.pairs[pair]

    def _columns(self) -> tuple[Any, ...]:
        return (
            self.status,
            self.priority,
            self.department,
            self.customer,
            self.contact,
            self.created,
            self.replied,
            self.email,
            self.subject,
        )

    def rows(self) -> list[int]:
        """The live rows, in ascending id order when that is the storage order."""
        alive = self.alive
        if self.dead:
            return [p for p in range(len(alive)) if alive[p]]
        return list(range(len(alive)))

    def memory(self) -> int:
        """Approximate bytes held (columns and distinct strings), for the benchmark's report."""
        import sys

        arrays = (self.ids, self.status, self.priority, self.department, self.customer, self.contact)
        total = sum(a.itemsize * len(a) for a in (*arrays, self.created, self.replied))
        total += sys.getsizeof(self.email) + sys.getsizeof(self.subject) + sys.getsizeof(self._pos or {})
        total += sum(sys.getsizeof(s) for s in self._strings) + sum(sys.getsizeof(s) for s in self.subject)
        total += sum(sys.getsizeof(rows) for lookup, _ in self._lookups() for rows in lookup.values())
        return total + len(self.alive)


class PageRows:
    """Full rows of recently listed tickets (what a page shows besides the headers), by id.

    A page the index selects still shows each ticket's full row, one backend read each.  A
    polled page (page 1, every few seconds) would re-read the same rows every time; a row
    read no earlier than the snapshot that selects it is as fresh as that snapshot, so it is
    kept until a newer snapshot replaces it (and dropped at once when a write touches it).
    Bounded: the oldest rows go first (256: ten pages of 25 polled by clients; each row carries
    its ticket and the backend's raw record, ~5 KB at the size of a real row, and 1024 of them
    were a twentieth of a worker's 100 MB at 20,000 tickets, issue 11)."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._rows: OrderedDict[int, tuple[float, Any]] = OrderedDict()
        self.version = 0  # bumped by every drop: a row read across a write is not kept

    def get(self, ticket_id: int, not_before: float) -> Any | None:
        found = self._rows.get(ticket_id)
        if found is None or found[0] < not_before:
            return None
        self._rows.move_to_end(ticket_id)
        return found[1]

    def put(self, ticket_id: int, row: Any, read_at: float, version: int) -> None:
        """Keep ``row``, read from ``read_at`` when :attr:`version` was ``version``."""
        if version != self.version:
            return  # a write landed while it was read: it may predate the write
        self._rows[ticket_id] = (read_at, row)
        self._rows.move_to_end(ticket_id)
        while len(self._rows) > self._size:
            self._rows.popitem(last=False)

    def drop(self, ticket_id: int) -> None:
        self.version += 1
        self._rows.pop(ticket_id, None)

    def clear(self) -> None:
        self.version += 1
        self._rows.clear()


@dataclass
class _Flight:
    started: float
    future: asyncio.Future[Snapshot]
    writes: dict[int, TicketHeader | None] = field(default_factory=dict)  # made while it ran


class HeaderIndex:
    """One worker's header index over one backend (see the module docstring)."""

    def __init__(
        self,
        load: Loader,
        fetch: Fetcher,
        *,
        store: Store | None = None,
        max_staleness: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._fetch = fetch
        self._store = store
        self.max_staleness = max(0.0, float(max_staleness))
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._taken_at = 0.0  # when the snapshot's refresh started
        self._generation: int | None = None  # the store generation the snapshot includes
        self._flight: _Flight | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.refreshes = 0  # full refreshes done (tests and the benchmark read it)
        self.rows = PageRows()  # full rows of listed tickets, as fresh as the snapshot (see PageRows)
        self.last_refresh_seconds = 0.0

    # ------------------------------------------------------------------ reads

    async def snapshot(self) -> Snapshot:
        """A snapshot no older than the bound, including every write any worker made through the store."""
        if self.max_staleness <= 0:
            return await self._wait(self._start_flight(force=True))
        generation = await self._store_generation()
        snap = self._snapshot
        if (
            snap is not None
            and generation is not None
            and self._generation is not None
            and generation != self._generation
        ):
            await self._catch_up(generation)
            snap = self._snapshot
        age = self._clock() - self._taken_at
        if snap is None or age >= self.max_staleness:
            return await self._wait(self._start_flight())
        if age >= self._revalidate_after() and self._flight is None:
            self._start_flight()  # served now; the next request finds a newer snapshot
        return snap

    def _revalidate_after(self) -> float:
        """The age at which a background refresh starts: half the bound, earlier when refreshes are slow,
        so that one lands before the bound runs out (a refresh slower than the bound cannot: then
        requests wait, and the bound wins)."""
        return max(0.0, min(self.max_staleness / 2, self.max_staleness - 2 * self.last_refresh_seconds))

    async def _store_generation(self) -> int | None:
        return await self._store.generation(GENERATION) if self._store is not None else None

    async def _catch_up(self, generation: int) -> None:
        """Re-read the items other workers changed since our generation (all when the journal can't say)."""
        assert self._store is not None and self._generation is not None
        items = await self._store.generation_items(GENERATION, self._generation)
        if items is None or len(set(items)) > CATCH_UP_LIMIT:
            self._taken_at = -math.inf  # everything is re-read before answering
            self.rows.clear()
            return
        for item in dict.fromkeys(items):
            await self._refetch(item)
        self._generation = max(self._generation, generation)

    async def _refetch(self, ticket_id: int) -> None:
        header = await self._fetch(ticket_id)
        if header is None:
            self._apply(ticket_id, None)
        else:
            self._apply(ticket_id, header)

    async def _wait(self, flight: _Flight) -> Snapshot:
        left = context.current().remaining()
        if left <= 0:
            raise BackendTimeout("The backend did not answer in time")
        try:
            return await asyncio.wait_for(asyncio.shield(flight.future), timeout=left)
        except TimeoutError:
            raise BackendTimeout("The backend did not answer in time") from None

    def _start_flight(self, *, force: bool = False) -> _Flight:
        """The refresh under way, or a new one (``force``: a new one unless one started just now)."""
        flight = self._flight
        if flight is not None and (not force or flight.started >= self._clock()):
            return flight
        loop = asyncio.get_running_loop()
        flight = _Flight(self._clock(), loop.create_future())
        if self._flight is None:
            self._flight = flight
        self._run_in_background(self._refresh(flight))
        return flight

    def _run_in_background(self, job: Awaitable[None]) -> None:
        task = asyncio.ensure_future(job)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _refresh(self, flight: _Flight) -> None:
        """One full read of the backend's headers into a new snapshot."""
        context.begin(context.RequestContext(deadline=time.monotonic() + REFRESH_DEADLINE, action="index"))
        try:
            generation = await self._store_generation()
            snap = await self._loaded()
        except BaseException as exc:
            if self._flight is flight:
                self._flight = None
            flight.future.set_exception(exc)
            flight.future.exception()  # retrieved: nobody may be waiting
            if not isinstance(exc, Exception):
                raise
            log.warning("header index refresh failed: %s", type(exc).__name__)
            return
        for ticket_id, header in flight.writes.items():  # writes made while we read win
            if header is None:
                snap.remove(ticket_id)
            else:
                snap.put(header)
        self.last_refresh_seconds = self._clock() - flight.started
        self.refreshes += 1
        if self._flight is flight:
            self._flight = None
        # A snapshot is as old as its refresh's start.  A refresh slower than the bound cannot
        # honour it: counted so, its snapshot would be stale on arrival and every request would
        # wait for another full refresh, to get data older than the bound all the same.  It
        # counts from its end instead (requests still wait whenever the next one is late).
        finished = self._clock()
        taken = flight.started if finished - flight.started < self.max_staleness else finished
        if taken >= self._taken_at or self._snapshot is None:
            self._snapshot, self._taken_at = snap, taken
            if generation is not None:
                self._generation = generation
        flight.future.set_result(snap)

    async def _loaded(self) -> Snapshot:
        """A new snapshot of everything the loader gives."""
        got = self._load()
        if not isinstance(got, AsyncIterator):
            return Snapshot(await got)
        snap = Snapshot(())
        put = snap.put
        async for chunk in got:
            for header in chunk:
                put(header)
        return snap

    # ------------------------------------------------------------------ writes

    async def wrote(self, ticket_id: int, header: TicketHeader | None, *, deleted: bool = False) -> None:
        """A write through this worker touched ``ticket_id``: show it at once, here and to other workers.

        ``header`` is the ticket as written (None and not ``deleted``: re-read it)."""
        if header is None and not deleted:
            try:
                header = await self._fetch(ticket_id)
            except Exception:  # the backend cannot say now: re-read everything before the next answer
                self._taken_at = -math.inf
                self.rows.clear()
            else:
                deleted = header is None
        if header is not None or deleted:
            self._apply(ticket_id, None if deleted else header)
        if self._store is None:
            return
        seen = self._generation
        generation = await self._store.bump_generation(GENERATION, ticket_id)
        if seen is not None and generation == seen + 1:
            self._generation = generation  # nobody else wrote in between: we are up to date

    def now(self) -> float:
        """The index's clock (rows read for a page are stamped with it)."""
        return self._clock()

    def rows_not_before(self) -> float:
        """The oldest a kept full row may be to show with the current snapshot: read since it was taken
        (never, with a bound of 0: every list reads the backend)."""
        return self._taken_at if self.max_staleness > 0 else math.inf

    def _apply(self, ticket_id: int, header: TicketHeader | None) -> None:
        self.rows.drop(ticket_id)
        if self._flight is not None:
            self._flight.writes[ticket_id] = header
        if self._snapshot is not None:
            if header is None:
                self._snapshot.remove(ticket_id)
            else:
                self._snapshot.put(header)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    """The index-side filters of a list (the service maps its arguments onto these)."""

    ticket_ids: frozenset[int] | None = None
    id_min: int | None = None
    id_max: int | None = None
    department_id: int | None = None
    customer_id: int | None = None
    customer_min: str | None = None
    customer_max: str | None = None
    email: str | None = None  # compared case-insensitively
    statuses: Callable[[Any], bool] | None = None  # a status value -> wanted
    priorities: Callable[[Any], bool] | None = None
    subject: str | None = None  # a case-insensitive substring
    created_from: float | None = None
    created_to: float | None = None
    numbers: Callable[[int], bool] | None = None  # a ticket id -> its number wanted


def select(snap: Snapshot, q: Query) -> list[int]:
    """The rows matching ``q``, in storage order; each filter narrows the rows the previous left.

    A department, customer or status filter starts from the rows its look-up holds (the smallest
    of them, intersected with the others): its cost is its matches, not the table's size."""
    # (named tickets are filtered here on every column; otherwise the look-ups already left only
    # the rows of the department, customer and statuses asked for)
    named = q.ticket_ids is not None
    if q.ticket_ids is not None:
        found = (snap.position(i) for i in sorted(q.ticket_ids))
        rows = [p for p in found if p is not None and snap.alive[p]]
    else:
        rows = _looked_up(snap, q)
    ids = snap.ids
    if q.id_min is not None:
        rows = [p for p in rows if ids[p] >= q.id_min]
    if q.id_max is not None:
        rows = [p for p in rows if ids[p] <= q.id_max]
    if named and q.department_id is not None:
        col, want = snap.department, q.department_id
        rows = [p for p in rows if col[p] == want]
    if named and q.customer_id is not None:
        col, want = snap.customer, q.customer_id
        rows = [p for p in rows if col[p] == want]
    if q.customer_min is not None:
        low = q.customer_min.casefold()
        rows = [p for p in rows if str(snap.customer[p]) >= low]
    if q.customer_max is not None:
        high = q.customer_max.casefold()
        rows = [p for p in rows if str(snap.customer[p])[: len(high)] <= high]
    for wanted, col in ((q.statuses if named else None, snap.status), (q.priorities, snap.priority)):
        if wanted is not None:
            codes = {code for code, value in enumerate(snap.values) if wanted(value)}
            rows = [p for p in rows if col[p] in codes]
    if q.email is not None:
        email, emails = q.email.casefold(), snap.email
        rows = [p for p in rows if emails[p].casefold() == email]
    if q.subject is not None:
        needle, subjects = q.subject.casefold(), snap.subject
        rows = [p for p in rows if needle in subjects[p].casefold()]
    if q.created_from is not None:
        low_t, created = q.created_from, snap.created
        rows = [p for p in rows if created[p] != NO_DATE and created[p] >= low_t]
    if q.created_to is not None:
        high_t, created = q.created_to, snap.created
        rows = [p for p in rows if created[p] != NO_DATE and created[p] <= high_t]
    if q.numbers is not None:
        numbers = q.numbers
        rows = [p for p in rows if numbers(ids[p])]
    return rows


def _looked_up(snap: Snapshot, q: Query) -> list[int]:
    """The live rows the look-ups allow for ``q``'s department, customer and statuses, in storage
    order (every live row when it has none of them)."""
    found: list[Collection[int]] = []
    if q.department_id is not None:
        found.append(snap.by_department.get(q.department_id, ()))
    if q.customer_id is not None:
        found.append(snap.by_customer.get(q.customer_id, ()))
    if q.statuses is not None:
        wanted = q.statuses
        codes = [code for code, value in enumerate(snap.values) if wanted(value)]
        found.append(set().union(*(snap.by_status.get(code, ()) for code in codes)))
    if not found:
        return snap.rows()
    found.sort(key=len)
    if len(found) == 1:
        return sorted(found[0])
    return sorted(set(found[0]).intersection(*found[1:]))


def sort_key(snap: Snapshot, order_by: str, number: Callable[[int], str]) -> Callable[[int], Any] | None:
    """A row -> its sort key, as the service's full-record sorts order (None: not an index column)."""
    ids = snap.ids
    keys: dict[str, Callable[[int], Any]] = {
        "id": lambda p: ids[p],
        "number": lambda p: number(ids[p]),
        "subject": lambda p: snap.subject[p].casefold(),
        "created_at": lambda p: (snap.created[p], ids[p]),
        "last_reply_at": lambda p: (snap.replied[p], ids[p]),
        "status": lambda p: str(snap.values[snap.status[p]]),
        "priority": lambda p: str(snap.values[snap.priority[p]]),
        "customer_id": lambda p: snap.customer[p],
    }
    return keys.get(order_by)


def window(rows: list[int], key: Callable[[int], Any], descending: bool, offset: int, limit: int | None) -> list[int]:
    """``rows`` sorted by ``key`` and cut to ``[offset, offset+limit)``; only the window is ordered fully."""
    import heapq

    end = None if limit is None else offset + limit
    if end is not None and end < len(rows) // 4:
        # a page near the top: a bounded heap instead of sorting every match
        pick = heapq.nlargest if descending else heapq.nsmallest
        return pick(end, rows, key=key)[offset:]
    return sorted(rows, key=key, reverse=descending)[offset:end]


def tally(snap: Snapshot) -> Counter[tuple[int, int]]:
    """Live tickets per (department id, status code): a copy of the counts the snapshot keeps."""
    return Counter(snap.pairs)
