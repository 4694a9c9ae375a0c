"""Per-credential rate limiting: a token bucket per identifier (per replica)."""

from __future__ import annotations

import time

from cachetools import LRUCache

from gateway.errors import RateLimited


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(maxsize=10_000)

    def check(self, key: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited("Rate limit exceeded, retry later", retry_after=max(1.0, (1.0 - tokens) / self.rate))
        self._buckets[key] = (tokens - 1.0, now)
