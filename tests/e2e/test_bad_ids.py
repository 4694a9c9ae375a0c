"""Ids that name no record (<= 0) are refused in every dialect before anything is written.

Issue 10 item 8: ``clientid=-5`` once opened a guest ticket with no name and no
email; the ``int?`` transform lets negatives through, so the hub refuses them.
Each case checks the answer in the client's dialect and that the simulator saw
no write (``writes``) and, where the check needs no read, no request at all.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Gateway
from tests.e2e.conftest import writes

KEY = "demo-secret"
OPEN = {"deptid": "1", "subject": "negative ids", "message": "should not be written"}


async def _rest(gw: Gateway, method: str, path: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
    async with gw.session.request(method, gw.url + path, data=data, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def _readydesk(gw: Gateway, **params: str) -> dict[str, Any]:
    query = {"key": KEY, "format": "json", **params}
    async with gw.session.post(gw.url + "/API/default.aspx", data=query) as r:
        assert r.status == 200
        body: dict[str, Any] = json.loads(await r.text())
        return body


@pytest.mark.parametrize(
    ("action", "params", "message"),
    [
        ("OpenTicket", {**OPEN, "clientid": "-5"}, "Client ID Not Found"),
        ("OpenTicket", {**OPEN, "clientid": "-5", "name": "A", "email": "a@example.com"}, "Client ID Not Found"),
        ("OpenTicket", {**OPEN, "clientid": "1", "contactid": "-2"}, "Contact ID Not Found"),
        ("OpenTicket", {**OPEN, "deptid": "-1", "name": "A", "email": "a@example.com"}, "Department ID not found"),
        ("AddTicketReply", {"ticketid": "1", "clientid": "-1", "message": "x"}, "Client ID Not Found"),
        ("AddTicketReply", {"ticketid": "-1", "clientid": "1", "message": "x"}, "Ticket ID not found"),
        ("UpdateTicket", {"ticketid": "1", "userid": "-3"}, "Client ID Not Found"),
        ("UpdateTicket", {"ticketid": "1", "deptid": "-3"}, "Department ID not found"),
        ("UpdateTicket", {"ticketid": "-1", "subject": "x"}, "Ticket ID Not Found"),
        ("DeleteTicket", {"ticketid": "-1"}, "Ticket ID not found"),
        ("AddContact", {"clientid": "-1", "firstname": "A", "email": "n@example.com"}, "Client ID Not Found"),
        ("AddContact", {"clientid": "0", "firstname": "A", "email": "n@example.com"}, "Client ID Not Found"),
        ("UpdateClient", {"clientid": "-1", "firstname": "A"}, "Client ID Not Found"),
        ("GetClientsDetails", {"clientid": "-1"}, "Client Not Found"),
    ],
)
async def test_whmcs_refuses_ids_that_name_no_record(
    gateway: Gateway, action: str, params: dict[str, str], message: str
) -> None:
    before_writes, before_calls = writes(gateway), gateway.backend_calls
    status, body = await gateway.whmcs(action, **params)
    assert (status, body) == (200, {"result": "error", "message": message})
    assert writes(gateway) == before_writes
    if action in ("OpenTicket", "AddContact", "GetClientsDetails", "UpdateClient") and "contactid" not in params:
        assert gateway.backend_calls == before_calls  # refused before any backend call


async def test_keliweb_open_ticket_with_a_negative_client_is_not_found(gateway: Gateway) -> None:
    before = writes(gateway)
    status, body = await _rest(
        gateway, "POST", "/api/v2/keliweb/open-ticket", {**OPEN, "clientid": "-5"}, {"Authorization": f"Bearer {KEY}"}
    )
    assert (status, body) == (404, {"result": "error", "message": "Client ID Not Found"})
    assert writes(gateway) == before


async def test_clientexec_open_ticket_with_a_negative_user_is_not_found(gateway: Gateway) -> None:
    before = writes(gateway)
    form = {"departmentid": "1", "subject": "s", "message": "m", "userid": "-1"}
    status, body = await _rest(gateway, "POST", "/api/ticket", form, {"X-API-KEY": KEY})
    assert (status, body) == (404, {"error": True, "message": "User not found"})
    assert writes(gateway) == before


async def test_clientexec_reply_with_a_negative_user_is_not_found(gateway: Gateway) -> None:
    before = writes(gateway)
    status, body = await _rest(
        gateway, "POST", "/api/ticket/1/reply", {"message": "m", "userid": "-1"}, {"X-API-KEY": KEY}
    )
    assert (status, body) == (404, {"error": True, "message": "User not found"})
    assert writes(gateway) == before


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "add_ticket", "cid": "-1", "subject": "s", "summary": "m"}, "Customer not found"),
        (
            {"action": "add_ticket", "cid": "1", "subject": "s", "summary": "m", "assigned_tech": "-4"},
            "Technician not found",
        ),
        ({"action": "update_ticket", "tid": "1", "cid": "-1"}, "Customer not found"),
        ({"action": "update_ticket", "tid": "-1", "subject": "x"}, "Ticket not found"),
    ],
)
async def test_readydesk_refuses_ids_that_name_no_record(
    gateway: Gateway, params: dict[str, str], message: str
) -> None:
    before = writes(gateway)
    assert await _readydesk(gateway, **params) == {"error": message}
    assert writes(gateway) == before


async def test_zero_is_whmcs_none_a_guest_still_needs_a_name(gateway: Gateway) -> None:
    before = writes(gateway)
    _, body = await gateway.whmcs("OpenTicket", **OPEN, clientid="0")
    assert body == {"result": "error", "message": "Name and email address are required if not a client"}
    assert writes(gateway) == before
