"""`gateway serve` as an operator runs it: a real process, signals, reload, logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

AUTH = {"identifier": "demo", "secret": "demo-secret"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--data-dir", str(tmp_path / "data"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    banner = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line)
        if line.strip().startswith("health:"):
            return proc, port
    proc.kill()
    raise AssertionError("gateway did not start: " + "".join(banner) + (proc.stderr.read() if proc.stderr else ""))


def _post(port: int, **params: str) -> dict[str, object]:
    data = urlencode({**AUTH, "responsetype": "json", **params}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/includes/api.php", data=data, timeout=10) as resp:
        result: dict[str, object] = json.loads(resp.read())
        return result


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def test_serve_reload_and_drain(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay" / "whmcs"
    overlay.mkdir(parents=True)
    proc, port = _start(tmp_path, "--mappings", str(tmp_path / "overlay"), "--client", "ops:ops-secret")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            assert resp.status == 200
        assert _post(port, action="GetTicket", ticketid="1")["status"] == "Open"

        # a broken mapping: the reload is refused and the running mappings stay
        (overlay / "statuses.yaml").write_text("enums:\n  status:\n    values: {Open: opne}\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert _post(port, action="GetTicket", ticketid="1")["status"] == "Open"

        # a good one (an installation that renamed Open) is taken
        (overlay / "statuses.yaml").write_text(
            "enums:\n  status:\n    canonical: Status\n    values: {New: open, Answered: answered, "
            "Customer-Reply: customer_reply, On Hold: on_hold, In Progress: in_progress, Closed: closed}\n",
            encoding="utf-8",
        )
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert _post(port, action="GetTicket", ticketid="1")["status"] == "New"
    finally:
        code = _stop(proc)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    assert code == 0, err
    assert "reload failed" in err and "statuses.yaml:3:" in err
    log_lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(rec["action"] == "GetTicket" and rec["status"] == 200 for rec in log_lines)
    assert "demo-secret" not in out and "demo-secret" not in err


def test_real_backend_needs_a_client_credential(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--backend-url", "http://127.0.0.1:9/", "--backend-token", "t"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--client" in result.stderr


@pytest.mark.parametrize("via_env", [False, True])
def test_access_log_redacts_secrets_in_urls(tmp_path: Path, via_env: bool) -> None:
    env = {"GATEWAY_CLIENT": "ops:ops-secret"} if via_env else {}
    args = () if via_env else ("--client", "ops:ops-secret")
    proc, port = _start(tmp_path, *args, env=env)
    try:
        url = f"http://127.0.0.1:{port}/API/default.aspx?key=ops-secret&action=get_tickets&tid=1&format=json"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
        query = urlencode(
            {
                "action": "GetTicket",
                "ticketid": "1",
                "responsetype": "json",
                "identifier": "ops",
                "secret": "ops-secret",
            }
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/includes/api.php?{query}", data=b"", timeout=10) as r:
            assert json.loads(r.read())["result"] == "success"
    finally:
        assert _stop(proc) == 0
    out = proc.stdout.read() if proc.stdout else ""
    assert "ops-secret" not in out
    assert "[redacted]" in out


def test_tls_workers_and_admin_metrics_port(tmp_path: Path) -> None:
    """What an operator turns on for clients that hard-code https, and for more cores."""
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    admin = _free_port()
    proc, port = _start(
        tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), "--workers", "2", "--metrics-port", str(admin)
    )
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        data = urlencode({**AUTH, "responsetype": "json", "action": "GetTicket", "ticketid": "1"}).encode()
        for _ in range(6):  # spread over both workers
            with urllib.request.urlopen(
                f"https://127.0.0.1:{port}/includes/api.php", data=data, timeout=10, context=ctx
            ) as resp:
                assert json.loads(resp.read())["ticketid"] == "1"
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10) as resp:
            assert b"gateway_requests_total" in resp.read()
    finally:
        assert _stop(proc) == 0
