"""Legacy ids after the cut-over (INTERFACE "Legacy ids"): one translation layer, vendor-neutral.

``gateway serve --store`` on a store that journals a migration wraps its backend in
:class:`LegacyIds`.  For every dialect except the target vendor's own, records are shown and
resolved under the ids legacy clients knew: a migrated record under its source id (tickets
also under their source number and access key), a record that exists only on the target
under an id the store allocates above the highest source id of its kind.  The target's own
dialect sees the target's real ids.  Nothing here knows a vendor: the map is the journal's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from gateway import context
from gateway.backends.base import Backend, BackendDefaults, Capabilities, Support, TicketHeader
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
    Reply,
    Staff,
    StatusValue,
    Ticket,
    TicketPatch,
)
from gateway.errors import NotFound
from gateway.migrate.journal import Journal

KINDS = ("ticket", "customer", "contact", "department")
_MISSING = {
    "ticket": "Ticket ID Not Found",
    "customer": "Client ID Not Found",
    "contact": "Contact ID Not Found",
    "department": "Department ID not found",
}
RELOAD_EVERY = 1.0  # seconds: a miss re-reads the journal at most this often (a migration may be running)


class IdMap:
    """Shown (legacy) ids <-> target ids, per kind, from the journal and the store's allocations."""

    def __init__(self, journal: Journal, clock: Callable[[], float] = time.monotonic) -> None:
        self._journal = journal
        self._clock = clock
        self._loaded_at = -RELOAD_EVERY
        self._to_target: dict[str, dict[int, int]] = {k: {} for k in KINDS}
        self._to_shown: dict[str, dict[int, int]] = {k: {} for k in KINDS}
        self._floor: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._numbers: dict[str, int] = {}  # a migrated ticket's source number -> its shown id
        self._labels: dict[int, tuple[str, str]] = {}  # shown ticket id -> (number, access key)

    async def load(self) -> None:
        to_target: dict[str, dict[int, int]] = {k: {} for k in KINDS}
        to_shown: dict[str, dict[int, int]] = {k: {} for k in KINDS}
        floor = dict.fromkeys(KINDS, 0)
        for kind in ("ticket", "customer", "contact"):
            for source_id, target_id in await self._journal.done_pairs(kind):
                if source_id.isdigit() and target_id.isdigit():
                    to_target[kind][int(source_id)] = int(target_id)
                    to_shown[kind].setdefault(int(target_id), int(source_id))
            floor[kind] = max([*to_target[kind], int(await self._journal.meta(f"max_source_id:{kind}") or 0)])
        departments = json.loads(await self._journal.meta("departments") or "{}")
        for source_id, target_id in sorted(departments.items(), key=lambda kv: int(kv[0])):
            to_target["department"][int(source_id)] = int(target_id)
            to_shown["department"].setdefault(int(target_id), int(source_id))
        top = int(await self._journal.meta("max_source_id:department") or 0)  # unmatched ones included
        floor["department"] = max([*(int(k) for k in departments), top])
        for kind, target_id, shown in await self._journal.allocations():
            if kind in to_target and target_id.isdigit() and int(target_id) not in to_shown[kind]:
                to_target[kind][shown] = int(target_id)
                to_shown[kind][int(target_id)] = shown
        numbers, labels = await self._ticket_labels()
        self._to_target, self._to_shown, self._floor = to_target, to_shown, floor
        self._numbers, self._labels = numbers, labels
        self._loaded_at = self._clock()

    async def _ticket_labels(self) -> tuple[dict[str, int], dict[int, tuple[str, str]]]:
        numbers: dict[str, int] = {}
        labels: dict[int, tuple[str, str]] = {}
        for entry in await self._journal.entries("ticket"):
            if not entry.done or not entry.source_id.isdigit():
                continue
            hint = json.loads(entry.hint or "{}")
            shown = int(entry.source_id)
            number = str(hint.get("number") or "") or str(shown)
            labels[shown] = (number, str(hint.get("key") or ""))
            numbers[number] = shown
        return numbers, labels

    async def _maybe_reload(self) -> bool:
        if self._clock() - self._loaded_at < RELOAD_EVERY:
            return False
        await self.load()
        return True

    async def shown(self, kind: str, target_id: int) -> int:
        """The id a legacy client sees for a target record (0 stays 0: "none")."""
        if target_id <= 0:
            return target_id
        known = self._to_shown[kind].get(target_id)
        if known is None and await self._maybe_reload():
            known = self._to_shown[kind].get(target_id)
        if known is None:
            known = await self._journal.allocate(kind, str(target_id), self._floor[kind])
            self._to_shown[kind][target_id] = known
            self._to_target[kind][known] = target_id
        return known

    async def target(self, kind: str, shown_id: int) -> int:
        """The target id of a legacy id; NotFound when it names no record."""
        if shown_id <= 0:
            return shown_id
        found = self._to_target[kind].get(shown_id)
        if found is None and await self._maybe_reload():
            found = self._to_target[kind].get(shown_id)
        if found is None:
            raise NotFound(kind, _MISSING[kind])
        return found

    async def ticket_by_number(self, number: str) -> int | None:
        shown = self._numbers.get(number)
        if shown is None and await self._maybe_reload():
            shown = self._numbers.get(number)
        return shown

    def label(self, shown_ticket: int) -> tuple[str, str] | None:
        return self._labels.get(shown_ticket)

    async def close(self) -> None:
        await self._journal.close()


class LegacyIds(BackendDefaults):
    """A Backend that shows legacy ids to every dialect but the target vendor's own."""

    def __init__(self, inner: Backend, ids: IdMap, native_dialects: Collection[str]) -> None:
        self.inner = inner
        self.name = inner.name
        self.ids = ids
        self._native = frozenset(native_dialects)

    def _legacy(self) -> bool:
        return context.current().dialect not in self._native

    # ------------------------------------------------------------ out: target -> shown

    async def _department(self, d: Department | None) -> Department | None:
        if d is None:
            return None
        return d.model_copy(update={"id": await self.ids.shown("department", d.id)})

    async def _author(self, a: Author) -> Author:
        if a.kind != "customer":
            return a
        return a.model_copy(
            update={
                "customer_id": await self.ids.shown("customer", a.customer_id),
                "contact_id": await self.ids.shown("contact", a.contact_id),
            }
        )

    async def ticket_out(self, t: Ticket) -> Ticket:
        shown = await self.ids.shown("ticket", t.id)
        number, key = self.ids.label(shown) or (str(shown), t.access_key)
        replies: list[Reply] = [r.model_copy(update={"author": await self._author(r.author)}) for r in t.replies]
        return t.model_copy(
            update={
                "id": shown,
                "remote": None,  # the target's raw record carries target ids
                "number": number,
                "access_key": key or t.access_key,
                "department": await self._department(t.department),
                "customer_id": await self.ids.shown("customer", t.customer_id),
                "contact_id": await self.ids.shown("contact", t.contact_id),
                "requester": await self._author(t.requester),
                "replies": tuple(replies),
            }
        )

    async def customer_out(self, c: Customer) -> Customer:
        primary = c.primary_contact_id
        return c.model_copy(
            update={
                "id": await self.ids.shown("customer", c.id),
                "remote": None,
                "primary_contact_id": await self.ids.shown("contact", primary) if primary else primary,
            }
        )

    async def contact_out(self, c: Contact) -> Contact:
        return c.model_copy(
            update={
                "id": await self.ids.shown("contact", c.id),
                "remote": None,
                "customer_id": await self.ids.shown("customer", c.customer_id),
            }
        )

    # ------------------------------------------------------------ in: shown -> target

    async def _t(self, kind: str, shown: int) -> int:
        return await self.ids.target(kind, shown) if self._legacy() else shown

    async def _author_in(self, a: Author) -> Author:
        if a.kind != "customer" or not self._legacy():
            return a
        return a.model_copy(
            update={
                "customer_id": await self.ids.target("customer", a.customer_id),
                "contact_id": await self.ids.target("contact", a.contact_id),
            }
        )

    async def resolve_number(self, number: str) -> int | None:
        """A legacy ticket number (WHMCS ``tid``) -> the id this layer shows; None: not a migrated number."""
        if not self._legacy():
            return await self.inner.resolve_number(number)
        return await self.ids.ticket_by_number(number)

    async def ticket_id_for(self, number: str) -> int | None:
        """The target's own ticket number -> its id, shown under the id legacy clients see."""
        found = await self.inner.ticket_id_for(number)
        if found is None or not self._legacy():
            return found
        return await self.ids.shown("ticket", found)

    async def flagged_tickets(self) -> int:
        return await self.inner.flagged_tickets()

    # ------------------------------------------------------------ the protocol

    async def ping(self) -> None:
        await self.inner.ping()

    async def get_ticket(self, ticket_id: int) -> Ticket:
        t = await self.inner.get_ticket(await self._t("ticket", ticket_id))
        return await self.ticket_out(t) if self._legacy() else t

    def fuse_ticket_render(self, render: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
        """None: this layer may show a ticket under its legacy ids, which a backend's fused answer
        would not (GetTicket here goes through :meth:`get_ticket`)."""
        return None

    async def get_ticket_fused(self, ticket_id: int, fused: Callable[[Any], Any]) -> Ticket | dict[str, Any]:
        return await self.get_ticket(ticket_id)

    async def ticket_summary(self, ticket_id: int) -> Ticket:
        """A list page's ticket (no conversation, where the backend can read it so), under legacy ids."""
        t = await self.inner.ticket_summary(await self._t("ticket", ticket_id))
        return await self.ticket_out(t) if self._legacy() else t

    async def with_replies(self, tickets: Sequence[Ticket]) -> list[Ticket]:
        """List rows (under the ids this layer shows) with their replies, the replies' authors
        under legacy ids as well."""
        if not self._legacy():
            return await self.inner.with_replies(tickets)
        targets = [t.model_copy(update={"id": await self._t("ticket", t.id)}) for t in tickets]
        out = []
        for shown, full in zip(tickets, await self.inner.with_replies(targets), strict=True):
            more = [r.model_copy(update={"author": await self._author(r.author)}) for r in full.replies[1:]]
            out.append(shown.model_copy(update={"replies": (*shown.replies[:1], *more)}))
        return out

    async def list_tickets(self) -> Sequence[Ticket]:
        tickets = await self.inner.list_tickets()
        return [await self.ticket_out(t) for t in tickets] if self._legacy() else tickets

    async def ticket_headers(self) -> Sequence[TicketHeader]:
        """The header index's rows, under the ids legacy clients see."""
        headers = await self.inner.ticket_headers()
        if not self._legacy():
            return headers
        out = []
        for h in headers:
            out.append(
                h._replace(
                    id=await self.ids.shown("ticket", h.id),
                    department_id=await self.ids.shown("department", h.department_id),
                    customer_id=await self.ids.shown("customer", h.customer_id),
                    contact_id=await self.ids.shown("contact", h.contact_id),
                )
            )
        return out

    async def ticket_page(
        self, offset: int, limit: int, order_by: str | None, descending: bool
    ) -> tuple[Sequence[Ticket], int] | None:
        """A backend page (when the backend pages), its tickets under legacy ids; ordering by id may
        differ from the legacy ids' order, so a legacy page ordered by id is left to the service."""
        if self._legacy() and order_by in (None, "id"):
            return None
        page = await self.inner.ticket_page(offset, limit, order_by, descending)
        if page is None or not self._legacy():
            return page
        tickets, total = page
        return [await self.ticket_out(t) for t in tickets], total

    async def open_ticket(self, new: NewTicket) -> Ticket:
        if self._legacy():
            new = new.model_copy(
                update={
                    "department_id": await self.ids.target("department", new.department_id),
                    "customer_id": await self.ids.target("customer", new.customer_id),
                    "contact_id": await self.ids.target("contact", new.contact_id),
                }
            )
        made = await self.inner.open_ticket(new)
        return await self.ticket_out(made) if self._legacy() else made

    async def update_ticket(self, ticket_id: int, patch: TicketPatch) -> Ticket:
        if self._legacy():
            changes: dict[str, Any] = {}
            for field, kind in (
                ("department_id", "department"),
                ("customer_id", "customer"),
                ("contact_id", "contact"),
            ):
                value = getattr(patch, field)
                if value is not None:
                    changes[field] = await self.ids.target(kind, value)
            patch = patch.model_copy(update=changes) if changes else patch
        made = await self.inner.update_ticket(await self._t("ticket", ticket_id), patch)
        return await self.ticket_out(made) if self._legacy() else made

    async def delete_ticket(self, ticket_id: int) -> None:
        await self.inner.delete_ticket(await self._t("ticket", ticket_id))

    async def add_reply(self, ticket_id: int, reply: NewReply) -> None:
        reply = reply.model_copy(update={"author": await self._author_in(reply.author)})
        await self.inner.add_reply(await self._t("ticket", ticket_id), reply)

    async def add_note(self, ticket_id: int, note: NewNote) -> None:
        await self.inner.add_note(await self._t("ticket", ticket_id), note)

    async def list_notes(self, ticket_id: int) -> Sequence[Note]:
        return await self.inner.list_notes(await self._t("ticket", ticket_id))

    async def list_departments(self) -> Sequence[Department]:
        found = await self.inner.list_departments()
        if not self._legacy():
            return found
        out = [await self._department(d) for d in found]
        return [d for d in out if d is not None]

    def departments_known(self) -> bool:
        return self.inner.departments_known()

    def statuses(self) -> Sequence[tuple[StatusValue, str]]:
        return self.inner.statuses()

    async def list_customers(self) -> Sequence[Customer]:
        found = await self.inner.list_customers()
        return [await self.customer_out(c) for c in found] if self._legacy() else found

    async def get_customer(self, customer_id: int) -> Customer:
        c = await self.inner.get_customer(await self._t("customer", customer_id))
        return await self.customer_out(c) if self._legacy() else c

    async def add_customer(self, new: NewCustomer) -> Customer:
        made = await self.inner.add_customer(new)
        return await self.customer_out(made) if self._legacy() else made

    async def update_customer(self, customer_id: int, patch: CustomerPatch) -> Customer:
        made = await self.inner.update_customer(await self._t("customer", customer_id), patch)
        return await self.customer_out(made) if self._legacy() else made

    async def delete_customer(self, customer_id: int) -> None:
        await self.inner.delete_customer(await self._t("customer", customer_id))

    async def list_contacts(self, customer_id: int) -> Sequence[Contact]:
        found = await self.inner.list_contacts(await self._t("customer", customer_id))
        return [await self.contact_out(c) for c in found] if self._legacy() else found

    async def get_contact(self, contact_id: int) -> Contact:
        c = await self.inner.get_contact(await self._t("contact", contact_id))
        return await self.contact_out(c) if self._legacy() else c

    async def add_contact(self, new: NewContact) -> Contact:
        if self._legacy():
            new = new.model_copy(update={"customer_id": await self.ids.target("customer", new.customer_id)})
        made = await self.inner.add_contact(new)
        return await self.contact_out(made) if self._legacy() else made

    async def update_contact(self, contact_id: int, patch: ContactPatch) -> Contact:
        made = await self.inner.update_contact(await self._t("contact", contact_id), patch)
        return await self.contact_out(made) if self._legacy() else made

    async def delete_contact(self, contact_id: int) -> None:
        await self.inner.delete_contact(await self._t("contact", contact_id))

    async def add_department(self, name: str) -> Department:
        made = await self.inner.add_department(name)
        shown = await self._department(made) if self._legacy() else made
        return shown or made

    async def list_staff(self) -> Sequence[Staff]:
        return await self.inner.list_staff()

    async def discover(self) -> Capabilities:
        return await self.inner.discover()

    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    def support(self, operation: str) -> Support:
        return self.inner.support(operation)

    async def close(self) -> None:
        await self.inner.close()


async def load_for_serve(store_url: str) -> tuple[IdMap, str] | None:
    """The id map of the migration the store journals, with the target's vendor; None if it journals none.

    A store that journals no migration is only read (nothing is created in it)."""
    from gateway.migrate.journal import open_journal

    if not store_url.startswith(("postgresql://", "postgres://")):
        from pathlib import Path

        if not Path(store_url).exists():
            return None
    probe = await open_journal(store_url, read_only=True)
    try:
        target_kind = await probe.meta("target_kind")
    finally:
        await probe.close()
    if target_kind is None:
        return None
    ids = IdMap(await open_journal(store_url))  # allocations are written
    await ids.load()
    return ids, target_kind
