"""WHMCS client actions end to end: whmcs-api-client (GetClients, GetClientsDetails, AddClient,
UpdateClient) and whmcspy (DeleteClient, GetContacts, AddContact) against gateway + PMP simulator."""

from __future__ import annotations

from typing import Any

import pytest
import whmcs_client
import whmcspy

from tests.conftest import Gateway
from tests.e2e.conftest import DEMO_ID, DEMO_SECRET, in_thread, parse_xml, writes

AUTH = {"username": DEMO_ID, "password": DEMO_SECRET, "responsetype": "json"}
NEW_CLIENT = {
    "firstname": "Max",
    "lastname": "Müller",
    "email": "max.mueller@example.de",
    "address1": "Hauptstraße 5",
    "city": "München",
    "state": "Bayern",
    "postcode": "80331",
    "country": "DE",
    "phonenumber": "+49 89 123456",
}


def customers(gateway: Gateway) -> int:
    return gateway.sim.count_customers()


def contacts(gateway: Gateway) -> int:
    return gateway.sim.count_contacts()


# ------------------------------------------------------------------ GetClients


async def test_get_clients_typed_model(whmcs_api: whmcs_client.DefaultApi) -> None:
    out = await in_thread(whmcs_api.get_clients, **AUTH)
    assert out.result == "success"
    assert (out.totalresults, out.startnumber, out.numreturned) == (3, 0, 3)
    assert out.clients is not None and out.clients.client is not None
    first = out.clients.client[0]
    assert (first.id, first.firstname, first.lastname, first.email) == (
        1,
        "John",
        "Smith",
        "john.smith@acme.example",
    )
    assert (first.companyname, first.datecreated, first.groupid, first.status) == (
        "Acme Widgets Ltd",
        "2023-02-01",
        0,
        "Active",
    )
    assert [c.id for c in out.clients.client] == [1, 2, 3]


async def test_get_clients_raw_types(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("GetClients")
    for key in ("totalresults", "startnumber", "numreturned"):
        assert isinstance(body[key], int), key
    for c in body["clients"]["client"]:
        assert isinstance(c["id"], int) and isinstance(c["groupid"], int)
        assert all(isinstance(c[k], str) for k in ("firstname", "lastname", "companyname", "email", "status"))
        assert len(c["datecreated"]) == 10


@pytest.mark.parametrize(
    ("params", "ids"),
    [
        ({"search": "acme"}, [1]),
        ({"search": "John"}, [1]),
        ({"search": "Smith"}, [1]),
        ({"search": "John Smith"}, [1]),
        ({"search": "zoe@"}, [3]),
        ({"search": "Công"}, [2]),
        ({"search": "Ünïcødé"}, [3]),
        ({"search": "mith"}, []),  # a prefix match, not a substring match
        ({"status": "Active"}, [1, 2, 3]),
        ({"status": "Inactive"}, []),
        ({"sorting": "DESC"}, [3, 2, 1]),
        ({"limitstart": 1, "limitnum": 1}, [2]),
        ({"limitstart": 2, "limitnum": 2}, [3]),
        ({"limitstart": 5}, []),
    ],
)
async def test_get_clients_search_and_paging(
    whmcs_api: whmcs_client.DefaultApi, params: dict[str, Any], ids: list[int]
) -> None:
    out = await in_thread(whmcs_api.get_clients, **AUTH, **params)
    assert out.result == "success"
    got = [c.id for c in (out.clients.client or [])] if out.clients else []
    assert got == ids
    assert out.numreturned == len(ids)


async def test_get_clients_empty_shape(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("GetClients", search="nobody-here")
    assert body == {
        "result": "success",
        "totalresults": 0,
        "startnumber": 0,
        "numreturned": 0,
        "clients": {"client": []},
    }


async def test_get_clients_paginated_call(whmcspy_client: whmcspy.WHMCS) -> None:
    def collect() -> list[int]:
        return [
            c["id"]
            for page in whmcspy_client.paginated_call("GetClients", limitnum=2)
            for c in page["clients"]["client"]
        ]

    assert await in_thread(collect) == [1, 2, 3]


async def test_get_clients_invalid_status(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("GetClients", status="Sleeping")
    assert body["result"] == "error" and "status" in body["message"]


# ------------------------------------------------------------ GetClientsDetails


async def test_get_clients_details_by_id_and_email(whmcs_api: whmcs_client.DefaultApi) -> None:
    out = await in_thread(whmcs_api.get_clients_details, **AUTH, clientid=2)
    assert out.result == "success"
    assert out.client is not None and out.client.email == "an.nguyen@trungbinh.example"
    assert out.client.phonenumber == "+84 28 3822 0000"
    out = await in_thread(whmcs_api.get_clients_details, **AUTH, email="AN.NGUYEN@trungbinh.example")
    assert out.client is not None and out.client.email == "an.nguyen@trungbinh.example"


async def test_get_clients_details_raw(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("GetClientsDetails", clientid="1")
    client = body["client"]
    for key in ("client_id", "userid", "id", "groupid", "currency", "billingcid"):
        assert isinstance(client[key], int), key
    assert client["id"] == 1
    assert (client["firstname"], client["lastname"], client["fullname"]) == ("John", "Smith", "John Smith")
    assert (client["companyname"], client["email"]) == ("Acme Widgets Ltd", "john.smith@acme.example")
    assert (client["address1"], client["city"], client["postcode"]) == ("1 Widget Street", "London", "WC1 2AB")
    assert (client["country"], client["countrycode"]) == ("GB", "GB")
    assert client["status"] == "Active" and client["credit"] == "0.00"
    assert all(v in ("0", "1") for v in client["email_preferences"].values())
    assert isinstance(client["taxexempt"], bool)
    # the deprecated flat copy
    assert body["email"] == client["email"] and body["id"] == 1
    # nothing secret from the contact rows
    text = str(body)
    assert "password" not in text and "$2y$" not in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"clientid": "99"}, "Client Not Found"),
        ({"email": "nobody@example.com"}, "Client Not Found"),
        ({}, "Either clientid Or email Is Required"),
    ],
)
async def test_get_clients_details_errors(gateway: Gateway, params: dict[str, str], message: str) -> None:
    status, body = await gateway.whmcs("GetClientsDetails", **params)
    assert status == 200 and body == {"result": "error", "message": message}


async def test_get_clients_details_stats_counts_the_clients_tickets(
    gateway: Gateway, whmcs_api: whmcs_client.DefaultApi
) -> None:
    _, plain = await gateway.whmcs("GetClientsDetails", clientid="1")
    assert "stats" not in plain  # only when asked for
    _, listed = await gateway.whmcs("GetTickets", clientid="1", limitnum="1000")
    tickets = listed["tickets"]["ticket"] if listed["totalresults"] else []
    active = [t for t in tickets if t["status"] != "Closed"]
    _, body = await gateway.whmcs("GetClientsDetails", clientid="1", stats="true")
    stats = body["stats"]
    assert (stats["numtickets"], stats["numactivetickets"]) == (listed["totalresults"], len(active))
    assert stats["numtickets"] > 0
    # billing figures the backend cannot hold: zeros under WHMCS's names
    assert stats["numdueinvoices"] == 0 and stats["income"] == "0.00" and stats["productsnumtotal"] == 0
    assert body["client"]["id"] == 1
    # a new ticket for the client is counted at once
    await gateway.whmcs("OpenTicket", clientid="1", deptid="1", subject="stats", message="count me")
    _, after = await gateway.whmcs("GetClientsDetails", clientid="1", stats="1")
    assert after["stats"]["numtickets"] == stats["numtickets"] + 1
    # a real client library that always sends stats=true still reads the client
    out = await in_thread(whmcs_api.get_clients_details, **AUTH, clientid=1, stats=True)
    assert out.result == "success" and out.client is not None


async def test_get_clients_details_xml_nesting(gateway: Gateway) -> None:
    _, text = await gateway.whmcs("GetClientsDetails", fmt="xml", clientid="3")
    root = parse_xml(text)
    assert root.findtext("action") == "getclientsdetails"
    assert root.findtext("client/companyname") == "Ünïcødé ✓ & <Sons> \"Quoted\" 'Co'"
    assert root.findtext("client/address1") == "Bahnhofstrasse 1\r\nPostfach 12"
    assert root.findtext("client/email_preferences/general") == "1"


# ------------------------------------------------------------------- AddClient


async def test_add_client_creates_customer_and_primary_contact(
    gateway: Gateway, whmcs_api: whmcs_client.DefaultApi
) -> None:
    before_customers, before_contacts = customers(gateway), contacts(gateway)
    out = await in_thread(whmcs_api.add_client, **AUTH, **NEW_CLIENT, companyname="Müller & Söhne <GmbH>")
    assert out.result == "success", out
    assert isinstance(out.clientid, int) and out.clientid > 3
    assert customers(gateway) == before_customers + 1
    assert contacts(gateway) == before_contacts + 1
    rows = gateway.sim.list_contacts(out.clientid)
    assert len(rows) == 1 and rows[0]["is_primary"] == "1" and rows[0]["email"] == NEW_CLIENT["email"]

    details = await in_thread(whmcs_api.get_clients_details, **AUTH, clientid=out.clientid)
    assert details.client is not None and details.client.email == NEW_CLIENT["email"]
    _, body = await gateway.whmcs("GetClientsDetails", clientid=str(out.clientid))
    c = body["client"]
    assert (c["firstname"], c["lastname"], c["companyname"]) == ("Max", "Müller", "Müller & Söhne <GmbH>")
    assert (c["address1"], c["city"], c["state"], c["postcode"]) == ("Hauptstraße 5", "München", "Bayern", "80331")
    assert (c["country"], c["phonenumber"]) == ("DE", "+49 89 123456")
    listed = await in_thread(whmcs_api.get_clients, **AUTH, search="Max")
    assert [x.id for x in listed.clients.client] == [out.clientid]  # type: ignore[union-attr]


async def test_add_client_raw_answer(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("AddClient", **NEW_CLIENT)
    assert set(body) == {"result", "clientid"} and body["result"] == "success"
    assert isinstance(body["clientid"], str) and body["clientid"].isdigit()


async def test_add_client_without_company(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("AddClient", **NEW_CLIENT)
    _, details = await gateway.whmcs("GetClientsDetails", clientid=body["clientid"])
    assert details["client"]["fullname"] == "Max Müller"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"email": "john.smith@acme.example"}, "A user already exists with that email address"),
        ({"email": "JOHN.SMITH@acme.example"}, "A user already exists with that email address"),
        ({"firstname": ""}, "You did not enter your first name"),
        ({"lastname": ""}, "You did not enter your last name"),
        ({"email": ""}, "You did not enter your email address"),
        ({"email": "not an email"}, "The email address you entered was not valid"),
        ({"customfields": "YToxOntpOjE7czoxOiJ4Ijt9"}, "Custom fields"),
        ({"owner_user_id": "1"}, "Owner users"),
    ],
)
async def test_add_client_refused_writes_nothing(gateway: Gateway, change: dict[str, str], message: str) -> None:
    before = (customers(gateway), contacts(gateway), writes(gateway))
    _, body = await gateway.whmcs("AddClient", **{**NEW_CLIENT, **change})
    assert body["result"] == "error" and body["message"].startswith(message), body
    assert (customers(gateway), contacts(gateway), writes(gateway)) == before


async def test_add_client_contact_failure_is_undone(gateway: Gateway) -> None:
    # Jane is a (non-primary) contact of customer 1: the customer can be created, its contact cannot
    before = (customers(gateway), contacts(gateway))
    before_ids = {r["userid"] for r in gateway.sim.list_clients()}
    _, body = await gateway.whmcs("AddClient", **{**NEW_CLIENT, "email": "jane.oconnor@acme.example"})
    assert body == {
        "result": "error",
        "message": "A user already exists with that email address (the customer was not created)",
    }
    assert (customers(gateway), contacts(gateway)) == before
    assert {r["userid"] for r in gateway.sim.list_clients()} == before_ids
    _, page = await gateway.whmcs("GetClients", search="Max")
    assert page["totalresults"] == 0


async def test_add_client_whmcs_api_error_model(whmcs_api: whmcs_client.DefaultApi) -> None:
    out = await in_thread(whmcs_api.add_client, **AUTH, **{**NEW_CLIENT, "email": "zoe@unicode.example"})
    assert (out.result, out.message) == ("error", "A user already exists with that email address")
    assert out.clientid is None


# ---------------------------------------------------------------- UpdateClient


async def test_update_client(gateway: Gateway, whmcs_api: whmcs_client.DefaultApi) -> None:
    _, before = await gateway.whmcs("GetClientsDetails", clientid="1")
    row_before = gateway.sim.get_client(1)
    out = await in_thread(
        whmcs_api.update_client, **AUTH, clientid=1, companyname="Acme Gadgets & Co", city="Manchester"
    )
    assert (out.result, out.clientid) == ("success", "1")
    _, after = await gateway.whmcs("GetClientsDetails", clientid="1")
    assert (after["client"]["companyname"], after["client"]["city"]) == ("Acme Gadgets & Co", "Manchester")
    unchanged = {k: v for k, v in before["client"].items() if k not in ("companyname", "city")}
    assert {k: after["client"][k] for k in unchanged} == unchanged
    row = gateway.sim.get_client(1)
    assert row is not None and row_before is not None
    # PUT resets what it is not sent: the gateway must have sent it back
    for col in ("country", "billing_country", "default_currency", "vat", "phonenumber"):
        assert row[col] == row_before[col], col


async def test_update_client_email_and_names(gateway: Gateway, whmcspy_client: whmcspy.WHMCS) -> None:
    out = await in_thread(whmcspy_client.call, "UpdateClient", clientid=2, firstname="An", email="an@trungbinh.example")
    assert out == {"result": "success", "clientid": "2"}
    _, d = await gateway.whmcs("GetClientsDetails", email="an@trungbinh.example")
    assert d["result"] == "success", d
    assert (d["client"]["id"], d["client"]["firstname"], d["client"]["lastname"]) == (2, "An", "Nguyễn")


async def test_update_client_by_email(gateway: Gateway) -> None:
    _, out = await gateway.whmcs("UpdateClient", clientemail="zoe@unicode.example", postcode="8002")
    assert out == {"result": "success", "clientid": "3"}
    _, d = await gateway.whmcs("GetClientsDetails", clientid="3")
    assert d["client"]["postcode"] == "8002"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"clientid": "99", "city": "x"}, "Client ID Not Found"),
        ({"clientid": "1", "email": "bad email"}, "The email address entered is not valid"),
        ({"clientid": "1", "customfields": "YToxOntpOjE7czoxOiJ4Ijt9"}, "Custom fields"),
        ({"clientid": "1", "email_preferences[general]": "0"}, "Email preferences"),
    ],
)
async def test_update_client_errors(gateway: Gateway, params: dict[str, str], message: str) -> None:
    before = writes(gateway)
    _, body = await gateway.whmcs("UpdateClient", **params)
    assert body["result"] == "error" and body["message"].startswith(message), body
    assert writes(gateway) == before


async def test_update_client_duplicate_email(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("UpdateClient", clientid="2", email="john.smith@acme.example")
    assert body == {"result": "error", "message": "Duplicate Email Address"}


# ---------------------------------------------------------------- DeleteClient


async def test_delete_client(gateway: Gateway, whmcspy_client: whmcspy.WHMCS) -> None:
    before = customers(gateway)
    out = await in_thread(whmcspy_client.call, "DeleteClient", clientid=3)
    assert out == {"result": "success", "clientid": "3"}
    assert customers(gateway) == before - 1 and gateway.sim.get_client(3) is None
    _, body = await gateway.whmcs("GetClientsDetails", clientid="3")
    assert body == {"result": "error", "message": "Client Not Found"}
    _, body = await gateway.whmcs("DeleteClient", clientid="3")
    assert body == {"result": "error", "message": "Client ID Not Found"}
    _, body = await gateway.whmcs("DeleteClient")
    assert body == {"result": "error", "message": "Client ID Not Found"}


# ----------------------------------------------------------------- GetContacts


async def test_get_contacts_paginated(whmcspy_client: whmcspy.WHMCS) -> None:
    def collect() -> list[dict[str, Any]]:
        return [
            c for page in whmcspy_client.paginated_call("GetContacts", limitnum=3) for c in page["contacts"]["contact"]
        ]

    rows = await in_thread(collect)
    assert [c["id"] for c in rows] == [1, 2, 3, 4]  # contact 5 is inactive
    for c in rows:
        assert isinstance(c["id"], int) and isinstance(c["userid"], int)
        for flag in ("domainemails", "generalemails", "invoiceemails", "productemails", "supportemails"):
            assert isinstance(c[flag], bool)
        assert len(c["created_at"]) == 19
        assert "password" not in c
    assert (rows[1]["userid"], rows[1]["lastname"]) == (1, "O'Connor")


async def test_get_contacts_filters(gateway: Gateway) -> None:
    _, body = await gateway.whmcs("GetContacts", userid="1")
    assert [c["id"] for c in body["contacts"]["contact"]] == [1, 2]
    assert (body["totalresults"], body["numreturned"]) == (2, 2)
    _, body = await gateway.whmcs("GetContacts", email="zoe@unicode.example")
    assert [c["id"] for c in body["contacts"]["contact"]] == [4]
    _, body = await gateway.whmcs("GetContacts", firstname="nobody")
    assert body == {
        "result": "success",
        "totalresults": 0,
        "startnumber": 0,
        "numreturned": 0,
        "contacts": {"contact": []},
    }


# ------------------------------------------------------------------ AddContact


async def test_add_contact(gateway: Gateway, whmcspy_client: whmcspy.WHMCS) -> None:
    before = gateway.sim.count_contacts(2)
    out = await in_thread(
        whmcspy_client.call,
        "AddContact",
        clientid=2,
        firstname="Thị Bích",
        lastname="Trần",
        email="bich.tran@trungbinh.example",
        phonenumber="+84 90 765 4321",
    )
    assert out["result"] == "success" and set(out) == {"result", "contactid"}
    assert isinstance(out["contactid"], str)
    assert gateway.sim.count_contacts(2) == before + 1
    row = gateway.sim.get_contact(int(out["contactid"]))
    assert row is not None and row["userid"] == "2" and row["is_primary"] == "0"
    listed = await in_thread(whmcspy_client.call, "GetContacts", userid=2)
    got = {c["id"]: c for c in listed["contacts"]["contact"]}
    new = got[int(out["contactid"])]
    assert (new["firstname"], new["lastname"], new["email"], new["phonenumber"]) == (
        "Thị Bích",
        "Trần",
        "bich.tran@trungbinh.example",
        "+84 90 765 4321",
    )
    # the client's own email (its primary contact) is unchanged
    _, d = await gateway.whmcs("GetClientsDetails", clientid="2")
    assert d["client"]["email"] == "an.nguyen@trungbinh.example"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"clientid": "99", "email": "x@example.com"}, "Client ID Not Found"),
        ({"email": "x@example.com"}, "Client ID Not Found"),
        ({"clientid": "1", "email": "john.smith@acme.example"}, "Duplicate Email Address"),
        ({"clientid": "1", "email": "bad"}, "Email Address Invalid"),
    ],
)
async def test_add_contact_errors(gateway: Gateway, params: dict[str, str], message: str) -> None:
    before = contacts(gateway)
    _, body = await gateway.whmcs("AddContact", firstname="A", lastname="B", **params)
    assert body["result"] == "error" and body["message"].startswith(message), body
    assert contacts(gateway) == before
