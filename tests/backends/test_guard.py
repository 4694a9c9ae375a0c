"""The guard in front of a backend: read cache with single flight and write invalidation, and the breaker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from gateway import canonical as c
from gateway.backends.guard import CircuitBreaker, GuardedBackend
from gateway.errors import BackendUnavailable, NotFound
from gateway.metrics import Metrics


class CountingBackend:
    """A backend that answers from memory and counts what it was asked (the guard is under test)."""

    name = "counting"

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.customers = [c.Customer(id=1, company="Acme", email="a@example.org")]
        self.fail = False

    def _count(self, what: str) -> None:
        self.calls[what] = self.calls.get(what, 0) + 1
        if self.fail:
            raise BackendUnavailable("down")

    async def list_customers(self) -> Sequence[c.Customer]:
        await asyncio.sleep(0.05)  # slow enough for concurrent callers to overlap
        self._count("list_customers")
        return list(self.customers)

    async def get_customer(self, customer_id: int) -> c.Customer:
        self._count("get_customer")
        for cu in self.customers:
            if cu.id == customer_id:
                return cu
        raise NotFound("customer", "Client ID Not Found")

    async def update_customer(self, customer_id: int, patch: c.CustomerPatch) -> c.Customer:
        self._count("update_customer")
        updated = self.customers[0].model_copy(update=patch.model_dump(exclude_unset=True))
        self.customers = [updated]
        return updated

    async def get_ticket(self, ticket_id: int) -> c.Ticket:
        self._count("get_ticket")
        return c.Ticket(id=ticket_id)

    async def ping(self) -> None:
        self._count("ping")

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def guarded(backend: CountingBackend, ttl: float = 30, failures: int = 3, reset: float = 0.2) -> GuardedBackend:
    return GuardedBackend(backend, CircuitBreaker(failures, reset), ttl=ttl, size=16, metrics=Metrics())


async def test_concurrent_misses_make_one_backend_call() -> None:
    backend = CountingBackend()
    guard = guarded(backend)
    results = await asyncio.gather(*(guard.list_customers() for _ in range(20)))
    assert backend.calls["list_customers"] == 1
    assert all(r == results[0] for r in results)
    await guard.list_customers()
    assert backend.calls["list_customers"] == 1  # a hit


async def test_a_write_through_the_gateway_drops_what_it_changes() -> None:
    backend = CountingBackend()
    guard = guarded(backend)
    assert (await guard.get_customer(1)).company == "Acme"
    await guard.update_customer(1, c.CustomerPatch(company="Acme 2"))
    assert (await guard.get_customer(1)).company == "Acme 2"
    assert (await guard.list_customers())[0].company == "Acme 2"
    assert backend.calls["get_customer"] == 2


async def test_tickets_are_not_cached_unless_configured() -> None:
    backend = CountingBackend()
    guard = guarded(backend)
    await guard.get_ticket(1)
    await guard.get_ticket(1)
    assert backend.calls["get_ticket"] == 2


async def test_a_failed_lookup_is_not_cached_and_is_shared() -> None:
    backend = CountingBackend()
    backend.fail = True
    guard = guarded(backend, failures=100)
    outcomes = await asyncio.gather(*(guard.list_customers() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, BackendUnavailable) for o in outcomes)
    assert backend.calls["list_customers"] == 1
    backend.fail = False
    assert await guard.list_customers()
    assert backend.calls["list_customers"] == 2


async def test_breaker_opens_after_consecutive_failures_and_probes_after_reset() -> None:
    backend = CountingBackend()
    backend.fail = True
    guard = guarded(backend, ttl=0, failures=3, reset=0.2)
    for _ in range(3):
        with pytest.raises(BackendUnavailable):
            await guard.ping()
    assert guard.breaker.state == "open"
    with pytest.raises(BackendUnavailable, match="circuit breaker"):
        await guard.ping()
    assert backend.calls["ping"] == 3  # answered without calling
    backend.fail = False
    time.sleep(0.25)
    assert guard.breaker.state == "half-open"
    await guard.ping()  # the probe succeeds
    assert guard.breaker.state == "closed"


async def test_not_found_is_an_answer_not_a_failure() -> None:
    backend = CountingBackend()
    guard = guarded(backend, failures=1)
    for _ in range(3):
        with pytest.raises(NotFound):
            await guard.get_customer(99)
    assert guard.breaker.state == "closed"
