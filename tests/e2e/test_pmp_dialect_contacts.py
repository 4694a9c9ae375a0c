"""The PMP dialect's contact update and delete (``PUT api/contacts/:id``, ``DELETE
api/delete/contacts/:id`` and 3.x's ``DELETE api/contacts/:id``), end to end: carried out on a
PMP backend of either module generation (the simulator's tables checked) and on a WHMCS backend
(UpdateContact / DeleteContact)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.pmp_sim import STATS_KEY, SimDB, start_simulator
from gateway.settings import BackendSettings, ClientCredential, Settings
from tests.conftest import start_gateway
from tests.e2e.whmcs_backend import start_pair

TOKEN = "contacts-backend-token"
SECRET = "contacts-secret"
P = "/perfex/api/"


class Perfex:
    def __init__(self, url: str, session: aiohttp.ClientSession, token: str) -> None:
        self.url, self.session, self.headers = url, session, {"authtoken": token}

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self.session.request(method, self.url + P + path, json=body, headers=self.headers) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture(params=[3, 2], ids=["module3", "module2"])
async def pmp(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Perfex, SimDB, Any]]:
    db_path = tmp_path / "sim.sqlite3"
    sim, sim_url = await start_simulator(db_path=db_path, token=TOKEN, module=request.param)
    settings = Settings(
        backend=BackendSettings(url=sim_url, token=TOKEN, timeout=20),
        clients=(ClientCredential(identifier="contacts", secret=SECRET),),
        data_dir=tmp_path,
        access_log=False,
    )
    runner, url = await start_gateway(settings)
    try:
        async with aiohttp.ClientSession() as session:
            yield Perfex(url, session, SECRET), SimDB(db_path, seed_demo=False), sim.app[STATS_KEY]
    finally:
        await runner.cleanup()
        await sim.cleanup()


async def test_update_changes_only_the_columns_sent(pmp: tuple[Perfex, SimDB, Any]) -> None:
    client, db, _ = pmp
    before = db.get_contact(2)
    assert before is not None
    status, body = await client.call("PUT", "contacts/2", {"firstname": "Janet", "ticket_emails": "0"})
    assert (status, body) == (200, {"status": True, "message": "Contact Update Successful."})
    after = db.get_contact(2)
    assert after is not None
    assert (after["firstname"], str(after["ticket_emails"])) == ("Janet", "0")
    # everything not sent is as it was (2.x's PUT would reset the flags and is_primary)
    for column in ("lastname", "email", "phonenumber", "is_primary", "invoice_emails", "contract_emails"):
        assert str(after[column]) == str(before[column]), column
    # read back through the gateway, in the module's row shape, with no secrets
    status, row = await client.call("GET", "contacts/1/2")
    assert status == 200 and row["firstname"] == "Janet" and row["ticket_emails"] == "0"
    assert "password" not in row


async def test_update_errors_in_the_modules_shape(pmp: tuple[Perfex, SimDB, Any]) -> None:
    client, _db, stats = pmp
    writes = stats.writes
    assert await client.call("PUT", "contacts/999", {"firstname": "X"}) == (
        404,
        {"status": False, "message": "No data were found"},
    )
    status, body = await client.call("PUT", "contacts/2", {"email": "not-an-email"})
    assert status == 422 and body["error"] == "validation_failed" and "email" in body["errors"]
    status, body = await client.call("PUT", "contacts/2", {"password": "n3w"})
    assert status == 501 and body["status"] is False and "nothing was changed" in body["message"]
    assert stats.writes == writes


@pytest.mark.parametrize("path", ["delete/contacts/2", "contacts/2"])
async def test_delete_removes_the_contact(pmp: tuple[Perfex, SimDB, Any], path: str) -> None:
    client, db, _ = pmp
    assert await client.call("DELETE", path) == (200, {"status": True, "message": "Contact Delete Successful."})
    assert db.get_contact(2) is None
    assert await client.call("GET", "contacts/1/2") == (404, {"status": False, "message": "No data were found"})
    # a second delete: the record is gone
    assert await client.call("DELETE", path) == (404, {"status": False, "message": "No data were found"})


async def test_a_whmcs_backend_carries_them_with_update_contact_and_delete_contact(tmp_path: Path) -> None:
    async for pair in start_pair(tmp_path):
        client = Perfex(pair.gateway.url, pair.gateway.session, "demo-secret")
        _, before = await pair.direct("GetContacts", userid="1")
        contact = before["contacts"]["contact"][0]
        cid = str(contact["id"])
        status, answer = await client.call("PUT", f"contacts/{cid}", {"firstname": "Janet", "ticket_emails": "0"})
        assert (status, answer) == (200, {"status": True, "message": "Contact Update Successful."})
        _, after = await pair.direct("GetContacts", userid="1")
        changed = next(c for c in after["contacts"]["contact"] if str(c["id"]) == cid)
        assert (changed["firstname"], changed["supportemails"]) == ("Janet", False)
        assert {k: v for k, v in changed.items() if k not in ("firstname", "supportemails", "updated_at")} == {
            k: v for k, v in contact.items() if k not in ("firstname", "supportemails", "updated_at")
        }
        assert await client.call("PUT", "contacts/99999", {"firstname": "X"}) == (
            404,
            {"status": False, "message": "No data were found"},
        )
        assert await client.call("DELETE", f"delete/contacts/{cid}") == (
            200,
            {"status": True, "message": "Contact Delete Successful."},
        )
        _, gone = await pair.direct("GetContacts", userid="1")
        assert cid not in {str(c["id"]) for c in (gone.get("contacts") or {}).get("contact", [])}
