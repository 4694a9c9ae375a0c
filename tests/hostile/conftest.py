"""One real gateway (and its embedded PMP simulator) per hostile test module; see server.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hostile.server import CASES, HostileGateway


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileGateway]:
    gw = HostileGateway(tmp_path_factory.mktemp("hostile"))
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CASES.sent:
        terminalreporter.write_line(f"hostile: {CASES.sent} hostile requests sent")
