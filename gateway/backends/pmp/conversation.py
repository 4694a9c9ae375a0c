"""A ticket's conversation on PMP module 3.x: staff, replies, notes.

Replies live in the custom table ``tblticket_replies`` (when an administrator
has allowlisted it), which has no filter: its list is the whole table.  So the
adapter keeps a reply index (ticket -> replies), refreshed as a whole, one
refresh at a time, streamed from the answer into a temporary database on disk
(:mod:`.reply_index`) so that its memory does not grow with the table.  The
ticket row's ``lastreply`` says whether the indexed replies of a ticket are
current: every reply, whichever way it was written (Perfex's UI, its own reply
logic, this gateway), moves it.  A GetTicket whose ticket has a ``lastreply``
later than its newest indexed reply (and not already answered by a refresh)
refreshes the index before answering.  No clock is compared with the
backend's, whose zone may be misconfigured.

A GetTicket polled again and again reads the same bytes: the ticket row, the
notes, and (between refreshes) the same indexed reply rows.  Each backend read
still happens on every request (INTERFACE "Freshness"), but what those bytes
give is kept (bounded LRU memos, ``conversation_memo_size``): a ticket's parsed
reply rows while the index is unchanged, its named replies and notes while the
staff and contacts they were named from are the same objects, and the composed
ticket while its row, replies and notes are, so that the render memo
(``gateway.mapping.compiler.identity_memo``) serves it without rendering again.

Writing a reply row bypasses Perfex's reply logic, so the adapter does its
part (see :meth:`Conversation.add_reply`): the author columns, the message as
Perfex stores that author's messages, then the ticket's ``lastreply``, status
and read flags.  No notification e-mail is sent (the ``notifications`` loss).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from cachetools import TTLCache

from gateway.backends.pmp.discovery import REPLIES_TABLE, TABLE_PATH
from gateway.backends.pmp.reply_index import ReplyIndex, rows_from
from gateway.backends.pmp.wire import Row, Wire, rows_of, to_int, unavailable
from gateway.canonical import Author, Contact, NewReply, Note, Reply, Staff, Ticket
from gateway.errors import InvalidInput
from gateway.mapping.loader import VendorMappings
from gateway.mapping.transforms import unmapped_seen

log = logging.getLogger(__name__)

_TAG = re.compile(r"<[^>]*>")
# how much a ticket's lastreply may trail its reply row's date (Perfex stamps them separately)
_STAMP_SLACK = timedelta(seconds=2)
# what names a reply row's author (see _author)
_AUTHOR_COLUMNS = ("admin", "userid", "contactid", "name", "email")

ParseFn = Callable[[str, Any, type[Any]], Any]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
# (path, consume): a list route's rows handed to ``consume`` as they arrive
StreamFn = Callable[[str, Callable[[AsyncIterator[Row]], Awaitable[None]]], Awaitable[None]]


def customer_text(message: str) -> str:
    """A customer's message as Perfex stores it: HTML stripped, newlines as ``<br />``."""
    text = html.unescape(_TAG.sub("", message)).strip()
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br />\n")


def match_staff(staff: Sequence[Staff], wanted: str) -> Staff | None:
    """Perfex staff have no user name: match by email, then "firstname lastname", then firstname."""
    key = " ".join(wanted.split()).casefold()
    if not key:
        return None
    tests: tuple[Callable[[Staff], str], ...] = (
        lambda s: s.email,
        lambda s: f"{s.firstname} {s.lastname}",
        lambda s: s.firstname,
    )
    for test in tests:
        found = [s for s in staff if " ".join(test(s).split()).casefold() == key]
        if found:
            return min(found, key=lambda s: (not s.active, s.id))
    return None


def staff_opening(ticket: Ticket, row: Row) -> Ticket:
    """A ticket a staff member opened (the row's ``admin``, the staff id): the opening message is
    theirs, shown as any staff reply is (WHMCS's reply 0 ``admin``, Clientexec's ``isAdmin``,
    ReadyDesk's ``updater_type``); the ticket still belongs to its customer (``requester``)."""
    admin = to_int(row.get("admin"))
    if not admin or not ticket.replies or ticket.replies[0].id != 0:
        return ticket
    author = Author(kind="staff", staff_id=admin, name=ticket.opened_by_staff)
    opening = ticket.replies[0].model_copy(update={"author": author})
    return ticket.model_copy(update={"replies": (opening, *ticket.replies[1:])})


class Memo(Generic[K, V]):
    """A bounded LRU map (a plain ordered dict: cachetools' LRUCache costs several Python calls a look-up)."""

    __slots__ = ("_items", "_size")

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._size = max(1, size)

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)  # least recently used first
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class SingleFlight(Generic[K, V]):
    """One read per key at a time: callers arriving while it runs get its result.

    A read that fails (or is cancelled) gives its waiters nothing: each then reads for itself,
    within its own request's deadline, so no request gets another one's error."""

    __slots__ = ("_pending", "epoch")

    def __init__(self) -> None:
        self._pending: dict[K, asyncio.Future[V | None]] = {}
        self.epoch = 0  # bumped by forget: a read started before it must not be cached

    async def run(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        pending = self._pending.get(key)
        if pending is not None:
            shared = await asyncio.shield(pending)  # a waiter's cancellation leaves the read running
            return shared if shared is not None else await read()
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        result: V | None = None
        try:
            result = await read()
            return result
        finally:
            if self._pending.get(key) is future:
                del self._pending[key]
            future.set_result(result)

    def forget(self, key: K) -> None:
        """A write changed what ``key`` reads: the next caller starts a new read."""
        self.epoch += 1
        self._pending.pop(key, None)


class Thread:
    """One ticket's indexed reply rows, parsed once per fill of the index (see ``Conversation._parsed``)."""

    __slots__ = ("admin", "generation", "named", "newest", "pairs", "userids")

    def __init__(self, generation: int, pairs: Sequence[tuple[Row, Reply]]) -> None:
        self.generation = generation
        # each row cut to its author columns (the message is in the Reply already)
        self.pairs = tuple(({k: row.get(k) for k in _AUTHOR_COLUMNS}, reply) for row, reply in pairs)
        self.newest = max((r.created_at for _, r in pairs if r.created_at is not None), default=None)
        self.admin = any(to_int(row.get("admin")) for row, _ in pairs)
        # the customers whose contacts name the authors (in the rows' order, once each)
        self.userids = tuple(
            dict.fromkeys(u for row, _ in pairs if not to_int(row.get("admin")) and (u := to_int(row.get("userid"))))
        )
        # (with_staff, named) -> (the staff, the contacts per userid it was named from, the replies)
        self.named: dict[tuple[bool, bool], tuple[object, tuple[object, ...], tuple[Reply, ...]]] = {}


class Conversation:
    def __init__(
        self,
        wire: Wire,
        mappings: VendorMappings,
        parse: ParseFn,
        contacts: Callable[[int], Awaitable[Sequence[Contact]]],
        *,
        staff_ttl: float = 60.0,
        stream: StreamFn | None = None,
        memo_size: int = 256,
    ) -> None:
        self._wire = wire
        self._m = mappings
        self._parse = parse
        self._contacts = contacts
        # (until when, the staff): one value, looked up twice per GetTicket (a TTLCache costs more)
        self._staff: tuple[float, tuple[Staff, ...]] | None = None
        self._staff_ttl = max(staff_ttl, 0.001)
        self._staff_lock = asyncio.Lock()
        self._index = ReplyIndex()
        # how a whole table is read as a stream of rows (the adapter's list code); None: read whole
        self._stream = stream
        self._refresh_lock = asyncio.Lock()
        # ticket -> the lastreply a refresh has already answered for (bounded like the index)
        self._covered: TTLCache[int, datetime] = TTLCache(maxsize=100_000, ttl=24 * 3600)
        # which fill of the index the memos below were made from (bumped by every refresh and close)
        self._generation = 0
        # ticket id -> its parsed reply rows; -> (raw notes, staff, named notes); -> composed ticket
        self._threads: Memo[int, Thread] = Memo(memo_size)
        self._notes: Memo[int, tuple[tuple[Note, ...], object, tuple[Note, ...]]] = Memo(memo_size)
        self._composed: Memo[int, tuple[Ticket, object, object, Ticket]] = Memo(memo_size)

    # ------------------------------------------------------------ staff

    async def staff(self) -> tuple[Staff, ...]:
        """The staff, read again after ``staff_ttl``; one read at a time, shared by those waiting."""
        cached = self._staff
        if cached is not None and monotonic() < cached[0]:
            return cached[1]
        async with self._staff_lock:
            cached = self._staff
            if cached is not None and monotonic() < cached[0]:
                return cached[1]
            rows = rows_of(await self._wire.read("api/staffs"))
            staff = tuple(self._parse("staff", row, Staff) for row in rows)
            self._staff = (monotonic() + self._staff_ttl, staff)
            return staff

    async def resolve_staff(self, author: Author) -> Staff:
        """The staff member a reply is by; InvalidInput naming adminusername when none matches."""
        staff = await self.staff()
        if author.staff_id:
            for member in staff:
                if member.id == author.staff_id:
                    return member
        found = match_staff(staff, author.name)
        if found is None:
            raise InvalidInput(
                f"Invalid adminusername: no staff member has the e-mail, full name or first name {author.name[:80]!r}",
                "adminusername",
            )
        return found

    # ------------------------------------------------------------ reading replies

    async def replies(
        self, ticket_id: int, last_reply_at: datetime | None, with_staff: bool, *, named: bool = True
    ) -> tuple[Reply, ...]:
        """The ticket's replies in date order, refreshing the index when ``lastreply`` says it is stale.

        The same tuple as last time while the rows, the staff and the authors' contacts are."""
        refresh = self._index.refreshed_at is None
        if refresh:
            await self._refresh()
        thread = self._parsed(ticket_id)
        if not refresh and last_reply_at is not None and not self._current(ticket_id, thread, last_reply_at):
            await self._refresh()
            refresh = True
            thread = self._parsed(ticket_id)
        if refresh and last_reply_at is not None:
            self._covered[ticket_id] = last_reply_at
        return await self._named(thread, with_staff, named)

    async def _named(self, thread: Thread, with_staff: bool, named: bool) -> tuple[Reply, ...]:
        """The thread's replies with their authors, in date order."""
        staff: tuple[Staff, ...] = await self.staff() if with_staff and thread.admin else ()
        people = tuple([await self._contacts(u) for u in thread.userids]) if named else ()
        key = (with_staff, named)
        hit = thread.named.get(key)
        if hit is not None and hit[0] is staff and _same_objects(hit[1], people):
            return hit[2]
        by_id = {s.id: s for s in staff}
        contacts: dict[int, Sequence[Contact]] = dict(zip(thread.userids, people, strict=False)) if named else {}
        out = [reply.model_copy(update={"author": _author(row, by_id, contacts)}) for row, reply in thread.pairs]
        replies = tuple(sorted(out, key=lambda r: (r.created_at or datetime.min.replace(tzinfo=UTC), r.id)))
        thread.named[key] = (staff, people, replies)
        return replies

    async def replies_of(
        self, tickets: Sequence[tuple[int, datetime | None]], with_staff: bool, *, named: bool = True
    ) -> list[tuple[Reply, ...]]:
        """Several tickets' replies (id, lastreply pairs), with one refresh at most for them all.

        ``named=False``: customer authors by their ids and the row's own name, without reading
        each customer's contacts (a list that shows who wrote last needs no more)."""
        never = self._index.refreshed_at is None
        stale = [
            (i, at) for i, at in tickets if at is not None and (never or not self._current(i, self._parsed(i), at))
        ]
        if never or stale:
            await self._refresh()
            for ticket_id, at in stale:
                if at is not None:
                    self._covered[ticket_id] = at
        return [await self.replies(ticket_id, None, with_staff, named=named) for ticket_id, _ in tickets]

    def _parsed(self, ticket_id: int) -> Thread:
        """The ticket's indexed rows, parsed: read back and parsed once per fill of the index."""
        generation = self._generation
        thread = self._threads.get(ticket_id)
        if thread is not None and thread.generation == generation:
            return thread
        seen = unmapped_seen()
        rows = self._index.rows(ticket_id)
        thread = Thread(generation, tuple((row, self._parse("ticket_reply", row, Reply)) for row in rows))
        if unmapped_seen() == seen:  # an unmapped value is counted on every read
            self._threads.put(ticket_id, thread)
        return thread

    def _current(self, ticket_id: int, thread: Thread, last_reply_at: datetime) -> bool:
        """Clock-free: the newest indexed reply reaches ``lastreply``, or a refresh already ran
        after this very ``lastreply`` was seen (a ticket whose stamp trails no reply row)."""
        newest = thread.newest
        if newest is not None and newest + _STAMP_SLACK >= last_reply_at:
            return True
        covered = self._covered.get(ticket_id)
        return covered is not None and covered >= last_reply_at

    async def _refresh(self) -> None:
        """Read the whole table once, streamed into a fresh index; callers waiting meanwhile share that read."""
        serial = self._index.serial
        async with self._refresh_lock:
            if self._index.serial != serial:
                return  # another caller refreshed while this one waited
            index = ReplyIndex(refreshed_at=datetime.now(UTC), serial=serial + 1)
            filled = 0

            async def fill(rows: AsyncIterator[Row]) -> None:
                nonlocal filled
                filled = await index.fill(rows)

            try:
                if self._stream is not None:
                    await self._stream(TABLE_PATH + REPLIES_TABLE, fill)
                else:
                    await fill(rows_from(rows_of(await self._wire.read(TABLE_PATH + REPLIES_TABLE))))
            except BaseException:
                index.close()
                raise
            old, self._index = self._index, index
            old.close()
            self._forget_threads()
            log.debug("pmp reply index: %d rows", filled)

    def remember(self, row: Row) -> None:
        """A reply this gateway wrote, visible at once to the next read.

        An index never filled yet is left alone: its first read fills it from the table, this
        row included (a migration's target, written to and never read, holds no replies)."""
        if self._index.refreshed_at is None:
            return
        self._index.add(row)
        self._threads.pop(to_int(row.get("ticketid")))

    def _forget_threads(self) -> None:
        """Another fill of the index: every ticket's rows are read back and parsed anew."""
        self._generation += 1
        self._threads.clear()

    def close(self) -> None:
        """Drop the index (its temporary database); a later read fills a new one."""
        old, self._index = self._index, ReplyIndex()
        old.close()
        self._forget_threads()
        self._notes.clear()
        self._composed.clear()

    # ------------------------------------------------------------ writing a reply

    def reply_row(self, ticket_id: int, reply: NewReply, staff: Staff | None, date: str) -> dict[str, str]:
        """The tblticket_replies row Perfex's own reply logic would insert."""
        author = reply.author
        row = {"ticketid": str(ticket_id), "date": date, "attachment": "", "name": "", "email": ""}
        if staff is not None:
            row.update(admin=str(staff.id), userid="0", contactid="0", message=reply.message)
        elif author.kind == "customer":
            row.update(
                admin="0",
                userid=str(author.customer_id),
                contactid=str(author.contact_id),
                message=customer_text(reply.message),
            )
        else:
            row.update(
                admin="0",
                userid="0",
                contactid="0",
                name=author.name,
                email=author.email,
                message=customer_text(reply.message),
            )
        return row

    # ------------------------------------------------------------ notes

    async def notes(self, ticket_id: int, with_staff: bool) -> tuple[Note, ...]:
        """The ticket's notes in date order, each named by its staff member.

        Read on every call (nothing in the ticket row says when notes change); the same bytes
        give the same tuple (``Wire.read_memo``), named again only when the staff changed."""
        raw = await self._wire.read_memo(f"api/notes/ticket/{ticket_id}", lambda data: self._notes_of(data, ticket_id))
        staff: tuple[Staff, ...] = await self.staff() if with_staff else ()
        hit = self._notes.get(ticket_id)
        if hit is not None and hit[0] is raw and hit[1] is staff:
            return hit[2]
        by_id = {s.id: s for s in staff}
        named = tuple(
            n if (m := by_id.get(n.staff_id)) is None else n.model_copy(update={"staff_name": m.full_name}) for n in raw
        )
        self._notes.put(ticket_id, (raw, staff, named))
        return named

    def _notes_of(self, data: Any, ticket_id: int) -> tuple[Note, ...]:
        """``GET api/notes/ticket/{id}``'s answer -> the ticket's notes in date order, unnamed."""
        out: list[Note] = []
        for row in rows_of(data):
            if str(row.get("rel_type") or "ticket") != "ticket" or to_int(row.get("rel_id") or ticket_id) != ticket_id:
                continue
            out.append(self._parse("note", row, Note))
        return tuple(sorted(out, key=lambda n: (n.created_at or datetime.min.replace(tzinfo=UTC), n.id)))

    # ------------------------------------------------------------ the whole ticket

    def compose(self, ticket: Ticket, replies: Sequence[Reply] | None, notes: Sequence[Note] | None) -> Ticket:
        """The ticket with its replies after the opening message and its notes (None: not read).

        The very same Ticket object as last time while the row's ticket, the replies and the
        notes are the same objects: the render memo then serves it without rendering again."""
        hit = self._composed.get(ticket.id)
        if hit is not None and hit[0] is ticket and hit[1] is replies and hit[2] is notes:
            return hit[3]
        update: dict[str, Any] = {}
        if replies is not None:
            update["replies"] = (*ticket.replies[:1], *replies)
        if notes is not None:
            update["notes"] = tuple(notes)
        out = ticket.model_copy(update=update)
        self._composed.put(ticket.id, (ticket, replies, notes, out))
        return out


def _same_objects(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _author(row: Row, staff: dict[int, Staff], contacts: dict[int, Sequence[Contact]]) -> Author:
    """A reply row's author: staff by id, a customer by the contact (``contacts``: per userid; a
    customer without them goes by the row's own name), else a guest by the row's name."""
    admin = to_int(row.get("admin"))
    if admin:
        member = staff.get(admin)
        name = member.full_name if member is not None else ""
        return Author(kind="staff", staff_id=admin, name=name, email=member.email if member else "")
    userid, contactid = to_int(row.get("userid")), to_int(row.get("contactid"))
    if userid or contactid:
        contact = next((c for c in contacts.get(userid, ()) if c.id == contactid), None)
        return Author(
            kind="customer",
            customer_id=userid,
            contact_id=contactid,
            name=contact.full_name if contact is not None else str(row.get("name") or ""),
            email=contact.email if contact is not None else str(row.get("email") or ""),
        )
    return Author(kind="guest", name=str(row.get("name") or ""), email=str(row.get("email") or ""))


monotonic = time.monotonic


__all__ = ["Conversation", "Memo", "SingleFlight", "customer_text", "match_staff", "staff_opening", "unavailable"]
