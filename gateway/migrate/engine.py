"""The migration run: ordered stages, checkpoints, incremental copies, conflicts.

Stages: departments (matched), staff (matched, never created), customers, contacts,
tickets with their replies and notes.  Every target write is bracketed by journal rows:
``pending`` (with what identifies the record) before, ``done`` (target id, content hash,
target fingerprint) after.  A pending row found by a later run is settled by looking for
the record on the target, so a crash between a write and its checkpoint never makes a
second copy.  Tickets are streamed by id and carried by a bounded set of workers; only
the ids are held, never the tickets.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from gateway import context
from gateway.backends.base import Backend
from gateway.canonical import (
    Author,
    Contact,
    ContactPatch,
    Customer,
    CustomerPatch,
    Department,
    NewContact,
    NewCustomer,
    NewNote,
    NewReply,
    NewTicket,
    Note,
    PriorityValue,
    Reply,
    StatusValue,
    Ticket,
    TicketPatch,
    Unmapped,
)
from gateway.errors import GatewayError
from gateway.losses import department_loss, priority_loss
from gateway.migrate import records
from gateway.migrate.journal import Entry, Journal
from gateway.migrate.plan import Plan, StatusMap, support_losses
from gateway.migrate.politeness import TokenBucket, with_retries
from gateway.migrate.report import Report

log = logging.getLogger("gateway.migrate")
T = TypeVar("T")

SCOPES = ("departments", "customers", "contacts", "tickets")


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    sample: int | None = None
    only: frozenset[str] = frozenset(SCOPES)
    allow_loss: frozenset[str] = frozenset()
    rate: float = 0.0
    concurrency: int = 4
    call_timeout: float = 60.0
    department_map: dict[str, str] = field(default_factory=dict)  # source name or id -> target name or id
    default_department: str = ""  # target name or id for an accepted department:NAME loss ("": the first)
    staff_map: dict[str, str] = field(default_factory=dict)  # source email or id -> target email or id


HEADER_PAGE = 100  # tickets a page while the plan reads the source's headers


@dataclass(frozen=True, slots=True)
class _Head:
    """What the plan keeps of a ticket's header."""

    id: int
    status: StatusValue
    priority: PriorityValue
    created_at: datetime | None
    department_id: int


@dataclass
class _Batch:
    """One ticket's checkpoints waiting for their commit (one transaction)."""

    rows: list[Entry] = field(default_factory=list)
    # the target ticket's header as the last message writes left it, when the target told
    after: Ticket | None = None

    def take(self) -> list[Entry]:
        rows, self.rows = self.rows, []
        return rows

    def ticket(self) -> Entry | None:
        return next((e for e in reversed(self.rows) if e.kind == "ticket"), None)


@dataclass
class _Settle:
    """A ticket's target copy, read at most once while its pending messages are settled."""

    target_id: int
    ticket: Ticket | None = None


class Stopped(Exception):
    """SIGINT/SIGTERM asked the run to stop after its current records."""


class Migration:
    def __init__(
        self,
        source: Backend,
        target: Backend,
        journal: Journal,
        options: Options,
        progress: Callable[[str, int, int], None] = lambda kind, done, total: None,
    ) -> None:
        self.source = source
        self.target = target
        self.journal = journal
        self.opt = options
        self.report = Report(dry_run=options.dry_run)
        self.plan = Plan()
        self.stop = asyncio.Event()
        self._bucket = TokenBucket(options.rate)
        self._progress = progress
        self._departments: dict[int, int] = {}  # source id -> target id
        self._to_create: dict[int, str] = {}  # unmatched source department -> the name it is created under
        self._lost_departments: dict[int, str] = {}  # unmatched, on a target that cannot create: id -> name
        self._default_department: Department | None = None  # where an accepted lost department's tickets go
        self._department_jobs: dict[int, asyncio.Future[int | None]] = {}
        self._staff: dict[int, int] = {}
        self._statuses: StatusMap | None = None
        self._customers: dict[int, asyncio.Future[int | None]] = {}
        self._contacts: dict[int, asyncio.Future[int | None]] = {}
        self._lost: dict[str, tuple[str, ...]] = {}  # operation -> loss ids it costs on the target
        self._customer_ids: list[int] = []
        self._source_max_ticket = 0
        self._store_id = ""  # the journal's own id: Idempotency-Keys never collide across stores
        self._ticket_ids: list[int] = []
        self._calls = 0

    # ------------------------------------------------------------ calls

    async def _call(
        self,
        make: Callable[[], Awaitable[T]],
        *,
        read: bool = True,
        key: str = "",
        idempotency_key: str = "",
        cost: int = 1,
    ) -> T:
        """One backend call under the rate limit and a fresh deadline; reads retried with backoff.

        ``key`` names the source record a write creates: the adapters that make creates
        idempotent (PMP 3.x) derive their Idempotency-Key from it, so a create repeated after a
        crash replays its first answer instead of making a second record (``idempotency_key``:
        one already derived).  ``cost``: the operations one call stands for (a ticket's replies
        written at once), each taking its token.  The migration settles its writes itself
        (pending rows), so the adapters need not read before a write to settle it."""
        for _ in range(max(1, cost)):
            await self._bucket.take()
        # a counter, not a uuid4 per call: the id only names the call in the backends' logs
        self._calls += 1
        ctx = context.RequestContext(
            request_id=f"migrate-{self._calls}", deadline=time.monotonic() + self.opt.call_timeout * max(1, cost)
        )
        ctx.caller_settles = True
        if key or idempotency_key:
            ctx.idempotency_key = idempotency_key or self._idempotency_key(key)
        token = context.begin(ctx)
        try:
            if read:
                return await with_retries(make, on_wait=self._bucket.hold)
            return await make()
        finally:
            context.end(token)

    def _idempotency_key(self, key: str) -> str:
        return records.digest([self._store_id, key])

    # ------------------------------------------------------------ plan

    async def prepare(self) -> Plan:
        """Discover both sides, match departments and staff, and name what the target cannot hold."""
        await self._call(self.source.discover)
        await self._call(self.target.discover)
        self._statuses = StatusMap(self.target.statuses(), self.target.capabilities().kind)
        for op in ("open_ticket", "add_reply", "add_note", "add_customer", "add_contact"):
            self._lost[op] = support_losses(self.target, op)
        await self._match_departments()
        await self._match_staff()
        return self.plan

    async def _match_departments(self) -> None:
        """Match by name or the operator's mapping; the rest are created where the target can
        (``add_department``), else each is the planned loss ``department:NAME``."""
        src = await self._call(self.source.list_departments)
        tgt = await self._call(self.target.list_departments)
        by_name = {d.name.casefold(): d.id for d in tgt}
        by_id = {str(d.id): d.id for d in tgt}
        unmatched: list[tuple[Department, str]] = []
        self._departments.clear()
        blind = not self.target.departments_known()  # a target that cannot list them all
        # departments an earlier run created (the mapping may name an id the target never had)
        created = {
            int(e.source_id): int(e.target_id)
            for e in await self.journal.entries("department")
            if e.done and e.target_id
        }
        for d in src:
            wanted = self.opt.department_map.get(d.name) or self.opt.department_map.get(str(d.id))
            found = (by_name.get(wanted.casefold()) or by_id.get(wanted)) if wanted else by_name.get(d.name.casefold())
            if found is None and wanted and wanted.isdigit() and blind:
                found = int(wanted)  # the operator's mapping names an id the target cannot list
            if found is None and str(created.get(d.id)) in by_id:
                found = created[d.id]
            if found is None:
                # a mapping to a name the target lacks creates that name; otherwise the source's own
                unmatched.append((d, wanted if wanted and not wanted.isdigit() else d.name))
            else:
                self._departments[d.id] = found
        self.plan.counts["departments"] = len(src)
        self.report.add("departments", "unchanged", len(src) - len(unmatched))
        creatable = self.target.support("add_department")[0] != "refused"
        self._default_department = self._pick_default(tgt)
        self._to_create.clear()
        self._lost_departments.clear()
        for d, name in unmatched:
            if creatable:
                self._to_create[d.id] = name
                self.plan.creates.append(f"department {name!r} (source department {d.id})")
            else:
                self._lost_departments[d.id] = d.name
                self.plan.lose(department_loss(d.name))  # the department record itself; its tickets in ticket_ids
        if self._lost_departments and self._default_department is None and "tickets" in self.opt.only:
            self.plan.problems.append(
                "the target has no department at all to hold the tickets of the source departments it cannot "
                "create: create one there"
            )

    def _pick_default(self, target: Sequence[Department]) -> Department | None:
        """The department an accepted ``department:NAME`` loss writes its tickets in (named in the report)."""
        wanted = self.opt.default_department
        for d in target:
            if wanted and (d.name.casefold() == wanted.casefold() or str(d.id) == wanted):
                return d
        if wanted:
            self.plan.problems.append(f"migrate.default_department {wanted!r} is not a department of the target")
            return None
        return min(target, key=lambda d: d.id, default=None)

    def ensure_department(self, source_id: int) -> Awaitable[int | None]:
        """The target department of a source one: matched, created once, or the default for a lost one."""
        if source_id in self._departments:
            done: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
            done.set_result(self._departments[source_id])
            return done
        return self._memo(self._department_jobs, source_id, lambda: self._carry_department(source_id))

    async def _carry_department(self, source_id: int) -> int | None:
        key = str(source_id)
        lost = self._lost_departments.get(source_id)
        if lost is not None:
            self.report.add("departments", "skipped")
            self._lose_department(lost)
            return self._default_department.id if self._default_department is not None else None
        name = self._to_create.get(source_id)
        if name is None:
            return None  # a ticket's department the source does not list (reported with the ticket)
        if self.opt.dry_run:
            self.report.add("departments", "created")
            return -source_id
        # No pending row: a department created before a crash is matched by its name on resume.
        try:
            made = await self._call(lambda: self.target.add_department(name), read=False, key=f"department:{key}")
        except GatewayError as exc:
            self.report.fail("departments", key, exc.message)
            return None
        await self.journal.put(Entry("department", key, str(made.id), "done"))
        self._departments[source_id] = made.id
        await self._remember_departments()
        self.report.add("departments", "created")
        return made.id

    def _lose_department(self, name: str) -> None:
        loss = department_loss(name)
        self.report.lose(loss)
        if self._default_department is not None:
            self.report.loss_notes[loss] = f"its tickets written in the department {self._default_department.name!r}"

    async def _target_department(self, src: Ticket) -> int | None:
        """The ticket's department on the target; a lost one's default is counted against its loss."""
        source_id = src.department.id if src.department else 0
        found = await self.ensure_department(source_id)
        if source_id in self._lost_departments and found is not None:
            self._lose_department(self._lost_departments[source_id])
        return found

    async def _departments_stage(self) -> None:
        for source_id in [*self._to_create, *self._lost_departments]:
            self._check_stop()
            await self.ensure_department(source_id)

    async def _match_staff(self) -> None:
        src = await self._call(self.source.list_staff)
        tgt = await self._call(self.target.list_staff)
        by_email = {s.email.casefold(): s.id for s in tgt if s.email}
        by_id = {str(s.id): s.id for s in tgt}
        unmatched = 0
        for s in src:
            wanted = self.opt.staff_map.get(s.email) or self.opt.staff_map.get(str(s.id)) or s.email
            found = by_email.get(wanted.casefold()) or by_id.get(wanted)
            if found is None:
                unmatched += 1
            else:
                self._staff[s.id] = found
        self.plan.counts["staff"] = len(src)
        self.report.add("staff", "unchanged", len(src) - unmatched)
        self.report.add("staff", "skipped", unmatched)  # staff are never created
        self.plan.lose("staff-authors", unmatched)

    # ------------------------------------------------------------ the run

    async def ticket_ids(self) -> list[int]:
        """The source's ticket ids in scope, oldest first (only ids are kept); statuses tallied for the plan.

        Read page by page where the source pages its list, so that only the ids stay (and, for
        ``--sample N``, the N most recent headers)."""
        ids: list[int] = []
        recent: list[tuple[float, int, StatusValue, PriorityValue, int]] = []  # a heap of the N most recent
        for h in await self._paged_headers() or await self._headers():
            row = (h.created_at.timestamp() if h.created_at else 0.0, h.id, h.status, h.priority, h.department_id)
            self._source_max_ticket = max(self._source_max_ticket, h.id)
            if self.opt.sample is None:
                ids.append(h.id)
                self._tally(h.status, h.priority, h.department_id)
            elif len(recent) < self.opt.sample:
                heapq.heappush(recent, row)
            else:
                heapq.heappushpop(recent, row)
        for _, tid, status, priority, department in recent:
            ids.append(tid)
            self._tally(status, priority, department)
        return sorted(set(ids))

    def _tally(self, status: StatusValue, priority: PriorityValue, department: int) -> None:
        assert self._statuses is not None
        loss = self._statuses.loss(status)
        if loss is not None:
            self.plan.lose(loss)
        if isinstance(priority, Unmapped):
            self.plan.lose(priority_loss(str(priority)))
        if department in self._lost_departments:
            self.plan.lose(department_loss(self._lost_departments[department]))

    async def _paged_headers(self) -> list[_Head] | None:
        """Every source ticket's header through the backend's pages (``ticket_page``), cut to what
        the plan needs as each page arrives; None where the source cannot page."""
        page = getattr(self.source, "ticket_page", None)
        if page is None:
            return None
        heads: dict[int, _Head] = {}  # a row shifted onto two pages while paging counts once
        offset = 0
        while True:
            try:
                got = await self._call(functools.partial(page, offset, HEADER_PAGE, None, False))
            except (AttributeError, NotImplementedError):
                return None
            if got is None:
                return None
            tickets, total = got
            for t in tickets:
                heads[t.id] = _Head(t.id, t.status, t.priority, t.created_at, t.department.id if t.department else 0)
            offset += len(tickets)
            if not tickets or offset >= total:
                return list(heads.values())

    async def _headers(self) -> Sequence[Any]:
        """Every source ticket's header (id, status, priority, created_at): the backend's cheapest list."""
        return await self._call(self.source.ticket_headers)

    async def make_plan(self) -> Plan:
        """Everything a real run needs to know before it writes: scope and the losses it would cost.

        The loss ids are decided here, from the target's capabilities and the records' headers,
        the same way for a dry run and a real run, so that a dry run's exit code says exactly
        whether the real run would start."""
        await self.prepare()
        if self.opt.sample is None and self.opt.only & {"customers", "contacts"}:
            customers = await self._call(self.source.list_customers)
            self._customer_ids = [c.id for c in customers]
            del customers
            self.plan.counts["customers"] = len(self._customer_ids)
        if "tickets" in self.opt.only:
            self._ticket_ids = await self.ticket_ids()
            self.plan.counts["tickets"] = len(self._ticket_ids)
        people = self.plan.counts.get("customers", 0) + self.plan.counts.get("tickets", 0)
        tickets = self.plan.counts.get("tickets", 0)
        if people:
            self.plan.lose("passwords", self.plan.counts.get("customers", 0) or people)
            for op in ("add_customer", "add_contact"):
                for loss in self._lost[op]:
                    self.plan.lose(loss, people)
        if tickets:
            for op in ("open_ticket", "add_reply", "add_note"):
                for loss in self._lost[op]:
                    self.plan.lose(loss, tickets)
        return self.plan

    async def _remember_for_legacy_ids(self) -> None:
        """What ``serve`` needs to show legacy ids: the department map and the source's highest ids."""
        await self._remember_departments()
        source_departments = [*self._departments, *self._to_create, *self._lost_departments]
        for kind, top in (
            ("ticket", self._source_max_ticket),
            ("customer", max(self._customer_ids, default=0)),
            ("department", max(source_departments, default=0)),
        ):
            had = int(await self.journal.meta(f"max_source_id:{kind}") or 0)
            if top > had:
                await self.journal.set_meta(f"max_source_id:{kind}", str(top))

    async def _remember_departments(self) -> None:
        await self.journal.set_meta("departments", json.dumps({str(k): v for k, v in self._departments.items()}))

    async def run(self) -> Report:
        """The stages in order (after :meth:`make_plan`); stops cleanly, every record checkpointed."""
        if not self.opt.dry_run:
            await self._remember_for_legacy_ids()
            self._store_id = await self.journal.meta("store_id") or ""
            if not self._store_id:
                self._store_id = uuid.uuid4().hex
                await self.journal.set_meta("store_id", self._store_id)
        try:
            if self.opt.sample is None and "departments" in self.opt.only:
                await self._departments_stage()
            if self.opt.sample is None and self.opt.only & {"customers", "contacts"}:
                await self._people(customers="customers" in self.opt.only, contacts="contacts" in self.opt.only)
            if "tickets" in self.opt.only:
                await self._tickets(self._ticket_ids)
        except Stopped:
            pass
        self.report.interrupted = self.stop.is_set()
        return self.report

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped

    async def _pool(self, kind: str, items: Sequence[T], work: Callable[[T], Awaitable[None]]) -> None:
        """Bounded concurrency over items; a stop request lets the records in hand finish."""
        queue: asyncio.Queue[T] = asyncio.Queue()
        for item in items:
            queue.put_nowait(item)
        total, done = len(items), 0
        self._progress(kind, 0, total)

        async def worker() -> None:
            nonlocal done
            while not self.stop.is_set():
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    await work(item)
                except Stopped:
                    return
                done += 1
                self._progress(kind, done, total)

        await asyncio.gather(*(worker() for _ in range(max(1, self.opt.concurrency))))
        self._check_stop()

    # ------------------------------------------------------------ customers and contacts

    async def _people(self, *, customers: bool, contacts: bool) -> None:
        async def one(cid: int) -> None:
            target_id = await self.ensure_customer(cid)
            if contacts and target_id is not None:
                for contact in await self._call(lambda: self.source.list_contacts(cid)):
                    self._check_stop()
                    await self.ensure_contact(contact.id, contact)

        await self._pool("customers", self._customer_ids, one)

    def _memo(
        self, table: dict[int, asyncio.Future[int | None]], key: int, make: Callable[[], Awaitable[int | None]]
    ) -> Awaitable[int | None]:
        """One carry per record and run, however many tickets need it at once."""
        fut = table.get(key)
        if fut is None:
            fut = asyncio.ensure_future(make())
            table[key] = fut
        return asyncio.shield(fut)

    def ensure_customer(self, source_id: int) -> Awaitable[int | None]:
        return self._memo(self._customers, source_id, lambda: self._carry_customer(source_id))

    def ensure_contact(self, source_id: int, known: Contact | None = None) -> Awaitable[int | None]:
        return self._memo(self._contacts, source_id, lambda: self._carry_contact(source_id, known))

    async def _carry_customer(self, source_id: int) -> int | None:
        key = str(source_id)
        try:
            src = await self._call(lambda: self.source.get_customer(source_id))
        except GatewayError as exc:
            self.report.fail("customers", key, f"cannot read it from the source: {exc.message}")
            return None
        h = records.customer_hash(src)
        entry = await self.journal.get("customer", key)
        settled = False
        if entry is not None and not entry.done:
            entry = await self._settle_customer(entry, src)
            settled = entry is not None
        if entry is None:
            return await self._create_customer(src, h)
        assert entry.target_id is not None
        target_id = int(entry.target_id)
        if entry.source_hash == h:
            self.report.add("customers", "created" if settled else "unchanged")
            return target_id
        await self._update_customer(src, entry, h)
        return target_id

    async def _settle_customer(self, entry: Entry, src: Customer) -> Entry | None:
        """A pending customer: written before the crash if the target has one with its e-mail, unclaimed."""
        for c in await self._call(self.target.list_customers):
            if c.email.casefold() == src.email.casefold() and not await self.journal.by_target("customer", str(c.id)):
                settled = Entry(
                    "customer", entry.source_id, str(c.id), "done", entry.source_hash, records.customer_hash(c)
                )
                if not self.opt.dry_run:
                    await self.journal.put(settled)
                return settled
        return None

    async def _create_customer(self, src: Customer, h: str) -> int | None:
        key = str(src.id)
        self._note_losses("add_customer", "customers")
        if self.opt.dry_run:
            self.report.add("customers", "created")
            return -src.id  # a stand-in: nothing is written in a dry run
        new = NewCustomer(
            **{f: getattr(src, f) for f in records.CUSTOMER_FIELDS},
            language=src.language,
            password=_random_password(),  # the `passwords` loss; no "set your password" mail goes out
        )
        await self.journal.put(Entry("customer", key, None, "pending", h, "", json.dumps({"email": src.email})))
        try:
            made = await self._call(lambda: self.target.add_customer(new), read=False, key=f"customer:{key}")
        except GatewayError as exc:
            self.report.fail("customers", key, exc.message)
            return None
        await self.journal.put(Entry("customer", key, str(made.id), "done", h, records.customer_hash(made)))
        self.report.add("customers", "created")
        return made.id

    async def _update_customer(self, src: Customer, entry: Entry, h: str) -> None:
        key, target_id = str(src.id), int(entry.target_id or 0)
        current = await self._call(lambda: self.target.get_customer(target_id))
        if entry.target_fp and records.customer_hash(current) != entry.target_fp:
            self.report.conflict("customers", key, f"customer {target_id} was changed on the target since migrated")
            return
        if self.opt.dry_run:
            self.report.add("customers", "updated")
            return
        patch = CustomerPatch(**records.customer_fields(src))
        contacts = await self._call(lambda: self.target.list_contacts(target_id))
        before = {c.id: records.contact_hash(c) for c in contacts}
        try:
            made = await self._call(lambda: self.target.update_customer(target_id, patch), read=False)
        except GatewayError as exc:
            self.report.fail("customers", key, exc.message)
            return
        await self._contacts_moved_with(target_id, before)
        await self.journal.put(Entry("customer", key, str(target_id), "done", h, records.customer_hash(made)))
        self.report.add("customers", "updated")

    async def _contacts_moved_with(self, customer: int, before: dict[int, str]) -> None:
        """A customer update may write its primary contact too (PMP keeps the name, e-mail and phone
        there): the fingerprints of the carried contacts it changed are the migration's own doing."""
        for c in await self._call(lambda: self.target.list_contacts(customer)):
            entry = await self.journal.by_target("contact", str(c.id))
            now = records.contact_hash(c)
            if entry is not None and entry.done and entry.target_fp == before.get(c.id) and now != entry.target_fp:
                await self.journal.put(
                    Entry("contact", entry.source_id, str(c.id), "done", entry.source_hash, now, entry.hint)
                )

    async def _carry_contact(self, source_id: int, known: Contact | None) -> int | None:
        key = str(source_id)
        try:
            src = known if known is not None else await self._call(lambda: self.source.get_contact(source_id))
        except GatewayError as exc:
            self.report.fail("contacts", key, f"cannot read it from the source: {exc.message}")
            return None
        h = records.contact_hash(src)
        entry = await self.journal.get("contact", key)
        if entry is not None and entry.done:
            if entry.source_hash != h:
                await self._update_contact(src, entry, h)
            else:
                self.report.add("contacts", "unchanged")
            return int(entry.target_id or 0)  # None: the target's customer record itself (contact 0)
        customer = await self.ensure_customer(src.customer_id)
        if customer is None:
            self.report.fail("contacts", key, f"its customer {src.customer_id} was not carried")
            return None
        if self.opt.dry_run and customer < 0:
            return await self._create_contact(src, customer, h)
        # Pending (a crash after the write) or made with its customer (a primary contact): find it.
        found = await self._find_contact(customer, src)
        if found is not None:
            fp = records.contact_hash(found)
            if not self.opt.dry_run:
                if fp != h:
                    # made with its customer from the customer's fields: the rest (a title) is the contact's
                    patch = ContactPatch(**records.contact_fields(src))
                    try:
                        made = await self._call(lambda: self.target.update_contact(found.id, patch), read=False)
                    except GatewayError as exc:
                        self.report.fail("contacts", key, exc.message)
                        return found.id
                    fp = records.contact_hash(made)
                await self.journal.put(Entry("contact", key, str(found.id), "done", h, fp))
            self.report.add("contacts", "created")
            return found.id
        if src.is_primary and await self._is_the_customer(customer, src):
            # A target whose primary person is the customer record itself (contact 0): nothing to write.
            if not self.opt.dry_run:
                await self.journal.put(Entry("contact", key, None, "done", h, "", json.dumps({"primary_of": customer})))
            self.report.add("contacts", "created")
            return 0
        return await self._create_contact(src, customer, h)

    async def _is_the_customer(self, customer: int, src: Contact) -> bool:
        if customer <= 0:
            return False
        target = await self._call(lambda: self.target.get_customer(customer))
        return bool(src.email) and target.email.casefold() == src.email.casefold()

    async def _find_contact(self, customer: int, src: Contact) -> Contact | None:
        for c in await self._call(lambda: self.target.list_contacts(customer)):
            if c.email.casefold() == src.email.casefold() and not await self.journal.by_target("contact", str(c.id)):
                return c
        return None

    async def _update_contact(self, src: Contact, entry: Entry, h: str) -> None:
        """A contact changed on the source since it was carried; one changed on the target is a conflict."""
        key = str(src.id)
        if entry.target_id is None:
            # the target's customer record itself is this person: the customer's update carries the change
            if not self.opt.dry_run:
                await self.journal.put(Entry("contact", key, None, "done", h, entry.target_fp, entry.hint))
            self.report.add("contacts", "updated")
            return
        target_id = int(entry.target_id)
        current = await self._call(lambda: self.target.get_contact(target_id))
        now = records.contact_hash(current)
        if now == h:
            # already as the source has it: its customer's update wrote it (a PMP primary contact)
            if not self.opt.dry_run:
                await self.journal.put(Entry("contact", key, str(target_id), "done", h, now, entry.hint))
            self.report.add("contacts", "updated")
            return
        if entry.target_fp and now != entry.target_fp:
            self.report.conflict("contacts", key, f"contact {target_id} was changed on the target since migrated")
            return
        if self.opt.dry_run:
            self.report.add("contacts", "updated")
            return
        patch = ContactPatch(**records.contact_fields(src))
        try:
            made = await self._call(lambda: self.target.update_contact(target_id, patch), read=False)
        except GatewayError as exc:
            self.report.fail("contacts", key, exc.message)
            return
        await self.journal.put(Entry("contact", key, str(target_id), "done", h, records.contact_hash(made)))
        self.report.add("contacts", "updated")

    async def _create_contact(self, src: Contact, customer: int, h: str) -> int | None:
        key = str(src.id)
        self._note_losses("add_contact", "contacts")
        if self.opt.dry_run:
            self.report.add("contacts", "created")
            return -src.id
        new = NewContact(customer_id=customer, password=_random_password(), **records.contact_fields(src))
        await self.journal.put(Entry("contact", key, None, "pending", h, "", json.dumps({"email": src.email})))
        try:
            made = await self._call(lambda: self.target.add_contact(new), read=False, key=f"contact:{key}")
        except GatewayError as exc:
            self.report.fail("contacts", key, exc.message)
            return None
        await self.journal.put(Entry("contact", key, str(made.id), "done", h, records.contact_hash(made)))
        self.report.add("contacts", "created")
        return made.id

    def _note_losses(self, operation: str, kind: str, n: int = 1) -> None:
        for loss in self._lost.get(operation, ()):
            self.report.lose(loss, n)
        if operation in ("add_customer", "add_contact"):
            self.report.lose("passwords", n)

    # ------------------------------------------------------------ tickets

    async def _tickets(self, ids: list[int]) -> None:
        async def one(tid: int) -> None:
            try:
                await self._carry_ticket(tid)
            except GatewayError as exc:
                self.report.fail("tickets", tid, exc.message)

        await self._pool("tickets", ids, one)

    async def _read_ticket(self, tid: int) -> Ticket:
        # the adapters' get_ticket carries the notes where the backend has them (WHMCS GetTicket's
        # notes, PMP's notes route): no second read of them
        return await self._call(lambda: self.source.get_ticket(tid))

    async def _carry_ticket(self, tid: int) -> None:
        batch = _Batch()
        try:
            await self._carry_ticket_in(tid, batch)
        finally:
            await self._flush(batch)

    async def _flush(self, batch: _Batch) -> None:
        if batch.rows and not self.opt.dry_run:
            await self.journal.put_many(batch.take())

    async def _carry_ticket_in(self, tid: int, batch: _Batch) -> None:
        """One ticket, its replies and notes.  Its checkpoints gather in ``batch`` and are committed
        together, each before the target write that depends on it (a ticket's ``done`` row with
        its messages' ``pending`` rows, before the first message is written)."""
        key = str(tid)
        src = await self._read_ticket(tid)
        h = records.ticket_hash(src)
        entry = await self.journal.get("ticket", key)
        settled = False
        if entry is not None and not entry.done:
            entry = await self._settle_ticket(entry, src)
            settled = entry is not None
        carried = True  # False: its header is a conflict or a failure (reported), left as it is
        if entry is None:
            target_id = await self._create_ticket(src, h, batch)
        else:
            target_id = int(entry.target_id or 0)
            if settled:
                # found after a crash: its create may have been cut short before its follow-up writes
                carried = await self._update_ticket(src, entry, h, outcome="created")
            elif entry.source_hash == h:
                self.report.add("tickets", "unchanged")
            else:
                carried = await self._update_ticket(src, entry, h)
        if target_id is None:
            self._skip_conversation(src)  # its ticket was not carried (reported with the ticket)
            return
        wrote = await self._conversation(src, target_id, batch, fresh=entry is None)
        new = entry is None or settled
        # a run killed between the messages and the finish left the ticket marked unfinished
        unfinished = entry is not None and bool(json.loads(entry.hint or "{}").get(_UNFINISHED))
        if (wrote or new or unfinished) and target_id > 0 and carried:
            problem = await self._finish_ticket(src, key, target_id, batch)
            if problem:
                # the ticket's one outcome becomes this failure, so the counts still add up
                done = entry is not None and not settled and entry.source_hash == h
                self.report.add("tickets", "created" if new else "unchanged" if done else "updated", -1)
                self.report.fail("tickets", key, problem)

    async def _finish_ticket(self, src: Ticket, key: str, target_id: int, batch: _Batch) -> str:
        """After its messages, the ticket as the source has it: the reply writes move its status and
        last-reply date (on PMP the writer of reply rows sets them), so both are set back to the
        source's; then the fingerprint of what the migration left, for conflicts later.  Read from
        the target only where the message writes did not say how they left it (``batch.after``),
        and then without its conversation (``ticket_summary``); its row goes with the ticket's
        last commit."""
        if self.opt.dry_run:
            return ""
        entry = batch.ticket() or await self.journal.get("ticket", key)
        if entry is None or not entry.done:
            return ""
        after = batch.after
        if after is None:
            after = await self._call(lambda: self._target_header(target_id))
        changes: dict[str, Any] = {}
        status = self._written_status(src.status)
        if records.enum_text(after.status) != records.enum_text(status):
            changes["status"] = status
        if after.last_reply_at != src.last_reply_at:
            changes["last_reply_at"] = src.last_reply_at
        if changes:
            try:
                after = await self._call(
                    lambda: self.target.update_ticket(target_id, TicketPatch(**changes)), read=False
                )
            except GatewayError as exc:
                return f"written, but its status or last-reply date could not be set: {exc.message}"
        fp = records.ticket_fingerprint(after)
        hint = json.loads(entry.hint or "{}")
        marked = bool(hint.pop(_UNFINISHED, False))
        if fp != entry.target_fp or marked:
            batch.rows.append(Entry("ticket", key, entry.target_id, "done", entry.source_hash, fp, json.dumps(hint)))
        return ""

    async def _mark_unfinished(self, key: str, batch: _Batch) -> None:
        """Before a ticket's first message write: the ticket's finish is owed until it is done (the
        mark is committed with the messages' pending rows)."""
        entry = batch.ticket() or await self.journal.get("ticket", key)
        if entry is None or not entry.done:
            return
        hint = json.loads(entry.hint or "{}")
        if not hint.get(_UNFINISHED):
            hint[_UNFINISHED] = True
            batch.rows.append(
                Entry("ticket", key, entry.target_id, "done", entry.source_hash, entry.target_fp, json.dumps(hint))
            )

    async def _target_header(self, target_id: int) -> Ticket:
        """The target ticket's header (status, last-reply date, the fingerprint's fields): without
        its conversation where the adapter can read it so (``ticket_summary``)."""
        summary = getattr(self.target, "ticket_summary", None)
        if summary is not None:
            found: Ticket = await summary(target_id)
            return found
        return await self.target.get_ticket(target_id)

    def _skip_conversation(self, src: Ticket) -> None:
        self.report.add("replies", "skipped", max(0, len(src.replies) - 1))
        self.report.add("notes", "skipped", len(src.notes))

    def _written_status(self, value: StatusValue) -> StatusValue:
        assert self._statuses is not None
        return value if self._statuses.holds(value) else self._statuses.default

    def _status(self, value: StatusValue) -> StatusValue:
        """The status to write: the source's where the target holds it, else the named default."""
        assert self._statuses is not None
        loss = self._statuses.loss(value)
        if loss is None:
            return value
        self.report.lose(loss)
        self.report.loss_notes[loss] = f"written as {self._statuses.default}"
        return self._statuses.default

    async def _people_of(self, src: Ticket) -> tuple[int, int] | str:
        """The target customer and contact of a ticket's requester, carried first if need be."""
        customer = contact = 0
        if src.customer_id:
            got = await self.ensure_customer(src.customer_id)
            if got is None:
                return f"its customer {src.customer_id} was not carried"
            customer = got
        if src.contact_id:
            got = await self.ensure_contact(src.contact_id)
            if got is None:
                return f"its contact {src.contact_id} was not carried"
            contact = got
        return customer, contact

    async def _create_ticket(self, src: Ticket, h: str, batch: _Batch) -> int | None:
        key = str(src.id)
        department = await self._target_department(src)
        if department is None:
            self.report.fail("tickets", key, "its department has no match on the target")
            return None
        people = await self._people_of(src)
        if isinstance(people, str):
            self.report.fail("tickets", key, people)
            return None
        customer, contact = people
        self._note_losses("open_ticket", "tickets")
        status = self._status(src.status)
        if self.opt.dry_run:
            self.report.add("tickets", "created")
            return -src.id
        opening = src.replies[0] if src.replies else None
        new = NewTicket(
            subject=src.subject,
            message=src.message or src.subject,
            department_id=department,
            customer_id=max(customer, 0),
            contact_id=max(contact, 0),
            name="" if customer else src.requester.name,
            email="" if customer else src.requester.email,
            priority=src.priority,
            status=status,
            cc=src.cc,
            assigned_staff_id=self._staff.get(src.assigned_staff_id, 0),
            created_at=src.created_at or (opening.created_at if opening else None),
            notify=False,  # nobody is notified of what a migration writes
        )
        # what finds it again after a crash, and what legacy clients knew it by (number, access key)
        hint = {
            "subject": src.subject,
            "customer": customer,
            "email": src.requester.email,
            "number": src.number,
            "key": src.access_key,
        }
        await self.journal.put(Entry("ticket", key, None, "pending", h, "", json.dumps(hint)))
        made = await self._call(lambda: self.target.open_ticket(new), read=False, key=f"ticket:{key}")
        fp = records.ticket_fingerprint(made)
        # committed with the first checkpoints of its messages (or at the end of the ticket)
        batch.rows.append(Entry("ticket", key, str(made.id), "done", h, fp, json.dumps(hint)))
        self.report.add("tickets", "created")
        return made.id

    async def _settle_ticket(self, entry: Entry, src: Ticket) -> Entry | None:
        """A pending ticket: the target's unclaimed ticket with its subject and requester, if any."""
        hint = json.loads(entry.hint or "{}")
        for t in await self._call(self.target.list_tickets):
            if t.subject != src.subject:
                continue
            same_person = (hint.get("customer") and t.customer_id == hint["customer"]) or (
                t.requester.email.casefold() == str(hint.get("email", "")).casefold()
            )
            if same_person and not await self.journal.by_target("ticket", str(t.id)):
                found_id = t.id
                full = await self._call(functools.partial(self.target.get_ticket, found_id))
                fp = records.ticket_fingerprint(full)
                settled = Entry("ticket", entry.source_id, str(t.id), "done", entry.source_hash, fp, entry.hint)
                if not self.opt.dry_run:
                    await self.journal.put(settled)
                return settled
        return None

    async def _update_ticket(self, src: Ticket, entry: Entry, h: str, *, outcome: str = "updated") -> bool:
        """Bring the target ticket's header to the source's (a changed source, or a create a crash cut short)."""
        key, target_id = str(src.id), int(entry.target_id or 0)
        current = await self._call(lambda: self._target_header(target_id))
        if entry.target_fp and records.ticket_fingerprint(current) != entry.target_fp:
            self.report.conflict("tickets", key, f"ticket {target_id} was changed on the target since migrated")
            return False
        department = await self._target_department(src)
        if self.opt.dry_run:
            self.report.add("tickets", outcome)
            return True
        extra: dict[str, Any] = {"department_id": department} if department else {}
        if outcome == "created" and src.created_at is not None:
            extra["created_at"] = src.created_at  # a create cut short may not have set its date yet
        patch = TicketPatch(subject=src.subject, status=self._status(src.status), priority=src.priority, **extra)
        try:
            made = await self._call(lambda: self.target.update_ticket(target_id, patch), read=False)
        except GatewayError as exc:
            self.report.fail("tickets", key, exc.message)
            return False
        fp = records.ticket_fingerprint(made)
        await self.journal.put(Entry("ticket", key, str(target_id), "done", h, fp, entry.hint))
        self.report.add("tickets", outcome)
        return True

    # ------------------------------------------------------------ replies and notes

    async def _conversation(self, src: Ticket, target_id: int, batch: _Batch, *, fresh: bool = False) -> bool:
        """Carry the ticket's replies and notes; True when anything was written.

        The journal rows of the ticket's messages are read in one query (none when the ticket
        was just created: ``fresh``); the messages to write are checkpointed ``pending`` together,
        written (a target that takes a ticket's replies at once gets them so), and checkpointed
        ``done`` together: a crash in between leaves pending rows, settled on resume by counting
        copies on the target or replayed by their Idempotency-Key."""
        before = self.report.counts["replies"]["created"] + self.report.counts["notes"]["created"]
        replies = src.replies[1:]  # the opening message travelled with the ticket
        settle = _Settle(target_id)
        if "replies" in self._lost.get("add_reply", ()):
            self.report.add("replies", "skipped", len(replies))
            self.report.lose("replies", len(replies))
        elif replies:
            todo = await self._sorted("reply", src, replies, settle, fresh)
            await self._write_messages("reply", src, target_id, todo, batch)
        if "notes" in self._lost.get("add_note", ()):
            self.report.add("notes", "skipped", len(src.notes))
            self.report.lose("notes", len(src.notes))
        elif src.notes:
            todo = await self._sorted("note", src, src.notes, settle, fresh)
            await self._write_messages("note", src, target_id, todo, batch)
        after = self.report.counts["replies"]["created"] + self.report.counts["notes"]["created"]
        return after > before and not self.opt.dry_run

    async def _sorted(
        self, kind: str, src: Ticket, messages: Sequence[Reply | Note], settle: _Settle, fresh: bool
    ) -> list[tuple[str, Reply | Note, str]]:
        """The messages still to write as (journal key, message, hash); done ones counted unchanged,
        pending ones (a crash after their write?) settled against the target."""
        plural = "replies" if kind == "reply" else "notes"
        known = {} if fresh else {e.source_id: e for e in await self.journal.entries(kind, f"{src.id}:")}
        todo: list[tuple[str, Reply | Note, str]] = []
        for msg in messages:
            self._check_stop()
            key = f"{src.id}:{msg.id}"
            h = records.message_hash(msg.message)
            entry = known.get(key)
            if entry is not None and entry.done:
                self.report.add(plural, "unchanged")
                continue
            if entry is not None and settle.target_id >= 0 and await self._already_written(kind, settle, known, h):
                done = Entry(kind, key, None, "done", h)
                known[key] = done
                if not self.opt.dry_run:
                    await self.journal.put(done)
                self.report.add(plural, "created")
                continue
            todo.append((key, msg, h))
        return todo

    async def _already_written(self, kind: str, settle: _Settle, known: dict[str, Entry], h: str) -> bool:
        """A pending message is on the target when it holds more copies of its text than the journal accounts for."""
        if settle.ticket is None:
            target_id = settle.target_id
            settle.ticket = await self._call(lambda: self.target.get_ticket(target_id))
        target = settle.ticket
        if kind == "reply":
            on_target = sum(1 for r in target.replies[1:] if records.message_hash(r.message) == h)
        else:
            notes = target.notes or tuple(await self._call(lambda: self.target.list_notes(target.id)))
            on_target = sum(1 for n in notes if records.message_hash(n.message) == h)
        done = sum(1 for e in known.values() if e.done and e.source_hash == h)
        return on_target > done

    async def _write_messages(
        self, kind: str, src: Ticket, target_id: int, todo: list[tuple[str, Reply | Note, str]], batch: _Batch
    ) -> None:
        plural = "replies" if kind == "reply" else "notes"
        if not todo:
            return
        self._note_losses("add_reply" if kind == "reply" else "add_note", plural, len(todo))
        if self.opt.dry_run:
            self.report.add(plural, "created", len(todo))
            return
        await self._mark_unfinished(str(src.id), batch)
        hint = json.dumps({"ticket": target_id})
        pending = [Entry(kind, key, None, "pending", h, "", hint) for key, _, h in todo]
        await self.journal.put_many([*batch.take(), *pending])  # durable before the first of these writes
        by_id = {self._idempotency_key(f"{kind}:{key}"): (key, h) for key, _, h in todo}
        written: list[Entry] = []

        async def done(idempotency_key: str) -> None:
            key, h = by_id[idempotency_key]
            written.append(Entry(kind, key, None, "done", h))

        try:
            items = [(ikey, await self._new_message(msg, src)) for ikey, (_, msg, _) in zip(by_id, todo, strict=True)]
            batch.after = await self._send_messages(target_id, items, done)
        except GatewayError as exc:
            settled = {e.source_id for e in written}
            for key, _, _ in todo:
                if key not in settled:
                    self.report.fail(plural, key, exc.message)
        finally:
            # the rows of what was written go with the ticket's next commit (pending ones left by a
            # crash before it are settled on resume, like any write whose checkpoint was lost)
            batch.rows.extend(written)
        self.report.add(plural, "created", len(written))

    async def _new_message(self, msg: Reply | Note, src: Ticket) -> NewReply | NewNote:
        if isinstance(msg, Reply):
            # the ticket keeps the source's status: a reply must not move it (Perfex's own logic would)
            return NewReply(
                message=msg.message,
                author=await self._author(msg.author, src),
                created_at=msg.created_at,
                status=self._written_status(src.status),
                notify=False,
            )
        return NewNote(
            message=msg.message,
            staff_name=msg.staff_name,
            staff_id=self._staff.get(msg.staff_id, 0),
            created_at=msg.created_at,
        )

    async def _send_messages(
        self,
        target_id: int,
        items: Sequence[tuple[str, NewReply | NewNote]],
        done: Callable[[str], Awaitable[None]],
    ) -> Ticket | None:
        """Replies in one call where the target takes a ticket's replies at once; else one by one.
        The target ticket's header as the writes left it, where the target says so."""
        replies = [(k, m) for k, m in items if isinstance(m, NewReply)]
        batch = getattr(self.target, "add_replies", None)
        if batch is not None and len(replies) == len(items):
            after = await self._call(lambda: batch(target_id, replies, done), read=False, cost=len(replies))
            return after if isinstance(after, Ticket) else None
        for ikey, msg in items:
            self._check_stop()
            if isinstance(msg, NewReply):
                write = functools.partial(self.target.add_reply, target_id, msg)
            else:
                write = functools.partial(self.target.add_note, target_id, msg)
            await self._call(write, read=False, idempotency_key=ikey)
            await done(ikey)
        return None

    async def _author(self, author: Author, ticket: Ticket) -> Author:
        if author.kind == "guest" and not (author.name or author.email):
            # A reply that names nobody (rows without userid, contact or name) is the requester's:
            # the source shows it as theirs, and a target may refuse an anonymous one.
            author = ticket.requester
            if author.kind == "guest" and ticket.customer_id:
                author = Author(kind="customer", customer_id=ticket.customer_id, contact_id=ticket.contact_id)
        if author.kind == "staff":
            staff = self._staff.get(author.staff_id, 0)
            if not staff:
                self.report.lose("staff-authors")
            return author.model_copy(update={"staff_id": staff, "customer_id": 0, "contact_id": 0})
        if author.kind == "customer":
            customer = await self.ensure_customer(author.customer_id) if author.customer_id else 0
            contact = await self.ensure_contact(author.contact_id) if author.contact_id else 0
            return author.model_copy(update={"customer_id": customer or 0, "contact_id": contact or 0, "staff_id": 0})
        return author


_UNFINISHED = "unfinished"  # a ticket's journal hint: messages written, status and last-reply date not yet set


def _random_password() -> str:
    """A password nobody knows (the person resets it): writing one keeps PMP from mailing a "set password" link."""
    return secrets.token_urlsafe(18)
