"""gateway.formats.SuccessBytes: a result body seen again (the same object) is not encoded again."""

from __future__ import annotations

from gateway.formats import SuccessBytes, json_bytes


def test_the_same_body_is_encoded_once_an_equal_new_one_again() -> None:
    encoded: list[object] = []

    def encode(body: dict[str, str]) -> bytes:
        encoded.append(body)
        return json_bytes({"result": "success", **body})

    cache = SuccessBytes(encode, size=2)
    body = {"id": "1"}
    assert cache.get(body) == b'{"result":"success","id":"1"}'
    assert cache.get(body) is cache.get(body) and len(encoded) == 1
    assert cache.get({"id": "1"}) == cache.get(body) and len(encoded) == 2
    for i in range(5):
        cache.get({"id": str(i)})
    assert len(cache._cache) == 2  # bounded


def test_the_oldest_body_is_the_one_forgotten() -> None:
    encoded: list[object] = []

    def encode(body: dict[str, str]) -> bytes:
        encoded.append(body)
        return json_bytes(body)

    cache = SuccessBytes(encode, size=2)
    a, b, c = {"id": "a"}, {"id": "b"}, {"id": "c"}
    for body in (a, b, c, b, c):  # c pushes a out; b and c are kept
        cache.get(body)
    assert encoded == [a, b, c]
    cache.get(a)  # a again: encoded again, pushing b (now the oldest) out
    cache.get(c)
    assert encoded == [a, b, c, a] and set(cache._cache) == {id(a), id(c)}
