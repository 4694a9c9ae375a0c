"""``gateway check --backend`` against the simulator as module 3.x and 2.x, and with a bad token."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from gateway.losses import is_known
from gateway.pmp_sim import start_simulator

TOKEN = "check-backend-token"
LINE = re.compile(r"^(\w+) (\w+): (full|loss [\w:,-]+|refused: .+)$")


async def _check(url: str, token: str, tmp_path: Path) -> tuple[int, list[str]]:
    env = {**os.environ, "GATEWAY_DATA_DIR": str(tmp_path)}
    env.pop("GATEWAY_BACKEND_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "check", "--backend", "--backend-url", url, "--backend-token", token,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode().splitlines()


@pytest.mark.parametrize("module", [3, 2])
async def test_check_backend_prints_features_then_one_line_per_action(tmp_path: Path, module: int) -> None:
    runner, url = await start_simulator(db_path=tmp_path / "sim.sqlite3", token=TOKEN, module=module)
    try:
        code, lines = await _check(url, TOKEN, tmp_path)
        bad_code, bad_lines = await _check(url, "wrong-token", tmp_path)
    finally:
        await runner.cleanup()
    assert code == 0, lines
    features = dict(line.split(": ", 1) for line in lines[:7])
    assert set(features) == {"paging", "record_ids", "idempotent_creates", "staff", "notes", "replies", "departments"}
    assert all(v in ("yes", "no", "read-only") for v in features.values())
    actions = lines[7:]
    assert actions and all(LINE.match(line) for line in actions), actions
    for line in actions:
        verdict = line.split(": ", 1)[1]
        if verdict.startswith("loss "):
            assert all(is_known(loss) for loss in verdict[5:].split(",")), line
    reply = next(line for line in actions if line.startswith("whmcs AddTicketReply:"))
    if module == 3:
        assert features["replies"] == "yes" and features["paging"] == "yes"
        assert "notifications" in reply
        assert "whmcs GetTicket: full" in actions
    else:
        assert features["replies"] == "no" and features["paging"] == "no"
        assert reply.startswith("whmcs AddTicketReply: refused: ") and "tblticket_replies" in reply
    assert bad_code == 1 and not any(LINE.match(line) for line in bad_lines), bad_lines
