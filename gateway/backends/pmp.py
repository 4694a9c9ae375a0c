"""The PMP backend: Perfex CRM's REST API module, spoken over HTTP.

Field knowledge (names, enum tables, dates, countries, which columns a write
must carry) lives in ``gateway/mappings/pmp/*.yaml``; this module holds the
HTTP, the module's quirks and the logic that works around them.

The quirks, and what the adapter does about them
-------------------------------------------------

* ``404`` means many things; only the message tells them apart.  A missing or
  wrong token (``Token is not defined.``, or any 401/403) is an authentication
  failure of the gateway, never "not found"; ``No data were found`` is an empty
  list or a missing record; a ``status: false`` answer to a write is the
  module's validation message, passed on (without markup) as invalid input.
* 5xx, HTML pages, non-JSON or truncated bodies and JSON of the wrong shape mean
  the backend is unavailable.  Reads are retried on connection errors and HTTP
  429/502/503/504 with capped, jittered exponential backoff (honouring
  ``Retry-After``) inside the request's deadline; writes never are.
* POSTs are form data (the module reads ``$_POST``); PUTs are JSON.
* ``PUT`` resets columns it is not sent (ticket priority/assigned, customer
  countries/currency, contact flags) and fails on unknown columns: the adapter
  reads the record, sends its current values of the real columns listed in the
  mapping settings and lays the change over them.  A PUT that changes nothing
  answers ``404 ... Update Fail.``: the adapter re-reads the record and counts
  the update done when the record already holds the values.
* The module has no routes for replies, notes or departments (see the methods).

Finding the record a create made
--------------------------------

``POST api/tickets`` (likewise ``api/customers`` and ``api/contacts``) answers
``{"status": true}`` with no id; newer module versions add ``record_id``, which
the adapter uses when present.  Otherwise it finds the new record itself:

1. Creates of one kind are serialised within the process (an asyncio lock),
   which narrows the window in which two creates can see each other's record.
2. Before posting, it notes the highest id the backend holds (``GET
   api/tickets``; tickets and customers: all of them, contacts: the customer's;
   none: 0).
3. It posts once.  A POST is never retried.
4. It lists the records again and takes, lowest id first, those above the
   noted maximum whose fields match what was sent (tickets: subject, customer,
   contact, department and message, compared without markup and extra
   whitespace; customers: company; contacts: email), and claims each in the
   gateway's store (``pmp-ticket``, ``pmp-customer``, ``pmp-contact``) until a
   claim succeeds.  A claim succeeds once per record, so two concurrent
   creates, even on two replicas sharing the store, never report the same one.
5. When the connection drops after the request was sent (the outcome is
   unknown), the adapter runs steps 2-4 before answering: a record found is the
   create's success; none found means the record was NOT created and the client
   is told so; when the backend cannot be asked, the client is told the outcome
   is unknown.  A POST gets all but a small reserve of the remaining deadline so
   that this check still fits inside it.

Updates and deletes whose connection drops are settled the same way: the
adapter re-reads the record and reports what it finds.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import orjson
from cachetools import LRUCache, TTLCache
from pydantic import ValidationError

from gateway.backends import http
from gateway.backends.base import Capabilities, Support, TicketHeader
from gateway.backends.pmp_lists import PMPLists
from gateway.canonical import (
    Contact,
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
    Staff,
    Status,
    StatusValue,
    Ticket,
    TicketPatch,
    Unmapped,
)
from gateway.errors import (
    BackendAuthError,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    GatewayError,
    InvalidInput,
    NotFound,
    Unsupported,
    WriteOutcomeUnknown,
)
from gateway.mapping.dates import DateFormatError
from gateway.mapping.loader import VendorMappings
from gateway.store import Store

log = logging.getLogger(__name__)

VENDOR = "pmp"
AUTH_MESSAGE = "The backend refused the gateway's credentials"
UNAVAILABLE = "The backend is unavailable"
_TOKEN_FAILURE = re.compile(r"\btoken\b.*\b(not defined|invalid|expired|missing|required)\b", re.I)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_DATA_ERRORS = (ValueError, TypeError, KeyError, DateFormatError, ValidationError)

Row = dict[str, Any]
T = TypeVar("T")


# ---------------------------------------------------------------- answers


@dataclass(frozen=True)
class _Refused:
    """A ``status: false`` answer (not an authentication failure)."""

    status: int
    message: str


class _WriteRefused(InvalidInput):
    """The backend refused a write; ``raw`` is its message as sent."""

    def __init__(self, status: int, raw: str) -> None:
        super().__init__(_clean(raw) or "The backend refused the change")
        self.status = status
        self.raw = raw


class _Unsettled(BackendError):
    """A write got no answer; ``sent``: the request may have reached the backend."""

    def __init__(self, detail: str, *, sent: bool, timeout: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.sent = sent
        self.timeout = timeout


def _clean(message: Any) -> str:
    """A backend message fit for a client: no markup, one line, bounded."""
    text = html.unescape(_TAG.sub(" ", str(message or "")))
    return _SPACE.sub(" ", text).strip()[:300]


def _plain(value: Any) -> str:
    """Text compared as the backend may have stored it (tags stripped, <br /> added, trimmed)."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", "" if value is None else str(value)))).strip()


def _same(stored: Any, wanted: Any) -> bool:
    a = "" if stored is None else str(stored).strip()
    b = "" if wanted is None else str(wanted).strip()
    if a == b:
        return True
    if re.fullmatch(r"-?\d+", a or "0") and re.fullmatch(r"-?\d+", b or "0"):
        return int(a or 0) == int(b or 0)
    return _plain(a) == _plain(b)


def _int(value: Any) -> int:
    try:
        return int(str(value).strip()) if value not in (None, "") else 0
    except ValueError:
        return 0


def _unavailable(detail: str) -> BackendUnavailable:
    return BackendUnavailable(f"{UNAVAILABLE} ({detail})")


def _with_message(exc: GatewayError, message: str) -> GatewayError:
    """The same error (class and attributes) with another message."""
    out = type(exc).__new__(type(exc))
    out.__dict__.update(exc.__dict__)
    out.message = message
    out.args = (message,)
    return out


@dataclass(frozen=True)
class _Creation:
    """How to post one kind of record and find it again (see the module docstring)."""

    noun: str
    claim_kind: str
    post_path: str
    id_key: str
    listing: Callable[[], Awaitable[list[Row]]]
    matches: Callable[[Row], bool]


# ---------------------------------------------------------------- backend


class PMPBackend:
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
        departments: Sequence[Department] | None = None,
        retries: int | None = None,
    ) -> None:
        self._base = base_url if base_url.endswith("/") else base_url + "/"
        self._headers = {"authtoken": token, "Accept": "application/json"}
        self._m = mappings
        self._store = store
        self._session = session
        self._connect_timeout = connect_timeout
        s = mappings.settings
        self._settings = s
        configured = s.get("departments")
        self._departments: tuple[Department, ...] | None = (
            tuple(departments)
            if departments
            else tuple(Department(id=int(d["id"]), name=str(d["name"])) for d in configured)
            if configured
            else None
        )
        self._attempts = max(1, retries + 1 if retries is not None else int(s.get("read_attempts", 3)))
        self._backoff = float(s.get("retry_backoff_seconds", 0.2))
        self._backoff_cap = float(s.get("retry_backoff_max_seconds", 2.0))
        self._find_reserve = float(s.get("find_reserve_seconds", 2.0))
        self._fetch_limit = asyncio.Semaphore(max(1, int(s.get("contact_fetch_concurrency", 8))))
        ttl = float(s.get("contacts_cache_seconds", 10))
        self._contacts_cache: TTLCache[int, tuple[Contact, ...]] | None = (
            TTLCache(maxsize=4096, ttl=ttl) if ttl > 0 else None
        )
        # path -> (the body last answered, what it converted to); see _read_memo
        self._memo: LRUCache[str, tuple[bytes, Any]] = LRUCache(maxsize=int(s.get("read_memo_size", 1024)))
        self._locks = {"ticket": asyncio.Lock(), "customer": asyncio.Lock(), "contact": asyncio.Lock()}
        countries = s.get("countries") or {}
        self._country_iso = {str(k): str(v).upper() for k, v in countries.items()}
        self._country_id = {iso: pid for pid, iso in self._country_iso.items()}
        self._blank: dict[str, Row] = {
            "ticket_patch": self._m.model("ticket_patch")(TicketPatch()),
            "customer_patch": self._m.model("customer_patch")(CustomerPatch()),
            "customer_contact_patch": self._m.model("customer_contact_patch")(CustomerPatch()),
        }
        self._lists = PMPLists(self)

    def __repr__(self) -> str:  # never shows the token
        return f"PMPBackend({self._base!r})"

    # ============================================================ HTTP

    def _url(self, path: str) -> str:
        return self._base + path

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        body: Any = None,
        reserve: float = 0.0,
    ) -> http.Reply:
        reply = await http.attempt(
            self._session,
            method,
            self._url(path),
            headers=self._headers,
            connect_timeout=self._connect_timeout,
            reserve=reserve,
            data=aiohttp.FormData(list(form.items()), charset="utf-8") if form is not None else None,
            json_body=body,
        )
        log.debug("pmp %s %s -> %s", method, path, reply.status)
        return reply

    async def _read(self, path: str) -> Any:
        """GET with retries; the JSON answer, or a _Refused for a ``status: false`` one."""
        return self._interpret(await self._fetch(path))

    async def _read_memo(self, path: str, convert: Callable[[Any], T]) -> T:
        """A read whose conversion is reused while the backend answers the very same bytes.

        Polling clients read mostly unchanged records: comparing the body (a memcmp) is far
        cheaper than decoding and mapping it again.  Canonical records are immutable."""
        reply = await self._fetch(path)
        hit = self._memo.get(path)
        if hit is not None and reply.status == 200 and hit[0] == reply.body:
            value: T = hit[1]
            return value
        value = convert(self._interpret(reply))
        if reply.status == 200:
            self._memo[path] = (reply.body, value)
        return value

    async def _fetch(self, path: str) -> http.Reply:
        """GET with retries on connection errors and 429/502/503/504, within the deadline."""
        tries = 0
        while True:
            try:
                reply = await self._exchange("GET", path)
            except http.TransportError as exc:
                tries += 1
                if tries < self._attempts and await http.pause(self._backoff_for(tries)):
                    continue
                if exc.timeout:
                    raise BackendTimeout(http.TIMEOUT_MESSAGE) from None
                raise _unavailable(exc.detail) from None
            if reply.status in http.RETRYABLE_STATUS:
                tries += 1
                asked = http.retry_after(reply.headers)
                wait = asked if asked is not None else self._backoff_for(tries)
                if tries < self._attempts and await http.pause(wait):
                    continue
            return reply

    def _backoff_for(self, tries: int) -> float:
        return http.backoff(tries - 1, self._backoff, self._backoff_cap)

    def _interpret(self, reply: http.Reply) -> Any:
        data = _json(reply.body)
        if reply.status in (401, 403):
            raise BackendAuthError(AUTH_MESSAGE)
        if isinstance(data, dict) and _is_false(data.get("status")):
            message = str(data.get("message") or "")
            if _TOKEN_FAILURE.search(message):
                raise BackendAuthError(AUTH_MESSAGE)
        if reply.status == 429:
            raise _unavailable("rate limited")
        if reply.status >= 500:
            raise _unavailable(f"HTTP {reply.status}")
        if 300 <= reply.status < 400:
            raise _unavailable(f"HTTP {reply.status} redirect: check the backend URL")
        if data is _NOT_JSON:
            raise _unavailable(f"HTTP {reply.status}, the answer is not JSON")
        if 200 <= reply.status < 300 and not (isinstance(data, dict) and _is_false(data.get("status"))):
            return data
        if isinstance(data, dict) and _is_false(data.get("status")):
            return _Refused(reply.status, str(data.get("message") or ""))
        raise _unavailable(f"unexpected HTTP {reply.status}")

    async def _write(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        body: Any = None,
        reserve: float = 0.0,
    ) -> Row:
        """One write, never retried: the answer, _WriteRefused, or _Unsettled when its outcome is open."""
        try:
            reply = await self._exchange(method, path, form=form, body=body, reserve=reserve)
        except http.TransportError as exc:
            raise _Unsettled(exc.detail, sent=exc.sent, timeout=exc.timeout) from None
        if reply.status >= 500:
            # a proxy's 502/504 or a PHP error after the insert: the write may have happened
            raise _Unsettled(f"HTTP {reply.status}", sent=True, timeout=False)
        answer = self._interpret(reply)
        if isinstance(answer, _Refused):
            raise _WriteRefused(answer.status, answer.message)
        if not isinstance(answer, dict):
            raise _unavailable("the answer to a write has the wrong shape")
        return answer

    def _reserve(self) -> float:
        """What a write keeps back from its deadline to settle an unknown outcome."""
        left = http.remaining()
        return min(self._find_reserve, left * 0.25)

    async def _rows(self, path: str) -> list[Row]:
        """A list route: its rows, [] for ``No data were found``."""
        return self._rows_of(await self._read(path))

    def _rows_of(self, data: Any) -> list[Row]:
        if isinstance(data, _Refused):
            if data.status == 404:
                return []
            raise _unavailable(f"HTTP {data.status}")
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise _unavailable("a list answer has the wrong shape")
        return data

    async def _row(self, path: str, kind: str, missing: str, id_key: str) -> Row:
        """A single-record route: its row, NotFound for a 404."""
        return self._row_of(await self._read(path), kind, missing, id_key)

    def _row_of(self, data: Any, kind: str, missing: str, id_key: str) -> Row:
        if isinstance(data, _Refused):
            if data.status == 404:
                raise NotFound(kind, missing)
            raise _unavailable(f"HTTP {data.status}")
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict) or id_key not in data:
            raise _unavailable(f"the {kind} answer has the wrong shape")
        return data

    def _parse(self, model: str, source: Any, target: type[Any]) -> Any:
        try:
            return target.model_validate(self._m.model(model)(source))
        except _DATA_ERRORS as exc:
            log.warning("pmp %s record not understood: %s", model, type(exc).__name__)
            raise _unavailable(f"a {model} record has the wrong shape") from None

    # ============================================================ health

    async def ping(self) -> None:
        data = await self._read("api/tickets/0")
        if isinstance(data, _Refused) and data.status != 404:
            raise _unavailable(f"HTTP {data.status}")

    async def close(self) -> None:
        """Nothing to release: the HTTP session belongs to the app."""

    # ============================================================ capabilities

    def capabilities(self) -> Capabilities:
        return Capabilities(
            kind=VENDOR,
            generation="2",
            features={
                "paging": "no",
                "record_ids": "no",
                "idempotent_creates": "no",
                "staff": "no",
                "notes": "no",
                "replies": "no",
                "departments": "read-only" if self._departments is not None else "no",
            },
        )

    async def discover(self) -> Capabilities:
        return self.capabilities()

    def support(self, operation: str) -> Support:
        if operation in ("add_reply", "add_note"):
            return ("refused", ("the backend has no API for ticket replies and notes",))
        return ("full", ())

    async def list_staff(self) -> Sequence[Staff]:
        return []

    # ============================================================ tickets

    async def _ticket_row(self, ticket_id: int) -> Row:
        return await self._row(f"api/tickets/{ticket_id}", "ticket", "Ticket ID Not Found", "ticketid")

    def _ticket(self, row: Row) -> Ticket:
        ticket: Ticket = self._parse("ticket", row, Ticket)
        return ticket

    async def get_ticket(self, ticket_id: int) -> Ticket:
        if ticket_id <= 0:
            raise NotFound("ticket", "Ticket ID Not Found")
        return await self._read_memo(
            f"api/tickets/{ticket_id}",
            lambda data: self._ticket(self._row_of(data, "ticket", "Ticket ID Not Found", "ticketid")),
        )

    async def list_tickets(self) -> Sequence[Ticket]:
        # not memoised: a whole table's body and records would stay in memory (issue 11)
        return [self._ticket(row) for row in await self._rows("api/tickets")]

    async def ticket_headers(self) -> Sequence[TicketHeader]:
        return await self._lists.headers()

    async def ticket_page(
        self, offset: int, limit: int, order_by: str | None, descending: bool
    ) -> tuple[Sequence[Ticket], int] | None:
        return await self._lists.page(offset, limit, order_by, descending)

    async def open_ticket(self, new: NewTicket) -> Ticket:
        if new.customer_id and not new.contact_id:
            # the module requires a contact; a customer's ticket goes to its primary contact
            primary = _primary(await self._contacts(new.customer_id))
            if primary is not None:
                new = new.model_copy(update={"contact_id": primary.id})
        form = _form(self._m.model("ticket_form")(new))
        creation = _Creation(
            noun="ticket",
            claim_kind="pmp-ticket",
            post_path="api/tickets",
            id_key="ticketid",
            # streamed and cut to what matching needs: never the whole table in memory (issue 11)
            listing=lambda: self._lists.ticket_rows(("ticketid", *_TICKET_IDS, "subject", "message")),
            matches=lambda row: _ticket_matches(row, form),
        )
        async with self._locks["ticket"]:
            ticket_id = await self._create(creation, form)
        row = await self._ticket_row(ticket_id)
        followup = self._ticket_followup(new, row)
        if followup:
            try:
                await self._put_ticket(ticket_id, row, followup)
            except GatewayError as exc:
                # The ticket exists: failing now would make the client open it twice.
                log.warning("pmp ticket %s created, follow-up update failed: %s", ticket_id, exc.message)
            else:
                row = await self._ticket_row(ticket_id)
        return self._ticket(row)

    def _ticket_followup(self, new: NewTicket, row: Row) -> Row:
        rendered = self._m.model("ticket_followup")(new)
        out = {k: v for k, v in rendered.items() if v not in (None, "")}
        if new.contact_id:
            out.pop("name", None)
            out.pop("email", None)
        if new.status is None or _same(row.get("status"), out.get("status")):
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

        await self._put(f"api/tickets/{ticket_id}", body, changes, reread, "ticket")

    async def delete_ticket(self, ticket_id: int) -> None:
        await self._delete(
            f"api/delete/tickets/{ticket_id}",
            NotFound("ticket", "Ticket ID not found"),
            lambda: self._exists(f"api/tickets/{ticket_id}"),
            "ticket",
        )

    async def add_reply(self, ticket_id: int, reply: NewReply) -> None:
        raise Unsupported("The backend (PMP) has no API for ticket replies; nothing was written")

    async def add_note(self, ticket_id: int, note: NewNote) -> None:
        raise Unsupported("The backend (PMP) has no API for ticket notes; nothing was written")

    async def list_notes(self, ticket_id: int) -> Sequence[Note]:
        return []  # the module exposes no notes

    async def list_departments(self) -> Sequence[Department]:
        if self._departments is not None:
            return list(self._departments)
        found: dict[int, Department] = {}
        for ticket in await self.list_tickets():
            if ticket.department is not None and ticket.department.id:
                found.setdefault(ticket.department.id, ticket.department)
        return sorted(found.values(), key=lambda d: d.id)

    def departments_known(self) -> bool:
        return self._departments is not None

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
        rows = await self._rows("api/customers")

        async def one(row: Row) -> Customer:
            async with self._fetch_limit:
                contacts = await self._contacts(_int(row.get("userid")))
            return self._customer(row, contacts)

        return list(await asyncio.gather(*(one(r) for r in rows)))

    async def get_customer(self, customer_id: int) -> Customer:
        row = await self._customer_row(customer_id)
        return self._customer(row, await self._contacts(customer_id))

    async def _customer_row(self, customer_id: int) -> Row:
        if customer_id <= 0:
            raise NotFound("customer", "Client ID Not Found")
        # the document's example here shows a project object by mistake: the client row has userid
        return await self._row(f"api/customers/{customer_id}", "customer", "Client ID Not Found", "userid")

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
        form = _form(self._m.model("customer_form")(new))
        if not form.get("company", "").strip():
            form["company"] = f"{new.firstname} {new.lastname}".strip()
        self._country_field(form)
        company = form["company"]
        creation = _Creation(
            noun="customer",
            claim_kind="pmp-customer",
            post_path="api/customers",
            id_key="userid",
            listing=lambda: self._rows("api/customers"),
            matches=lambda row: _plain(row.get("company")) == _plain(company),
        )
        async with self._locks["customer"]:
            customer_id = await self._create(creation, form)
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
        return await self.get_customer(customer_id)

    async def _undo_customer(self, customer_id: int, cause: GatewayError) -> GatewayError:
        """Delete a customer whose primary contact failed; the error to raise says how that went."""
        try:
            await self._write("DELETE", f"api/delete/customers/{customer_id}")
        except GatewayError as undo:
            log.error("pmp customer %s left behind: its contact failed and the undo failed", customer_id)
            return _with_message(
                cause,
                f"{cause.message}; the customer record {customer_id} was created but could not be "
                f"removed again ({undo.message})",
            )
        finally:
            self._forget(customer_id)
        return _with_message(cause, f"{cause.message} (the customer was not created)")

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

            await self._put(f"api/customers/{customer_id}", body, changes, reread, "client")
        if contact_changes and primary is not None:
            await self._update_contact(primary.id, contact_changes)
        self._forget(customer_id)
        return await self.get_customer(customer_id)

    async def delete_customer(self, customer_id: int) -> None:
        try:
            await self._delete(
                f"api/delete/customers/{customer_id}",
                NotFound("customer", "Client ID Not Found"),
                lambda: self._exists(f"api/customers/{customer_id}"),
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
        if cache is not None and customer_id in cache:
            return cache[customer_id]
        rows = await self._rows(f"api/contacts/{customer_id}") if customer_id > 0 else []
        contacts = tuple(self._contact(r) for r in rows)
        if cache is not None:
            cache[customer_id] = contacts
        return contacts

    def _forget(self, customer_id: int) -> None:
        if self._contacts_cache is not None:
            self._contacts_cache.pop(customer_id, None)

    def _contact(self, row: Row) -> Contact:
        contact: Contact = self._parse("contact", row, Contact)
        return contact

    async def list_contacts(self, customer_id: int) -> Sequence[Contact]:
        return list(await self._contacts(customer_id))

    async def _contact_row(self, contact_id: int) -> Row:
        if contact_id <= 0:
            raise NotFound("contact", "Contact ID Not Found")
        # the customer id in this path is not checked by the module
        return await self._row(f"api/contacts/0/{contact_id}", "contact", "Contact ID Not Found", "id")

    async def get_contact(self, contact_id: int) -> Contact:
        return self._contact(await self._contact_row(contact_id))

    async def add_contact(self, new: NewContact) -> Contact:
        return await self.get_contact(await self._add_contact(new))

    async def _add_contact(self, new: NewContact) -> int:
        form = _form(self._m.model("contact_form")(new))
        if not form.get("password"):
            form.pop("password", None)
            form["send_set_password_email"] = "on"
        email = form.get("email", "").strip().casefold()
        creation = _Creation(
            noun="contact",
            claim_kind="pmp-contact",
            post_path="api/contacts",
            id_key="id",
            listing=lambda: self._rows(f"api/contacts/{new.customer_id}"),
            matches=lambda row: str(row.get("email") or "").strip().casefold() == email,
        )
        try:
            async with self._locks["contact"]:
                return await self._create(creation, form)
        finally:
            self._forget(new.customer_id)

    async def _update_contact(self, contact_id: int, changes: Row) -> None:
        row = await self._contact_row(contact_id)
        body = {k: row.get(k) for k in self._settings.get("contact_update_columns") or () if k in row}
        body.update(changes)

        async def reread() -> Row:
            return await self._contact_row(contact_id)

        await self._put(f"api/contacts/{contact_id}", body, changes, reread, "contact")

    # ============================================================ write helpers

    def _changes(self, model: str, patch: Any) -> Row:
        """The columns a patch changes: those rendering differently from an empty patch."""
        rendered = self._m.model(model)(patch)
        blank = self._blank[model]
        return {k: v for k, v in rendered.items() if v != blank.get(k)}

    async def _create(self, spec: _Creation, form: dict[str, str]) -> int:
        """POST once and name the record it made (see "Finding the record a create made")."""
        before = max((_int(r.get(spec.id_key)) for r in await spec.listing()), default=0)
        try:
            answer = await self._write("POST", spec.post_path, form=form, reserve=self._reserve())
        except _Unsettled as exc:
            if not exc.sent:
                raise _unavailable(f"{exc.detail}; the {spec.noun} was NOT created") from None
            try:
                found = await self._find(spec, before)
            except BackendError:
                raise WriteOutcomeUnknown(
                    f"The connection to the backend dropped while creating the {spec.noun} and the gateway "
                    f"could not check whether it was created: check before trying again"
                ) from None
            if found is None:
                raise _unavailable(f"the connection dropped; the {spec.noun} was NOT created") from None
            log.info("pmp %s %s created although the connection dropped", spec.noun, found)
            return found
        record = _int(answer.get("record_id"))
        if record > 0:
            await self._store.claim(spec.claim_kind, record)
            return record
        found = await self._find(spec, before)
        if found is None:
            raise WriteOutcomeUnknown(
                f"The backend accepted the {spec.noun} but the gateway could not find the new record"
            )
        return found

    async def _find(self, spec: _Creation, before: int) -> int | None:
        ids = ((_int(r.get(spec.id_key)), r) for r in await spec.listing())
        candidates = sorted(record_id for record_id, r in ids if record_id > before and spec.matches(r))
        for candidate in candidates:
            if await self._store.claim(spec.claim_kind, candidate):
                return candidate
        return None

    async def _put(self, path: str, body: Row, changes: Row, reread: Callable[[], Awaitable[Row]], noun: str) -> None:
        """PUT the merged record; settle "nothing changed" and dropped connections by re-reading."""

        async def holds() -> bool:
            current = await reread()
            return all(_same(current.get(k), v) for k, v in changes.items())

        try:
            await self._write("PUT", path, body=body, reserve=self._reserve())
        except _WriteRefused as exc:
            # "Update Fail." also answers an update that changed nothing
            if exc.status == 404 and await holds():
                return
            raise
        except _Unsettled as exc:
            if not exc.sent:
                raise _unavailable(f"{exc.detail}; the {noun} was NOT changed") from None
            try:
                done = await holds()
            except BackendError:
                raise WriteOutcomeUnknown(
                    f"The connection to the backend dropped while changing the {noun} and the gateway could "
                    f"not check whether the change was made"
                ) from None
            if not done:
                raise _unavailable(f"the connection dropped; the {noun} was NOT changed") from None

    async def _delete(self, path: str, missing: NotFound, exists: Callable[[], Awaitable[bool]], noun: str) -> None:
        try:
            await self._write("DELETE", path, reserve=self._reserve())
        except _WriteRefused as exc:
            if exc.status == 404:
                raise missing from None
            raise
        except _Unsettled as exc:
            if not exc.sent:
                raise _unavailable(f"{exc.detail}; the {noun} was NOT deleted") from None
            try:
                gone = not await exists()
            except BackendError:
                raise WriteOutcomeUnknown(
                    f"The connection to the backend dropped while deleting the {noun} and the gateway could "
                    f"not check whether it was deleted"
                ) from None
            if not gone:
                raise _unavailable(f"the connection dropped; the {noun} was NOT deleted") from None

    async def _exists(self, path: str) -> bool:
        data = await self._read(path)
        if isinstance(data, _Refused):
            if data.status == 404:
                return False
            raise _unavailable(f"HTTP {data.status}")
        return True


# ---------------------------------------------------------------- helpers

_NOT_JSON = object()


def _json(body: bytes) -> Any:
    text = body.lstrip(b"\xef\xbb\xbf").strip()
    if not text:
        return _NOT_JSON
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in ("false", "0"))


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
    if any(_int(row.get(k)) != _int(form.get(k)) for k in _TICKET_IDS):
        return False
    return _plain(row.get("subject")) == _plain(form.get("subject")) and _plain(row.get("message")) == _plain(
        form.get("message")
    )
