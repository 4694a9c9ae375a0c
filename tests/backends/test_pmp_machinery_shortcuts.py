"""The request machinery's short ways around a ticket read, against the paths they skip:
GetTicket without a ``_with_conversation`` coroutine on an installation with neither replies
nor notes, and the wire's read of a record (first attempt inline) against ``fetch`` + ``interpret``."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

from gateway.backends import http
from gateway.backends.pmp import PMPBackend
from gateway.backends.pmp import wire as w
from gateway.canonical import Ticket
from gateway.errors import GatewayError
from gateway.mapping.loader import VendorMappings
from tests.backends.test_pmp_v3 import TICKET, Module, backend, deadline, mappings, reply

__all__ = ["deadline", "mappings"]  # the fixtures, shared with test_pmp_v3

STATES = ("no", "read-only", "yes")


def _with_features(pmp: PMPBackend, **features: Any) -> None:
    caps = pmp.capabilities()
    pmp._caps = dataclasses.replace(caps, features={**caps.features, **features})


@pytest.mark.parametrize(("replies", "notes"), list(itertools.product(STATES, STATES)))
async def test_a_ticket_read_equals_the_summary_with_its_conversation(
    mappings: VendorMappings, deadline: None, replies: str, notes: str
) -> None:
    row = dict(TICKET, lastreply="2024-03-01 11:00:00")
    module = Module(routes={("GET", "api/tickets/5"): lambda *a: reply(200, row)})
    pmp = backend(mappings, module)
    await pmp.discover()
    _with_features(pmp, replies=replies, notes=notes)
    composed: list[Ticket] = []
    full = pmp._with_conversation

    async def spy(ticket: Ticket) -> Ticket:
        out = await full(ticket)
        composed.append(out)
        return out

    pmp._with_conversation = spy  # type: ignore[method-assign]
    got = await pmp.get_ticket(5)
    expected = await full(await pmp.ticket_summary(5))
    assert got == expected
    # the coroutine skipped exactly when it has nothing to add
    assert bool(composed) == (replies != "no" or notes != "no")


async def test_before_discovery_a_ticket_read_discovers_first(mappings: VendorMappings, deadline: None) -> None:
    module = Module()
    pmp = backend(mappings, module)
    ticket = await pmp.get_ticket(5)
    assert pmp._discovered_at is not None  # (through _with_conversation's _ensure_discovered)
    assert ticket.id == 5 and len(ticket.replies) >= 1


# ---------------------------------------------------------------- the wire's read of a record

BODIES = [b'{"ticketid":"5","subject":"x"}', b"[]", b"<html>", b'{"status":false,"message":"No data were found"}', b""]
STATUSES = [200, 404, 401, 403, 429, 500, 502, 503, 504]


class Script:
    """A transport answering, in turn, the replies (or raising the errors) it was given."""

    def __init__(self, answers: list[http.Reply | Exception]) -> None:
        self.answers = list(answers)
        self.calls = 0
        self.last: http.Reply | Exception = answers[-1]

    async def __call__(self, method: str, url: str, **kw: Any) -> http.Reply:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else self.last
        self.last = answer
        if isinstance(answer, Exception):
            raise answer
        return answer


def _sequences() -> list[list[http.Reply | Exception]]:
    out: list[list[http.Reply | Exception]] = []
    for status in STATUSES:
        for body in BODIES:
            out.append([http.Reply(status, {}, body)])
    out.append([http.TransportError("refused", sent=False), http.Reply(200, {}, BODIES[0])])
    out.append([http.TransportError("slow", sent=True, timeout=True)] * 4)
    out.append([http.TransportError("reset", sent=True)] * 4)
    out.append([http.Reply(503, {}, b""), http.Reply(200, {}, BODIES[0])])
    out.append([http.Reply(429, {"Retry-After": "0"}, b""), http.Reply(200, {}, BODIES[0])])
    out.append([http.Reply(502, {}, b"")] * 4)
    return out


async def _outcome(read: Any) -> Any:
    try:
        value = await read
    except GatewayError as exc:
        return ("raised", type(exc), exc.message)
    return ("value", value)


@pytest.mark.parametrize("answers", _sequences())
async def test_a_memoised_read_equals_fetch_then_interpret(deadline: None, answers: list[Any]) -> None:
    short_t, full_t = Script(answers), Script(answers)
    short = w.Wire("http://module.invalid/", "tok", short_t, backoff=0.0, backoff_cap=0.0)
    full = w.Wire("http://module.invalid/", "tok", full_t, backoff=0.0, backoff_cap=0.0)

    async def reference() -> Any:
        return full.interpret(await full.fetch("api/tickets/5"), "GET", "api/tickets/5")

    got = await _outcome(short.read_memo("api/tickets/5", lambda d: d))
    expected = await _outcome(reference())
    if expected[0] == "value" and isinstance(expected[1], w.Refused):
        assert got[0] == "value" and got[1] == expected[1]
    else:
        assert got == expected
    assert short_t.calls == full_t.calls  # as many attempts
