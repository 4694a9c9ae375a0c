"""Prometheus metrics, one registry per app (tests build many apps in one process).

With ``--workers N`` the parent sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers
start: each worker writes its values to files there, and a scrape of any worker
renders all of them summed, so counters never go backwards between scrapes.
"""

from __future__ import annotations

import os
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

    def request_done(self, dialect: str, action: str, result: str, seconds: float) -> None:
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
        hist = self._backend_children.get(key)
        if hist is None:
            hist = self._backend_children[key] = self.backend_latency.labels(method, str(status))
        hist.observe(seconds)

    def error(self, dialect: str, action: str, kind: str) -> None:
        """``kind`` is a public kind (gateway.errors.kind_of); ``action`` the mapped action or ``-``."""
        self.errors.labels(dialect, action, kind).inc()

    def on_unmapped(self, vendor: str, enum: str, value: str) -> None:
        self.unmapped.labels(vendor, enum).inc()

    def render(self) -> bytes:
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if folder:
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged, path=folder)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)
