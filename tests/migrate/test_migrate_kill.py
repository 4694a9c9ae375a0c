"""The migration SIGKILLed at random points, resumed, and compared: exactly one copy of everything.

Marked ``slow``; ``MIGRATE_KILL_ROUNDS`` (default 4) bounds the kills so CI stays short."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest

from gateway.pmp_sim import SimDB
from gateway.pmp_sim.seeding import seed_tickets
from tests.migrate.canonical_compare import assert_same_tickets
from tests.migrate.compare import assert_counts_add_up, assert_same_helpdesk
from tests.migrate.conftest import KindPair, Pair

ROUNDS = int(os.environ.get("MIGRATE_KILL_ROUNDS", "4"))


def _kill_at_random(pair: Pair, rng: random.Random, most: float) -> int | None:
    proc = subprocess.Popen(
        pair.argv("--allow-loss", "all", "--report", "report.json"),
        cwd=pair.tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(rng.uniform(0.3, most))
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_leaves_one_copy_of_everything(pair: Pair) -> None:
    with SimDB(pair.source.db) as db:
        seed_tickets(db, 40, replies=3, seed=7)
    rng = random.Random(int(os.environ.get("MIGRATE_KILL_SEED", "13")))
    started = time.monotonic()
    first = pair.migrate("--allow-loss", "all", "--dry-run")
    assert first.returncode == 0, first.stderr
    # kill points spread over a run's length (a dry run reads what a real run reads)
    most = max(1.0, (time.monotonic() - started) * 2)
    for _ in range(ROUNDS):
        _kill_at_random(pair, rng, most)
    done = pair.migrate("--allow-loss", "all", "--report", "report.json")
    assert done.returncode == 0, done.stderr + done.stdout
    assert_counts_add_up(pair.report())
    assert_same_helpdesk(pair)
    before = pair.target.counts()
    again = pair.migrate("--allow-loss", "all", "--report", "report.json")
    assert again.returncode == 0, again.stderr
    assert pair.target.counts() == before
    report = pair.report()
    assert all(c["created"] == c["updated"] == 0 for c in report["kinds"].values())


@pytest.mark.slow
def test_sigterm_stops_cleanly_with_exit_3_and_resumes(pair: Pair) -> None:
    with SimDB(pair.source.db) as db:
        seed_tickets(db, 60, replies=3, seed=3)
    proc = subprocess.Popen(
        pair.argv("--allow-loss", "all", "--report", "report.json", "--rate", "40"),
        cwd=pair.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # the tickets stage has begun
        if line.startswith("migrate: tickets"):
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert "interrupted" in out
    report = pair.report()
    assert report["interrupted"] is True
    assert_counts_add_up(report)
    done = pair.migrate("--allow-loss", "all", "--report", "report.json")
    assert done.returncode == 0, done.stderr
    assert_same_helpdesk(pair)


@pytest.mark.slow
def test_sigkill_and_resume_across_vendors(cross: KindPair) -> None:
    rng = random.Random(int(os.environ.get("MIGRATE_KILL_SEED", "13")))
    for _ in range(max(1, ROUNDS // 2)):
        _kill_at_random(cross, rng, 3.0)
    done = cross.migrate("--allow-loss", "all", "--report", "report.json")
    assert done.returncode == 0, done.stderr + done.stdout
    assert_counts_add_up(cross.report())
    assert_same_tickets(cross, 6)
    before = cross.target.counts_any()
    again = cross.migrate("--allow-loss", "all", "--report", "report.json")
    assert again.returncode == 0, again.stderr
    assert cross.target.counts_any() == before
