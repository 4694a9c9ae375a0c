"""One ticket, four dialects: the same status, priority, messages and date everywhere,
and what a client of one dialect writes is what a client of another reads back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import pytest
from defusedxml import ElementTree

from tests.conftest import Gateway
from tests.dialects.test_readydesk import ENCODED  # seed 002's "URL Encoded" fields, written once

KEY = "demo-secret"
HOSTILE = [
    "Ünïcødé ✓ — Trung bình 日本語 🎫",
    "&<>\"'+% and %41 and a+b=c; x=1&y=2",
    "line one\r\nline two\r\n\r\nlast",
    "<![CDATA[ not ]]> <script>alert(1)</script> &amp; &#13;",
    "x" * 20000,
]


async def whmcs(gw: Gateway, fmt: str = "json", **params: str) -> Any:
    status, body = await gw.whmcs(params.pop("action"), fmt, **params)
    assert status == 200
    if fmt == "xml":
        root = ElementTree.fromstring(body.encode())
        return root
    assert body["result"] == "success", body
    return body


async def keliweb(gw: Gateway, action: str, **form: str) -> Any:
    async with gw.session.post(
        f"{gw.url}/api/v2/keliweb/{action}", data=form, headers={"Authorization": f"Bearer {KEY}"}
    ) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def clientexec(gw: Gateway, ticket_id: int | str) -> Any:
    async with gw.session.get(f"{gw.url}/api/ticket/{ticket_id}", headers={"X-API-KEY": KEY}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def readydesk(gw: Gateway, fmt: str, **params: str) -> list[dict[str, str]]:
    query = {"key": KEY, "format": fmt, **params}
    async with gw.session.get(f"{gw.url}/API/default.aspx", params=query) as r:
        assert r.status == 200
        text = await r.text()
    if fmt == "json":
        records = [{k: v for k, v in rec.items() if k != "custom_fields"} for rec in json.loads(text)["tickets"]]
    elif fmt == "xml":
        root = ElementTree.fromstring(text.encode())
        records = [{el.tag: el.text or "" for el in t if el.tag != "custom_fields"} for t in root]
    else:
        records = [dict(parse_qsl(line, keep_blank_values=True)) for line in text.split("\n") if line]
        # parse_qsl already decoded one level; URL-delimited values hold the form-encoded text
        return [{k: v for k, v in rec.items()} for rec in records]
    return [{k: unquote_plus(v) if k in ENCODED else v for k, v in rec.items()} for rec in records]


async def test_one_ticket_reads_the_same_in_every_dialect(gateway: Gateway) -> None:
    await whmcs(gateway, action="UpdateTicket", ticketid="2", status="In Progress", priority="High")
    w = await whmcs(gateway, action="GetTicket", ticketid="2")
    k = await keliweb(gateway, "get-ticket", ticketid="2")
    c = await clientexec(gateway, 2)
    [r] = await readydesk(gateway, "json", action="get_tickets", tid="2")
    assert w == k  # Keliweb is WHMCS's shape
    assert (w["status"], w["priority"]) == ("In Progress", "High")
    meta = c["metadata"]
    assert (meta["status"], meta["statusName"], meta["priority"]) == ("2", "In Progress", "1")  # CE: 1 = High
    assert (r["status"], r["priority"]) == ("In Progress", "High")
    assert w["subject"] == meta["subject"] == r["subject"]
    assert w["replies"]["reply"][0]["message"] == c["comments"][0]["message"] == r["summary"]
    opened = datetime.strptime(w["date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert meta["dateSubmitted"] == int(opened.timestamp())
    assert meta["dateSubmittedFormatted"] == w["date"]
    assert c["comments"][0]["createdAt"] == opened.strftime("%m/%d/%Y %I:%M:%S %p").replace("AM", "am").replace(
        "PM", "pm"
    )
    assert r["date_opened"] == f"{opened.month}/{opened.day}/{opened.year} " + opened.strftime("%I:%M:%S %p").lstrip(
        "0"
    )


@pytest.mark.parametrize("text", HOSTILE, ids=["unicode", "specials", "crlf", "markup", "long"])
async def test_what_whmcs_writes_every_dialect_reads_back(gateway: Gateway, text: str) -> None:
    opened = await whmcs(gateway, action="OpenTicket", deptid="1", clientid="1", subject=text[:250], message=text)
    tid = opened["id"]
    assert (await whmcs(gateway, action="GetTicket", ticketid=tid))["replies"]["reply"][0]["message"] == text
    root = await whmcs(gateway, "xml", action="GetTicket", ticketid=tid)
    assert root.findtext("subject") == text[:250]
    assert root.find("replies").find("reply").findtext("message") == text
    assert (await keliweb(gateway, "get-ticket", ticketid=tid))["subject"] == text[:250]
    ce = await clientexec(gateway, tid)
    assert ce["metadata"]["subject"] == text[:250] and ce["comments"][0]["message"] == text
    for fmt in ("json", "xml", "url"):
        [rec] = await readydesk(gateway, fmt, action="get_tickets", tid=tid)
        assert rec["subject"] == text[:250], fmt
        assert rec["summary"] == text, fmt


@pytest.mark.parametrize("text", HOSTILE[:4], ids=["unicode", "specials", "crlf", "markup"])
async def test_what_readydesk_and_clientexec_write_whmcs_reads_back(gateway: Gateway, text: str) -> None:
    params = {"key": KEY, "format": "json", "action": "add_ticket", "cid": "1", "subject": text, "summary": text}
    async with gateway.session.post(f"{gateway.url}/API/default.aspx", data=params) as r:
        created = json.loads(await r.text())
    assert "tickets" in created, created
    rd_tid = created["tickets"][0]["tid"]
    w = await whmcs(gateway, action="GetTicket", ticketid=rd_tid)
    assert w["subject"] == text and w["replies"]["reply"][0]["message"] == text

    body = {"subject": text, "message": text, "departmentid": 2, "userid": 1}
    async with gateway.session.post(f"{gateway.url}/api/ticket", json=body, headers={"X-API-KEY": KEY}) as r:
        assert r.status == 200, await r.text()
        ce_id = (await r.json())["metadata"]["id"]
    w = await whmcs(gateway, action="GetTicket", ticketid=ce_id)
    assert w["subject"] == text and w["replies"]["reply"][0]["message"] == text
