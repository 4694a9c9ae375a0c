"""A large JSON array read in parts: its elements a batch at a time, in bounded memory.

A 2.x PMP installation answers a list route with its whole table as one JSON
array (about 2.4 KB a ticket: 49 MB at 20,000 tickets).  Decoding it whole
would hold every row at once; an event parser (ijson) holds one row but
builds it value by value.  Here the bytes are cut between two elements and
each cut is decoded by orjson, so only about :data:`BATCH_BYTES` of rows are
alive at any time, and decoding runs at orjson's speed.

Where to cut: between the elements of an array of objects stands ``}``, ``,``
and ``{`` (maybe with blanks).  Those bytes can also occur inside a string
value, so a cut is only a candidate: the part up to it must decode as an
array on its own.  The part starts at a true element boundary, so it decodes
only if the cut is a true boundary too (a cut inside a string leaves that
string unterminated); a failed candidate waits for more bytes and a later cut.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway.backends.http import Body

BATCH_BYTES = 1 << 18  # decode about this much at a time (a few ms of the loop)
READ_BYTES = 1 << 16
#: An element longer than this (no cut decodes) is refused rather than buffered without end.
MAX_PENDING = 16 << 20
_BLANK = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_CUT = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*\{")


class NotAnArray(ValueError):
    """The body is not one JSON array (or an element is beyond :data:`MAX_PENDING`)."""


async def array_batches(body: Body, *, head: bytes = b"") -> AsyncIterator[list[Any]]:
    """The elements of the JSON array ``head`` + ``body``, in order, a list of them at a time.

    Raises :class:`NotAnArray` for any other JSON or broken JSON (``orjson.JSONDecodeError``
    is a ValueError too)."""
    buf = bytearray(head)
    started = False
    ended = False
    retry_at = BATCH_BYTES  # after a failed cut, the next try waits for twice the bytes: linear work
    while not ended:
        chunk = await body.read(READ_BYTES)
        ended = not chunk
        buf += chunk
        if not started:
            text = bytes(buf).lstrip(_BLANK)
            text = text.removeprefix(_BOM).lstrip(_BLANK)
            if not text and not ended:
                continue
            if text[:1] != b"[":
                raise NotAnArray("the answer is not a JSON array")
            buf = bytearray(text[1:])
            started = True
        if ended:
            yield _decode_last(bytes(buf))
            return
        if len(buf) < retry_at:
            continue
        if len(buf) > MAX_PENDING:
            raise NotAnArray("an element of the array is too large")
        found = _decode_upto_cut(buf)
        if found is None:  # no cut yet, or only ones inside strings: wait for a later one
            retry_at = 2 * len(buf)
            continue
        items, cut = found
        retry_at = BATCH_BYTES
        if items:
            yield items
        del buf[: _next_element(buf, cut)]


def _decode_upto_cut(buf: bytearray, tries: int = 3) -> tuple[list[Any], int] | None:
    """The elements before the last cut that decodes (of the last ``tries`` candidates), and the cut."""
    end = len(buf)
    for _ in range(tries):
        cut = _last_cut(buf, end)
        if cut < 0:
            return None
        try:
            return orjson.loads(b"[" + bytes(buf[: cut + 1]) + b"]"), cut
        except orjson.JSONDecodeError:
            end = cut  # that cut was inside a string: the one before it
    return None


def _last_cut(buf: bytearray, end: int) -> int:
    """Position of the ``}`` of the last candidate cut before ``end``, -1 when none."""
    compact = buf.rfind(b"},{", 0, end)
    # blanks between elements (a pretty-printed answer): look in the newest bytes only
    tail = max(0, end - 2 * READ_BYTES, compact)
    spaced = -1
    for m in _CUT.finditer(buf, tail, end):
        spaced = m.start()
    return max(compact, spaced)


def _next_element(buf: bytearray, cut: int) -> int:
    """Where the element after the cut at ``cut`` starts (its ``{``)."""
    return buf.index(b"{", cut + 1)


def _decode_last(rest: bytes) -> list[Any]:
    text = rest.rstrip(_BLANK)
    if text[-1:] != b"]":
        raise NotAnArray("the JSON array is not terminated")
    items = orjson.loads(b"[" + text)
    if not isinstance(items, list):
        raise NotAnArray("the answer is not a JSON array")
    return items
