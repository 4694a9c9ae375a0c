"""Transport and authentication of the WHMCS simulator (reference 1.1-1.4), over real sockets."""

from __future__ import annotations

import hashlib

import pytest

from gateway.whmcs_sim import DEMO_ADMIN_PASSWORD, Credential
from tests.whmcs_sim.conftest import AUTH, IDENT, SECRET, Sim, SimFactory, parse_nvp


async def test_identifier_and_secret(sim: Sim) -> None:
    body = await sim.ok("GetSupportStatuses")
    assert body["totalresults"] == 6


async def test_api_credential_in_legacy_fields(sim: Sim) -> None:
    status, body = await sim.json("GetSupportStatuses", auth={"username": IDENT, "password": SECRET})
    assert status == 200 and body["result"] == "success"


async def test_admin_login_with_md5_password(sim: Sim) -> None:
    md5 = hashlib.md5(DEMO_ADMIN_PASSWORD.encode()).hexdigest()
    status, body = await sim.json("GetSupportStatuses", auth={"username": "alice", "password": md5})
    assert status == 200 and body["result"] == "success"


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"identifier": IDENT},
        {"identifier": IDENT, "secret": "wrong"},
        {"identifier": "nobody", "secret": SECRET},
        {"username": IDENT, "password": hashlib.md5(SECRET.encode()).hexdigest()},  # md5 of a secret: no
        {"username": "alice", "password": DEMO_ADMIN_PASSWORD},  # an admin's plain password: no
        {"username": "alice", "password": hashlib.md5(b"other").hexdigest()},
        {"identifier": "alice", "secret": hashlib.md5(DEMO_ADMIN_PASSWORD.encode()).hexdigest()},
    ],
)
async def test_authentication_failed(sim: Sim, auth: dict[str, str]) -> None:
    before = sim.stats.calls.copy()
    status, body = await sim.json("GetTickets", auth=auth)
    assert status == 403
    assert body == {"result": "error", "message": "Authentication Failed"}
    assert sim.stats.calls == before


async def test_authentication_failed_legacy_format(sim: Sim) -> None:
    status, ctype, text = await sim.raw("GetTickets", auth={"identifier": "x", "secret": "y"})
    assert (status, text) == (403, "result=error;message=Authentication Failed;")
    assert ctype == "text/html"


async def test_unknown_action_is_command_not_found(sim: Sim) -> None:
    status, body = await sim.json("NoSuchAction")
    assert (status, body) == (200, {"result": "error", "message": "Command Not Found"})
    status, body = await sim.json("")
    assert body["message"] == "Command Not Found"


async def test_unknown_action_still_needs_credentials(sim: Sim) -> None:
    status, body = await sim.json("NoSuchAction", auth={})
    assert (status, body["message"]) == (403, "Authentication Failed")


@pytest.mark.parametrize("name", ["GetTicket", "getticket", "GETTICKET", "gEtTiCkEt"])
async def test_action_name_any_case(sim: Sim, name: str) -> None:
    body = await sim.ok(name, ticketid=1)
    assert body["ticketid"] == "1"


async def test_parameters_from_query_string(sim: Sim) -> None:
    # whmcs-api-client sends the action only in the query string
    async with sim.session.post(
        sim.api, params={"action": "GetTicket", "responsetype": "json"}, data={**AUTH, "ticketid": "3"}
    ) as resp:
        body = await resp.json()
    assert body["ticketid"] == "3"
    # everything in the query string (the access-key page's form)
    async with sim.session.post(sim.api, params={**AUTH, "action": "getticket", "ticketid": "2"}) as resp:
        text = await resp.text()
    assert resp.content_type == "application/xml" and "<ticketid>2</ticketid>" in text


async def test_body_wins_over_query(sim: Sim) -> None:
    async with sim.session.post(
        sim.api, params={"ticketid": "2"}, data={**AUTH, "action": "GetTicket", "ticketid": "3", "responsetype": "json"}
    ) as resp:
        assert (await resp.json())["ticketid"] == "3"


async def test_multipart_body(sim: Sim) -> None:
    import aiohttp

    form = aiohttp.FormData()
    for key, value in {**AUTH, "action": "GetTicket", "ticketid": "4", "responsetype": "json"}.items():
        form.add_field(key, value)
    form._is_multipart = True
    async with sim.session.post(sim.api, data=form) as resp:
        assert (await resp.json())["ticketid"] == "4"


# ------------------------------------------------------------------ IP allow-list and access key


async def test_ip_allow_list_refuses_others(make_sim: SimFactory) -> None:
    sim = await make_sim(allowed_ips=["10.9.9.9"])
    status, body = await sim.json("GetTickets")
    assert (status, body) == (403, {"result": "error", "message": "Invalid IP 127.0.0.1"})
    # checked before the credential: a wrong secret gets the same answer
    status, body = await sim.json("GetTickets", auth={"identifier": IDENT, "secret": "wrong"})
    assert (status, body["message"]) == (403, "Invalid IP 127.0.0.1")


async def test_ip_allow_list_admits_listed(make_sim: SimFactory) -> None:
    sim = await make_sim(allowed_ips=["127.0.0.1"])
    await sim.ok("GetTickets")


async def test_access_key_bypasses_ip_list_but_not_credentials(make_sim: SimFactory) -> None:
    sim = await make_sim(allowed_ips=[], access_key="k3y!@#$")
    await sim.ok("GetTickets", accesskey="k3y!@#$")
    status, body = await sim.json("GetTickets", accesskey="wrong")
    assert (status, body["message"]) == (403, "Invalid IP 127.0.0.1")
    status, body = await sim.json("GetTickets", auth={"identifier": IDENT, "secret": "bad"}, accesskey="k3y!@#$")
    assert (status, body["message"]) == (403, "Authentication Failed")


# ------------------------------------------------------------------ API roles


async def test_role_permissions_per_credential(make_sim: SimFactory) -> None:
    limited = Credential("reader", "reader-secret", actions=frozenset({"GetTickets", "getticket"}))
    sim = await make_sim(credentials=[limited])
    auth = {"identifier": "reader", "secret": "reader-secret"}
    status, body = await sim.json("GetTickets", auth=auth)
    assert status == 200 and body["result"] == "success"
    status, body = await sim.json("gEtTiCkEt", auth=auth, ticketid="1")
    assert status == 200 and body["result"] == "success"
    before = sim.db.count_tickets()
    status, body = await sim.json("OpenTicket", auth=auth, deptid="1", subject="s", message="m", clientid="1")
    assert status == 403
    assert body == {"result": "error", "message": 'Invalid Permissions: API action "openticket" is not allowed'}
    assert sim.db.count_tickets() == before
    # the full credential may
    await sim.ok("OpenTicket", deptid=1, subject="s", message="m", clientid=1)


async def test_permission_error_nvp(make_sim: SimFactory) -> None:
    sim = await make_sim(credentials=[Credential("r", "s", actions=frozenset())])
    status, _, text = await sim.raw("GetClients", auth={"identifier": "r", "secret": "s"})
    assert status == 403
    assert parse_nvp(text) == {
        "result": "error",
        "message": 'Invalid Permissions: API action "getclients" is not allowed',
    }


async def test_get_is_answered_too(sim: Sim) -> None:
    async with sim.session.get(
        sim.api, params={**AUTH, "action": "GetTicket", "ticketid": "1", "responsetype": "json"}
    ) as r:
        assert (await r.json())["tid"]


async def test_secrets_never_echoed(sim: Sim) -> None:
    for auth in ({"identifier": IDENT, "secret": "nope-secret-value"}, AUTH):
        _, _, text = await sim.raw("GetTicket", auth=auth, ticketid="1", responsetype="xml")
        assert "nope-secret-value" not in text and SECRET not in text


async def test_hostile_bodies_get_whmcs_answers(sim: Sim) -> None:
    form = "application/x-www-form-urlencoded"
    cases = [
        (b"\xff\xfe not utf-8", form),
        (b'{"action": "GetTickets"}', "application/json"),  # PHP's $_POST ignores JSON bodies
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"", form),
    ]
    for body, ctype in cases:
        async with sim.session.post(sim.api, data=body, headers={"Content-Type": ctype}) as resp:
            assert resp.status == 403
            assert await resp.text() == "result=error;message=Authentication Failed;"


async def test_invalid_utf8_in_a_value_is_replaced(sim: Sim) -> None:
    body = (
        "&".join(f"{k}={v}" for k, v in AUTH.items()) + "&action=OpenTicket&deptid=1&clientid=1&subject=a%ffb&message=m"
    )
    async with sim.session.post(
        sim.api, data=body.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    ) as resp:
        out = parse_nvp(await resp.text())
    assert out["result"] == "success"
    ticket = await sim.ok("GetTicket", ticketid=out["id"])
    assert ticket["subject"] == "a\ufffdb"
