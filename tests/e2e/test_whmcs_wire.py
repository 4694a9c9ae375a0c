"""The WHMCS wire: authentication forms, action lookup, query/body merging, JSON/XML/legacy formats."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any
from urllib.parse import urlsplit

import pytest
import whmcs_client
import whmcspy
from whmcs_client.exceptions import ApiException
from whmcspy import exceptions as whmcspy_errors

from tests.conftest import Gateway
from tests.e2e.conftest import (
    API,
    DEMO_ID,
    DEMO_MD5,
    DEMO_SECRET,
    in_thread,
    parse_nvp,
    parse_xml,
    raw,
)

AUTH_FAILED = {"result": "error", "message": "Authentication Failed"}


# ------------------------------------------------------------------ credentials


@pytest.mark.parametrize(
    "creds",
    [
        {"identifier": DEMO_ID, "secret": DEMO_SECRET},
        {"username": DEMO_ID, "password": DEMO_SECRET},
        {"username": DEMO_ID, "password": DEMO_MD5},
        {"username": DEMO_ID, "password": DEMO_MD5.upper()},
        {"identifier": "ops", "secret": "ops-secret"},  # a configured --client
        {"username": "ops", "password": hashlib.md5(b"ops-secret").hexdigest()},
        {"identifier": DEMO_ID, "secret": DEMO_SECRET, "accesskey": "anything!@#"},
    ],
    ids=["identifier", "username-plain", "username-md5", "username-MD5", "client", "client-md5", "accesskey"],
)
async def test_auth_accepted(gateway: Gateway, creds: dict[str, str]) -> None:
    status, ctype, text = await raw(gateway, {"action": "GetTicket", "ticketid": "1", "responsetype": "json", **creds})
    assert status == 200 and ctype == "application/json"
    assert '"result":"success"' in text


@pytest.mark.parametrize(
    "creds",
    [
        {},
        {"identifier": DEMO_ID},
        {"identifier": DEMO_ID, "secret": ""},
        {"identifier": DEMO_ID, "secret": "wrong"},
        {"identifier": "nobody", "secret": DEMO_SECRET},
        {"identifier": DEMO_ID, "secret": "ops-secret"},  # another client's secret
        {"username": DEMO_ID, "password": "wrong"},
        {"username": DEMO_ID},
        {"password": DEMO_SECRET},
        {"secret": DEMO_SECRET},
        {"username": DEMO_ID, "password": hashlib.md5(b"wrong").hexdigest()},
        {"username": DEMO_ID, "password": hashlib.md5(DEMO_MD5.encode()).hexdigest()},  # md5 twice
        {"accesskey": DEMO_SECRET},
    ],
)
async def test_auth_refused_before_any_backend_call(gateway: Gateway, creds: dict[str, str]) -> None:
    calls = gateway.backend_calls
    status, ctype, text = await raw(gateway, {"action": "GetTicket", "ticketid": "1", "responsetype": "json", **creds})
    assert status == 403 and ctype == "application/json"
    assert text == '{"result":"error","message":"Authentication Failed"}'
    assert gateway.backend_calls == calls


async def test_auth_refused_write_writes_nothing(gateway: Gateway) -> None:
    calls, before = gateway.backend_calls, gateway.sim.count_tickets()
    data = {"action": "OpenTicket", "identifier": DEMO_ID, "secret": "nope", "responsetype": "json"}
    status, _, _ = await raw(gateway, {**data, "deptid": "1", "subject": "s", "message": "m", "clientid": "1"})
    assert status == 403
    assert (gateway.backend_calls, gateway.sim.count_tickets()) == (calls, before)


async def test_auth_refused_unknown_action_still_403(gateway: Gateway) -> None:
    status, _, text = await raw(
        gateway, {"action": "NoSuchAction", "identifier": DEMO_ID, "secret": "x", "responsetype": "json"}
    )
    assert status == 403 and "Authentication Failed" in text


async def test_auth_refused_xml_and_legacy(gateway: Gateway) -> None:
    calls = gateway.backend_calls
    status, ctype, text = await raw(gateway, {"action": "GetTicket", "ticketid": "1", "responsetype": "xml"})
    assert status == 403 and ctype in ("application/xml", "text/xml")
    root = parse_xml(text)
    assert root.tag == "whmcsapi"
    assert (root.findtext("result"), root.findtext("message")) == ("error", "Authentication Failed")
    status, ctype, text = await raw(gateway, {"action": "GetTicket", "ticketid": "1"})
    assert status == 403 and ctype == "text/plain"
    assert text == "result=error;message=Authentication Failed;"
    assert gateway.backend_calls == calls


async def test_auth_refused_in_libraries(gateway: Gateway) -> None:
    bad = whmcspy.WHMCS(gateway.url + API, DEMO_ID, "wrong")
    with pytest.raises(whmcspy_errors.MissingPermission, match="Authentication Failed"):
        await in_thread(bad.call, "GetTickets")
    config = whmcs_client.Configuration(host=gateway.url + "/includes")
    with whmcs_client.ApiClient(config) as api_client:
        api = whmcs_client.DefaultApi(api_client)
        with pytest.raises(ApiException) as info:
            await in_thread(api.get_clients, username=DEMO_ID, password="wrong", responsetype="json")
    assert info.value.status == 403 and "Authentication Failed" in str(info.value.body)


# -------------------------------------------------------------- action, query, body


@pytest.mark.parametrize("action", ["GetTicket", "getticket", "GETTICKET", "gEtTiCkEt"])
async def test_action_any_case(gateway: Gateway, action: str) -> None:
    status, body = await gateway.whmcs(action, ticketid="2")
    assert status == 200 and body["ticketid"] == "2"
    _, text = await gateway.whmcs(action, fmt="xml", ticketid="2")
    assert parse_xml(text).findtext("action") == "getticket"


async def test_action_in_query_rest_in_body(gateway: Gateway) -> None:
    # what whmcs-api-client does: POST /includes/api.php?action=GetClients, the rest form-encoded
    status, ctype, text = await raw(
        gateway,
        {"username": DEMO_ID, "password": DEMO_SECRET, "responsetype": "json", "ticketid": "3"},
        query={"action": "GetTicket"},
    )
    assert status == 200 and ctype == "application/json" and '"ticketid":"3"' in text


async def test_everything_in_query(gateway: Gateway) -> None:
    query = {
        "action": "getticket",
        "identifier": DEMO_ID,
        "secret": DEMO_SECRET,
        "ticketid": "4",
        "responsetype": "json",
    }
    status, _, text = await raw(gateway, None, query=query)
    assert status == 200 and '"ticketid":"4"' in text
    async with gateway.session.get(gateway.url + API, params=query) as resp:
        assert resp.status == 200 and (await resp.json())["ticketid"] == "4"


async def test_body_wins_over_query(gateway: Gateway) -> None:
    status, _, text = await raw(
        gateway,
        {"action": "GetTicket", "identifier": DEMO_ID, "secret": DEMO_SECRET, "ticketid": "5", "responsetype": "json"},
        query={"ticketid": "1"},
    )
    assert status == 200 and '"ticketid":"5"' in text


@pytest.mark.parametrize("action", ["NoSuchThing", "GetInvoices", "AddOrder"])
async def test_unknown_action(gateway: Gateway, action: str) -> None:
    calls = gateway.backend_calls
    status, body = await gateway.whmcs(action)
    assert status == 200 and body == {"result": "error", "message": "Command Not Found"}
    _, text = await gateway.whmcs(action, fmt=None)
    assert text == "result=error;message=Command Not Found;"
    assert gateway.backend_calls == calls


async def test_missing_action(gateway: Gateway) -> None:
    status, _, text = await raw(gateway, {"identifier": DEMO_ID, "secret": DEMO_SECRET, "responsetype": "json"})
    assert status == 200 and text == '{"result":"error","message":"Command Not Found"}'


async def test_body_too_large(gateway: Gateway) -> None:
    """A declared body over the limit is refused before it is read (raw socket: an aiohttp client
    would keep uploading and the server would linger on the rest of the body)."""
    calls = gateway.backend_calls
    url = urlsplit(gateway.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        head = (
            f"POST {API}?action=OpenTicket&identifier={DEMO_ID}&secret={DEMO_SECRET} HTTP/1.1\r\n"
            f"Host: {url.netloc}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {3 << 20}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + b"message=" + b"x" * 65536)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    assert status_line.split()[1] == b"413"
    assert gateway.backend_calls == calls


# ------------------------------------------------------------------------ formats


def xml_equals_json(elem: Any, value: Any, path: str = "") -> None:
    """``elem`` renders ``value`` as WHMCS does: containers wrap repeated singular elements."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), list):
                (singular, items), container = next(iter(item.items())), elem.find(key)
                assert container is not None, f"{path}/{key} missing"
                children = list(container)
                assert [c.tag for c in children] == [singular] * len(items), f"{path}/{key}"
                for i, (child, sub) in enumerate(zip(children, items, strict=True)):
                    xml_equals_json(child, sub, f"{path}/{key}/{singular}[{i}]")
            elif isinstance(item, list):
                found = elem.findall(key)
                assert [e.text or "" for e in found] == [str(x) for x in item], f"{path}/{key}"
            else:
                child = elem.find(key)
                assert child is not None, f"{path}/{key} missing"
                xml_equals_json(child, item, f"{path}/{key}")
    else:
        expected = (
            {True: "true", False: "false", None: ""}.get(value, value)
            if not isinstance(value, int | str) or isinstance(value, bool)
            else value
        )
        assert (elem.text or "") == str(expected), f"{path}: {elem.text!r} != {value!r}"


READS = [
    ("GetTicket", {"ticketid": "3"}),
    ("GetTicket", {"ticketid": "2"}),
    ("GetTickets", {}),
    ("GetTickets", {"status": "Customer-Reply"}),
    ("GetTicketNotes", {"ticketid": "1"}),
    ("GetSupportDepartments", {}),
    ("GetSupportStatuses", {}),
    ("GetTicketCounts", {}),
    ("GetClients", {}),
    ("GetClientsDetails", {"clientid": "3"}),
    ("GetContacts", {}),
]


@pytest.mark.parametrize(("action", "params"), READS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(READS)])
async def test_xml_mirrors_json(gateway: Gateway, action: str, params: dict[str, str]) -> None:
    _, as_json = await gateway.whmcs(action, **params)
    assert as_json["result"] == "success"
    status, ctype, text = await raw(
        gateway, {"action": action, "identifier": DEMO_ID, "secret": DEMO_SECRET, "responsetype": "xml", **params}
    )
    assert status == 200 and ctype in ("application/xml", "text/xml")
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = parse_xml(text)
    assert root.tag == "whmcsapi" and root.get("version") == "8.13.1"
    assert root[0].tag == "action" and root[0].text == action.lower()
    tags = [c.tag for c in root][1:]
    assert [t for i, t in enumerate(tags) if i == 0 or tags[i - 1] != t] == list(as_json)  # JSON order
    xml_equals_json(root, as_json)


async def test_xml_error_envelope(gateway: Gateway) -> None:
    status, text = await gateway.whmcs("GetTicket", fmt="xml", ticketid="999")
    assert status == 200
    root = parse_xml(text)
    assert root.tag == "whmcsapi"
    assert (root.findtext("result"), root.findtext("message")) == ("error", "Ticket ID Not Found")


@pytest.mark.parametrize(
    ("action", "params", "expected"),
    [
        ("UpdateTicket", {"ticketid": "1", "priority": "High"}, "result=success;ticketid=1;"),
        ("DeleteTicket", {"ticketid": "6"}, "result=success;"),
        ("GetTicket", {"ticketid": "999"}, "result=error;message=Ticket ID Not Found;"),
        ("UpdateClient", {"clientid": "1", "city": "Leeds"}, "result=success;clientid=1;"),
    ],
)
async def test_legacy_default_nvp_for_flat(
    gateway: Gateway, action: str, params: dict[str, str], expected: str
) -> None:
    status, ctype, text = await raw(gateway, {"action": action, "identifier": DEMO_ID, "secret": DEMO_SECRET, **params})
    assert status == 200 and ctype == "text/plain"
    assert text == expected


async def test_legacy_default_open_ticket_nvp(gateway: Gateway) -> None:
    data = {"action": "OpenTicket", "identifier": DEMO_ID, "secret": DEMO_SECRET}
    _, ctype, text = await raw(gateway, {**data, "deptid": "1", "subject": "s", "message": "m", "clientid": "1"})
    assert ctype == "text/plain"
    fields = parse_nvp(text)
    assert list(fields) == ["result", "id", "tid", "c"] and fields["result"] == "success"


@pytest.mark.parametrize("action", ["GetTicket", "GetTickets", "GetClients", "GetTicketCounts"])
async def test_legacy_default_xml_for_nested(gateway: Gateway, action: str) -> None:
    status, ctype, text = await raw(
        gateway, {"action": action, "identifier": DEMO_ID, "secret": DEMO_SECRET, "ticketid": "1"}
    )
    assert status == 200 and ctype in ("application/xml", "text/xml")
    root = parse_xml(text)
    assert root.tag == "whmcsapi" and root.findtext("action") == action.lower()


@pytest.mark.parametrize("fmt", ["json", "JSON", "Json"])
async def test_responsetype_case(gateway: Gateway, fmt: str) -> None:
    status, ctype, _ = await raw(
        gateway,
        {"action": "GetTicket", "identifier": DEMO_ID, "secret": DEMO_SECRET, "ticketid": "1", "responsetype": fmt},
    )
    assert status == 200 and ctype == "application/json"


async def test_responsetype_nvp_explicit(gateway: Gateway) -> None:
    _, ctype, text = await raw(
        gateway,
        {
            "action": "DeleteTicket",
            "identifier": DEMO_ID,
            "secret": DEMO_SECRET,
            "ticketid": "99",
            "responsetype": "nvp",
        },
    )
    assert ctype == "text/plain" and text == "result=error;message=Ticket ID not found;"
