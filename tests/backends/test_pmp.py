"""PMPBackend against the PMP simulator over loopback, and against small fault servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway import context
from gateway.backends.pmp import PMPBackend
from gateway.canonical import (
    CustomerPatch,
    NewContact,
    NewCustomer,
    NewNote,
    NewReply,
    NewTicket,
    Priority,
    Status,
    TicketPatch,
    Unmapped,
)
from gateway.errors import (
    BackendAuthError,
    BackendTimeout,
    BackendUnavailable,
    InvalidInput,
    NotFound,
    Unsupported,
    WriteOutcomeUnknown,
)
from gateway.mapping.loader import PACKAGED_ROOT, VendorMappings, load_mappings
from gateway.pmp_sim import DB_KEY, SimDB, create_app, start_simulator
from gateway.store import MemoryStore, Store

TOKEN = "test-token-123"


@pytest.fixture(scope="module")
def mappings(tmp_path_factory: pytest.TempPathFactory) -> VendorMappings:
    # the packaged pmp files only: other vendors' mappings are no concern of these tests
    root = tmp_path_factory.mktemp("mappings")
    (root / "pmp").symlink_to(PACKAGED_ROOT / "pmp", target_is_directory=True)
    return load_mappings(roots=[root])["pmp"]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Sim:
    def __init__(self, url: str, db: SimDB) -> None:
        self.url = url
        self.db = db


async def _start(tmp_path: Path, name: str = "pmp", **kw: Any) -> tuple[web.AppRunner, Sim]:
    # this file describes seed 003's module (2.x); module 3.x: test_pmp_v3.py and tests/e2e/test_generations.py
    kw.setdefault("module", 2)
    runner, url = await start_simulator(port=0, db_path=tmp_path / f"{name}.db", token=TOKEN, **kw)
    return runner, Sim(url, runner.app[DB_KEY])


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim]:
    runner, s = await _start(tmp_path, record_id=False, seed_demo=True)
    yield s
    await runner.cleanup()


@pytest.fixture
async def sim_record_id(tmp_path: Path) -> AsyncIterator[Sim]:
    runner, s = await _start(tmp_path, "record-id", record_id=True, seed_demo=True)
    yield s
    await runner.cleanup()


@pytest.fixture
async def empty_sim(tmp_path: Path) -> AsyncIterator[Sim]:
    runner, s = await _start(tmp_path, "empty", record_id=False, seed_demo=False)
    yield s
    await runner.cleanup()


Make = Callable[..., PMPBackend]


@pytest.fixture
def make(mappings: VendorMappings, session: aiohttp.ClientSession) -> Make:
    def build(url: str, token: str = TOKEN, store: Store | None = None) -> PMPBackend:
        return PMPBackend(url, token, mappings, store or MemoryStore(), session=session, connect_timeout=2.0)

    return build


@pytest.fixture
def pmp(sim: Sim, make: Make) -> PMPBackend:
    return make(sim.url)


def _deadline(seconds: float) -> None:
    context.begin(context.RequestContext(deadline=time.monotonic() + seconds))


# ------------------------------------------------------------------ tickets: reads


async def test_get_ticket_of_a_contact(pmp: PMPBackend) -> None:
    t = await pmp.get_ticket(1)
    assert t.id == 1 and t.number == "1"
    assert t.subject == "Cannot log in to the control panel"
    assert t.status is Status.OPEN and t.priority is Priority.MEDIUM
    assert t.department is not None and (t.department.id, t.department.name) == (2, "Technical Support")
    assert (t.customer_id, t.contact_id, t.assigned_staff_id) == (1, 1, 1)
    assert t.requester.kind == "customer"
    assert (t.requester.name, t.requester.email) == ("John Smith", "john.smith@acme.example")
    assert len(t.access_key) == 32
    assert t.created_at is not None and t.created_at.isoformat() == "2024-03-01T09:15:00+00:00"
    assert t.last_reply_at is None
    assert t.replies[0].id == 0 and t.replies[0].created_at == t.created_at
    assert t.replies[0].author == t.requester
    assert t.message.startswith("Hello,\r\nsince this morning")


async def test_get_ticket_of_a_non_contact_and_names_by_id(pmp: PMPBackend) -> None:
    t = await pmp.get_ticket(4)
    assert t.requester.kind == "guest"
    assert (t.requester.name, t.requester.email) == ("Walk-in Visitor", "visitor@example.net")
    assert t.status is Status.ON_HOLD
    t2 = await pmp.get_ticket(2)
    assert "<br" not in t2.message and t2.message.startswith("Xin chào,\r\nvui lòng")
    assert t2.status is Status.IN_PROGRESS and t2.priority is Priority.LOW
    t3 = await pmp.get_ticket(3)
    assert t3.last_reply_at is not None and t3.status is Status.ANSWERED


async def test_unknown_status_passes_through(pmp: PMPBackend, sim: Sim) -> None:
    sim.db.insert("tbltickets_status", {"ticketstatusid": 6, "name": "Escalated", "statuscolor": "#000"})
    sim.db.update_ticket(1, {"status": 6})
    t = await pmp.get_ticket(1)
    assert t.status == Unmapped(vendor="pmp", code="6", label="Escalated")
    # and it can be written back by its own code
    await pmp.update_ticket(2, TicketPatch(status=t.status))
    assert sim.db.get_ticket(2)["status"] == "6"  # type: ignore[index]


async def test_missing_ticket_is_not_found(pmp: PMPBackend) -> None:
    with pytest.raises(NotFound) as err:
        await pmp.get_ticket(999)
    assert err.value.kind == "ticket" and err.value.message == "Ticket ID Not Found"


async def test_list_tickets_and_empty_list(pmp: PMPBackend, empty_sim: Sim, make: Make) -> None:
    tickets = await pmp.list_tickets()
    assert [t.id for t in tickets] == [1, 2, 3, 4, 5, 6]
    empty = make(empty_sim.url)
    assert list(await empty.list_tickets()) == []
    assert list(await empty.list_customers()) == []
    assert list(await empty.list_departments()) == []
    await empty.ping()


async def test_bad_token_is_an_auth_failure(sim: Sim, make: Make) -> None:
    bad = make(sim.url, token="wrong")
    for call in (bad.ping(), bad.get_ticket(1), bad.list_tickets(), bad.get_customer(1)):
        with pytest.raises(BackendAuthError) as err:
            await call
        assert "wrong" not in err.value.message


async def test_ping_and_call_accounting(pmp: PMPBackend) -> None:
    await pmp.discover()  # what the installation offers is asked once, not per call
    ctx = context.RequestContext()
    context.begin(ctx)
    await pmp.ping()
    await pmp.get_ticket(1)
    assert ctx.backend_calls == 2 and ctx.backend_seconds > 0


async def test_departments_and_statuses(pmp: PMPBackend, mappings: VendorMappings, sim: Sim, make: Make) -> None:
    depts = await pmp.list_departments()
    assert [(d.id, d.name) for d in depts] == [(1, "Sales"), (2, "Technical Support"), (3, "Billing")]
    statuses = pmp.statuses()
    assert [s for s, _ in statuses] == [
        Status.OPEN,
        Status.IN_PROGRESS,
        Status.ANSWERED,
        Status.ON_HOLD,
        Status.CLOSED,
    ]
    assert statuses[0][1] == "#ff2d42"
    configured = VendorMappings(
        mappings.vendor,
        mappings.enums,
        mappings.dates,
        mappings.models,
        mappings.actions,
        {**mappings.settings, "departments": [{"id": 7, "name": "Abuse"}]},
    )
    custom = PMPBackend(sim.url, TOKEN, configured, MemoryStore(), transport=pmp.transport)
    ctx = context.RequestContext()
    context.begin(ctx)
    assert [(d.id, d.name) for d in await custom.list_departments()] == [(7, "Abuse")]
    assert ctx.backend_calls == 0


# ------------------------------------------------------------------ tickets: writes


def _new(subject: str = "Printer on fire", **kw: Any) -> NewTicket:
    base: dict[str, Any] = {
        "subject": subject,
        "message": "Line one\nline <b>two</b>",
        "department_id": 2,
        "customer_id": 1,
        "contact_id": 2,
        "priority": Priority.HIGH,
    }
    base.update(kw)
    return NewTicket(**base)


async def test_open_ticket_finds_the_new_id(pmp: PMPBackend, sim: Sim) -> None:
    t = await pmp.open_ticket(_new())
    assert t.id == 7
    assert t.subject == "Printer on fire" and t.priority is Priority.HIGH and t.status is Status.OPEN
    assert (t.customer_id, t.contact_id) == (1, 2) and t.requester.name == "Jane O'Connor"
    assert t.department is not None and t.department.id == 2
    raw = sim.db.get_ticket(7)
    assert raw is not None and raw["priority"] == "3" and raw["message"] == "Line one\nline <b>two</b>"


async def test_open_ticket_with_record_id(sim_record_id: Sim, make: Make) -> None:
    pmp = make(sim_record_id.url)
    await pmp.discover()
    ctx = context.RequestContext()
    context.begin(ctx)
    t = await pmp.open_ticket(_new())
    assert t.id == 7 and t.subject == "Printer on fire"
    # POST, GET the new ticket: no listing before or after the POST
    assert ctx.backend_calls == 2


async def test_open_ticket_matches_despite_html_stripping(tmp_path: Path, make: Make) -> None:
    app = create_app(tmp_path / "strip.db", TOKEN, strip_ticket_html=True)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        t = await make(f"http://127.0.0.1:{port}/").open_ticket(_new(subject="<i>Styled</i> subject"))
        assert t.id == 7 and t.subject == "Styled subject"
    finally:
        await runner.cleanup()


async def test_open_ticket_for_customer_uses_primary_contact(pmp: PMPBackend) -> None:
    t = await pmp.open_ticket(_new(contact_id=0))
    assert t.contact_id == 1 and t.requester.email == "john.smith@acme.example"


async def test_open_ticket_for_guest_keeps_name_and_email(pmp: PMPBackend) -> None:
    t = await pmp.open_ticket(
        _new(customer_id=0, contact_id=0, name="Visitor Two", email="two@example.net", status=Status.ON_HOLD)
    )
    assert t.requester.kind == "guest"
    assert (t.requester.name, t.requester.email) == ("Visitor Two", "two@example.net")
    assert t.status is Status.ON_HOLD and t.priority is Priority.HIGH


async def test_concurrent_opens_get_distinct_ids(pmp: PMPBackend, sim: Sim) -> None:
    before = sim.db.count_tickets()
    tickets = await asyncio.gather(*(pmp.open_ticket(_new(subject="Same subject")) for _ in range(20)))
    ids = [t.id for t in tickets]
    assert len(set(ids)) == 20
    assert sim.db.count_tickets() == before + 20
    assert set(ids) == {int(r["ticketid"] or 0) for r in sim.db.list_ticket_rows()[before:]}


async def test_two_replicas_sharing_a_store_never_report_the_same_ticket(sim: Sim, make: Make) -> None:
    store = MemoryStore()
    replicas = [make(sim.url, store=store), make(sim.url, store=store)]
    tickets = await asyncio.gather(*(replicas[i % 2].open_ticket(_new(subject="Twin")) for i in range(12)))
    assert len({t.id for t in tickets}) == 12
    assert sim.db.count_tickets() == 6 + 12


async def test_update_keeps_priority_and_assignee(pmp: PMPBackend, sim: Sim) -> None:
    t = await pmp.update_ticket(1, TicketPatch(status=Status.CLOSED))
    assert t.status is Status.CLOSED and t.priority is Priority.MEDIUM and t.assigned_staff_id == 1
    raw = sim.db.get_ticket(1)
    assert raw is not None and (raw["priority"], raw["assigned"], raw["status"]) == ("2", "1", "5")
    t = await pmp.update_ticket(1, TicketPatch(priority=Priority.HIGH, subject="Renamed", cc=""))
    assert (t.status, t.priority, t.subject) == (Status.CLOSED, Priority.HIGH, "Renamed")


async def test_update_that_changes_nothing_succeeds_and_keeps_guest_details(pmp: PMPBackend) -> None:
    t = await pmp.update_ticket(4, TicketPatch(status=Status.ON_HOLD))
    assert t.status is Status.ON_HOLD
    t = await pmp.update_ticket(4, TicketPatch(status=Status.ANSWERED))
    assert t.status is Status.ANSWERED and t.requester.name == "Walk-in Visitor"
    assert t.requester.email == "visitor@example.net"


async def test_update_missing_ticket_and_bad_status(pmp: PMPBackend) -> None:
    with pytest.raises(NotFound):
        await pmp.update_ticket(999, TicketPatch(status=Status.CLOSED))
    with pytest.raises(InvalidInput):
        await pmp.update_ticket(1, TicketPatch(status=Unmapped(vendor="whmcs", code="x", label="Nope")))


async def test_delete_ticket(pmp: PMPBackend, sim: Sim) -> None:
    await pmp.delete_ticket(3)
    assert sim.db.get_ticket(3) is None
    with pytest.raises(NotFound) as err:
        await pmp.delete_ticket(3)
    assert err.value.message == "Ticket ID not found"


async def test_replies_and_notes_are_unsupported_without_a_call(pmp: PMPBackend) -> None:
    await pmp.discover()  # seed 003's module: no custom tables, no notes
    ctx = context.RequestContext()
    context.begin(ctx)
    with pytest.raises(Unsupported, match="nothing was written"):
        await pmp.add_reply(1, NewReply(message="hi"))
    with pytest.raises(Unsupported):
        await pmp.add_note(1, NewNote(message="hi"))
    assert list(await pmp.list_notes(1)) == []
    assert ctx.backend_calls == 0


# ------------------------------------------------------------------ customers and contacts


async def test_get_and_list_customers(pmp: PMPBackend) -> None:
    c = await pmp.get_customer(1)
    assert (c.company, c.firstname, c.lastname, c.email) == (
        "Acme Widgets Ltd",
        "John",
        "Smith",
        "john.smith@acme.example",
    )
    assert (c.country, c.city, c.postcode, c.currency, c.primary_contact_id) == (
        "GB",
        "London",
        "WC1 2AB",
        2,
        1,
    )
    assert c.active and c.created_at is not None
    assert (await pmp.get_customer(2)).country == "VN"
    assert (await pmp.get_customer(3)).country == ""
    customers = await pmp.list_customers()
    assert sorted(c.id for c in customers) == [1, 2, 3]
    with pytest.raises(NotFound) as err:
        await pmp.get_customer(99)
    assert err.value.message == "Client ID Not Found"


async def test_contacts(pmp: PMPBackend) -> None:
    contacts = await pmp.list_contacts(1)
    assert [c.id for c in contacts] == [1, 2]  # primary first, inactive left out
    assert contacts[0].is_primary and not contacts[1].is_primary
    assert list(await pmp.list_contacts(99)) == []
    c = await pmp.get_contact(5)
    assert (c.customer_id, c.active, c.email) == (1, False, "old.employee@acme.example")
    with pytest.raises(NotFound) as err:
        await pmp.get_contact(99)
    assert err.value.message == "Contact ID Not Found"


async def test_secrets_never_reach_canonical_objects(pmp: PMPBackend, sim: Sim) -> None:
    secrets = [r["password"] for r in sim.db.list_contact_rows()]
    assert all(s and s.startswith("$2y$") for s in secrets)
    dumps = [
        (await pmp.get_contact(1)).model_dump_json(),
        (await pmp.get_customer(1)).model_dump_json(),
        (await pmp.get_ticket(1)).model_dump_json(),
        *(c.model_dump_json() for c in await pmp.list_contacts(1)),
    ]
    for dump in dumps:
        assert "$2y$" not in dump and "password" not in dump and "new_pass_key" not in dump
        assert "203.0.113.7" not in dump  # last_ip


@pytest.mark.parametrize("record_id", [False, True])
async def test_add_customer_creates_customer_and_primary_contact(tmp_path: Path, make: Make, record_id: bool) -> None:
    runner, sim = await _start(tmp_path, record_id=record_id, seed_demo=True)
    try:
        pmp = make(sim.url)
        c = await pmp.add_customer(
            NewCustomer(firstname="Ada", lastname="Lovelace", email="ada@example.org", country="US", phone="+1 5")
        )
        assert c.id == 4 and c.company == "Ada Lovelace" and c.email == "ada@example.org"
        assert c.country == "US" and c.primary_contact_id is not None
        rows = [r for r in sim.db.list_contact_rows() if r["userid"] == "4"]
        assert len(rows) == 1 and rows[0]["is_primary"] == "1"
        assert rows[0]["password"] is None and rows[0]["new_pass_key"]  # set-password email instead
        raw = sim.db.get_client(4)
        assert raw is not None and raw["country"] == "236"
        with_pw = await pmp.add_customer(
            NewCustomer(firstname="B", lastname="C", email="b@example.org", company="B Ltd", password="pw")
        )
        assert with_pw.company == "B Ltd"
        assert sim.db.get_contact(with_pw.primary_contact_id or 0)["password"]  # type: ignore[index]
    finally:
        await runner.cleanup()


async def test_add_customer_undoes_the_customer_when_the_contact_fails(pmp: PMPBackend, sim: Sim) -> None:
    before = sim.db.count_customers()
    with pytest.raises(InvalidInput) as err:
        await pmp.add_customer(NewCustomer(firstname="Dup", lastname="Licate", email="john.smith@acme.example"))
    assert "already exists" in err.value.message and "not created" in err.value.message
    assert sim.db.count_customers() == before
    assert all(r["company"] != "Dup Licate" for r in sim.db.list_client_rows())


async def test_add_contact_and_update_customer(pmp: PMPBackend, sim: Sim) -> None:
    ct = await pmp.add_contact(
        NewContact(
            customer_id=2,
            firstname="Thi",
            lastname="Mai",
            email="mai@tb.example",
            password="x",
            email_invoice=False,
        )
    )
    assert (ct.customer_id, ct.email, ct.is_primary, ct.email_invoice, ct.email_support) == (
        2,
        "mai@tb.example",
        False,
        False,
        True,
    )
    assert [c.id for c in await pmp.list_contacts(2)] == [3, ct.id]
    c = await pmp.update_customer(1, CustomerPatch(city="Leeds", email="john@acme.example", firstname="Jon"))
    assert (c.city, c.email, c.firstname, c.country, c.currency) == (
        "Leeds",
        "john@acme.example",
        "Jon",
        "GB",
        2,
    )
    raw = sim.db.get_client(1)
    assert raw is not None and raw["billing_country"] == "235"
    contact = sim.db.get_contact(1)
    assert contact is not None and contact["is_primary"] == "1" and contact["ticket_emails"] == "1"
    same = await pmp.update_customer(1, CustomerPatch(city="Leeds"))
    assert same.city == "Leeds"
    with pytest.raises(InvalidInput):
        await pmp.update_customer(1, CustomerPatch(country="Narnia"))


async def test_delete_customer(pmp: PMPBackend, sim: Sim) -> None:
    await pmp.delete_customer(3)
    assert sim.db.get_client(3) is None
    with pytest.raises(NotFound):
        await pmp.delete_customer(3)


# ------------------------------------------------------------------ URL joining


async def test_sub_path_base_url(tmp_path: Path, make: Make) -> None:
    parent = web.Application()
    parent.add_subapp("/perfex/", create_app(tmp_path / "sub.db", TOKEN))
    runner = web.AppRunner(parent)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        for base in (f"http://127.0.0.1:{port}/perfex", f"http://127.0.0.1:{port}/perfex/"):
            pmp = make(base)
            assert (await pmp.get_ticket(1)).id == 1
            assert (await pmp.open_ticket(_new(subject=base))).subject == base
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------ faults


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def fake() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def serve(routes: dict[tuple[str, str], Handler]) -> str:
        app = web.Application()
        for (method, path), handler in routes.items():
            app.router.add_route(method, path, handler)
        runner = web.AppRunner(app, shutdown_timeout=0.2, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}/"

    yield serve
    for r in runners:
        await r.cleanup()


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


@pytest.mark.parametrize(
    "reply",
    [
        lambda: web.Response(status=500, text="<html>Database Error</html>", content_type="text/html"),
        lambda: web.Response(status=200, text="<html><body>Login</body></html>", content_type="text/html"),
        lambda: web.Response(status=200, body=b'[{"ticketid": "1", "subj', content_type="application/json"),
        lambda: web.Response(status=200, body=b"", content_type="application/json"),
        lambda: _json({"ticketid": "1"}),  # a dict where a list belongs
        lambda: _json([{"ticketid": "abc"}]),  # not an id
        lambda: web.Response(status=404, text="<h1>404 Page Not Found</h1>", content_type="text/html"),
        lambda: web.Response(status=302, headers={"Location": "http://elsewhere.example/"}),
    ],
)
async def test_broken_answers_mean_unavailable(fake: Any, make: Make, reply: Callable[[], web.Response]) -> None:
    async def handler(request: web.Request) -> web.Response:
        return reply()

    url = await fake({("GET", "/api/tickets"): handler})
    with pytest.raises(BackendUnavailable) as err:
        await make(url).list_tickets()
    assert err.value.message.startswith("The backend is unavailable")


async def test_truncated_body_is_unavailable(fake: Any, make: Make) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "200"})
        await resp.prepare(request)
        await resp.write(b'[{"ticketid": "1"')
        assert request.transport is not None
        request.transport.close()
        return resp

    url = await fake({("GET", "/api/tickets"): handler})
    with pytest.raises(BackendUnavailable):
        await make(url).list_tickets()


async def test_auth_failures(fake: Any, make: Make) -> None:
    async def forbidden(request: web.Request) -> web.Response:
        return _json({"status": False, "message": "Forbidden"}, 403)

    async def token(request: web.Request) -> web.Response:
        return _json({"status": False, "message": "Token is not defined."}, 404)

    async def unauthorised(request: web.Request) -> web.Response:
        return _json({"status": False, "message": "Unauthorized"}, 401)

    url = await fake(
        {
            ("GET", "/api/tickets"): forbidden,
            ("GET", "/api/tickets/{id}"): token,
            ("GET", "/api/customers"): unauthorised,
        }
    )
    # 403 (module 3.x): a permission the token lacks, named; never the client's auth failure
    with pytest.raises(Unsupported, match=r"permission for tickets \(read\)"):
        await make(url).list_tickets()
    with pytest.raises(BackendAuthError):
        await make(url).get_ticket(1)
    with pytest.raises(BackendAuthError):
        await make(url).list_customers()


async def test_hanging_backend_times_out_within_the_deadline(fake: Any, make: Make) -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return _json([])

    url = await fake({("GET", "/api/tickets"): hang})
    _deadline(0.5)
    started = time.monotonic()
    with pytest.raises(BackendTimeout) as err:
        await make(url).list_tickets()
    assert time.monotonic() - started < 1.0
    assert err.value.message == "The backend did not answer in time"
    _deadline(0)
    with pytest.raises(BackendTimeout):
        await make(url).list_tickets()


async def test_reads_are_retried(fake: Any, make: Make) -> None:
    calls = {"n": 0}

    async def flaky(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.Response(status=503, text="busy")
        if calls["n"] == 2:
            return web.Response(status=429, headers={"Retry-After": "0"})
        return _json({"status": False, "message": "No data were found"}, 404)

    url = await fake({("GET", "/api/tickets"): flaky})
    assert list(await make(url).list_tickets()) == []
    assert calls["n"] == 3


async def test_writes_are_never_retried(fake: Any, make: Make) -> None:
    posts = {"n": 0}

    async def listing(request: web.Request) -> web.Response:
        return _json({"status": False, "message": "No data were found"}, 404)

    async def post(request: web.Request) -> web.Response:
        posts["n"] += 1
        return web.Response(status=503, text="busy")

    url = await fake({("GET", "/api/tickets"): listing, ("POST", "/api/tickets"): post})
    with pytest.raises(BackendUnavailable, match="NOT created"):
        await make(url).open_ticket(_new(customer_id=0, contact_id=0))
    assert posts["n"] == 1


class _FakeTickets:
    """Just enough of the module to create tickets, with a connection that drops after the POST."""

    def __init__(self, create: bool) -> None:
        self.create = create
        self.rows: list[dict[str, Any]] = []
        self.listings = 0

    async def listing(self, request: web.Request) -> web.Response:
        if not self.rows:
            return _json({"status": False, "message": "No data were found"}, 404)
        return _json(self.rows)

    async def one(self, request: web.Request) -> web.Response:
        for row in self.rows:
            if row["ticketid"] == request.match_info["id"]:
                return _json(row)
        return _json({"status": False, "message": "No data were found"}, 404)

    async def post(self, request: web.Request) -> web.Response:
        form = await request.post()
        if self.create:
            self.rows.append(
                {
                    "ticketid": str(len(self.rows) + 1),
                    **{k: str(v) for k, v in form.items()},
                    "status": "1",
                    "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
        assert request.transport is not None
        request.transport.close()  # the answer never arrives
        return _json({"status": True, "message": "Ticket add successful."})

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/api/tickets"): self.listing,
            ("GET", "/api/tickets/{id}"): self.one,
            ("POST", "/api/tickets"): self.post,
        }


async def test_dropped_connection_after_a_create_that_happened(fake: Any, make: Make) -> None:
    backend = _FakeTickets(create=True)
    url = await fake(backend.routes())
    t = await make(url).open_ticket(_new(customer_id=0, contact_id=0))
    assert t.id == 1 and t.subject == "Printer on fire"


class _ListingDown(_FakeTickets):
    """A 2.x module that answers the create (naming no record, as 2.x does) and then cannot list."""

    async def listing(self, request: web.Request) -> web.Response:
        self.listings += 1
        return web.Response(status=503, text="<h1>Service Unavailable</h1>", content_type="text/html")

    async def post(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.rows.append({"ticketid": str(len(self.rows) + 1), **{k: str(v) for k, v in form.items()}})
        return _json({"status": True, "message": "Ticket add successful."})


async def test_a_create_the_backend_accepted_is_never_a_plain_failure_when_its_listing_fails(
    fake: Any, make: Make
) -> None:
    """The create happened: a listing that cannot name its record gives an unknown outcome (the
    client must check, not open it again), never "unavailable" (which says it was not created)."""
    backend = _ListingDown(create=True)
    url = await fake(backend.routes())
    _deadline(20)
    with pytest.raises(WriteOutcomeUnknown) as err:
        await make(url).open_ticket(_new(customer_id=0, contact_id=0))
    assert "accepted it" in err.value.message and "HTTP 503" in err.value.message
    assert len(backend.rows) == 1 and backend.listings >= 1  # created once, listed (and retried), not re-sent


async def test_dropped_connection_after_a_create_that_did_not_happen(fake: Any, make: Make) -> None:
    backend = _FakeTickets(create=False)
    url = await fake(backend.routes())
    with pytest.raises(BackendUnavailable, match="NOT created"):
        await make(url).open_ticket(_new(customer_id=0, contact_id=0))


async def test_failed_undo_is_reported(fake: Any, make: Make) -> None:
    deleted = {"n": 0}

    async def no_data(request: web.Request) -> web.Response:
        return _json({"status": False, "message": "No data were found"}, 404)

    async def add_customer(request: web.Request) -> web.Response:
        return _json({"status": True, "message": "Client add successful.", "record_id": 10})

    async def add_contact(request: web.Request) -> web.Response:
        return _json({"status": False, "message": "<p>The Email field must contain a valid email address.</p>\n"}, 404)

    async def delete(request: web.Request) -> web.Response:
        deleted["n"] += 1
        return _json({"status": False, "message": "Client Delete Fail."}, 404)

    url = await fake(
        {
            ("GET", "/api/customers"): no_data,
            ("POST", "/api/customers"): add_customer,
            ("GET", "/api/contacts/{cid}"): no_data,
            ("POST", "/api/contacts"): add_contact,
            ("DELETE", "/api/delete/customers/{cid}"): delete,
        }
    )
    with pytest.raises(WriteOutcomeUnknown) as err:
        await make(url).add_customer(NewCustomer(firstname="A", lastname="B", email="bad"))
    message = err.value.message
    assert "The Email field must contain a valid email address." in message
    assert "<p>" not in message and "customer record 10 was created" in message
    assert "could not be removed again" in message and deleted["n"] == 1
    assert deleted["n"] == 1


async def test_an_unchanged_row_gives_back_the_ticket_it_gave_before(pmp: PMPBackend, sim: Sim) -> None:
    """List pages repeat rows: an equal row costs a comparison, not a parse (and renders from the memo)."""
    _deadline(10)
    first = await pmp.list_tickets()
    second = await pmp.list_tickets()
    assert [t.id for t in first] == [t.id for t in second]
    assert all(a is b for a, b in zip(first, second, strict=True))
    one = first[0]
    sim.db.update_ticket(one.id, {"subject": "Changed meanwhile"})
    third = {t.id: t for t in await pmp.list_tickets()}
    assert third[one.id] is not one and third[one.id].subject == "Changed meanwhile"
