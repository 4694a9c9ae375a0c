"""bench.instructions reads callgrind's count of the serving process, and of that process alone."""

from __future__ import annotations

from pathlib import Path

from bench.instructions import counted


def test_the_count_is_the_summary_of_that_process_files(tmp_path: Path) -> None:
    (tmp_path / "callgrind.41").write_text("# callgrind format\nevents: Ir\nfl=x\n1 10\nsummary: 123456\n")
    (tmp_path / "callgrind.41.2").write_text("events: Ir\ntotals: 99\n")  # a second dump: the largest wins
    (tmp_path / "callgrind.4").write_text("events: Ir\nsummary: 7777777\n")  # another process
    assert counted(tmp_path, 41) == 123456
    assert counted(tmp_path, 4) == 7777777
    assert counted(tmp_path, 5) == 0
