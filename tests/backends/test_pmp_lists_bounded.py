"""A list page's bounded read (PMPLists._bounded) and a whole body served in parts (http.WholeBody)
against the ways they replace: parts copied out of the body, and a body grown part by part."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest

from gateway import context
from gateway.backends import http
from gateway.backends.pmp import wire as w
from gateway.backends.pmp_lists import _SPACE, MEMO_BODY_LIMIT, PMPLists
from gateway.mapping.loader import PACKAGED_ROOT, load_mappings

SIZES = [0, 1, 255, 65535, 65536, 65537, 200_000, MEMO_BODY_LIMIT, MEMO_BODY_LIMIT + 1, MEMO_BODY_LIMIT + 70_000]


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    token = context.begin(context.RequestContext(deadline=time.monotonic() + 30))
    yield
    context.end(token)


def _body(size: int, first: bytes = b"[") -> bytes:
    return (first + b"x" * size)[:size] if size else b""


async def _parts(body: http.Body, n: int) -> list[bytes]:
    out = []
    while chunk := await body.read(n):
        out.append(chunk)
    return out


@pytest.mark.parametrize("size", [0, 1, 10, 4096, 65536, 70_000])
@pytest.mark.parametrize("n", [-1, 1, 7, 4096, 65536, 1 << 20])
async def test_a_whole_body_is_served_in_the_parts_slicing_gives(size: int, n: int) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    got = await _parts(http.WholeBody(data), n)
    step = len(data) if n < 0 else n
    expected = [data[i : i + step] for i in range(0, len(data), step)] if data and step else []
    assert got == expected
    assert all(type(p) is bytes for p in got)
    assert await http.WholeBody(data).read(n) == (data if n < 0 else data[:n])


async def test_a_whole_body_of_another_kind_is_copied_out() -> None:
    data = bytearray(b"abc")
    part = await http.WholeBody(data).read()  # type: ignore[arg-type]
    assert part == b"abc" and type(part) is bytes


class Chunked:
    """A streaming transport answering ``body`` in parts of ``step`` bytes."""

    def __init__(self, body: bytes, step: int) -> None:
        self.body = body
        self.step = step

    async def __call__(self, method: str, url: str, **kw: Any) -> http.Reply:
        return http.Reply(200, {}, self.body)

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, url: str, *, headers: Mapping[str, str], timeout: float
    ) -> AsyncIterator[http.StreamReply]:
        yield http.StreamReply(200, {}, _Stepped(self.body, self.step))


class _Stepped:
    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.at = data, step, 0

    async def read(self, n: int = -1) -> bytes:
        n = len(self.data) if n < 0 else min(n, self.step)
        out = self.data[self.at : self.at + n]
        self.at += len(out)
        return out


async def _grown(reply: http.StreamReply) -> http.Reply | None:
    """The read as it was written before: the body grown part by part."""
    body = b""
    while len(body) <= MEMO_BODY_LIMIT:
        chunk = await reply.body.read(65536)
        if not chunk:
            return http.Reply(reply.status, reply.headers, body)
        body += chunk
    if body.lstrip(_SPACE)[:1] == b"[":
        return None
    return http.Reply(reply.status, reply.headers, body + await reply.body.read())


def _same(row: Any) -> Any:
    return row


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("first", [b"[", b"{", b" "])
@pytest.mark.parametrize("step", [65536, 1000, 1 << 20])
async def test_a_bounded_read_equals_the_body_grown_part_by_part(size: int, first: bytes, step: int) -> None:
    body = _body(size, first)
    mappings = load_mappings(roots=[PACKAGED_ROOT])["pmp"]
    for transport in (Chunked(body, step), Chunked(body, step).__call__):
        lists = PMPLists(w.Wire("http://module.invalid/", "tok", transport), mappings, _same)
        got = await lists._bounded("api/tickets")
        async with w.Wire("http://module.invalid/", "tok", transport).stream("api/tickets") as reply:
            expected = await _grown(reply)
        assert (got is None) == (expected is None)
        if got is not None and expected is not None:
            assert (got.status, got.body) == (expected.status, expected.body)


class DictLike(dict[str, Any]):
    pass


@pytest.mark.parametrize(
    "data",
    [[], [{}], [{"a": 1}, {"b": 2}], [{}, []], [None], [DictLike()], [{}, "x", {}], [1], {"data": [{}, 3]}],
)
def test_a_list_answer_is_taken_when_every_row_is_a_dict(data: Any) -> None:
    from gateway.errors import BackendUnavailable

    lists = PMPLists(
        w.Wire("http://module.invalid/", "tok", Chunked(b"", 1)), load_mappings(roots=[PACKAGED_ROOT])["pmp"], _same
    )
    rows = data if isinstance(data, list) else data["data"]
    if isinstance(data, list) and not all(isinstance(r, dict) for r in data):
        with pytest.raises(BackendUnavailable):
            lists._as_page(data)
        return
    page = lists._as_page(data)
    assert page.rows == [r for r in rows if isinstance(r, dict)]
