"""Two PMP simulators on loopback (their own processes) and ``gateway migrate`` as a subprocess.

The source holds the demo helpdesk; the target starts with staff, departments and records
of its own (ids that cannot line up with the source's by coincidence)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from gateway.demo import load_demo
from gateway.pmp_sim import SimDB

SOURCE_TOKEN = "source-token-1"
TARGET_TOKEN = "target-token-2"
TABLES = ("tblclients", "tblcontacts", "tbltickets", "tblticket_replies", "tblnotes", "tblstaff", "tbldepartments")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SimProc:
    url: str
    token: str
    db: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return list(conn.execute(sql, params).fetchall())

    def counts(self) -> dict[str, int]:
        return {t: int(self.rows(f"SELECT count(*) FROM {t}")[0][0]) for t in TABLES}

    def counts_any(self) -> dict[str, int]:
        """Rows per table, whatever the vendor's schema."""
        names = [r[0] for r in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: int(self.rows(f'SELECT count(*) FROM "{n}"')[0][0]) for n in names}

    def write(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with sqlite3.connect(self.db, timeout=10) as conn:
            conn.execute(sql, params)


def start_sim(db: Path, token: str, *, demo: bool) -> SimProc:
    port = free_port()
    args = [sys.executable, "-m", "gateway", "pmp-sim", "--port", str(port), "--db", str(db), "--token", token]
    if not demo:
        args.append("--no-demo")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "api/staffs", headers={"authtoken": token}, timeout=2).status_code < 500:
                return SimProc(url, token, db, proc)
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the simulator did not start")


def prepare_target(db: Path) -> None:
    """A target that already runs: the same staff (matched by e-mail), the departments, and
    a customer, contact and tickets of its own with ids above the source's."""
    demo = load_demo()
    with SimDB(db, seed_demo=False) as sim:
        for s in demo.staff:
            sim.insert(
                "tblstaff",
                {
                    "staffid": 40 + s.id,
                    "email": s.email,
                    "firstname": s.firstname,
                    "lastname": s.lastname,
                    "active": 1,
                    "admin": 0,
                    "password": "x",
                },
            )
        sim.insert(
            "tblclients",
            {"userid": 50, "company": "Native Ltd", "datecreated": "2023-01-01 00:00:00", "active": 1, "country": 0},
        )
        sim.insert(
            "tblcontacts",
            {
                "id": 70,
                "userid": 50,
                "is_primary": 1,
                "firstname": "Nat",
                "lastname": "Ive",
                "email": "native@target.example",
                "active": 1,
                "datecreated": "2023-01-01 00:00:00",
                "password": "x",
            },
        )
        for tid in (100, 101):
            sim.insert(
                "tbltickets",
                {
                    "ticketid": tid,
                    "userid": 50,
                    "contactid": 70,
                    "department": 1,
                    "priority": 1,
                    "status": 1,
                    "subject": f"native {tid}",
                    "message": "hi",
                    "ticketkey": f"nativekey{tid}",
                    "date": "2023-02-01 10:00:00",
                    "adminreplying": 0,
                    "clientread": 0,
                    "adminread": 0,
                    "assigned": 0,
                    "project_id": 0,
                    "service": 0,
                },
            )


@dataclass
class Pair:
    tmp: Path
    source: SimProc
    target: SimProc
    store: Path
    config: Path

    def migrate(self, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*extra), cwd=self.tmp, capture_output=True, text=True, timeout=timeout)

    def argv(self, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "gateway", "migrate",
            "--source-url", self.source.url,
            "--target-url", self.target.url,
            "--config", str(self.config),
            "--store", str(self.store),
            *extra,
        ]  # fmt: skip

    def report(self, name: str = "report.json") -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.tmp / name).read_text())
        return data

    def journal(self, kind: str) -> dict[str, str]:
        with sqlite3.connect(self.store) as conn:
            rows = conn.execute(
                "SELECT source_id, target_id FROM migrate_map WHERE kind = ? AND state = 'done'", (kind,)
            ).fetchall()
        return {str(s): str(t) for s, t in rows}


def env_with_tokens() -> dict[str, str]:
    env = dict(os.environ)
    env["GATEWAY_SOURCE_TOKEN"] = SOURCE_TOKEN
    env["GATEWAY_TARGET_TOKEN"] = TARGET_TOKEN
    return env


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pair]:
    # the tokens travel in the environment, as an operator keeps them out of ps
    monkeypatch.setenv("GATEWAY_SOURCE_TOKEN", SOURCE_TOKEN)
    monkeypatch.setenv("GATEWAY_TARGET_TOKEN", TARGET_TOKEN)
    prepare_target(tmp_path / "target.sqlite3")
    source = start_sim(tmp_path / "source.sqlite3", SOURCE_TOKEN, demo=True)
    target = start_sim(tmp_path / "target.sqlite3", TARGET_TOKEN, demo=False)
    config = tmp_path / "migrate.yaml"
    # the operator's mapping: the demo departments by id (a target that cannot list them all)
    config.write_text('migrate:\n  departments: {"1": "1", "2": "2", "3": "3", "4": "4"}\n')
    try:
        yield Pair(tmp_path, source, target, tmp_path / "store.sqlite3", config)
    finally:
        for sim in (source, target):
            sim.proc.kill()
            sim.proc.wait()


# ---------------------------------------------------------------- WHMCS on one side

WHMCS_CREDENTIAL = ("migrate-id", "migrate-secret")


def prepare_whmcs_target(db: Path) -> None:
    """A running WHMCS: the demo's departments and admins, and a client and tickets of its own."""
    from gateway.whmcs_sim.db import SimDB as WhmcsDB

    demo = load_demo()
    sim = WhmcsDB(db)
    try:
        for d in demo.departments:
            sim.insert("tblticketdepartments", {"id": d.id, "name": d.name, "email": d.email})
        for s in demo.staff:
            sim.insert(
                "tbladmins",
                {
                    "id": 40 + s.id,
                    "username": f"admin{s.id}",
                    "firstname": s.firstname,
                    "lastname": s.lastname,
                    "email": s.email,
                },
            )
        now = "2023-01-01 00:00:00"
        sim.insert("tblusers", {"id": 50, "email": "native@target.example", "created_at": now, "updated_at": now})
        sim.insert(
            "tblclients",
            {
                "id": 50,
                "owner_user_id": 50,
                "firstname": "Nat",
                "lastname": "Ive",
                "email": "native@target.example",
                "datecreated": now[:10],
                "created_at": now,
                "updated_at": now,
            },
        )
        for tid in (100, 101):
            sim.insert(
                "tbltickets",
                {
                    "id": tid,
                    "tid": f"NAT-{tid}",
                    "did": 1,
                    "userid": 50,
                    "c": f"nat{tid}key",
                    "date": now,
                    "title": f"native {tid}",
                    "message": "hi",
                    "status": "Open",
                    "urgency": "Low",
                    "lastreply": now,
                },
            )
    finally:
        sim.close()


def start_whmcs(db: Path, *, demo: bool) -> SimProc:
    port = free_port()
    identifier, secret = WHMCS_CREDENTIAL
    args = [sys.executable, "-m", "gateway", "whmcs-sim", "--port", str(port), "--db", str(db),
            "--identifier", identifier, "--secret", secret]  # fmt: skip
    if not demo:
        args.append("--no-demo")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.post(url + "includes/api.php", data={"action": "GetStaffOnline"}, timeout=2)
            return SimProc(url, f"{identifier}:{secret}", db, proc)
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the WHMCS simulator did not start")


@dataclass
class KindPair(Pair):
    source_kind: str = "pmp"
    target_kind: str = "pmp"

    def argv(self, *extra: str) -> list[str]:
        return [
            *super().argv(*extra),
            "--source-kind", self.source_kind, "--target-kind", self.target_kind,
            "--source-token", self.source.token, "--target-token", self.target.token,
        ]  # fmt: skip


def _kind_pair(tmp_path: Path, source_kind: str, target_kind: str) -> KindPair:
    if source_kind == "pmp":
        source = start_sim(tmp_path / "source.sqlite3", SOURCE_TOKEN, demo=True)
    else:
        source = start_whmcs(tmp_path / "source.sqlite3", demo=True)
    if target_kind == "pmp":
        prepare_target(tmp_path / "target.sqlite3")
        target = start_sim(tmp_path / "target.sqlite3", TARGET_TOKEN, demo=False)
    else:
        prepare_whmcs_target(tmp_path / "target.sqlite3")
        target = start_whmcs(tmp_path / "target.sqlite3", demo=False)
    config = tmp_path / "migrate.yaml"
    config.write_text("migrate: {}\n")  # departments matched by name
    return KindPair(tmp_path, source, target, tmp_path / "store.sqlite3", config, source_kind, target_kind)


@pytest.fixture(params=[("pmp", "whmcs"), ("whmcs", "pmp")], ids=["pmp-to-whmcs", "whmcs-to-pmp"])
def cross(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KindPair]:
    pair = _kind_pair(tmp_path, *request.param)
    try:
        yield pair
    finally:
        for sim in (pair.source, pair.target):
            sim.proc.kill()
            sim.proc.wait()
