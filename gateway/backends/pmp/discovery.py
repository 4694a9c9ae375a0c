"""What a PMP installation offers, found by requests that change nothing (INTERFACE "Backends").

* The module generation: ``GET api/staffs?page=1&per_page=1``.  A staff list is
  never empty (the administrator is staff), so an empty installation cannot
  pass for 2.x: 3.x answers the ``{data, meta}`` envelope, 2.x a plain array or
  a 404.  A 403 there is 3.x too (2.x has no permissions): the token may not
  list staff.
* Notes: ``GET api/notes/ticket/0`` answers a list or ``No data were found``.
* Custom tables: ``GET api/thirdparty/customtable/{table}`` reads (the list is
  the whole table, so only its first rows are read off the stream: the probe
  costs the same at 10 rows and at 100,000); ``PUT`` on
  row id 0 (which no table holds, so nothing can change) answers 403 when
  the token has no write grant.
* ``backend.features`` pins (yes / read-only) or forbids (no) each feature;
  ``auto`` keeps what was found.
* Learned from real requests: a 403 on a custom table or the notes route (some
  installations answer the row-0 probe 404 before they check grants) lowers
  the feature at once (write refused: read-only; read refused: no), so the next
  request is refused without a backend call and ``check --backend`` and
  ``/readyz`` show it.  The denial outlives rediscoveries for a while
  (``settings.learned_denial_seconds``, default 300), then the probes decide
  again: an administrator who adds the grant need not restart anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import replace
from typing import Any, cast

from gateway.backends import jsonstream
from gateway.backends.base import FEATURES, Capabilities, FeatureState
from gateway.backends.http import RETRYABLE_STATUS, Body, Reply, TransportError, backoff, pause
from gateway.backends.pmp.wire import AUTH_MESSAGE, Wire, parse_json, token_failure, unavailable
from gateway.errors import BackendAuthError, BackendError

log = logging.getLogger(__name__)

VENDOR = "pmp"
REPLIES_TABLE = "tblticket_replies"
DEPARTMENTS_TABLE = "tbldepartments"
TABLE_PATH = "api/thirdparty/customtable/"

#: What an installation that could not be asked is assumed to offer (seed 003's module).
BASELINE: Mapping[str, FeatureState] = {feature: "no" for feature in FEATURES}

_STATES = ("yes", "no", "read-only")


async def _status(wire: Wire, method: str, path: str) -> tuple[int, object]:
    """One probe: the HTTP status and the decoded body.  An authentication failure
    (401, 2.x's 404 ``Token is not defined.``) or an unavailable backend raises."""
    if method == "GET":
        reply = await wire.fetch(path)
    else:
        reply = await _put_probe(wire, path)
    return _judged(wire, reply, method, path)


def _judged(wire: Wire, reply: Reply, method: str, path: str) -> tuple[int, object]:
    if reply.status in (400, 403, 404, 405, 422):
        data = parse_json(reply.body)
        if isinstance(data, dict) and token_failure(data):
            raise BackendAuthError(AUTH_MESSAGE)
        return reply.status, data
    return reply.status, wire.interpret(reply, method, path)


async def _list_probe(wire: Wire, path: str) -> tuple[int, object]:
    """:func:`_status` of a GET on a list route that answers its whole table, read only as far as
    its first rows: a 200 array proves read access whatever it holds after them.

    Any other answer (a refusal, ``No data were found``) is small and judged whole, as before.
    A retryable answer or a broken connection falls back to the whole read, which retries."""
    try:
        async with wire.stream(path) as reply:
            head = await _head(reply.body) if reply.status == 200 else b""
            if head[:1] == b"[":
                return 200, await _first_rows(head, reply.body)
            if reply.status not in RETRYABLE_STATUS:
                whole = Reply(reply.status, reply.headers, head + await reply.body.read())
                return _judged(wire, whole, "GET", path)
    except TransportError:
        pass
    return await _status(wire, "GET", path)


async def _head(body: Body) -> bytes:
    """The answer's first bytes from its first significant one (b"" for a blank body)."""
    head = b""
    while True:
        chunk = await body.read(256)
        if not chunk:
            return head
        head = (head + chunk).lstrip(b" \t\r\n")
        if head.startswith(b"\xef\xbb\xbf"):  # a BOM some PHP installations emit
            head = head[3:].lstrip(b" \t\r\n")
        if head:
            return head


async def _first_rows(head: bytes, body: Body) -> list[object]:
    """The array's first batch of rows (about jsonstream.BATCH_BYTES); the rest is left unread."""
    try:
        # an async generator (typed as an iterator): closed here, not whenever the loop collects it
        batches = cast(AsyncGenerator[list[Any], None], jsonstream.array_batches(body, head=head))
        async with aclosing(batches):
            async for batch in batches:
                return list(batch)
    except ValueError:  # NotAnArray, orjson.JSONDecodeError: what the whole read calls not JSON
        raise unavailable("HTTP 200, the answer is not JSON") from None
    return []


async def _put_probe(wire: Wire, path: str) -> Reply:
    """PUT on row 0, retried like a read: no table holds row 0, so it changes nothing."""
    tries = 0
    while True:
        tries += 1
        try:
            reply = await wire.exchange("PUT", path, body={})
        except TransportError as exc:
            if tries < wire.attempts and await pause(backoff(tries - 1, 0.2, 2.0)):
                continue
            raise BackendError(f"The backend is unavailable ({exc.detail})") from None
        if reply.status in RETRYABLE_STATUS and tries < wire.attempts and await pause(backoff(tries - 1, 0.2, 2.0)):
            continue
        return reply


async def _generation(wire: Wire) -> tuple[str, bool]:
    """("3" | "2", whether staff can be listed)."""
    status, data = await _status(wire, "GET", "api/staffs?page=1&per_page=1")
    if status == 200 and isinstance(data, dict) and isinstance(data.get("data"), list) and "meta" in data:
        return "3", True
    if status == 403:
        return "3", False
    if status == 200 and isinstance(data, list):
        return "2", True  # a 2.x-like module with a staff route but no paging
    return "2", False


def _readable(status: int, data: object) -> bool:
    if status == 200:
        return isinstance(data, (list, dict))
    # an empty table or an empty note list: "No data were found"
    return status == 404 and isinstance(data, dict) and "no data" in str(data.get("message", "")).lower()


async def _table(wire: Wire, table: str) -> FeatureState:
    status, data = await _list_probe(wire, TABLE_PATH + table)
    if not _readable(status, data):
        return "no"
    status, _ = await _status(wire, "PUT", f"{TABLE_PATH}{table}/0")
    return "read-only" if status == 403 else "yes"


async def discover(wire: Wire) -> dict[str, FeatureState]:
    """What the installation offers; BackendError when it cannot be asked."""
    generation, staff = await _generation(wire)
    three: FeatureState = "yes" if generation == "3" else "no"
    found: dict[str, FeatureState] = {
        "paging": three,
        "record_ids": three,
        "idempotent_creates": three,
        "staff": "yes" if staff else "no",
    }
    status, data = await _status(wire, "GET", "api/notes/ticket/0")
    found["notes"] = "yes" if generation == "3" and _readable(status, data) else "no"
    # custom tables came with 3.x: on 2.x a "No data were found" there is no proof of a table
    found["replies"] = await _table(wire, REPLIES_TABLE) if generation == "3" else "no"
    departments = await _table(wire, DEPARTMENTS_TABLE) if generation == "3" else "no"
    found["departments"] = departments  # yes: the token may write the table (a migration creates departments)
    found["generation"] = cast(FeatureState, generation)
    return found


def apply_pins(found: Mapping[str, str], pins: Mapping[str, str]) -> Capabilities:
    """Capabilities from what was found, with the operator's ``backend.features`` laid over it."""
    features: dict[str, FeatureState] = {}
    for feature in FEATURES:
        value = str(found.get(feature, "no"))
        pinned = str(pins.get(feature, "auto")).strip().lower()
        if pinned in _STATES:
            if pinned != "no" and value == "no":
                log.warning("pmp feature %s pinned to %s although discovery did not find it", feature, pinned)
            value = pinned
        features[feature] = cast(FeatureState, value if value in _STATES else "no")
    return Capabilities(kind=VENDOR, generation=str(found.get("generation", "2")), features=features)


_RANK: Mapping[str, int] = {"no": 0, "read-only": 1, "yes": 2}


def lower(caps: Capabilities, feature: str, state: FeatureState) -> Capabilities:
    """``caps`` with ``feature`` lowered to ``state`` (never raised)."""
    current = caps.features.get(feature, "no")
    if _RANK[state] >= _RANK[current]:
        return caps
    return replace(caps, features={**caps.features, feature: state})


class Learned:
    """Denials learned from real requests (a 403), laid over each rediscovery until they expire."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._denied: dict[str, tuple[FeatureState, float]] = {}

    def note(self, feature: str, state: FeatureState) -> None:
        known = self._denied.get(feature)
        if known is not None and _RANK[known[0]] < _RANK[state] and self._fresh(known[1]):
            state = known[0]  # a read refused earlier stays refused
        self._denied[feature] = (state, self._clock())

    def _fresh(self, at: float) -> bool:
        return self._clock() - at < self.ttl

    def apply(self, caps: Capabilities) -> Capabilities:
        for feature, (state, at) in list(self._denied.items()):
            if not self._fresh(at):
                del self._denied[feature]
                continue
            caps = lower(caps, feature, state)
        return caps


def describe(caps: Capabilities) -> str:
    """The start-up log line's summary."""
    parts = ", ".join(f"{k}={v}" for k, v in caps.features.items())
    return f"PMP module {caps.generation}.x found: {parts}"
