"""update_contact and add_department on both backends, against their simulators over loopback,
and the protocol's optional methods found the same way through every layer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from gateway import context
from gateway.backends.base import BackendDefaults
from gateway.backends.guard import CircuitBreaker, GuardedBackend
from gateway.backends.pmp import PMPBackend
from gateway.backends.whmcs import WhmcsBackend
from gateway.canonical import ContactPatch, NewContact, Ticket
from gateway.errors import NotFound, Unsupported
from gateway.mapping.loader import MappingSet, load_mappings
from gateway.pmp_sim import DB_KEY, start_simulator
from gateway.store import MemoryStore
from gateway.whmcs_sim import start_simulator as start_whmcs

TOKEN = "writes-token-1"


@pytest.fixture(scope="module")
def maps() -> MappingSet:
    return load_mappings()


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    token = context.begin(context.RequestContext(deadline=time.monotonic() + 30))
    yield
    context.end(token)


async def _pmp(
    tmp_path: Path, maps: MappingSet, session: aiohttp.ClientSession, **kw: object
) -> tuple[object, PMPBackend]:
    runner, url = await start_simulator(port=0, db_path=tmp_path / "pmp.db", token=TOKEN, **kw)  # type: ignore[arg-type]
    return runner, PMPBackend(url, TOKEN, maps["pmp"], MemoryStore(), session=session)


async def test_pmp_updates_a_contact_and_keeps_what_the_patch_leaves(tmp_path: Path, maps: MappingSet) -> None:
    async with aiohttp.ClientSession() as session:
        runner, pmp = await _pmp(tmp_path, maps, session)
        try:
            made = await pmp.add_contact(
                NewContact(customer_id=1, firstname="Ann", lastname="Old", email="ann@x.example", password="s3cret-pw1")
            )
            after = await pmp.update_contact(made.id, ContactPatch(lastname="New", phone="+39 06 1"))
            assert (after.firstname, after.lastname, after.phone, after.email) == ("Ann", "New", "+39 06 1", made.email)
            assert after.email_support == made.email_support  # the flags the module resets when missing are kept
            assert (await pmp.get_contact(made.id)).lastname == "New"
            assert any(c.id == made.id and c.lastname == "New" for c in await pmp.list_contacts(1))  # cache dropped
            with pytest.raises(NotFound):
                await pmp.update_contact(99999, ContactPatch(lastname="x"))
        finally:
            await runner.cleanup()  # type: ignore[attr-defined]


async def test_pmp_creates_a_department_where_the_table_is_writable(tmp_path: Path, maps: MappingSet) -> None:
    async with aiohttp.ClientSession() as session:
        runner, pmp = await _pmp(tmp_path, maps, session)
        try:
            await pmp.discover()
            assert pmp.support("add_department") == ("full", ())
            made = await pmp.add_department("Partners")
            assert made.name == "Partners" and made.id > 4
            assert (made.id, "Partners") in {(d.id, d.name) for d in await pmp.list_departments()}
            db = runner.app[DB_KEY]  # type: ignore[attr-defined]
            assert ("Partners",) in [(n,) for _, n in db.list_departments()]
        finally:
            await runner.cleanup()  # type: ignore[attr-defined]


async def test_pmp_without_the_write_grant_refuses_before_writing(tmp_path: Path, maps: MappingSet) -> None:
    async with aiohttp.ClientSession() as session:
        runner, pmp = await _pmp(
            tmp_path, maps, session, allow_tables={"tblticket_replies": "write", "tbldepartments": "read"}
        )
        try:
            await pmp.discover()
            how, why = pmp.support("add_department")
            assert how == "refused" and "tbldepartments" in why[0]
            before = len(await pmp.list_departments())
            with pytest.raises(Unsupported):
                await pmp.add_department("Partners")
            assert len(await pmp.list_departments()) == before
        finally:
            await runner.cleanup()  # type: ignore[attr-defined]


async def test_whmcs_updates_a_contact_and_cannot_create_departments(tmp_path: Path, maps: MappingSet) -> None:
    runner, url = await start_whmcs(port=0, db_path=tmp_path / "whmcs.db", identifier="id1", secret="sec1")
    try:
        async with aiohttp.ClientSession() as session:
            whmcs = WhmcsBackend(url, "id1:sec1", maps["whmcs"], MemoryStore(), session=session)
            await whmcs.discover()
            made = await whmcs.add_contact(
                NewContact(customer_id=1, firstname="Bo", lastname="Old", email="bo@x.example")
            )
            after = await whmcs.update_contact(made.id, ContactPatch(lastname="New", email="bo.new@x.example"))
            assert (after.firstname, after.lastname, after.email) == ("Bo", "New", "bo.new@x.example")
            assert any(c.id == made.id and c.lastname == "New" for c in await whmcs.list_contacts(1))
            with pytest.raises(NotFound):
                await whmcs.update_contact(99999, ContactPatch(lastname="x"))
            assert whmcs.support("add_department")[0] == "refused"
            with pytest.raises(Unsupported):
                await whmcs.add_department("Partners")
    finally:
        await runner.cleanup()


class _Plain(BackendDefaults):
    """The least a backend may be: the optional methods come from the defaults."""

    name = "plain"

    async def get_ticket(self, ticket_id: int) -> Ticket:
        return Ticket(id=ticket_id, subject="full")


async def test_optional_methods_have_defaults_and_the_guard_forwards_them() -> None:
    plain = _Plain()
    guarded = GuardedBackend(plain, CircuitBreaker(5, 10.0), ttl=0, size=8)  # type: ignore[arg-type]
    for layer in (plain, guarded):
        assert (await layer.ticket_summary(7)).subject == "full"  # type: ignore[attr-defined]
        assert await layer.ticket_id_for("ABC-1") is None  # type: ignore[attr-defined]
        assert await layer.resolve_number("ABC-1") is None  # type: ignore[attr-defined]
        assert await layer.flagged_tickets() == 0  # type: ignore[attr-defined]
        with pytest.raises(Unsupported):
            await layer.update_contact(1, ContactPatch(lastname="x"))  # type: ignore[attr-defined]
        with pytest.raises(Unsupported):
            await layer.add_department("Partners")  # type: ignore[attr-defined]
