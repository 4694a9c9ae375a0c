"""After the cut-over: ``gateway serve --store`` on the migration's store keeps legacy ids working."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.migrate.conftest import TARGET_TOKEN, Pair, free_port

CLIENT = "legacy:legacy-secret"


@pytest.fixture
def served(pair: Pair) -> Iterator[tuple[Pair, str]]:
    done = pair.migrate("--allow-loss", "all", "--report", "report.json")
    assert done.returncode == 0, done.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--store", str(pair.store),
         "--backend-url", pair.target.url, "--backend-token", TARGET_TOKEN, "--client", CLIENT],
        cwd=pair.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield pair, url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def whmcs(url: str, action: str, **params: Any) -> dict[str, Any]:
    body = {"action": action, "identifier": "legacy", "secret": "legacy-secret", "responsetype": "json", **params}
    answer: dict[str, Any] = requests.post(url + "includes/api.php", data=body, timeout=30).json()
    return answer


def test_migrated_tickets_answer_under_their_source_ids(served: tuple[Pair, str]) -> None:
    pair, url = served
    for source_id, target_id in pair.journal("ticket").items():
        assert source_id != target_id  # the target already held records: no coincidence
        (subject,) = pair.source.rows("SELECT subject FROM tbltickets WHERE ticketid = ?", (int(source_id),))[0]
        got = whmcs(url, "GetTicket", ticketid=source_id)
        assert got["result"] == "success", got
        assert got["ticketid"] == source_id
        assert got["subject"] == subject
        assert got["tid"] == source_id  # a PMP source: its ticket number is its id
        by_number = whmcs(url, "GetTicket", ticketnum=source_id)
        assert by_number["ticketid"] == source_id


def test_target_native_records_get_ids_above_the_source_and_keep_them(served: tuple[Pair, str]) -> None:
    pair, url = served
    listed = whmcs(url, "GetTickets", limitnum=100)
    ids = [int(t["id"]) for t in listed["tickets"]["ticket"]]
    assert len(ids) == len(set(ids))  # no two records share an id
    source_ids = {int(s) for s in pair.journal("ticket")}
    native = [i for i in ids if i not in source_ids]
    assert len(native) == 2
    assert min(native) > max(r[0] for r in pair.source.rows("SELECT ticketid FROM tbltickets"))
    for shown in native:
        got = whmcs(url, "GetTicket", ticketid=str(shown))
        assert got["subject"].startswith("native")
    # the target's raw id of a migrated ticket names nothing for a legacy client unless allocated to it
    again = whmcs(url, "GetTickets", limitnum=100)
    assert [int(t["id"]) for t in again["tickets"]["ticket"]] == ids


def test_a_write_after_the_cut_over_gets_an_allocated_id_resolvable_at_once(served: tuple[Pair, str]) -> None:
    pair, url = served
    opened = whmcs(url, "OpenTicket", deptid="1", subject="after the cut-over", message="hello",
                   name="Late Comer", email="late@example.net")  # fmt: skip
    assert opened["result"] == "success", opened
    shown = int(opened["id"])
    assert shown > max(r[0] for r in pair.source.rows("SELECT ticketid FROM tbltickets"))
    got = whmcs(url, "GetTicket", ticketid=str(shown))
    assert got["subject"] == "after the cut-over"
    client = whmcs(url, "GetClientsDetails", clientid="1")
    assert client["result"] == "success", client
    (company,) = pair.source.rows("SELECT company FROM tblclients WHERE userid = 1")[0]
    assert client["companyname"] == company
