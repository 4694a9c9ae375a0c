"""``gateway migrate`` between two PMP simulators on loopback, as an operator runs it."""

from __future__ import annotations

import os
import sqlite3

from gateway.pmp_sim import SimDB
from gateway.pmp_sim.seeding import seed_tickets
from tests.migrate.compare import assert_counts_add_up, assert_same_helpdesk
from tests.migrate.conftest import Pair


def _journal_rows(pair: Pair) -> list[tuple[object, ...]]:
    with sqlite3.connect(pair.store) as conn:
        return sorted(conn.execute("SELECT * FROM migrate_map").fetchall()) + sorted(
            conn.execute("SELECT * FROM migrate_meta").fetchall()
        )


def _run_ok(pair: Pair, *extra: str) -> None:
    done = pair.migrate("--allow-loss", "all", "--report", "report.json", *extra)
    assert done.returncode == 0, done.stderr + done.stdout


def test_dry_run_writes_nothing_and_says_whether_a_run_would_start(pair: Pair) -> None:
    before = (pair.source.counts(), pair.target.counts())
    refused = pair.migrate("--dry-run")
    assert refused.returncode == 2, refused.stderr
    assert "plan:" in refused.stdout and "passwords" in refused.stdout
    accepted = pair.migrate("--dry-run", "--allow-loss", "all")
    assert accepted.returncode == 0, accepted.stderr
    assert "tickets: 6" in accepted.stdout
    assert (pair.source.counts(), pair.target.counts()) == before
    assert not pair.store.exists()
    assert not (pair.tmp / "gateway-data").exists()


def test_a_refused_plan_writes_nothing(pair: Pair) -> None:
    before = pair.target.counts()
    done = pair.migrate("--allow-loss", "passwords")
    assert done.returncode == 2
    assert "not accepted" in done.stderr
    assert pair.target.counts() == before


def test_run_copies_everything_once_and_a_second_run_writes_nothing(pair: Pair) -> None:
    _run_ok(pair)
    assert_same_helpdesk(pair)
    report = pair.report()
    assert_counts_add_up(report)
    assert report["kinds"]["tickets"]["created"] == 6
    assert report["failures"] == [] and report["conflicts"] == []
    assert "passwords" in report["losses_accepted"]
    # target-native records were not touched, and the copies got ids of their own
    assert pair.target.rows("SELECT subject FROM tbltickets WHERE ticketid = 100") == [("native 100",)]
    after_first = pair.target.counts()
    _run_ok(pair)
    assert pair.target.counts() == after_first
    second = pair.report()
    assert_counts_add_up(second)
    for kind, counts in second["kinds"].items():
        assert counts["created"] == counts["updated"] == 0, kind
    assert second["kinds"]["tickets"]["unchanged"] == 6


def test_incremental_run_copies_exactly_the_delta(pair: Pair) -> None:
    _run_ok(pair)
    before = pair.target.counts()
    with SimDB(pair.source.db) as db:
        new_id = seed_tickets(db, 1, replies=2)
    pair.source.write("UPDATE tbltickets SET status = 5 WHERE ticketid = 2")
    journal_before = _journal_rows(pair)
    dry = pair.migrate("--dry-run", "--allow-loss", "all")
    assert dry.returncode == 0, dry.stderr
    assert pair.target.counts() == before and _journal_rows(pair) == journal_before  # a dry run writes nothing
    _run_ok(pair)
    report = pair.report()
    assert_counts_add_up(report)
    assert report["kinds"]["tickets"]["created"] == 1
    assert report["kinds"]["tickets"]["updated"] == 1
    assert report["kinds"]["tickets"]["unchanged"] == 5
    after = pair.target.counts()
    assert after["tbltickets"] == before["tbltickets"] + 1
    new_replies = after["tblticket_replies"] - before["tblticket_replies"]
    assert new_replies == report["kinds"]["replies"]["created"]
    assert pair.journal("ticket")[str(new_id)]
    assert_same_helpdesk(pair)


def test_a_record_changed_on_the_target_is_a_conflict_not_overwritten(pair: Pair) -> None:
    _run_ok(pair)
    target_id = int(pair.journal("ticket")["1"])
    pair.target.write("UPDATE tbltickets SET subject = 'edited on the target' WHERE ticketid = ?", (target_id,))
    pair.source.write("UPDATE tbltickets SET priority = 3 WHERE ticketid = 1")
    done = pair.migrate("--allow-loss", "all", "--report", "report.json")
    assert done.returncode == 1, done.stderr
    report = pair.report()
    assert_counts_add_up(report)
    assert [c["source_id"] for c in report["conflicts"]] == ["1"]
    rows = pair.target.rows("SELECT subject, priority FROM tbltickets WHERE ticketid = ?", (target_id,))
    assert rows[0][0] == "edited on the target"


def test_sample_carries_the_most_recent_tickets_with_their_people(pair: Pair) -> None:
    _run_ok(pair, "--sample", "2")
    report = pair.report()
    assert_counts_add_up(report)
    newest = [r[0] for r in pair.source.rows("SELECT ticketid FROM tbltickets ORDER BY date DESC LIMIT 2")]
    assert sorted(int(s) for s in pair.journal("ticket")) == sorted(newest)
    assert report["kinds"]["customers"]["in_scope"] <= 2


def test_store_of_another_migration_is_refused(pair: Pair) -> None:
    _run_ok(pair, "--only", "customers")
    with sqlite3.connect(pair.store) as conn:
        conn.execute("UPDATE migrate_meta SET value = 'http://elsewhere/' WHERE key = 'target_url'")
    done = pair.migrate("--allow-loss", "all")
    assert done.returncode == 2
    assert "another migration" in done.stderr


def test_usage_errors_exit_2(pair: Pair) -> None:
    assert pair.migrate("--only", "invoices").returncode == 2
    assert pair.migrate("--allow-loss", "everything-please").returncode == 2
    env_less = {k: v for k, v in os.environ.items() if k != "GATEWAY_SOURCE_TOKEN"}
    import subprocess

    done = subprocess.run(pair.argv(), cwd=pair.tmp, capture_output=True, text=True, env=env_less, timeout=60)
    assert done.returncode == 2
    assert "--source-token" in done.stderr
