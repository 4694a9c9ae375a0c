"""Replays every golden case under tests/golden/<dialect>/<case>/ (see harness.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden.harness import cases, response_file, run_case


def _pretty(body: bytes) -> str:
    return json.dumps(json.loads(body), indent=2, ensure_ascii=False)


@pytest.mark.parametrize("case", cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_golden(case: Path) -> None:
    request = json.loads((case / "request.json").read_text(encoding="utf-8"))
    expected_calls = json.loads((case / "backend-calls.json").read_text(encoding="utf-8"))
    outcome = await run_case(case)
    assert outcome.calls == expected_calls, "backend calls differ"
    expect = request.get("expect", {})
    assert outcome.status == expect.get("status", 200)
    if "content_type" in expect:
        assert outcome.content_type == expect["content_type"]
    expected_file = response_file(case)
    assert expected_file is not None, "case has no response file"
    expected = expected_file.read_bytes()
    if expected_file.suffix == ".json":
        assert _pretty(outcome.body) == _pretty(expected)
    else:
        assert outcome.body == expected
