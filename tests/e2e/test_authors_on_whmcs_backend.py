"""Message authors in the non-WHMCS dialects in front of a WHMCS backend, whose staff replies
carry the ticket's client id (WHMCS's ``userid``) beside ``admin``: a staff author is never
shown as the client.  Clientexec (seed 000: a staff comment's ``authorId`` is the integer 0) and
ReadyDesk (seed 002: ``updated_by``/``updater_type`` of the last message)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.whmcs_backend import start_pair


async def _ticket_id(pair: Any, subject_start: str) -> str:
    _, tickets = await pair.direct("GetTickets", limitnum="100")
    return next(str(t["id"]) for t in tickets["tickets"]["ticket"] if t["subject"].startswith(subject_start))


async def test_staff_authors_are_not_the_client(tmp_path: Path) -> None:
    async for pair in start_pair(tmp_path):
        gw = pair.gateway
        invoice = await _ticket_id(pair, "Invoice #42")  # last answered by staff member Bob Builder
        async with gw.session.get(f"{gw.url}/api/ticket/{invoice}", headers={"X-API-KEY": "demo-secret"}) as r:
            assert r.status == 200
            comments = (await r.json())["comments"]
        staff = [c for c in comments if c["isAdmin"]]
        assert staff and all(c["authorId"] == 0 for c in staff), staff
        assert [c["authorName"] for c in staff] == ["Bob Builder"]
        customers = [c for c in comments if not c["isAdmin"]]
        assert customers and all(isinstance(c["authorId"], str) and c["authorId"] != "0" for c in customers)

        query = {"key": "demo-secret", "action": "get_tickets", "tid": "*", "format": "json"}
        async with gw.session.get(f"{gw.url}/API/default.aspx", params=query) as r:
            records = (await r.json(content_type=None))["tickets"]
        by_subject = {rec["subject"].replace("+", " ")[:10]: rec for rec in records}
        answered = next(rec for key, rec in by_subject.items() if key.startswith("Invoice"))
        assert (answered["updated_by"], answered["updater_type"]) == ("Bob+Builder", "TECH")
