"""What every action handler shares: the parameters, the caller, the error, input parsing."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .db import SimDB, now_str

#: Reference 1.1: booleans come as 1/0 or true; accept the usual PHP-truthy spellings.
_TRUE = frozenset({"1", "true", "on", "yes"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ApiError(Exception):
    """A ``result=error`` answer with WHMCS's exact text (HTTP 200 unless said otherwise)."""

    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Credential:
    """An API credential: it belongs to one admin; its roles list the actions it may call.

    ``actions`` None = every action (a role with all API permissions).  ``departments`` None =
    the admin is assigned to every department (so ``ignore_dept_assignments`` changes nothing).
    """

    identifier: str
    secret: str
    admin_id: int = 1
    actions: frozenset[str] | None = None
    departments: frozenset[int] | None = None


@dataclass
class Params:
    """The request's parameters: query string merged with the form body (the body wins)."""

    values: dict[str, str] = field(default_factory=dict)

    def has(self, key: str) -> bool:
        return key in self.values

    def text(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

    def num(self, key: str, default: int = 0) -> int:
        raw = self.values.get(key, "").strip()
        m = re.match(r"^[+-]?\d+", raw)  # PHP's (int) cast: leading digits, else 0
        return int(m.group(0)) if m else default

    def flag(self, key: str) -> bool:
        return self.values.get(key, "").strip().lower() in _TRUE

    def bracketed(self, name: str) -> dict[str, str]:
        """``name[key]=v`` pairs (PHP array syntax) as ``{key: v}``."""
        prefix = name + "["
        return {k[len(prefix) : -1]: v for k, v in self.values.items() if k.startswith(prefix) and k.endswith("]")}


@dataclass
class Call:
    """One authenticated call: the database, the parameters and who is calling."""

    db: SimDB
    params: Params
    admin: Mapping[str, Any]
    departments: frozenset[int] | None
    #: e-mails WHMCS would have sent for this call (``noemail`` suppresses them); see SimStats.emails
    emails: list[str] = field(default_factory=list)

    def email(self, what: str) -> None:
        if not self.params.flag("noemail"):
            self.emails.append(what)

    def visible_departments(self, ignore: bool) -> list[int] | None:
        """The departments a support list may show: None = all."""
        if ignore or self.departments is None:
            return None
        return sorted(self.departments)


Handler = Callable[[Call], Awaitable[dict[str, Any]]]


def valid_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def parse_created(raw: str, future_message: str) -> str:
    """``created`` input: ISO 8601 or ``YYYY-MM-DD HH:mm:ss``; stored as local time, no offset."""
    text = raw.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError("Invalid Date Format") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone().replace(tzinfo=None)  # the server's local time, as WHMCS stores it
    value = parsed.strftime("%Y-%m-%d %H:%M:%S")
    if value > now_str():
        raise ApiError(future_message)
    return value


def full_name(first: Any, last: Any) -> str:
    return f"{first or ''} {last or ''}".strip()


def page_bounds(params: Params) -> tuple[int, int]:
    """``limitstart`` (default 0) and ``limitnum`` (default 25)."""
    start = max(params.num("limitstart", 0), 0)
    num = params.num("limitnum", 25) if params.text("limitnum").strip() else 25
    return start, max(num, 0)


def stored_attachments(params: Params) -> str:
    """``attachments`` (base64 of a JSON list of ``{name, data}``) as WHMCS stores it on the row:
    ``NNNNNN_name`` file names joined with ``|``.  Undecodable input is ignored, as PHP's
    json_decode of garbage gives null and the call carries on without attachments."""
    raw = params.text("attachments").strip()
    if not raw:
        return ""
    try:
        items = json.loads(base64.b64decode(raw, validate=False))
    except (binascii.Error, ValueError):
        return ""
    if not isinstance(items, list):
        return ""
    rng = random.SystemRandom()
    names = []
    for item in items:
        if isinstance(item, dict) and str(item.get("name") or "").strip():
            clean = re.sub(r"[^\w.\- ]", "_", str(item["name"]).strip())
            names.append(f"{rng.randint(100000, 999999)}_{clean}")
    return "|".join(names)


def attachment_list(stored: str) -> list[dict[str, Any]]:
    """GetTicket's ``attachments``: ``{filename, index}`` per stored file, the number prefix removed."""
    if not stored:
        return []
    return [
        {"filename": name.split("_", 1)[1] if "_" in name else name, "index": i}
        for i, name in enumerate(stored.split("|"))
    ]
