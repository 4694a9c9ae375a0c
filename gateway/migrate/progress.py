"""Progress on standard error: tqdm's bar on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import time
from typing import Never, TextIO

from tqdm import tqdm

PLAIN_EVERY = 5.0  # seconds between plain lines (logs, pipes, CI)


class Progress:
    def __init__(self, stream: TextIO, *, interval: float = PLAIN_EVERY) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._bar: tqdm[Never] | None = None
        self._kind = ""
        self._interval = interval
        self._last = 0.0
        self._started = time.monotonic()

    def update(self, kind: str, done: int, total: int) -> None:
        if kind != self._kind:
            self._switch(kind, total)
        if self._bar is not None:
            self._bar.n = done
            self._bar.refresh()
            return
        now = time.monotonic()
        if now - self._last >= self._interval or done == total:
            self._last = now
            rate = done / max(now - self._started, 1e-6)
            eta = (total - done) / rate if rate > 0 else 0.0
            self._stream.write(f"migrate: {kind} {done}/{total} ({rate:.1f}/s, ETA {eta:.0f}s)\n")
            self._stream.flush()

    def _switch(self, kind: str, total: int) -> None:
        self.close()
        self._kind = kind
        self._started = time.monotonic()
        self._last = 0.0
        if self._tty:
            self._bar = tqdm(total=total, desc=kind, unit=" records", file=self._stream, dynamic_ncols=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
