"""Module 3.x auth, writes, idempotency and rate limits (and how 2.x differs)."""

from __future__ import annotations

import pytest

from gateway.pmp_sim import SimToken

from .conftest import TOKEN, Sim, SimFactory

pytestmark = pytest.mark.asyncio

TICKET = {"subject": "Printer on fire", "department": "2", "contactid": "1", "userid": "1", "message": "Help"}


async def test_bad_token_401_in_3x_404_in_2x(make_sim: SimFactory) -> None:
    sim3 = await make_sim(module=3, name="a.sqlite3")
    sim2 = await make_sim(module=2, name="b.sqlite3")
    expected = {"status": False, "message": "Token is not defined."}
    assert await sim3.call("GET", "api/tickets", token="wrong") == (401, expected)
    assert await sim3.call("GET", "api/tickets", token=None) == (401, expected)
    assert await sim2.call("GET", "api/tickets", token="wrong") == (404, expected)


async def test_token_in_query_3x(sim3: Sim) -> None:
    status, body = await sim3.call("GET", f"api/tickets/1?authtoken={TOKEN}", token=None)
    assert status == 200 and body["ticketid"] == "1"


async def test_rate_limit_headers_on_every_answer(sim3: Sim) -> None:
    cases = [
        ("api/tickets/1", TOKEN, 200),
        ("api/tickets/999", TOKEN, 404),
        ("api/tickets", "bad", 401),
        ("x", TOKEN, 404),
    ]
    for path, token, status in cases:
        async with sim3.session.get(sim3.url + path, headers={"authtoken": token}) as resp:
            assert resp.status == status
            assert int(resp.headers["X-RateLimit-Limit"]) > 0
            assert int(resp.headers["X-RateLimit-Remaining"]) >= 0
            assert int(resp.headers["X-RateLimit-Reset"]) > 1_700_000_000


async def test_rate_limit_429(make_sim: SimFactory) -> None:
    sim = await make_sim(module=3, rate_limit=3)
    statuses = []
    for _ in range(4):
        async with sim.session.get(sim.url + "api/tickets/1", headers={"authtoken": TOKEN}) as resp:
            statuses.append(resp.status)
            last = resp.headers
    assert statuses == [200, 200, 200, 429]
    assert last["X-RateLimit-Remaining"] == "0" and int(last["Retry-After"]) >= 1


async def test_post_record_id_json_and_multipart(sim3: Sim) -> None:
    status, body = await sim3.call("POST", "api/tickets", json=TICKET)
    assert status == 200 and body["status"] is True and body["record_id"] == 7
    status, body = await sim3.call("POST", "api/tickets", data=TICKET)
    assert body["record_id"] == 8
    _, row = await sim3.call("GET", "api/tickets/7")
    assert (row["subject"], row["status"]) == ("Printer on fire", "1")


async def test_validation_422_envelope(make_sim: SimFactory) -> None:
    sim3 = await make_sim(module=3, name="a.sqlite3")
    status, body = await sim3.call("POST", "api/tickets", json={"subject": "x"})
    assert status == 422
    assert body["error"] == "validation_failed" and body["message"] == "The given data was invalid."
    assert set(body["errors"]) == {"department", "contactid", "userid"}
    sim2 = await make_sim(module=2, name="b.sqlite3")
    status, body = await sim2.call("POST", "api/tickets", data={"subject": "x"})
    assert status == 404 and body["status"] is False


async def test_duplicate_contact_409(sim3: Sim) -> None:
    form = {"customer_id": "1", "firstname": "J", "lastname": "S", "email": "john.smith@acme.example"}
    status, body = await sim3.call("POST", "api/contacts", data={**form, "password": "x"})
    assert status == 409 and body["status"] is False


async def test_idempotent_replay_creates_one_row(sim3: Sim) -> None:
    headers = {"authtoken": TOKEN, "Idempotency-Key": "k-123"}
    answers = []
    for _ in range(2):
        async with sim3.session.post(sim3.url + "api/tickets", data=TICKET, headers=headers) as resp:
            answers.append((resp.status, await resp.json(), resp.headers.get("Idempotent-Replayed")))
    assert (
        answers[0][:2] == answers[1][:2] == (200, {"status": True, "message": "Ticket add successful.", "record_id": 7})
    )
    assert answers[1][2] == "true"
    assert sim3.db.count_tickets() == 7
    # Another key creates another ticket; the same key on another route is a conflict.
    async with sim3.session.post(sim3.url + "api/tickets", data=TICKET, headers={**headers, "Idempotency-Key": "k-2"}):
        pass
    assert sim3.db.count_tickets() == 8
    async with sim3.session.post(sim3.url + "api/notes", data={"rel_type": "ticket"}, headers=headers) as resp:
        assert resp.status == 409


async def test_idempotency_keys_are_per_token(make_sim: SimFactory) -> None:
    sim = await make_sim(module=3, extra_tokens=[SimToken("other-token", staff_id=2)])
    for token in (TOKEN, "other-token"):
        async with sim.session.post(
            sim.url + "api/tickets", data=TICKET, headers={"authtoken": token, "Idempotency-Key": "same"}
        ) as resp:
            assert resp.status == 200
    assert sim.db.count_tickets() == 8


async def test_put_ticket_partial_in_3x(sim3: Sim) -> None:
    status, body = await sim3.call("PUT", "api/tickets/1", json={"status": "3", "not_a_column": "x"})
    assert (status, body["status"]) == (200, True)
    row = sim3.db.get_ticket(1)
    assert row is not None
    assert (row["status"], row["priority"], row["assigned"]) == ("3", "2", "1")  # nothing reset
    assert sim3.db.ticket_tags(1) == ["login", "urgent"]
    status, body = await sim3.call("PUT", "api/tickets/999", json={"status": "3"})
    assert (status, body) == (404, {"status": False, "message": "No data were found"})


async def test_put_ticket_resets_in_2x(make_sim: SimFactory) -> None:
    sim2 = await make_sim(module=2)
    status, _ = await sim2.call("PUT", "api/tickets/1", json={"status": "3"})
    assert status == 200
    row = sim2.db.get_ticket(1)
    assert row is not None and (row["priority"], row["assigned"]) == ("0", "0")


async def test_denied_resource_403(make_sim: SimFactory) -> None:
    sim = await make_sim(module=3, extra_tokens=[SimToken("no-tickets", denied=frozenset({"tickets"}))])
    status, body = await sim.call("GET", "api/tickets", token="no-tickets")
    assert status == 403 and body["status"] is False
    status, _ = await sim.call("DELETE", "api/delete/tickets/1", token="no-tickets")
    assert status == 403
    status, _ = await sim.call("GET", "api/customers/1", token="no-tickets")
    assert status == 200


async def test_delete_on_resource_path_3x(sim3: Sim) -> None:
    status, body = await sim3.call("DELETE", "api/tickets/2")
    assert (status, body["status"]) == (200, True)
    assert sim3.db.get_ticket(2) is None
