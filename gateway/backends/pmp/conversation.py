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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cachetools import TTLCache

from gateway.backends.pmp.discovery import REPLIES_TABLE, TABLE_PATH
from gateway.backends.pmp.reply_index import ReplyIndex, rows_from
from gateway.backends.pmp.wire import Row, Wire, rows_of, to_int, unavailable
from gateway.canonical import Author, Contact, NewReply, Note, Reply, Staff, Ticket
from gateway.errors import InvalidInput
from gateway.mapping.loader import VendorMappings

log = logging.getLogger(__name__)

_TAG = re.compile(r"<[^>]*>")
# how much a ticket's lastreply may trail its reply row's date (Perfex stamps them separately)
_STAMP_SLACK = timedelta(seconds=2)

ParseFn = Callable[[str, Any, type[Any]], Any]
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
    ) -> None:
        self._wire = wire
        self._m = mappings
        self._parse = parse
        self._contacts = contacts
        self._staff: TTLCache[str, tuple[Staff, ...]] = TTLCache(maxsize=1, ttl=max(staff_ttl, 0.001))
        self._staff_lock = asyncio.Lock()
        self._index = ReplyIndex()
        # how a whole table is read as a stream of rows (the adapter's list code); None: read whole
        self._stream = stream
        self._refresh_lock = asyncio.Lock()
        # ticket -> the lastreply a refresh has already answered for (bounded like the index)
        self._covered: TTLCache[int, datetime] = TTLCache(maxsize=100_000, ttl=24 * 3600)

    # ------------------------------------------------------------ staff

    async def staff(self) -> tuple[Staff, ...]:
        cached = self._staff.get("all")
        if cached is not None:
            return cached
        async with self._staff_lock:
            cached = self._staff.get("all")
            if cached is not None:
                return cached
            rows = rows_of(await self._wire.read("api/staffs"))
            staff = tuple(self._parse("staff", row, Staff) for row in rows)
            self._staff["all"] = staff
            return staff

    async def staff_by_id(self) -> dict[int, Staff]:
        return {s.id: s for s in await self.staff()}

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
    ) -> list[Reply]:
        """The ticket's replies in date order, refreshing the index when ``lastreply`` says it is stale."""
        refresh = self._index.refreshed_at is None
        if refresh:
            await self._refresh()
        rows = self._parsed(ticket_id)
        if not refresh and last_reply_at is not None and not self._current(ticket_id, rows, last_reply_at):
            await self._refresh()
            refresh = True
            rows = self._parsed(ticket_id)
        if refresh and last_reply_at is not None:
            self._covered[ticket_id] = last_reply_at
        staff = await self.staff_by_id() if with_staff and any(to_int(r.get("admin")) for r, _ in rows) else {}
        out = [reply.model_copy(update={"author": await self._author(row, staff, named)}) for row, reply in rows]
        return sorted(out, key=lambda r: (r.created_at or datetime.min.replace(tzinfo=UTC), r.id))

    async def replies_of(
        self, tickets: Sequence[tuple[int, datetime | None]], with_staff: bool, *, named: bool = True
    ) -> list[list[Reply]]:
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

    def _parsed(self, ticket_id: int) -> list[tuple[Row, Reply]]:
        return [(row, self._parse("ticket_reply", row, Reply)) for row in self._index.rows(ticket_id)]

    def _current(self, ticket_id: int, rows: Sequence[tuple[Row, Reply]], last_reply_at: datetime) -> bool:
        """Clock-free: the newest indexed reply reaches ``lastreply``, or a refresh already ran
        after this very ``lastreply`` was seen (a ticket whose stamp trails no reply row)."""
        newest = max((r.created_at for _, r in rows if r.created_at is not None), default=None)
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
            log.debug("pmp reply index: %d rows", filled)

    def remember(self, row: Row) -> None:
        """A reply this gateway wrote, visible at once to the next read.

        An index never filled yet is left alone: its first read fills it from the table, this
        row included (a migration's target, written to and never read, holds no replies)."""
        if self._index.refreshed_at is None:
            return
        self._index.add(row)

    def close(self) -> None:
        """Drop the index (its temporary database); a later read fills a new one."""
        old, self._index = self._index, ReplyIndex()
        old.close()

    async def _author(self, row: Row, staff: dict[int, Staff], named: bool = True) -> Author:
        admin = to_int(row.get("admin"))
        if admin:
            member = staff.get(admin)
            name = member.full_name if member is not None else ""
            return Author(kind="staff", staff_id=admin, name=name, email=member.email if member else "")
        userid, contactid = to_int(row.get("userid")), to_int(row.get("contactid"))
        if userid or contactid:
            people = await self._contacts(userid) if userid and named else ()
            contact = next((c for c in people if c.id == contactid), None)
            return Author(
                kind="customer",
                customer_id=userid,
                contact_id=contactid,
                name=contact.full_name if contact is not None else str(row.get("name") or ""),
                email=contact.email if contact is not None else str(row.get("email") or ""),
            )
        return Author(kind="guest", name=str(row.get("name") or ""), email=str(row.get("email") or ""))

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

    async def notes(self, ticket_id: int, with_staff: bool) -> list[Note]:
        rows = rows_of(await self._wire.read(f"api/notes/ticket/{ticket_id}"))
        staff = await self.staff_by_id() if with_staff else {}
        out: list[Note] = []
        for row in rows:
            if str(row.get("rel_type") or "ticket") != "ticket" or to_int(row.get("rel_id") or ticket_id) != ticket_id:
                continue
            note: Note = self._parse("note", row, Note)
            member = staff.get(note.staff_id)
            if member is not None:
                note = note.model_copy(update={"staff_name": member.full_name})
            out.append(note)
        return sorted(out, key=lambda n: (n.created_at or datetime.min.replace(tzinfo=UTC), n.id))


def monotonic() -> float:
    return time.monotonic()


__all__ = ["Conversation", "customer_text", "match_staff", "staff_opening", "unavailable"]
