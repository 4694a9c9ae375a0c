"""Overlay files merge into the packaged file of the same name, by key, at every depth (issue 9 item 6)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import aiohttp
import pytest

from gateway import canonical as c
from gateway.cli import check
from gateway.mapping.loader import PACKAGED_ROOT, load_mappings
from gateway.mapping.vendor_settings import ReadyDeskSettings
from gateway.settings import ClientCredential, Settings
from tests.conftest import WHMCS_AUTH, start_gateway

# the README's example: WHMCS clients of this installation call "On Hold" "Parked"
RENAME_ON_HOLD = """
enums:
  status:
    values:
      On Hold: null
      Parked: on_hold
  status_filter:
    values:
      On Hold: null
      Parked: on_hold
"""


def _overlay(root: Path, vendor: str, name: str, text: str) -> Path:
    path = root / vendor / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_same_named_overlay_keeps_everything_it_does_not_restate(tmp_path: Path) -> None:
    _overlay(tmp_path, "whmcs", "common.yaml", RENAME_ON_HOLD)
    packaged, merged = load_mappings()["whmcs"], load_mappings(tmp_path)["whmcs"]
    assert set(merged.actions) == set(packaged.actions)
    assert set(merged.dates) == set(packaged.dates) and set(merged.enums) == set(packaged.enums)
    assert merged.config == packaged.config  # settings of the same file untouched
    status = merged.enums["status"]
    assert status.to_vendor[c.Status.ON_HOLD] == "Parked"
    assert status.to_canonical["parked"] is c.Status.ON_HOLD and "on hold" not in status.to_canonical
    assert status.canonical is c.Status  # a key the overlay does not restate
    assert status.to_vendor[c.Status.OPEN] == "Open"


def test_lists_are_replaced_and_mappings_merged(tmp_path: Path) -> None:
    _overlay(tmp_path, "readydesk", "common.yaml", "settings:\n  custom_fields: [Server]\n  errors: {auth: Nope}\n")
    merged = load_mappings(tmp_path)["readydesk"].config
    packaged = load_mappings()["readydesk"].config
    assert isinstance(merged, ReadyDeskSettings)
    assert merged.custom_fields == ["Server"]
    assert merged.errors["auth"] == "Nope"
    assert {k: v for k, v in merged.errors.items() if k != "auth"} == {
        k: v for k, v in packaged.errors.items() if k != "auth"
    }


def test_check_lists_what_an_overlay_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _overlay(tmp_path, "whmcs", "common.yaml", RENAME_ON_HOLD)
    _overlay(tmp_path, "whmcs", "extra.yaml", "settings:\n  errors: {auth: Go away}\n")
    assert check([], None, tmp_path) == 0
    out = capsys.readouterr().out.splitlines()
    packaged = (PACKAGED_ROOT / "whmcs" / "common.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(packaged, 1) if text.strip().startswith("On Hold: on_hold"))
    assert any(
        o.startswith(f"overlay: {path}:5:7: enums.status.values.On Hold: removes the packaged entry")
        and o.endswith(f"whmcs/common.yaml:{line}:7)")
        for o in out
    ), out
    assert out[-1] == "ok: config and mappings load"
    assert not any("extra.yaml" in o for o in out)  # a new file overrides nothing


async def test_a_renamed_status_is_served_by_every_whmcs_action(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    _overlay(overlay, "whmcs", "common.yaml", RENAME_ON_HOLD)
    settings = Settings(
        data_dir=tmp_path, access_log=False, mappings=overlay, clients=(ClientCredential(identifier="o", secret="s"),)
    )
    runner, url = await start_gateway(settings)
    try:
        async with aiohttp.ClientSession() as session:

            async def whmcs(action: str, **params: str) -> dict[str, object]:
                data = {"action": action, "responsetype": "json", **WHMCS_AUTH, **params}
                async with session.post(url + "/includes/api.php", data=data) as r:
                    body: dict[str, object] = await r.json(content_type=None)
                    assert body["result"] == "success", (action, body)
                    return body

            await whmcs("UpdateTicket", ticketid="1", status="Parked")
            ticket = await whmcs("GetTicket", ticketid="1")
            assert ticket["status"] == "Parked"
            listed = await whmcs("GetTickets", status="Parked")
            assert "1" in {str(t["id"]) for t in listed["tickets"]["ticket"]}  # type: ignore[index]
            statuses = await whmcs("GetSupportStatuses")
            titles = [s["title"] for s in statuses["statuses"]["status"]]  # type: ignore[index]
            assert "Parked" in titles and "On Hold" not in titles
            for action in ("GetClients", "GetSupportDepartments", "GetTicketCounts", "GetClientsDetails"):
                await whmcs(action, clientid="1")
    finally:
        await runner.cleanup()
