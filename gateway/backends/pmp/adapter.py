"""The PMP backend: Perfex CRM's REST API module (seed 003's 2.x and today's 3.x).

Field knowledge (names, enum tables, dates, countries, which columns a write
must carry) lives in ``gateway/mappings/pmp/*.yaml``.  The adapter is split
along its seams:

* :mod:`.transport` - how a request travels (injected; aiohttp in the server);
* :mod:`.wire` - URLs, retries and what the module's answers mean;
* :mod:`.settle` - naming the record a create made, settling lost answers;
* :mod:`.discovery` - what the installation offers (generation, staff, notes,
  custom tables), pinned or forbidden by ``backend.features``;
* :mod:`.conversation` - staff, the reply index, notes;
* this module - the Backend protocol: records in, canonical records out.

2.x quirks the adapter works around: ``PUT`` resets columns it is not sent
(ticket priority/assigned, customer countries/currency, contact flags) and
fails on unknown columns, so the adapter reads the record, sends its current
values of the real columns listed in the mapping settings and lays the change
over them (3.x's partial PUT takes the same body); a PUT that changes nothing
answers ``404 ... Update Fail.``: the adapter re-reads the record and counts
the update done when the record already holds the values.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import repeat
from typing import Any, TypeVar

import aiohttp
from cachetools import TTLCache
from pydantic import ValidationError

from gateway import context
from gateway.backends.base import BackendDefaults, Capabilities, FeatureState, Support, TicketHeader
from gateway.backends.keepalive import KeepAlive
from gateway.backends.pmp import discovery
from gateway.backends.pmp.conversation import Conversation, SingleFlight, staff_opening
from gateway.backends.pmp.discovery import DEPARTMENTS_TABLE, REPLIES_TABLE, TABLE_PATH
from gateway.backends.pmp.settle import Creation, Settler, unknown
from gateway.backends.pmp.transport import AiohttpTransport, Transport
from gateway.backends.pmp.wire import (
    NoGrant,
    Refused,
    Row,
    Unsettled,
    Wire,
    plain,
    row_of,
    rows_of,
    same,
    to_int,
    unavailable,
    with_message,
)
from gateway.backends.pmp_lists import PMPLists
from gateway.canonical import (
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
    Priority,
    Reply,
    Staff,
    Status,
    StatusValue,
    Ticket,
    TicketPatch,
    Unmapped,
)
from gateway.errors import BackendError, GatewayError, InvalidInput, NotFound, Unsupported, WriteOutcomeUnknown
from gateway.mapping.dates import DateFormatError
from gateway.mapping.fuse import fuse
from gateway.mapping.loader import VendorMappings
from gateway.mapping.transforms import UNMAPPED_SEEN
from gateway.store import Store

log = logging.getLogger(__name__)

VENDOR = "pmp"
_DATA_ERRORS = (ValueError, TypeError, KeyError, DateFormatError, ValidationError)
# how long a discovery answers /readyz before it is asked again
DISCOVERY_TTL = 30.0
# after a failed discovery, how long the baseline stands before asking again
DISCOVERY_RETRY = 5.0

T = TypeVar("T")

_NO_NOTES = (
    "The backend (PMP) cannot carry out ticket notes: it offers no notes route (module 3.x's "
    "/api/notes, with the token's notes permission)"
)
_REPLIES_GRANT = (
    f"an administrator must put {REPLIES_TABLE} on the API module's custom-table allowlist (module 3.x) "
    f"and give the gateway's token its write grant"
)


_DEPARTMENTS_GRANT = (
    f"an administrator must put {DEPARTMENTS_TABLE} on the API module's custom-table allowlist (module 3.x) "
    f"and give the gateway's token its write grant"
)


# a row's ``admin`` column that names no staff member (staff_opening reads it as 0 and changes nothing)
_NOT_STAFF = (None, "", "0")
_NO_TICKET = "Ticket ID Not Found"


def _ticket_row_of(data: Any) -> Row:
    """``GET api/tickets/{id}``'s answer -> the ticket's row: the usual answer is the row itself
    (what row_of hands back for it), told without its call."""
    if type(data) is dict and "ticketid" in data:
        return data
    return row_of(data, "ticket", _NO_TICKET, "ticketid")


class RowMemo(OrderedDict[str | int, tuple[Row, Ticket]]):
    """Ticket id -> (the row last parsed, its Ticket), least recently used first, at most ``maxsize``.

    A plain ordered dict the adapter reads and writes inline: a list page's rows (and every new
    answer) go through it, and cachetools' LRUCache costs several Python calls a look-up and an
    insert even when it cannot hit."""

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = max(1, maxsize)


class PMPBackend(BackendDefaults):
    name = VENDOR

    def __init__(
        self,
        base_url: str,
        token: str,
        mappings: VendorMappings,
        store: Store,
        *,
        session: aiohttp.ClientSession | None = None,
        transport: Transport | None = None,
        keepalive: KeepAlive | None = None,
        connect_timeout: float = 5.0,
        departments: Sequence[Department] | None = None,
        retries: int | None = None,
        features: Mapping[str, str] | None = None,
    ) -> None:
        if transport is None:
            if session is None:
                raise ValueError("PMPBackend needs a transport or an aiohttp session")
            transport = AiohttpTransport(session, connect_timeout, keepalive)
        s = mappings.settings
        self._m = mappings
        self._store = store
        self._settings = s
        self._wire = Wire(
            base_url,
            token,
            transport,
            attempts=retries + 1 if retries is not None else int(s.get("read_attempts", 3)),
            backoff=float(s.get("retry_backoff_seconds", 0.2)),
            backoff_cap=float(s.get("retry_backoff_max_seconds", 2.0)),
            memo_size=int(s.get("read_memo_size", 1024)),
        )
        self._settle = Settler(
            self._wire,
            store,
            find_reserve=float(s.get("find_reserve_seconds", 2.0)),
            idempotent=lambda: self._caps.has("idempotent_creates"),
        )
        configured = s.get("departments")
        self._departments: tuple[Department, ...] | None = (
            tuple(departments)
            if departments
            else tuple(Department(id=int(d["id"]), name=str(d["name"])) for d in configured)
            if configured
            else None
        )
        self._fetch_limit = asyncio.Semaphore(max(1, int(s.get("contact_fetch_concurrency", 8))))
        ttl = float(s.get("contacts_cache_seconds", 10))
        # the one contacts cache (the guard in front does not cache contacts)
        self._contacts_cache: TTLCache[int, tuple[Contact, ...]] | None = (
            TTLCache(maxsize=4096, ttl=ttl) if ttl > 0 else None
        )
        # when the cache expires under load, one read serves every request waiting for it
        self._contact_reads: SingleFlight[int, tuple[Contact, ...]] = SingleFlight()
        countries = s.get("countries") or {}
        self._country_iso = {str(k): str(v).upper() for k, v in countries.items()}
        self._country_id = {iso: pid for pid, iso in self._country_iso.items()}
        self._blank: dict[str, Row] = {
            "ticket_patch": self._m.model("ticket_patch")(TicketPatch()),
            "customer_patch": self._m.model("customer_patch")(CustomerPatch()),
            "customer_contact_patch": self._m.model("customer_contact_patch")(CustomerPatch()),
            "contact_patch": self._m.model("contact_patch")(ContactPatch()),
        }
        self._pins: Mapping[str, str] = dict(features or {})
        self._caps = discovery.apply_pins(discovery.BASELINE, self._pins)
        self._learned = discovery.Learned(float(s.get("learned_denial_seconds", 300)))
        self._discovered_at: float | None = None
        self._discovery_failed_at: float | None = None
        self._discover_lock = asyncio.Lock()
        # ticket id -> (the row last parsed, its Ticket): see _ticket
        self._rows = RowMemo(int(s.get("row_memo_size", 256)))
        self._secrets = tuple(sorted(mappings.secrets("ticket")))
        self._ticket_record = mappings.unvalidated_record("ticket", Ticket)
        self._lists = PMPLists(self._wire, mappings, self._ticket)
        self._talk = Conversation(
            self._wire,
            mappings,
            self._parse,
            self._contacts,
            stream=self._lists.each_row,
            memo_size=int(s.get("conversation_memo_size", 256)),
        )

    def __repr__(self) -> str:  # never shows the token
        return f"PMPBackend({self._wire.base!r})"

    @property
    def transport(self) -> Transport:
        return self._wire.transport

    def _parse(self, model: str, source: Any, target: type[Any]) -> Any:
        try:
            return self._m.parse(model, source, target)
        except _DATA_ERRORS as exc:
            raise _not_understood(model, exc) from None

    # ============================================================ health and discovery

    async def ping(self) -> None:
        data = await self._wire.read("api/tickets/0")
        if isinstance(data, Refused) and data.status != 404:
            raise unavailable(f"HTTP {data.status}")
        await self._ensure_discovered(max_age=DISCOVERY_TTL)

    async def close(self) -> None:
        """The reply index's temporary database; the HTTP session belongs to the app."""
        self._talk.close()

    async def discover(self) -> Capabilities:
        """Ask the installation now (start-up, SIGHUP's new runtime, ``check --backend``)."""
        async with self._discover_lock:
            found = await discovery.discover(self._wire)
            self._caps = self._learned.apply(discovery.apply_pins(found, self._pins))
            self._discovered_at = time.monotonic()
            self._discovery_failed_at = None
        return self._caps

    async def _ensure_discovered(self, max_age: float | None = None) -> Capabilities:
        """The capabilities, discovering first when never done (or older than ``max_age``).

        A failed discovery leaves the baseline (2.x's) in place for a few seconds
        rather than failing every request while the backend is down."""
        now = time.monotonic()
        at = self._discovered_at
        if at is not None and (max_age is None or now - at < max_age):
            return self._caps
        failed = self._discovery_failed_at
        if at is None and failed is not None and now - failed < DISCOVERY_RETRY:
            return self._caps
        try:
            return await self.discover()
        except BackendError:
            if at is None:
                self._discovery_failed_at = now
                return self._caps
            raise

    def capabilities(self) -> Capabilities:
        return self._caps

    def _denied(self, feature: str, state: FeatureState, exc: NoGrant) -> None:
        """A 403 on a feature's route: what discovery knows is lowered now (INTERFACE "Backends": a
        missing grant may be "learned from the first write"), so the next request is not tried."""
        if self._caps.features.get(feature, "no") != state:
            log.warning("pmp %s lowered to %s: the backend refused %s", feature, state, exc.grant)
        self._learned.note(feature, state)
        self._caps = self._learned.apply(self._caps)

    async def _unless_denied(self, feature: str, read: Awaitable[T]) -> T | None:
        """A read of an optional feature; None (and the feature learned as absent) on a 403."""
        try:
            return await read
        except NoGrant as exc:
            self._denied(feature, "no", exc)
            return None

    def support(self, operation: str) -> Support:
        caps = self._caps
        no_notes = "the backend offers no notes route (PMP module 3.x's /api/notes)"
        if operation == "add_reply":
            if not caps.writable("replies"):
                return ("refused", (self._no_replies(caps),))
            # Perfex's reply logic is bypassed; a WHMCS client sees Open where WHMCS shows Customer-Reply
            return ("loss", ("notifications", "customer-reply-status"))
        if operation == "add_note" and not caps.writable("notes"):
            return ("refused", (no_notes,))
        if operation == "add_note":
            return ("loss", ("note-dates",))  # POST api/notes takes no date: Perfex stamps it
        if operation == "list_notes" and not caps.has("notes"):
            return ("loss", ("notes",))
        if operation == "get_ticket":
            lost = tuple(f for f in ("replies", "notes") if not caps.has(f))
            return ("loss", lost) if lost else ("full", ())
        if operation == "update_ticket":
            return ("loss", ("requester-details",))
        if operation == "add_department" and not caps.writable("departments"):
            return ("refused", (_DEPARTMENTS_GRANT,))
        return ("full", ())

    @staticmethod
    def _no_replies(caps: Capabilities) -> str:
        if caps.features.get("replies") == "read-only":
            return f"the gateway's token may read but not write {REPLIES_TABLE}: {_REPLIES_GRANT}"
        return f"it offers no reply table: {_REPLIES_GRANT}"

    async def list_staff(self) -> Sequence[Staff]:
        caps = await self._ensure_discovered()
        if not caps.has("staff"):
            return []
        return list(await self._talk.staff())

    # ============================================================ tickets

    async def _ticket_row(self, ticket_id: int) -> Row:
        return await self._wire.row(f"api/tickets/{ticket_id}", "ticket", _NO_TICKET, "ticketid")

    def _ticket_answer(self, data: Any) -> Ticket:
        """``GET api/tickets/{id}``'s answer -> the ticket (its opening message only)."""
        return self._ticket(_ticket_row_of(data))

    def _ticket(self, row: Row) -> Ticket:
        """A ticket row parsed; an unchanged row (list pages repeat them) gives back the Ticket it gave
        before, so it costs a dict comparison, not a parse, and renders from the render memo."""
        key = row.get("ticketid") if isinstance(row, dict) else None
        if not isinstance(key, (str, int)):  # (a tuple: isinstance with a union is slower)
            return staff_opening(self._parse("ticket", row, Ticket), row)
        secrets = self._secrets
        if not row.keys().isdisjoint(secrets):
            # the secrets the row's joins bring (password hashes, keys) leave the decoded row,
            # which is the adapter's own, before anything keeps it: the raw record the ticket
            # carries (`remote:` drops them) is then the row itself, not a copy of it less them
            # (`row.pop(secret, None)` for each, in C)
            _drain(map(row.pop, secrets, _NONES))
        memo = self._rows
        hit = memo.get(key)
        if hit is not None and hit[0] == row:
            memo.move_to_end(key)  # least recently used first
            return hit[1]
        box = UNMAPPED_SEEN  # (unmapped_seen() read directly: every new row pays for it twice)
        seen = box[0]
        # (`_parse("ticket", row, Ticket)` spelled out: its record function called directly)
        try:
            out = self._ticket_record(row)
            ticket: Ticket = out if type(out) is Ticket else Ticket.model_validate(out)
        except _DATA_ERRORS as exc:
            raise _not_understood("ticket", exc) from None
        if row.get("admin") not in _NOT_STAFF:  # (most rows: no staff opening, and no call to find it)
            ticket = staff_opening(ticket, row)
        if box[0] == seen:  # an unmapped value is counted on every read
            memo[key] = (row, ticket)
            if hit is not None:
                memo.move_to_end(key)  # (a changed row: its entry is replaced where it stood)
            elif len(memo) > memo.maxsize:  # (a new one is added last, and the memo has grown)
                memo.popitem(last=False)
        return ticket

    async def get_ticket(self, ticket_id: int) -> Ticket:
        # ``ticket_summary`` inlined (one coroutine layer fewer on the busiest read)
        if ticket_id <= 0:
            raise NotFound("ticket", _NO_TICKET)
        ticket: Ticket = await self._wire.read_memo(f"api/tickets/{ticket_id}", self._ticket_answer)
        if self._discovered_at is not None and not self._conversation_kept():
            return ticket  # (what _with_conversation answers then, without its coroutine)
        return await self._with_conversation(ticket)

    def fuse_ticket_render(self, render: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
        """``render`` (a dialect's ticket render) composed with this backend's ticket parse
        (``gateway.mapping.fuse``): a ticket row -> the client's answer, for
        :meth:`get_ticket_fused`; None when the two do not compose."""
        return fuse(self._ticket_record, render, self._m.vendor)

    async def get_ticket_fused(self, ticket_id: int, fused: Callable[[Any], Any]) -> Ticket | dict[str, Any]:
        """:meth:`get_ticket`; but a new answer whose row is the whole ticket (an installation
        with no conversation to add, a ticket not opened by staff) is answered ``fused(row)``,
        the client's answer itself, without its Ticket (made if the same answer comes again)."""
        if ticket_id <= 0:
            raise NotFound("ticket", _NO_TICKET)
        if self._discovered_at is None or self._conversation_kept():
            return await self.get_ticket(ticket_id)

        def fast(data: Any) -> Any:
            row = _ticket_row_of(data)
            key = row.get("ticketid")
            if (key != ticket_id and key != str(ticket_id)) or row.get("admin") not in _NOT_STAFF:
                return None  # (another ticket's row, or a staff opening: the usual way)
            return fused(row)

        return await self._wire.read_memo(f"api/tickets/{ticket_id}", self._ticket_answer, fast)

    def _conversation_kept(self) -> bool:
        """Whether the discovered installation has replies or notes to add to a ticket read."""
        caps = self._caps
        return caps.has("replies") or caps.has("notes")

    async def ticket_summary(self, ticket_id: int) -> Ticket:
        """The ticket row alone (its opening message, no replies or notes): what a list page shows."""
        if ticket_id <= 0:
            raise NotFound("ticket", _NO_TICKET)
        ticket: Ticket = await self._wire.read_memo(
            f"api/tickets/{ticket_id}",
            self._ticket_answer,
        )
        return ticket

    async def _with_conversation(self, ticket: Ticket) -> Ticket:
        """The ticket with its replies (after the opening message) and notes, where the backend has them."""
        # (once discovered, the capabilities without a coroutine: this is on every ticket read)
        caps = self._caps if self._discovered_at is not None else await self._ensure_discovered()
        if not (caps.has("replies") or caps.has("notes")):
            return ticket
        staff = caps.has("staff")
        # one after the other: the replies come from the index (a backend read only when it is
        # stale, or staff or contacts expired), so running them beside the notes' read would
        # cost every GetTicket a task and loop turns to save a round trip on a few
        replies: Sequence[Reply] | None = None
        notes: Sequence[Note] | None = None
        if caps.has("replies"):
            read = self._talk.replies(ticket.id, ticket.last_reply_at, staff)
            replies = await self._unless_denied("replies", read)
        if caps.has("notes"):
            notes = await self._unless_denied("notes", self._talk.notes(ticket.id, staff))
        return self._talk.compose(ticket, replies, notes)

    async def with_replies(self, tickets: Sequence[Ticket]) -> list[Ticket]:
        """List rows with their whole conversation's replies (no notes), from the reply index: a
        list that shows who wrote last (ReadyDesk's ``updated_by``) costs no request per ticket."""
        caps = await self._ensure_discovered()
        if not caps.has("replies"):
            return list(tickets)
        found = await self._unless_denied(
            "replies",
            self._talk.replies_of([(t.id, t.last_reply_at) for t in tickets], caps.has("staff"), named=False),
        )
        if found is None:
            return list(tickets)
        return [t.model_copy(update={"replies": (*t.replies[:1], *r)}) for t, r in zip(tickets, found, strict=True)]

    async def list_tickets(self) -> Sequence[Ticket]:
        # not memoised: a whole table's body and records would stay in memory (issue 11)
        return [self._ticket(row) for row in await self._wire.rows("api/tickets")]

    async def ticket_headers(self) -> Sequence[TicketHeader]:
        return await self._lists.headers()

    def ticket_header_chunks(self) -> AsyncIterator[Sequence[TicketHeader]]:
        """The headers a page at a time (what the header index fills itself from)."""
        return self._lists.header_chunks()

    async def ticket_page(
        self, offset: int, limit: int, order_by: str | None, descending: bool
    ) -> tuple[Sequence[Ticket], int] | None:
        return await self._lists.page(offset, limit, order_by, descending)

    async def open_ticket(self, new: NewTicket) -> Ticket:
        await self._ensure_discovered()
        if new.customer_id and not new.contact_id:
            # the module requires a contact; a customer's ticket goes to its primary contact
            primary = _primary(await self._contacts(new.customer_id))
            if primary is not None:
                new = new.model_copy(update={"contact_id": primary.id})
        form = _form(self._m.model("ticket_form")(new))
        creation = Creation(
            noun="ticket",
            claim_kind="pmp-ticket",
            post_path="api/tickets",
            id_key="ticketid",
            # streamed and cut to what matching needs: never the whole table in memory (issue 11)
            # (only the rows that match are kept: one matching row, not 100,000, stays in memory)
            listing=lambda: self._lists.ticket_rows(
                ("ticketid", *_TICKET_IDS, "subject", "message"), keep=lambda row: _ticket_matches(row, form)
            ),
            matches=lambda row: _ticket_matches(row, form),
            created=self._row_date,
        )
        ticket_id = await self._settle.create(creation, form)
        # The ticket exists from here on: a failure must not tell the client to open it again.
        try:
            row = await self._ticket_row(ticket_id)
            followup = self._ticket_followup(new, row)
            if followup:
                try:
                    await self._put_ticket(ticket_id, row, followup)
                    row = await self._ticket_row(ticket_id)
                except GatewayError as exc:
                    log.warning("pmp ticket %s created, follow-up update failed: %s", ticket_id, exc.message)
            return self._ticket(row)
        except BackendError as exc:
            raise _created_but(f"ticket {ticket_id}", exc) from None

    def _row_date(self, row: Row) -> datetime | None:
        try:
            return self._ticket(row).created_at
        except BackendError:
            return None

    def _ticket_followup(self, new: NewTicket, row: Row) -> Row:
        rendered = self._m.model("ticket_followup")(new)
        out = {k: v for k, v in rendered.items() if v not in (None, "")}
        if new.contact_id:
            out.pop("name", None)
            out.pop("email", None)
        if new.status is None or same(row.get("status"), out.get("status")):
            out.pop("status", None)
        elif "status" in out:
            out["status"] = self._vendor_code(new.status, "ticket_status", "status")
        return out

    async def update_ticket(self, ticket_id: int, patch: TicketPatch) -> Ticket:
        row = await self._ticket_row(ticket_id)
        changes = self._changes("ticket_patch", patch)
        if patch.status is not None:
            changes["status"] = self._vendor_code(patch.status, "ticket_status", "status")
        if patch.priority is not None:
            changes["priority"] = self._vendor_code(patch.priority, "ticket_priority", "priority")
        if "last_reply_at" in patch.model_fields_set and patch.last_reply_at is None:
            changes["lastreply"] = None  # a ticket without a last reply (a migrated one whose source has none)
        if changes:
            await self._put_ticket(ticket_id, row, changes)
        return await self.get_ticket(ticket_id)

    async def _put_ticket(self, ticket_id: int, row: Row, changes: Row) -> None:
        aliases: Mapping[str, str] = self._settings.get("ticket_row_aliases") or {}
        body = {k: row.get(k) for k in self._settings.get("ticket_update_columns") or () if k in row}
        body.update(changes)

        async def reread() -> Row:
            fresh = await self._ticket_row(ticket_id)
            return {k: fresh.get(aliases.get(k, k)) for k in changes}

        await self._settle.put(f"api/tickets/{ticket_id}", body, changes, reread, "ticket")

    async def delete_ticket(self, ticket_id: int) -> None:
        await self._settle.delete(
            f"api/delete/tickets/{ticket_id}",
            NotFound("ticket", "Ticket ID not found"),
            lambda: self._wire.exists(f"api/tickets/{ticket_id}"),
            "ticket",
        )

    # ============================================================ replies and notes

    async def add_reply(self, ticket_id: int, reply: NewReply) -> None:
        await self.add_replies(ticket_id, [("", reply)])

    async def add_replies(
        self,
        ticket_id: int,
        replies: Sequence[tuple[str, NewReply]],
        written: Callable[[str], Awaitable[None]] | None = None,
    ) -> Ticket:
        """Replies on one ticket, in order: a row each, then the ticket's ``lastreply``, status and
        read flags updated once, as Perfex's reply logic leaves them after the last of them.

        Each reply comes with its caller's key (the Idempotency-Key of its row; "" = the current
        request's); ``written(key)`` hears of each row as soon as it exists.  A migration writes a
        ticket's whole conversation this way: one ticket read and one update instead of one each
        per reply.  Answers the ticket's header as the update left it (its row with the update's
        columns laid over it: 3.x's PUT stores what it is sent), without its conversation."""
        caps = await self._ensure_discovered()
        if not caps.writable("replies"):
            raise Unsupported(
                f"The backend (PMP) cannot carry out ticket replies: {self._no_replies(caps)}; nothing was written"
            )
        row = await self._ticket_row(ticket_id)  # a missing ticket: "not found", nothing written
        ctx = context.current()
        base = ctx.idempotency_key
        last: tuple[NewReply, bool, str] | None = None
        flags: Row = {}
        changes: Row = {}
        try:
            for key, reply in replies:
                ctx.idempotency_key = key or base
                by_staff, date = await self._reply_row(ticket_id, row, reply)
                last = (reply, by_staff, date)
                flags["clientread" if by_staff else "adminread"] = "0"
                if written is not None:
                    await written(key)
        finally:
            ctx.idempotency_key = base
            if last is not None:
                changes = await self._after_reply(ticket_id, row, *last, flags)
        return self._ticket({**row, **changes})

    async def _reply_row(self, ticket_id: int, row: Row, reply: NewReply) -> tuple[bool, str]:
        """One tblticket_replies row; (by staff, its date as written)."""
        staff = await self._talk.resolve_staff(reply.author) if reply.author.kind == "staff" else None
        reply = await self._with_contact(reply, row)
        when = reply.created_at or datetime.now(UTC)
        date = str(self._m.model("reply_date")(reply.model_copy(update={"created_at": when}))["date"])
        fields = self._talk.reply_row(ticket_id, reply, staff, date)
        creation = Creation(
            noun="reply",
            claim_kind="pmp-reply",
            post_path=TABLE_PATH + REPLIES_TABLE,
            id_key="id",
            listing=lambda: self._wire.rows(TABLE_PATH + REPLIES_TABLE),
            matches=lambda r: (
                to_int(r.get("ticketid")) == ticket_id
                and same(r.get("message"), fields["message"])
                and same(r.get("date"), date)
            ),
        )
        try:
            reply_id = await self._settle.create(creation, fields)
        except NoGrant as exc:
            self._denied("replies", "read-only", exc)
            raise Unsupported(
                f"The backend (PMP) cannot carry out ticket replies: {self._no_replies(self._caps)}; "
                f"nothing was written"
            ) from None
        self._talk.remember({**fields, "id": str(reply_id)})
        return staff is not None, date

    async def _with_contact(self, reply: NewReply, row: Row) -> NewReply:
        """A customer's reply names its contact (Perfex's contactid): the ticket's, else the primary one."""
        author = reply.author
        if author.kind != "customer" or author.contact_id or not author.customer_id:
            return reply
        contact_id = to_int(row.get("contactid")) if to_int(row.get("userid")) == author.customer_id else 0
        if not contact_id:
            primary = _primary(await self._contacts(author.customer_id))
            contact_id = primary.id if primary is not None else 0
        return reply.model_copy(update={"author": author.model_copy(update={"contact_id": contact_id})})

    async def _after_reply(
        self, ticket_id: int, row: Row, reply: NewReply, by_staff: bool, date: str, flags: Row
    ) -> Row:
        """What Perfex's own reply logic does to the ticket after its last reply: lastreply, status,
        and the read flags each of the replies cleared; the columns it changed ({} if it failed)."""
        status: StatusValue = reply.status or (Status.ANSWERED if by_staff else Status.OPEN)
        changes: Row = {"lastreply": date, "status": self._vendor_code(status, "ticket_status", "status")}
        changes.update(flags)
        try:
            await self._put_ticket(ticket_id, row, changes)
        except GatewayError as exc:
            # The reply is written: failing now would make the client send it twice.
            log.warning("pmp reply on ticket %s written, ticket update failed: %s", ticket_id, exc.message)
            return {}
        aliases: Mapping[str, str] = self._settings.get("ticket_row_aliases") or {}
        return {aliases.get(k, k): v for k, v in changes.items()}

    async def add_note(self, ticket_id: int, note: NewNote) -> None:
        caps = await self._ensure_discovered()
        if not caps.writable("notes"):
            raise Unsupported(f"{_NO_NOTES}; nothing was written")
        await self._ticket_row(ticket_id)
        form = {"rel_type": "ticket", "rel_id": str(ticket_id), "description": note.message}
        creation = Creation(
            noun="note",
            claim_kind="pmp-note",
            post_path="api/notes",
            id_key="id",
            listing=lambda: self._wire.rows(f"api/notes/ticket/{ticket_id}"),
            matches=lambda r: same(r.get("description"), note.message),
        )
        try:
            await self._settle.create(creation, form)
        except NoGrant as exc:
            self._denied("notes", "read-only", exc)
            raise Unsupported(f"{_NO_NOTES}; nothing was written") from None

    async def list_notes(self, ticket_id: int) -> Sequence[Note]:
        caps = await self._ensure_discovered()
        if not caps.has("notes"):
            return []
        return await self._unless_denied("notes", self._talk.notes(ticket_id, caps.has("staff"))) or []

    # ============================================================ departments and statuses

    async def list_departments(self) -> Sequence[Department]:
        if self._departments is not None:
            return list(self._departments)  # the operator's (or the embedded simulator's) own list
        caps = await self._ensure_discovered()
        listed = (
            await self._unless_denied("departments", self._wire.read(TABLE_PATH + DEPARTMENTS_TABLE))
            if (caps.has("departments"))
            else None
        )
        if listed is not None:
            rows = rows_of(listed)
            return sorted((self._parse("department", r, Department) for r in rows), key=lambda d: d.id)
        found: dict[int, Department] = {}
        for ticket in await self.list_tickets():
            if ticket.department is not None and ticket.department.id:
                found.setdefault(ticket.department.id, ticket.department)
        return sorted(found.values(), key=lambda d: d.id)

    def departments_known(self) -> bool:
        return self._caps.has("departments") or self._departments is not None

    async def add_department(self, name: str) -> Department:
        """A row in the allowlisted ``tbldepartments`` custom table (module 3.x, with the write grant)."""
        caps = await self._ensure_discovered()
        if not caps.writable("departments"):
            raise Unsupported(f"The backend (PMP) cannot create departments: {_DEPARTMENTS_GRANT}; nothing was written")
        wanted = plain(name)
        creation = Creation(
            noun="department",
            claim_kind="pmp-department",
            post_path=TABLE_PATH + DEPARTMENTS_TABLE,
            id_key="departmentid",
            listing=lambda: self._wire.rows(TABLE_PATH + DEPARTMENTS_TABLE),
            matches=lambda row: plain(row.get("name")) == wanted,
        )
        department_id = await self._settle.create(creation, {"name": name})
        if self._departments is not None:  # an operator's list: it now has one more
            self._departments = (*self._departments, Department(id=department_id, name=name))
        return Department(id=department_id, name=name)

    def statuses(self) -> Sequence[tuple[StatusValue, str]]:
        table = self._m.enums["ticket_status"].to_canonical
        out: list[tuple[StatusValue, str]] = []
        for entry in self._settings.get("statuses") or ():
            code = str(entry["id"])
            value = table.get(code.casefold())
            status: StatusValue = (
                value
                if isinstance(value, Status)
                else Unmapped(vendor=VENDOR, code=code, label=str(entry.get("name", "")))
            )
            out.append((status, str(entry.get("color", ""))))
        return out

    def _vendor_code(self, value: StatusValue | Priority, enum: str, field: str) -> str:
        """A canonical status/priority as the backend's id; InvalidInput when it has none."""
        if isinstance(value, Unmapped):
            if value.vendor == VENDOR and value.code.isdigit():
                return value.code
            if enum == "ticket_status":
                wanted = {value.label.casefold(), value.code.casefold()}
                for entry in self._settings.get("statuses") or ():
                    if str(entry.get("name", "")).casefold() in wanted:
                        return str(entry["id"])
            raise InvalidInput(f"Invalid {field}: {value}", field)
        code = self._m.enums[enum].to_vendor.get(value)
        if code is None or not code.isdigit():
            raise InvalidInput(f"Invalid {field}: {value}", field)
        return code

    # ============================================================ customers

    async def list_customers(self) -> Sequence[Customer]:
        rows = await self._wire.rows("api/customers")

        async def one(row: Row) -> Customer:
            async with self._fetch_limit:
                contacts = await self._contacts(to_int(row.get("userid")))
            return self._customer(row, contacts)

        return list(await asyncio.gather(*(one(r) for r in rows)))

    async def get_customer(self, customer_id: int) -> Customer:
        row = await self._customer_row(customer_id)
        return self._customer(row, await self._contacts(customer_id))

    async def _customer_row(self, customer_id: int) -> Row:
        if customer_id <= 0:
            raise NotFound("customer", "Client ID Not Found")
        # the document's example here shows a project object by mistake: the client row has userid
        return await self._wire.row(f"api/customers/{customer_id}", "customer", "Client ID Not Found", "userid")

    def _customer(self, row: Row, contacts: Sequence[Contact]) -> Customer:
        primary = _primary(contacts)
        source = {
            "customer": row,
            "primary": primary.model_dump() if primary is not None else None,
            "country": self._iso_country(row.get("country")),
        }
        customer: Customer = self._parse("customer", source, Customer)
        return customer

    async def add_customer(self, new: NewCustomer) -> Customer:
        await self._ensure_discovered()
        form = _form(self._m.model("customer_form")(new))
        if not form.get("company", "").strip():
            form["company"] = f"{new.firstname} {new.lastname}".strip()
        self._country_field(form)
        company = form["company"]
        creation = Creation(
            noun="customer",
            claim_kind="pmp-customer",
            post_path="api/customers",
            id_key="userid",
            listing=lambda: self._wire.rows("api/customers"),
            matches=lambda row: plain(row.get("company")) == plain(company),
        )
        customer_id = await self._settle.create(creation, form)
        self._forget(customer_id)
        contact = NewContact(
            customer_id=customer_id,
            firstname=new.firstname,
            lastname=new.lastname,
            email=new.email,
            phone=new.phone,
            password=new.password,
            is_primary=True,
        )
        try:
            await self._add_contact(contact)
        except GatewayError as exc:
            raise await self._undo_customer(customer_id, exc) from None
        try:
            return await self.get_customer(customer_id)
        except BackendError as exc:
            raise _created_but(f"client {customer_id}", exc) from None

    async def _undo_customer(self, customer_id: int, cause: GatewayError) -> GatewayError:
        """Delete a customer whose primary contact failed; the error to raise says how that went."""
        try:
            await self._wire.write("DELETE", f"api/delete/customers/{customer_id}")
        except (GatewayError, Unsettled) as undo:
            log.error("pmp customer %s left behind: its contact failed and the undo failed", customer_id)
            return unknown(
                "client",
                "creating",
                f"the customer record {customer_id} was created, its contact failed ({cause.message}), "
                f"and it could not be removed again ({undo.message})",
            )
        finally:
            self._forget(customer_id)
        return with_message(cause, f"{cause.message} (the customer was not created)")

    async def update_customer(self, customer_id: int, patch: CustomerPatch) -> Customer:
        row = await self._customer_row(customer_id)
        changes = self._changes("customer_patch", patch)
        self._country_field(changes)
        contact_changes = self._changes("customer_contact_patch", patch)
        self._forget(customer_id)
        primary = _primary(await self._contacts(customer_id))
        if contact_changes and primary is None:
            raise InvalidInput("The client has no primary contact to hold a name, email or phone", "email")
        if changes:
            body = {k: row.get(k) for k in self._settings.get("customer_update_columns") or () if k in row}
            body.update(changes)
            if not str(body.get("company") or "").strip():
                body["company"] = row.get("company") or (primary.full_name if primary else "") or "-"

            async def reread() -> Row:
                return await self._customer_row(customer_id)

            await self._settle.put(f"api/customers/{customer_id}", body, changes, reread, "client")
        if contact_changes and primary is not None:
            await self._update_contact(primary.id, contact_changes)
        self._forget(customer_id)
        return await self.get_customer(customer_id)

    async def delete_customer(self, customer_id: int) -> None:
        try:
            await self._settle.delete(
                f"api/delete/customers/{customer_id}",
                NotFound("customer", "Client ID Not Found"),
                lambda: self._wire.exists(f"api/customers/{customer_id}"),
                "client",
            )
        finally:
            self._forget(customer_id)

    # ------------------------------------------------------------ countries

    def _iso_country(self, value: Any) -> str:
        code = "" if value in (None, "") else str(value).strip()
        if code in ("", "0"):
            return ""
        return self._country_iso.get(code, code)

    def _country_field(self, fields: dict[str, Any]) -> None:
        """An ISO code in ``fields['country']`` -> the Perfex country id."""
        value = fields.get("country")
        if value is None:
            return
        code = str(value).strip().upper()
        if code == "":
            fields["country"] = "0"
        elif code in self._country_id:
            fields["country"] = self._country_id[code]
        elif not code.isdigit():
            raise InvalidInput(f"Unknown country code: {str(value)[:40]}", "country")

    # ============================================================ contacts

    async def _contacts(self, customer_id: int) -> tuple[Contact, ...]:
        cache = self._contacts_cache
        if cache is None or customer_id <= 0:
            return await self._read_contacts(customer_id)
        hit = cache.get(customer_id)
        if hit is not None:
            return hit
        return await self._contact_reads.run(customer_id, lambda: self._read_contacts(customer_id))

    async def _read_contacts(self, customer_id: int) -> tuple[Contact, ...]:
        epoch = self._contact_reads.epoch
        rows = await self._wire.rows(f"api/contacts/{customer_id}") if customer_id > 0 else []
        contacts = tuple(self._contact(r) for r in rows)
        # (a write meanwhile made what this read saw possibly older than the write)
        if self._contacts_cache is not None and epoch == self._contact_reads.epoch:
            self._contacts_cache[customer_id] = contacts
        return contacts

    def _forget(self, customer_id: int) -> None:
        if self._contacts_cache is not None:
            self._contacts_cache.pop(customer_id, None)
        self._contact_reads.forget(customer_id)

    def _contact(self, row: Row) -> Contact:
        contact: Contact = self._parse("contact", row, Contact)
        return contact

    async def list_contacts(self, customer_id: int) -> Sequence[Contact]:
        return list(await self._contacts(customer_id))

    async def _contact_row(self, contact_id: int) -> Row:
        if contact_id <= 0:
            raise NotFound("contact", "Contact ID Not Found")
        # the customer id in this path is not checked by the module
        return await self._wire.row(f"api/contacts/0/{contact_id}", "contact", "Contact ID Not Found", "id")

    async def get_contact(self, contact_id: int) -> Contact:
        return self._contact(await self._contact_row(contact_id))

    async def add_contact(self, new: NewContact) -> Contact:
        contact_id = await self._add_contact(new)
        try:
            return await self.get_contact(contact_id)
        except BackendError as exc:
            raise _created_but(f"contact {contact_id}", exc) from None

    async def _add_contact(self, new: NewContact) -> int:
        await self._ensure_discovered()
        form = _form(self._m.model("contact_form")(new))
        if not form.get("password"):
            form.pop("password", None)
            form["send_set_password_email"] = "on"
        email = form.get("email", "").strip().casefold()
        creation = Creation(
            noun="contact",
            claim_kind="pmp-contact",
            post_path="api/contacts",
            id_key="id",
            listing=lambda: self._wire.rows(f"api/contacts/{new.customer_id}"),
            matches=lambda row: str(row.get("email") or "").strip().casefold() == email,
        )
        try:
            return await self._settle.create(creation, form)
        finally:
            self._forget(new.customer_id)

    async def update_contact(self, contact_id: int, patch: ContactPatch) -> Contact:
        """PUT api/contacts/:id with the columns the patch changes (over the row's current ones)."""
        row = await self._contact_row(contact_id)  # a missing contact: "not found", nothing written
        changes = self._changes("contact_patch", patch)
        try:
            if changes:
                await self._update_contact(contact_id, changes, row)
        finally:
            self._forget(to_int(row.get("userid")))
        return await self.get_contact(contact_id)

    async def delete_contact(self, contact_id: int) -> None:
        row = await self._contact_row(contact_id)
        try:
            await self._settle.delete(
                f"api/delete/contacts/{contact_id}",
                NotFound("contact", "Contact ID Not Found"),
                lambda: self._contact_exists(contact_id),
                "contact",
            )
        finally:
            self._forget(to_int(row.get("userid")))

    async def _contact_exists(self, contact_id: int) -> bool:
        try:
            await self._contact_row(contact_id)
        except NotFound:
            return False
        return True

    async def _update_contact(self, contact_id: int, changes: Row, row: Row | None = None) -> None:
        row = row if row is not None else await self._contact_row(contact_id)
        body = {k: row.get(k) for k in self._settings.get("contact_update_columns") or () if k in row}
        body.update(changes)

        async def reread() -> Row:
            return await self._contact_row(contact_id)

        await self._settle.put(f"api/contacts/{contact_id}", body, changes, reread, "contact")

    # ============================================================ write helpers

    def _changes(self, model: str, patch: Any) -> Row:
        """The columns a patch changes: those rendering differently from an empty patch."""
        rendered = self._m.model(model)(patch)
        blank = self._blank[model]
        return {k: v for k, v in rendered.items() if v != blank.get(k)}


# ---------------------------------------------------------------- helpers


def _not_understood(model: str, exc: Exception) -> GatewayError:
    """A backend record no mapping could parse: logged (its error's kind, never its values)."""
    log.warning("pmp %s record not understood: %s", model, type(exc).__name__)
    return unavailable(f"a {model} record has the wrong shape")


# (`deque(..., maxlen=0).extend`: runs an iterator to its end in C, keeping nothing)
_drain: Callable[[Iterable[Any]], None] = deque(maxlen=0).extend
_NONES = repeat(None)


def _created_but(what: str, exc: BackendError) -> GatewayError:
    """A record was created but could not be read back: never a plain failure (the client would retry)."""
    return WriteOutcomeUnknown(
        f"The {what} was created, but reading it back failed ({exc.message}), so the outcome the client "
        f"sees is unknown: check before creating it again"
    )


def _form(rendered: Mapping[str, Any]) -> dict[str, str]:
    """Form fields as the module reads them: strings, absent when None."""
    return {k: str(v) for k, v in rendered.items() if v is not None}


def _primary(contacts: Iterable[Contact]) -> Contact | None:
    contacts = list(contacts)
    for contact in contacts:
        if contact.is_primary:
            return contact
    return contacts[0] if contacts else None


_TICKET_IDS = ("userid", "contactid", "department")


def _ticket_matches(row: Row, form: Mapping[str, str]) -> bool:
    """A listed ticket row holds what the create sent (the backend may strip markup and add <br />)."""
    if any(to_int(row.get(k)) != to_int(form.get(k)) for k in _TICKET_IDS):
        return False
    return plain(row.get("subject")) == plain(form.get("subject")) and plain(row.get("message")) == plain(
        form.get("message")
    )
