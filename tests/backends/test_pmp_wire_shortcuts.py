"""The wire's short way with a usual answer (a 2xx record or list) against the full interpretation."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.backends import http
from gateway.backends.pmp import wire as w
from gateway.errors import GatewayError

BODIES = [
    b'{"ticketid":"1","subject":"x"}',
    b'[{"ticketid":"1"},{"ticketid":"2"}]',
    b"[]",
    b"{}",
    b'  {"a":1}\n',
    b'{"a":1}\r\n\t ',
    b'{"a":1}\x0b',
    b'{"a":1}\x0c\n',
    b'\xef\xbb\xbf{"a":1}',
    b"\xef\xbb\xbf  [1,2]  ",
    b"",
    b"   ",
    b"<html>oops</html>",
    b'{"a":1',
    b'{"a":"\xff"}',
    b"[1,2] trailing",
    b'"a string"',
    b"42",
    b"null",
    b'{"status":false,"message":"No data were found"}',
    b'{"status":"0","message":"nope"}',
    b'{"status":" FALSE ","message":"Token is not defined."}',
    b'{"status":true,"message":"fine"}',
    b'{"status":"1"}',
    b'{"status":null,"ticketid":"1"}',
    b'{"status":"2","ticketid":"1"}',
    b'{"status":"00","ticketid":"1"}',
    b'{"status":"0","ticketid":"1"}',
    b'{"status":" 0","ticketid":"1"}',
    b'{"status":"\\u0660","ticketid":"1"}',
    b'{"status":"\\u00b2","ticketid":"1"}',
    b'{"status":"\\uff10","ticketid":"1"}',
    b'{"status":"","ticketid":"1"}',
    b'{"status":["0"]}',
    b'{"status":0}',
    b'{"status":false,"message":"Token expired"}',
    b'{"errors":{"subject":["required"]}}',
    b'{"data":[{"ticketid":"1"}],"meta":{"total":1}}',
]
STATUSES = [200, 201, 204, 299, 301, 400, 401, 403, 404, 422, 429, 500, 503]


def _outcome(fn: Any) -> Any:
    try:
        value = fn()
    except GatewayError as exc:
        return ("raised", type(exc), exc.message)
    if isinstance(value, w.Refused):
        return ("refused", value)
    return ("data", type(value), value if value is not w._NOT_JSON else "not json")


@pytest.mark.parametrize("body", BODIES)
def test_decoding_as_is_equals_decoding_stripped(body: bytes) -> None:
    fast, careful = w.parse_json(body), w.parse_stripped(body)
    assert fast == careful or (fast is w._NOT_JSON and careful is w._NOT_JSON)
    assert type(fast) is type(careful)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_interpret_equals_the_full_interpretation(method: str) -> None:
    wire = w.Wire("http://backend.invalid/", "tok", transport=None)  # type: ignore[arg-type]
    for status in STATUSES:
        for body in BODIES:
            reply = http.Reply(status, {}, body)
            data = w.parse_stripped(body)
            full = _outcome(lambda r=reply, d=data: wire._refusal(r, d, method, "api/tickets/1"))
            short = _outcome(lambda r=reply: wire.interpret(r, method, "api/tickets/1"))
            assert short == full, (status, body)
