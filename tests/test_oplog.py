"""gateway/oplog.py: JSON lines, and no secret of the request being served in any of them."""

from __future__ import annotations

import json
import logging

from gateway import context
from gateway.oplog import JsonFormatter


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("gateway", logging.ERROR, __file__, 1, message, args, exc_info)


def test_a_line_is_json_with_its_fields() -> None:
    record = _record("reloaded %s", "ok")
    record.fields = {"event": "reloaded", "needs_restart": ["port"]}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "reloaded ok" and line["event"] == "reloaded" and line["needs_restart"] == ["port"]
    assert line["level"] == "error" and line["logger"] == "gateway"


def test_what_the_request_presented_is_blanked_from_messages_and_tracebacks() -> None:
    ctx = context.RequestContext(secrets=["hostile-key-123"])
    token = context.begin(ctx)
    try:
        try:
            raise ValueError("bad value 'hostile-key-123'")
        except ValueError as exc:
            line = JsonFormatter().format(_record("unhandled action %s", "hostile-key-123", exc=exc))
    finally:
        context.end(token)
    assert "hostile-key-123" not in line and "[redacted]" in line
    # outside a request nothing is blanked
    assert "hostile-key-123" in JsonFormatter().format(_record("%s", "hostile-key-123"))
