"""No log line carries a secret, whatever spelling or place a hostile client puts it in; and every
failed action's access log line says what failed, in every dialect.

One real ``gateway serve`` process; all its output (stdout and stderr) is read at the end.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.serve_process import Served, start_gateway

CONFIGURED = "ops-configured-secret-4711"

# every spelling of a credential parameter the form parser accepts
SPELLINGS = (
    "apikey", "apikey[]", "apikey[0]", "APIKEY", "apikey%5B%5D", "key", "key[]", "key[0]", "KEY%5b0%5d",
    "access_token", "Access_Token", "authtoken", "AuthToken[]", "secret", "Secret[]", "password", "token",
    "api_key", "accesskey",
)  # fmt: skip

# (method, path) a client of each dialect calls; a query string is appended
ENDPOINTS = {
    "whmcs": ("POST", "/includes/api.php?action=GetTicket&ticketid=1"),
    "keliweb": ("POST", "/api/v2/keliweb/get-ticket?ticketid=1"),
    "clientexec": ("GET", "/api/ticket/1?x=1"),
    "readydesk": ("GET", "/API/default.aspx?action=get_tickets&format=json"),
}


class Hostile:
    def __init__(self, served: Served) -> None:
        self.served = served
        self.secrets: list[str] = []

    def secret(self) -> str:
        value = f"hostile-{len(self.secrets):03d}-secret"
        self.secrets.append(value)
        return value

    def send(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.served.port, timeout=10)
        try:
            hdrs = dict(headers or {})
            if body:
                hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
            conn.request(method, path, body=body.encode() if body else None, headers=hdrs)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("log-secrets")
    gateway = start_gateway(tmp, "--client", f"ops:{CONFIGURED}")
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def hostile_run(served: Served) -> tuple[Hostile, str]:
    client = Hostile(served)
    for _dialect, (method, path) in ENDPOINTS.items():
        for name in SPELLINGS:
            client.send(method, f"{path}&{name}={client.secret()}")  # in the query
            client.send("POST", path, body=f"{name}={client.secret()}&ticketid=1")  # in a form body
        for header in ("Authorization", "X-API-KEY", "authtoken", "X-Auth-Token"):
            value = client.secret()
            client.send(method, path, headers={header: f"Bearer {value}" if header == "Authorization" else value})
    # in the path, and where the route pattern does not match
    for template in (
        "/api/ticket/{s}?apikey={s}",
        "/api/ticket/{s}/reply?apikey={s}",
        "/API/default.aspx;key={s}?action=get_tickets",
        "/api/v2/keliweb/{s}?access_token={s}",
        "/api/v2/keliweb/open-ticket;access_token={s}",
        "/includes/api.php?action={s}&secret={s}",
        "/api/ticket/?apikey[]={s}",
    ):
        client.send("GET", template.format(s=client.secret()))
    # the configured secret, presented properly and also echoed where the route takes an id
    client.send("GET", f"/api/ticket/{CONFIGURED}", headers={"X-API-KEY": CONFIGURED})
    client.send("GET", f"/API/default.aspx?action={CONFIGURED}&key={CONFIGURED}")
    served.stop()
    return client, served.all_output()


def test_no_log_line_contains_a_secret(hostile_run: tuple[Hostile, str]) -> None:
    client, output = hostile_run
    assert len(client.secrets) > 80
    leaked = [s for s in [*client.secrets, CONFIGURED] if s in output]
    assert not leaked, leaked
    assert "[redacted]" in output


def test_stdout_and_stderr_are_json_lines(hostile_run: tuple[Hostile, str], served: Served) -> None:
    for line in served.out + served.err:
        json.loads(line)


# ---------------------------------------------------------------- errors you can find


def _access(served: Served, path_start: str) -> dict[str, Any]:
    lines = [json.loads(line) for line in served.out]
    return next(rec for rec in reversed(lines) if str(rec.get("path", "")).startswith(path_start))


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> Served:
    tmp: Path = tmp_path_factory.mktemp("failures")
    gateway = start_gateway(tmp, "--client", f"ops:{CONFIGURED}")
    client = Hostile(gateway)
    auth = f"identifier=ops&secret={CONFIGURED}&responsetype=json"
    client.send("POST", "/includes/api.php", body=f"action=GetTicket&ticketid=99999&{auth}")
    client.send("POST", "/includes/api.php", body=f"action=GetInvoices&{auth}")
    client.send("POST", "/includes/api.php", body=f"action=GetTicket&ticketid=1&identifier=ops&secret=wrong&{auth[:0]}")
    client.send(
        "POST", "/api/v2/keliweb/get-ticket", body="ticketid=99999", headers={"Authorization": f"Bearer {CONFIGURED}"}
    )
    client.send("GET", f"/api/ticket/99999?apikey={CONFIGURED}")
    client.send("GET", f"/API/default.aspx?action=no_such_action&format=json&key={CONFIGURED}")
    gateway.stop()
    return gateway


@pytest.mark.parametrize(
    ("path", "status", "kind", "message"),
    [
        ("/includes/api.php", 200, "not_found", "Ticket ID Not Found"),
        ("/api/v2/keliweb/get-ticket", 404, "not_found", "Ticket ID Not Found"),
        ("/api/ticket/99999", 404, "not_found", "Ticket ID Not Found"),
        ("/API/default.aspx", 200, "unknown_action", "Command Not Found"),
    ],
)
def test_failed_actions_carry_kind_and_message(
    failures: Served, path: str, status: int, kind: str, message: str
) -> None:
    records = [json.loads(line) for line in failures.out]
    record = next(r for r in records if str(r.get("path", "")).startswith(path) and r.get("error_kind") == kind)
    assert record["status"] == status and record["error"] == message


def test_billing_actions_answer_command_not_found_with_a_hint_in_the_log(failures: Served) -> None:
    records = [json.loads(line) for line in failures.out]
    billing = next(r for r in records if r.get("action") == "GetInvoices")
    assert billing["error_kind"] == "unknown_action" and billing["error"] == "Command Not Found"
    assert billing["hint"] == "billing actions are not served"
    auth = next(r for r in records if r.get("error_kind") == "auth")
    assert auth["status"] == 403 and auth["error"] == "Authentication Failed"
