"""Keliweb's WHMCS-compatible REST API (seed 001) against the gateway + embedded PMP simulator."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from gateway.dialects.keliweb import kebab
from tests.conftest import Gateway
from tests.e2e.conftest import _fast_mapping_load, writes  # noqa: F401  (autouse: parse the YAML once)

PREFIX = "/api/v2/keliweb/"
TOKEN = "demo-secret"

# seed 001's example answer: the keys and the value type of each (every value a string)
SEED_001: dict[str, Any] = {
    "result": "success", "ticketid": "1", "tid": "516757", "c": "KPqH7yG3", "deptid": "1",
    "deptname": "Sample Support Department", "userid": "1", "contactid": "0", "name": "Cynthia Reilly",
    "email": "testuser@whmcs.com", "cc": "", "date": "2016-01-01 06:26:29", "subject": "This is a sample ticket",
    "status": "Closed", "priority": "Medium", "admin": "", "lastreply": "2016-01-01 06:30:16", "flag": "0",
    "service": "",
    "replies": {"reply": [{
        "replyid": "0", "userid": "1", "contactid": "0", "name": "Cynthia Reilly", "email": "testuser@whmcs.com",
        "date": "2016-01-01 06:26:29", "message": "Hey, \r\n\r\nThis is the first ticket message!", "attachment": "",
        "admin": "",
    }]},
    "notes": {"note": [{"noteid": "1", "date": "2016-01-01 06:26:42", "message": "This is a ticket note",
                        "admin": "Demo Admin"}]},
}  # fmt: skip


async def post(
    gateway: Gateway,
    action: str,
    fields: dict[str, str] | None = None,
    *,
    token: str | None = TOKEN,
    multipart: bool = False,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, Any]:
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    data: Any = fields or {}
    if multipart:
        form = aiohttp.FormData(default_to_multipart=True)
        for key, value in (fields or {}).items():
            form.add_field(key, value)
        data = form
    async with gateway.session.post(gateway.url + PREFIX + action, data=data, headers=hdrs) as resp:
        return resp.status, resp.content_type, await resp.json(content_type=None)


def same_shape(got: Any, model: Any, path: str = "") -> None:
    """Keys as in the seed; every scalar a string."""
    if isinstance(model, dict):
        assert isinstance(got, dict), path
        assert set(got) == set(model), f"{path}: {sorted(set(got) ^ set(model))}"
        for key in model:
            same_shape(got[key], model[key], f"{path}.{key}")
    elif isinstance(model, list):
        assert isinstance(got, list), path
        for i, item in enumerate(got):
            same_shape(item, model[0], f"{path}[{i}]")
    else:
        assert isinstance(got, str), f"{path} is {type(got).__name__}"


def test_kebab_names() -> None:
    assert kebab("GetTicket") == "get-ticket"
    assert kebab("GetClientsDetails") == "get-clients-details"
    assert kebab("AddTicketReply") == "add-ticket-reply"


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
async def test_get_ticket_seed_shape(gateway: Gateway, multipart: bool) -> None:
    status, ctype, body = await post(gateway, "get-ticket", {"ticketid": "1"}, multipart=multipart)
    assert status == 200 and ctype == "application/json"
    # the demo's staff note (module 3.x's /api/notes), in seed 001's note shape
    assert [n["admin"] for n in body["notes"]["note"]] == ["Alice Admin"]
    same_shape(body, SEED_001)
    row = gateway.sim.get_ticket(1)
    assert row is not None
    assert (body["ticketid"], body["tid"], body["c"]) == ("1", "1", str(row["ticketkey"])[:8])
    assert (body["deptid"], body["deptname"], body["status"], body["priority"]) == (
        "2",
        "Technical Support",
        "Open",
        "Medium",
    )
    assert body["replies"]["reply"][0]["message"] == row["message"]


async def test_get_ticket_same_as_whmcs(gateway: Gateway) -> None:
    _, _, keliweb = await post(gateway, "get-ticket", {"ticketid": "3"})
    _, whmcs = await gateway.whmcs("GetTicket", ticketid="3")
    assert keliweb == whmcs


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
async def test_get_ticket_by_number_and_sort(gateway: Gateway, multipart: bool) -> None:
    _, _, by_id = await post(gateway, "get-ticket", {"ticketid": "5"}, multipart=multipart)
    _, _, by_num = await post(gateway, "get-ticket", {"ticketnum": by_id["tid"]}, multipart=multipart)
    assert by_num == by_id
    replies = by_id["replies"]["reply"]
    assert len(replies) == 2 and replies[0]["date"] <= replies[1]["date"]  # the opening message, then Alice's
    for sort, order in (("ASC", replies), ("DESC", replies[::-1])):
        status, _, body = await post(gateway, "get-ticket", {"ticketid": "5", "repliessort": sort}, multipart=multipart)
        assert status == 200 and body["replies"]["reply"] == order


async def test_parameters_in_query_string(gateway: Gateway) -> None:
    async with gateway.session.post(
        gateway.url + PREFIX + "get-ticket", params={"ticketid": "2"}, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as resp:
        assert resp.status == 200 and (await resp.json())["ticketid"] == "2"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer demo"},  # the identifier is not the key
        {"Authorization": "Basic ZGVtbzpkZW1vLXNlY3JldA=="},
        {"Authorization": TOKEN},
    ],
)
async def test_unauthenticated_no_backend_call(gateway: Gateway, headers: dict[str, str]) -> None:
    calls = gateway.backend_calls
    status, ctype, body = await post(gateway, "get-ticket", {"ticketid": "1"}, token=None, headers=headers)
    assert status == 401 and ctype == "application/json"
    assert body["result"] == "error" and body["message"]
    assert TOKEN not in str(body)
    assert gateway.backend_calls == calls


async def test_unauthenticated_write_no_backend_call(gateway: Gateway) -> None:
    calls, before = gateway.backend_calls, gateway.sim.count_tickets()
    fields = {"deptid": "1", "clientid": "1", "subject": "s", "message": "m"}
    status, _, _ = await post(gateway, "open-ticket", fields, token="nope")
    assert status == 401
    assert (gateway.backend_calls, gateway.sim.count_tickets()) == (calls, before)


async def test_other_client_key_accepted(gateway: Gateway) -> None:
    status, _, body = await post(gateway, "get-ticket", {"ticketid": "1"}, token="ops-secret")
    assert status == 200 and body["result"] == "success"


@pytest.mark.parametrize("fields", [{"ticketid": "999"}, {"ticketnum": "999"}])
async def test_missing_ticket_404(gateway: Gateway, fields: dict[str, str]) -> None:
    status, _, body = await post(gateway, "get-ticket", fields)
    assert status == 404
    assert body == {"result": "error", "message": "Ticket ID Not Found"}


@pytest.mark.parametrize("action", ["get-invoices", "GetTicket", "getticket", "get_ticket", "nothing"])
async def test_unknown_action_404(gateway: Gateway, action: str) -> None:
    calls = gateway.backend_calls
    status, _, body = await post(gateway, action, {"ticketid": "1"})
    assert status == 404 and body["result"] == "error"
    assert gateway.backend_calls == calls


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("get-ticket", {}),
        ("get-ticket", {"ticketid": "abc"}),
        ("get-tickets", {"limitstart": "-x"}),
        ("open-ticket", {"deptid": "1", "clientid": "1", "message": "m"}),
        ("open-ticket", {"deptid": "1", "clientid": "1", "subject": "s", "message": "m", "priority": "Urgent"}),
        ("update-ticket", {"ticketid": "1", "status": "Bogus"}),
        ("add-client", {"firstname": "A"}),
    ],
)
async def test_invalid_input_422(gateway: Gateway, action: str, fields: dict[str, str]) -> None:
    before = writes(gateway)
    status, _, body = await post(gateway, action, fields)
    assert status == 422, body
    assert body["result"] == "error" and body["message"]
    assert writes(gateway) == before


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("open-ticket", {"deptid": "1", "clientid": "1", "subject": "s", "message": "m", "attachments": "W10="}),
        ("add-ticket-reply", {"ticketid": "1", "message": "hello", "clientid": "1", "attachments": "W10="}),
    ],
)
async def test_backend_cannot_501(gateway: Gateway, action: str, fields: dict[str, str]) -> None:
    before = (writes(gateway), gateway.sim.count_tickets())
    status, _, body = await post(gateway, action, fields)
    assert status == 501
    assert body["result"] == "error" and body["message"]
    assert (writes(gateway), gateway.sim.count_tickets()) == before


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("add-ticket-reply", {"ticketid": "1", "message": "hello", "clientid": "1"}),
        ("add-ticket-note", {"ticketid": "1", "message": "note"}),
    ],
)
async def test_reply_and_note_on_module_3(gateway: Gateway, action: str, fields: dict[str, str]) -> None:
    status, _, body = await post(gateway, action, fields)
    assert status == 200 and body["result"] == "success", body
    _, _, t = await post(gateway, "get-ticket", {"ticketid": "1"})
    written = (
        t["replies"]["reply"][-1]["message"] if action == "add-ticket-reply" else t["notes"]["note"][-1]["message"]
    )
    assert written == fields["message"]


async def test_open_and_read_back(gateway: Gateway) -> None:
    fields = {"deptid": "3", "clientid": "3", "subject": "Ünïcødé & <b>", "message": "a\r\nb ✓", "priority": "Low"}
    status, _, out = await post(gateway, "open-ticket", fields, multipart=True)
    assert status == 200 and set(out) == {"result", "id", "tid", "c"}
    _, _, t = await post(gateway, "get-ticket", {"ticketid": out["id"]})
    assert (t["subject"], t["priority"], t["deptname"]) == ("Ünïcødé & <b>", "Low", "Billing")
    assert t["replies"]["reply"][0]["message"] == "a\r\nb ✓"


async def test_lists_keep_whmcs_types(gateway: Gateway) -> None:
    _, _, tickets = await post(gateway, "get-tickets", {"limitnum": "2"})
    assert (tickets["totalresults"], tickets["numreturned"]) == (6, 2)
    _, _, clients = await post(gateway, "get-clients", {})
    assert all(isinstance(c["id"], int) for c in clients["clients"]["client"])
    _, _, empty = await post(gateway, "get-tickets", {"status": "Customer-Reply"})
    assert empty["tickets"] == {"ticket": []} and empty["numreturned"] == 0


async def test_duplicate_contact_email_in_whmcs_words(gateway: Gateway) -> None:
    fields = {"clientid": "2", "firstname": "A", "lastname": "B", "email": "john.smith@acme.example"}
    status, _, body = await post(gateway, "add-contact", fields)
    assert status == 422 and body == {"result": "error", "message": "Duplicate Email Address"}


async def test_missing_client_404(gateway: Gateway) -> None:
    status, _, body = await post(gateway, "get-clients-details", {"clientid": "99"})
    assert status == 404 and body == {"result": "error", "message": "Client Not Found"}


async def test_get_is_not_an_action(gateway: Gateway) -> None:
    before = gateway.backend_calls
    async with gateway.session.get(
        gateway.url + PREFIX + "get-ticket?ticketid=1", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as resp:
        assert resp.status == 404
        assert (await resp.json())["result"] == "error"
    assert gateway.backend_calls == before
