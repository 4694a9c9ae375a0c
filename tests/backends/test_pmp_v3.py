"""The PMP adapter on module 3.x: discovery, idempotent creates, 422/403/401/429, replies, notes.

Scripted module answers come through an injected transport (the adapter's
seam for it), so each test states exactly what the module says; the full
round trips against the simulator are in tests/e2e/test_generations.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway import context
from gateway.app import zone_config
from gateway.backends import http
from gateway.backends.pmp import PMPBackend
from gateway.backends.pmp.conversation import customer_text, match_staff
from gateway.canonical import Author, NewNote, NewReply, NewTicket, Staff
from gateway.errors import (
    BackendAuthError,
    InvalidInput,
    NotFound,
    Unsupported,
    WriteOutcomeUnknown,
)
from gateway.mapping.loader import VendorMappings, load_mappings
from gateway.settings import Settings
from gateway.store import MemoryStore

Answer = http.Reply | Exception
Handler = Callable[[str, str, Mapping[str, str], Any], Awaitable[Answer] | Answer]


@pytest.fixture(scope="module")
def mappings() -> VendorMappings:
    settings = Settings()
    return load_mappings(settings.mappings, zone_config(settings))["pmp"]


def reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> http.Reply:
    return http.Reply(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode())


NO_DATA = reply(404, {"status": False, "message": "No data were found"})
STAFF = [
    {"staffid": "1", "firstname": "Alice", "lastname": "Admin", "email": "alice@x.example", "password": "$2y$hash"},
    {"staffid": "2", "firstname": "Bob", "lastname": "Builder", "email": "bob@x.example", "active": "1"},
]
TICKET = {
    "ticketid": "5", "userid": "1", "contactid": "2", "department": "1", "subject": "s", "message": "m",
    "status": "1", "priority": "2", "date": "2024-03-01 09:00:00", "lastreply": None, "ticketkey": "abcdef0123",
    "staff_firstname": "Alice", "staff_lastname": "Admin", "user_firstname": "Jo", "user_lastname": "Doe",
    "email": "jo@x.example",
}  # fmt: skip


@dataclass
class Module:
    """A scripted 3.x module: routes by (method, path); every exchange is logged."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    log: list[tuple[str, str, dict[str, str], Any, dict[str, str]]] = field(default_factory=list)
    replies_writable: bool = True

    def __post_init__(self) -> None:
        defaults: dict[tuple[str, str], Handler] = {
            ("GET", "api/staffs?page=1&per_page=1"): lambda *a: reply(200, {"data": STAFF[:1], "meta": {"total": 2}}),
            ("GET", "api/staffs"): lambda *a: reply(200, STAFF),
            ("GET", "api/notes/ticket/0"): lambda *a: NO_DATA,
            ("GET", "api/thirdparty/customtable/tblticket_replies"): lambda *a: reply(200, []),
            ("PUT", "api/thirdparty/customtable/tblticket_replies/0"): lambda *a: (
                NO_DATA if self.replies_writable else reply(403, {"status": False, "message": "Forbidden"})
            ),
            ("GET", "api/thirdparty/customtable/tbldepartments"): lambda *a: reply(
                200, [{"departmentid": "1", "name": "Sales"}, {"departmentid": "4", "name": "Abuse"}]
            ),
            ("PUT", "api/thirdparty/customtable/tbldepartments/0"): lambda *a: reply(403, {"status": False}),
            ("GET", "api/tickets/5"): lambda *a: reply(200, TICKET),
            ("GET", "api/tickets/0"): lambda *a: NO_DATA,
            ("PUT", "api/tickets/5"): lambda *a: reply(200, {"status": True, "message": "Ticket Updated"}),
            ("GET", "api/contacts/1"): lambda *a: reply(
                200, [{"id": "2", "userid": "1", "firstname": "Jo", "lastname": "Doe", "email": "jo@x.example"}]
            ),
        }
        for key, handler in defaults.items():
            self.routes.setdefault(key, handler)

    async def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: float,
    ) -> http.Reply:
        path = url.split("module.invalid/", 1)[1]
        self.log.append((method, path, dict(form or {}), json, dict(headers)))
        handler = self.routes.get((method, path))
        if handler is None:
            return reply(404, {"status": False, "message": "No data were found"})
        answer = handler(method, path, form or {}, json)
        if not isinstance(answer, (http.Reply, Exception)):
            answer = await answer
        if isinstance(answer, Exception):
            raise answer
        return answer

    def calls(self, method: str | None = None) -> list[tuple[str, str]]:
        return [(m, p) for m, p, *_ in self.log if method is None or m == method]


@pytest.fixture
def deadline() -> Iterator[None]:
    # a sync fixture sets the context variable for the whole session: put it back afterwards
    token = context.begin(context.RequestContext(deadline=time.monotonic() + 10))
    yield
    context.end(token)


def backend(mappings: VendorMappings, module: Module, **kw: Any) -> PMPBackend:
    return PMPBackend("http://module.invalid/", "tok", mappings, MemoryStore(), transport=module, **kw)


# ------------------------------------------------------------------ discovery


async def test_discovery_finds_a_3x_installation(mappings: VendorMappings, deadline: None) -> None:
    module = Module()
    caps = await backend(mappings, module).discover()
    assert caps.generation == "3"
    assert dict(caps.features) == {
        "paging": "yes",
        "record_ids": "yes",
        "idempotent_creates": "yes",
        "staff": "yes",
        "notes": "yes",
        "replies": "yes",
        "departments": "read-only",
        "filters": "no",
    }
    assert all(m in ("GET", "PUT") for m, _ in module.calls())
    # the PUT probes target row 0, which no table holds: nothing can change
    assert [p for m, p in module.calls("PUT")] == [
        "api/thirdparty/customtable/tblticket_replies/0",
        "api/thirdparty/customtable/tbldepartments/0",
    ]


async def test_an_empty_2x_installation_is_2x_and_pins_override(mappings: VendorMappings, deadline: None) -> None:
    module = Module(routes={("GET", "api/staffs?page=1&per_page=1"): lambda *a: NO_DATA})
    caps = await backend(mappings, module).discover()
    assert caps.generation == "2" and not caps.has("replies") and not caps.has("notes")
    pinned = await backend(mappings, Module(), features={"replies": "no", "notes": "read-only"}).discover()
    assert pinned.features["replies"] == "no" and pinned.features["notes"] == "read-only"


async def test_a_bad_token_fails_discovery(mappings: VendorMappings, deadline: None) -> None:
    module = Module(routes={("GET", "api/staffs?page=1&per_page=1"): lambda *a: reply(401, {"status": False})})
    with pytest.raises(BackendAuthError):
        await backend(mappings, module).discover()
    token = Module(
        routes={
            ("GET", "api/staffs?page=1&per_page=1"): lambda *a: reply(
                404, {"status": False, "message": "Token is not defined."}
            )
        }
    )
    with pytest.raises(BackendAuthError):
        await backend(mappings, token).discover()


async def test_support_lines(mappings: VendorMappings, deadline: None) -> None:
    three = backend(mappings, Module())
    await three.discover()
    assert three.support("add_reply") == ("loss", ("notifications", "customer-reply-status"))
    assert three.support("get_ticket") == ("full", ())
    read_only = backend(mappings, Module(replies_writable=False))
    await read_only.discover()
    verdict, (reason,) = read_only.support("add_reply")
    assert verdict == "refused" and "tblticket_replies" in reason and "write grant" in reason


# ------------------------------------------------------------------ creates


def _created(record_id: int) -> Handler:
    return lambda *a: reply(201, {"status": True, "message": "ok", "record_id": str(record_id)})


async def test_create_sends_an_idempotency_key_and_lists_nothing(mappings: VendorMappings, deadline: None) -> None:
    module = Module(routes={("POST", "api/tickets"): _created(5)})
    ticket = await backend(mappings, module).open_ticket(
        NewTicket(subject="s", message="m", department_id=1, customer_id=1, contact_id=2)
    )
    assert ticket.id == 5 and ticket.opened_by_staff == "Alice Admin"
    posts = [entry for entry in module.log if entry[0] == "POST"]
    assert len(posts) == 1 and len(posts[0][4]["Idempotency-Key"]) >= 16
    assert ("GET", "api/tickets") not in module.calls()


async def test_a_lost_answer_is_replayed_with_the_same_key(mappings: VendorMappings, deadline: None) -> None:
    attempts: list[str] = []

    def post(method: str, path: str, form: Mapping[str, str], body: Any) -> Answer:
        attempts.append(module.log[-1][4]["Idempotency-Key"])
        if len(attempts) == 1:
            return http.TransportError("connection reset", sent=True)
        return reply(200, {"status": True, "record_id": 5})

    module = Module(routes={("POST", "api/tickets"): post})
    ticket = await backend(mappings, module).open_ticket(
        NewTicket(subject="s", message="m", department_id=1, customer_id=1, contact_id=2)
    )
    assert ticket.id == 5 and len(attempts) == 2 and attempts[0] == attempts[1]
    assert ("GET", "api/tickets") not in module.calls()


async def test_a_create_whose_outcome_stays_open_says_so(mappings: VendorMappings, deadline: None) -> None:
    module = Module(
        routes={("POST", "api/tickets"): lambda *a: http.TransportError("no answer", sent=True, timeout=True)}
    )
    with pytest.raises(WriteOutcomeUnknown) as err:
        await backend(mappings, module).open_ticket(
            NewTicket(subject="s", message="m", department_id=1, customer_id=1, contact_id=2)
        )
    assert "outcome is unknown" in err.value.message and "deadline" in err.value.message
    assert "dropped" not in err.value.message


async def test_validation_403_and_rate_limits(mappings: VendorMappings, deadline: None) -> None:
    invalid = Module(
        routes={
            ("POST", "api/tickets"): lambda *a: reply(
                422,
                {
                    "status": False,
                    "error": "validation_failed",
                    "message": "The given data was invalid.",
                    "errors": {"subject": "The subject field is required."},
                },
            )
        }
    )
    new = NewTicket(subject="s", message="m", department_id=1, customer_id=1, contact_id=2)
    with pytest.raises(InvalidInput) as err:
        await backend(mappings, invalid).open_ticket(new)
    assert err.value.field == "subject" and "required" in err.value.message

    forbidden = Module(routes={("POST", "api/tickets"): lambda *a: reply(403, {"status": False, "message": "no"})})
    with pytest.raises(Unsupported) as refused:
        await backend(mappings, forbidden).open_ticket(new)
    assert "tickets (write)" in refused.value.message

    hits: list[int] = []

    def limited(*a: Any) -> Answer:
        hits.append(1)
        if len(hits) == 1:
            return reply(429, {"status": False}, {"X-RateLimit-Reset": str(int(time.time()))})
        return reply(200, {"status": True, "record_id": 5})

    rate = Module(routes={("POST", "api/tickets"): limited})
    assert (await backend(mappings, rate).open_ticket(new)).id == 5 and len(hits) == 2


# ------------------------------------------------------------------ replies and notes


async def test_reply_rows_carry_perfex_author_columns(mappings: VendorMappings, deadline: None) -> None:
    posted: list[Mapping[str, str]] = []

    def post(method: str, path: str, form: Mapping[str, str], body: Any) -> Answer:
        posted.append(form)
        return reply(200, {"status": True, "id": len(posted)})

    module = Module(routes={("POST", "api/thirdparty/customtable/tblticket_replies"): post})
    pmp = backend(mappings, module)
    await pmp.add_reply(5, NewReply(message="a <b>b</b>\nc", author=Author(kind="customer", customer_id=1)))
    await pmp.add_reply(5, NewReply(message="<p>ok</p>", author=Author(kind="staff", name="Bob Builder")))
    assert posted[0]["userid"] == "1" and posted[0]["contactid"] == "2" and posted[0]["admin"] == "0"
    assert posted[0]["message"] == "a b<br />\nc"
    assert posted[1]["admin"] == "2" and posted[1]["message"] == "<p>ok</p>"
    puts = [(form, body) for m, p, form, body, _ in module.log if m == "PUT" and p == "api/tickets/5"]
    assert puts[0][1]["status"] == "1" and puts[0][1]["adminread"] == "0"
    assert puts[1][1]["status"] == "3" and puts[1][1]["clientread"] == "0"
    assert puts[1][1]["lastreply"] == posted[1]["date"]

    writes = len(module.calls("POST"))
    with pytest.raises(InvalidInput) as err:
        await pmp.add_reply(5, NewReply(message="x", author=Author(kind="staff", name="nobody")))
    assert err.value.field == "adminusername" and len(module.calls("POST")) == writes

    with pytest.raises(NotFound):
        await pmp.add_reply(77, NewReply(message="x", author=Author(kind="customer", customer_id=1)))
    assert len(module.calls("POST")) == writes


async def test_reply_index_refreshes_only_when_lastreply_moves(mappings: VendorMappings, deadline: None) -> None:
    table = [{"id": "1", "ticketid": "5", "admin": "1", "userid": "0", "contactid": "0", "message": "hi",
              "date": "2024-03-01 10:00:00"}]  # fmt: skip
    row = dict(TICKET, lastreply="2024-03-01 10:00:00")
    module = Module(
        routes={
            ("GET", "api/thirdparty/customtable/tblticket_replies"): lambda *a: reply(200, table),
            ("GET", "api/tickets/5"): lambda *a: reply(200, row),
        }
    )
    pmp = backend(mappings, module)
    await pmp.discover()
    first = await pmp.get_ticket(5)
    assert [r.author.name for r in first.replies] == ["Jo Doe", "Alice Admin"]
    reads = module.calls().count(("GET", "api/thirdparty/customtable/tblticket_replies"))
    await pmp.get_ticket(5)
    assert module.calls().count(("GET", "api/thirdparty/customtable/tblticket_replies")) == reads
    table.append(dict(table[0], id="2", admin="0", name="Guest", email="g@x.example", message="later",
                      date="2024-03-02 08:00:00"))  # fmt: skip
    row["lastreply"] = "2024-03-02 08:00:00"
    second = await pmp.get_ticket(5)
    assert [r.message for r in second.replies][-1] == "later" and second.replies[-1].author.kind == "guest"
    assert module.calls().count(("GET", "api/thirdparty/customtable/tblticket_replies")) == reads + 1


async def test_notes_and_staff_never_carry_secrets(mappings: VendorMappings, deadline: None) -> None:
    notes = [{"id": "3", "rel_id": "5", "rel_type": "ticket", "description": "n", "addedfrom": "2",
              "dateadded": "2024-03-01 11:00:00"}]  # fmt: skip
    module = Module(
        routes={
            ("GET", "api/notes/ticket/5"): lambda *a: reply(200, notes),
            ("POST", "api/notes"): lambda *a: reply(200, {"status": True, "record_id": 4}),
        }
    )
    pmp = backend(mappings, module)
    assert [(n.staff_name, n.message) for n in await pmp.list_notes(5)] == [("Bob Builder", "n")]
    await pmp.add_note(5, NewNote(message="new"))
    form = next(f for m, p, f, *_ in module.log if (m, p) == ("POST", "api/notes"))
    assert form == {"rel_type": "ticket", "rel_id": "5", "description": "new"}
    staff = await pmp.list_staff()
    assert "hash" not in repr(staff) and [s.id for s in staff] == [1, 2]
    assert [d.name for d in await pmp.list_departments()] == ["Sales", "Abuse"] and pmp.departments_known()


def test_staff_matching_and_customer_text() -> None:
    staff = [Staff(id=1, firstname="Ann", lastname="Lee", email="ann@x"), Staff(id=2, firstname="Ann", lastname="Po")]
    assert match_staff(staff, "ANN@X") == staff[0]
    assert match_staff(staff, "Ann  Po") == staff[1]
    assert match_staff(staff, "ann") == staff[0]  # first name: the lowest id
    assert match_staff(staff, "Zed") is None
    assert customer_text("<p>a</p>\r\nb") == "a<br />\nb"


async def test_2x_refuses_replies_without_writing(mappings: VendorMappings, deadline: None) -> None:
    module = Module(routes={("GET", "api/staffs?page=1&per_page=1"): lambda *a: NO_DATA})
    pmp = backend(mappings, module)
    with pytest.raises(Unsupported, match="nothing was written"):
        await pmp.add_reply(5, NewReply(message="x", author=Author(kind="customer", customer_id=1)))
    assert module.calls("POST") == [] and module.calls("PUT") == []


async def test_discovery_probes_survive_a_flaky_moment(mappings: VendorMappings, deadline: None) -> None:
    answers: list[Answer] = [reply(503, {"status": False}), http.TransportError("reset", sent=True), NO_DATA]

    def flaky(*a: Any) -> Answer:
        return answers.pop(0) if answers else NO_DATA

    module = Module(routes={("PUT", "api/thirdparty/customtable/tblticket_replies/0"): flaky})
    caps = await backend(mappings, module, retries=3).discover()
    assert caps.generation == "3" and caps.features["replies"] == "yes" and answers == []
