"""Departments created or lost by name, changed contacts carried, and the source's ticket state
kept after the reply writes: on targets that already hold records, in both directions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.migrate.canonical_compare import assert_same_tickets
from tests.migrate.compare import assert_counts_add_up, assert_same_helpdesk
from tests.migrate.conftest import KindPair, Pair, _kind_pair

ALL = ("--allow-loss", "all", "--report", "report.json")


@pytest.fixture
def to_whmcs(tmp_path: Path) -> Iterator[KindPair]:
    pair = _kind_pair(tmp_path, "pmp", "whmcs")
    try:
        yield pair
    finally:
        for sim in (pair.source, pair.target):
            sim.proc.kill()
            sim.proc.wait()


def _ok(pair: Pair, *extra: str) -> dict[str, object]:
    done = pair.migrate(*ALL, *extra)
    assert done.returncode == 0, done.stderr + done.stdout
    report = pair.report()
    assert_counts_add_up(report)
    return report


# ---------------------------------------------------------------- departments


def test_a_department_missing_on_a_pmp_target_is_created_once(pair: Pair) -> None:
    # the target lacks Billing (tickets 3 and 5 are in it); its token may write tbldepartments
    pair.target.write("DELETE FROM tbldepartments WHERE name = 'Billing'")
    dry = pair.migrate("--dry-run")
    assert "department:" not in dry.stdout  # created, so no loss to accept
    assert "create department 'Billing' (source department 3)" in dry.stdout
    report = _ok(pair)
    kinds = report["kinds"]
    assert isinstance(kinds, dict)
    assert kinds["departments"]["created"] == 1 and kinds["departments"]["unchanged"] == 3
    made = pair.target.rows("SELECT departmentid FROM tbldepartments WHERE name = 'Billing'")
    assert len(made) == 1
    for source_id in ("3", "5"):
        target_id = int(pair.journal("ticket")[source_id])
        (row,) = pair.target.rows("SELECT department FROM tbltickets WHERE ticketid = ?", (target_id,))
        assert row[0] == made[0][0]
    # nobody is mailed a "set your password" link: every migrated contact got a password instead
    assert pair.target.rows("SELECT count(*) FROM tblcontacts WHERE new_pass_key IS NOT NULL")[0][0] == 0
    before = pair.target.counts()
    again = _ok(pair)
    assert pair.target.counts() == before
    kinds = again["kinds"]
    assert isinstance(kinds, dict)
    assert kinds["departments"]["created"] == 0 and kinds["departments"]["unchanged"] == 4


def test_a_department_a_whmcs_target_cannot_create_is_a_named_loss(to_whmcs: KindPair) -> None:
    to_whmcs.source.write("INSERT INTO tbldepartments (departmentid, name) VALUES (7, 'Partners')")
    to_whmcs.source.write("UPDATE tbltickets SET department = 7 WHERE ticketid = 1")
    before = to_whmcs.target.counts_any()
    dry = to_whmcs.migrate("--dry-run")
    assert dry.returncode == 2, dry.stderr
    assert "loss department:Partners: 2 (NOT accepted)" in dry.stdout  # the department and its ticket
    refused = to_whmcs.migrate("--allow-loss", "passwords,billing-fields,staff-authors,note-dates")
    assert refused.returncode == 2 and "department:Partners" in refused.stderr
    assert to_whmcs.target.counts_any() == before
    report = _ok(to_whmcs)
    lost = report["losses_accepted"]
    assert isinstance(lost, dict)
    assert lost["department:Partners"]["count"] == 2
    assert "'Sales'" in lost["department:Partners"]["written"]  # the target's first department, named
    target_id = int(to_whmcs.journal("ticket")["1"])
    (row,) = to_whmcs.target.rows("SELECT did FROM tbltickets WHERE id = ?", (target_id,))
    assert row[0] == 1
    kinds = report["kinds"]
    assert isinstance(kinds, dict)
    assert kinds["departments"]["skipped"] == 1 and kinds["tickets"]["created"] == 6


# ---------------------------------------------------------------- contacts and customers


def test_a_changed_contact_is_updated_and_a_target_edit_is_a_conflict(pair: Pair) -> None:
    _ok(pair)
    target_id = int(pair.journal("contact")["2"])
    pair.source.write("UPDATE tblcontacts SET lastname = 'Renamed', phonenumber = '+1 555' WHERE id = 2")
    pair.source.write("UPDATE tblclients SET city = 'Moved' WHERE userid = 2")
    report = _ok(pair)
    kinds = report["kinds"]
    assert isinstance(kinds, dict)
    assert kinds["contacts"]["updated"] == 1 and kinds["contacts"]["failed"] == 0
    assert kinds["customers"]["updated"] == 1
    (row,) = pair.target.rows("SELECT lastname, phonenumber FROM tblcontacts WHERE id = ?", (target_id,))
    assert row == ("Renamed", "+1 555")
    assert_same_helpdesk(pair)
    # changed on the target since migrated: reported, not overwritten
    pair.target.write("UPDATE tblcontacts SET lastname = 'Target edit' WHERE id = ?", (target_id,))
    pair.source.write("UPDATE tblcontacts SET lastname = 'Source edit' WHERE id = 2")
    done = pair.migrate(*ALL)
    assert done.returncode == 1, done.stderr
    report = pair.report()
    assert_counts_add_up(report)
    assert [(c["kind"], c["source_id"]) for c in report["conflicts"]] == [("contacts", "2")]
    (row,) = pair.target.rows("SELECT lastname FROM tblcontacts WHERE id = ?", (target_id,))
    assert row[0] == "Target edit"


def test_a_renamed_primary_contact_is_no_conflict_with_its_customer_update(pair: Pair) -> None:
    _ok(pair)
    pair.source.write("UPDATE tblcontacts SET lastname = 'Renamed' WHERE id = 1")  # customer 1's primary person
    report = _ok(pair)  # exit 0: no conflict with the customer update that already renamed it
    kinds = report["kinds"]
    assert isinstance(kinds, dict)
    assert kinds["customers"]["updated"] == 1 and kinds["contacts"]["updated"] == 1
    target_id = int(pair.journal("contact")["1"])
    (row,) = pair.target.rows("SELECT lastname FROM tblcontacts WHERE id = ?", (target_id,))
    assert row[0] == "Renamed"
    third = _ok(pair)  # and the next run finds nothing changed on either side
    kinds = third["kinds"]
    assert isinstance(kinds, dict)
    assert all(c["created"] == c["updated"] == c["conflicts"] == 0 for c in kinds.values())


def test_a_changed_contact_crosses_vendors_both_ways(cross: KindPair) -> None:
    _ok(cross)
    target_id = int(cross.journal("contact")["2"])
    cross.source.write("UPDATE tblcontacts SET lastname = 'Renamed' WHERE id = 2")  # both vendors' table
    report = _ok(cross)
    kinds = report["kinds"]
    assert isinstance(kinds, dict)
    assert kinds["contacts"]["updated"] == 1
    (row,) = cross.target.rows("SELECT lastname FROM tblcontacts WHERE id = ?", (target_id,))
    assert row[0] == "Renamed"
    assert_same_tickets(cross, 6)


# ---------------------------------------------------------------- the ticket after its replies


def test_status_and_last_reply_end_as_the_source_has_them(pair: Pair) -> None:
    # a ticket answered by staff whose status the source then set back, and a known last-reply date
    pair.source.write("UPDATE tbltickets SET status = 1, lastreply = '2024-03-03 15:30:00' WHERE ticketid = 3")
    _ok(pair)
    target_id = int(pair.journal("ticket")["3"])
    (row,) = pair.target.rows("SELECT status, lastreply FROM tbltickets WHERE ticketid = ?", (target_id,))
    assert row == (1, "2024-03-03 15:30:00")
    # a new reply on the source: the target follows the source's lastreply, not the write's date
    pair.source.write(
        "INSERT INTO tblticket_replies (ticketid, userid, contactid, name, email, date, message, admin) "
        "VALUES (3, 3, 4, '', '', '2024-03-04 09:00:00', 'one more question', NULL)"
    )
    pair.source.write("UPDATE tbltickets SET lastreply = '2024-03-04 09:00:00', status = 1 WHERE ticketid = 3")
    report = _ok(pair)
    kinds = report["kinds"]
    assert isinstance(kinds, dict)
    assert kinds["replies"]["created"] == 1
    (row,) = pair.target.rows("SELECT status, lastreply FROM tbltickets WHERE ticketid = ?", (target_id,))
    assert row == (1, "2024-03-04 09:00:00")
    assert_same_helpdesk(pair)


def test_a_kill_between_the_replies_and_the_finish_is_finished_on_resume(pair: Pair) -> None:
    _ok(pair)
    target_id = int(pair.journal("ticket")["3"])
    good = pair.target.rows("SELECT status, lastreply FROM tbltickets WHERE ticketid = ?", (target_id,))
    # what a SIGKILL right after the last reply write leaves: the ticket marked unfinished in the
    # journal, and the target ticket as the reply write left it
    with sqlite3.connect(pair.store) as conn:
        (hint,) = conn.execute("SELECT hint FROM migrate_map WHERE kind = 'ticket' AND source_id = '3'").fetchone()
        marked = json.dumps({**json.loads(hint), "unfinished": True})
        conn.execute("UPDATE migrate_map SET hint = ? WHERE kind = 'ticket' AND source_id = '3'", (marked,))
    pair.target.write(
        "UPDATE tbltickets SET status = 3, lastreply = '2030-01-01 00:00:00' WHERE ticketid = ?", (target_id,)
    )
    before = pair.target.counts()
    report = _ok(pair)
    assert pair.target.rows("SELECT status, lastreply FROM tbltickets WHERE ticketid = ?", (target_id,)) == good
    assert pair.target.counts() == before
    kinds = report["kinds"]
    assert isinstance(kinds, dict)
    assert kinds["tickets"]["unchanged"] == 6 and kinds["replies"]["created"] == 0
    with sqlite3.connect(pair.store) as conn:
        (hint,) = conn.execute("SELECT hint FROM migrate_map WHERE kind = 'ticket' AND source_id = '3'").fetchone()
    assert "unfinished" not in json.loads(hint)


def test_only_departments_creates_them_and_nothing_else(pair: Pair) -> None:
    pair.target.write("DELETE FROM tbldepartments WHERE name IN ('Billing', 'Abuse')")
    before = pair.target.counts()
    report = _ok(pair, "--only", "departments")
    kinds = report["kinds"]
    assert isinstance(kinds, dict)
    assert kinds["departments"]["created"] == 2 and kinds["tickets"]["in_scope"] == 0
    after = pair.target.counts()
    assert after["tbldepartments"] == before["tbldepartments"] + 2
    assert {k: v for k, v in after.items() if k != "tbldepartments"} == {
        k: v for k, v in before.items() if k != "tbldepartments"
    }
