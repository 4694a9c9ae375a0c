"""ReadyDesk golden cases (tests/golden/readydesk/<case>/) replayed against the embedded simulator.

Each case holds ``request.json`` (method, path, query or form, optional ``mask`` and
``expect``) and the exact ``response.xml|json|txt``.  The shared harness
(tests/golden/test_golden.py) replays the same cases against the recorded backend
answers; this test runs them end to end on the simulator's demo data instead, so a
change in the backend adapter cannot hide behind a stale recording.
Re-record a case with ``python -m tests.golden.harness record tests/golden/readydesk/<case>``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.settings import BackendSettings, DialectSettings, Settings
from tests.conftest import start_gateway
from tests.golden.harness import CLIENT, cases, mask, response_file, send

CASES = cases("readydesk")


def _same_json(a: bytes, b: bytes) -> bool:
    return bool(json.loads(a) == json.loads(b))


def test_there_are_readydesk_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
async def test_readydesk_golden_on_the_simulator(case: Path, tmp_path: Path) -> None:
    request = json.loads((case / "request.json").read_text(encoding="utf-8"))
    dialects = {k: DialectSettings(**v) for k, v in (request.get("dialects") or {}).items()}
    # the golden answers are recorded against seed 003's conversation (no reply table): pin it so
    settings = Settings(
        data_dir=tmp_path,
        access_log=False,
        clients=(CLIENT,),
        dialects=dialects,
        backend=BackendSettings(features={"replies": "no", "notes": "no"}),
    )
    runner, url = await start_gateway(settings)
    try:
        status, ctype, body = await send(url, request)
    finally:
        await runner.cleanup()
    expect = request.get("expect", {})
    assert status == expect.get("status", 200)
    if "content_type" in expect:
        assert ctype == expect["content_type"]
    expected_file = response_file(case)
    assert expected_file is not None, "case has no response file"
    body = mask(body, request.get("mask", []))
    expected = expected_file.read_bytes()
    if expected_file.suffix == ".json":
        assert _same_json(body, expected), body.decode()
    else:
        assert body == expected
