"""Client actions of the WHMCS simulator (reference section 3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.whmcs_sim.conftest import Sim, parse_xml

NEW_CLIENT = {
    "firstname": "Max",
    "lastname": "Müller",
    "email": "max.mueller@example.de",
    "address1": "Hauptstraße 5",
    "city": "München",
    "state": "Bayern",
    "postcode": "80331",
    "country": "de",
    "phonenumber": "+49 89 123456",
    "password2": "pw",
}


# ------------------------------------------------------------------ GetClients


async def test_get_clients_types(sim: Sim) -> None:
    body = await sim.ok("GetClients")
    assert (body["totalresults"], body["startnumber"], body["numreturned"]) == (3, 0, 3)
    first = body["clients"]["client"][0]
    assert first == {
        "id": 1,
        "firstname": "John",
        "lastname": "Smith",
        "companyname": "Acme Widgets Ltd",
        "email": "john.smith@acme.example",
        "datecreated": "2023-02-01",
        "groupid": 0,
        "status": "Active",
    }


@pytest.mark.parametrize(
    ("params", "ids"),
    [
        ({"search": "acme"}, [1]),
        ({"search": "John Smith"}, [1]),
        ({"search": "Smi"}, [1]),
        ({"search": "mith"}, []),
        ({"search": "zoe@"}, [3]),
        ({"search": "Công"}, [2]),
        ({"status": "Active"}, [1, 2, 3]),
        ({"status": "Closed"}, []),
        ({"sorting": "DESC"}, [3, 2, 1]),
        ({"orderby": "lastname"}, [2, 1, 3]),
        ({"limitstart": "1", "limitnum": "1"}, [2]),
        ({"limitstart": "5"}, []),
    ],
)
async def test_get_clients_search_sort_page(sim: Sim, params: dict[str, str], ids: list[int]) -> None:
    body = await sim.ok("GetClients", **params)
    assert [c["id"] for c in body["clients"]["client"]] == ids
    assert body["numreturned"] == len(ids)


async def test_get_clients_empty_shape(sim: Sim) -> None:
    body = await sim.ok("GetClients", search="nobody")
    assert body == {
        "result": "success",
        "totalresults": 0,
        "startnumber": 0,
        "numreturned": 0,
        "clients": {"client": []},
    }


# ------------------------------------------------------------------ GetClientsDetails


async def test_get_clients_details(sim: Sim) -> None:
    body = await sim.ok("GetClientsDetails", clientid=1)
    c = body["client"]
    for key in ("client_id", "owner_user_id", "userid", "id", "groupid", "currency", "billingcid"):
        assert isinstance(c[key], int), key
    assert (c["id"], c["fullname"], c["companyname"], c["country"], c["countrycode"]) == (
        1,
        "John Smith",
        "Acme Widgets Ltd",
        "GB",
        "GB",
    )
    assert (c["address1"], c["city"], c["postcode"], c["phonenumber"]) == (
        "1 Widget Street",
        "London",
        "WC1 2AB",
        "+44 20 7946 0001",
    )
    assert c["credit"] == "0.00" and isinstance(c["taxexempt"], bool)
    assert set(c["email_preferences"]) == {"general", "invoice", "support", "product", "domain", "affiliate"}
    assert all(v in ("0", "1") for v in c["email_preferences"].values())
    assert c["users"]["user"] == [{"id": 1, "name": "John Smith", "email": "john.smith@acme.example", "is_owner": True}]
    assert body["email"] == c["email"] and body["id"] == 1  # the deprecated flat copy
    assert "stats" not in body and "password" not in str(body)


async def test_get_clients_details_by_email_with_stats(sim: Sim) -> None:
    body = await sim.ok("GetClientsDetails", email="JOHN.SMITH@acme.example", stats="true")
    assert body["client"]["id"] == 1
    assert body["stats"]["numtickets"] == 3 and body["stats"]["numactivetickets"] == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"clientid": "99"}, "Client Not Found"),
        ({"email": "nobody@example.com"}, "Client Not Found"),
        ({}, "Either clientid Or email Is Required"),
    ],
)
async def test_get_clients_details_errors(sim: Sim, params: dict[str, str], message: str) -> None:
    assert await sim.error("GetClientsDetails", **params) == message


async def test_get_clients_details_xml(sim: Sim) -> None:
    _, _, text = await sim.raw("GetClientsDetails", clientid="3", responsetype="xml")
    root = parse_xml(text)
    assert root.findtext("client/companyname") == "Ünïcødé ✓ & <Sons> \"Quoted\" 'Co'"
    assert root.findtext("client/address1") == "Bahnhofstrasse 1\r\nPostfach 12"
    assert root.findtext("client/email_preferences/general") == "1"


# ------------------------------------------------------------------ AddClient


async def test_add_client(sim: Sim) -> None:
    out = await sim.ok("AddClient", **NEW_CLIENT, companyname="Müller & Söhne", noemail="1")
    assert isinstance(out["clientid"], str) and out["clientid"].isdigit()
    assert int(out["clientid"]) == 4
    c = (await sim.ok("GetClientsDetails", clientid=out["clientid"]))["client"]
    assert (c["firstname"], c["lastname"], c["email"], c["country"]) == ("Max", "Müller", NEW_CLIENT["email"], "DE")
    assert (c["companyname"], c["city"], c["status"]) == ("Müller & Söhne", "München", "Active")
    assert c["owner_user_id"] == out["owner_user_id"] and c["users"]["user"][0]["email"] == NEW_CLIENT["email"]
    listed = await sim.ok("GetClients", search="Max")
    assert [x["id"] for x in listed["clients"]["client"]] == [4]
    assert len(listed["clients"]["client"][0]["datecreated"]) == 10


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"firstname": ""}, "You did not enter your first name"),
        ({"lastname": ""}, "You did not enter your last name"),
        ({"email": ""}, "You did not enter your email address"),
        ({"address1": ""}, "You did not enter your  address line 1"),
        ({"city": ""}, "You did not enter your city"),
        ({"state": ""}, "You did not enter your state"),
        ({"postcode": ""}, "You did not enter your postcode"),
        ({"phonenumber": ""}, "You did not enter your phone number"),
        ({"email": "not an email"}, "The email address you entered was not valid"),
        ({"country": "Germany"}, "Valid country required"),
        ({"email": "john.smith@acme.example"}, "A user already exists with that email address"),
        ({"email": "ZOE@unicode.example"}, "A user already exists with that email address"),
        ({"owner_user_id": "99"}, "Invalid Owner User ID"),
    ],
)
async def test_add_client_errors(sim: Sim, change: dict[str, str], message: str) -> None:
    before = sim.db.count_clients()
    assert await sim.error("AddClient", **{**NEW_CLIENT, **change}) == message
    assert sim.db.count_clients() == before


async def test_add_client_skipvalidation_and_owner(sim: Sim) -> None:
    out = await sim.ok("AddClient", firstname="Only", lastname="Name", email="only@example.org", skipvalidation="1")
    c = (await sim.ok("GetClientsDetails", clientid=out["clientid"]))["client"]
    assert (c["address1"], c["country"]) == ("", "")
    # a second client owned by an existing user
    out2 = await sim.ok("AddClient", **{**NEW_CLIENT, "email": "second@example.org"}, owner_user_id=1)
    assert (await sim.ok("GetClientsDetails", clientid=out2["clientid"]))["client"]["owner_user_id"] == 1


# ------------------------------------------------------------------ UpdateClient


async def test_update_client_changes_only_what_is_sent(sim: Sim) -> None:
    before = (await sim.ok("GetClientsDetails", clientid=1))["client"]
    out = await sim.ok("UpdateClient", clientid=1, companyname="Acme Gadgets & Co", city="Manchester")
    assert out == {"result": "success", "clientid": "1"}
    after = (await sim.ok("GetClientsDetails", clientid=1))["client"]
    assert (after["companyname"], after["city"]) == ("Acme Gadgets & Co", "Manchester")
    same = {k: v for k, v in before.items() if k not in ("companyname", "city")}
    assert {k: after[k] for k in same} == same


async def test_update_client_by_email_prefs_status(sim: Sim) -> None:
    out = await sim.ok(
        "UpdateClient",
        clientemail="zoe@unicode.example",
        postcode="8002",
        status="Inactive",
        **{"email_preferences[invoice]": "0"},
    )
    assert out == {"result": "success", "clientid": "3"}
    c = (await sim.ok("GetClientsDetails", clientid=3))["client"]
    assert (c["postcode"], c["status"], c["email_preferences"]["invoice"], c["email_preferences"]["general"]) == (
        "8002",
        "Inactive",
        "0",
        "1",
    )
    assert [x["id"] for x in (await sim.ok("GetClients", status="Inactive"))["clients"]["client"]] == [3]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"clientid": "99", "city": "x"}, "Client ID Not Found"),
        ({"city": "x"}, "Client ID Not Found"),
        ({"clientemail": "no@example.com", "city": "x"}, "Client ID Not Found"),
        ({"clientid": "1", "email": "bad email"}, "The email address entered is not valid"),
        ({"clientid": "2", "email": "john.smith@acme.example"}, "Duplicate Email Address"),
    ],
)
async def test_update_client_errors(sim: Sim, params: dict[str, str], message: str) -> None:
    before = sim.db.all("SELECT * FROM tblclients ORDER BY id")
    assert await sim.error("UpdateClient", **params) == message
    assert sim.db.all("SELECT * FROM tblclients ORDER BY id") == before


async def test_update_client_own_email_is_not_a_duplicate(sim: Sim) -> None:
    await sim.ok("UpdateClient", clientid=1, email="john.smith@acme.example", firstname="Johnny")
    assert (await sim.ok("GetClientsDetails", clientid=1))["client"]["firstname"] == "Johnny"


# ------------------------------------------------------------------ DeleteClient


async def test_delete_client_with_its_data(sim: Sim) -> None:
    out = await sim.ok("DeleteClient", clientid=1)
    assert out == {"result": "success", "clientid": "1"}
    assert await sim.error("GetClientsDetails", clientid=1) == "Client Not Found"
    assert sim.db.count_contacts(1) == 0
    assert (await sim.ok("GetTickets", clientid=1))["totalresults"] == 0
    assert await sim.error("DeleteClient", clientid=1) == "Client ID Not Found"
    assert await sim.error("DeleteClient") == "Client ID Not Found"


# ------------------------------------------------------------------ contacts


async def test_get_contacts(sim: Sim) -> None:
    body = await sim.ok("GetContacts")
    # primary contacts are the clients themselves: only Jane is a WHMCS contact
    assert (body["totalresults"], body["startnumber"], body["numreturned"]) == (1, 0, 1)
    jane: dict[str, Any] = body["contacts"]["contact"][0]
    assert (jane["id"], jane["userid"], jane["lastname"], jane["email"]) == (
        2,
        1,
        "O'Connor",
        "jane.oconnor@acme.example",
    )
    for flag in ("domainemails", "generalemails", "invoiceemails", "productemails", "supportemails", "affiliateemails"):
        assert isinstance(jane[flag], bool)
    assert jane["created_at"] == "2023-02-02 11:00:00" and len(jane["updated_at"]) == 19


async def test_add_contact_and_filters(sim: Sim) -> None:
    out = await sim.ok(
        "AddContact",
        clientid=2,
        firstname="Thị Bích",
        lastname="Trần",
        email="bich.tran@trungbinh.example",
        phonenumber="+84 90 765 4321",
        **{"email_preferences[support]": "1", "email_preferences[invoice]": "0"},
    )
    assert set(out) == {"result", "contactid"} and isinstance(out["contactid"], str)
    body = await sim.ok("GetContacts", userid=2)
    assert [c["id"] for c in body["contacts"]["contact"]] == [int(out["contactid"])]
    new = body["contacts"]["contact"][0]
    assert (new["firstname"], new["lastname"], new["supportemails"], new["invoiceemails"]) == (
        "Thị Bích",
        "Trần",
        True,
        False,
    )
    assert (await sim.ok("GetContacts", email="BICH.TRAN@trungbinh.example"))["numreturned"] == 1
    empty = await sim.ok("GetContacts", firstname="nobody")
    assert empty == {
        "result": "success",
        "totalresults": 0,
        "startnumber": 0,
        "numreturned": 0,
        "contacts": {"contact": []},
    }
    paged = await sim.ok("GetContacts", limitstart=1, limitnum=1)
    assert (paged["totalresults"], paged["startnumber"], paged["numreturned"]) == (2, 1, 1)
    # the client's own record is unchanged
    assert (await sim.ok("GetClientsDetails", clientid=2))["client"]["email"] == "an.nguyen@trungbinh.example"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"clientid": "99", "email": "x@example.com"}, "Client ID Not Found"),
        ({"email": "x@example.com"}, "Client ID Not Found"),
        ({"clientid": "1", "email": "jane.oconnor@acme.example"}, "Duplicate Email Address"),
        ({"clientid": "1", "email": "john.smith@acme.example"}, "Duplicate Email Address"),
        ({"clientid": "1", "email": "bad"}, "Email Address Invalid"),
    ],
)
async def test_add_contact_errors(sim: Sim, params: dict[str, str], message: str) -> None:
    before = sim.db.count_contacts()
    assert await sim.error("AddContact", firstname="A", lastname="B", **params) == message
    assert sim.db.count_contacts() == before
