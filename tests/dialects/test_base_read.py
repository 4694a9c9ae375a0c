"""Bodies as clients really send them: compressed, or not what their headers say."""

from __future__ import annotations

import gzip
import json
import zlib

from tests.conftest import WHMCS_AUTH, Gateway

URL = "/includes/api.php"


async def _post(gw: Gateway, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with gw.session.post(gw.url + URL, data=body, headers=headers) as r:
        return r.status, await r.text()


async def test_a_gzip_form_body_is_read(gateway: Gateway) -> None:
    form = "&".join(
        f"{k}={v}" for k, v in {**WHMCS_AUTH, "action": "GetTicket", "ticketid": "1", "responsetype": "json"}.items()
    )
    status, text = await _post(
        gateway,
        gzip.compress(form.encode()),
        {"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"},
    )
    assert status == 200 and json.loads(text)["ticketid"] == "1"


async def test_a_deflate_json_body_is_read(gateway: Gateway) -> None:
    doc = {**WHMCS_AUTH, "action": "GetTicket", "ticketid": "2", "responsetype": "json"}
    status, text = await _post(
        gateway,
        zlib.compress(json.dumps(doc).encode()),
        {"Content-Type": "application/json", "Content-Encoding": "deflate"},
    )
    assert status == 200 and json.loads(text)["ticketid"] == "2"


async def test_a_compression_bomb_is_413_and_never_inflated_whole(gateway: Gateway) -> None:
    bomb = gzip.compress(b"a" * (20 << 20))  # 20 MiB of 'a' in ~20 KiB
    before = gateway.backend_calls
    status, _ = await _post(
        gateway, bomb, {"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"}
    )
    assert status == 413
    assert gateway.backend_calls == before


async def test_garbage_and_unknown_encodings_are_whmcs_errors(gateway: Gateway) -> None:
    for encoding in ("gzip", "deflate", "br", "compress"):
        status, text = await _post(
            gateway,
            b"action=GetTicket&responsetype=json&garbage",
            {"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": encoding},
        )
        assert status == 200, (encoding, text)
        assert text.startswith("result=error;") or json.loads(text)["result"] == "error", (encoding, text)
