"""Both directions between the two vendors' simulators: PMP -> WHMCS and WHMCS -> PMP."""

from __future__ import annotations

from tests.migrate.canonical_compare import assert_same_tickets
from tests.migrate.compare import assert_counts_add_up
from tests.migrate.conftest import KindPair


def test_cross_vendor_migration_carries_everything_once(cross: KindPair) -> None:
    dry = cross.migrate("--dry-run", "--allow-loss", "all")
    assert dry.returncode == 0, dry.stderr + dry.stdout
    done = cross.migrate("--allow-loss", "all", "--report", "report.json")
    assert done.returncode == 0, done.stderr + done.stdout
    report = cross.report()
    assert_counts_add_up(report)
    assert report["kinds"]["tickets"]["created"] == 6
    assert_same_tickets(cross, 6)
    before = cross.target.counts_any()
    again = cross.migrate("--allow-loss", "all", "--report", "report.json")
    assert again.returncode == 0, again.stderr
    assert cross.target.counts_any() == before
    assert all(c["created"] == c["updated"] == 0 for c in cross.report()["kinds"].values())
