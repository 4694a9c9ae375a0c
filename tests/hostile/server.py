"""A real gateway (and its embedded PMP simulator) in a background thread, driven over raw sockets.

The hostile suite sends bytes no polite HTTP client would produce (raw 0xFF in the
request line, broken multipart, CR/LF in values, 2 MB bodies), so it talks to the
gateway through a plain socket and reads the answer with :mod:`http.client`.  The
gateway runs in a background thread with its own event loop, which lets the
Hypothesis tests stay synchronous and share one server across all their examples.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import logging
import socket
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.app import STATE, create_app, shape_protocol_error
from gateway.pmp_sim import STATS_KEY
from gateway.server import GatewayRunner
from gateway.settings import ClientCredential, Settings

HOST = "127.0.0.1"


class _Counter:
    sent = 0


CASES = _Counter()  # hostile requests sent in this session (the closing note)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Snapshot:
    requests: int
    writes: int
    tickets: int
    customers: int
    contacts: int
    digest: str
    crashes: int


class CrashLog(logging.Handler):
    """Unhandled exceptions the gateway (or its simulator) logged, however the client was answered.

    A dialect may wrap an unexpected exception in its own error envelope (a 200
    ``Internal gateway error``, a 503 "backend unavailable"); the log still says
    it was a crash.  Malformed HTTP that aiohttp's parser refuses is not counted.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is None or record.exc_info[1] is None:
            return
        exc = record.exc_info[1]
        if record.name.startswith("aiohttp") and _is_protocol_error(exc):
            return  # the parser refused the request before any handler ran (test_hostile_protocol)
        if record.name.startswith(("gateway", "aiohttp")):
            self.records.append(f"{record.name}: {record.getMessage()}: {type(exc).__name__}: {exc}"[:500])


def _is_protocol_error(exc: BaseException) -> bool:
    from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

    return isinstance(exc, BadHttpMessage | LineTooLong)


class HostileGateway:
    """A gateway on a loopback port, in a thread; raw requests; simulator bookkeeping."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-gateway", daemon=True)
        self._runner: web.AppRunner | None = None
        self.crash_log = CrashLog()

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        logging.getLogger().addHandler(self.crash_log)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)

    async def _start(self) -> None:
        settings = Settings(
            data_dir=self.data_dir,
            access_log=False,
            clients=(ClientCredential(identifier="ops", secret="ops-secret"),),
        )
        app = create_app(settings)
        self._runner = GatewayRunner(app, access_log=None, shape_error=shape_protocol_error(app))
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        logging.getLogger().removeHandler(self.crash_log)

    @property
    def app(self) -> web.Application:
        assert self._runner is not None
        return self._runner.app

    # -- bookkeeping ------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        runner = self.app[STATE].sim_runner
        assert runner is not None
        stats = runner.app[STATS_KEY]
        db = self.data_dir / "pmp-sim.sqlite3"
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            counts = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in _COUNTED]
            digest = hashlib.sha256()
            for table in _FINGERPRINTED:
                for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid"):
                    digest.update(repr(row).encode())
        finally:
            conn.close()
        tickets, customers, contacts = counts
        return Snapshot(
            stats.requests, stats.writes, tickets, customers, contacts, digest.hexdigest(), len(self.crash_log.records)
        )

    # -- requests ------------------------------------------------------------------

    def raw(self, data: bytes, *, timeout: float = 20.0) -> Reply:
        """Send ``data`` verbatim on a fresh connection; read one HTTP answer."""
        with socket.create_connection((HOST, self.port), timeout=timeout) as sock:
            # the server may answer (413) and close before it read everything
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(data)
            resp = http.client.HTTPResponse(sock)
            resp.begin()
            body = resp.read()
            headers = {k.lower(): v for k, v in resp.getheaders()}
            return Reply(resp.status, headers, body)

    def request(
        self,
        method: str,
        target: str | bytes,
        body: bytes | str = b"",
        headers: Mapping[str, str | bytes] | None = None,
        *,
        content_length: int | None = None,
    ) -> Reply:
        """One HTTP/1.1 request; ``target`` and header values go on the wire as given."""
        CASES.sent += 1
        if isinstance(body, str):
            body = body.encode()
        tgt = target.encode("latin-1") if isinstance(target, str) else target
        lines = [method.encode() + b" " + tgt + b" HTTP/1.1", b"Host: " + f"{HOST}:{self.port}".encode()]
        hdrs: dict[str, Any] = dict(headers or {})
        for name, value in hdrs.items():
            raw_value = value.encode("latin-1") if isinstance(value, str) else value
            lines.append(name.encode() + b": " + raw_value)
        if body or method in ("POST", "PUT", "PATCH"):
            length = len(body) if content_length is None else content_length
            lines.append(b"Content-Length: " + str(length).encode())
        lines.append(b"Connection: close")
        return self.raw(b"\r\n".join(lines) + b"\r\n\r\n" + body)


_COUNTED = ("tbltickets", "tblclients", "tblcontacts")
_FINGERPRINTED = ("tbltickets", "tblclients", "tblcontacts", "tbltaggables", "tbltags")
