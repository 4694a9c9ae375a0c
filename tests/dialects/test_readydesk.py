"""ReadyDesk dialect end to end: a real gateway on loopback in front of the embedded PMP simulator.

Demo data (gateway.pmp_sim): tickets 1 Open (customer 1, Technical Support, Medium),
2 In progress (customer 2, Sales, Low), 3 Answered (customer 3, Billing, High),
4 On Hold (no customer, Sales, Medium), 5 Closed (customer 1, Billing, Low),
6 Open (customer 1, Technical Support, High).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import aiohttp
import pytest
from defusedxml import ElementTree

from gateway.settings import ClientCredential, DialectSettings, LimitSettings, Settings
from tests.conftest import Gateway, start_gateway

KEY = "rd-key"
CLIENT = ClientCredential(identifier="rd", secret=KEY)
FORMATS = ("xml", "json", "url")

# seed 002's output variables, in its order, each once
FIELDS = [
    "tid",
    "cid",
    "company_id",
    "company_name",
    "contact",
    "phone",
    "email",
    "cc_addresses",
    "date_opened",
    "date_closed",
    "source",
    "category",
    "sub_category",
    "status",
    "priority",
    "escalation_level",
    "due_date",
    "opened_by",
    "last_updated",
    "updated_by",
    "updater_type",
    "assigned_tech",
    "assigned_group_id",
    "assigned_group_name",
    "customer_group_id",
    "customer_group_name",
    "locked",
    "locked_by",
    "linked_asset",
    "linked_calls",
    "linked_devices",
    "merged",
    "merged_to",
    "parent_ticket",
    "children_tickets",
    "custom_fields",
    "subject",
    "summary",
]
ENCODED = {
    "cid",
    "company_name",
    "contact",
    "phone",
    "email",
    "cc_addresses",
    "source",
    "category",
    "sub_category",
    "status",
    "priority",
    "escalation_level",
    "updated_by",
    "assigned_group_name",
    "customer_group_name",
    "subject",
    "summary",
}
DATE_RE = re.compile(r"^([1-9]|1[0-2])/([1-9]|[12]\d|3[01])/\d{4} ([1-9]|1[0-2]):[0-5]\d:[0-5]\d (AM|PM)$")


# ------------------------------------------------------------------ fixtures and helpers


class Client:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    async def raw(
        self,
        params: dict[str, Any],
        *,
        method: str = "GET",
        path: str = "/API/default.aspx",
        key: str | None = KEY,
    ) -> tuple[int, str, str]:
        data = {"key": key, **params} if key is not None else dict(params)
        kwargs: dict[str, Any] = {"params": data} if method == "GET" else {"data": data}
        async with self.gw.session.request(method, self.gw.url + path, **kwargs) as resp:
            return resp.status, resp.content_type, await resp.text()

    async def records(self, fmt: str, action: str = "get_tickets", **params: Any) -> list[dict[str, str]]:
        status, _, body = await self.raw({"action": action, "format": fmt, **params})
        assert status == 200, body
        return decode(fmt, parse(fmt, body))

    async def tids(self, **params: Any) -> list[int]:
        return [int(r["tid"]) for r in await self.records("json", **params)]

    async def error(self, fmt: str, params: dict[str, Any], **kw: Any) -> str:
        status, _, body = await self.raw({"format": fmt, **params}, **kw)
        assert status == 200, body
        return parse_error(fmt, body)


def parse(fmt: str, body: str) -> list[list[tuple[str, Any]]]:
    """A response's records as ordered (name, raw value) pairs; custom_fields as pairs too."""
    if fmt == "xml":
        root = ElementTree.fromstring(body.encode())
        assert root.tag == "tickets"
        out = []
        for ticket in root:
            assert ticket.tag == "ticket"
            pairs: list[tuple[str, Any]] = []
            for el in ticket:
                if el.tag == "custom_fields":
                    pairs.append((el.tag, [(c.tag, c.text or "") for c in el]))
                else:
                    assert len(el) == 0
                    pairs.append((el.tag, el.text or ""))
            out.append(pairs)
        return out
    if fmt == "json":
        doc = json.loads(body, object_pairs_hook=lambda kv: kv)
        assert [k for k, _ in doc] == ["tickets"]
        out = []
        for record in doc[0][1]:
            pairs = []
            for k, v in record:
                if k == "custom_fields":
                    assert isinstance(v, list) and len(v) == 1
                    pairs.append((k, list(v[0])))
                else:
                    assert isinstance(v, str)
                    pairs.append((k, v))
            out.append(pairs)
        return out
    assert fmt == "url"
    lines = body.split("\n") if body else []
    return [[tuple(p.partition("=")[::2]) for p in line.split("&")] for line in lines]  # type: ignore[misc]


def decode(fmt: str, records: list[list[tuple[str, Any]]]) -> list[dict[str, str]]:
    """Records as {field: value} with the URL-encoded fields decoded (custom fields dropped)."""
    out = []
    for pairs in records:
        record = {}
        for k, v in pairs:
            if isinstance(v, list) or k == "custom_fields":
                continue
            record[k] = unquote_plus(v) if k in ENCODED else v
        out.append(record)
    return out


def field_names(fmt: str, pairs: list[tuple[str, Any]], custom: tuple[str, ...] = ()) -> list[str]:
    names = [k for k, _ in pairs]
    if fmt == "url":
        # each custom field's name=value, then custom_fields=the names
        at = names.index("custom_fields")
        assert [unquote_plus(n) for n in names[at - len(custom) : at]] == list(custom)
        names = names[: at - len(custom)] + names[at:]
    return names


def parse_error(fmt: str, body: str) -> str:
    if fmt == "xml":
        root = ElementTree.fromstring(body.encode())
        assert root.tag == "error" and len(root) == 0
        return root.text or ""
    if fmt == "json":
        doc = json.loads(body)
        assert list(doc) == ["error"]
        return str(doc["error"])
    name, sep, value = body.partition("=")
    assert name == "error" and sep and "\n" not in body
    return unquote_plus(value)


def parse_count(fmt: str, body: str) -> int:
    if fmt == "xml":
        root = ElementTree.fromstring(body.encode())
        assert root.tag == "count" and len(root) == 0
        return int(root.text or "")
    if fmt == "json":
        doc = json.loads(body)
        assert list(doc) == ["count"] and isinstance(doc["count"], int)
        return int(doc["count"])
    assert re.fullmatch(r"count=\d+", body), body
    return int(body.split("=")[1])


async def _start(tmp_path: Path, **settings: Any) -> AsyncIterator[Client]:
    runner, url = await start_gateway(Settings(data_dir=tmp_path, access_log=False, clients=(CLIENT,), **settings))
    async with aiohttp.ClientSession() as session:
        yield Client(Gateway(url, runner.app, session, tmp_path))
    await runner.cleanup()


@pytest.fixture
async def rd(tmp_path: Path) -> AsyncIterator[Client]:
    async for client in _start(tmp_path):
        yield client


# ------------------------------------------------------------------ get_tickets: structure


@pytest.mark.parametrize("fmt", FORMATS)
async def test_get_tickets_structure_matches_the_seed(rd: Client, fmt: str) -> None:
    status, ctype, body = await rd.raw({"action": "get_tickets", "tid": "*", "format": fmt})
    assert status == 200
    assert ctype == {"xml": "text/xml", "json": "application/json", "url": "text/plain"}[fmt]
    records = parse(fmt, body)
    assert len(records) == 6
    for pairs in records:
        assert field_names(fmt, pairs) == FIELDS
    if fmt == "xml":
        assert body.startswith('<?xml version="1.0"?>\n<tickets>\n\t<ticket>\n\t\t<tid>1</tid>\n')
    if fmt == "url":
        assert len(body.split("\n")) == 6 and body.startswith("tid=1&cid=1&company_id=1&")


async def test_xml_is_the_default_format(rd: Client) -> None:
    _, ctype, body = await rd.raw({"action": "get_tickets", "tid": "1"})
    assert ctype == "text/xml"
    assert [int(r["tid"]) for r in decode("xml", parse("xml", body))] == [1]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_url_encoded_fields_are_encoded_and_others_are_not(rd: Client, fmt: str) -> None:
    _, _, body = await rd.raw({"action": "get_tickets", "tid": "*", "format": fmt})
    raw = {int(dict(p)["tid"]): dict(p) for p in parse(fmt, body)}
    t1, t2, t3 = raw[1], raw[2], raw[3]
    assert t1["email"] == "john.smith%40acme.example"
    assert t1["contact"] == "John+Smith"
    assert t1["category"] == "Technical+Support"
    assert t2["status"] == "In+Progress"
    assert t3["subject"] == quote_plus("Invoice #42: total shows <b>&amp;</b> \"wrong\" & 'odd' chars")
    assert t1["summary"] == quote_plus(
        'Hello,\r\nsince this morning the login page says "invalid session".\r\n\r\nRegards,\r\nJohn'
    )
    # "URL Encoded: No": dates with their spaces and slashes, flags, ids
    assert t1["date_opened"] == "3/1/2024 9:15:00 AM"
    assert t3["last_updated"] == "3/3/2024 3:30:00 PM"
    assert t1["locked"] == "N" and t1["merged"] == "N" and t1["parent_ticket"] == "0"
    for record in raw.values():
        for name in ENCODED:
            value = record[name]
            assert value == quote_plus(unquote_plus(value)), (name, value)


async def test_record_values_from_the_demo_data(rd: Client) -> None:
    records = {int(r["tid"]): r for r in await rd.records("json", tid="*")}
    one = records[1]
    assert (one["cid"], one["company_id"], one["contact"], one["email"]) == (
        "1",
        "1",
        "John Smith",
        "john.smith@acme.example",
    )
    assert (one["category"], one["status"], one["priority"]) == ("Technical Support", "Open", "Medium")
    assert (one["opened_by"], one["updated_by"], one["updater_type"]) == ("1", "1", "CUSTOMER")
    assert one["assigned_tech"] == "1"
    walk_in = records[4]
    assert (walk_in["cid"], walk_in["company_id"], walk_in["opened_by"]) == ("", "0", "WEBSITE")
    assert (walk_in["contact"], walk_in["email"]) == ("Walk-in Visitor", "visitor@example.net")
    assert walk_in["status"] == "On Hold"
    assert records[2]["cc_addresses"] == "ketoan@trungbinh.example"
    assert records[5]["status"] == "Closed" and records[3]["status"] == "Answered"
    for record in records.values():
        assert DATE_RE.match(record["date_opened"]), record["date_opened"]
        assert DATE_RE.match(record["last_updated"]), record["last_updated"]
        assert record["updater_type"] in ("CUSTOMER", "TECH", "ADMIN")
        assert record["locked"] in ("Y", "N") and record["merged"] in ("Y", "N")


async def test_dates_are_in_the_display_zone_both_ways(tmp_path: Path) -> None:
    zone = {"readydesk": DialectSettings(display_zone="America/New_York")}
    async for client in _start(tmp_path, dialects=zone):
        records = {int(r["tid"]): r for r in await client.records("json", tid="*")}
        assert records[1]["date_opened"] == "3/1/2024 4:15:00 AM"  # 09:15 UTC, EST
        assert records[2]["date_opened"] == "3/1/2024 10:20:45 PM"
        # 3/1/2024 10:00 PM New York is 3/2 03:00 UTC: ticket 2 (03:20:45 UTC) and later
        assert await client.tids(start_date="3/1/2024 10:00:00 PM", end_date="3/2/2024") == [2]


# ------------------------------------------------------------------ get_tickets: filters


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [1, 2, 3, 4, 5, 6]),
        ({"tid": "*"}, [1, 2, 3, 4, 5, 6]),
        ({"tid": "3"}, [3]),
        ({"tid": "1*"}, [1]),
        ({"tid": "99"}, []),
        ({"keyword": "invoice"}, [3, 5]),
        ({"keyword": "CHARITIES"}, [4]),
        ({"status": "Open"}, [1, 6]),
        ({"status": "on hold"}, [4]),
        ({"status": "In Progress"}, [2]),
        ({"status": "Nonexistent"}, []),
        ({"priority": "High"}, [3, 6]),
        ({"priority": "low"}, [2, 5]),
        ({"category": "Billing"}, [3, 5]),
        ({"cid": "1"}, [1, 5, 6]),
        ({"start_tid": "4"}, [4, 5, 6]),
        ({"end_tid": "2"}, [1, 2]),
        ({"start_tid": "2", "end_tid": "4"}, [2, 3, 4]),
        ({"start_cid": "2"}, [2, 3]),
        ({"end_cid": "1"}, [1, 4, 5, 6]),
        ({"start_cid": "1", "end_cid": "2"}, [1, 2, 5, 6]),
        ({"start_date": "3/2/2024 00:00:00"}, [2, 3, 4, 6]),
        ({"start_date": "3/2/2024"}, [2, 3, 4, 6]),
        ({"end_date": "3/1/2024 11:59:59 PM"}, [1, 5]),
        ({"start_date": "3/3/2024 2:00:00 PM", "end_date": "3/4/2024 8:00:00 AM"}, [3, 4]),
        ({"status": "Open", "priority": "High"}, [6]),
        ({"cid": "1", "keyword": "server"}, [6]),
    ],
)
async def test_get_tickets_filters(rd: Client, params: dict[str, str], expected: list[int]) -> None:
    assert await rd.tids(**params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"count": "2"}, [1, 2]),
        ({"tid": "*", "count": "2", "page": "1"}, [1, 2]),
        ({"tid": "*", "count": "2", "page": "2"}, [3, 4]),
        ({"tid": "*", "count": "4", "page": "2"}, [5, 6]),
        ({"tid": "*", "count": "2", "page": "4"}, []),
        ({"tid": "*", "page": "2"}, [1, 2, 3, 4, 5, 6]),  # page needs count
        ({"status": "Open", "count": "1", "page": "2"}, [6]),
        ({"order": "TID DESC"}, [6, 5, 4, 3, 2, 1]),
        ({"order": "tid ASC"}, [1, 2, 3, 4, 5, 6]),
        ({"order": "TID", "order_direction": "DESC"}, [6, 5, 4, 3, 2, 1]),
        ({"order": "TID", "order_direction": "ASC"}, [1, 2, 3, 4, 5, 6]),
        ({"order_direction": "DESC"}, [6, 5, 4, 3, 2, 1]),
        ({"order": "date_opened"}, [5, 1, 2, 3, 4, 6]),
        ({"order": "date_opened DESC"}, [6, 4, 3, 2, 1, 5]),
        ({"order": "TID DESC", "count": "2", "page": "2"}, [4, 3]),
    ],
)
async def test_get_tickets_paging_and_order(rd: Client, params: dict[str, str], expected: list[int]) -> None:
    assert await rd.tids(**params) == expected


@pytest.mark.parametrize("fmt", FORMATS)
async def test_count_only(rd: Client, fmt: str) -> None:
    for params, expected in (({}, 6), ({"status": "Open"}, 2), ({"cid": "1", "priority": "Low"}, 1)):
        status, _, body = await rd.raw({"action": "get_tickets", "format": fmt, "count_only": "Y", **params})
        assert status == 200
        assert parse_count(fmt, body) == expected
    assert len(await rd.records(fmt, count_only="N", tid="*")) == 6


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cid": "demo"}, "Invalid customer ID"),
        ({"start_date": "yesterday"}, "Invalid start_date"),
        ({"end_date": "13/45/2024"}, "Invalid end_date"),
        ({"order": "colour"}, "Invalid order"),
        ({"count": "ten"}, "count must be a whole number"),
        ({"count": "2", "page": "0"}, "page must be a whole number from 1"),
        ({"count_only": "maybe"}, "count_only must be Y or N"),
        ({"category": "Plumbing"}, "Invalid category"),
        ({"source": "Email"}, "Filtering by source is not supported by the backend"),
        ({"uid": "guest"}, "Filtering by assigned technician (uid) is not supported by the backend"),
    ],
)
async def test_invalid_get_tickets_input(rd: Client, params: dict[str, str], message: str) -> None:
    for fmt in FORMATS:
        assert await rd.error(fmt, {"action": "get_tickets", **params}) == message


# ------------------------------------------------------------------ transport, auth, errors


@pytest.mark.parametrize("path", ["/API/default.aspx", "/api/Default.ASPX", "/API/", "/api", "/Api/DEFAULT.aspx"])
async def test_path_is_matched_case_insensitively(rd: Client, path: str) -> None:
    for method in ("GET", "POST"):
        status, _, body = await rd.raw(
            {"action": "get_tickets", "tid": "2", "format": "json"}, method=method, path=path
        )
        assert status == 200
        assert [r["tid"] for r in decode("json", parse("json", body))] == ["2"]


async def test_other_paths_are_not_readydesk(rd: Client) -> None:
    for path in ("/API/other.aspx", "/APIX/default.aspx", "/API/default.aspxx"):
        status, _, _ = await rd.raw({"action": "get_tickets"}, path=path)
        assert status == 404


async def test_configured_prefix(tmp_path: Path) -> None:
    async for client in _start(tmp_path, dialects={"readydesk": DialectSettings(prefix="/helpdesk/")}):
        status, _, body = await client.raw(
            {"action": "get_tickets", "format": "json", "tid": "3"}, path="/helpdesk/API/default.aspx"
        )
        assert status == 200 and [r["tid"] for r in decode("json", parse("json", body))] == ["3"]
        status, _, _ = await client.raw({"action": "get_tickets"}, path="/API/default.aspx")
        assert status == 404


async def test_action_is_case_insensitive_and_query_and_body_merge(rd: Client) -> None:
    assert await rd.tids(action="GET_Tickets", tid="5") == [5]
    url = rd.gw.url + "/API/default.aspx?format=json&action=get_tickets"
    async with rd.gw.session.post(url, data={"key": KEY, "tid": "4"}) as resp:
        assert [r["tid"] for r in decode("json", parse("json", await resp.text()))] == ["4"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_bad_or_missing_key_is_an_error_record_and_no_backend_call(rd: Client, fmt: str) -> None:
    await rd.tids(tid="1")  # the gateway is up
    before = rd.gw.backend_calls
    for key in ("wrong", "", None, "demo"):  # "demo" is an identifier, not a secret
        assert await rd.error(fmt, {"action": "get_tickets"}, key=key) == "Invalid API key"
    assert await rd.error(fmt, {"action": "add_ticket", "subject": "s", "summary": "m"}, key="nope") == (
        "Invalid API key"
    )
    assert rd.gw.backend_calls == before


@pytest.mark.parametrize("fmt", FORMATS)
async def test_unknown_action_is_an_error_record(rd: Client, fmt: str) -> None:
    before = rd.gw.backend_calls
    assert await rd.error(fmt, {"action": "get_customers"}) == "Invalid action"
    assert await rd.error(fmt, {}) == "Invalid action"
    assert rd.gw.backend_calls == before


async def test_body_too_large_is_413_with_an_error_record(tmp_path: Path) -> None:
    async for client in _start(tmp_path, limits=LimitSettings(max_body_bytes=1024)):
        # the format in the query string: a body that is not read cannot choose it
        url = client.gw.url + "/API/default.aspx?format=json"
        form = {"key": KEY, "action": "add_ticket", "subject": "s", "summary": "x" * 4000}
        async with client.gw.session.post(url, data=form) as resp:
            assert resp.status == 413
            assert list(json.loads(await resp.text())) == ["error"]
        status, _, body = await client.raw({"action": "add_ticket", "summary": "x" * 4000}, method="POST")
        assert status == 413
        assert parse_error("xml", body)


async def test_custom_fields_from_configuration(tmp_path: Path) -> None:
    overlay = tmp_path / "mappings" / "readydesk"
    overlay.mkdir(parents=True)
    (overlay / "site.yaml").write_text(
        'settings:\n  custom_fields: ["Custom_field_1", "Contract no.", "2nd <field>"]\n', encoding="utf-8"
    )
    names = ("Custom_field_1", "Contract no.", "2nd <field>")
    async for client in _start(tmp_path, mappings=tmp_path / "mappings"):
        for fmt in FORMATS:
            _, _, body = await client.raw({"action": "get_tickets", "tid": "1", "format": fmt})
            [pairs] = parse(fmt, body)
            assert field_names(fmt, pairs, names) == FIELDS
            custom = dict(pairs)["custom_fields"]
            if fmt == "xml":
                assert custom == [("Custom_field_1", ""), ("Contract_no.", ""), ("_2nd__field_", "")]
            elif fmt == "json":
                assert custom == [(n, "") for n in names]
            else:
                assert custom == "Custom_field_1,Contract+no.,2nd+%3Cfield%3E"
                assert "&Custom_field_1=&Contract+no.=&2nd+%3Cfield%3E=&custom_fields=" in body


# ------------------------------------------------------------------ add_ticket / update_ticket


@pytest.mark.parametrize("fmt", FORMATS)
async def test_add_ticket_then_update_ticket_round_trip(rd: Client, fmt: str) -> None:
    [added] = await rd.records(
        fmt,
        "add_ticket",
        cid="1",
        subject="Printer on fire",
        summary="It is\r\nreally on fire",
        priority="High",
        category="Billing",
        cc_addresses="boss@acme.example",
    )
    assert (added["cid"], added["contact"], added["email"]) == ("1", "John Smith", "john.smith@acme.example")
    assert (added["subject"], added["summary"]) == ("Printer on fire", "It is\r\nreally on fire")
    assert (added["status"], added["priority"], added["category"]) == ("Open", "High", "Billing")
    assert added["cc_addresses"] == "boss@acme.example"
    assert DATE_RE.match(added["date_opened"])
    tid = added["tid"]
    assert int(tid) > 6
    assert await rd.records(fmt, tid=tid) == [added]

    [updated] = await rd.records(
        fmt,
        "update_ticket",
        tid=tid,
        status="Closed",
        priority="low",
        subject="Printer extinguished",
        category="Technical Support",
    )
    assert (updated["status"], updated["priority"]) == ("Closed", "Low")
    assert (updated["subject"], updated["category"]) == ("Printer extinguished", "Technical Support")
    assert updated["summary"] == "It is\r\nreally on fire"
    assert await rd.records(fmt, tid=tid) == [updated]


async def test_add_ticket_defaults_and_non_customer(rd: Client) -> None:
    [added] = await rd.records(
        "json",
        "ADD_TICKET",
        subject="Hello",
        summary="From a visitor",
        contact="Vera Visitor",
        email="vera@example.org",
    )
    assert (added["cid"], added["opened_by"]) == ("", "WEBSITE")
    assert (added["contact"], added["email"]) == ("Vera Visitor", "vera@example.org")
    assert (added["category"], added["priority"], added["status"]) == ("Technical Support", "Medium", "Open")


@pytest.mark.parametrize(
    ("action", "params", "message"),
    [
        ("add_ticket", {"summary": "m", "cid": "1"}, "subject is required"),
        ("add_ticket", {"subject": "s", "cid": "1"}, "summary is required"),
        ("add_ticket", {"subject": "s", "summary": "m", "cid": "x"}, "Invalid customer ID"),
        (
            "add_ticket",
            {"subject": "s", "summary": "m", "cid": "1", "priority": "Extreme"},
            "Invalid priority. Valid priorities are: Low,Medium,High",
        ),
        (
            "add_ticket",
            {"subject": "s", "summary": "m", "cid": "1", "category": "Nowhere"},
            "Invalid category",
        ),
        (
            "add_ticket",
            {"subject": "s", "summary": "m", "cid": "1", "due_date": "1/1/2030"},
            "Due dates are not supported by the backend: the ticket was not added",
        ),
        ("update_ticket", {"status": "Closed"}, "tid is required"),
        ("update_ticket", {"tid": "999", "status": "Closed"}, "Ticket not found"),
        (
            "update_ticket",
            {"tid": "1", "status": "Pending"},
            "Invalid status. Valid statuses are: Open,In Progress,Answered,On Hold,Closed",
        ),
    ],
)
async def test_write_errors(rd: Client, action: str, params: dict[str, str], message: str) -> None:
    for fmt in FORMATS:
        assert await rd.error(fmt, {"action": action, **params}) == message
    assert await rd.tids() == [1, 2, 3, 4, 5, 6]


HOSTILE = [
    "Ünïcødé ✓ — “quotes” 🎫 中文 Tiếng Việt",
    "&<>\"'+% &amp; %41 + plus %2B <![CDATA[x]]> </ticket>",
    "line one\r\nline two\r\n\r\nend",
    "a=b&c=d\nsubject=forged",
    "long " + "x" * 6000 + " end",
]


@pytest.mark.parametrize("text", HOSTILE, ids=["unicode", "markup", "crlf", "url-delims", "long"])
async def test_hostile_strings_come_back_identical_in_every_format(rd: Client, text: str) -> None:
    status, _, body = await rd.raw(
        {
            "action": "add_ticket",
            "format": "json",
            "cid": "2",
            "subject": text.replace("\r\n", " "),
            "summary": text,
        },
        method="POST",
    )
    assert status == 200, body
    [added] = decode("json", parse("json", body))
    for fmt in FORMATS:
        [record] = await rd.records(fmt, tid=added["tid"])
        assert record["summary"] == text, fmt
        assert record["subject"] == text.replace("\r\n", " "), fmt
        assert list(record) == [f for f in FIELDS if f != "custom_fields"]
