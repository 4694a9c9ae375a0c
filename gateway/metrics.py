"""Prometheus metrics, one registry per app (tests build many apps in one process).

With ``--workers N`` the parent sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers
start: each worker writes its values to files there, and a scrape of any worker
renders all of them summed, so counters never go backwards between scrapes.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # label children looked up once: labels() takes a lock and builds a key per call
        self._request_children: dict[tuple[str, str, str], Any] = {}
        self._latency_children: dict[str, Any] = {}
        self._backend_children: dict[tuple[str, int], Any] = {}
        self.requests = Counter(
            "gateway_requests_total",
            "Client requests",
            ["dialect", "action", "result"],
            registry=self.registry,
        )
        self.errors = Counter(
            "gateway_errors_total",
            "Client-visible errors by public kind (auth, not_found, invalid_input, unavailable, ...)",
            ["dialect", "action", "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gateway_request_seconds", "Client request latency", ["dialect"], registry=self.registry
        )
        self.backend_latency = Histogram(
            "gateway_backend_seconds", "Backend call latency", ["method", "status"], registry=self.registry
        )
        self.cache = Counter("gateway_cache_total", "Cache lookups", ["cache", "outcome"], registry=self.registry)
        self.breaker = Gauge(
            "gateway_breaker_open",
            "1 while the backend circuit breaker is open",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.unmapped = Counter(
            "gateway_unmapped_values_total",
            "Enum values no mapping table knows",
            ["vendor", "enum"],
            registry=self.registry,
        )
        # One process: what every request counts is added up here and handed to prometheus-client
        # when /metrics is rendered (its per-value locks and checks cost more than the counting).
        # Several workers write the shared files at once instead: any worker's scrape must show
        # every request already answered.
        self._deferred = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self._bounds: tuple[float, ...] = tuple(self.latency._upper_bounds)
        self._pending_requests: dict[tuple[str, str, str], int] = {}
        self._pending_latency: dict[str, _Pending] = {}
        self._pending_backend: dict[tuple[str, int], _Pending] = {}

    def request_done(self, dialect: str, action: str, result: str, seconds: float) -> None:
        if self._deferred:
            key3 = (dialect, action, result)
            self._pending_requests[key3] = self._pending_requests.get(key3, 0) + 1
            pending = self._pending_latency.get(dialect)  # (_pending inlined: once per request)
            if pending is None:
                pending = self._pending_latency[dialect] = _Pending(self._bounds)
            pending.add(seconds)
            return
        key = (dialect, action, result)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(dialect, action, result)
        child.inc()
        hist = self._latency_children.get(dialect)
        if hist is None:
            hist = self._latency_children[dialect] = self.latency.labels(dialect)
        hist.observe(seconds)

    def backend_call(self, method: str, status: int, seconds: float) -> None:
        key = (method, status)
        if self._deferred:
            found = self._pending_backend.get(key)  # (_pending inlined: once per backend call)
            if found is None:
                found = self._pending_backend[key] = _Pending(self._bounds)
            found.add(seconds)
            return
        self._backend_child(key).observe(seconds)

    def _backend_child(self, key: tuple[str, int]) -> Any:
        hist = self._backend_children.get(key)
        if hist is None:
            hist = self._backend_children[key] = self.backend_latency.labels(key[0], str(key[1]))
        return hist

    def _pending(self, table: dict[Any, _Pending], key: Any) -> _Pending:
        found = table.get(key)
        if found is None:
            found = table[key] = _Pending(self._bounds)
        return found

    def flush(self) -> None:
        """Hand what was counted since the last flush to prometheus-client (rendering does)."""
        requests, self._pending_requests = self._pending_requests, {}
        latency, self._pending_latency = self._pending_latency, {}
        backend, self._pending_backend = self._pending_backend, {}
        for labels, n in requests.items():
            child = self._request_children.get(labels)
            if child is None:
                child = self._request_children[labels] = self.requests.labels(*labels)
            child.inc(n)
        for dialect, pending in latency.items():
            hist = self._latency_children.get(dialect)
            if hist is None:
                hist = self._latency_children[dialect] = self.latency.labels(dialect)
            pending.into(hist)
        for call, pending in backend.items():
            pending.into(self._backend_child(call))

    def error(self, dialect: str, action: str, kind: str) -> None:
        """``kind`` is a public kind (gateway.errors.kind_of); ``action`` the mapped action or ``-``."""
        self.errors.labels(dialect, action, kind).inc()

    def on_unmapped(self, vendor: str, enum: str, value: str) -> None:
        self.unmapped.labels(vendor, enum).inc()

    def render(self) -> bytes:
        self.flush()
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if folder:
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged, path=folder)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)


class _Pending:
    """Observations of one histogram child not yet handed over: their sum and bucket counts."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.total = 0.0
        self.counts = [0] * len(bounds)

    def add(self, value: float) -> None:
        self.total += value
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bucket whose bound >= value

    def into(self, hist: Any) -> None:
        # what Histogram.observe does once per value, done once per bucket
        hist._sum.inc(self.total)
        for i, n in enumerate(self.counts):
            if n:
                hist._buckets[i].inc(n)
