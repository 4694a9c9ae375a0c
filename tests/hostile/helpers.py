"""What every hostile answer must look like, per dialect (INTERFACE.md, "Errors, per dialect").

:func:`judge` sends one request and checks the invariants the issue lists: never a
500, the dialect's own wire shape (JSON / XML / NVP / URL-delimited as requested)
with its error marker or a correct answer, no stack trace, token or secret in the
body, no backend call when the input failed validation, nothing written unless the
request was a legitimate write.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import pytest

from gateway.pmp_sim import DEFAULT_TOKEN
from tests.hostile.server import HostileGateway, Reply

Dialect = Literal["whmcs", "keliweb", "clientexec", "readydesk"]
Outcome = Literal["error", "ok", "any"]

SECRETS = ("demo-secret", "ops-secret")
FORBIDDEN = (
    "Traceback",
    'File "',
    DEFAULT_TOKEN,
    *SECRETS,
    *(hashlib.md5(s.encode()).hexdigest() for s in SECRETS),
    "root:x:0:0",  # /etc/passwd through an external entity
    "Internal gateway error",  # an unhandled exception, even when the dialect wraps it
)

WHMCS_AUTH = "identifier=demo&secret=demo-secret"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON_CT = {"Content-Type": "application/json"}
BEARER = {"Authorization": "Bearer demo-secret"}

# statuses each dialect may answer with (INTERFACE's table; 403 for a refused allow-list)
ERROR_STATUS: dict[str, frozenset[int]] = {
    "whmcs": frozenset({200, 403, 413}),
    "keliweb": frozenset({401, 403, 404, 413, 422, 429, 501, 503, 504}),
    "clientexec": frozenset({401, 403, 404, 413, 422, 429, 501, 503, 504}),
    "readydesk": frozenset({200, 413}),
}


@dataclass
class Case:
    """One hostile request and what it may produce."""

    dialect: Dialect
    method: str
    target: str | bytes
    body: bytes | str = b""
    headers: dict[str, Any] = field(default_factory=dict)
    fmt: str = "json"  # the answer's format: json | xml | legacy (WHMCS) | url (ReadyDesk)
    expect: Outcome = "error"
    backend: bool = False  # may it reach the backend? (False: it failed validation)
    write: bool = False  # is it a legitimate write?
    status: int | None = None  # an exact status, when INTERFACE fixes it


@dataclass
class Verdict:
    reply: Reply
    error: bool
    payload: Any


def forbidden_strings(text: str) -> list[str]:
    return [s for s in FORBIDDEN if s in text]


def parse(dialect: str, fmt: str, reply: Reply) -> tuple[bool, Any]:
    """(is_error, payload) of a dialect-shaped answer; AssertionError when it is not one."""
    text = reply.body.decode("utf-8")  # every dialect answers UTF-8
    ctype = reply.content_type
    if dialect == "whmcs":
        return _parse_whmcs(fmt, ctype, text)
    if dialect == "keliweb":
        assert ctype == "application/json", f"keliweb answered {ctype}: {text[:200]!r}"
        data = json.loads(text)
        assert isinstance(data, dict) and data.get("result") in ("success", "error"), text[:200]
        if data["result"] == "error":
            assert isinstance(data.get("message"), str), text[:200]
        return data["result"] == "error", data
    if dialect == "clientexec":
        assert ctype == "application/json", f"clientexec answered {ctype}: {text[:200]!r}"
        data = json.loads(text)
        assert isinstance(data, dict), text[:200]
        if data.get("error") is True:
            assert isinstance(data.get("message"), str), text[:200]
            return True, data
        assert "error" not in data and "timestamp" in data, text[:200]
        return False, data
    if dialect == "readydesk":
        return _parse_readydesk(fmt, ctype, text)
    raise AssertionError(f"unknown dialect {dialect}")


def _parse_whmcs(fmt: str, ctype: str, text: str) -> tuple[bool, Any]:
    if fmt == "json":
        assert ctype == "application/json", f"whmcs json answered {ctype}: {text[:200]!r}"
        data = json.loads(text)
        assert isinstance(data, dict) and data.get("result") in ("success", "error"), text[:200]
        if data["result"] == "error":
            assert isinstance(data.get("message"), str), text[:200]
        return data["result"] == "error", data
    if fmt == "xml" or ctype in ("application/xml", "text/xml"):
        assert ctype in ("application/xml", "text/xml"), f"whmcs xml answered {ctype}: {text[:200]!r}"
        root = ET.fromstring(text.encode())
        assert root.tag == "whmcsapi", text[:200]
        result = root.findtext("result")
        assert result in ("success", "error"), text[:200]
        if result == "error":
            assert root.find("message") is not None, text[:200]
        return result == "error", root
    # legacy with a flat answer: NVP  key=value;key=value;
    assert fmt in ("legacy", "nvp"), fmt
    assert ctype == "text/plain", f"whmcs nvp answered {ctype}: {text[:200]!r}"
    assert text.endswith(";"), text[:200]
    pairs = dict(p.split("=", 1) for p in text[:-1].split(";") if "=" in p)
    assert pairs.get("result") in ("success", "error"), text[:200]
    if pairs["result"] == "error":
        assert "message" in pairs, text[:200]
    return pairs["result"] == "error", pairs


def _parse_readydesk(fmt: str, ctype: str, text: str) -> tuple[bool, Any]:
    if fmt == "json":
        assert ctype == "application/json", f"readydesk json answered {ctype}: {text[:200]!r}"
        data = json.loads(text)
        assert isinstance(data, dict), text[:200]
        if "error" in data:
            assert isinstance(data["error"], str) and set(data) == {"error"}, text[:200]
            return True, data
        assert "tickets" in data or "count" in data, text[:200]
        return False, data
    if fmt == "url":
        assert ctype == "text/plain", f"readydesk url answered {ctype}: {text[:200]!r}"
        if text.startswith("error="):
            assert "\n" not in text, text[:200]
            return True, dict(parse_qsl(text, keep_blank_values=True))
        for line in filter(None, text.split("\n")):
            assert all("=" in pair for pair in line.split("&")), line[:200]
        return False, text
    assert fmt == "xml", fmt
    assert ctype in ("text/xml", "application/xml"), f"readydesk xml answered {ctype}: {text[:200]!r}"
    root = ET.fromstring(text.encode())
    if root.tag == "error":
        return True, root
    assert root.tag in ("tickets", "count"), text[:200]
    return False, root


# messages of errors raised while reading or validating the request: never after a backend call
_VALIDATION_MARKERS = ("Malformed", "JSON body", "nested values")


def message_of(dialect: str, payload: Any) -> str:
    if isinstance(payload, ET.Element):
        return payload.findtext("message") or payload.text or ""
    if isinstance(payload, dict):
        value = payload.get("message", payload.get("error", ""))
        return value if isinstance(value, str) else ""
    return ""


def judge(gw: HostileGateway, case: Case) -> Verdict:
    """Send ``case`` and assert every invariant of the hostile suite.

    A broken invariant fails the test with its message alone (``pytrace=False``):
    pytest's source-based traceback formatting trips over a CPython 3.11 ``ast``
    bug ("AST constructor recursion depth mismatch") while the gateway thread runs.
    """
    try:
        return _judge(gw, case)
    except AssertionError as exc:
        pytest.fail(f"{case.dialect}: {exc}", pytrace=False)


def _judge(gw: HostileGateway, case: Case) -> Verdict:
    before = gw.snapshot()
    reply = gw.request(case.method, case.target, case.body, case.headers)
    after = gw.snapshot()
    where = f"{case.method} {case.target!r:.120} -> {reply.status} {reply.body[:300]!r}"

    assert reply.status != 500, where
    crashes = gw.crash_log.records[before.crashes : after.crashes]
    assert not crashes, f"unhandled exception logged {crashes}: {where}"
    leaked = forbidden_strings(reply.body.decode("utf-8", "replace"))
    assert not leaked, f"{leaked} in the body: {where}"
    leaked_headers = [k for k, v in reply.headers.items() if forbidden_strings(v)]
    assert not leaked_headers, f"secret in headers {leaked_headers}: {where}"

    is_error, payload = parse(case.dialect, case.fmt, reply)
    if is_error:
        assert reply.status in ERROR_STATUS[case.dialect], where
    else:
        assert reply.status == 200, where
    if case.status is not None:
        assert reply.status == case.status, where
    if case.expect == "error":
        assert is_error, f"expected an error: {where}"
    elif case.expect == "ok":
        assert not is_error, f"expected a correct answer: {where}"

    if is_error and any(m in message_of(case.dialect, payload) for m in _VALIDATION_MARKERS):
        assert after.requests == before.requests, f"backend call for a refused request: {where}"
    if not case.backend:
        assert after.requests == before.requests, f"{after.requests - before.requests} backend call(s): {where}"
    if not case.write:
        assert after.writes == before.writes, f"{after.writes - before.writes} backend write(s): {where}"
        assert (after.tickets, after.customers, after.contacts, after.digest) == (
            before.tickets,
            before.customers,
            before.contacts,
            before.digest,
        ), f"simulator data changed: {where}"
    return Verdict(reply, is_error, payload)
