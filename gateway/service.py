"""The hub: carries canonical operations out against one backend.

Dialects call :meth:`Service.run` with an operation name and its argument
model; the service resolves dialect-visible ticket numbers through the store,
does the filtering, sorting and paging a backend cannot, computes counts, and
hands back the result types of ``gateway.operations``.  It knows no vendor.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import math
import operator
import re
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway import canonical as c
from gateway import operations as ops
from gateway.backends import index as ix
from gateway.backends.base import Backend, TicketHeader, header_of
from gateway.errors import BackendError, GatewayError, InvalidInput, NotFound, Unsupported
from gateway.pages import ticket_page
from gateway.plain_args import construct
from gateway.store import Store

log = logging.getLogger(__name__)

TICKET = "ticket"
_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only, within a 64-bit id
_NUMBER = operator.attrgetter("number")
Handler = Callable[[Any], Awaitable[Any]]


def build_args(operation: str, values: dict[str, Any]) -> BaseModel:
    """A dialect's parsed parameters -> the operation's argument model, or InvalidInput."""
    # argument models are frozen and their validation depends on the values alone: a client
    # polling the same record gets the model already built (scalar values only, typed in the key
    # so that 1, 1.0 and True stay apart)
    key = _args_key(operation, values)
    if key is not None:
        built = _BUILT_ARGS.get(key)
        if built is not None:
            return built
    spec = ops.OPERATIONS[operation]
    try:
        # plain values for a plain model: built as validation would build it (gateway.plain_args)
        model = construct(spec.args, values) or spec.args.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        if first.get("type") == "missing":
            raise InvalidInput(field=field, reason="required") from None
        raise InvalidInput(f"{field}: {first.get('msg', 'invalid value')}", field, reason="invalid") from None
    if key is not None and spec.args.model_config.get("frozen"):  # shared between requests
        if len(_BUILT_ARGS) >= _BUILT_ARGS_MAX:
            _BUILT_ARGS.clear()
        _BUILT_ARGS[key] = model
    return model


_BUILT_ARGS: dict[tuple[Any, ...], BaseModel] = {}
_BUILT_ARGS_MAX = 512
_SCALARS = (str, int, bool, float, type(None))
_SHORT = 256  # longer texts (a reply's message) are not worth keeping


def _args_key(operation: str, values: dict[str, Any]) -> tuple[Any, ...] | None:
    """What ``build_args`` may be memoised under; None when a value is not a short scalar."""
    key: list[Any] = [operation]
    for name, value in values.items():
        kind = type(value)
        if kind not in _SCALARS or (kind is str and len(value) > _SHORT):
            return None
        key += (name, kind, value)
    return tuple(key)


# Argument fields that name a record, and the record's kind.  A negative id names none:
# refused here, before any backend call (WHMCS, being PHP, takes `-5` for an id and finds
# no such client; `0` is its "none", which the handlers treat as such where it may be none).
ID_FIELDS: dict[str, str] = {
    "ticket_id": "ticket",
    "customer_id": "customer",
    "contact_id": "contact",
    "department_id": "department",
    "assigned_staff_id": "staff",
}
# where an id is a filter, a negative one matches nothing instead
_FILTERING = frozenset({"list_tickets", "list_customers", "list_contacts", "list_statuses", "list_departments"})
# where even 0 must name a record (there is no "none")
_NAMES_A_RECORD: frozenset[tuple[str, str]] = frozenset({("add_contact", "customer_id")})


_ID_FIELDS_OF: dict[type[BaseModel], tuple[tuple[str, str], ...]] = {}


def _id_fields_of(cls: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    """The ID_FIELDS an argument model has (asking a pydantic model for a field it lacks
    raises and catches an AttributeError: a cost on every request, paid here once)."""
    found = _ID_FIELDS_OF.get(cls)
    if found is None:
        found = _ID_FIELDS_OF[cls] = tuple((n, k) for n, k in ID_FIELDS.items() if n in cls.model_fields)
    return found


def refuse_bad_ids(operation: str, args: BaseModel) -> None:
    """NotFound for an id that cannot name a record (<= 0 where 0 is not "none")."""
    cls = type(args)
    fields = _ID_FIELDS_OF.get(cls)  # (_id_fields_of's look-up inline: every request passes here)
    for name, kind in fields if fields is not None else _id_fields_of(cls):
        value = getattr(args, name, None)
        if type(value) is not int:
            continue
        if value < 0 or (value == 0 and (operation, name) in _NAMES_A_RECORD):
            raise NotFound(kind)


#: Full tickets of one list page read at once (the page's rows the index named).
PAGE_FETCH_CONCURRENCY = 10
SHOWN_MEMO_SIZE = 256  # tickets shown with another number or replies newest first, kept per source object
#: fused translations a service keeps (one per dialect's ticket render: a handful)
FUSED_KEPT = 64
GET_TICKET = "get_ticket"
_UNSET: Any = object()
#: A list without a limit whose filter matches more tickets than this reads one full listing instead.
UNLIMITED_BY_ID = 200


class Service:
    def __init__(self, backend: Backend, store: Store, *, max_staleness: float = 5.0) -> None:
        self.backend = backend
        self.store = store
        # lists, counts and statistics: see gateway/backends/index.py and INTERFACE "Freshness"
        self.index = ix.HeaderIndex(self._all_headers, self._header, store=store, max_staleness=max_staleness)
        self._tallies: tuple[int, int, Counter[tuple[int, int]]] | None = None
        self._shown_memo: OrderedDict[tuple[int, str | None, bool], tuple[c.Ticket, c.Ticket]] = OrderedDict()
        # a dialect's ticket render -> the backend's fused translation for it, or None (ticket_body)
        self._fused: dict[Callable[[Any], Any], Callable[[Any], Any] | None] = {}
        self._handlers: dict[str, Handler] = {
            "get_ticket": self.get_ticket,
            "list_tickets": self.list_tickets,
            "open_ticket": self.open_ticket,
            "update_ticket": self.update_ticket,
            "delete_ticket": self.delete_ticket,
            "add_reply": self.add_reply,
            "add_note": self.add_note,
            "list_notes": self.list_notes,
            "list_departments": self.list_departments,
            "list_statuses": self.list_statuses,
            "ticket_counts": self.ticket_counts,
            "list_customers": self.list_customers,
            "get_customer": self.get_customer,
            "add_customer": self.add_customer,
            "update_customer": self.update_customer,
            "delete_customer": self.delete_customer,
            "list_contacts": self.list_contacts,
            "add_contact": self.add_contact,
            "customer_details": self.customer_details,
            "get_contact": self.get_contact,
            "list_staff": self.list_staff,
            "update_contact": self.update_contact,
            "delete_contact": self.delete_contact,
        }

    def run(self, operation: str, args: BaseModel) -> Awaitable[Any]:
        """The operation carried out (awaited by the caller): its handler's own coroutine, with no
        coroutine layer of the service's around it (every request passes here)."""
        if operation not in _FILTERING:
            refuse_bad_ids(operation, args)
        return self._handlers[operation](args)

    # ------------------------------------------------------------ tickets

    async def _resolve(self, ref: ops.TicketRefArgs) -> int:
        if ref.ticket_id is not None:
            if ref.ticket_id <= 0:
                raise NotFound(TICKET)
            return ref.ticket_id
        if ref.ticket_number:
            # after a migration, the backend layer knows the legacy numbers (gateway.migrate.legacy)
            legacy = await self.backend.resolve_number(ref.ticket_number)
            if legacy is not None:
                return int(legacy)
            linked = await self.store.id_for(TICKET, ref.ticket_number)
            if linked is not None:
                return linked
            found = await self.backend.ticket_id_for(ref.ticket_number)  # a backend's own numbers (WHMCS tid)
            if found is not None:
                return int(found)
            if _ID.fullmatch(ref.ticket_number) and int(ref.ticket_number) > 0:
                return int(ref.ticket_number)
            raise NotFound(TICKET)
        raise InvalidInput(field="ticketid", reason="ticket_ref_required")

    async def _numbered(self, tickets: Sequence[c.Ticket]) -> list[c.Ticket]:
        # (the ids as a generator: a link-free store answers without reading them; the numbers
        # tested without a Python frame per ticket)
        numbers = await self.store.numbers_for(TICKET, (t.id for t in tickets))
        if not numbers and all(map(_NUMBER, tickets)):
            return list(tickets)  # (no links, every ticket numbered by its backend: the loop below changes none)
        out = []
        for t in tickets:
            number = numbers.get(t.id) or t.number or str(t.id)
            out.append(t if number == t.number else t.model_copy(update={"number": number}))
        return out

    async def _ticket(self, ticket_id: int) -> c.Ticket:
        return (await self._numbered([await self.backend.get_ticket(ticket_id)]))[0]

    async def get_ticket(self, args: ops.GetTicketArgs) -> c.Ticket:
        # the usual call (a ticket id) skips two coroutine layers: this is the busiest read
        tid = args.ticket_id
        if tid is not None and tid > 0:
            found = await self.backend.get_ticket(tid)
            numbers = await self.store.numbers_for(TICKET, (found.id,))
            number = numbers.get(found.id) or found.number or str(found.id)
        else:
            found = await self._ticket(await self._resolve(args))
            number = found.number
        if number == found.number and not args.replies_desc:
            return found
        return self._shown(found, number, args.replies_desc)

    async def ticket_body(self, args: ops.GetTicketArgs, render: Callable[[Any], Any]) -> Any:
        """``render(await get_ticket(args))``: the ticket rendered for a client.  A backend that
        composes its parse with ``render`` (``fuse_ticket_render``) answers a changed ticket row
        rendered at once, without its canonical Ticket, when nothing of the gateway's changes
        the ticket (no number of the store's, oldest replies first)."""
        fused = self._fused.get(render, _UNSET)
        if fused is _UNSET:
            fused = self._fuse(render)
        tid = args.ticket_id
        if fused is None or tid is None or tid <= 0 or args.replies_desc:
            return render(await self.run(GET_TICKET, args))
        if await self.store.numbers_for(TICKET, (tid,)):
            return render(await self.get_ticket(args))
        found = await self.backend.get_ticket_fused(tid, fused)
        if not isinstance(found, c.Ticket):
            return found  # (the answer itself)
        if found.id != tid:  # (not the ticket asked for: its own number, as get_ticket finds it)
            number = (await self.store.numbers_for(TICKET, (found.id,))).get(found.id) or found.number or str(found.id)
        else:
            number = found.number or str(found.id)
        return render(found if number == found.number else self._shown(found, number, False))

    def _fuse(self, render: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
        """The backend's fused translation for ``render``, made once per render (a few: one per
        dialect's ticket action)."""
        fused = self.backend.fuse_ticket_render(render)
        if len(self._fused) >= FUSED_KEPT:
            self._fused.clear()
        self._fused[render] = fused
        return fused

    def _shown(self, found: c.Ticket, number: str | None, replies_desc: bool) -> c.Ticket:
        """``found`` with the store's number and the replies newest first when asked: the same object
        while ``found`` is (the adapter hands back the same one for an unchanged ticket), so that
        the dialect's render memo knows it again."""
        key = (id(found), number, replies_desc)
        memo = self._shown_memo
        hit = memo.get(key)
        if hit is not None and hit[0] is found:
            memo.move_to_end(key)
            return hit[1]
        update: dict[str, Any] = {}
        if number != found.number:
            update["number"] = number
        if replies_desc:
            update["replies"] = tuple(reversed(found.replies))
        shown = found.model_copy(update=update)
        memo[key] = (found, shown)  # (found kept: its id cannot be reused while the entry lives)
        if len(memo) > SHOWN_MEMO_SIZE:
            memo.popitem(last=False)
        return shown

    async def _all_tickets(self) -> list[c.Ticket]:
        return list(await self.backend.list_tickets())

    # -- the header index's sources (gateway/backends/index.py)

    def _all_headers(self) -> AsyncIterator[Sequence[TicketHeader]]:
        chunks = getattr(self.backend, "ticket_header_chunks", None)
        if chunks is not None:  # a page at a time: the index never holds them all as objects
            return chunks()  # type: ignore[no-any-return]
        return self._headers_at_once()

    async def _headers_at_once(self) -> AsyncIterator[Sequence[TicketHeader]]:
        if hasattr(self.backend, "ticket_headers"):
            yield await self.backend.ticket_headers()
        else:
            yield [header_of(t) for t in await self.backend.list_tickets()]  # a backend without the method

    async def _header(self, ticket_id: int) -> TicketHeader | None:
        try:
            return header_of(await self.backend.get_ticket(ticket_id))
        except NotFound:
            return None

    async def _wrote(self, ticket_id: int, ticket: c.Ticket | None = None, *, deleted: bool = False) -> None:
        """Tell the index (this worker's and, through the store, the others') what a write did."""
        try:
            await self.index.wrote(ticket_id, header_of(ticket) if ticket is not None else None, deleted=deleted)
        except GatewayError as exc:  # the write itself succeeded: the index catches up within the bound
            log.warning("index not told of ticket %s: %s", ticket_id, exc.message)

    # -- lists

    async def list_tickets(self, args: ops.ListTicketsArgs) -> ops.TicketPage:
        # a whole list (no limit) is one full listing, unless it names its tickets (ReadyDesk's tid)
        glob = args.number_glob
        named = args.ticket_ids is not None or (glob is not None and _exact(glob))
        whole = args.limit is None and not args.count_only and not named
        if args.keyword is not None or whole or self.backend.capabilities().has("filters"):
            # message bodies (the index holds none), or the whole list asked for: one full listing
            return await self._list_full(args)
        if _unfiltered(args) and args.limit is not None and hasattr(self.backend, "ticket_page"):
            limit = 0 if args.count_only else args.limit
            served = await self.backend.ticket_page(args.offset, limit, args.order_by, args.descending)
            if served is not None:
                items, total = served
                page = tuple(await self._numbered(items))
                if args.with_messages:
                    page = tuple(await self._with_messages(page))
                return ticket_page(page, total, args.offset, (id(self), args))
        return await self._list_indexed(args)

    async def _list_full(self, args: ops.ListTicketsArgs) -> ops.TicketPage:
        tickets = await self._numbered(await self._all_tickets())
        if args.with_messages:
            # every ticket read with its messages once: the keyword is looked for in them too, and
            # the page (some of these tickets) shows them
            tickets = await self._with_messages(tickets)
        tickets = [t for t in tickets if _matches(t, args)]
        if args.order_by is not None or args.descending or not self.backend.capabilities().has("filters"):
            # a backend that lists in the vendor's own shape (WHMCS) keeps its order when none is asked
            tickets = _sorted(tickets, args.order_by, args.descending)
        end = args.offset + args.limit if args.limit is not None else None
        page = () if args.count_only else tuple(tickets[args.offset : end])
        return ticket_page(page, len(tickets), args.offset, (id(self), args))

    async def _with_messages(self, tickets: Sequence[c.Ticket]) -> list[c.Ticket]:
        """List rows without their messages (a backend's list may carry none) read in full."""
        if all(t.replies for t in tickets):
            out = list(tickets)  # nothing to read: no task per row (and no semaphore)
        else:
            limit = asyncio.Semaphore(8)

            async def full(t: c.Ticket) -> c.Ticket:
                if t.replies:
                    return t
                async with limit:
                    read = await self.backend.get_ticket(t.id)
                return read.model_copy(update={"number": t.number})

            out = list(await asyncio.gather(*(full(t) for t in tickets)))
        # rows that carried only their opening message: the rest of the conversation's replies
        # (who wrote last), where the backend can add them without a read per ticket
        return await self.backend.with_replies(out) if out else out

    async def _list_indexed(self, args: ops.ListTicketsArgs) -> ops.TicketPage:
        """Filter, count and order in the index; read only the page's tickets in full."""
        snap = await self.index.snapshot()
        numbers: dict[int, str] = {}
        exact = args.number_glob is not None and _exact(args.number_glob)
        if exact:
            # one number, no wildcard (ReadyDesk's tid): the tickets showing it are named, found
            # by two store look-ups instead of testing every row's number
            args = args.model_copy(update={"ticket_ids": await self._showing(args), "number_glob": None})
        if args.number_glob is not None or args.order_by == "number":
            numbers = await self.store.numbers_for(TICKET, snap.ids)  # dialect numbers may be links

        def number(ticket_id: int) -> str:
            return numbers.get(ticket_id) or str(ticket_id)

        key = ix.sort_key(snap, args.order_by or "id", number)
        if key is None:
            raise InvalidInput(f"cannot sort by {args.order_by!r}", "order")
        rows = ix.select(snap, _query(args, number))
        if args.count_only:
            return ticket_page((), len(rows), args.offset)
        if args.limit is None and len(rows) - args.offset > UNLIMITED_BY_ID:
            return await self._list_full(args)  # every match of a broad filter: one listing, not a read each
        end = args.offset + args.limit if args.limit is not None else None
        if (args.order_by or "id") == "id" and not args.descending and snap.sorted_ids:
            page_rows = rows[args.offset : end]  # storage order is the default order
        else:
            page_rows = ix.window(rows, key, args.descending, args.offset, args.limit)
        tickets = await self._tickets([snap.ids[p] for p in page_rows])
        if args.with_messages:
            tickets = await self._with_messages(tickets)
        return ticket_page(tuple(await self._numbered(tickets)), len(rows), args.offset, (id(self), args))

    async def _showing(self, args: ops.ListTicketsArgs) -> tuple[int, ...]:
        """The tickets (of ``args.ticket_ids``, if named) whose number as the index shows it (the
        store's link, else the id) is ``args.number_glob``, a number without wildcards: the ticket
        linked to it, and the ticket of that id unless a link gives that one another number."""
        wanted = str(args.number_glob)
        found: set[int] = set()
        linked = await self.store.id_for(TICKET, wanted)
        if linked is not None:
            found.add(linked)
        if _ID.fullmatch(wanted) and wanted == str(int(wanted)):
            own = int(wanted)
            if ((await self.store.numbers_for(TICKET, (own,))).get(own) or wanted) == wanted:
                found.add(own)
        named = args.ticket_ids
        return tuple(sorted(found if named is None else found.intersection(named)))

    async def _tickets(self, ids: Sequence[int], *, full: bool = False) -> list[c.Ticket]:
        """Full tickets by id, a few at a time, in order; one deleted since the index saw it is left out.
        ``full``: with their conversation (a dialect whose list shows messages)."""
        # a list page shows no conversation: a backend that can read a ticket without it does so
        read = self.backend.get_ticket if full else self.backend.ticket_summary
        # kept rows are list rows, without the conversation; one read since the snapshot that
        # lists it is as fresh (taken here, without a task each: a polled page has them all)
        kept, not_before = self.index.rows, math.inf if full else self.index.rows_not_before()
        found: list[c.Ticket | None] = [kept.get(i, not_before) for i in ids]
        missing = [k for k, t in enumerate(found) if t is None]
        if missing:
            limit = asyncio.Semaphore(PAGE_FETCH_CONCURRENCY)

            async def one(ticket_id: int) -> c.Ticket | None:
                async with limit:
                    read_at, version = self.index.now(), kept.version
                    try:
                        ticket: c.Ticket = await read(ticket_id)
                    except NotFound:
                        return None
                    if not full:
                        kept.put(ticket_id, ticket, read_at, version)
                    return ticket

            for k, ticket in zip(missing, await asyncio.gather(*(one(ids[k]) for k in missing)), strict=True):
                found[k] = ticket
        return [t for t in found if t is not None]

    async def _check_department(self, department_id: int) -> None:
        if department_id <= 0:
            raise NotFound("department")
        if self.backend.departments_known() and department_id not in {d.id for d in await self._departments()}:
            raise NotFound("department")

    async def _check_requester(self, customer_id: int, contact_id: int) -> int:
        """The contact a ticket of this customer is opened by (0: none); NotFound for a wrong one."""
        if customer_id <= 0:
            if contact_id:
                raise NotFound("contact")
            return 0
        await self.backend.get_customer(customer_id)
        if contact_id:
            contacts = await self.backend.list_contacts(customer_id)
            if contact_id not in {ct.id for ct in contacts}:
                raise NotFound("contact")
        return contact_id

    async def open_ticket(self, args: ops.OpenTicketArgs) -> c.Ticket:
        created = args.created_at
        if isinstance(created, datetime) and created > datetime.now(created.tzinfo):
            raise InvalidInput(field="created", reason="future_date")
        if not args.customer_id and not (args.name.strip() and args.email.strip()):
            raise InvalidInput(field="name", reason="requester_required")
        await self._check_department(args.department_id)
        await self._check_requester(args.customer_id, args.contact_id)
        new = c.NewTicket(
            subject=args.subject,
            message=args.message,
            department_id=args.department_id,
            customer_id=args.customer_id,
            contact_id=args.contact_id,
            name=args.name,
            email=args.email,
            priority=args.priority or c.Priority.MEDIUM,
            status=args.status,
            cc=args.cc,
            service=args.service,
            assigned_staff_id=args.assigned_staff_id,
            created_at=created if isinstance(created, datetime) else None,
            notify=args.notify,
        )
        created = await self.backend.open_ticket(new)
        await self._wrote(created.id, created)
        return (await self._numbered([created]))[0]

    async def update_ticket(self, args: ops.UpdateTicketArgs) -> c.Ticket:
        ticket_id = await self._resolve(args)
        if args.name is not None or args.email is not None:
            raise Unsupported(
                "Changing the submitter name or email is not supported by the backend", reason="submitter"
            )
        fields = args.model_dump(exclude_unset=True, exclude={"ticket_id", "ticket_number", "name", "email", "flag"})
        if args.flag is not None:
            fields["assigned_staff_id"] = args.flag  # WHMCS's flag: the staff member the ticket is for
        if args.department_id is not None:
            await self._check_department(args.department_id)
        if args.customer_id is not None:
            await self._check_requester(args.customer_id, args.contact_id or 0)
            if args.contact_id is None and args.customer_id > 0:
                # a ticket moved to another client is that client's primary contact's
                contacts = await self.backend.list_contacts(args.customer_id)
                primary = next((ct for ct in contacts if ct.is_primary), contacts[0] if contacts else None)
                fields["contact_id"] = primary.id if primary is not None else 0
        patch = c.TicketPatch(**fields)
        try:
            updated = await self.backend.update_ticket(ticket_id, patch)
        except BackendError:
            await self._wrote(ticket_id)  # the outcome may be open: re-read it
            raise
        await self._wrote(ticket_id, updated)
        return (await self._numbered([updated]))[0]

    async def delete_ticket(self, args: ops.TicketRefArgs) -> ops.Done:
        ticket_id = await self._resolve(args)
        try:
            await self.backend.delete_ticket(ticket_id)
        except BackendError:
            await self._wrote(ticket_id)
            raise
        await self._wrote(ticket_id, deleted=True)
        return ops.Done(id=ticket_id)

    async def add_reply(self, args: ops.AddReplyArgs) -> ops.Done:
        ticket_id = await self._resolve(args)
        await self.backend.get_ticket(ticket_id)  # a missing ticket is "not found", before "not supported"
        if args.staff_name:
            author = c.Author(kind="staff", name=args.staff_name)
        elif args.customer_id:
            author = c.Author(kind="customer", customer_id=args.customer_id, contact_id=args.contact_id)
        elif args.name and args.email:
            author = c.Author(kind="guest", name=args.name, email=args.email)
        else:
            raise InvalidInput(field="name", reason="requester_required")
        created = args.created_at if isinstance(args.created_at, datetime) else None
        reply = c.NewReply(
            message=args.message, author=author, status=args.status, created_at=created, notify=args.notify
        )
        try:
            await self.backend.add_reply(ticket_id, reply)
        except BackendError:
            await self._wrote(ticket_id)  # the outcome may be open: re-read it
            raise
        await self._wrote(ticket_id)  # a reply moves the status and the last reply date
        return ops.Done(id=ticket_id)

    async def add_note(self, args: ops.AddNoteArgs) -> ops.Done:
        ticket_id = await self._resolve(args)
        await self.backend.get_ticket(ticket_id)
        created = args.created_at if isinstance(args.created_at, datetime) else None
        await self.backend.add_note(
            ticket_id, c.NewNote(message=args.message, staff_name=args.staff_name, created_at=created)
        )
        return ops.Done(id=ticket_id)

    async def list_notes(self, args: ops.TicketRefArgs) -> ops.NotePage:
        ticket = await self._ticket(await self._resolve(args))
        notes = tuple(await self.backend.list_notes(ticket.id)) or ticket.notes
        return ops.NotePage(ticket=ticket, items=notes)

    async def _departments(self) -> list[c.Department]:
        if self.backend.departments_known():
            return sorted(await self.backend.list_departments(), key=lambda d: d.id)
        # a backend that cannot list its departments: those its tickets name, from the index
        # (not from a listing of every ticket)
        snap = await self.index.snapshot()
        return [c.Department(id=i, name=n) for i, n in sorted(snap.department_names.items())]

    async def _by_status(self, department_id: int | None = None) -> Counter[c.StatusValue]:
        """Tickets per status (of one department), counted in the index; counts cached per index version."""
        snap = await self.index.snapshot()
        cached = self._tallies
        if cached is None or cached[0] != id(snap) or cached[1] != snap.version:
            cached = self._tallies = (id(snap), snap.version, ix.tally(snap))
        counts: Counter[c.StatusValue] = Counter()
        for (dept, code), n in cached[2].items():
            if department_id is None or dept == department_id:
                counts[snap.values[code]] += n
        return counts

    async def list_departments(self, args: ops.DepartmentStatsArgs) -> ops.DepartmentPage:
        departments = await self._departments()
        snap = await self.index.snapshot()
        await self._by_status()  # fills the tally of this snapshot
        assert self._tallies is not None
        open_: Counter[int] = Counter()
        awaiting: Counter[int] = Counter()
        for (dept, code), n in self._tallies[2].items():
            status = snap.values[code]
            if status in c.ACTIVE_STATUSES:
                open_[dept] += n
            if status in c.AWAITING_REPLY_STATUSES:
                awaiting[dept] += n
        stats = [
            ops.DepartmentStats(department=d, open_tickets=open_[d.id], awaiting_reply=awaiting[d.id])
            for d in departments
        ]
        return ops.DepartmentPage(items=tuple(stats))

    async def list_statuses(self, args: ops.DepartmentStatsArgs) -> ops.StatusPage:
        return ops.StatusPage(items=tuple(self._status_counts(await self._by_status(args.department_id))))

    async def _flagged(self) -> int:
        """Tickets flagged to the backend credential's staff member, where the backend can tell (WHMCS)."""
        return await self.backend.flagged_tickets()

    def _status_counts(self, counted: Counter[c.StatusValue]) -> list[ops.StatusStats]:
        known = list(self.backend.statuses())
        counts = {s: n for s, n in counted.items() if n}
        stats = [ops.StatusStats(status=s, count=counts.pop(s, 0), color=color) for s, color in known]
        stats += [ops.StatusStats(status=s, count=n) for s, n in counts.items()]
        return stats

    async def ticket_counts(self, args: ops.TicketCountsArgs) -> ops.TicketCounts:
        counts = await self._by_status()
        departments = await self._departments()
        return ops.TicketCounts(
            department_ids=tuple(d.id for d in departments),
            all_active=sum(n for s, n in counts.items() if s in c.ACTIVE_STATUSES),
            awaiting_reply=sum(n for s, n in counts.items() if s in c.AWAITING_REPLY_STATUSES),
            flagged=await self._flagged(),
            by_status=tuple(self._status_counts(counts)) if args.by_status else (),
        )

    # ---------------------------------------------------------- customers

    async def _customer_id(self, args: ops.CustomerRefArgs) -> int:
        if args.customer_id is not None:
            if args.customer_id <= 0:
                raise NotFound("customer")
            return args.customer_id
        if args.email:
            wanted = args.email.strip().casefold()
            for customer in await self.backend.list_customers():
                if customer.email.casefold() == wanted:
                    return customer.id
            raise NotFound("customer")
        raise InvalidInput(field="clientid", reason="client_ref_required")

    async def list_customers(self, args: ops.ListCustomersArgs) -> ops.CustomerPage:
        customers = list(await self.backend.list_customers())
        if args.search:
            needle = args.search.casefold()
            customers = [
                cu
                for cu in customers
                if any(
                    v.casefold().startswith(needle)
                    for v in (cu.email, cu.firstname, cu.lastname, cu.full_name, cu.company)
                )
            ]
        if args.active is not None:
            customers = [cu for cu in customers if cu.active == args.active]
        customers.sort(key=lambda cu: cu.id, reverse=args.descending)
        end = args.offset + args.limit if args.limit is not None else None
        return ops.CustomerPage(items=tuple(customers[args.offset : end]), total=len(customers), offset=args.offset)

    async def get_customer(self, args: ops.CustomerRefArgs) -> c.Customer:
        return await self.backend.get_customer(await self._customer_id(args))

    async def customer_details(self, args: ops.CustomerDetailsArgs) -> ops.CustomerDetails:
        customer = await self.get_customer(args)
        if not args.stats:
            return ops.CustomerDetails(customer=customer)
        mine = [t for t in await self._all_tickets() if t.customer_id == customer.id]
        active = sum(1 for t in mine if t.status in c.ACTIVE_STATUSES)
        stats = ops.CustomerStats(tickets=len(mine), active_tickets=active)
        return ops.CustomerDetails(customer=customer, stats=stats)

    async def add_customer(self, args: c.NewCustomer) -> c.Customer:
        email = args.email.strip().casefold()
        for existing in await self.backend.list_customers():
            if existing.email.casefold() == email:
                raise InvalidInput(field="email", reason="duplicate_email")
        return await self.backend.add_customer(args)

    async def update_customer(self, args: ops.UpdateCustomerArgs) -> c.Customer:
        customer_id = await self._customer_id(args)
        fields = args.model_dump(exclude_unset=True, exclude={"customer_id", "email", "new_email"})
        if args.new_email is not None:
            wanted = args.new_email.strip().casefold()
            for other in await self.backend.list_customers():
                if other.id != customer_id and other.email.casefold() == wanted:
                    raise InvalidInput(field="email", reason="duplicate_email")
            fields["email"] = args.new_email
        return await self.backend.update_customer(customer_id, c.CustomerPatch(**fields))

    async def delete_customer(self, args: ops.CustomerRefArgs) -> ops.Done:
        customer_id = await self._customer_id(args)
        await self.backend.delete_customer(customer_id)
        return ops.Done(id=customer_id)

    async def list_contacts(self, args: ops.ListContactsArgs) -> ops.ContactPage:
        if args.customer_id is not None:
            contacts = list(await self.backend.list_contacts(args.customer_id))
        else:
            contacts = []
            for customer in await self.backend.list_customers():
                contacts.extend(await self.backend.list_contacts(customer.id))
        for attr in ("firstname", "lastname", "email", "phone"):
            wanted = getattr(args, attr)
            if wanted:
                contacts = [ct for ct in contacts if getattr(ct, attr).casefold() == wanted.casefold()]
        contacts.sort(key=lambda ct: ct.id)
        end = args.offset + args.limit if args.limit is not None else None
        return ops.ContactPage(items=tuple(contacts[args.offset : end]), total=len(contacts), offset=args.offset)

    async def get_contact(self, args: ops.ContactRefArgs) -> c.Contact:
        if args.contact_id <= 0:
            raise NotFound("contact", "Contact ID Not Found")
        return await self.backend.get_contact(args.contact_id)

    async def list_staff(self, args: ops.ListStaffArgs) -> ops.StaffPage:
        staff = sorted(await self.backend.list_staff(), key=lambda s: s.id)
        if args.staff_id is not None:
            staff = [s for s in staff if s.id == args.staff_id]
        return ops.StaffPage(items=tuple(staff))

    async def add_contact(self, args: ops.AddContactArgs) -> c.Contact:
        await self.backend.get_customer(args.customer_id)
        # only what the client sent is "set": a backend may leave the rest to its own defaults
        return await self.backend.add_contact(c.NewContact(**args.model_dump(exclude_unset=True)))

    # contact changes (optional in a backend: BackendDefaults refuses them)

    async def update_contact(self, args: ops.UpdateContactArgs) -> c.Contact:
        fields = args.model_dump(exclude_unset=True, exclude={"contact_id"})
        return await self.backend.update_contact(args.contact_id, c.ContactPatch(**fields))

    async def delete_contact(self, args: ops.ContactRefArgs) -> ops.Done:
        await self.backend.delete_contact(args.contact_id)
        return ops.Done(id=args.contact_id)


# ---------------------------------------------------------------- filtering

_FILTERS = (
    "ticket_ids",
    "number_glob",
    "id_min",
    "id_max",
    "department_id",
    "customer_id",
    "customer_min",
    "customer_max",
    "email",
    "statuses",
    "priorities",
    "subject",
    "keyword",
    "created_from",
    "created_to",
)


_FILTER_VALUES = operator.attrgetter(*_FILTERS)
_NONES = (None,) * len(_FILTERS)


def _unfiltered(a: ops.ListTicketsArgs) -> bool:
    # every filter None, tested without a Python frame per filter (every list asks)
    return all(map(operator.is_, _FILTER_VALUES(a), _NONES))


def _stamp(value: object) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def _query(a: ops.ListTicketsArgs, number: Callable[[int], str]) -> ix.Query:
    """A list's filters as the index applies them (the same tests as :func:`_matches`)."""
    statuses, priorities, glob = _as_set(a.statuses), _as_set(a.priorities), a.number_glob
    return ix.Query(
        ticket_ids=frozenset(a.ticket_ids) if a.ticket_ids is not None else None,
        id_min=a.id_min,
        id_max=a.id_max,
        department_id=a.department_id,
        customer_id=a.customer_id,
        customer_min=a.customer_min,
        customer_max=a.customer_max,
        email=a.email,
        statuses=(lambda v: _status_in(v, statuses)) if statuses is not None else None,
        priorities=(lambda v: _status_in(v, priorities)) if priorities is not None else None,
        subject=a.subject,
        created_from=_stamp(a.created_from),
        created_to=_stamp(a.created_to),
        numbers=(lambda i: fnmatch.fnmatchcase(number(i), glob)) if glob is not None else None,
    )


def _exact(glob: str) -> bool:
    """Whether a number pattern matches one number only (``fnmatchcase`` without ``*``, ``?``, ``[``)."""
    return not any(ch in glob for ch in "*?[")


def _as_set(value: Any) -> frozenset[Any] | None:
    if value is None:
        return None
    return value if isinstance(value, frozenset) else frozenset({value})


def _matches(t: c.Ticket, a: ops.ListTicketsArgs) -> bool:
    if a.ticket_ids is not None and t.id not in a.ticket_ids:
        return False
    if a.id_min is not None and t.id < a.id_min:
        return False
    if a.id_max is not None and t.id > a.id_max:
        return False
    if a.number_glob is not None and not fnmatch.fnmatchcase(t.number or str(t.id), a.number_glob):
        return False
    if a.department_id is not None and (t.department is None or t.department.id != a.department_id):
        return False
    if a.customer_id is not None and t.customer_id != a.customer_id:
        return False
    cust = str(t.customer_id)
    if a.customer_min is not None and cust.casefold() < a.customer_min.casefold():
        return False
    if a.customer_max is not None and cust.casefold()[: len(a.customer_max)] > a.customer_max.casefold():
        return False
    if a.email is not None and t.requester.email.casefold() != a.email.casefold():
        return False
    statuses = _as_set(a.statuses)
    if statuses is not None and not _status_in(t.status, statuses):
        return False
    priorities = _as_set(a.priorities)
    if priorities is not None and not _status_in(t.priority, priorities):
        return False
    if a.subject is not None and a.subject.casefold() not in t.subject.casefold():
        return False
    if a.keyword is not None:
        needle = a.keyword.casefold()
        if needle not in t.subject.casefold() and needle not in t.message.casefold():
            return False
    created = t.created_at
    if isinstance(a.created_from, datetime) and (created is None or created < a.created_from):
        return False
    return not (isinstance(a.created_to, datetime) and (created is None or created > a.created_to))


def _status_in(value: Any, wanted: frozenset[Any]) -> bool:
    if value in wanted:
        return True
    if isinstance(value, c.Unmapped):
        # a client may name a status the mapping does not know by its label
        names = {str(w).casefold() for w in wanted if isinstance(w, c.Unmapped)}
        return value.label.casefold() in names or value.code.casefold() in names
    return False


_SORT_KEYS: dict[str, Callable[[c.Ticket], Any]] = {
    "id": lambda t: t.id,
    "number": lambda t: t.number or str(t.id),
    "subject": lambda t: t.subject.casefold(),
    "created_at": lambda t: (t.created_at.isoformat() if t.created_at else "", t.id),
    "last_reply_at": lambda t: ((t.last_reply_at or t.created_at or datetime.min).isoformat(), t.id),
    "status": lambda t: str(t.status),
    "priority": lambda t: str(t.priority),
    "customer_id": lambda t: t.customer_id,
}


def _sorted(tickets: list[c.Ticket], order_by: str | None, descending: bool) -> list[c.Ticket]:
    key = _SORT_KEYS.get(order_by or "id")
    if key is None:
        raise InvalidInput(f"cannot sort by {order_by!r}", "order", reason="bad_sort")
    return sorted(tickets, key=key, reverse=descending)
