"""Clientexec golden cases (tests/golden/clientexec/<case>/, format in tests/golden/harness.py).

Each case is replayed twice: against the scripted PMP answers recorded in the case (the
backend calls must match exactly), and against a fresh embedded PMP simulator with its
demo data (the client's answer must match).  Volatile fields (timestamp, elapsed, minutes
since submission) are masked by each case's ``mask`` list.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from gateway import pmp_sim
from tests.golden.harness import TOKEN, cases, response_file, run_case

CASES = cases("clientexec")


def _expected(case: Path) -> tuple[dict[str, object], object]:
    request = json.loads((case / "request.json").read_text(encoding="utf-8"))
    found = response_file(case)
    assert found is not None and found.suffix == ".json", "a Clientexec case answers JSON"
    return request, json.loads(found.read_text(encoding="utf-8"))


def test_there_are_cases() -> None:
    assert len(CASES) >= 8


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
async def test_replay_scripted_backend(case: Path) -> None:
    request, expected = _expected(case)
    expected_calls = json.loads((case / "backend-calls.json").read_text(encoding="utf-8"))
    outcome = await run_case(case)
    assert outcome.calls == expected_calls, "backend calls differ"
    expect = request.get("expect") or {}
    assert isinstance(expect, dict)
    assert outcome.status == expect.get("status", 200)
    assert outcome.content_type == "application/json"
    assert json.loads(outcome.body) == expected


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
async def test_replay_embedded_simulator(case: Path) -> None:
    request, expected = _expected(case)
    with tempfile.TemporaryDirectory() as tmp:
        runner, sim_url = await pmp_sim.start_simulator(db_path=Path(tmp) / "sim.sqlite3", token=TOKEN)
        try:
            outcome = await run_case(case, upstream=sim_url)
        finally:
            await runner.cleanup()
    expect = request.get("expect") or {}
    assert isinstance(expect, dict)
    assert outcome.status == expect.get("status", 200)
    assert json.loads(outcome.body) == expected
