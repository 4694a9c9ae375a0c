"""Canonical operations: what a dialect may ask and what it gets back.

Each operation has an argument model (what a dialect's ``params`` mapping must
produce) and a result type (what its ``result`` mapping renders).  The service
(``gateway.service``) carries each one out against a backend.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from gateway.canonical import (
    Contact,
    Customer,
    Department,
    NewCustomer,
    Note,
    PriorityValue,
    RemoteData,
    Staff,
    StatusValue,
    Ticket,
)


class _Args(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NoArgs(_Args):
    pass


class TicketRefArgs(_Args):
    ticket_id: int | None = None
    ticket_number: str | None = None


class GetTicketArgs(TicketRefArgs):
    replies_desc: bool = False


class ListTicketsArgs(_Args):
    offset: int = Field(default=0, ge=0, le=10**12)
    limit: int | None = Field(default=None, ge=0, le=10**12)
    ticket_ids: tuple[int, ...] | None = None
    number_glob: str | None = None
    id_min: int | None = None
    id_max: int | None = None
    department_id: int | None = None
    customer_id: int | None = None
    customer_min: str | None = None
    customer_max: str | None = None
    email: str | None = None
    statuses: frozenset[StatusValue] | StatusValue | None = None
    priorities: frozenset[PriorityValue] | PriorityValue | None = None
    subject: str | None = None
    keyword: str | None = None
    created_from: object | None = None
    created_to: object | None = None
    order_by: str | None = None
    descending: bool = False
    count_only: bool = False
    with_messages: bool = False  # the dialect's list shows messages: complete list rows that lack them


class OpenTicketArgs(_Args):
    subject: str
    message: str
    department_id: int
    customer_id: int = 0
    contact_id: int = 0
    name: str = ""
    email: str = ""
    priority: PriorityValue | None = None
    status: StatusValue | None = None
    cc: str = ""
    service: str = ""
    assigned_staff_id: int = 0
    created_at: object | None = None
    notify: bool = True  # False: no notification e-mail (WHMCS noemail)


class UpdateTicketArgs(TicketRefArgs):
    subject: str | None = None
    status: StatusValue | None = None
    priority: PriorityValue | None = None
    department_id: int | None = None
    customer_id: int | None = None
    contact_id: int | None = None
    cc: str | None = None
    message: str | None = None
    assigned_staff_id: int | None = None
    created_at: object | None = None
    name: str | None = None
    email: str | None = None
    flag: int | None = None


class AddReplyArgs(TicketRefArgs):
    message: str
    customer_id: int = 0
    contact_id: int = 0
    staff_name: str = ""
    name: str = ""
    email: str = ""
    status: StatusValue | None = None
    created_at: object | None = None
    notify: bool = True  # False: no notification e-mail (WHMCS noemail)


class AddNoteArgs(TicketRefArgs):
    message: str
    staff_name: str = ""
    created_at: object | None = None


class TicketCountsArgs(_Args):
    by_status: bool = True  # False: no per-status breakdown (WHMCS without includeCountsByStatus)


class DepartmentStatsArgs(_Args):
    department_id: int | None = None


class CustomerRefArgs(_Args):
    customer_id: int | None = None
    email: str | None = None


class CustomerDetailsArgs(CustomerRefArgs):
    stats: bool = False  # also count what the backend can (WHMCS GetClientsDetails stats=true)


class ListCustomersArgs(_Args):
    offset: int = Field(default=0, ge=0, le=10**12)
    limit: int | None = Field(default=None, ge=0, le=10**12)
    search: str | None = None
    active: bool | None = None
    descending: bool = False


class UpdateCustomerArgs(CustomerRefArgs):
    firstname: str | None = None
    lastname: str | None = None
    new_email: str | None = None
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


class ListContactsArgs(_Args):
    offset: int = Field(default=0, ge=0, le=10**12)
    limit: int | None = Field(default=None, ge=0, le=10**12)
    customer_id: int | None = None
    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None
    phone: str | None = None


class ContactRefArgs(_Args):
    contact_id: int


class UpdateContactArgs(ContactRefArgs):
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


class ListStaffArgs(_Args):
    staff_id: int | None = None


class AddContactArgs(_Args):
    customer_id: int
    firstname: str = ""
    lastname: str = ""
    email: str = ""
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


# ------------------------------------------------------------------ results


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class TicketPage(_Result):
    items: tuple[Ticket, ...]
    total: int
    offset: int = 0

    @property
    def returned(self) -> int:
        return len(self.items)


class NotePage(_Result):
    ticket: Ticket
    items: tuple[Note, ...]

    @property
    def total(self) -> int:
        return len(self.items)


class DepartmentStats(_Result):
    department: Department
    open_tickets: int = 0
    awaiting_reply: int = 0

    @property
    def id(self) -> int:
        return self.department.id

    @property
    def name(self) -> str:
        return self.department.name


class DepartmentPage(_Result):
    items: tuple[DepartmentStats, ...]

    @property
    def total(self) -> int:
        return len(self.items)


class StatusStats(_Result):
    status: StatusValue
    count: int = 0
    color: str = ""


class StatusPage(_Result):
    items: tuple[StatusStats, ...]

    @property
    def total(self) -> int:
        return len(self.items)


class TicketCounts(_Result):
    department_ids: tuple[int, ...] = ()
    all_active: int = 0
    awaiting_reply: int = 0
    flagged: int = 0
    by_status: tuple[StatusStats, ...] = ()


class CustomerPage(_Result):
    items: tuple[Customer, ...]
    total: int
    offset: int = 0

    @property
    def returned(self) -> int:
        return len(self.items)


class ContactPage(_Result):
    items: tuple[Contact, ...]
    total: int
    offset: int = 0

    @property
    def returned(self) -> int:
        return len(self.items)


class CustomerStats(_Result):
    """What the backend can count for one customer (billing figures are not the hub's)."""

    tickets: int = 0
    active_tickets: int = 0


class CustomerDetails(_Result):
    customer: Customer
    stats: CustomerStats | None = None  # only when asked for: counting reads every ticket

    @property
    def remote(self) -> RemoteData | None:
        """The customer's raw record: a same-vendor dialect may answer it as it came."""
        return self.customer.remote


class StaffPage(_Result):
    items: tuple[Staff, ...]

    @property
    def total(self) -> int:
        return len(self.items)


class Done(_Result):
    """A write that answers only with the id it touched."""

    id: int = 0
    ticket: Ticket | None = None


@dataclass(frozen=True)
class Operation:
    name: str
    args: type[BaseModel]
    writes: bool


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("get_ticket", GetTicketArgs, False),
        Operation("list_tickets", ListTicketsArgs, False),
        Operation("open_ticket", OpenTicketArgs, True),
        Operation("update_ticket", UpdateTicketArgs, True),
        Operation("delete_ticket", TicketRefArgs, True),
        Operation("add_reply", AddReplyArgs, True),
        Operation("add_note", AddNoteArgs, True),
        Operation("list_notes", TicketRefArgs, False),
        Operation("list_departments", DepartmentStatsArgs, False),
        Operation("list_statuses", DepartmentStatsArgs, False),
        Operation("ticket_counts", TicketCountsArgs, False),
        Operation("list_customers", ListCustomersArgs, False),
        Operation("get_customer", CustomerRefArgs, False),
        Operation("add_customer", NewCustomer, True),  # the canonical record as it is
        Operation("update_customer", UpdateCustomerArgs, True),
        Operation("delete_customer", CustomerRefArgs, True),
        Operation("list_contacts", ListContactsArgs, False),
        Operation("add_contact", AddContactArgs, True),
        Operation("customer_details", CustomerDetailsArgs, False),
        Operation("get_contact", ContactRefArgs, False),
        Operation("list_staff", ListStaffArgs, False),
        Operation("update_contact", UpdateContactArgs, True),
        Operation("delete_contact", ContactRefArgs, True),
    )
}
