"""The PMP adapter writing a ticket's replies at once (``add_replies``): a row each with its own
Idempotency-Key, then ONE ticket update as Perfex's reply logic leaves the ticket after the last
(lastreply, status, the read flags every reply cleared).  Scripted module answers, as in
test_pmp_v3."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway import context
from gateway.canonical import Author, NewReply, Status
from gateway.mapping.loader import VendorMappings
from tests.backends.test_pmp_v3 import Answer, Module, backend, deadline, mappings, reply

__all__ = ["deadline", "mappings"]  # the fixtures, used by name

REPLIES = "api/thirdparty/customtable/tblticket_replies"


def recording_module() -> tuple[Module, list[Mapping[str, str]]]:
    posted: list[Mapping[str, str]] = []

    def post(method: str, path: str, form: Mapping[str, str], body: Any) -> Answer:
        posted.append(form)
        return reply(200, {"status": True, "id": len(posted)})

    return Module(routes={("POST", REPLIES): post}), posted


def _at(hour: int) -> datetime:
    return datetime(2024, 3, 1, hour, 0, tzinfo=UTC)


async def test_replies_of_a_ticket_are_rows_then_one_ticket_update(mappings: VendorMappings, deadline: None) -> None:
    module, posted = recording_module()
    pmp = backend(mappings, module)
    await pmp.discover()
    before = len(module.log)
    heard: list[str] = []

    async def written(key: str) -> None:
        heard.append(key)

    items = [
        ("k1", NewReply(message="from staff", author=Author(kind="staff", staff_id=2), created_at=_at(10))),
        ("k2", NewReply(message="from the customer", author=Author(kind="customer", customer_id=1),
                        created_at=_at(11))),
        ("k3", NewReply(message="staff again", author=Author(kind="staff", staff_id=1), created_at=_at(12),
                        status=Status.ON_HOLD)),
    ]  # fmt: skip
    after = await pmp.add_replies(5, items, written)
    log = [entry for entry in module.log[before:] if entry[1] != "api/staffs"]  # the staff list, read once
    assert [(m, p) for m, p, *_ in log] == [
        ("GET", "api/tickets/5"),
        ("POST", REPLIES),
        ("POST", REPLIES),
        ("POST", REPLIES),
        ("PUT", "api/tickets/5"),
    ]
    assert heard == ["k1", "k2", "k3"]
    keys = [headers["Idempotency-Key"] for m, _, _, _, headers in log if m == "POST"]
    assert keys == ["k1-reply", "k2-reply", "k3-reply"]
    put = next(body for m, _, _, body, _ in log if m == "PUT")
    assert put["lastreply"] == posted[-1]["date"]  # the last reply's date
    assert put["clientread"] == "0" and put["adminread"] == "0"  # each reply cleared its flag
    assert after.status == Status.ON_HOLD and after.id == 5  # the ticket as the update left it


async def test_a_single_reply_still_takes_the_requests_own_key(mappings: VendorMappings, deadline: None) -> None:
    module, _ = recording_module()
    pmp = backend(mappings, module)
    context.current().idempotency_key = "caller-key"
    try:
        await pmp.add_reply(5, NewReply(message="hi", author=Author(kind="customer", customer_id=1)))
    finally:
        context.current().idempotency_key = ""
    keys = [headers.get("Idempotency-Key") for m, p, _, _, headers in module.log if m == "POST" and p == REPLIES]
    assert keys == ["caller-key-reply"]
    assert [p for m, p, *_ in module.log if m == "PUT" and p.startswith("api/tickets/")] == ["api/tickets/5"]


async def test_a_failing_reply_still_updates_the_ticket_for_those_written(
    mappings: VendorMappings, deadline: None
) -> None:
    posted: list[Mapping[str, str]] = []

    def post(method: str, path: str, form: Mapping[str, str], body: Any) -> Answer:
        posted.append(form)
        if len(posted) == 2:
            return reply(422, {"status": False, "error": "validation_failed", "errors": {"message": "too long"}})
        return reply(200, {"status": True, "id": len(posted)})

    module = Module(routes={("POST", REPLIES): post})
    pmp = backend(mappings, module)
    heard: list[str] = []

    async def written(key: str) -> None:
        heard.append(key)

    items = [(f"k{i}", NewReply(message=f"m{i}", author=Author(kind="staff", staff_id=1))) for i in range(3)]
    try:
        await pmp.add_replies(5, items, written)
    except Exception as exc:  # the refusal of the second reply reaches the caller
        assert "too long" in str(exc) or "message" in str(exc)
    else:
        raise AssertionError("the refused reply was not reported")
    assert heard == ["k0"]
    puts = [body for m, p, _, body, _ in module.log if m == "PUT" and p == "api/tickets/5"]
    assert len(puts) == 1 and puts[0]["lastreply"] == posted[0]["date"]
