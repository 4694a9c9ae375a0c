"""The PMP dialect end to end: a Perfex client on real sockets against the gateway, in front of
the embedded PMP simulator (and of faulty backends), compared with the simulator's own answers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway import pmp_sim
from gateway.app import STATE, create_app
from gateway.settings import BackendSettings, ClientCredential, DialectSettings, LimitSettings, Settings, SettingsError
from tests.conftest import Gateway, start_gateway
from tests.e2e.test_faults import _hang, _nothing, closed_port, fault_app, serve

P = "/perfex/api/"
TOKEN = {"authtoken": "ops-secret"}
# what the module sends that the gateway never passes on (password hashes, keys, login traces)
SECRET_KEYS = frozenset(
    {
        "password",
        "last_password_change",
        "new_pass_key",
        "new_pass_key_requested",
        "email_verification_key",
        "email_verification_sent_at",
        "last_ip",
        "two_factor_auth_code",
        "two_factor_auth_code_requested",
        "stripe_id",
    }
)
SECRET_TEXTS = ("$2y$", "password", "new_pass_key", "verification_key", "203.0.113.7")


async def pmp_gateway(tmp_path: Path, **dialect: Any) -> tuple[web.AppRunner, str]:
    settings = Settings(
        data_dir=tmp_path,
        access_log=False,
        clients=(ClientCredential(identifier="ops", secret="ops-secret"),),
        dialects={"pmp": DialectSettings(**dialect)} if dialect else {},
    )
    return await start_gateway(settings)


@pytest.fixture
async def gen2(tmp_path: Path) -> AsyncIterator[Gateway]:
    runner, url = await pmp_gateway(tmp_path, generation=2)
    async with aiohttp.ClientSession() as session:
        yield Gateway(url, runner.app, session, tmp_path)
    await runner.cleanup()


async def get(gw: Gateway, path: str, headers: dict[str, str] | None = None, **query: str) -> tuple[int, Any]:
    return await get_q(gw, path, query, headers)


async def get_q(
    gw: Gateway, path: str, query: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with gw.session.get(gw.url + P + path, headers=TOKEN if headers is None else headers, params=query) as r:
        assert r.content_type == "application/json"
        return r.status, await r.json()


async def sim_get(gw: Gateway, path: str) -> tuple[int, Any]:
    """The same request sent to the simulator itself (the module's own answer)."""
    state = gw.app[STATE]
    url = state.backend_url.rstrip("/") + "/api/" + path
    async with gw.session.get(url, headers={"authtoken": pmp_sim.DEFAULT_TOKEN}) as r:
        return r.status, await r.json()


def without_secrets(value: Any) -> Any:
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if k not in SECRET_KEYS}
    return value


def strings_or_null(body: Any) -> None:
    """Every value of every row is a string or null (an envelope's meta holds numbers)."""
    rows = body["data"] if isinstance(body, dict) and set(body) == {"data", "meta"} else body
    for row in rows if isinstance(rows, list) else [rows]:
        for key, value in row.items():
            assert value is None or isinstance(value, str), f"{key}: {value!r}"


def no_secrets(body: Any) -> None:
    text = json.dumps(body)
    for secret in SECRET_TEXTS:
        assert secret not in text, secret


# ------------------------------------------------------------------ identity


READS = [
    *(f"tickets/{i}" for i in range(1, 7)),
    "tickets",
    "tickets/search/acme",
    "customers",
    "customers/1",
    "customers/2",
    "customers/search/london",
    "contacts/1",
    "contacts/1/2",
    "contacts/2",
    "contacts/search/jane",
    "tickets/999",
    "customers/999",
    "contacts/999",
    # module 3.x list options
    "tickets?page=2&per_page=2",
    "tickets?page=1&per_page=4&sort=-priority,ticketid&fields=subject,priority",
    "tickets?sort=-date",
    "tickets?created_after=2024-03-02&created_before=2024-03-04",
    "tickets?page=9",
    "customers?page=1&per_page=1",
    "contacts/1?fields=email",
]


async def test_reads_answer_what_the_module_answers(gateway: Gateway) -> None:
    for path in READS:
        status, body = await get(gateway, path)
        sim_status, sim_body = await sim_get(gateway, path)
        assert status == sim_status, path
        assert body == without_secrets(sim_body), path
        no_secrets(body)
        if status == 200:
            strings_or_null(body)


async def test_contact_rows_never_carry_secrets(gateway: Gateway) -> None:
    _, raw = await sim_get(gateway, "contacts/1")
    assert any(row.get("password", "").startswith("$2y$") for row in raw)  # the module does send them
    for path in ("contacts/1", "contacts/1/1", "contacts/search/acme", "tickets/1", "tickets"):
        status, body = await get(gateway, path)
        assert status == 200
        no_secrets(body)


# ------------------------------------------------------------------ 3.x lists


async def test_paging_envelope_and_list_options(gateway: Gateway) -> None:
    status, body = await get(gateway, "tickets", page="1", per_page="4")
    assert status == 200 and set(body) == {"data", "meta"}
    assert [r["ticketid"] for r in body["data"]] == ["1", "2", "3", "4"]
    assert body["meta"] == {
        "page": 1, "per_page": 4, "total": 6, "total_pages": 2, "has_more": True, "current_page": 1, "last_page": 2,
    }  # fmt: skip
    _, page2 = await get(gateway, "tickets", page="2", per_page="4", sort="-ticketid", fields="subject")
    assert page2["data"] == [{"ticketid": "2", "subject": page2["data"][0]["subject"]}, page2["data"][1]]
    assert [r["ticketid"] for r in page2["data"]] == ["2", "1"] and page2["meta"]["has_more"] is False
    assert await get(gateway, "tickets", page="9") == (404, {"status": False, "message": "No data were found"})
    # limit is per_page's alias only with page
    _, limited = await get(gateway, "tickets", page="1", limit="2")
    assert len(limited["data"]) == 2
    _, legacy = await get(gateway, "tickets", limit="2")
    assert isinstance(legacy, list) and len(legacy) == 6


async def test_bad_list_options_are_validation_errors(gateway: Gateway) -> None:
    for query in ({"per_page": "101"}, {"page": "0"}, {"sort": "nosuchcolumn"}, {"created_after": "yesterday"}):
        status, body = await get_q(gateway, "tickets", query)
        assert status == 422, query
        assert body["status"] is False and body["error"] == "validation_failed"
        assert body["message"] == "The given data was invalid." and set(body["errors"]) == set(query)


async def test_created_filter_empty_is_no_data(gateway: Gateway) -> None:
    status, body = await get(gateway, "tickets", created_after="2099-01-01")
    assert (status, body) == (404, {"status": False, "message": "No data were found"})


async def test_generation_2_plain_arrays_and_its_token_error(gen2: Gateway) -> None:
    status, body = await get(gen2, "tickets", page="1", per_page="2")
    assert status == 200 and isinstance(body, list) and len(body) == 6
    status, body = await get(gen2, "tickets/1", headers={"authtoken": "nope"})
    assert (status, body) == (404, {"status": False, "message": "Token is not defined."})
    async with gen2.session.post(gen2.url + P + "contacts", data=_contact("g2@x.example"), headers=TOKEN) as r:
        assert r.status == 200 and await r.json() == {"status": True, "message": "Contact added successfully."}


# ------------------------------------------------------------------ writes


def _ticket(subject: str = "Through the PMP dialect") -> dict[str, str]:
    return {"subject": subject, "department": "2", "contactid": "1", "userid": "1", "message": "Hello", "priority": "3"}


def _contact(email: str) -> dict[str, str]:
    return {"customer_id": "1", "firstname": "New", "lastname": "Person", "email": email, "password": "pw-12345"}


async def post(gw: Gateway, path: str, form: dict[str, str], **headers: str) -> tuple[int, Any]:
    async with gw.session.post(gw.url + P + path, data=form, headers={**TOKEN, **headers}) as r:
        return r.status, await r.json()


async def test_create_read_update_delete_a_ticket(gateway: Gateway) -> None:
    status, created = await post(gateway, "tickets", _ticket())
    assert status == 200 and created["status"] is True and created["message"] == "Ticket add successful."
    new_id = created["record_id"]
    stored = gateway.sim.get_ticket(new_id)
    assert stored is not None and stored["subject"] == "Through the PMP dialect"
    status, row = await get(gateway, f"tickets/{new_id}")
    assert status == 200 and row["priority"] == "3" and row["priority_name"] == "High"
    async with gateway.session.put(gateway.url + P + f"tickets/{new_id}", json={"status": "5"}, headers=TOKEN) as r:
        assert (r.status, await r.json()) == (200, {"status": True, "message": "Ticket Update Successful."})
    assert (await get(gateway, f"tickets/{new_id}"))[1]["status_name"] == "Closed"
    async with gateway.session.delete(gateway.url + P + f"delete/tickets/{new_id}", headers=TOKEN) as r:
        assert (r.status, await r.json()) == (200, {"status": True, "message": "Ticket Delete Successful."})
    assert await get(gateway, f"tickets/{new_id}") == (404, {"status": False, "message": "No data were found"})


async def test_contact_create_answers_its_id(gateway: Gateway) -> None:
    status, created = await post(gateway, "contacts", _contact("new.person@acme.example"))
    assert status == 200 and created["message"] == "Contact added successfully."
    status, row = await get(gateway, f"contacts/1/{created['record_id']}")
    assert status == 200 and row["email"] == "new.person@acme.example"
    no_secrets(row)


# ------------------------------------------------------------------ idempotency


async def test_a_retry_with_the_same_key_gets_the_first_answer(gateway: Gateway) -> None:
    before = gateway.sim.count_tickets()
    first = await post(gateway, "tickets", _ticket("once"), **{"Idempotency-Key": "k-1"})
    writes = gateway.backend_calls
    again = await post(gateway, "tickets", _ticket("once"), **{"Idempotency-Key": "k-1"})
    assert first == again and first[0] == 200
    assert gateway.backend_calls == writes  # the retry did not reach the backend
    assert gateway.sim.count_tickets() == before + 1
    other = await post(gateway, "tickets", _ticket("twice"), **{"Idempotency-Key": "k-2"})
    assert other[1]["record_id"] != first[1]["record_id"]
    # a key is the credential's own: another client's same key is another request
    async with gateway.session.post(
        gateway.url + P + "tickets", data=_ticket("b"), headers={"authtoken": "demo-secret", "Idempotency-Key": "k-1"}
    ) as r:
        assert (await r.json())["record_id"] not in (first[1]["record_id"], other[1]["record_id"])
    assert gateway.sim.count_tickets() == before + 3


async def test_concurrent_duplicates_write_once(gateway: Gateway) -> None:
    before = gateway.sim.count_tickets()
    answers = await asyncio.gather(
        *(post(gateway, "tickets", _ticket("raced"), **{"Idempotency-Key": "race"}) for _ in range(4))
    )
    assert all(a == answers[0] for a in answers) and answers[0][0] == 200
    assert gateway.sim.count_tickets() == before + 1


async def test_a_refused_create_is_replayed_not_retried(gateway: Gateway) -> None:
    bad = {"subject": "x", "contactid": "1", "userid": "1"}
    first = await post(gateway, "tickets", bad, **{"Idempotency-Key": "bad"})
    assert first[0] == 422
    assert await post(gateway, "tickets", _ticket(), **{"Idempotency-Key": "bad"}) == first


# ------------------------------------------------------------------ errors


async def test_errors_in_the_modules_shape(gateway: Gateway) -> None:
    assert await get(gateway, "tickets/1", headers={}) == (401, {"status": False, "message": "Token is not defined."})
    assert await get(gateway, "tickets/1", headers={"authtoken": "demo-secret-wrong"}) == (
        401,
        {"status": False, "message": "Token is not defined."},
    )
    status, _ = await get(gateway, "tickets/1", headers={}, authtoken="ops-secret")
    assert status == 200
    assert await get(gateway, "tickets/abc") == (404, {"status": False, "message": "No data were found"})
    assert await get(gateway, "no/such/route") == (404, {"status": False, "message": "No data were found"})
    for method, path in (("GET", "/perfex"), ("PATCH", P + "tickets/1"), ("POST", P + "tickets/1")):
        async with gateway.session.request(method, gateway.url + path, headers=TOKEN) as r:
            assert (r.status, await r.json()) == (404, {"status": False, "message": "No data were found"}), path
    async with gateway.session.delete(gateway.url + P + "staffs/1", headers=TOKEN) as r:
        body = await r.json()
        assert r.status == 501 and body["status"] is False and "nothing was written" in body["message"]
    status, body = await post(gateway, "contacts", {"customer_id": "1", "firstname": "x", "lastname": "y"})
    assert status == 422 and body["errors"] == {"email": "The Email field is required."}


async def test_body_too_large_and_rate_limit(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        access_log=False,
        clients=(ClientCredential(identifier="ops", secret="ops-secret"),),
        limits=LimitSettings(max_body_bytes=2048, rate_per_second=0.001, rate_burst=1),
    )
    runner, url = await start_gateway(settings)
    try:
        async with aiohttp.ClientSession() as session:
            big = {**_ticket(), "message": "x" * 5000}
            async with session.post(url + P + "tickets", data=big, headers=TOKEN) as r:
                assert r.status == 413 and (await r.json())["status"] is False
            async with session.get(url + P + "tickets/1", headers=TOKEN) as r:
                assert r.status == 200
            async with session.get(url + P + "tickets/1", headers=TOKEN) as r:
                assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
                assert (await r.json())["status"] is False
    finally:
        await runner.cleanup()


def _real_backend(url: str, tmp_path: Path, timeout: float = 1.5) -> web.Application:
    return create_app(
        Settings(
            backend=BackendSettings(url=url, token="t", timeout=timeout, connect_timeout=0.5, retries=0),
            clients=(ClientCredential(identifier="ops", secret="ops-secret"),),
            data_dir=tmp_path,
            access_log=False,
        )
    )


async def test_backend_down_and_hanging(tmp_path: Path) -> None:
    seen: list[str] = []
    async with (
        _nothing(closed_port()) as down,
        serve(_real_backend(down, tmp_path / "a")) as gw,
        aiohttp.ClientSession() as session,
        session.get(gw + "perfex/api/tickets/1", headers=TOKEN) as r,
    ):
        assert r.status == 503 and (await r.json())["status"] is False
    async with (
        serve(fault_app(_hang, seen)) as hanging,
        serve(_real_backend(hanging, tmp_path / "b")) as gw,
        aiohttp.ClientSession() as session,
        session.get(gw + "perfex/api/tickets/1", headers=TOKEN) as r,
    ):
        body = await r.json()
        assert r.status == 504 and body["status"] is False and "Traceback" not in body["message"]


async def test_a_write_whose_outcome_is_unknown_is_502(tmp_path: Path) -> None:
    posted: list[bool] = []

    async def backend(request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            posted.append(True)
            assert request.transport is not None
            request.transport.close()  # the create was sent; no answer comes back
            return web.Response()
        if posted:  # and the backend cannot be asked whether it was made
            return web.Response(status=500, text="<h1>Database Error</h1>", content_type="text/html")
        if request.path == "/api/customers/1":
            return web.json_response({"userid": "1", "company": "Acme", "active": "1"})
        if request.path == "/api/contacts/1":
            return web.json_response([{"id": "1", "userid": "1", "is_primary": "1", "email": "a@b.example"}])
        return web.json_response({"status": False, "message": "No data were found"}, status=404)

    seen: list[str] = []
    async with (
        serve(fault_app(backend, seen)) as url,
        serve(_real_backend(url, tmp_path)) as gw,
        aiohttp.ClientSession() as session,
        session.post(gw + "perfex/api/tickets", data=_ticket(), headers=TOKEN) as r,
    ):
        body = await r.json()
    assert r.status == 502 and body["status"] is False, body
    assert seen.count("POST /api/tickets") == 1


def test_a_prefix_colliding_with_another_dialect_is_refused(tmp_path: Path) -> None:
    for prefix in ("", "/api", "/includes"):
        with pytest.raises(SettingsError, match="collide"):
            create_app(Settings(data_dir=tmp_path, dialects={"pmp": DialectSettings(prefix=prefix)}))
    create_app(Settings(data_dir=tmp_path, dialects={"pmp": DialectSettings(prefix="/crm")}))


def test_translate_a_backend_row_for_a_pmp_client(tmp_path: Path) -> None:
    db = pmp_sim.SimDB(tmp_path / "sim.sqlite3", seed_demo=True)
    row = db.ticket_rows_joined(1)[0]
    db.close()
    source = tmp_path / "row.json"
    source.write_text(json.dumps(row), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "translate",
            "--dialect",
            "pmp",
            "--action",
            "GetTicket",
            "--response",
            str(source),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout) == without_secrets(row)
