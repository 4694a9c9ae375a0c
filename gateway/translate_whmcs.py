"""``gateway translate --backend-kind whmcs``: the same two views with WHMCS as the backend.

    --request   the WHMCS API calls the gateway would make (action and parameters, the
                credential redacted), made against a throw-away embedded WHMCS simulator;
    --response  WHMCS answers in, the exact bytes the client would get.  The document is
                one WHMCS answer (used for every read) or an object keyed by action name
                (``{"GetTicket": {...}, "GetSupportDepartments": {...}}``); writes succeed.

Only the transport under the WHMCS adapter differs from the server.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from gateway.backends import http
from gateway.backends.whmcs import WhmcsBackend
from gateway.backends.whmcs.api import WhmcsApi
from gateway.mapping.loader import MappingSet
from gateway.store import MemoryStore

REDACTED = "[redacted]"
_SECRETS = frozenset({"identifier", "secret", "accesskey", "username", "password", "password2"})
_EMPTY: dict[str, Any] = {"result": "success", "totalresults": 0, "startnumber": 0, "numreturned": 0}
_WRITTEN = {"result": "success", "id": "1", "tid": "1", "c": "replay"} | {
    "ticketid": "1",
    "clientid": "1",
    "contactid": "1",
}
_WRITES = frozenset(
    {"openticket", "updateticket", "deleteticket", "addticketreply", "addticketnote", "addclient"}
    | {"updateclient", "deleteclient", "addcontact"}
)


def replay_backend(document: Any, mappings: MappingSet) -> WhmcsBackend:
    """A WHMCS adapter whose every answer comes from ``document`` (no network)."""
    backend = WhmcsBackend("http://replay.invalid/", "replay:replay", mappings["whmcs"], MemoryStore(), session=None)  # type: ignore[arg-type]
    api = backend.api

    async def post(action: str, params: Mapping[str, Any] | None, fmt: str, reserve: float) -> http.Reply:
        answer = _answer_for(document, action)
        return http.Reply(200, {"Content-Type": "application/json"}, json.dumps(answer).encode())

    api._post = post  # type: ignore[method-assign]
    return backend


def _answer_for(document: Any, action: str) -> Any:
    if action.lower() in _WRITES:
        return _WRITTEN
    if isinstance(document, dict) and "result" not in document:
        by_name = {str(k).lower(): v for k, v in document.items()}
        return by_name.get(action.lower(), _EMPTY)
    return document


class _Recording(WhmcsApi):
    calls: list[dict[str, Any]]

    async def _post(self, action: str, params: Mapping[str, Any] | None, fmt: str, reserve: float) -> http.Reply:
        reply = await super()._post(action, params, fmt, reserve)
        shown = {k: (REDACTED if k in _SECRETS else str(v)) for k, v in (params or {}).items() if v is not None}
        self.calls.append({"action": action, "params": shown, "status": reply.status})
        return reply


async def record(mappings: MappingSet, run: Any) -> bytes:
    """Run ``run(backend)`` against a throw-away WHMCS simulator; the calls it made, as JSON."""
    try:
        from gateway import whmcs_sim  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        raise SystemExit("gateway translate: the embedded WHMCS simulator is not available") from None
    with tempfile.TemporaryDirectory() as tmp:
        runner, url = await whmcs_sim.start_simulator(
            db_path=Path(tmp) / "sim.sqlite3", identifier="translate", secret="translate"
        )
        try:
            async with aiohttp.ClientSession() as session:
                backend = WhmcsBackend(url, "translate:translate", mappings["whmcs"], MemoryStore(), session=session)
                api = backend.api
                recorder = _Recording.__new__(_Recording)
                recorder.__dict__.update(api.__dict__)
                recorder.calls = []
                backend.api = recorder
                await run(backend)
        finally:
            await runner.cleanup()
    return json.dumps(recorder.calls, indent=2, ensure_ascii=False).encode() + b"\n"
