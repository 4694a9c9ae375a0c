"""Bulk seeding for benchmarks: N realistic tickets (and K replies each) in one transaction.

``executemany`` inside a single transaction keeps 100,000 tickets to a few seconds.  The rows
look like the demo's: tickets of the existing contacts (guest tickets when there are none),
spread over every department, status and priority, dated over two years before 2024-06-01.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from .db import TICKET_COLUMNS, SimDB

_SUBJECTS = (
    "Cannot log in to the control panel",
    "Invoice shows the wrong amount",
    "Website is slow since yesterday",
    "Please renew my domain",
    "E-mail bounces with 550",
    "Upgrade to a bigger plan",
    "SSL certificate expired",
    "Backup restore request",
)
_EPOCH = datetime(2024, 6, 1)
_REPLY_COLUMNS = ("ticketid", "userid", "contactid", "name", "email", "date", "message", "attachment", "admin")


def _when(rng: random.Random) -> datetime:
    return _EPOCH - timedelta(seconds=rng.randrange(2 * 365 * 86400))


def _ticket_rows(
    first_id: int, count: int, contacts: list[tuple[int, int]], departments: list[int], rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    for tid in range(first_id, first_id + count):
        created = _when(rng)
        userid, contactid = contacts[tid % len(contacts)] if contacts else (0, 0)
        guest = contactid == 0
        status = rng.choice((1, 2, 3, 4, 5))
        row: dict[str, Any] = {
            "ticketid": tid,
            "adminreplying": 0,
            "userid": userid,
            "contactid": contactid,
            "merged_ticket_id": None,
            "email": f"guest{tid}@example.net" if guest else None,
            "name": f"Guest {tid}" if guest else None,
            "department": departments[tid % len(departments)] if departments else 0,
            "priority": rng.choice((1, 2, 3)),
            "status": status,
            "service": None,
            "ticketkey": hashlib.md5(f"seed-ticket-{tid}".encode()).hexdigest(),
            "subject": f"{_SUBJECTS[tid % len(_SUBJECTS)]} (#{tid})",
            "message": f"Hello,<br />\nticket number {tid} needs your attention.",
            "admin": None,
            "date": created.strftime("%Y-%m-%d %H:%M:%S"),
            "project_id": 0,
            "lastreply": None,
            "clientread": 1,
            "adminread": int(status != 1),
            "assigned": 0,
            "staff_id_replying": None,
            "cc": "",
        }
        yield tuple(row[c] for c in TICKET_COLUMNS)


def _reply_rows(first_id: int, count: int, replies: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for tid in range(first_id, first_id + count):
        when = _when(rng)
        for n in range(replies):
            when += timedelta(minutes=rng.randrange(5, 600))
            staff = n % 2 == 1
            yield (
                tid,
                0 if staff else None,
                0,
                None,
                None,
                when.strftime("%Y-%m-%d %H:%M:%S"),
                f"Reply {n + 1} on ticket {tid}.",
                None,
                1 if staff else None,
            )


def seed_tickets(db: SimDB, count: int, *, replies: int = 0, seed: int = 1) -> int:
    """Append ``count`` tickets (ids after the highest) with ``replies`` replies each; return the first id."""
    if count < 0 or replies < 0:
        raise ValueError("count and replies must not be negative")
    rng = random.Random(seed)
    with db.transaction():
        conn = db.conn
        first_id = int(conn.execute("SELECT COALESCE(MAX(ticketid), 0) FROM tbltickets").fetchone()[0]) + 1
        contacts = [(int(u), int(i)) for u, i in conn.execute("SELECT userid, id FROM tblcontacts WHERE active = 1")]
        departments = [int(d) for (d,) in conn.execute("SELECT departmentid FROM tbldepartments")]
        marks = ", ".join("?" for _ in TICKET_COLUMNS)
        conn.executemany(
            f"INSERT INTO tbltickets ({', '.join(TICKET_COLUMNS)}) VALUES ({marks})",
            _ticket_rows(first_id, count, contacts, departments, rng),
        )
        if replies:
            conn.executemany(
                f"INSERT INTO tblticket_replies ({', '.join(_REPLY_COLUMNS)}) VALUES ({', '.join('?' * 9)})",
                _reply_rows(first_id, count, replies, rng),
            )
    return first_id
