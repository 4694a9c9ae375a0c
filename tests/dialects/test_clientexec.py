"""The Clientexec dialect through a real gateway on loopback, in front of the embedded PMP simulator.

Demo data (gateway.pmp_sim): tickets 1 Open/Medium, 2 In progress/Low, 3 Answered/High,
4 On Hold/Medium (non-contact), 5 Closed/Low, 6 Open/High; all dates UTC.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.app import STATE
from gateway.pmp_sim import STATS_KEY
from gateway.settings import BackendSettings, ClientCredential, DialectSettings, LimitSettings, Settings
from tests.conftest import start_gateway

SEED = Path(__file__).resolve().parents[1] / "golden" / "clientexec" / "seed-000-get-ticket.json"
KEY = "ce-key"
CLIENT = ClientCredential(identifier="ce", secret=KEY)
HOSTILE = "Ünïcødé ✓ 🎫 &<>\"'+% a=b&c=d;\r\nline two\r\n\ttab \\ back"


class CE:
    def __init__(self, url: str, app: web.Application, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.app = app
        self.session = session

    async def call(
        self, method: str, path: str, *, key: str | None = KEY, header: bool = True, **kwargs: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        headers = dict(kwargs.pop("headers", {}) or {})
        if key is not None and header:
            headers["X-API-KEY"] = key
        async with self.session.request(method, self.url + "/api" + path, headers=headers, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None), resp

    async def get(self, ticket: int | str) -> dict[str, Any]:
        status, body, _ = await self.call("GET", f"/ticket/{ticket}")
        assert status == 200, body
        result: dict[str, Any] = body
        return result

    @property
    def backend_requests(self) -> int:
        runner = self.app[STATE].sim_runner
        assert runner is not None
        return runner.app[STATS_KEY].requests

    @property
    def backend_writes(self) -> int:
        runner = self.app[STATE].sim_runner
        assert runner is not None
        return runner.app[STATS_KEY].writes


async def _serve(settings: Settings) -> AsyncIterator[CE]:
    runner, url = await start_gateway(settings)
    try:
        async with aiohttp.ClientSession() as session:
            yield CE(url, runner.app, session)
    finally:
        await runner.cleanup()


def _settings(tmp_path: Path, **kwargs: Any) -> Settings:
    return Settings(data_dir=tmp_path, access_log=False, clients=(CLIENT,), **kwargs)


@pytest.fixture
async def ce(tmp_path: Path) -> AsyncIterator[CE]:
    async for gw in _serve(_settings(tmp_path)):
        yield gw


def shape(value: Any) -> Any:
    """Keys (in order), nesting and value types; a list by its first item."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return ["list", shape(value[0])] if value else ["list"]
    return type(value).__name__


def seed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SEED.read_text(encoding="utf-8"))
    data.pop("_comment")
    return data


# ------------------------------------------------------------------ Get Ticket


async def test_get_ticket_has_the_seed_structure(ce: CE) -> None:
    body = await ce.get(1)
    ref = seed()
    assert list(body) == list(ref)
    assert shape(body["metadata"]) == shape(ref["metadata"])
    # the seed's first comment is a customer's: same keys, order and types
    assert shape(body["comments"][0]) == shape(ref["comments"][0])
    for key in ("timestamp", "commentcount"):
        assert type(body[key]) is int
    assert body["message"] == ""
    assert re.fullmatch(r"\d+\.\d{3}", body["elapsed"])
    assert abs(body["timestamp"] - time.time()) < 5
    assert body["commentcount"] == len(body["comments"]) == 1


async def test_get_ticket_values(ce: CE) -> None:
    body = await ce.get(1)
    meta, first = body["metadata"], body["comments"][0]
    assert meta["id"] == "1"
    assert meta["subject"] == "Cannot log in to the control panel"
    assert meta["userEmail"] == "john.smith@acme.example"
    assert meta["submittedBy"] == "John Smith"
    assert meta["userid"] == "1"
    assert meta["isGuest"] is False
    assert (meta["assignedToDeptId"], meta["assignedToName"], meta["assignedToFull"]) == (
        "2",
        "Technical Support",
        "Technical Support",
    )
    assert meta["assignedToId"] == "1"
    # neutral values for what PMP cannot know
    assert meta["userPackageReference"] == meta["planname"] == "Not applicable"
    assert meta["flag"] == "clear"
    assert meta["attachments"] == []
    assert meta["time_elapsed"] == "0 hrs  0 mins"
    assert meta["time_elapsed_in_minutes"] == (int(time.time()) - meta["dateSubmitted"]) // 60
    # the PMP ticket's own message is comments[0], CRLF kept
    assert first["message"].startswith('Hello,\r\nsince this morning the login page says "invalid session".')
    assert first["authorId"] == "1"
    assert first["isAdmin"] is False
    assert first["attachments"] == []


async def test_ticket_query_parameter_is_the_same_call(ce: CE) -> None:
    status, body, _ = await ce.call("GET", "/ticket", params={"ticket": "3"})
    assert status == 200
    by_path = await ce.get(3)
    assert body["metadata"] == by_path["metadata"]
    assert body["comments"] == by_path["comments"]


async def test_guest_ticket(ce: CE) -> None:
    body = await ce.get(4)
    assert body["metadata"]["isGuest"] is True
    assert body["metadata"]["userid"] == "0"
    assert body["metadata"]["submittedBy"] == "Walk-in Visitor"
    # no user id: 0, an integer, as seed 000 writes it for an author without one
    assert body["comments"][0]["authorId"] == 0
    assert body["comments"][0]["authorEmail"] == "visitor@example.net"


async def test_priority_is_reversed(ce: CE) -> None:
    # PMP 1 Low, 2 Medium, 3 High; Clientexec 1 High, 2 Medium, 3 Low
    expected = {2: "3", 1: "2", 3: "1"}
    for ticket, code in expected.items():
        meta = (await ce.get(ticket))["metadata"]
        assert meta["priority"] == meta["ticket_priority"] == code, ticket


async def test_status_table(ce: CE) -> None:
    expected = {
        1: ("1", "Open"),  # open
        2: ("2", "In Progress"),  # in progress
        3: ("3", "Waiting on Customer"),  # answered
        4: ("2", "In Progress"),  # on hold
        5: ("-1", "Closed"),  # closed
    }
    for ticket, (code, name) in expected.items():
        meta = (await ce.get(ticket))["metadata"]
        assert (meta["status"], meta["statusName"]) == (code, name), ticket
        assert (meta["ticket_status"], meta["ticket_status_name"]) == (code, name), ticket


async def test_unknown_backend_status_passes_through_and_is_counted(ce: CE) -> None:
    runner = ce.app[STATE].sim_runner
    assert runner is not None
    from gateway.pmp_sim import DB_KEY

    runner.app[DB_KEY].update_ticket(2, {"status": 9})
    meta = (await ce.get(2))["metadata"]
    assert meta["status"] == "9"
    assert meta["statusName"] == "9"
    async with ce.session.get(ce.url + "/metrics") as resp:
        metrics = await resp.text()
    assert re.search(r'gateway_unmapped_values_total\{enum="status",vendor="clientexec"\} [1-9]', metrics)


async def test_dates(ce: CE) -> None:
    meta = (await ce.get(3))["metadata"]
    comment = (await ce.get(3))["comments"][0]
    # 2024-03-03 14:00:00 UTC (the backend's zone; the display zone defaults to it)
    assert meta["dateSubmitted"] == 1709474400
    assert meta["dateSubmittedFormatted"] == "2024-03-03 14:00:00"
    assert comment["createdAt"] == "03/03/2024 02:00:00 pm"
    assert meta["time_elapsed"] == "1 hrs  30 mins"  # submitted 14:00, last reply 15:30
    # padded, lower-case am
    assert (await ce.get(4))["comments"][0]["createdAt"] == "03/04/2024 08:00:00 am"
    assert (await ce.get(2))["comments"][0]["createdAt"] == "03/02/2024 03:20:45 am"


async def test_display_zone(tmp_path: Path) -> None:
    settings = _settings(tmp_path, dialects={"clientexec": DialectSettings(display_zone="America/New_York")})
    async for gw in _serve(settings):
        body = await gw.get(3)
        assert body["metadata"]["dateSubmitted"] == 1709474400  # the epoch stays UTC
        assert body["metadata"]["dateSubmittedFormatted"] == "2024-03-03 09:00:00"
        assert body["comments"][0]["createdAt"] == "03/03/2024 09:00:00 am"


# ------------------------------------------------------------ authentication


@pytest.mark.parametrize(
    "how",
    ["none", "wrong-header", "wrong-param", "empty-header", "identifier-not-key"],
)
async def test_bad_key_is_401_without_a_backend_call(ce: CE, how: str) -> None:
    before = ce.backend_requests
    kwargs: dict[str, Any] = {}
    if how == "none":
        kwargs = {"key": None}
    elif how == "wrong-header":
        kwargs = {"key": "nope"}
    elif how == "wrong-param":
        kwargs = {"key": None, "params": {"apikey": "nope"}}
    elif how == "empty-header":
        kwargs = {"key": ""}
    else:
        kwargs = {"key": "ce"}
    status, body, resp = await ce.call("GET", "/ticket/1", **kwargs)
    assert status == 401
    assert body["error"] is True and body["message"]
    assert set(body) == {"error", "message"}
    assert resp.content_type == "application/json"
    assert ce.backend_requests == before


async def test_bad_key_on_a_write_is_401_and_writes_nothing(ce: CE) -> None:
    before = ce.backend_requests
    status, _, _ = await ce.call("POST", "/ticket", key="wrong", json={"subject": "s", "message": "m"})
    assert status == 401
    assert ce.backend_requests == before


async def test_key_as_parameter_query_form_and_json(ce: CE) -> None:
    status, _, _ = await ce.call("GET", "/ticket/1", key=None, params={"apikey": KEY})
    assert status == 200
    status, _, _ = await ce.call("PUT", "/ticket/1", key=None, data={"apikey": KEY, "priority": "2"})
    assert status == 200
    status, _, _ = await ce.call("PUT", "/ticket/1", key=None, json={"apikey": KEY, "priority": 2})
    assert status == 200


# ----------------------------------------------------------------- errors


async def test_unknown_ticket_is_404(ce: CE) -> None:
    for ticket in ("999", "0"):
        status, body, _ = await ce.call("GET", f"/ticket/{ticket}")
        assert status == 404
        assert body == {"error": True, "message": "Ticket not found"}
    status, _, _ = await ce.call("PUT", "/ticket/999", json={"status": "-1"})
    assert status == 404


async def test_unknown_call_is_404(ce: CE) -> None:
    for method, path in (("DELETE", "/ticket/1"), ("GET", "/ticket/1/history"), ("PATCH", "/tickets")):
        status, body, _ = await ce.call(method, path)
        assert status == 404, (method, path)
        assert body["error"] is True


async def test_reply_is_501_and_writes_nothing(ce: CE) -> None:
    before = await ce.get(1)
    writes = ce.backend_writes
    status, body, _ = await ce.call("POST", "/ticket/1/reply", json={"message": "thanks", "userid": 1})
    assert status == 501
    assert body["error"] is True and "repl" in body["message"]
    assert ce.backend_writes == writes
    after = await ce.get(1)
    assert after["metadata"] == {
        **before["metadata"],
        "time_elapsed_in_minutes": after["metadata"]["time_elapsed_in_minutes"],
    }
    assert after["comments"] == before["comments"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "word"),
    [
        ("GET", "/ticket/abc", {}, "ticket"),
        ("GET", "/ticket", {}, "ticket"),
        ("POST", "/ticket", {"json": {"message": "m", "departmentid": 1, "userid": 1}}, "subject"),
        ("POST", "/ticket", {"json": {"subject": "s", "departmentid": 1, "userid": 1}}, "message"),
        ("POST", "/ticket", {"json": {"subject": "s", "message": "m", "userid": 1}}, "departmentid"),
        ("POST", "/ticket", {"json": {"subject": "s", "message": "m", "departmentid": "x"}}, "departmentid"),
        (
            "POST",
            "/ticket",
            {"json": {"subject": "s", "message": "m", "departmentid": 1, "priority": 7}},
            "priority",
        ),
        (
            "POST",
            "/ticket",
            {"json": {"subject": "s", "message": "m", "departmentid": 1, "email": "no"}},
            "email",
        ),
        ("PUT", "/ticket/1", {"json": {"status": 9}}, "status"),
        ("PUT", "/ticket/1", {"data": {"priority": "Urgent"}}, "priority"),
        ("GET", "/tickets", {"params": {"page": "0", "limit": "2"}}, "page"),
        ("GET", "/tickets", {"params": {"limit": "-1"}}, "limit"),
        ("GET", "/tickets", {"params": {"status": "7"}}, "status"),
        ("POST", "/ticket", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, "JSON"),
    ],
)
async def test_invalid_input_is_422(ce: CE, method: str, path: str, kwargs: dict[str, Any], word: str) -> None:
    writes = ce.backend_writes
    status, body, _ = await ce.call(method, path, **kwargs)
    assert status == 422, body
    assert body["error"] is True and word in body["message"]
    assert ce.backend_writes == writes


async def test_body_too_large_is_413(tmp_path: Path) -> None:
    async for gw in _serve(_settings(tmp_path, limits=LimitSettings(max_body_bytes=2048))):
        status, body, _ = await gw.call("POST", "/ticket", json={"subject": "s", "message": "x" * 5000})
        assert status == 413
        assert body["error"] is True


async def test_rate_limited_is_429_with_retry_after(tmp_path: Path) -> None:
    async for gw in _serve(_settings(tmp_path, limits=LimitSettings(rate_per_second=0.01, rate_burst=1))):
        assert (await gw.call("GET", "/ticket/1"))[0] == 200
        status, body, resp = await gw.call("GET", "/ticket/1")
        assert status == 429
        assert body["error"] is True
        assert int(resp.headers["Retry-After"]) >= 1


async def test_backend_down_is_503(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        backend=BackendSettings(url="http://127.0.0.1:9/", token="backend-token-xyz", timeout=3, retries=0),
    )
    async for gw in _serve(settings):
        status, body, _ = await gw.call("GET", "/ticket/1")
        assert status == 503
        assert body["error"] is True
        assert "backend-token-xyz" not in json.dumps(body)


async def test_backend_timeout_is_504(tmp_path: Path) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response([])

    backend = web.Application()
    backend.router.add_route("*", "/{tail:.*}", slow)
    runner = web.AppRunner(backend)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        settings = _settings(
            tmp_path,
            backend=BackendSettings(url=f"http://127.0.0.1:{port}/", token="t", timeout=0.5, retries=0),
        )
        async for gw in _serve(settings):
            status, body, _ = await gw.call("GET", "/ticket/1")
            assert status == 504
            assert body["error"] is True
    finally:
        await runner.cleanup()


# ------------------------------------------------------------ writes


async def test_open_ticket_json_then_get(ce: CE) -> None:
    status, body, _ = await ce.call(
        "POST",
        "/ticket",
        json={"subject": "Printer on fire", "message": "Help", "departmentid": 2, "userid": 1, "priority": 1},
    )
    assert status == 200, body
    assert list(body) == list(seed())
    meta = body["metadata"]
    assert meta["priority"] == "1"  # High
    assert meta["status"] == "1"
    assert meta["assignedToDeptId"] == "2"
    again = await ce.get(meta["id"])
    assert again["metadata"]["subject"] == "Printer on fire"
    assert again["metadata"]["priority"] == "1"
    assert again["comments"][0]["message"] == "Help"
    assert again["comments"][0]["authorEmail"] == "john.smith@acme.example"


@pytest.mark.parametrize("encoding", ["json", "form", "multipart"])
async def test_hostile_strings_round_trip(ce: CE, encoding: str) -> None:
    fields = {
        "subject": "Subj " + HOSTILE.replace("\r\n", " "),
        "message": HOSTILE,
        "departmentid": "1",
        "userid": "2",
    }
    kwargs: dict[str, Any]
    if encoding == "json":
        kwargs = {"json": fields}
    elif encoding == "form":
        kwargs = {"data": fields}
    else:
        form = aiohttp.FormData()
        for k, v in fields.items():
            form.add_field(k, v)
        kwargs = {"data": form}
    status, body, _ = await ce.call("POST", "/ticket", **kwargs)
    assert status == 200, body
    got = await ce.get(body["metadata"]["id"])
    assert got["metadata"]["subject"] == fields["subject"]
    assert got["comments"][0]["message"] == HOSTILE


async def test_guest_open_ticket(ce: CE) -> None:
    status, body, _ = await ce.call(
        "POST",
        "/ticket",
        data={
            "subject": "Hi",
            "message": "From a visitor",
            "departmentid": "1",
            "name": "Vi Sitor",
            "email": "vi@example.org",
        },
    )
    assert status == 200, body
    meta = body["metadata"]
    assert meta["isGuest"] is True
    assert meta["submittedBy"] == "Vi Sitor"
    assert meta["userEmail"] == "vi@example.org"
    assert body["comments"][0]["authorId"] == 0


async def test_update_status_and_priority(ce: CE) -> None:
    status, body, _ = await ce.call("PUT", "/ticket/1", json={"status": "-1", "priority": "3"})
    assert status == 200, body
    assert list(body) == list(seed())
    assert (body["metadata"]["status"], body["metadata"]["statusName"]) == ("-1", "Closed")
    assert body["metadata"]["priority"] == "3"  # Low
    got = (await ce.get(1))["metadata"]
    assert (got["status"], got["priority"]) == ("-1", "3")
    # by name, as a form
    status, body, _ = await ce.call("PUT", "/ticket/1", data={"status": "In Progress", "priority": "High"})
    assert status == 200
    assert (body["metadata"]["status"], body["metadata"]["priority"]) == ("2", "1")


async def test_update_statuses_pmp_lacks(ce: CE) -> None:
    # Waiting on Customer -> PMP Answered -> shown as 3 again
    status, body, _ = await ce.call("PUT", "/ticket/2", json={"status": 3})
    assert status == 200
    assert body["metadata"]["status"] == "3"
    # Unassigned -> PMP Open (PMP cannot store "unassigned") -> shown as 1
    status, body, _ = await ce.call("PUT", "/ticket/2", json={"status": 0})
    assert status == 200
    assert body["metadata"]["status"] == "1"


# ----------------------------------------------------------------- list


async def test_list_tickets(ce: CE) -> None:
    status, body, _ = await ce.call("GET", "/tickets")
    assert status == 200
    assert list(body) == [
        "timestamp",
        "tickets",
        "ticketcount",
        "total",
        "offset",
        "page",
        "limit",
        "elapsed",
        "message",
    ]
    assert body["total"] == body["ticketcount"] == len(body["tickets"]) == 6
    assert (body["page"], body["limit"], body["offset"]) == (1, 0, 0)
    # items are Get Ticket's metadata
    assert shape(body["tickets"][0]) == shape(seed()["metadata"])
    assert body["tickets"][2] == {
        **(await ce.get(3))["metadata"],
        "time_elapsed_in_minutes": body["tickets"][2]["time_elapsed_in_minutes"],
    }


async def test_list_paging(ce: CE) -> None:
    status, body, _ = await ce.call("GET", "/tickets", params={"page": "2", "limit": "4"})
    assert status == 200
    assert [t["id"] for t in body["tickets"]] == ["5", "6"]
    assert (body["total"], body["ticketcount"], body["offset"], body["page"], body["limit"]) == (
        6,
        2,
        4,
        2,
        4,
    )


async def test_list_status_filter_matches_the_shown_codes(ce: CE) -> None:
    for code, ids in {"2": ["2", "4"], "3": ["3"], "-1": ["5"], "1": ["1", "6"], "0": []}.items():
        status, body, _ = await ce.call("GET", "/tickets", params={"status": code})
        assert status == 200
        assert [t["id"] for t in body["tickets"]] == ids, code
        assert all(t["status"] == code for t in body["tickets"])
    status, body, _ = await ce.call("GET", "/tickets", params={"status": "Waiting on Customer"})
    assert [t["id"] for t in body["tickets"]] == ["3"]
