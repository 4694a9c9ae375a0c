"""What every backend offers the service: canonical records in, canonical records out.

A backend knows its vendor's API and nothing of any dialect.  Lists return
every matching record the backend can see; filtering, sorting and paging
that the backend cannot do are the service's job.  Operations the backend
cannot carry out raise :class:`gateway.errors.Unsupported` before writing
anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

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
    PriorityValue,
    Staff,
    StatusValue,
    Ticket,
    TicketPatch,
)
from gateway.errors import Unsupported

FeatureState = Literal["yes", "no", "read-only"]

#: What a backend may offer, as ``gateway check --backend`` prints it (``feature: yes|no|read-only``).
FEATURES: tuple[str, ...] = (
    "paging",  # lists served a page at a time by the backend
    "record_ids",  # creates answer the new record's id
    "idempotent_creates",  # an Idempotency-Key (or equivalent) makes a repeated create safe
    "staff",  # staff members can be listed
    "notes",  # ticket notes (read; yes = write too)
    "replies",  # ticket replies (read; yes = write too)
    "departments",  # the full department list can be read (yes = departments can be created too)
    "filters",  # lists answer in the vendor's own list shape and order (no header index in front)
)

#: How an operation is served: ("full", ()), ("loss", (loss ids...)) or ("refused", (reason,)).
Support = tuple[Literal["full", "loss", "refused"], tuple[str, ...]]


@dataclass(frozen=True)
class Capabilities:
    """What discovery found the installation offers (see INTERFACE "Backends")."""

    kind: str  # "pmp" | "whmcs"
    generation: str = ""  # "3" / "2" for PMP module generations
    features: Mapping[str, FeatureState] = field(default_factory=dict)

    def has(self, feature: str) -> bool:
        return self.features.get(feature, "no") != "no"

    def writable(self, feature: str) -> bool:
        return self.features.get(feature, "no") == "yes"


class TicketHeader(NamedTuple):
    """What list filters, counts and sorts need of a ticket: the header index's row.

    A tuple, not a model: the index holds one per backend ticket."""

    id: int
    status: StatusValue
    priority: PriorityValue
    department_id: int
    customer_id: int
    contact_id: int
    email: str  # the requester's
    subject: str
    created_at: datetime | None
    last_reply_at: datetime | None
    department_name: str = ""  # departments of a backend that cannot list them are named from tickets


def header_of(ticket: Ticket) -> TicketHeader:
    """A full ticket's header (after a write, or a single read)."""
    return TicketHeader(
        ticket.id,
        ticket.status,
        ticket.priority,
        ticket.department.id if ticket.department is not None else 0,
        ticket.customer_id,
        ticket.contact_id,
        ticket.requester.email,
        ticket.subject,
        ticket.created_at,
        ticket.last_reply_at,
        ticket.department.name if ticket.department is not None else "",
    )


class Backend(Protocol):
    name: str

    async def ping(self) -> None:
        """A cheap authenticated call; raises BackendError when unreachable or refused."""

    async def get_ticket(self, ticket_id: int) -> Ticket: ...
    def fuse_ticket_render(self, render: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
        """``render`` (a dialect's ticket render) composed with the backend's ticket parse
        (``gateway.mapping.fuse``), for :meth:`get_ticket_fused`; None where it has none."""
        ...

    async def get_ticket_fused(self, ticket_id: int, fused: Callable[[Any], Any]) -> Ticket | dict[str, Any]:
        """:meth:`get_ticket`, or, for an answer ``fused`` speaks for, ``fused(row)``: the client's
        answer itself, without its Ticket."""
        ...

    async def ticket_summary(self, ticket_id: int) -> Ticket:
        """The ticket without its conversation where the backend can read it so (a list page's row)."""
        ...

    async def ticket_id_for(self, number: str) -> int | None:
        """The backend's id of its own client-facing ticket number; None: the number is the id (PMP)."""
        ...

    async def resolve_number(self, number: str) -> int | None:
        """A ticket number a layer in front of the backend knows (legacy numbers after a migration)."""
        ...

    async def flagged_tickets(self) -> int:
        """Tickets flagged to the credential's own staff member, where the backend can tell (else 0)."""
        ...

    async def list_tickets(self) -> Sequence[Ticket]: ...
    async def ticket_headers(self) -> Sequence[TicketHeader]:
        """Every ticket's header, read as cheaply as the backend allows (projected, paged)."""
        ...

    async def ticket_page(
        self, offset: int, limit: int, order_by: str | None, descending: bool
    ) -> tuple[Sequence[Ticket], int] | None:
        """One page of all tickets and their total, served by the backend; None when it cannot page."""
        ...

    async def open_ticket(self, new: NewTicket) -> Ticket: ...
    async def update_ticket(self, ticket_id: int, patch: TicketPatch) -> Ticket: ...
    async def delete_ticket(self, ticket_id: int) -> None: ...
    async def add_reply(self, ticket_id: int, reply: NewReply) -> None: ...
    async def add_note(self, ticket_id: int, note: NewNote) -> None: ...
    async def list_notes(self, ticket_id: int) -> Sequence[Note]: ...
    async def list_departments(self) -> Sequence[Department]: ...
    def departments_known(self) -> bool:
        """True when list_departments is the installation's full list (not derived from tickets)."""
        ...

    def statuses(self) -> Sequence[tuple[StatusValue, str]]:
        """The installation's ticket statuses with their colours, in display order."""
        ...

    async def list_customers(self) -> Sequence[Customer]: ...
    async def get_customer(self, customer_id: int) -> Customer: ...
    async def add_customer(self, new: NewCustomer) -> Customer: ...
    async def update_customer(self, customer_id: int, patch: CustomerPatch) -> Customer: ...
    async def delete_customer(self, customer_id: int) -> None: ...
    async def list_contacts(self, customer_id: int) -> Sequence[Contact]: ...
    async def get_contact(self, contact_id: int) -> Contact: ...
    async def add_contact(self, new: NewContact) -> Contact: ...
    async def update_contact(self, contact_id: int, patch: ContactPatch) -> Contact:
        """Change a contact's fields that the patch sets; the contact as it is afterwards."""
        ...

    async def add_department(self, name: str) -> Department:
        """Create a department (a migration's unmatched one); Unsupported where the backend cannot."""
        ...

    async def delete_contact(self, contact_id: int) -> None:
        """Delete a contact (the PMP dialect's DELETE api/contacts/:id); Unsupported where it cannot."""
        ...

    async def with_replies(self, tickets: Sequence[Ticket]) -> list[Ticket]:
        """List rows with their conversation's replies where the backend can add them without a
        read per ticket (PMP's reply index); else the rows as they are."""
        ...

    async def list_staff(self) -> Sequence[Staff]: ...
    async def discover(self) -> Capabilities:
        """Find out, with requests that change nothing, what the installation offers; remembered."""
        ...

    def capabilities(self) -> Capabilities:
        """What the last discovery found (before any: what configuration pins)."""
        ...

    def support(self, operation: str) -> Support:
        """How a canonical operation (``gateway.operations`` name) is served on this backend."""
        ...

    async def close(self) -> None: ...


class BackendDefaults:
    """The optional part of :class:`Backend`, for adapters and layers to inherit.

    Adapters override what their vendor offers; layers in front of a backend (the guard,
    the legacy-id layer) override every method and forward it, so that an optional method
    is found the same way at every depth and never by ``getattr``."""

    async def ticket_summary(self: Backend, ticket_id: int) -> Ticket:
        return await self.get_ticket(ticket_id)

    def fuse_ticket_render(self: Backend, render: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
        return None

    async def get_ticket_fused(self: Backend, ticket_id: int, fused: Callable[[Any], Any]) -> Ticket | dict[str, Any]:
        return await self.get_ticket(ticket_id)

    async def ticket_id_for(self: Backend, number: str) -> int | None:
        return None

    async def resolve_number(self: Backend, number: str) -> int | None:
        return None

    async def flagged_tickets(self: Backend) -> int:
        return 0

    async def update_contact(self: Backend, contact_id: int, patch: ContactPatch) -> Contact:
        raise Unsupported(f"The backend ({self.name}) cannot change contacts; nothing was written")

    async def add_department(self: Backend, name: str) -> Department:
        raise Unsupported(f"The backend ({self.name}) cannot create departments; nothing was written")

    async def delete_contact(self: Backend, contact_id: int) -> None:
        raise Unsupported(f"The backend ({self.name}) cannot delete contacts; nothing was written")

    async def with_replies(self: Backend, tickets: Sequence[Ticket]) -> list[Ticket]:
        return list(tickets)
