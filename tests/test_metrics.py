"""gateway.metrics: in one process, observations are added up and handed over when /metrics renders."""

from __future__ import annotations

import pytest

from gateway.metrics import Metrics


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_counts_and_histograms_render_as_if_observed_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    deferred, direct = Metrics(), Metrics()
    direct._deferred = False  # what prometheus-client does value by value
    for seconds in (0.003, 0.005, 0.3, 12.0):
        for m in (deferred, direct):
            m.request_done("whmcs", "GetTicket", "success", seconds)
            m.backend_call("GET", 200, seconds / 2)
    a, b = deferred.render().decode(), direct.render().decode()
    samples = [line for line in a.splitlines() if not line.startswith("#") and "_created" not in line]
    assert samples == [line for line in b.splitlines() if not line.startswith("#") and "_created" not in line]
    assert _line(a, 'gateway_requests_total{action="GetTicket",dialect="whmcs",result="success"}').endswith(" 4.0")
    assert _line(a, 'gateway_request_seconds_bucket{dialect="whmcs",le="0.005"}').endswith(" 2.0")  # <= bound


def test_a_second_render_adds_only_what_came_since(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    m = Metrics()
    m.request_done("keliweb", "get-ticket", "error", 0.01)
    m.render()
    m.request_done("keliweb", "get-ticket", "error", 0.01)
    text = m.render().decode()
    assert _line(text, 'gateway_requests_total{action="get-ticket",dialect="keliweb",result="error"}').endswith(" 2.0")
    assert _line(text, 'gateway_request_seconds_count{dialect="keliweb"}').endswith(" 2.0")


def test_several_workers_write_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    m = Metrics()
    m.request_done("whmcs", "GetTicket", "success", 0.01)
    assert not m._pending_requests and not m._pending_latency  # nothing waits for this worker's scrape
