"""WHMCS's JSON success envelope: a many-membered body spliced after ``"result":"success"``
against the envelope dict encoded whole (``json_bytes({"result": "success", **body})``)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson
import pytest

from gateway import formats
from gateway.dialects.whmcs import SPLICE_MIN_MEMBERS, _json_success


def _whole(body: Any) -> bytes | type[BaseException]:
    try:
        return formats.json_bytes({"result": "success", **body})
    except (TypeError, orjson.JSONEncodeError) as exc:
        return type(exc)


def _spliced(body: Any) -> bytes | type[BaseException]:
    try:
        return _json_success(body)
    except (TypeError, orjson.JSONEncodeError) as exc:
        return type(exc)


def _members(count: int, **extra: Any) -> dict[str, Any]:
    return {**{f"k{i}": f"v{i}" for i in range(count)}, **extra}


BODIES: list[Any] = [
    {"a": 1},
    _members(SPLICE_MIN_MEMBERS - 1),
    _members(SPLICE_MIN_MEMBERS),
    _members(40),
    _members(20, result="mine"),  # its own result: the envelope's member, its value
    {"result": "x", **_members(20)},
    _members(12, nested={"a": [1, {"b": None}]}, text='caf\u00e9 \U0001f600 "q" \\ </x>', empty=""),
    _members(12, flag=True, n=None, f=1.5, big=2**60),
    {**_members(12), "": "empty key"},
    OrderedDict(_members(12)),  # a dict subclass: the whole dict encoded
    _members(12, bad=float("nan")),
]


@pytest.mark.parametrize("body", BODIES)
def test_the_spliced_envelope_is_the_whole_one(body: Any) -> None:
    assert _spliced(body) == _whole(body)


def test_a_key_orjson_refuses_is_refused_alike() -> None:
    body: dict[Any, Any] = {**_members(12), 3: "int key"}
    assert _spliced(body) == _whole(body)
    assert _whole(body) is TypeError or isinstance(_whole(body), type)


def test_the_envelope_member_comes_first() -> None:
    out = _json_success(_members(SPLICE_MIN_MEMBERS))
    assert isinstance(out, bytes)
    assert out.startswith(b'{"result":"success","k0":"v0",')
    assert list(orjson.loads(out)) == ["result", *_members(SPLICE_MIN_MEMBERS)]
