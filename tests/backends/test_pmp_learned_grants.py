"""A grant the PMP token lacks, learned from the first refused request (INTERFACE "Backends":
"...whether it can write them (...: 403 means no write grant; or else learned from the first
write)").  End to end: the embedded module 3.x simulator, whose administrator takes the token's
write grant on ``tblticket_replies`` (or its notes permission) away after the gateway started.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway.app import STATE
from gateway.backends.base import Capabilities
from gateway.backends.pmp import discovery
from gateway.pmp_sim import STATS_KEY
from gateway.pmp_sim.v3 import TOKENS_KEY
from tests.conftest import Gateway


def _sim_app(gw: Gateway) -> Any:
    runner = gw.app[STATE].sim_runner
    assert runner is not None
    return runner.app


def _regrant(gw: Gateway, **change: Any) -> None:
    """What an administrator does in the module's token settings: the same token, other grants."""
    tokens = _sim_app(gw)[TOKENS_KEY]
    for key, token in list(tokens.items()):
        tokens[key] = dataclasses.replace(token, **change)


def _backend_writes(gw: Gateway) -> int:
    return int(_sim_app(gw)[STATS_KEY].writes)


async def _ready_features(gw: Gateway) -> dict[str, str]:
    async with gw.session.get(gw.url + "/readyz") as resp:
        assert resp.status == 200
        body = await resp.json()
    features: dict[str, str] = body["features"]
    return features


async def _keliweb(gw: Gateway, action: str, **form: str) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": "Bearer demo-secret"}
    async with gw.session.post(f"{gw.url}/api/v2/keliweb/{action}", data=form, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_a_refused_reply_write_is_learned_and_not_tried_again(gateway: Gateway) -> None:
    assert (await _ready_features(gateway))["replies"] == "yes"
    _regrant(gateway, tables={"tblticket_replies": "read", "tbldepartments": "write"})

    before = _backend_writes(gateway)
    status, first = await gateway.whmcs("AddTicketReply", ticketid="1", message="hello", clientid="1")
    assert status == 200 and first["result"] == "error"
    assert "tblticket_replies" in first["message"] and "nothing was written" in first["message"]
    assert _backend_writes(gateway) == before + 1  # the one refused POST, nothing after it

    # learned: what discovery knows says so, and the next reply is refused without a backend write
    assert (await _ready_features(gateway))["replies"] == "read-only"
    status, second = await _keliweb(gateway, "add-ticket-reply", ticketid="1", message="again", clientid="1")
    assert status == 501 and "tblticket_replies" in second["message"]
    assert _backend_writes(gateway) == before + 1

    # reading is still granted: the conversation is still shown
    status, ticket = await gateway.whmcs("GetTicket", ticketid="3")
    assert ticket["result"] == "success" and len(ticket["replies"]["reply"]) == 3


async def test_a_refused_note_write_is_learned(gateway: Gateway) -> None:
    assert (await _ready_features(gateway))["notes"] == "yes"
    # a read-only role: the notes route answers 403 to every request of this token
    _regrant(gateway, denied=frozenset({"notes"}))
    status, refused = await gateway.whmcs("AddTicketNote", ticketid="1", message="internal")
    assert refused["result"] == "error" and "notes" in refused["message"]
    assert (await _ready_features(gateway))["notes"] in ("read-only", "no")
    # a ticket read no longer fails on its notes: shown without them (the "notes" loss)
    status, ticket = await gateway.whmcs("GetTicket", ticketid="1")
    assert status == 200 and ticket["result"] == "success" and ticket["notes"] == {"note": []}
    assert (await _ready_features(gateway))["notes"] == "no"


async def test_a_refused_read_of_the_reply_table_degrades_get_ticket(gateway: Gateway) -> None:
    _regrant(gateway, tables={"tbldepartments": "write"})  # tblticket_replies taken off the allowlist
    status, ticket = await gateway.whmcs("GetTicket", ticketid="3")
    assert status == 200 and ticket["result"] == "success"
    assert [r["replyid"] for r in ticket["replies"]["reply"]] == ["0"]  # the opening message only
    assert (await _ready_features(gateway))["replies"] == "no"


def _caps(**features: str) -> Capabilities:
    return Capabilities(kind="pmp", generation="3", features=features)  # type: ignore[arg-type]


def test_a_learned_denial_outlives_rediscovery_until_it_expires() -> None:
    now = [1000.0]
    learned = discovery.Learned(ttl=300, clock=lambda: now[0])
    learned.note("replies", "read-only")
    # a rediscovery whose row-0 probe could not tell (the installation answered it 404)
    assert learned.apply(_caps(replies="yes", notes="yes")).features == {"replies": "read-only", "notes": "yes"}
    # never raised by a denial: a feature already lower stays as found
    assert learned.apply(_caps(replies="no")).features["replies"] == "no"
    now[0] += 301  # the administrator may have added the grant: the probes decide again
    assert learned.apply(_caps(replies="yes")).features["replies"] == "yes"


def test_a_refused_read_is_not_undone_by_a_later_refused_write() -> None:
    learned = discovery.Learned(ttl=300, clock=lambda: 0.0)
    learned.note("notes", "no")
    learned.note("notes", "read-only")
    assert learned.apply(_caps(notes="yes")).features["notes"] == "no"
