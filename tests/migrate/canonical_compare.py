"""Source and target compared through the adapters (after translation): vendor-neutral."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import aiohttp

from gateway.canonical import Ticket
from gateway.mapping.loader import ZoneConfig, load_mappings
from gateway.migrate.command import _build
from gateway.migrate.config import Side
from gateway.store import MemoryStore
from tests.migrate.compare import text
from tests.migrate.conftest import KindPair


def _ticket_view(t: Ticket, department_names: dict[int, str]) -> dict[str, Any]:
    return {
        "subject": t.subject,
        "status": str(t.status),
        "priority": str(t.priority),
        "department": department_names.get(t.department.id if t.department else 0, ""),
        "created": t.created_at.replace(second=0) if t.created_at else None,
        "last_reply": _last_activity(t),
        "message": text(t.message),
        "replies": sorted(
            (text(r.message), r.created_at.replace(second=0) if r.created_at else None) for r in t.replies[1:]
        ),
        "notes": sorted(text(n.message) for n in t.notes),
        "requester": (t.requester.email or "").casefold(),
    }


def _last_activity(t: Ticket) -> datetime | None:
    """The last-reply date after translation: a vendor that keeps none for a ticket without replies
    (PMP) and one that keeps the opening date (WHMCS) say the same thing."""
    dates = [r.created_at for r in t.replies[1:] if r.created_at is not None]
    last = t.last_reply_at or (max(dates) if dates else None) or t.created_at
    return last.replace(second=0) if last else None


async def _views(pair: KindPair) -> tuple[dict[str, Any], dict[str, Any]]:
    maps = load_mappings(None, ZoneConfig())
    store = MemoryStore()
    async with aiohttp.ClientSession() as session:
        src = _build(Side(kind=pair.source_kind, url=pair.source.url, token=pair.source.token), maps, store, session)
        tgt = _build(Side(kind=pair.target_kind, url=pair.target.url, token=pair.target.token), maps, store, session)
        await src.discover()
        await tgt.discover()
        src_depts = {d.id: d.name for d in await src.list_departments()}
        tgt_depts = {d.id: d.name for d in await tgt.list_departments()}
        left: dict[str, Any] = {}
        right: dict[str, Any] = {}
        for source_id, target_id in pair.journal("ticket").items():
            left[source_id] = _ticket_view(await src.get_ticket(int(source_id)), src_depts)
            right[source_id] = _ticket_view(await tgt.get_ticket(int(target_id)), tgt_depts)
        await src.close()
        await tgt.close()
    return left, right


def assert_same_tickets(pair: KindPair, expected: int) -> None:
    left, right = asyncio.run(_views(pair))
    assert len(left) == expected
    for key in left:
        assert left[key] == right[key], key
