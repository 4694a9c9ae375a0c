"""UpdateContact and DeleteContact on the WHMCS simulator (WHMCS's API reference; the gateway's
PMP dialect carries contact changes to a WHMCS backend through them)."""

from __future__ import annotations

from typing import Any

from tests.whmcs_sim.conftest import Sim


async def _contact(sim: Sim, contact_id: int) -> dict[str, Any] | None:
    body = await sim.ok("GetContacts", limitnum=100)
    rows = (body.get("contacts") or {}).get("contact") or []
    return next((c for c in rows if c["id"] == contact_id), None)


async def test_update_contact_changes_only_what_is_sent(sim: Sim) -> None:
    first = (await sim.ok("GetContacts"))["contacts"]["contact"][0]
    cid = first["id"]
    body = await sim.ok("UpdateContact", contactid=cid, firstname="Janet", **{"email_preferences[support]": "0"})
    assert body == {"result": "success", "contactid": cid}
    after = await _contact(sim, cid)
    assert after is not None and (after["firstname"], after["supportemails"]) == ("Janet", False)
    assert after["lastname"] == first["lastname"] and after["email"] == first["email"]


async def test_update_contact_errors(sim: Sim) -> None:
    cid = (await sim.ok("GetContacts"))["contacts"]["contact"][0]["id"]
    assert await sim.error("UpdateContact", contactid=99999, firstname="X") == "Contact ID Not Found"
    assert await sim.error("UpdateContact", contactid=cid, email="not-an-email") == "Email Address Invalid"
    taken = (await sim.ok("GetClients"))["clients"]["client"][0]["email"]
    assert await sim.error("UpdateContact", contactid=cid, email=taken) == "Duplicate Email Address"


async def test_delete_contact(sim: Sim) -> None:
    cid = (await sim.ok("GetContacts"))["contacts"]["contact"][0]["id"]
    assert await sim.ok("DeleteContact", contactid=cid) == {"result": "success", "contactid": cid}
    assert await _contact(sim, cid) is None
    assert await sim.error("DeleteContact", contactid=cid) == "Contact ID Not Found"
