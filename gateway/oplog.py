"""Operational log lines: one JSON object per line, like the access log.

Standard output carries one format: the access log, the start-up banner and
reload messages (``event`` lines).  Warnings and errors from the code go to
standard error as JSON lines too (a traceback, where there is one, in
``exc``).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

from gateway import context
from gateway.redact import scrub

EVENTS = "gateway.events"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # a line logged while serving a request never carries what that request presented as a
        # credential, nor a configured secret (an exception's text may quote a client's input)
        secrets = _request_secrets()
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage(), secrets),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = scrub(self.formatException(record.exc_info), secrets)
        return orjson.dumps(out, default=str).decode()


def _request_secrets() -> list[str]:
    ctx = context.peek()
    return ctx.secrets if ctx is not None else []


def setup_logging(level: str) -> None:
    """JSON lines: events on stdout (with the access log), the rest on stderr."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    errors = logging.StreamHandler(sys.stderr)
    errors.setFormatter(JsonFormatter())
    root.addHandler(errors)
    root.setLevel(getattr(logging, level.upper()))
    logging.captureWarnings(True)  # library warnings (aiohttp's on odd headers) as JSON lines too
    events = logging.getLogger(EVENTS)
    for handler in list(events.handlers):
        events.removeHandler(handler)
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(JsonFormatter())
    events.addHandler(out)
    events.propagate = False
    events.setLevel(logging.INFO)


def event(name: str, message: str, level: int = logging.INFO, **fields: Any) -> None:
    """One ``{"event": name, "message": ..., ...}`` line on standard output."""
    logger = logging.getLogger(EVENTS)
    if not logger.handlers:  # used before setup_logging (tests, library use): write it anyway
        line = {"ts": round(time.time(), 3), "level": logging.getLevelName(level).lower(), "event": name}
        sys.stdout.write(orjson.dumps({**line, "message": message, **fields}, default=str).decode() + "\n")
        sys.stdout.flush()
        return
    logger.log(level, message, extra={"fields": {"event": name, **fields}})
