"""GetTicket's replies field by field against seed 001 (Keliweb's get-ticket, WHMCS's shape), on
the embedded PMP 3.x simulator: the opening message (replyid 0) has no ``rating``, every later
reply (staff or customer) has ``"rating": "0"``; the staff-opened ticket's opening is the staff
member's (``admin`` named, no client name or email)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Gateway

SEED_REPLY_KEYS = ["replyid", "userid", "contactid", "name", "email", "date", "message", "attachment", "admin"]


async def _keliweb(gw: Gateway, **form: str) -> dict[str, Any]:
    headers = {"Authorization": "Bearer demo-secret"}
    async with gw.session.post(f"{gw.url}/api/v2/keliweb/get-ticket", data=form, headers=headers) as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body


@pytest.mark.parametrize("sort", ["ASC", "DESC"])
async def test_every_reply_after_the_opening_has_a_rating(gateway: Gateway, sort: str) -> None:
    _, whmcs = await gateway.whmcs("GetTicket", ticketid="3", repliessort=sort)
    keliweb = await _keliweb(gateway, ticketid="3", repliessort=sort)
    assert whmcs == keliweb
    replies = whmcs["replies"]["reply"]
    assert [r["replyid"] for r in replies] == (["0", "1", "2"] if sort == "ASC" else ["2", "1", "0"])
    for reply in replies:
        expected = SEED_REPLY_KEYS + ([] if reply["replyid"] == "0" else ["rating"])
        assert list(reply) == expected
        assert all(isinstance(v, str) for v in reply.values())
        if reply["replyid"] != "0":
            assert reply["rating"] == "0"


async def test_the_rating_in_xml_too(gateway: Gateway) -> None:
    _, xml = await gateway.whmcs("GetTicket", fmt="xml", ticketid="3")
    assert xml.count("<rating>0</rating>") == 2


async def test_a_staff_opened_ticket_opens_with_the_staff_members_message(gateway: Gateway) -> None:
    _, ticket = await gateway.whmcs("GetTicket", ticketid="6")
    assert (ticket["admin"], ticket["userid"], ticket["name"]) == ("Alice Admin", "1", "John Smith")
    opening = ticket["replies"]["reply"][0]
    assert (opening["replyid"], opening["admin"], opening["name"], opening["email"]) == ("0", "Alice Admin", "", "")
