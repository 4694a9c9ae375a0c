"""Hostile bytes below the dialects: what aiohttp's HTTP parser refuses, chunked bodies, request ids.

A request line or header the parser refuses never reaches a dialect, so its
answer cannot be dialect-shaped; it must still be a clean 4xx that echoes no
secret (the parser's default message quotes the offending line, key included),
and nothing reaches the backend.
"""

from __future__ import annotations

import re

import pytest

from tests.hostile.helpers import BEARER, FORM, WHMCS_AUTH, Case, forbidden_strings, judge
from tests.hostile.server import CASES, HostileGateway

ECHO_BUG = (
    "aiohttp's default handle_error answers parser errors with text/plain quoting the request "
    "line / header, secrets included"
)

# (id, raw request line target or header, ...): each carries a secret next to the offending byte
PARSER_CASES: dict[str, tuple[bytes, dict[str, bytes]]] = {
    "whmcs-raw-ff-in-query": (b"/includes/api.php?action=GetTicket&" + WHMCS_AUTH.encode() + b"&x=\xff", {}),
    "readydesk-raw-ff-in-query": (b"/API/default.aspx?key=demo-secret&action=get_tickets&keyword=\xff", {}),
    "clientexec-raw-ff-in-path": (b"/api/ticket/\xff?apikey=demo-secret", {}),
    "readydesk-raw-space-in-query": (b"/API/default.aspx?key=demo-secret&keyword=a b", {}),
    "readydesk-raw-nul-in-query": (b"/API/default.aspx?key=demo-secret&keyword=a\x00b", {}),
    "whmcs-raw-tab-in-query": (b"/includes/api.php?secret=demo-secret&x=\x7f", {}),
    "keliweb-control-in-bearer": (b"/api/v2/keliweb/get-ticket", {"Authorization": b"Bearer demo-secret\x01"}),
    "clientexec-control-in-key-header": (b"/api/ticket/1", {"X-API-KEY": b"demo-secret\x00"}),
    "whmcs-overlong-url": (b"/includes/api.php?secret=demo-secret&x=" + b"a" * 9000, {}),
    "clientexec-overlong-key-header": (b"/api/ticket/1", {"X-API-KEY": b"demo-secret" + b"a" * 9000}),
    "readydesk-bare-cr-in-query": (b"/API/default.aspx?key=demo-secret&x=a\rb", {}),
}


@pytest.mark.parametrize(
    "target,headers",
    [pytest.param(t, h, id=name) for name, (t, h) in PARSER_CASES.items()],
)
def test_parser_refusal_echoes_no_secret(hostile: HostileGateway, target: bytes, headers: dict[str, bytes]) -> None:
    before = hostile.snapshot()
    reply = hostile.request("GET", target, headers=headers)
    after = hostile.snapshot()
    assert 400 <= reply.status < 500, (reply.status, reply.body[:200])
    assert after.requests == before.requests
    leaked = forbidden_strings(reply.body.decode("utf-8", "replace"))
    if leaked:
        pytest.fail(f"{leaked} echoed: {reply.status} {reply.body[:300]!r}", pytrace=False)


def _chunked(parts: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def _raw(gw: HostileGateway, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    CASES.sent += 1
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{gw.port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    reply = gw.raw("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
    return reply.status, reply.body


@pytest.mark.parametrize(
    "target,headers,status",
    [
        pytest.param("/includes/api.php?" + WHMCS_AUTH, FORM, 413, id="whmcs"),
        pytest.param("/api/v2/keliweb/open-ticket", {**BEARER, **FORM}, 413, id="keliweb"),
        pytest.param("/api/ticket?apikey=demo-secret", FORM, 413, id="clientexec"),
        pytest.param("/API/default.aspx?key=demo-secret&action=add_ticket", FORM, 413, id="readydesk"),
        pytest.param("/api/ticket?apikey=demo-secret", {"Content-Type": "application/json"}, 413, id="clientexec-json"),
    ],
)
def test_chunked_2mb_body_is_413(hostile: HostileGateway, target: str, headers: dict[str, str], status: int) -> None:
    """No Content-Length: the limit still holds while the body streams in."""
    before = hostile.snapshot()
    body = _chunked([b"subject=" + b"x" * 65536] + [b"x" * 65536] * 32)
    got, text = _raw(hostile, "POST", target, {**headers, "Transfer-Encoding": "chunked"}, body)
    after = hostile.snapshot()
    assert got == status, (got, text[:200])
    assert not forbidden_strings(text.decode("utf-8", "replace"))
    assert (after.requests, after.writes, after.digest) == (before.requests, before.writes, before.digest)


def test_content_length_and_chunked_together_is_refused(hostile: HostileGateway) -> None:
    """Request smuggling shape: both framings. Refused by the parser, nothing forwarded."""
    before = hostile.snapshot()
    got, text = _raw(
        hostile,
        "POST",
        "/includes/api.php?" + WHMCS_AUTH,
        {**FORM, "Content-Length": "4", "Transfer-Encoding": "chunked"},
        _chunked([b"action=DeleteTicket&ticketid=1"]),
    )
    assert 400 <= got < 500, (got, text[:200])
    assert hostile.snapshot().requests == before.requests
    assert hostile.snapshot().digest == before.digest


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@pytest.mark.parametrize(
    "given",
    ["abc<script>", "a" * 200, "id with spaces", "x;authtoken=1", "%0d%0aX-Injected:%201", "ok-id.1:2"],
)
def test_request_id_header_is_sanitised(hostile: HostileGateway, given: str) -> None:
    """X-Request-ID is forwarded to the backend: only a safe token survives; anything else is replaced."""
    case = Case(
        "whmcs",
        "POST",
        "/includes/api.php",
        f"{WHMCS_AUTH}&action=GetTicket&ticketid=1&responsetype=json",
        {**FORM, "X-Request-ID": given},
        expect="ok",
        backend=True,
    )
    verdict = judge(hostile, case)
    echoed = verdict.reply.headers.get("x-request-id", "")
    assert _REQUEST_ID.fullmatch(echoed), echoed
    if not _REQUEST_ID.fullmatch(given):
        assert echoed != given
