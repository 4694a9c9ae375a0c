"""The hub: carries canonical operations out against one backend.

Dialects call :meth:`Service.run` with an operation name and its argument
model; the service resolves dialect-visible ticket numbers through the store,
does the filtering, sorting and paging a backend cannot, computes counts, and
hands back the result types of ``gateway.operations``.  It knows no vendor.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway import canonical as c
from gateway import operations as ops
from gateway.backends.base import Backend
from gateway.errors import InvalidInput, NotFound, Unsupported
from gateway.store import Store

TICKET = "ticket"
_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only, within a 64-bit id
Handler = Callable[[Any], Awaitable[Any]]


def build_args(operation: str, values: dict[str, Any]) -> BaseModel:
    """A dialect's parsed parameters -> the operation's argument model, or InvalidInput."""
    spec = ops.OPERATIONS[operation]
    try:
        return spec.args.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        if first.get("type") == "missing":
            raise InvalidInput(f"{field} is required", field) from None
        raise InvalidInput(f"{field}: {first.get('msg', 'invalid value')}", field) from None


class Service:
    def __init__(self, backend: Backend, store: Store) -> None:
        self.backend = backend
        self.store = store
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
        }

    async def run(self, operation: str, args: BaseModel) -> Any:
        return await self._handlers[operation](args)

    # ------------------------------------------------------------ tickets

    async def _resolve(self, ref: ops.TicketRefArgs) -> int:
        if ref.ticket_id is not None:
            if ref.ticket_id <= 0:
                raise NotFound(TICKET, "Ticket ID Not Found")
            return ref.ticket_id
        if ref.ticket_number:
            # after a migration, the backend layer knows the legacy numbers (gateway.migrate.legacy)
            resolve_number = getattr(self.backend, "resolve_number", None)
            legacy = await resolve_number(ref.ticket_number) if resolve_number is not None else None
            if legacy is not None:
                return int(legacy)
            linked = await self.store.id_for(TICKET, ref.ticket_number)
            if linked is not None:
                return linked
            by_number = getattr(self.backend, "ticket_id_for", None)  # optional: a backend's own numbers
            found = await by_number(ref.ticket_number) if by_number is not None else None
            if found is not None:
                return int(found)
            if _ID.fullmatch(ref.ticket_number) and int(ref.ticket_number) > 0:
                return int(ref.ticket_number)
            raise NotFound(TICKET, "Ticket ID Not Found")
        raise InvalidInput("Ticket ID Not Found", "ticketid")

    async def _numbered(self, tickets: Sequence[c.Ticket]) -> list[c.Ticket]:
        numbers = await self.store.numbers_for(TICKET, (t.id for t in tickets))
        out = []
        for t in tickets:
            number = numbers.get(t.id) or t.number or str(t.id)
            out.append(t if number == t.number else t.model_copy(update={"number": number}))
        return out

    async def _ticket(self, ticket_id: int) -> c.Ticket:
        return (await self._numbered([await self.backend.get_ticket(ticket_id)]))[0]

    async def get_ticket(self, args: ops.GetTicketArgs) -> c.Ticket:
        ticket = await self._ticket(await self._resolve(args))
        if args.replies_desc:
            ticket = ticket.model_copy(update={"replies": tuple(reversed(ticket.replies))})
        return ticket

    async def _all_tickets(self) -> list[c.Ticket]:
        return list(await self.backend.list_tickets())

    async def list_tickets(self, args: ops.ListTicketsArgs) -> ops.TicketPage:
        tickets = await self._numbered(await self._all_tickets())
        if args.keyword is not None and args.with_messages:
            tickets = await self._with_messages(tickets)  # the keyword is looked for in the messages too
        tickets = [t for t in tickets if _matches(t, args)]
        if args.order_by is not None or not self.backend.capabilities().has("paging"):
            # a backend that pages natively lists in the vendor's own order: kept when none is asked
            tickets = _sorted(tickets, args.order_by, args.descending)
        end = args.offset + args.limit if args.limit is not None else None
        page = () if args.count_only else tuple(tickets[args.offset : end])
        if args.with_messages:
            page = tuple(await self._with_messages(page))
        return ops.TicketPage(items=page, total=len(tickets), offset=args.offset)

    async def _with_messages(self, tickets: Sequence[c.Ticket]) -> list[c.Ticket]:
        """List rows without their messages (a backend's list may carry none) read in full."""
        limit = asyncio.Semaphore(8)

        async def full(t: c.Ticket) -> c.Ticket:
            if t.replies:
                return t
            async with limit:
                read = await self.backend.get_ticket(t.id)
            return read.model_copy(update={"number": t.number})

        return list(await asyncio.gather(*(full(t) for t in tickets)))

    async def _check_department(self, department_id: int) -> None:
        if department_id <= 0:
            raise NotFound("department", "Department ID not found")
        if self.backend.departments_known() and department_id not in {d.id for d in await self._departments()}:
            raise NotFound("department", "Department ID not found")

    async def _check_requester(self, customer_id: int, contact_id: int) -> int:
        """The contact a ticket of this customer is opened by (0: none); NotFound for a wrong one."""
        if customer_id <= 0:
            if contact_id:
                raise NotFound("contact", "Contact ID Not Found")
            return 0
        await self.backend.get_customer(customer_id)
        if contact_id:
            contacts = await self.backend.list_contacts(customer_id)
            if contact_id not in {ct.id for ct in contacts}:
                raise NotFound("contact", "Contact ID Not Found")
        return contact_id

    async def open_ticket(self, args: ops.OpenTicketArgs) -> c.Ticket:
        created = args.created_at
        if isinstance(created, datetime) and created > datetime.now(created.tzinfo):
            raise InvalidInput("Ticket creation date cannot be in the future", "created")
        if not args.customer_id and not (args.name.strip() and args.email.strip()):
            raise InvalidInput("Name and email address are required if not a client", "name")
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
        return (await self._numbered([await self.backend.open_ticket(new)]))[0]

    async def update_ticket(self, args: ops.UpdateTicketArgs) -> c.Ticket:
        ticket_id = await self._resolve(args)
        if args.name is not None or args.email is not None:
            raise Unsupported("Changing the submitter name or email is not supported by the backend")
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
        updated = await self.backend.update_ticket(ticket_id, patch)
        return (await self._numbered([updated]))[0]

    async def delete_ticket(self, args: ops.TicketRefArgs) -> ops.Done:
        ticket_id = await self._resolve(args)
        await self.backend.delete_ticket(ticket_id)
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
            raise InvalidInput("Name and email address are required if not a client", "name")
        # the backend names a staff author (PMP matches the name against its staff; nothing is written otherwise)
        created = args.created_at if isinstance(args.created_at, datetime) else None
        reply = c.NewReply(
            message=args.message, author=author, status=args.status, created_at=created, notify=args.notify
        )
        await self.backend.add_reply(ticket_id, reply)
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
        return sorted(await self.backend.list_departments(), key=lambda d: d.id)

    async def list_departments(self, args: ops.DepartmentStatsArgs) -> ops.DepartmentPage:
        departments = await self._departments()
        tickets = await self._all_tickets()
        stats = []
        for dept in departments:
            mine = [t for t in tickets if t.department is not None and t.department.id == dept.id]
            stats.append(
                ops.DepartmentStats(
                    department=dept,
                    open_tickets=sum(1 for t in mine if t.status in c.ACTIVE_STATUSES),
                    awaiting_reply=sum(1 for t in mine if t.status in c.AWAITING_REPLY_STATUSES),
                )
            )
        return ops.DepartmentPage(items=tuple(stats))

    async def list_statuses(self, args: ops.DepartmentStatsArgs) -> ops.StatusPage:
        tickets = await self._all_tickets()
        if args.department_id is not None:
            tickets = [t for t in tickets if t.department is not None and t.department.id == args.department_id]
        return ops.StatusPage(items=tuple(self._status_counts(tickets)))

    async def _flagged(self) -> int:
        """Tickets flagged to the backend credential's staff member, where the backend can tell (WHMCS)."""
        count = getattr(self.backend, "flagged_tickets", None)
        return int(await count()) if count is not None else 0

    def _status_counts(self, tickets: Sequence[c.Ticket]) -> list[ops.StatusStats]:
        known = list(self.backend.statuses())
        counts: dict[c.StatusValue, int] = {}
        for t in tickets:
            counts[t.status] = counts.get(t.status, 0) + 1
        stats = [ops.StatusStats(status=s, count=counts.pop(s, 0), color=color) for s, color in known]
        stats += [ops.StatusStats(status=s, count=n) for s, n in counts.items()]
        return stats

    async def ticket_counts(self, args: ops.TicketCountsArgs) -> ops.TicketCounts:
        tickets = await self._all_tickets()
        departments = await self._departments()
        return ops.TicketCounts(
            department_ids=tuple(d.id for d in departments),
            all_active=sum(1 for t in tickets if t.status in c.ACTIVE_STATUSES),
            awaiting_reply=sum(1 for t in tickets if t.status in c.AWAITING_REPLY_STATUSES),
            flagged=await self._flagged(),
            by_status=tuple(self._status_counts(tickets)) if args.by_status else (),
        )

    # ---------------------------------------------------------- customers

    async def _customer_id(self, args: ops.CustomerRefArgs, missing: str = "Client ID Not Found") -> int:
        if args.customer_id is not None:
            if args.customer_id <= 0:
                raise NotFound("customer", missing)
            return args.customer_id
        if args.email:
            wanted = args.email.strip().casefold()
            for customer in await self.backend.list_customers():
                if customer.email.casefold() == wanted:
                    return customer.id
            raise NotFound("customer", missing)
        raise InvalidInput("Either clientid Or email Is Required", "clientid")

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
        return await self.backend.get_customer(await self._customer_id(args, "Client Not Found"))

    async def add_customer(self, args: c.NewCustomer) -> c.Customer:
        email = args.email.strip().casefold()
        for existing in await self.backend.list_customers():
            if existing.email.casefold() == email:
                raise InvalidInput("A user already exists with that email address", "email")
        return await self.backend.add_customer(args)

    async def update_customer(self, args: ops.UpdateCustomerArgs) -> c.Customer:
        customer_id = await self._customer_id(args)
        fields = args.model_dump(exclude_unset=True, exclude={"customer_id", "email", "new_email"})
        if args.new_email is not None:
            wanted = args.new_email.strip().casefold()
            for other in await self.backend.list_customers():
                if other.id != customer_id and other.email.casefold() == wanted:
                    raise InvalidInput("Duplicate Email Address", "email")
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

    async def add_contact(self, args: ops.AddContactArgs) -> c.Contact:
        await self.backend.get_customer(args.customer_id)
        # only what the client sent is "set": a backend may leave the rest to its own defaults
        return await self.backend.add_contact(c.NewContact(**args.model_dump(exclude_unset=True)))


# ---------------------------------------------------------------- filtering


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
        raise InvalidInput(f"cannot sort by {order_by!r}", "order")
    return sorted(tickets, key=key, reverse=descending)
