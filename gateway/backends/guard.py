"""What sits in front of any backend: a circuit breaker and a read cache.

* The breaker opens after ``failures`` consecutive backend failures
  (unavailable, timeout) and then answers at once with BackendUnavailable
  instead of making clients wait on a dead backend; after ``reset`` seconds one
  probe is let through (half-open) and its outcome closes or re-opens it.
  ``/readyz`` reports it.
* The cache (cachetools TTL + size bound, per replica) holds lookups that
  change rarely: customers, single contacts, departments (tickets only when
  configured).  Concurrent misses for one key share one backend call (single
  flight), and every write through the gateway drops what it changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from cachetools import TTLCache

from gateway.backends.base import Backend, BackendDefaults, Capabilities, Support, TicketHeader
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
    Staff,
    StatusValue,
    Ticket,
    TicketPatch,
)
from gateway.errors import BackendTimeout, BackendUnavailable, WriteOutcomeUnknown
from gateway.metrics import Metrics

T = TypeVar("T")
_FAILURES = (BackendUnavailable, BackendTimeout, WriteOutcomeUnknown)


class CircuitBreaker:
    def __init__(self, failures: int, reset: float, metrics: Metrics | None = None) -> None:
        self.threshold = failures
        self.reset = reset
        self.metrics = metrics
        self.consecutive = 0
        self.opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if time.monotonic() - self.opened_at >= self.reset else "open"

    def before(self) -> None:
        state = self.state
        if state == "open" or (state == "half-open" and self._probing):
            raise BackendUnavailable("The backend is unavailable (circuit breaker open), please retry later")
        if state == "half-open":
            self._probing = True

    def success(self) -> None:
        self.consecutive = 0
        self._probing = False
        if self.opened_at is not None:
            self.opened_at = None
            self._gauge(0)

    def failure(self) -> None:
        self.consecutive += 1
        self._probing = False
        if self.opened_at is not None or self.consecutive >= self.threshold:
            self.opened_at = time.monotonic()
            self._gauge(1)

    def _gauge(self, value: int) -> None:
        if self.metrics is not None:
            self.metrics.breaker.set(value)


class GuardedBackend(BackendDefaults):
    """A Backend wrapped with the breaker and the cache; same protocol."""

    def __init__(
        self,
        inner: Backend,
        breaker: CircuitBreaker,
        *,
        ttl: float,
        size: int,
        cache_tickets: bool = False,
        metrics: Metrics | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.breaker = breaker
        self.metrics = metrics
        self.cache_tickets = cache_tickets
        self._cache: TTLCache[tuple[Any, ...], Any] | None = TTLCache(maxsize=size, ttl=ttl) if ttl > 0 else None
        self._flights: dict[tuple[Any, ...], asyncio.Future[Any]] = {}

    # -- plumbing -------------------------------------------------------------

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        self.breaker.before()
        try:
            result = await fn()
        except _FAILURES:
            self.breaker.failure()
            raise
        except BaseException:
            self.breaker.success()  # the backend answered (not found, invalid, ...)
            raise
        self.breaker.success()
        return result

    async def _cached(self, key: tuple[Any, ...], fn: Callable[[], Awaitable[T]]) -> T:
        if self._cache is None:
            return await self._call(fn)
        if key in self._cache:
            self._count(key[0], "hit")
            value: T = self._cache[key]
            return value
        flight = self._flights.get(key)
        if flight is not None:
            self._count(key[0], "shared")
            shared: T = await asyncio.shield(flight)
            return shared
        self._count(key[0], "miss")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._flights[key] = future
        try:
            value = await self._call(fn)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody shared it
            raise
        finally:
            self._flights.pop(key, None)
        self._cache[key] = value
        future.set_result(value)
        return value

    def _count(self, cache: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.cache.labels(cache, outcome).inc()

    async def _write(self, fn: Callable[[], Awaitable[T]], *kinds: str) -> T:
        """A write through the breaker; the cached reads of ``kinds`` are dropped whatever its outcome
        (an unknown outcome may still have changed them)."""
        try:
            return await self._call(fn)
        finally:
            self._drop(*kinds)

    def _drop(self, *kinds: str) -> None:
        if self._cache is None:
            return
        for key in [k for k in self._cache if k[0] in kinds]:
            self._cache.pop(key, None)

    # -- Backend ----------------------------------------------------------------

    async def ping(self) -> None:
        await self._call(self.inner.ping)

    async def get_ticket(self, ticket_id: int) -> Ticket:
        if self.cache_tickets:
            return await self._cached(("ticket", ticket_id), lambda: self.inner.get_ticket(ticket_id))
        # ``_call`` inlined: the busiest read spares a closure and a coroutine layer
        self.breaker.before()
        try:
            ticket = await self.inner.get_ticket(ticket_id)
        except _FAILURES:
            self.breaker.failure()
            raise
        except BaseException:
            self.breaker.success()  # the backend answered (not found, invalid, ...)
            raise
        self.breaker.success()
        return ticket

    def fuse_ticket_render(self, render: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
        """The inner backend's; None when the tickets are cached here (a fused answer has no
        Ticket to cache)."""
        return None if self.cache_tickets else self.inner.fuse_ticket_render(render)

    async def get_ticket_fused(self, ticket_id: int, fused: Callable[[Any], Any]) -> Ticket | dict[str, Any]:
        """The inner backend's, through the breaker as :meth:`get_ticket` goes."""
        self.breaker.before()
        try:
            out = await self.inner.get_ticket_fused(ticket_id, fused)
        except _FAILURES:
            self.breaker.failure()
            raise
        except BaseException:
            self.breaker.success()  # the backend answered (not found, invalid, ...)
            raise
        self.breaker.success()
        return out

    async def ticket_summary(self, ticket_id: int) -> Ticket:
        """The ticket without its conversation where the backend can read it so (a list page)."""
        return await self._call(lambda: self.inner.ticket_summary(ticket_id))

    async def with_replies(self, tickets: Sequence[Ticket]) -> list[Ticket]:
        return await self._call(lambda: self.inner.with_replies(tickets))

    async def ticket_id_for(self, number: str) -> int | None:
        return await self._call(lambda: self.inner.ticket_id_for(number))

    async def resolve_number(self, number: str) -> int | None:
        return await self._call(lambda: self.inner.resolve_number(number))

    async def flagged_tickets(self) -> int:
        return await self._call(self.inner.flagged_tickets)

    async def list_tickets(self) -> Sequence[Ticket]:
        if self.cache_tickets:
            return await self._cached(("tickets",), self.inner.list_tickets)
        return await self._call(self.inner.list_tickets)

    async def ticket_headers(self) -> Sequence[TicketHeader]:
        return await self._call(self.inner.ticket_headers)

    async def ticket_header_chunks(self) -> AsyncIterator[Sequence[TicketHeader]]:
        """The inner backend's headers a chunk at a time where it reads them so (else all in one),
        counted by the breaker as one call."""
        chunks = getattr(self.inner, "ticket_header_chunks", None)
        if chunks is None:
            yield await self._call(self.inner.ticket_headers)
            return
        self.breaker.before()
        try:
            async for chunk in chunks():
                yield chunk
        except _FAILURES:
            self.breaker.failure()
            raise
        except BaseException:
            self.breaker.success()  # the backend answered (or the reader stopped)
            raise
        self.breaker.success()

    async def ticket_page(
        self, offset: int, limit: int, order_by: str | None, descending: bool
    ) -> tuple[Sequence[Ticket], int] | None:
        return await self._call(lambda: self.inner.ticket_page(offset, limit, order_by, descending))

    async def open_ticket(self, new: NewTicket) -> Ticket:
        return await self._write(lambda: self.inner.open_ticket(new), "tickets", "departments")

    async def update_ticket(self, ticket_id: int, patch: TicketPatch) -> Ticket:
        return await self._write(lambda: self.inner.update_ticket(ticket_id, patch), "ticket", "tickets", "departments")

    async def delete_ticket(self, ticket_id: int) -> None:
        await self._write(lambda: self.inner.delete_ticket(ticket_id), "ticket", "tickets", "departments")

    async def add_reply(self, ticket_id: int, reply: NewReply) -> None:
        await self._write(lambda: self.inner.add_reply(ticket_id, reply), "ticket", "tickets")

    async def add_note(self, ticket_id: int, note: NewNote) -> None:
        await self._write(lambda: self.inner.add_note(ticket_id, note), "ticket")

    async def list_notes(self, ticket_id: int) -> Sequence[Note]:
        return await self._call(lambda: self.inner.list_notes(ticket_id))

    async def list_departments(self) -> Sequence[Department]:
        return await self._cached(("departments",), self.inner.list_departments)

    def departments_known(self) -> bool:
        return self.inner.departments_known()

    def statuses(self) -> Sequence[tuple[StatusValue, str]]:
        return self.inner.statuses()

    async def list_customers(self) -> Sequence[Customer]:
        return await self._cached(("customers",), self.inner.list_customers)

    async def get_customer(self, customer_id: int) -> Customer:
        return await self._cached(("customer", customer_id), lambda: self.inner.get_customer(customer_id))

    async def add_customer(self, new: NewCustomer) -> Customer:
        return await self._write(lambda: self.inner.add_customer(new), "customers", "customer", "contacts")

    async def update_customer(self, customer_id: int, patch: CustomerPatch) -> Customer:
        return await self._write(
            lambda: self.inner.update_customer(customer_id, patch), "customers", "customer", "contacts", "contact"
        )

    async def delete_customer(self, customer_id: int) -> None:
        await self._write(
            lambda: self.inner.delete_customer(customer_id),
            "customers",
            "customer",
            "contacts",
            "contact",
            "tickets",
            "ticket",
        )

    async def list_contacts(self, customer_id: int) -> Sequence[Contact]:
        # not cached here: the adapter keeps the one contacts cache, invalidated where it writes
        return await self._call(lambda: self.inner.list_contacts(customer_id))

    async def get_contact(self, contact_id: int) -> Contact:
        return await self._cached(("contact", contact_id), lambda: self.inner.get_contact(contact_id))

    async def add_contact(self, new: NewContact) -> Contact:
        return await self._write(lambda: self.inner.add_contact(new), "contacts", "contact", "customers", "customer")

    async def update_contact(self, contact_id: int, patch: ContactPatch) -> Contact:
        return await self._write(
            lambda: self.inner.update_contact(contact_id, patch), "contacts", "contact", "customers", "customer"
        )

    async def delete_contact(self, contact_id: int) -> None:
        await self._write(lambda: self.inner.delete_contact(contact_id), "contacts", "contact", "customers", "customer")

    async def add_department(self, name: str) -> Department:
        return await self._write(lambda: self.inner.add_department(name), "departments")

    async def list_staff(self) -> Sequence[Staff]:
        return await self._cached(("staff",), lambda: self._call(self.inner.list_staff))

    async def discover(self) -> Capabilities:
        return await self._call(self.inner.discover)

    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    def support(self, operation: str) -> Support:
        return self.inner.support(operation)

    async def close(self) -> None:
        await self.inner.close()
