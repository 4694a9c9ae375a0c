"""bench.bytecodes counts the bytecodes each Python function runs per call of a translation case."""

from __future__ import annotations

from bench.bytecodes import count


def test_counts_are_per_call_and_name_the_functions_on_the_path() -> None:
    total, rows = count("whmcs", 0, "hand", cold=True, calls=3)
    assert total == sum(n for _, n in rows)
    names = {name for (_, _, name), _ in rows}
    assert "whmcs_ticket_row" in names  # the hand-written translation itself
    assert all(n > 0 for _, n in rows) and rows == sorted(rows, key=lambda r: -r[1])
    # the same calls counted again give the same figures: nothing but the path is counted
    assert count("whmcs", 0, "hand", cold=True, calls=3)[0] == total
    gateway, steps = count("whmcs", 0, "gateway", cold=True, calls=2)
    assert gateway > total and any(file.startswith(("<mapping ", "<fused ")) for (file, _, _), _ in steps)
