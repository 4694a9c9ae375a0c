"""Source and target compared table by table, through the journal's id map: one copy of every
record, and every carried field equal."""

from __future__ import annotations

import html
import re
from collections import Counter
from typing import Any

from tests.migrate.conftest import Pair

NATIVE_TICKETS = {100, 101}
NATIVE_CUSTOMERS = {50}


def _contact_email(sim: Any, contact_id: int) -> str:
    rows = sim.rows("SELECT email FROM tblcontacts WHERE id = ?", (contact_id,))
    return str(rows[0][0]).casefold() if rows else ""


def assert_same_helpdesk(pair: Pair) -> None:
    src, tgt = pair.source, pair.target
    tickets = pair.journal("ticket")
    source_ids = {r[0] for r in src.rows("SELECT ticketid FROM tbltickets")}
    target_ids = {r[0] for r in tgt.rows("SELECT ticketid FROM tbltickets")} - NATIVE_TICKETS
    # exactly one copy of every ticket
    assert {int(s) for s in tickets} == source_ids
    assert sorted(int(t) for t in tickets.values()) == sorted(target_ids)
    cols = "subject, status, priority, department, date, message, contactid, name, email, lastreply"
    for sid, tid in tickets.items():
        (s,) = src.rows(f"SELECT {cols} FROM tbltickets WHERE ticketid = ?", (int(sid),))
        (t,) = tgt.rows(f"SELECT {cols} FROM tbltickets WHERE ticketid = ?", (int(tid),))
        assert s[:5] == t[:5], (sid, tid)
        assert s[9] == t[9], (sid, tid, "lastreply")  # the source's, not the date the last write left
        assert text(s[5]) == text(t[5]), (sid, tid)
        assert _contact_email(src, s[6]) == _contact_email(tgt, t[6]), (sid, tid)
        if not s[6]:
            assert (s[7], s[8]) == (t[7], t[8])
        assert _conversation(src, int(sid)) == _conversation(tgt, int(tid)), (sid, tid)
    customers = pair.journal("customer")
    source_customers = {r[0] for r in src.rows("SELECT userid FROM tblclients")}
    assert {int(s) for s in customers} == source_customers
    for sid, tid in customers.items():
        (s,) = src.rows("SELECT company, phonenumber, city FROM tblclients WHERE userid = ?", (int(sid),))
        (t,) = tgt.rows("SELECT company, phonenumber, city FROM tblclients WHERE userid = ?", (int(tid),))
        assert s == t
        assert _emails(src, int(sid)) == _emails(tgt, int(tid))
    target_customers = {r[0] for r in tgt.rows("SELECT userid FROM tblclients")} - NATIVE_CUSTOMERS
    assert sorted(int(t) for t in customers.values()) == sorted(target_customers)


def _emails(sim: Any, customer: int) -> Counter[str]:
    """The customer's active contacts (the module's API lists no inactive ones, so none can be carried)."""
    rows = sim.rows("SELECT email FROM tblcontacts WHERE userid = ? AND active = 1", (customer,))
    return Counter(str(r[0]).casefold() for r in rows)


def text(message: str) -> str:
    """A message as the canonical model reads it (Perfex stores customers' text as escaped HTML)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", message or "")).split())


def _conversation(sim: Any, ticket: int) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    replies = Counter(
        (text(r[0]), r[1])
        for r in sim.rows("SELECT message, date FROM tblticket_replies WHERE ticketid = ?", (ticket,))
    )
    # notes: their text (POST api/notes takes no date: the planned loss note-dates)
    notes = Counter(
        (text(r[0]),)
        for r in sim.rows("SELECT description FROM tblnotes WHERE rel_type = 'ticket' AND rel_id = ?", (ticket,))
    )
    return replies, notes


def assert_counts_add_up(report: dict[str, Any]) -> None:
    for kind, counts in report["kinds"].items():
        outcomes = sum(counts[o] for o in ("created", "updated", "unchanged", "skipped", "failed", "conflicts"))
        assert outcomes == counts["in_scope"], kind
    failed = sum(c["failed"] for c in report["kinds"].values())
    conflicts = sum(c["conflicts"] for c in report["kinds"].values())
    assert failed == len(report["failures"])
    assert conflicts == len(report["conflicts"])
