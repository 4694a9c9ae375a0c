"""Demo seeding (the shared demo schema mapped onto WHMCS), bulk seeding at scale, and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from gateway.whmcs_sim import DEFAULT_IDENTIFIER, DEFAULT_SECRET, SimDB, default_demo, seed_bulk_tickets
from gateway.whmcs_sim.db import seed_demo
from tests.whmcs_sim.conftest import SimFactory, demo_data


def test_demo_mapping(tmp_path: Path) -> None:
    db = SimDB(tmp_path / "d.sqlite3")
    seed_demo(db, demo_data())
    # customers keep their ids; primary contacts are the client records themselves
    assert [r["id"] for r in db.all("SELECT id FROM tblclients ORDER BY id")] == [1, 2, 3]
    assert [r["id"] for r in db.all("SELECT id FROM tblcontacts ORDER BY id")] == [2]  # 5 is inactive
    assert db.client(2) is not None and db.client(2)["companyname"] == "Công ty TNHH Trung bình"  # type: ignore[index]
    admins = db.all("SELECT username, firstname FROM tbladmins ORDER BY id")
    assert admins == [{"username": "alice", "firstname": "Alice"}, {"username": "bob", "firstname": "Bob"}]
    tickets = db.all("SELECT * FROM tbltickets ORDER BY id")
    assert [t["id"] for t in tickets] == [1, 2, 3, 4, 5, 6]
    assert all(re.fullmatch(r"\d{6}", t["tid"]) for t in tickets)
    assert len({t["tid"] for t in tickets}) == 6
    assert [t["c"] for t in tickets] == [t["key"][:8] for t in demo_data()["tickets"]]
    assert [t["status"] for t in tickets] == ["Open", "In Progress", "Answered", "On Hold", "Closed", "Open"]
    assert [t["urgency"] for t in tickets] == ["Medium", "Low", "High", "Medium", "Low", "High"]
    assert (tickets[1]["cc"], tickets[1]["service"], tickets[0]["service"]) == ("ketoan@trungbinh.example", "S2", "")
    client = db.client(1)
    assert client is not None and (client["tax_id"], client["language"]) == ("GB123456789", "english")
    db.close()


def test_demo_ticket_numbers_are_stable(tmp_path: Path) -> None:
    numbers = []
    for name in ("a", "b"):
        db = SimDB(tmp_path / f"{name}.sqlite3")
        seed_demo(db, demo_data())
        numbers.append([r["tid"] for r in db.all("SELECT tid FROM tbltickets ORDER BY id")])
        db.close()
    assert numbers[0] == numbers[1]


async def test_default_seed_is_the_shared_demo(make_sim: SimFactory) -> None:
    """Without ``demo=``, the simulator seeds gateway/demo/data.yaml: the PMP simulator's people."""
    demo: Any = default_demo()
    assert demo["tickets"] and demo["customers"]
    sim = await make_sim(demo=None)
    clients = await sim.ok("GetClients")
    assert [c["id"] for c in clients["clients"]["client"]] == sorted(c["id"] for c in demo["customers"])
    assert {c["email"] for c in clients["clients"]["client"]} == {c["email"] for c in demo["customers"]}
    tickets = await sim.ok("GetTickets", limitnum=100)
    assert sorted(int(t["id"]) for t in tickets["tickets"]["ticket"]) == sorted(t["id"] for t in demo["tickets"])
    for t in demo["tickets"]:
        got = await sim.ok("GetTicket", ticketid=t["id"])
        assert got["subject"] == t["subject"] and got["c"] == t["key"][:8]
        assert len(got["replies"]["reply"]) == 1 + len(t["replies"])
        assert len(got["notes"]["note"]) == len(t["notes"])
    staff = await sim.ok("GetAdminUsers", include_disabled=1)
    assert {a["username"] for a in staff["admin_users"]} == {s["username"] for s in demo["staff"]}


async def test_reopening_keeps_data(make_sim: SimFactory) -> None:
    sim = await make_sim(name="same.sqlite3")
    out = await sim.ok("OpenTicket", deptid=1, subject="kept", message="m", clientid=1)
    await sim.runner.cleanup()
    again = await make_sim(name="same.sqlite3")
    assert (await again.ok("GetTicket", ticketid=out["id"]))["subject"] == "kept"
    assert again.db.count_clients() == 3  # not seeded twice


async def test_bulk_seed_pages_in_sql(make_sim: SimFactory) -> None:
    sim = await make_sim(seed_tickets=10_000, seed_replies=2)
    assert sim.db.count_tickets() == 10_006
    assert sim.db.scalar("SELECT COUNT(*) FROM tblticketreplies") >= 20_000
    assert sim.db.scalar("SELECT COUNT(DISTINCT tid) FROM tbltickets") == 10_006
    page = await sim.ok("GetTickets", limitstart=9_990, limitnum=25)
    assert (page["totalresults"], page["startnumber"], page["numreturned"]) == (10_006, 9_990, 16)
    first = await sim.ok("GetTickets", limitnum=100)
    second = await sim.ok("GetTickets", limitstart=100, limitnum=100)
    ids = [t["id"] for t in first["tickets"]["ticket"] + second["tickets"]["ticket"]]
    assert len(set(ids)) == 200
    bulk = await sim.ok("GetTicket", ticketid=5000)
    assert len(bulk["replies"]["reply"]) == 3 and len(bulk["c"]) == 8
    counts = await sim.ok("GetSupportStatuses")
    assert sum(s["count"] for s in counts["statuses"]["status"]) == 10_006


def test_bulk_seed_appends(tmp_path: Path) -> None:
    db = SimDB(tmp_path / "b.sqlite3")
    seed_demo(db, demo_data())
    assert seed_bulk_tickets(db, 500) == 500
    assert seed_bulk_tickets(db, 500, 1) == 500
    assert db.count_tickets() == 1006
    assert db.scalar("SELECT MIN(id) FROM tbltickets WHERE title LIKE 'Bulk%'") == 7
    db.close()


def _post(url: str, **params: str) -> Any:
    data = urllib.parse.urlencode(params).encode()
    with urllib.request.urlopen(url, data=data, timeout=10) as resp:
        return json.loads(resp.read())


async def test_cli_whmcs_sim(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path.cwd()), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "whmcs-sim", "--port", "0", "--db", str(tmp_path / "cli.sqlite3")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [await asyncio.to_thread(proc.stdout.readline) for _ in range(4)]
        url = lines[0].split(" on ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/includes/api.php")
        assert lines[1].strip() == f"identifier: {DEFAULT_IDENTIFIER}"
        assert lines[2].strip() == f"secret: {DEFAULT_SECRET}"
        body = await asyncio.to_thread(
            _post, url, action="GetSupportStatuses", identifier=DEFAULT_IDENTIFIER, secret=DEFAULT_SECRET,
            responsetype="json",
        )  # fmt: skip
        assert body["result"] == "success" and body["totalresults"] == 6
    finally:
        proc.terminate()
        assert await asyncio.to_thread(proc.wait, 20) == 0
