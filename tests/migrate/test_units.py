"""Units of the migration: politeness, the plan's status map, the report, the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.canonical import Status, Unmapped
from gateway.errors import BackendUnavailable, InvalidInput, RateLimited
from gateway.migrate import config, politeness
from gateway.migrate.plan import Plan, StatusMap
from gateway.migrate.report import KINDS, Report
from gateway.settings import SettingsError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_token_bucket_waits_once_the_burst_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(politeness.asyncio, "sleep", clock.sleep)  # type: ignore[attr-defined]
    bucket = politeness.TokenBucket(2.0, burst=2, clock=clock)
    for _ in range(2):
        await bucket.take()
    assert clock.slept == []
    await bucket.take()
    assert clock.slept == [0.5]  # one token at 2 per second
    unlimited = politeness.TokenBucket(0.0, clock=clock)
    for _ in range(100):
        await unlimited.take()
    assert clock.slept == [0.5]


async def test_reads_are_retried_after_transient_failures_and_retry_after_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(politeness.asyncio, "sleep", clock.sleep)  # type: ignore[attr-defined]
    failures: list[Exception] = [RateLimited("slow down", retry_after=7.0), BackendUnavailable("down")]

    async def call() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    assert await politeness.with_retries(call) == "ok"
    assert clock.slept[0] == 7.0
    assert len(clock.slept) == 2

    async def invalid() -> str:
        raise InvalidInput("no")

    with pytest.raises(InvalidInput):
        await politeness.with_retries(invalid)  # not transient: no second try

    async def always_down() -> str:
        raise BackendUnavailable("down")

    with pytest.raises(BackendUnavailable):
        await politeness.with_retries(always_down, attempts=3)


def test_status_map_names_what_the_target_cannot_hold() -> None:
    target = [(Status.OPEN, "#fff"), (Status.IN_PROGRESS, ""), (Status.ANSWERED, ""), (Status.CLOSED, "")]
    statuses = StatusMap(target, "pmp")
    assert statuses.loss(Status.OPEN) is None
    assert statuses.loss(Status.CUSTOMER_REPLY) == "customer-reply-status"
    assert statuses.loss(Status.ON_HOLD) == "status:on_hold"
    assert statuses.loss(Unmapped(vendor="whmcs", code="Escalated", label="Escalated")) == "status:Escalated"
    assert statuses.default == Status.OPEN
    own = StatusMap([(Unmapped(vendor="pmp", code="6", label="Waiting"), "")], "pmp")
    assert own.holds(Unmapped(vendor="pmp", code="6", label="Waiting"))


def test_plan_refuses_unaccepted_losses() -> None:
    plan = Plan()
    plan.lose("passwords", 3)
    plan.lose("status:on_hold", 2)
    plan.lose("reply-dates", 0)  # nothing touched: no loss
    assert plan.unaccepted(frozenset({"passwords"})) == ["status:on_hold"]
    assert plan.unaccepted(frozenset({"all"})) == []
    assert "NOT accepted" in plan.render(frozenset())


def test_report_counts_add_up_and_say_the_exit_code(tmp_path: Path) -> None:
    report = Report()
    report.add("tickets", "created", 3)
    report.fail("tickets", 9, "refused")
    report.conflict("customers", 2, "changed on the target")
    report.lose("passwords", 4)
    data = report.as_dict()
    for kind in KINDS:
        counts = data["kinds"][kind]
        assert sum(v for k, v in counts.items() if k != "in_scope") == counts["in_scope"]
    assert data["kinds"]["tickets"]["in_scope"] == 4
    assert data["failures"] == [{"kind": "tickets", "source_id": "9", "reason": "refused"}]
    assert report.exit_code() == 1
    report.interrupted = True
    assert report.exit_code() == 3
    assert Report().exit_code() == 0
    report.write(tmp_path / "r" / "report.json")
    assert (tmp_path / "r" / "report.json").exists()


def test_settings_from_file_environment_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "m.yaml"
    cfg.write_text("source: {kind: whmcs, url: 'http://a/'}\ntarget: {url: '${TGT}'}\nmigrate: {staff: {a: b}}\n")
    env = {"TGT": "http://b/", "GATEWAY_SOURCE_TOKEN": "id:secret", "GATEWAY_TARGET_TOKEN": "t"}
    ms = config.load({"target_url": "http://c/"}, cfg, env)
    assert (ms.source.kind, ms.source.url, ms.source.token) == ("whmcs", "http://a/", "id:secret")
    assert (ms.target.kind, ms.target.url, ms.target.token) == ("pmp", "http://c/", "t")
    assert ms.migrate.staff == {"a": "b"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: {tokn: x}\n")
    with pytest.raises(SettingsError, match="did you mean token"):
        config.load({}, bad, {})
    with pytest.raises(SettingsError):
        config.parse_only("tickets,invoices")
    assert config.parse_only("tickets") == frozenset({"tickets"})
    with pytest.raises(SettingsError):
        config.parse_losses("passwords,nonsense")
    assert config.parse_losses("status:Escalated,all") == frozenset({"status:Escalated", "all"})
