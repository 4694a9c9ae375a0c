"""The canonical model: the only thing dialects and backends both know.

Dialects parse inbound requests into the operations at the bottom of this
module and render the results (the records above them); backends carry the
operations out.  Nothing here knows a vendor's field names.

Status and priority are enums with an explicit escape hatch: a vendor value
that no mapping table knows travels as :class:`Unmapped` (the vendor, its raw
code and its label) so that it passes through visibly instead of crashing or
being silently turned into a wrong value.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class Status(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    ON_HOLD = "on_hold"
    CLOSED = "closed"
    CUSTOMER_REPLY = "customer_reply"
    UNASSIGNED = "unassigned"
    WAITING_ON_CUSTOMER = "waiting_on_customer"


class Priority(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Unmapped(BaseModel):
    """A vendor enum value no mapping table knows: carried through, never guessed."""

    model_config = ConfigDict(frozen=True)
    vendor: str
    code: str
    label: str = ""

    def __str__(self) -> str:
        return self.label or self.code


StatusValue = Status | Unmapped
PriorityValue = Priority | Unmapped

# The statuses a helpdesk treats as "still needs work" / "waiting for staff".
ACTIVE_STATUSES = frozenset(
    {
        Status.OPEN,
        Status.IN_PROGRESS,
        Status.ANSWERED,
        Status.ON_HOLD,
        Status.CUSTOMER_REPLY,
        Status.UNASSIGNED,
        Status.WAITING_ON_CUSTOMER,
    }
)
AWAITING_REPLY_STATUSES = frozenset({Status.OPEN, Status.CUSTOMER_REPLY, Status.UNASSIGNED})


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RemoteData(BaseModel):
    """The backend's raw record, carried beside the canonical one (as unified APIs keep ``remote_data``).

    A dialect's mapping may read it only when dialect and backend are the same vendor, so
    that a client in front of its own vendor sees exactly what that vendor sends."""

    model_config = ConfigDict(frozen=True)
    vendor: str
    fields: dict[str, Any]


class Department(_Record):
    id: int
    name: str


class Contact(_Record):
    id: int
    remote: RemoteData | None = Field(default=None, repr=False)
    customer_id: int
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    phone: str = ""
    title: str = ""
    is_primary: bool = False
    active: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # email preferences, canonical names
    email_general: bool = True
    email_invoice: bool = True
    email_support: bool = True
    email_product: bool = True
    email_domain: bool = True
    email_affiliate: bool = True

    @property
    def full_name(self) -> str:
        return f"{self.firstname} {self.lastname}".strip()


class Customer(_Record):
    """A paying account (WHMCS "client", PMP "customer")."""

    id: int
    remote: RemoteData | None = Field(default=None, repr=False)
    company: str = ""
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    phone: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    website: str = ""
    vat: str = ""
    language: str = ""
    currency: int = 0
    group_id: int = 0
    active: bool = True
    created_at: datetime | None = None
    primary_contact_id: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.firstname} {self.lastname}".strip()


class Author(_Record):
    """Who wrote a message: a customer contact, a staff member or a guest."""

    kind: Literal["customer", "staff", "guest"] = "guest"
    customer_id: int = 0
    contact_id: int = 0
    staff_id: int = 0
    name: str = ""
    email: str = ""

    @property
    def staff_name(self) -> str:
        return self.name if self.kind == "staff" else ""

    @property
    def client_name(self) -> str:
        return "" if self.kind == "staff" else self.name

    @property
    def client_email(self) -> str:
        return "" if self.kind == "staff" else self.email


class Reply(_Record):
    id: int
    remote: RemoteData | None = Field(default=None, repr=False)
    created_at: datetime | None = None
    message: str = ""
    author: Author = Field(default_factory=Author)
    attachments: tuple[str, ...] = ()


class Note(_Record):
    id: int
    remote: RemoteData | None = Field(default=None, repr=False)
    created_at: datetime | None = None
    message: str = ""
    staff_name: str = ""
    staff_id: int = 0
    attachments: tuple[str, ...] = ()


class Staff(_Record):
    """A helpdesk staff member (WHMCS admin user, Perfex staff)."""

    id: int
    remote: RemoteData | None = Field(default=None, repr=False)
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    active: bool = True

    @property
    def full_name(self) -> str:
        return f"{self.firstname} {self.lastname}".strip()


class Ticket(_Record):
    id: int
    remote: RemoteData | None = Field(default=None, repr=False)
    number: str = ""  # the number shown to end users (WHMCS tid)
    access_key: str = ""  # the client-area access key (WHMCS c)
    subject: str = ""
    status: StatusValue = Status.OPEN
    priority: PriorityValue = Priority.MEDIUM
    department: Department | None = None
    customer_id: int = 0
    contact_id: int = 0
    requester: Author = Field(default_factory=Author)
    cc: str = ""
    created_at: datetime | None = None
    last_reply_at: datetime | None = None
    assigned_staff_id: int = 0
    service: str = ""
    replies: tuple[Reply, ...] = ()  # the opening message is replies[0]
    notes: tuple[Note, ...] = ()
    tags: str = ""
    opened_by_staff: str = ""  # the name of the staff member who opened it (WHMCS "admin"), "" for a client
    company: str = ""  # the customer's company where the ticket's record carries it (PMP joins the client)

    @property
    def message(self) -> str:
        return self.replies[0].message if self.replies else ""

    #: the fields each property reads (and nothing else of the record): a fused translation
    #: (``gateway.mapping.fuse``) calls the property on just those
    FUSED_PROPERTIES: ClassVar[dict[str, tuple[str, ...]]] = {"message": ("replies",)}


class NewTicket(_Record):
    subject: str
    message: str
    department_id: int
    customer_id: int = 0
    contact_id: int = 0
    name: str = ""
    email: str = ""
    priority: PriorityValue = Priority.MEDIUM
    status: StatusValue | None = None
    cc: str = ""
    service: str = ""
    assigned_staff_id: int = 0
    created_at: datetime | None = None
    notify: bool = True  # False: the backend should send no e-mail for it (WHMCS noemail; migrations)


class TicketPatch(_Record):
    """Only the fields set are changed."""

    subject: str | None = None
    status: StatusValue | None = None
    priority: PriorityValue | None = None
    department_id: int | None = None
    customer_id: int | None = None
    contact_id: int | None = None
    cc: str | None = None
    message: str | None = None
    assigned_staff_id: int | None = None
    created_at: datetime | None = None
    # the date of the last message (a migration's ticket after its replies); set to None: cleared
    last_reply_at: datetime | None = None

    def is_empty(self) -> bool:
        return not self.model_fields_set


class NewReply(_Record):
    message: str
    author: Author = Field(default_factory=Author)
    status: StatusValue | None = None
    created_at: datetime | None = None  # an original date (imports, WHMCS "created"); None: now
    notify: bool = True  # False: the backend should send no e-mail for it (WHMCS noemail; migrations)


class NewNote(_Record):
    message: str
    staff_name: str = ""
    staff_id: int = 0
    created_at: datetime | None = None


class NewCustomer(_Record):
    firstname: str
    lastname: str
    email: str
    company: str = ""
    phone: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    website: str = ""
    vat: str = ""
    language: str = ""
    currency: int = 0
    password: str = ""


class CustomerPatch(_Record):
    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None
    company: str | None = None
    phone: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    website: str | None = None
    vat: str | None = None
    language: str | None = None
    currency: int | None = None
    active: bool | None = None

    def is_empty(self) -> bool:
        return not self.model_fields_set


class ContactPatch(_Record):
    """Changes to a contact: only the fields set are written (a migration's changed contact; the PMP
    dialect's PUT api/contacts/:id, email preferences by canonical name)."""

    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    is_primary: bool | None = None
    email_general: bool | None = None
    email_invoice: bool | None = None
    email_support: bool | None = None
    email_product: bool | None = None

    def is_empty(self) -> bool:
        return not self.model_fields_set


class NewContact(_Record):
    customer_id: int
    firstname: str
    lastname: str
    email: str
    phone: str = ""
    title: str = ""
    password: str = ""
    is_primary: bool = False
    email_general: bool = True
    email_invoice: bool = True
    email_support: bool = True
    email_product: bool = True
    email_domain: bool = True
    email_affiliate: bool = True
