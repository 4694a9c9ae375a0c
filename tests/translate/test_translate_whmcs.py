"""``gateway translate --backend-kind whmcs --response``: WHMCS answers in, the client's bytes out."""

from __future__ import annotations

import json
import subprocess
import sys

GET_TICKET = {
    "result": "success", "ticketid": "7", "tid": "481516", "c": "Ab12Cd34", "deptid": "2", "deptname": "Support",
    "userid": "0", "contactid": "0", "name": "Gus", "email": "gus@x.example", "requestor_type": "Guest", "cc": "",
    "date": "2024-01-02 03:04:05", "subject": "Lost", "status": "Customer-Reply", "priority": "High", "admin": "",
    "lastreply": "2024-01-02 03:04:05", "flag": "0", "service": "",
    "replies": {"reply": [{"replyid": "0", "userid": "0", "contactid": "0", "name": "Gus", "email": "gus@x.example",
                           "date": "2024-01-02 03:04:05", "message": "Help", "attachment": "", "admin": ""}]},
    "notes": {"note": []},
}  # fmt: skip


def translate(*args: str, document: object) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "translate", "--backend-kind", "whmcs", "--response", *args, "-"],
        input=json.dumps(document).encode(),
        capture_output=True,
        check=True,
    )
    return done.stdout


def test_a_whmcs_client_gets_whmcs_own_answer() -> None:
    out = translate("--dialect", "whmcs", "--action", "GetTicket", "--format", "json", document=GET_TICKET)
    assert json.loads(out) == GET_TICKET


def test_another_dialect_gets_its_own_shape_of_the_whmcs_answer() -> None:
    out = translate("--dialect", "clientexec", "--action", "GetTicket", "--params", "ticket=7", document=GET_TICKET)
    meta = json.loads(out)["metadata"]
    assert meta["subject"] == "Lost" and meta["priority"] == "1"  # Clientexec: 1 = High
