"""Being polite to both helpdesks: a token bucket, and backoff on answers that say "later".

``Retry-After`` on a 429 is honoured by the adapters themselves; what reaches here as
:class:`RateLimited` carries the wait it asked for.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.errors import BackendTimeout, BackendUnavailable, RateLimited

T = TypeVar("T")

#: Errors after which the same read may simply be asked again.
TRANSIENT: tuple[type[Exception], ...] = (BackendUnavailable, BackendTimeout, RateLimited)


class TokenBucket:
    """``rate`` calls per second on average, bursts of ``burst``; rate 0 = no limit.

    Shared by all of a migration's workers: :meth:`hold` (a server's Retry-After, a backoff)
    pauses every one of them, not only the worker that was told to wait."""

    def __init__(self, rate: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.burst
        self._clock = clock
        self._last = clock()
        self._lock = asyncio.Lock()
        self._until = 0.0  # no call before this (clock time)

    def hold(self, seconds: float) -> None:
        """No call from any worker for ``seconds`` from now."""
        self._until = max(self._until, self._clock() + max(0.0, seconds))

    async def take(self) -> None:
        while (wait := self._until - self._clock()) > 0:
            await asyncio.sleep(wait)
        if self.rate <= 0:
            return
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter (attempt 0 is the first retry)."""
    return float(random.uniform(0, min(cap, base * (2**attempt))))


async def with_retries(
    call: Callable[[], Awaitable[T]], attempts: int = 4, on_wait: Callable[[float], None] | None = None
) -> T:
    """A read, asked again after transient failures with backoff (or the server's Retry-After);
    ``on_wait`` hears of each wait (the token bucket holds the other workers meanwhile)."""
    for attempt in range(attempts):
        try:
            return await call()
        except TRANSIENT as exc:
            if attempt == attempts - 1:
                raise
            wait = exc.retry_after if isinstance(exc, RateLimited) else backoff_delay(attempt)
            if on_wait is not None:
                on_wait(wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")
