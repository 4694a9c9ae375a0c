"""Content hashes, target fingerprints and the canonical -> "new record" translations.

A *content hash* covers what the migration carries of a source record, so an unchanged
record hashes the same run after run (incremental copies).  A *fingerprint* covers the
same fields read back from the target, taken right after the migration wrote them: a
later difference means someone changed the record on the target (a conflict).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from gateway.canonical import Contact, Customer, Note, Reply, StatusValue, Ticket, Unmapped

CUSTOMER_FIELDS: tuple[str, ...] = (
    "company",
    "firstname",
    "lastname",
    "email",
    "phone",
    "address1",
    "address2",
    "city",
    "state",
    "postcode",
    "country",
    "website",
    "vat",
)
CONTACT_FIELDS: tuple[str, ...] = ("firstname", "lastname", "email", "phone", "title", "is_primary")


def digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def enum_text(value: StatusValue | Any) -> str:
    if isinstance(value, Unmapped):
        return f"unmapped:{value.vendor}:{value.code}"
    return str(getattr(value, "value", value))


def customer_fields(c: Customer) -> dict[str, str]:
    return {f: str(getattr(c, f)) for f in CUSTOMER_FIELDS}


def customer_hash(c: Customer) -> str:
    return digest(customer_fields(c))


def contact_fields(c: Contact) -> dict[str, Any]:
    return {f: getattr(c, f) for f in CONTACT_FIELDS}


def contact_hash(c: Contact) -> str:
    return digest(contact_fields(c))


def ticket_header(t: Ticket) -> dict[str, Any]:
    """The ticket's changeable header (the conversation is carried message by message)."""
    return {
        "subject": t.subject,
        "status": enum_text(t.status),
        "priority": enum_text(t.priority),
        "department": t.department.id if t.department else 0,
        "customer": t.customer_id,
        "contact": t.contact_id,
    }


def ticket_hash(t: Ticket) -> str:
    return digest(ticket_header(t))


def ticket_fingerprint(t: Ticket) -> str:
    """What a target-side edit would change: status, priority, department, subject."""
    head = ticket_header(t)
    return digest({k: head[k] for k in ("subject", "status", "priority", "department")})


def normalized(text: str) -> str:
    """A message as compared across vendors: whitespace and line endings folded."""
    return " ".join(text.replace("\r\n", "\n").split())


def message_hash(message: str) -> str:
    return digest(normalized(message))


def reply_hash(r: Reply) -> str:
    return message_hash(r.message)


def note_hash(n: Note) -> str:
    return message_hash(n.message)
