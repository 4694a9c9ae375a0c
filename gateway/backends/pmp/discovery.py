"""What a PMP installation offers, found by requests that change nothing (INTERFACE "Backends").

* The module generation: ``GET api/staffs?page=1&per_page=1``.  A staff list is
  never empty (the administrator is staff), so an empty installation cannot
  pass for 2.x: 3.x answers the ``{data, meta}`` envelope, 2.x a plain array or
  a 404.  A 403 there is 3.x too (2.x has no permissions): the token may not
  list staff.
* Notes: ``GET api/notes/ticket/0`` answers a list or ``No data were found``.
* Custom tables: ``GET api/thirdparty/customtable/{table}`` reads; ``PUT`` on
  row id 0 (which no table holds, so nothing can change) answers 403 when
  the token has no write grant.
* ``backend.features`` pins (yes / read-only) or forbids (no) each feature;
  ``auto`` keeps what was found.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import cast

from gateway.backends.base import FEATURES, Capabilities, FeatureState
from gateway.backends.http import RETRYABLE_STATUS, Reply, TransportError, backoff, pause
from gateway.backends.pmp.wire import AUTH_MESSAGE, Wire, parse_json, token_failure
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
    if reply.status in (400, 403, 404, 405, 422):
        data = parse_json(reply.body)
        if isinstance(data, dict) and token_failure(data):
            raise BackendAuthError(AUTH_MESSAGE)
        return reply.status, data
    return reply.status, wire.interpret(reply, method, path)


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
    status, data = await _status(wire, "GET", TABLE_PATH + table)
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


def describe(caps: Capabilities) -> str:
    """The start-up log line's summary."""
    parts = ", ".join(f"{k}={v}" for k, v in caps.features.items())
    return f"PMP module {caps.generation}.x found: {parts}"
