"""Per-request context carried through contextvars: id, deadline, backend calls.

The middleware opens one per client request; the backend reads the deadline
so that every call and retry of that request fits inside it.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)  # (slots: one is built and read many times on every request)
class RequestContext:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    deadline: float = field(default_factory=lambda: time.monotonic() + 30.0)
    dialect: str = ""
    action: str = ""  # the mapped action's name: a bounded set, safe as a metric label
    requested: str = ""  # the action as the client wrote it (logged, truncated)
    credential: str = ""
    failed: str = ""  # the public kind of the error a dialect answered with (errors.kind_of), if any
    error: str = ""  # that error's message, for the access log
    hint: str = ""  # what the access log adds for an operator (e.g. billing actions are not served)
    secrets: list[str] = field(default_factory=list)  # credentials the request presented: never logged
    backend_calls: int = 0
    backend_seconds: float = 0.0
    observe: Callable[[str, int, float], None] | None = None  # backend method, status, seconds
    # A caller's own key for the creates it makes (a migration: one per source record, so that a
    # create repeated after a crash replays the first answer); "" = a fresh key per create.
    idempotency_key: str = ""
    # The caller journals its writes and settles a lost answer itself (a migration: pending rows
    # resolved on resume), so an adapter skips the reads it would otherwise make before a write
    # only to settle one; a lost answer is then "outcome unknown" at once.
    caller_settles: bool = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("gateway_request", default=None)


def current() -> RequestContext:
    ctx = _current.get()
    if ctx is None:
        ctx = RequestContext()
        _current.set(ctx)
    return ctx


def peek() -> RequestContext | None:
    """The current request's context, if a request is being served (never creates one)."""
    return _current.get()


# the context variable's own methods (no Python frame of ours: the middleware calls both on every request)
begin: Callable[[RequestContext], contextvars.Token[RequestContext | None]] = _current.set
end: Callable[[contextvars.Token[RequestContext | None]], None] = _current.reset
