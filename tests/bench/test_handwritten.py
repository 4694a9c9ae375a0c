"""bench/handwritten.py stays equivalent to the mappings: for the golden backend rows of the
benchmark (bench/payload.py), every hand-written translation gives the same answer the
gateway gives (volatile fields aside), so a benchmark ratio compares equal work."""

from __future__ import annotations

import time

import pytest

from bench.translate_bench import Case, _check, build_cases
from gateway import context
from gateway.app import zone_config
from gateway.mapping.loader import load_mappings
from gateway.settings import Settings


def _cases() -> list[tuple[str, Case]]:
    mappings = load_mappings(None, zone_config(Settings()))
    # both the repeated answers and the changed ones (a column no mapping reads, defeating the memos)
    return [
        (name, case)
        for cold in (False, True)
        for name, items in build_cases(mappings, cold=cold).items()
        for case in items
        if case.hand is not None
    ]


CASES = _cases()


def test_every_dialect_has_a_hand_written_reference() -> None:
    assert {name for name, _ in CASES} >= {"whmcs", "keliweb", "clientexec", "readydesk"}


@pytest.mark.parametrize(("dialect", "case"), CASES, ids=[f"{n}: {c.label}" for n, c in CASES])
async def test_hand_written_output_equals_the_gateways(dialect: str, case: Case) -> None:
    token = context.begin(context.RequestContext(deadline=time.monotonic() + 60))
    try:
        assert await _check(dialect, case) is None
    finally:
        context.end(token)
