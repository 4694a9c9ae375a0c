"""``gateway pmp-sim`` as a process: flags, banner, module generation, seeding."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests


@contextmanager
def _pmp_sim(*args: str) -> Iterator[tuple[str, list[str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "pmp-sim", "--port", "0", "--token", "cli-token", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any("listening on" in line for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "no output"
            lines.append(line)
        url = lines[-1].rsplit(" ", 1)[1].strip()
        lines.append(proc.stdout.readline())  # authtoken line
        yield url, lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_default_is_module_3_with_demo_allowlist(tmp_path: Path) -> None:
    with _pmp_sim("--db", str(tmp_path / "a.sqlite3")) as (url, lines):
        assert any("module 3.x" in line for line in lines)
        assert any("cli-token" in line for line in lines)
        auth = {"authtoken": "cli-token"}
        resp = requests.get(url + "api/staffs?page=1", headers=auth, timeout=10)
        assert resp.status_code == 200 and resp.json()["meta"]["total"] == 3
        resp = requests.put(
            url + "api/thirdparty/customtable/tbldepartments/0", json={"name": "x"}, headers=auth, timeout=10
        )
        assert resp.status_code == 404  # write grant on the demo allowlist
        assert requests.get(url + "api/tickets", timeout=10).status_code == 401


def test_module_2_and_allow_table(tmp_path: Path) -> None:
    with _pmp_sim("--db", str(tmp_path / "b.sqlite3"), "--module", "2") as (url, _):
        assert requests.get(url + "api/staffs", headers={"authtoken": "cli-token"}, timeout=10).status_code == 404
        resp = requests.get(url + "api/tickets", timeout=10)
        assert (resp.status_code, resp.json()["message"]) == (404, "Token is not defined.")
    with _pmp_sim("--db", str(tmp_path / "c.sqlite3"), "--allow-table", "tbldepartments:read") as (url, _):
        auth = {"authtoken": "cli-token"}
        table = url + "api/thirdparty/customtable/"
        assert requests.get(table + "tbldepartments", headers=auth, timeout=10).status_code == 200
        assert requests.put(table + "tbldepartments/0", json={"name": "x"}, headers=auth, timeout=10).status_code == 403
        assert requests.get(table + "tblticket_replies", headers=auth, timeout=10).status_code == 403


def test_seed_tickets_flag(tmp_path: Path) -> None:
    with _pmp_sim("--db", str(tmp_path / "d.sqlite3"), "--seed-tickets", "500", "--seed-replies", "1") as (url, lines):
        assert any("seeded tickets 7..506" in line for line in lines)
        resp = requests.get(url + "api/tickets?page=1&per_page=1", headers={"authtoken": "cli-token"}, timeout=10)
        assert resp.json()["meta"]["total"] == 506
