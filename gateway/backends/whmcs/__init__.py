"""The WHMCS backend: canonical operations carried out through WHMCS's External API.

Field knowledge (which parameter and answer field holds what, enums, dates) is in
``gateway/mappings/whmcs/backend.yaml`` beside the files that make WHMCS a dialect;
the wire (auth, JSON/XML, refusals) is :mod:`gateway.backends.whmcs.api`.  Ids are
WHMCS's own: ``ticketid`` (Ticket.id), ``tid`` (Ticket.number), ``c``
(Ticket.access_key), ``clientid``, ``contactid``, ``deptid``.  Every record read
keeps WHMCS's raw record in ``remote`` so that a WHMCS client in front of WHMCS
sees what WHMCS sent.

Reads ask with ``ignore_dept_assignments`` so that the API role's department
assignments hide nothing.  Lists page natively through ``limitstart``/``limitnum``.

Writes are never retried.  When one gets no usable answer (a dropped
connection, a 5xx, an answer WHMCS could not encode) the adapter settles it by
reading: a ticket, reply, note, client or contact that the write would have made
is looked for (new records are claimed in the store, ``whmcs-ticket`` etc., so
two concurrent creates never report the same one); an update is re-read and
compared; a delete is re-read.  What is found is the write's success; what is
not found was not written (and the client is told so); when WHMCS cannot be
asked, the client hears WriteOutcomeUnknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import re
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from gateway import context
from gateway.backends import http
from gateway.backends.base import BackendDefaults, Capabilities, FeatureState, Support
from gateway.backends.whmcs.api import Answer, Knobs, Unsettled, WhmcsApi, unavailable
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
    RemoteData,
    Staff,
    Status,
    StatusValue,
    Ticket,
    TicketPatch,
    Unmapped,
)
from gateway.errors import BackendError, GatewayError, NotFound, Unsupported, WriteOutcomeUnknown
from gateway.mapping.dates import DateFormatError
from gateway.mapping.loader import VendorMappings
from gateway.store import Store

log = logging.getLogger(__name__)

VENDOR = "whmcs"
M = TypeVar("M", bound=BaseModel)
_DATA_ERRORS = (ValueError, TypeError, KeyError, DateFormatError, ValidationError)
_SPACE = re.compile(r"\s+")
# Which WHMCS action each canonical operation needs (for support() after a permission refusal).
OPERATION_ACTIONS: dict[str, tuple[str, ...]] = {
    "get_ticket": ("getticket",),
    "list_tickets": ("gettickets",),
    "open_ticket": ("openticket",),
    "update_ticket": ("updateticket",),
    "delete_ticket": ("deleteticket",),
    "add_reply": ("addticketreply",),
    "add_note": ("addticketnote",),
    "list_notes": ("getticketnotes",),
    "list_departments": ("getsupportdepartments",),
    "list_statuses": ("gettickets",),
    "ticket_counts": ("gettickets",),
    "list_customers": ("getclients",),
    "get_customer": ("getclientsdetails",),
    "add_customer": ("addclient",),
    "update_customer": ("updateclient",),
    "delete_customer": ("deleteclient",),
    "list_contacts": ("getcontacts",),
    "add_contact": ("addcontact",),
    "update_contact": ("updatecontact",),
    "delete_contact": ("deletecontact",),
}


class WhmcsBackend(BackendDefaults):
    name = VENDOR

    def __init__(
        self,
        base_url: str,
        token: str,
        mappings: VendorMappings,
        store: Store,
        *,
        session: aiohttp.ClientSession,
        connect_timeout: float = 5.0,
        accesskey: str | None = None,
        retries: int | None = None,
        features: Mapping[str, str] | None = None,
    ) -> None:
        s: Mapping[str, Any] = mappings.settings.get("backend") or {}
        self._m = mappings
        self._store = store
        knobs = Knobs.from_settings(s, retries)
        self.api = WhmcsApi(session, base_url, token, knobs, accesskey=accesskey, connect_timeout=connect_timeout)
        self._page = max(1, int(s.get("page_size", 100)))
        self._find_reserve = float(s.get("find_reserve_seconds", 2.0))
        self._dept_ttl = float(s.get("departments_cache_seconds", 30))
        self._always_noemail = bool(s.get("noemail", False))
        self._pins = {k: v for k, v in (features or {}).items() if v != "auto"}
        self._departments: tuple[float, tuple[Department, ...]] | None = None
        self._statuses: list[tuple[StatusValue, str]] | None = None
        self._staff: bool | None = None
        self._locks = {k: asyncio.Lock() for k in ("ticket", "customer", "contact", "reply", "note")}
        # replies and notes are settled by counting one ticket's messages: writes to one ticket
        # are serialised, writes to different tickets are not (a migration writes many at once)
        self._message_locks: weakref.WeakValueDictionary[tuple[str, int], asyncio.Lock] = weakref.WeakValueDictionary()
        blank = {"ticket": TicketPatch(), "customer": CustomerPatch()}
        self._blank = {
            "ticket": self._render("backend_update_ticket", blank["ticket"]),
            "customer": self._render("backend_update_client", blank["customer"]),
        }

    def __repr__(self) -> str:
        return f"WhmcsBackend({self.api!r})"

    # ============================================================ mapping helpers

    def _parse(self, model: str, row: Mapping[str, Any], target: type[M], **extra: Any) -> M:
        try:
            if not extra:
                return self._m.parse(model, row, target)
            values = self._m.model(model)(row)
            values.update(extra)
            return target.model_validate(values)
        except _DATA_ERRORS as exc:
            log.warning("whmcs %s record not understood: %s", model, type(exc).__name__)
            raise unavailable(f"a {model.removeprefix('backend_')} record has the wrong shape") from None

    def _render(self, model: str, record: Any) -> dict[str, str]:
        """Form parameters: None and "" are not sent."""
        rendered: Mapping[str, Any] = self._m.model(model)(record)
        return {k: str(v) for k, v in rendered.items() if v is not None and v != ""}

    # ============================================================ health and capabilities

    async def ping(self) -> None:
        """A cheap authenticated read; a role without GetSupportDepartments still answered."""
        try:
            await self.api.read("GetSupportDepartments", {"ignore_dept_assignments": 1})
        except Unsupported:
            return

    async def close(self) -> None:
        """Nothing to release: the HTTP session belongs to the app."""

    def capabilities(self) -> Capabilities:
        found: dict[str, FeatureState] = {
            "paging": "yes",
            "record_ids": "yes",
            "idempotent_creates": "no",
            "staff": "no" if self._staff is False else "yes",
            "notes": "read-only" if "addticketnote" in self.api.denied else "yes",
            "replies": "read-only" if "addticketreply" in self.api.denied else "yes",
            "departments": "read-only",
            "filters": "yes",
        }
        for feature, pin in self._pins.items():
            if pin in ("yes", "no", "read-only"):
                found[feature] = pin  # type: ignore[assignment]
        return Capabilities(kind=VENDOR, generation="", features=found)

    async def discover(self) -> Capabilities:
        """Read-only probes: statuses (names and colours), staff (GetAdminUsers), departments."""
        with contextlib.suppress(Unsupported):  # a role that may not read statuses: the mapping's table
            await self._load_statuses()
        try:
            await self.list_staff()
        except Unsupported:
            self._staff = False
        with contextlib.suppress(Unsupported):  # refused again, and named, when an action needs them
            await self.list_departments()
        return self.capabilities()

    def support(self, operation: str) -> Support:
        for action in OPERATION_ACTIONS.get(operation, ()):
            if action in self.api.denied:
                return ("refused", (f"the WHMCS API role does not allow {action}",))
        if self._pins.get("replies") == "no" and operation == "add_reply":
            return ("refused", ("replies are switched off (backend.features)",))
        if self._pins.get("notes") == "no" and operation == "add_note":
            return ("refused", ("notes are switched off (backend.features)",))
        if operation == "add_note":
            return ("loss", ("staff-authors",))  # AddTicketNote records the API's own admin
        if operation in ("add_customer", "update_customer"):
            return ("loss", ("billing-fields",))  # no website field in WHMCS (AddClient nor UpdateClient)
        if operation == "add_department":
            return ("refused", ("the WHMCS API has no action that creates a support department",))
        return ("full", ())

    async def list_staff(self) -> Sequence[Staff]:
        """Staff via GetAdminUsers (WHMCS 8; not in reference/whmcs-api.md): [] when absent."""
        try:
            answer = await self.api.read("GetAdminUsers", {})
        except Unsupported:
            self._staff = False
            return []
        self._staff = True
        rows = answer.get("admin_users") or answer.get("adminusers") or []
        if isinstance(rows, dict):
            rows = next(iter(rows.values()), [])
        return [self._parse("backend_staff", r, Staff) for r in rows if isinstance(r, dict)]

    # ============================================================ tickets

    async def get_ticket(self, ticket_id: int) -> Ticket:
        if ticket_id <= 0:
            raise NotFound("ticket", "Ticket ID Not Found")
        answer = await self.api.read("GetTicket", {"ticketid": ticket_id})
        return await self._ticket(answer)

    async def ticket_id_for(self, number: str) -> int | None:
        """A client-facing number (``tid``) -> the ticket's id: GetTicket by ``ticketnum``."""
        if not number.strip():
            raise NotFound("ticket", "Ticket ID Not Found")
        answer = await self.api.read("GetTicket", {"ticketnum": number.strip()})
        ticket_id = _int(answer.get("ticketid"))
        if ticket_id <= 0:
            raise NotFound("ticket", "Ticket ID Not Found")
        return ticket_id

    async def _ticket(self, answer: Answer) -> Ticket:
        raw = {k: v for k, v in answer.items() if k != "result"}
        ticket = self._parse("backend_ticket", raw, Ticket)
        if _int(raw.get("ticketid")) <= 0:
            raise NotFound("ticket", "Ticket ID Not Found")
        return ticket

    async def list_tickets(self) -> Sequence[Ticket]:
        names = {d.id: d for d in await self.list_departments()}
        tickets = [self._ticket_item(row, names) for row in await self._all("GetTickets", "tickets", "ticket")]
        return tickets

    async def ticket_page(
        self, offset: int, limit: int, order_by: str | None = None, descending: bool = False
    ) -> tuple[list[Ticket], int] | None:
        """One page of GetTickets in WHMCS's own order, and the total; None for another order
        (GetTickets cannot sort).  ``limit`` 0: the total alone."""
        if order_by is not None:
            return None
        answer = await self.api.read(
            "GetTickets", {"limitstart": offset, "limitnum": max(limit, 1), "ignore_dept_assignments": 1}
        )
        if limit <= 0:
            return [], _int(answer.get("totalresults"))
        names = {d.id: d for d in await self.list_departments()}
        rows = _items(answer, "tickets", "ticket")
        return [self._ticket_item(r, names) for r in rows], _int(answer.get("totalresults"))

    async def ticket_headers(self) -> Sequence[Any]:
        """Every ticket's header for the gateway's list index: GetTickets pages (rows need no messages).

        ``header_of`` comes with the index (gateway.backends.base); looked up when called."""
        header_of = importlib.import_module("gateway.backends.base").header_of
        return [header_of(t) for t in await self.list_tickets()]

    def _ticket_item(self, row: Mapping[str, Any], names: Mapping[int, Department]) -> Ticket:
        dept = names.get(_int(row.get("deptid")))
        extra = {"department": dept} if dept is not None else {}
        return self._parse("backend_ticket_item", row, Ticket, **extra)

    async def _all(self, action: str, plural: str, singular: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every row of a paged list action (limitstart/limitnum), page by page."""
        rows: list[Any] = []
        start = 0
        while True:
            answer = await self.api.read(
                action, {**(params or {}), "limitstart": start, "limitnum": self._page, "ignore_dept_assignments": 1}
            )
            page = _items(answer, plural, singular)
            rows += page
            start += len(page)
            total = _int(answer.get("totalresults"))
            if not page or start >= total:
                return rows

    async def open_ticket(self, new: NewTicket) -> Ticket:
        params = self._render("backend_open_ticket", new)
        if new.contact_id or new.customer_id:
            params.pop("name", None)
            params.pop("email", None)
        if self._noemail(new.notify):
            params["noemail"] = "1"

        if _caller_settles():
            answer = await self._create("OpenTicket", params, "ticket", _left_to_caller)
        else:
            async with self._locks["ticket"]:
                # the requester's tickets with this subject before the write: an unanswered OpenTicket
                # made the one that is new afterwards (see the module docstring)
                before = set(await self._similar_tickets(new))

                async def find() -> int | None:
                    fresh = sorted(set(await self._similar_tickets(new)) - before)
                    for candidate in fresh:
                        if await self._store.claim("whmcs-ticket", candidate):
                            return candidate
                    return None

                answer = await self._create("OpenTicket", params, "ticket", find)
        ticket_id = answer if isinstance(answer, int) else _int(answer.get("id"))
        await self._store.claim("whmcs-ticket", ticket_id)
        # decided without reading the new ticket: OpenTicket makes it Open, without CC addresses
        followup = self._ticket_followup(new)
        if followup:
            try:
                await self._update("UpdateTicket", {"ticketid": str(ticket_id), **followup}, "ticket", None)
            except GatewayError as exc:  # the ticket exists: failing now would make the client open it twice
                log.warning("whmcs ticket %s created, follow-up update failed: %s", ticket_id, exc.message)
        return await self.get_ticket(ticket_id)

    def _ticket_followup(self, new: NewTicket) -> dict[str, str]:
        """What OpenTicket cannot take: a status other than Open (every new ticket's, reference
        "OpenTicket"), a flag, CC addresses (OpenTicket has no such parameter)."""
        patch: dict[str, Any] = {}
        if new.cc:
            patch["cc"] = new.cc
        if new.status is not None and new.status != Status.OPEN:
            patch["status"] = new.status
        if new.assigned_staff_id:
            patch["assigned_staff_id"] = new.assigned_staff_id
        return self._patch_params("backend_update_ticket", "ticket", TicketPatch(**patch)) if patch else {}

    async def _similar_tickets(self, new: NewTicket) -> list[int]:
        """Ids of the tickets of this requester, department and subject (GetTickets filters)."""
        params: dict[str, Any] = {"subject": new.subject, "deptid": new.department_id}
        if new.customer_id:
            params["clientid"] = new.customer_id
        elif new.email:
            params["email"] = new.email
        ids = []
        for row in await self._all("GetTickets", "tickets", "ticket", params):
            if _plain(row.get("subject")) == _plain(new.subject) and _int(row.get("userid")) == new.customer_id:
                ids.append(_int(row.get("id")))
        return ids

    async def update_ticket(self, ticket_id: int, patch: TicketPatch) -> Ticket:
        params = self._patch_params("backend_update_ticket", "ticket", patch)
        if params:
            before = await self.get_ticket(ticket_id)

            async def holds() -> bool:
                return _ticket_holds(await self.get_ticket(ticket_id), patch, before)

            await self._update("UpdateTicket", {"ticketid": str(ticket_id), **params}, "ticket", holds)
        return await self.get_ticket(ticket_id)

    def _patch_params(self, model: str, blank: str, patch: BaseModel) -> dict[str, str]:
        rendered = self._render(model, patch)
        changes = {k: v for k, v in rendered.items() if v != self._blank[blank].get(k)}
        # a flag set to 0 means "no flag": WHMCS clears it with removeFlag
        clears = isinstance(patch, TicketPatch) and "assigned_staff_id" in patch.model_fields_set
        if clears and getattr(patch, "assigned_staff_id", None) == 0:
            changes.pop("flag", None)
            changes["removeFlag"] = "1"
        return changes

    async def delete_ticket(self, ticket_id: int) -> None:
        async def gone() -> bool:
            return not await self._exists(self.get_ticket(ticket_id))

        await self._update("DeleteTicket", {"ticketid": str(ticket_id)}, "ticket", gone, deleting=True)

    async def add_reply(self, ticket_id: int, reply: NewReply) -> None:
        params = self._render("backend_add_reply", reply)
        if reply.author.kind == "guest":
            params.update({"name": reply.author.name, "email": reply.author.email})
        if self._noemail(reply.notify):
            params["noemail"] = "1"
        sent = {"ticketid": str(ticket_id), **params}
        if _caller_settles():
            await self._update("AddTicketReply", sent, "reply", _left_to_caller)
            return
        async with self._message_lock("reply", ticket_id):
            before = len((await self.get_ticket(ticket_id)).replies)

            async def landed() -> bool:
                after = (await self.get_ticket(ticket_id)).replies[before:]
                return any(_plain(r.message) == _plain(reply.message) for r in after)

            await self._update("AddTicketReply", sent, "reply", landed)

    async def add_note(self, ticket_id: int, note: NewNote) -> None:
        params = self._render("backend_add_note", note)
        sent = {"ticketid": str(ticket_id), **params}
        if _caller_settles():
            await self._update("AddTicketNote", sent, "note", _left_to_caller)
            return
        async with self._message_lock("note", ticket_id):
            before = len((await self.get_ticket(ticket_id)).notes)

            async def landed() -> bool:
                after = (await self.get_ticket(ticket_id)).notes[before:]
                return any(_plain(n.message) == _plain(note.message) for n in after)

            await self._update("AddTicketNote", sent, "note", landed)

    def _message_lock(self, kind: str, ticket_id: int) -> asyncio.Lock:
        lock = self._message_locks.get((kind, ticket_id))
        if lock is None:
            lock = asyncio.Lock()
            self._message_locks[(kind, ticket_id)] = lock
        return lock

    async def list_notes(self, ticket_id: int) -> Sequence[Note]:
        answer = await self.api.read("GetTicketNotes", {"ticketid": ticket_id})
        return [self._parse("backend_note", r, Note) for r in _items(answer, "notes", "note")]

    async def list_departments(self) -> Sequence[Department]:
        cached = self._departments
        if cached is not None and time.monotonic() - cached[0] < self._dept_ttl:
            return list(cached[1])
        answer = await self.api.read("GetSupportDepartments", {"ignore_dept_assignments": 1})
        departments = tuple(
            self._parse("backend_department", r, Department) for r in _items(answer, "departments", "department")
        )
        self._departments = (time.monotonic(), departments)
        return list(departments)

    async def flagged_tickets(self) -> int:
        """Tickets flagged to the API credential's own admin (GetTicketCounts' ``flaggedTickets``):
        only WHMCS knows which admin that is."""
        answer = await self.api.read("GetTicketCounts", {"ignoreDepartmentAssignments": 1})
        return _int(answer.get("flaggedTickets"))

    def departments_known(self) -> bool:
        return True

    def statuses(self) -> Sequence[tuple[StatusValue, str]]:
        if self._statuses is not None:
            return list(self._statuses)
        colors: Mapping[str, str] = self._m.settings.get("status_colors") or {}
        return [(self._status(name), str(color)) for name, color in colors.items()]

    def _status(self, name: str) -> StatusValue:
        value = self._m.enums["status"].to_canonical.get(name.casefold())
        return value if isinstance(value, Status) else Unmapped(vendor=VENDOR, code=name, label=name)

    async def _load_statuses(self) -> None:
        answer = await self.api.read("GetSupportStatuses", {})
        self._statuses = [
            (self._status(str(r.get("title", ""))), str(r.get("color", "")))
            for r in _items(answer, "statuses", "status")
            if isinstance(r, dict) and r.get("title")
        ]

    # ============================================================ customers

    async def list_customers(self) -> Sequence[Customer]:
        rows = await self._all("GetClients", "clients", "client")
        return [self._parse("backend_client_item", r, Customer) for r in rows]

    async def get_customer(self, customer_id: int) -> Customer:
        if customer_id <= 0:
            raise NotFound("customer", "Client ID Not Found")
        try:
            answer = await self.api.read("GetClientsDetails", {"clientid": customer_id})
        except NotFound as exc:
            raise NotFound("customer", "Client ID Not Found") from exc
        raw = {k: v for k, v in answer.items() if k != "result"}
        nested = raw.get("client")
        client: Mapping[str, Any] = nested if isinstance(nested, dict) else raw
        return self._parse("backend_client", client, Customer, remote=RemoteData(vendor=VENDOR, fields=raw))

    async def add_customer(self, new: NewCustomer) -> Customer:
        params = self._render("backend_add_client", new)
        required = ("address1", "city", "state", "postcode", "country", "phonenumber")
        if any(not params.get(k) for k in required):
            params["skipvalidation"] = "1"  # other vendors' clients need not have an address
        if not params.get("password2"):
            params["password2"] = secrets.token_urlsafe(18)  # the `passwords` loss: the person resets it
        params["noemail"] = "1" if self._always_noemail else params.get("noemail", "0")
        email = new.email.strip().casefold()

        async def find() -> int | None:
            for row in await self._all("GetClients", "clients", "client", {"search": new.email}):
                if str(row.get("email", "")).strip().casefold() == email:
                    candidate = _int(row.get("id"))
                    if await self._store.claim("whmcs-customer", candidate):
                        return candidate
            return None

        async with self._locks["customer"]:
            answer = await self._create("AddClient", params, "client", find)
        customer_id = answer if isinstance(answer, int) else _int(answer.get("clientid"))
        await self._store.claim("whmcs-customer", customer_id)
        return await self.get_customer(customer_id)

    async def update_customer(self, customer_id: int, patch: CustomerPatch) -> Customer:
        params = self._patch_params("backend_update_client", "customer", patch)
        if params:
            await self.get_customer(customer_id)  # "Client ID Not Found" before writing

            async def holds() -> bool:
                current = await self.get_customer(customer_id)
                wanted = patch.model_dump(exclude_unset=True, exclude={"website"})
                return all(_same(getattr(current, k, None), v) for k, v in wanted.items())

            await self._update("UpdateClient", {"clientid": str(customer_id), **params}, "client", holds)
        return await self.get_customer(customer_id)

    async def delete_customer(self, customer_id: int) -> None:
        async def gone() -> bool:
            return not await self._exists(self.get_customer(customer_id))

        await self._update("DeleteClient", {"clientid": str(customer_id)}, "client", gone, deleting=True)

    # ============================================================ contacts

    async def list_contacts(self, customer_id: int) -> Sequence[Contact]:
        rows = await self._all("GetContacts", "contacts", "contact", {"userid": customer_id})
        return [self._parse("backend_contact", r, Contact) for r in rows]

    async def get_contact(self, contact_id: int) -> Contact:
        for row in await self._all("GetContacts", "contacts", "contact"):
            if _int(row.get("id")) == contact_id:
                return self._parse("backend_contact", row, Contact)
        raise NotFound("contact", "Contact ID Not Found")

    async def add_contact(self, new: NewContact) -> Contact:
        params = self._render("backend_add_contact", new)
        for pref in ("general", "invoice", "support", "product", "domain", "affiliate"):
            if f"email_{pref}" not in new.model_fields_set:  # WHMCS's own default applies
                params.pop(f"email_preferences[{pref}]", None)
        email = new.email.strip().casefold()

        async def find() -> int | None:
            for contact in await self.list_contacts(new.customer_id):
                if contact.email.strip().casefold() == email and await self._store.claim("whmcs-contact", contact.id):
                    return contact.id
            return None

        async with self._locks["contact"]:
            answer = await self._create("AddContact", params, "contact", find)
        contact_id = answer if isinstance(answer, int) else _int(answer.get("contactid"))
        await self._store.claim("whmcs-contact", contact_id)
        for contact in await self.list_contacts(new.customer_id):
            if contact.id == contact_id:
                return contact
        return await self.get_contact(contact_id)

    async def update_contact(self, contact_id: int, patch: ContactPatch) -> Contact:
        """UpdateContact with the fields the patch sets (WHMCS contacts have no title or primary flag)."""
        current = await self.get_contact(contact_id)  # "Contact ID Not Found" before writing
        params = self._render("backend_update_contact", patch)
        if params:

            async def holds() -> bool:
                after = await self.get_contact(contact_id)
                wanted = patch.model_dump(exclude_unset=True, include={"firstname", "lastname", "email", "phone"})
                return all(_same(getattr(after, k, None), v) for k, v in wanted.items())

            await self._update("UpdateContact", {"contactid": str(contact_id), **params}, "contact", holds)
            return await self.get_contact(contact_id)
        return current

    async def delete_contact(self, contact_id: int) -> None:
        await self.get_contact(contact_id)

        async def gone() -> bool:
            return not await self._exists(self.get_contact(contact_id))

        await self._update("DeleteContact", {"contactid": str(contact_id)}, "contact", gone, deleting=True)

    # ============================================================ writes

    def _noemail(self, notify: bool) -> bool:
        return self._always_noemail or not notify

    def _reserve(self) -> float:
        return min(self._find_reserve, http.remaining() * 0.25)

    async def _create(
        self, action: str, params: Mapping[str, str], noun: str, find: Callable[[], Awaitable[int | None]]
    ) -> Answer | int:
        """Send a create once; the answer, or the id of the record found when the outcome was open."""
        try:
            return await self.api.write(action, params, reserve=self._reserve())
        except Unsettled as exc:
            if not exc.sent:
                raise unavailable(f"{exc.detail}; the {noun} was NOT created") from None
            try:
                found = await find()
            except BackendError:
                raise WriteOutcomeUnknown(
                    f"The backend did not answer while creating the {noun} and the gateway could not check "
                    f"whether it was created: check before trying again"
                ) from None
            if found is None:
                raise unavailable(f"{exc.detail}; the {noun} was NOT created") from None
            log.info("whmcs %s %s created although the answer was lost", noun, found)
            return found

    async def _update(
        self,
        action: str,
        params: Mapping[str, str],
        noun: str,
        settled: Callable[[], Awaitable[bool]] | None,
        *,
        deleting: bool = False,
    ) -> None:
        """Send a change once; an open outcome is settled by ``settled()`` (re-reading)."""
        verb = "deleted" if deleting else "added" if noun in ("reply", "note") else "changed"
        try:
            await self.api.write(action, params, reserve=self._reserve())
        except Unsettled as exc:
            if not exc.sent:
                raise unavailable(f"{exc.detail}; the {noun} was NOT {verb}") from None
            if settled is None:
                raise WriteOutcomeUnknown(
                    f"The backend did not answer while the {noun} was {verb}: check before trying again"
                ) from None
            try:
                done = await settled()
            except BackendError:
                raise WriteOutcomeUnknown(
                    f"The backend did not answer while the {noun} was {verb} and the gateway could not check "
                    f"whether it was: check before trying again"
                ) from None
            if not done:
                raise unavailable(f"{exc.detail}; the {noun} was NOT {verb}") from None

    async def _exists(self, read: Awaitable[Any]) -> bool:
        try:
            await read
        except NotFound:
            return False
        return True


# ---------------------------------------------------------------- helpers


def _caller_settles() -> bool:
    ctx = context.peek()
    return ctx is not None and ctx.caller_settles


async def _left_to_caller() -> Any:
    """A caller that settles its own writes (context.caller_settles): nothing was read before the
    write to settle it here, so a lost answer stays open (WriteOutcomeUnknown) for the caller."""
    raise unavailable("the caller settles this write")


def _int(value: Any) -> int:
    try:
        return int(str(value).strip()) if value not in (None, "") else 0
    except ValueError:
        return 0


def _items(answer: Mapping[str, Any], plural: str, singular: str) -> list[Any]:
    """``{"tickets": {"ticket": [...]}}`` -> the list; "" or a missing key (an empty list) -> []."""
    container = answer.get(plural)
    if isinstance(container, dict):
        items = container.get(singular, [])
        if isinstance(items, dict):
            return [items]
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    if isinstance(container, list):
        return [i for i in container if isinstance(i, dict)]
    return []


def _plain(value: Any) -> str:
    return _SPACE.sub(" ", re.sub(r"<[^>]*>", " ", "" if value is None else str(value))).strip()


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, str) and isinstance(current, str):
        return _plain(current).casefold() == _plain(wanted).casefold()
    return bool(current == wanted)


def _ticket_holds(ticket: Ticket, patch: TicketPatch, before: Ticket) -> bool:
    """Whether a re-read ticket shows an update (the fields WHMCS keeps as sent)."""
    checks: list[bool] = []
    for field in patch.model_fields_set:
        wanted = getattr(patch, field)
        if field == "department_id":
            checks.append(ticket.department is not None and ticket.department.id == wanted)
        elif field in ("subject", "status", "priority", "customer_id", "cc", "assigned_staff_id"):
            checks.append(_same(getattr(ticket, field), wanted))
        elif field == "message":
            checks.append(_same(ticket.message, wanted))
        elif field == "created_at":
            checks.append(ticket.created_at == wanted)
    return all(checks) if checks else ticket != before
