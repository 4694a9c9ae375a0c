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
