"""Bulk seeding: 10,000 tickets seed in one transaction and page correctly through the 3.x lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.pmp_sim import SimDB, seed_tickets

from .conftest import SimFactory


async def test_ten_thousand_tickets_seed_and_page(make_sim: SimFactory, tmp_path: Path) -> None:
    with SimDB(tmp_path / "big.sqlite3", seed_demo=True) as db:
        first = seed_tickets(db, 10_000, replies=2)
        assert first == 7
        assert db.count_tickets() == 10_006
        assert len(db.list_reply_rows(10_006)) == 2
        keys = {r["ticketkey"] for r in db._all("SELECT ticketkey FROM tbltickets")}
        assert len(keys) == 10_006
    sim = await make_sim(module=3, name="big.sqlite3")
    status, body = await sim.call("GET", "api/tickets?page=401&per_page=25&fields=subject")
    assert status == 200
    assert body["meta"]["total"] == 10_006 and body["meta"]["last_page"] == 401
    assert [r["ticketid"] for r in body["data"]] == ["10001", "10002", "10003", "10004", "10005", "10006"]
    status, body = await sim.call("GET", "api/tickets?page=1&per_page=3&sort=-ticketid")
    assert [r["ticketid"] for r in body["data"]] == ["10006", "10005", "10004"]
    assert body["data"][0]["company"] is not None or body["data"][0]["userid"] == "0"


def test_seeding_rejects_negative_counts(tmp_path: Path) -> None:
    with SimDB(tmp_path / "x.sqlite3") as db, pytest.raises(ValueError):
        seed_tickets(db, -1)
