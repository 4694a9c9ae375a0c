"""The JSON array stream reader: same elements as one decode, however the bytes are cut and spaced."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from gateway.backends import jsonstream
from gateway.backends.http import WholeBody


class Dribble:
    """A body that answers ``step`` bytes per read (a slow network)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step, self._at = data, step, 0

    async def read(self, n: int = -1) -> bytes:
        size = self._step if n < 0 else min(n, self._step)
        out = self._data[self._at : self._at + size]
        self._at += len(out)
        return out


async def decode(data: bytes, *, step: int = 1 << 16, head: bytes = b"") -> list[Any]:
    out: list[Any] = []
    async for batch in jsonstream.array_batches(Dribble(data, step), head=head):
        out.extend(batch)
    return out


def rows(n: int) -> list[dict[str, Any]]:
    # values holding the very bytes a cut looks for, inside strings
    tricky = ['}, {"x": 1', '},{"', "} ,\n{", '\\"},{\\"', "plain"]
    return [{"ticketid": str(i), "message": tricky[i % len(tricky)] * (i % 7), "n": i} for i in range(n)]


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "BATCH_BYTES", 2048)  # many cuts on small data


async def test_compact_array_equals_one_decode() -> None:
    data = orjson.dumps(rows(500))
    assert await decode(data) == orjson.loads(data)


async def test_pretty_array_and_tiny_reads() -> None:
    data = json.dumps(rows(300), indent=2).encode()
    assert await decode(b"\xef\xbb\xbf \n" + data + b"\n", step=7) == json.loads(data)


async def test_head_given_apart() -> None:
    data = orjson.dumps(rows(50))
    assert await decode(data[5:], head=data[:5]) == orjson.loads(data)


async def test_batches_are_bounded() -> None:
    data = orjson.dumps(rows(2000))
    sizes = [len(b) async for b in jsonstream.array_batches(Dribble(data, 1000))]
    assert len(sizes) > 5 and sum(sizes) == 2000
    # a transport that cannot stream: the whole answer, served in parts
    assert [r async for b in jsonstream.array_batches(WholeBody(data)) for r in b] == orjson.loads(data)


async def test_empty_and_scalars() -> None:
    assert await decode(b"[]") == []
    assert await decode(b"[1, 2, 3]") == [1, 2, 3]


@pytest.mark.parametrize("data", [b"", b'{"data": []}', b"[{}, {}", b'[{"a": 1}] x', b"nonsense"])
async def test_not_an_array_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        await decode(data)


async def test_a_huge_element_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "MAX_PENDING", 10_000)
    with pytest.raises(jsonstream.NotAnArray):
        await decode(orjson.dumps([{"message": "x" * 50_000}, {"a": 1}]))
