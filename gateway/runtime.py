"""Everything a request needs, built together and swapped as one on reload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.auth import Credentials
from gateway.limits import RateLimiter
from gateway.mapping.loader import MappingSet
from gateway.metrics import Metrics
from gateway.service import Service
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.dialects.base import Dialect


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    mappings: MappingSet
    service: Service
    credentials: Credentials
    limiter: RateLimiter
    metrics: Metrics
    dialects: dict[str, Dialect]
