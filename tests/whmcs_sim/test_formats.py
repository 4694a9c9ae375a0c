"""Answer formats (reference 1.5, 1.6): JSON, the XML envelope, and the legacy default (NVP/XML)."""

from __future__ import annotations

import json

from tests.whmcs_sim.conftest import Sim, parse_nvp, parse_xml


async def test_json_content_type_and_shape(sim: Sim) -> None:
    status, ctype, text = await sim.raw("AddTicketNote", ticketid="1", message="n", responsetype="json")
    assert (status, ctype) == (200, "application/json")
    assert json.loads(text) == {"result": "success"}


async def test_no_responsetype_flat_result_is_nvp(sim: Sim) -> None:
    status, ctype, text = await sim.raw("OpenTicket", deptid="1", subject="s", message="m", clientid="1")
    assert status == 200 and ctype == "text/html"
    fields = parse_nvp(text)
    assert fields["result"] == "success" and fields["tid"].isdigit() and len(fields["c"]) == 8
    assert int(fields["id"]) == sim.db.scalar("SELECT MAX(id) FROM tbltickets") == 7


async def test_no_responsetype_error_is_nvp(sim: Sim) -> None:
    _, ctype, text = await sim.raw("GetTicket", ticketid="999")
    assert ctype == "text/html" and text == "result=error;message=Ticket ID Not Found;"


async def test_no_responsetype_nested_result_is_xml(sim: Sim) -> None:
    status, ctype, text = await sim.raw("GetTicket", ticketid="1")
    assert status == 200 and ctype == "application/xml"
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = parse_xml(text)
    assert root.tag == "whmcsapi" and root.get("version")
    assert root[0].tag == "action" and root[0].text == "getticket"
    assert root.findtext("result") == "success"
    assert [r.findtext("replyid") for r in root.findall("replies/reply")] == ["0", "1", "2"]
    assert root.findtext("notes/note/noteid") == "1"


async def test_xml_envelope_lowercases_action_and_escapes(sim: Sim) -> None:
    _, ctype, text = await sim.raw("GETTICKET", ticketid="3", responsetype="xml")
    assert ctype == "application/xml"
    root = parse_xml(text)
    assert root.findtext("action") == "getticket"
    assert root.findtext("subject") == "Invoice #42: total shows <b>&amp;</b> \"wrong\" & 'odd' chars"
    # CRLF survives a conforming XML parser
    assert root.findtext("message") is None  # GetTicket has no top-level message
    assert root.findall("replies/reply")[0].findtext("message") == (
        "Amounts < 0 & > 100 look \"broken\"; it's the 'tax' line.\r\nSee <attached>."
    )


async def test_xml_error(sim: Sim) -> None:
    status, ctype, text = await sim.raw("GetTicket", ticketid="999", responsetype="xml")
    root = parse_xml(text)
    assert (status, ctype) == (200, "application/xml")
    assert (root.findtext("result"), root.findtext("message")) == ("error", "Ticket ID Not Found")


async def test_xml_list_containers(sim: Sim) -> None:
    _, _, text = await sim.raw("GetTickets", responsetype="xml", limitnum="3")
    root = parse_xml(text)
    assert root.findtext("totalresults") == "6" and root.findtext("numreturned") == "3"
    assert len(root.findall("tickets/ticket")) == 3
    _, _, text = await sim.raw("GetClients", responsetype="xml", search="nobody")
    root = parse_xml(text)
    assert root.findtext("numreturned") == "0" and root.find("clients") is not None


async def test_responsetype_case_insensitive(sim: Sim) -> None:
    _, ctype, _ = await sim.raw("GetTicket", ticketid="1", responsetype="JSON")
    assert ctype == "application/json"
