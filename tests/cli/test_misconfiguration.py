"""An operator's mistakes get one line naming what is wrong and exit 2; never a traceback, never a silent demo."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.cli.serve_process import free_port, run_gateway, start_gateway

REAL = {"GATEWAY_BACKEND_URL": "https://crm.example/", "GATEWAY_BACKEND_TOKEN": "tok", "GATEWAY_CLIENT": "a:b"}


def _one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, result
    err = result.stderr
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("gateway:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], err
    return lines[0]


def test_a_typo_in_a_variable_does_not_start_the_demo(tmp_path: Path) -> None:
    env = {**REAL, "GATEWAY_BACKEND_ULR": REAL["GATEWAY_BACKEND_URL"]}
    del env["GATEWAY_BACKEND_URL"]
    result = run_gateway("serve", "--port", str(free_port()), "--data-dir", str(tmp_path), env=env)
    _one_line_error(result, "GATEWAY_BACKEND_ULR", "GATEWAY_BACKEND_URL")
    assert not (tmp_path / "pmp-sim.sqlite3").exists()


def test_a_typo_in_the_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("backend:\n  ulr: https://crm.example/\n", encoding="utf-8")
    result = run_gateway("serve", "--config", str(config), "--port", str(free_port()))
    assert result.returncode == 2 and "backend.ulr: unknown key (did you mean 'url'?)" in result.stderr


def test_a_public_bind_without_a_backend_is_refused(tmp_path: Path) -> None:
    result = run_gateway("serve", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path))
    _one_line_error(result, "no backend configured", "--demo")


def test_a_backend_url_without_a_token_or_scheme_is_refused() -> None:
    env = {k: v for k, v in REAL.items() if k != "GATEWAY_BACKEND_TOKEN"}
    _one_line_error(run_gateway("serve", "--port", str(free_port()), env=env), "token")
    _one_line_error(
        run_gateway("serve", "--port", str(free_port()), env={**REAL, "GATEWAY_BACKEND_URL": "crm.example"}),
        "backend.url",
    )


def test_the_demo_flag_allows_a_public_bind_and_is_named_as_a_demo(tmp_path: Path) -> None:
    served = start_gateway(tmp_path, "--host", "0.0.0.0", "--demo")
    try:
        first = json.loads(served.out[0])
        assert first["event"] == "starting" and first["demo"] is True and "demo" in first["backend"]
        listening = next(e for e in served.events() if e["event"] == "listening")
        assert "demo" in listening["backend"] and listening["demo_credentials"] == "demo:demo-secret"
        with urllib.request.urlopen(served.base + "/readyz", timeout=10) as resp:
            ready = json.loads(resp.read())
        assert ready["status"] == "ready" and "demo" in ready["backend"]
    finally:
        assert served.stop() == 0
    # stdout carries one format: every line is JSON
    for line in served.out:
        json.loads(line)


def test_a_port_in_use_is_one_line_naming_the_address(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_gateway("serve", "--port", str(port), "--data-dir", str(tmp_path))
    _one_line_error(result, f"127.0.0.1:{port}")


def test_missing_tls_files_are_named_by_serve_and_check(tmp_path: Path) -> None:
    cert, key = tmp_path / "nope-cert.pem", tmp_path / "nope-key.pem"
    result = run_gateway("serve", "--port", str(free_port()), "--tls-cert", str(cert), "--tls-key", str(key))
    _one_line_error(result, str(cert))
    config = tmp_path / "gateway.yaml"
    config.write_text(f"tls_cert: {cert.name}\ntls_key: {key.name}\n", encoding="utf-8")
    checked = run_gateway("check", "--config", str(config))
    assert checked.returncode == 1 and str(cert) in checked.stdout and "Traceback" not in checked.stderr


def test_translate_response_with_non_json_input_is_one_line() -> None:
    result = subprocess_translate("--response", stdin="<html>not json</html>")
    _one_line_error(result, "not JSON")


def test_translate_request_errors_print_the_dialect_error_and_exit_1() -> None:
    unknown = subprocess_translate("--request", action="NoSuchAction", stdin="ticketid=1")
    assert unknown.returncode == 1 and json.loads(unknown.stdout) == {"result": "error", "message": "Command Not Found"}
    bad = subprocess_translate("--request", dialect="clientexec", action="GetTicket", stdin="ticket=abc")
    assert bad.returncode == 1 and json.loads(bad.stdout)["error"] is True
    good = subprocess_translate("--request", action="GetTicket", stdin="ticketid=1")
    assert good.returncode == 0 and json.loads(good.stdout)[0]["method"] == "GET"


def subprocess_translate(
    mode: str, stdin: str, dialect: str = "whmcs", action: str = "GetTicket"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "translate", "--dialect", dialect, "--action", action, mode, "-"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
