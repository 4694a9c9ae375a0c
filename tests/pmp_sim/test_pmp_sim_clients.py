"""The simulator's customer and contact routes, plus the CLI, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytestmark = pytest.mark.asyncio

SECRET_KEYS = {"password", "new_pass_key", "email_verification_key"}


def assert_php_row(row: Any) -> None:
    assert isinstance(row, dict)
    for key, value in row.items():
        assert value is None or isinstance(value, str), (key, value)


# ----------------------------------------------------------------------------- customers


async def test_customer_list_and_get(sim: Any) -> None:
    status, body = await sim.call("GET", "api/customers")
    assert status == 200
    assert isinstance(body, list) and len(body) == 3
    for row in body:
        assert_php_row(row)
        assert "userid" in row and "billing_street" in row and "stripe_id" in row
    status, row = await sim.call("GET", "api/customers/2")
    assert status == 200
    assert row["company"] == "Công ty TNHH Trung bình"
    assert row["userid"] == "2"
    for bad in ("999", "x"):
        status, body = await sim.call("GET", f"api/customers/{bad}")
        assert (status, body) == (404, {"status": False, "message": "No data were found"})


async def test_customer_search(sim: Any) -> None:
    status, body = await sim.call("GET", "api/customers/search/acme")
    assert status == 200 and [r["userid"] for r in body] == ["1"]
    status, body = await sim.call("GET", "api/customers/search/Ünïcødé")
    assert status == 200 and [r["userid"] for r in body] == ["3"]
    status, body = await sim.call("GET", "api/customers/search/zzzz-none")
    assert (status, body["message"]) == (404, "No data were found")


async def test_customer_post_form_no_id(sim: Any) -> None:
    status, body = await sim.call(
        "POST", "api/customers", data={"company": "New Co", "city": "Paris", "groups_in[]": ["1", "4"]}
    )
    assert (status, body) == (200, {"status": True, "message": "Client add successful."})
    row = sim.db.get_client(4)
    assert row is not None
    assert (row["company"], row["city"], row["country"], row["vat"]) == ("New Co", "Paris", "0", "")
    assert row["active"] == "1"


async def test_customer_post_record_id_and_json_fails(make_sim: Any) -> None:
    sim = await make_sim(record_id=True)
    status, body = await sim.call("POST", "api/customers", data={"company": "RID Co"})
    assert (status, body.get("record_id")) == (200, 4)
    status, body = await sim.call("POST", "api/customers", json={"company": "JSON Co"})
    assert status == 404
    assert body["status"] is False
    assert body["error"] == {"company": "The Company field is required."}
    assert sim.db.count_customers() == 4


async def test_customer_put(sim: Any) -> None:
    status, body = await sim.call("PUT", "api/customers/1", json={"company": "Acme Renamed"})
    assert (status, body) == (200, {"status": True, "message": "Client Update Successful."})
    row = sim.db.get_client(1)
    assert row is not None
    assert row["company"] == "Acme Renamed"
    # check_zero_columns(): missing country columns and currency are reset to 0
    assert (row["country"], row["billing_country"], row["default_currency"]) == ("0", "0", "0")
    status, body = await sim.call("PUT", "api/customers/1", json={"company": "Acme Renamed"})
    assert (status, body["message"]) == (404, "Client Update Fail.")
    status, _ = await sim.call("PUT", "api/customers/999", json={"company": "X"})
    assert status == 404
    status, _ = await sim.call("PUT", "api/customers/1", json={"company": "X", "bogus": "1"})
    assert status == 500


async def test_customer_delete_removes_contacts_and_tickets(sim: Any) -> None:
    assert sim.db.count_contacts(1) == 3
    status, body = await sim.call("DELETE", "api/delete/customers/1")
    assert (status, body["status"]) == (200, True)
    assert sim.db.count_contacts(1) == 0
    assert all(r["userid"] != "1" for r in sim.db.list_ticket_rows())
    status, _ = await sim.call("GET", "api/contacts/1")
    assert status == 404
    status, body = await sim.call("DELETE", "api/delete/customers/1")
    assert (status, body["status"]) == (404, False)


# ----------------------------------------------------------------------------- contacts


async def test_contacts_of_customer_active_primary_first(sim: Any) -> None:
    status, body = await sim.call("GET", "api/contacts/1")
    assert status == 200
    assert [r["id"] for r in body] == ["1", "2"]  # 5 is inactive
    assert body[0]["is_primary"] == "1"
    for row in body:
        assert_php_row(row)
        assert row["password"] and row["password"].startswith("$2y$10$")
        assert {"new_pass_key", "email_verification_key", "last_ip"} <= set(row)
    status, body = await sim.call("GET", "api/contacts/999")
    assert (status, body["message"]) == (404, "No data were found")


async def test_single_contact_ignores_customer_in_path(sim: Any) -> None:
    status, row = await sim.call("GET", "api/contacts/3/1")
    assert status == 200
    assert (row["id"], row["userid"]) == ("1", "1")
    status, row = await sim.call("GET", "api/contacts/1/5")
    assert (status, row["active"]) == (200, "0")
    status, _ = await sim.call("GET", "api/contacts/1/999")
    assert status == 404


async def test_contact_search(sim: Any) -> None:
    status, body = await sim.call("GET", "api/contacts/search/nguyen")
    assert status == 200 and [r["id"] for r in body] == ["3"]  # accent-insensitive, like MySQL
    status, body = await sim.call("GET", "api/contacts/search/Nguyễn")
    assert status == 200 and [r["id"] for r in body] == ["3"]
    status, body = await sim.call("GET", "api/contacts/search/acme.example")
    assert status == 200 and {r["id"] for r in body} == {"1", "2", "5"}


async def test_contact_post(sim: Any) -> None:
    form = {
        "customer_id": "2",
        "firstname": "Thị",
        "lastname": "Lan",
        "email": "lan@trungbinh.example",
        "password": "s3cret!",
        "invoice_emails": "1",
    }
    status, body = await sim.call("POST", "api/contacts", data=form)
    assert (status, body) == (200, {"status": True, "message": "Contact added successfully."})
    row = sim.db.get_contact(6)
    assert row is not None
    assert row["userid"] == "2" and row["is_primary"] == "0"
    assert row["password"] != "s3cret!" and (row["password"] or "").startswith("$2y$10$")
    assert (row["invoice_emails"], row["ticket_emails"]) == ("1", "0")
    # duplicate e-mail
    status, body = await sim.call("POST", "api/contacts", data=form)
    assert status == 409
    assert body["status"] is False and "already exists" in body["message"]


async def test_contact_post_validation(sim: Any) -> None:
    status, body = await sim.call("POST", "api/contacts", data={"customer_id": "2", "firstname": "A"})
    assert status == 404
    assert body["status"] is False
    assert set(body["error"]) == {"lastname", "email", "password"}
    form = {"customer_id": "2", "firstname": "A", "lastname": "B", "email": "not-an-email", "password": "x"}
    status, body = await sim.call("POST", "api/contacts", data=form)
    assert status == 404 and set(body["error"]) == {"email"}
    status, body = await sim.call("POST", "api/contacts", json={"customer_id": "2"})
    assert status == 404 and body["status"] is False


async def test_first_contact_becomes_primary_and_set_password_email(make_sim: Any) -> None:
    sim = await make_sim(record_id=True)
    status, body = await sim.call("POST", "api/customers", data={"company": "Solo"})
    assert status == 200
    cid = body["record_id"]
    form = {
        "customer_id": str(cid),
        "firstname": "Solo",
        "lastname": "Person",
        "email": "solo@x.example",
        "send_set_password_email": "on",
    }
    status, body = await sim.call("POST", "api/contacts", data=form)
    assert status == 200 and body["record_id"] == 6
    row = sim.db.get_contact(6)
    assert row is not None
    assert row["is_primary"] == "1"
    assert row["password"] is None and row["new_pass_key"]


async def test_contact_put_resets_flags_and_primary(sim: Any) -> None:
    status, body = await sim.call("PUT", "api/contacts/1", json={"title": "CEO", "ticket_emails": "1"})
    assert (status, body["status"]) == (200, True)
    row = sim.db.get_contact(1)
    assert row is not None
    assert row["title"] == "CEO"
    assert row["is_primary"] == "0" and row["invoice_emails"] == "0" and row["ticket_emails"] == "1"
    status, _ = await sim.call("PUT", "api/contacts/2", json={"is_primary": "1"})
    assert status == 200
    assert [r["id"] for r in sim.db.list_contacts(1) if r["is_primary"] == "1"] == ["2"]
    status, _ = await sim.call("PUT", "api/contacts/999", json={"title": "x"})
    assert status == 404
    status, _ = await sim.call("PUT", "api/contacts/1", json={"nickname": "x"})
    assert status == 500


async def test_contact_delete(sim: Any) -> None:
    status, body = await sim.call("DELETE", "api/delete/contacts/2")
    assert (status, body["status"]) == (200, True)
    status, body = await sim.call("DELETE", "api/delete/contacts/2")
    assert (status, body["status"]) == (404, False)


# ----------------------------------------------------------------------------- CLI


async def test_cli_serves_until_sigint(tmp_path: Path) -> None:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.pmp_sim",
        "--port",
        "0",
        "--db",
        str(tmp_path / "d" / "sim.sqlite3"),
        "--token",
        "cli-token",
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        async with (
            aiohttp.ClientSession() as session,
            session.get(url + "api/customers", headers={"authtoken": "cli-token"}) as resp,
        ):
            assert resp.status == 200
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
