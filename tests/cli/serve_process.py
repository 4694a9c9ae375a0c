"""``gateway serve`` as a real process on a free loopback port, its output read as it comes."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_gateway(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """A gateway command that is expected to end by itself."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**_clean_env(), **(env or {})},
    )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROMETHEUS_MULTIPROC"))}


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    out: list[str] = field(default_factory=list)  # every stdout line so far
    err: list[str] = field(default_factory=list)
    _lines: queue.Queue[str] = field(default_factory=queue.Queue)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def events(self) -> list[dict[str, Any]]:
        return [rec for rec in map(json.loads, list(self.out)) if "event" in rec]

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        """The next stdout JSON line that ``match`` accepts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            record: dict[str, Any] = json.loads(line)
            if match(record):
                return record
        raise AssertionError("gateway output never matched:\n" + "".join(self.out) + "".join(self.err))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        time.sleep(0.2)  # let the reader threads drain the pipes
        return code

    def all_output(self) -> str:
        return "".join(self.out) + "".join(self.err)


def _pump(stream: Any, sink: list[str], lines: queue.Queue[str] | None) -> None:
    for line in stream:
        sink.append(line)
        if lines is not None:
            lines.put(line)


def start_gateway(tmp_path: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None) -> Served:
    """``gateway serve`` with ``args``; returns once its banner says it listens."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--data-dir", str(tmp_path / "data"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_clean_env(), **(env or {})},
    )
    served = Served(proc, port)
    threading.Thread(target=_pump, args=(proc.stdout, served.out, served._lines), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, served.err, None), daemon=True).start()
    try:
        served.wait_for(lambda rec: rec.get("event") == "listening", timeout=60)
    except AssertionError:
        proc.kill()
        raise
    return served
