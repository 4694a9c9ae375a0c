"""Write settlement: naming the record a create made, and settling writes whose answer was lost.

Creates
-------

* Module 3.x: every create carries an ``Idempotency-Key``.  Its answer names
  the new record (``record_id``; custom tables: ``id``), so nothing is listed.
  When the answer is lost after the request was sent, the same POST is sent
  again with the same key inside the request's deadline: the module replays
  the stored answer instead of creating a second record.
* Module 2.x (seed 003) answers ``{"status": true}`` with no id.  The adapter
  posts once and lists the records once afterwards: the highest-numbered row
  whose fields match what was sent (tickets: subject, customer, contact,
  department and message, compared without markup; customers: company;
  contacts: email) and that the gateway's store lets it claim (``pmp-ticket``,
  ...) is the new one.  A claim succeeds once per record, so two concurrent
  creates, even on two replicas sharing the store, never report the same one.
  Creates of one kind are serialised within the process on 2.x, which narrows
  the window in which two creates can see each other's record.
* When a 2.x create's answer is lost, the one listing settles it: a matching,
  unclaimed, recent row is the create's success.  When none is found, a
  dropped connection means the record was NOT created; the gateway's own
  deadline running out means the backend may still be writing it, which is
  an unknown outcome, and the client is told so (never "connection dropped").

Every write whose outcome cannot be known answers WriteOutcomeUnknown (the
dialect's "outcome unknown" error), never a plain failure.  A write gets all
but a small reserve of the remaining deadline so that settling still fits.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway import context
from gateway.backends import http
from gateway.backends.pmp.wire import Row, Unsettled, Wire, WriteRefused, same, to_int, unavailable
from gateway.errors import BackendError, NotFound, WriteOutcomeUnknown
from gateway.store import Store

log = logging.getLogger(__name__)

# how far a 2.x record's creation date may precede the create that looks for it: enough
# for clock skew and a misconfigured backend zone, short enough to rule out old look-alikes
_RECENT = timedelta(days=1)


@dataclass(frozen=True)
class Creation:
    """How to post one kind of record and find it again."""

    noun: str
    claim_kind: str
    post_path: str
    id_key: str
    listing: Callable[[], Awaitable[list[Row]]]
    matches: Callable[[Row], bool]
    created: Callable[[Row], datetime | None] = lambda row: None


def unknown(noun: str, doing: str, why: str) -> WriteOutcomeUnknown:
    return WriteOutcomeUnknown(
        f"The outcome is unknown: {why} while {doing} the {noun}, so it may have been applied; "
        f"check before trying again"
    )


def _why(exc: Unsettled) -> str:
    if exc.timeout:
        return "the backend did not answer within the request's deadline"
    return f"the connection to the backend failed after the request was sent ({exc.detail})"


class Settler:
    def __init__(self, wire: Wire, store: Store, *, find_reserve: float, idempotent: Callable[[], bool]) -> None:
        self._wire = wire
        self._store = store
        self._find_reserve = find_reserve
        self._idempotent = idempotent
        self._locks: dict[str, asyncio.Lock] = {}

    def reserve(self) -> float:
        """What a write keeps back from its deadline to settle an unknown outcome."""
        left = http.remaining()
        return min(self._find_reserve, left * 0.25)

    # ------------------------------------------------------------ creates

    async def create(self, spec: Creation, form: Mapping[str, str]) -> int:
        """POST once (3.x: replayable) and name the record it made."""
        if self._idempotent():
            return await self._create_idempotent(spec, form)
        lock = self._locks.setdefault(spec.claim_kind, asyncio.Lock())
        async with lock:
            return await self._create_listed(spec, form)

    async def _create_idempotent(self, spec: Creation, form: Mapping[str, str]) -> int:
        base = context.current().idempotency_key
        # the caller's key names the operation; each create in it (a customer and its contact) its own
        headers = {"Idempotency-Key": f"{base}-{spec.noun}" if base else uuid.uuid4().hex}
        try:
            answer = await self._wire.write("POST", spec.post_path, form=form, reserve=self.reserve(), headers=headers)
        except Unsettled as exc:
            if not exc.sent:
                raise unavailable(f"{exc.detail}; the {spec.noun} was NOT created") from None
            log.info("pmp %s create unsettled (%s): replaying it with its Idempotency-Key", spec.noun, exc.detail)
            try:
                answer = await self._wire.write("POST", spec.post_path, form=form, headers=headers)
            except Unsettled as again:
                raise unknown(spec.noun, "creating", _why(again)) from None
            except WriteRefused as again:
                if again.status == 409:  # the first request, still being processed under that key
                    raise unknown(spec.noun, "creating", f"{_why(exc)}, and the backend is still at it") from None
                raise
            except BackendError as again:
                raise unknown(spec.noun, "creating", f"the backend failed ({again.message})") from None
        record = to_int(answer.get("record_id") or answer.get("id"))
        if record > 0:
            await self._store.claim(spec.claim_kind, record)
            return record
        # an installation that takes the key but names no record: one listing finds it
        found = await self._find_accepted(spec)
        if found is None:
            raise unknown(spec.noun, "creating", "the backend accepted it but named no record and none was found")
        return found

    async def _create_listed(self, spec: Creation, form: Mapping[str, str]) -> int:
        started = datetime.now(UTC)
        try:
            answer = await self._wire.write("POST", spec.post_path, form=form, reserve=self.reserve())
        except Unsettled as exc:
            if not exc.sent:
                raise unavailable(f"{exc.detail}; the {spec.noun} was NOT created") from None
            return await self._settle_create(spec, started, exc)
        record = to_int(answer.get("record_id"))
        if record > 0:
            await self._store.claim(spec.claim_kind, record)
            return record
        found = await self._find_accepted(spec)
        if found is None:
            raise unknown(spec.noun, "creating", "the backend accepted it but the new record could not be found")
        return found

    async def _find_accepted(self, spec: Creation) -> int | None:
        """The record a create the backend accepted made (2.x names none): its listing failing says
        nothing about the create, which happened, so never a plain failure (the client would
        open it again)."""
        try:
            return await self._find(spec, None)
        except BackendError as exc:
            why = f"the backend accepted it but could not be asked which record it made ({exc.message})"
            raise unknown(spec.noun, "creating", why) from None

    async def _settle_create(self, spec: Creation, started: datetime, exc: Unsettled) -> int:
        try:
            found = await self._find(spec, started - _RECENT)
        except BackendError:
            raise unknown(spec.noun, "creating", f"{_why(exc)}, and the backend could not be asked") from None
        if found is not None:
            log.info("pmp %s %s created although its answer was lost", spec.noun, found)
            return found
        if exc.timeout:
            # the backend may still be writing it: not listed yet proves nothing
            raise unknown(spec.noun, "creating", f"{_why(exc)} and the record is not listed yet")
        raise unavailable(f"the connection dropped before the backend wrote it; the {spec.noun} was NOT created")

    async def _find(self, spec: Creation, since: datetime | None) -> int | None:
        """One listing: the highest-numbered matching row this create can claim."""
        candidates: list[int] = []
        for row in await spec.listing():
            record_id = to_int(row.get(spec.id_key))
            if record_id <= 0 or not spec.matches(row):
                continue
            if since is not None:
                created = spec.created(row)
                if created is not None and created < since:
                    continue
            candidates.append(record_id)
        for candidate in sorted(candidates, reverse=True):
            if await self._store.claim(spec.claim_kind, candidate):
                return candidate
        return None

    # ------------------------------------------------------------ updates and deletes

    async def put(self, path: str, body: Any, changes: Row, reread: Callable[[], Awaitable[Row]], noun: str) -> None:
        """PUT; settle "nothing changed" and lost answers by re-reading."""

        async def holds() -> bool:
            current = await reread()
            return all(same(current.get(k), v) for k, v in changes.items())

        try:
            await self._wire.write("PUT", path, body=body, reserve=self.reserve())
        except WriteRefused as exc:
            # "Update Fail." also answers an update that changed nothing
            if exc.status == 404 and await holds():
                return
            raise
        except Unsettled as exc:
            if not exc.sent:
                raise unavailable(f"{exc.detail}; the {noun} was NOT changed") from None
            try:
                done = await holds()
            except BackendError:
                raise unknown(noun, "changing", f"{_why(exc)}, and the backend could not be asked") from None
            if done:
                return
            if exc.timeout:
                raise unknown(noun, "changing", f"{_why(exc)} and the change is not visible yet") from None
            raise unavailable(f"the connection dropped; the {noun} was NOT changed") from None

    async def delete(self, path: str, missing: NotFound, exists: Callable[[], Awaitable[bool]], noun: str) -> None:
        try:
            await self._wire.write("DELETE", path, reserve=self.reserve())
        except WriteRefused as exc:
            if exc.status == 404:
                raise missing from None
            raise
        except Unsettled as exc:
            if not exc.sent:
                raise unavailable(f"{exc.detail}; the {noun} was NOT deleted") from None
            try:
                gone = not await exists()
            except BackendError:
                raise unknown(noun, "deleting", f"{_why(exc)}, and the backend could not be asked") from None
            if gone:
                return
            if exc.timeout:
                raise unknown(noun, "deleting", f"{_why(exc)} and the record is still there") from None
            raise unavailable(f"the connection dropped; the {noun} was NOT deleted") from None


def record_id(answer: Mapping[str, Any]) -> int:
    return to_int(answer.get("record_id") or answer.get("id"))
