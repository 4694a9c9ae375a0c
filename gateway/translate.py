"""``gateway translate``: see a translation before deploying it.

    --request   a client's raw body or query string in; out, the backend calls the
                gateway would make for it (JSON, the token redacted), made against a
                throw-away copy of the embedded simulator's demo data;
    --response  the backend's JSON in; out, the exact bytes the client would get.
                No network: the backend's answers are replayed from the document.

Both run the same mappings, dialect and service the server runs; only the
transport under the PMP adapter differs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import json as jsonlib
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp

from gateway import pipeline
from gateway.app import dialect_classes, zone_config
from gateway.backends import http
from gateway.backends.pmp import AiohttpTransport, Exchange, PMPBackend, RecordingTransport
from gateway.dialects.base import Dialect, Inbound
from gateway.mapping.loader import MappingSet, load_mappings
from gateway.service import Service
from gateway.settings import load_settings
from gateway.store import MemoryStore

REDACTED = "[redacted]"


class ReplayTransport:
    """Answers every read from one document; writes succeed with ``record_id``."""

    def __init__(self, document: Any) -> None:
        self._document = document

    async def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        form: Mapping[str, str] | None = None,
        json: Any = None,
        timeout: float,
    ) -> http.Reply:
        doc = self._document
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        if method != "GET":
            answer: Any = {"status": True, "message": "ok", "record_id": _first_id(doc)}
        elif not path.startswith("api/tickets"):
            answer = {"status": False, "message": "No data were found"}  # discovery: a 2.x module
        elif isinstance(doc, list):
            answer = (
                doc if _is_list_route(path) else (doc[0] if doc else {"status": False, "message": "No data were found"})
            )
        else:
            answer = [doc] if _is_list_route(path) else doc
        status = 404 if isinstance(answer, dict) and answer.get("status") is False else 200
        return http.Reply(status, {"Content-Type": "application/json"}, jsonlib.dumps(answer).encode())


def _is_list_route(path: str) -> bool:
    parts = [p for p in path.split("?")[0].split("/") if p]
    return len(parts) == 2 or (len(parts) >= 3 and parts[-2] == "search")


def _first_id(doc: Any) -> int:
    row = doc[0] if isinstance(doc, list) and doc else doc
    if isinstance(row, dict):
        for key in ("ticketid", "userid", "id"):
            if str(row.get(key, "")).isdigit():
                return int(row[key])
    return 1


def _params(raw: str) -> dict[str, Any]:
    text = raw.strip()
    if text.startswith("{"):
        value = json.loads(text)
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    return dict(parse_qsl(text.lstrip("?"), keep_blank_values=True))


async def _run(dialect: Dialect, service: Service, inbound: Inbound) -> bytes:
    response = await pipeline.respond(dialect, service, inbound)
    body = response.body
    return body if isinstance(body, bytes) else b""


async def _translate(ns: argparse.Namespace, raw: str) -> bytes:
    settings = load_settings(ns.config, {"mappings": ns.mappings})
    mappings = load_mappings(settings.mappings, zone_config(settings))
    classes = dialect_classes()
    if ns.dialect not in classes:
        raise SystemExit(f"gateway translate: unknown dialect {ns.dialect!r} (have: {', '.join(classes)})")
    cls = classes[ns.dialect]
    dialect = cls(settings.dialect(ns.dialect), mappings[cls.vendor])
    if getattr(ns, "backend_kind", "pmp") == "whmcs":
        return await _translate_whmcs(ns, raw, dialect, mappings)
    if ns.response:
        document = json.loads(raw)
        backend = PMPBackend(
            "http://replay.invalid/", REDACTED, mappings["pmp"], MemoryStore(), transport=ReplayTransport(document)
        )
        ident = str(_first_id(document))
        params = {"ticketid": ident, "ticket": ident, "clientid": ident, "tid": ident}
        params.update(_params(ns.params or ""))
        inbound = Inbound(action=ns.action, params=params, fmt=ns.fmt or dialect.format_for({}))
        return await _run(dialect, Service(backend, MemoryStore()), inbound)
    return await _record(dialect, mappings, ns, _params(raw))


async def _record(dialect: Dialect, mappings: MappingSet, ns: argparse.Namespace, params: dict[str, Any]) -> bytes:
    from gateway import pmp_sim

    with tempfile.TemporaryDirectory() as tmp:
        runner, url = await pmp_sim.start_simulator(db_path=Path(tmp) / "sim.sqlite3", token="translate")
        try:
            async with aiohttp.ClientSession() as session:
                recorder = RecordingTransport(AiohttpTransport(session))
                backend = PMPBackend(url, "translate", mappings["pmp"], MemoryStore(), transport=recorder)
                await backend.discover()
                recorder.calls.clear()  # what the installation offers is not part of the translation
                inbound = Inbound(action=ns.action, params=params, fmt=ns.fmt or "json")
                await _run(dialect, Service(backend, MemoryStore()), inbound)
        finally:
            await runner.cleanup()
    calls = [_call(url, exchange) for exchange in recorder.calls]
    return jsonlib.dumps(calls, indent=2, ensure_ascii=False).encode() + b"\n"


def _call(base: str, exchange: Exchange) -> dict[str, Any]:
    """One backend call as ``translate --request`` prints it (the token redacted)."""
    call: dict[str, Any] = {
        "method": exchange.method,
        "path": exchange.url[len(base.rstrip("/")) + 1 :]
        if exchange.url.startswith(base.rstrip("/"))
        else exchange.url,
        "headers": {"authtoken": REDACTED, **{k: v for k, v in exchange.headers.items() if k == "Idempotency-Key"}},
    }
    if "Idempotency-Key" in exchange.headers:
        call["headers"]["Idempotency-Key"] = "[a new key per create]"
    if exchange.form is not None:
        call["form"] = exchange.form
    if exchange.json is not None:
        call["json"] = exchange.json
    call["status"] = exchange.status
    return call


async def _translate_whmcs(ns: argparse.Namespace, raw: str, dialect: Dialect, mappings: MappingSet) -> bytes:
    from gateway import translate_whmcs

    if ns.response:
        backend = translate_whmcs.replay_backend(json.loads(raw), mappings)
        params = {"ticketid": "1", "ticket": "1", "clientid": "1", "tid": "1", **_params(ns.params or "")}
        inbound = Inbound(action=ns.action, params=params, fmt=ns.fmt or dialect.format_for({}))
        return await _run(dialect, Service(backend, MemoryStore()), inbound)
    inbound = Inbound(action=ns.action, params=_params(raw), fmt=ns.fmt or "json")

    async def run(backend: Any) -> None:
        await _run(dialect, Service(backend, MemoryStore()), inbound)

    return await translate_whmcs.record(mappings, run)


def translate(ns: argparse.Namespace) -> int:
    raw = sys.stdin.read() if ns.file == "-" else Path(ns.file).read_text(encoding="utf-8")
    out = asyncio.run(_translate(ns, raw))
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    return 0
