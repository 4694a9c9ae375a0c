"""``--workers 2``: every scrape shows all workers' counters, so they never go backwards."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from tests.cli.serve_process import start_gateway

_SAMPLE = re.compile(r'^gateway_requests_total\{action="GetTicket",dialect="whmcs",result="success"\} (\S+)$', re.M)


def _scrape(base: str) -> float:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    found = _SAMPLE.search(text)
    return float(found.group(1)) if found else 0.0


def test_two_workers_one_consistent_view(tmp_path: Path) -> None:
    served = start_gateway(tmp_path, "--workers", "2")
    # both workers print their banner; wait for the second
    served.wait_for(lambda rec: rec.get("event") == "listening")
    pids = {e["pid"] for e in served.events() if e["event"] == "listening"}
    assert len(pids) == 2
    data = urlencode(
        {"action": "GetTicket", "ticketid": "1", "identifier": "demo", "secret": "demo-secret", "responsetype": "json"}
    ).encode()
    seen: list[float] = []
    try:
        for sent in range(1, 31):
            # a new connection each time: the kernel spreads them over the two workers
            with urllib.request.urlopen(served.base + "/includes/api.php", data=data, timeout=10) as resp:
                assert resp.status == 200
            seen.append(_scrape(served.base))
            assert seen[-1] == sent, seen  # whichever worker answered the scrape
        assert seen == sorted(seen)
    finally:
        assert served.stop() == 0


def test_a_reload_reaches_every_worker(tmp_path: Path) -> None:
    import signal

    served = start_gateway(tmp_path, "--workers", "2")
    served.wait_for(lambda rec: rec.get("event") == "listening")
    try:
        served.proc.send_signal(signal.SIGHUP)
        first = served.wait_for(lambda rec: rec.get("event") == "reloaded")
        second = served.wait_for(lambda rec: rec.get("event") == "reloaded")
        assert first["needs_restart"] == second["needs_restart"] == []
        assert served.proc.poll() is None
    finally:
        assert served.stop() == 0
