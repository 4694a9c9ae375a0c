"""The mapping ``settings:`` block is typed per vendor: a mistyped key is a check error at its place."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.cli import check
from gateway.mapping.loader import load_mappings
from gateway.mapping.source import MappingErrors
from gateway.mapping.vendor_settings import PmpSettings, ReadyDeskSettings, WhmcsSettings


def _overlay(root: Path, vendor: str, text: str) -> Path:
    path = root / vendor / "local.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("vendor", "text", "expected"),
    [
        ("whmcs", "settings:\n  defualt_format: json\n", "2:3: settings.defualt_format: unknown setting "
         "'defualt_format' (did you mean 'default_format'?)"),
        ("whmcs", "settings:\n  default_format: yaml\n", "2:3: settings.default_format: Input should be"),
        ("readydesk", "settings:\n  custom_fields: Server\n", "2:3: settings.custom_fields: Input should be"),
        ("pmp", "settings:\n  statuses:\n    - {id: 1, name: Open, colour: red}\n",
         "3:27: settings.statuses.0.colour: unknown setting 'colour' (did you mean 'color'?)"),
        ("pmp", "settings:\n  contacts_cache_seconds: -1\n", "2:3: settings.contacts_cache_seconds: Input should be"),
        ("clientexec", "settings:\n  errors: {auth: 'No {who}'}\n", "settings.errors: auth: unknown placeholder {who}"),
        ("clientexec", "settings:\n  read_attempts: 3\n", "2:3: settings.read_attempts: unknown setting"),
    ],
)  # fmt: skip
def test_a_mistyped_setting_is_reported_where_it_is_written(
    tmp_path: Path, vendor: str, text: str, expected: str
) -> None:
    path = _overlay(tmp_path, vendor, text)
    with pytest.raises(MappingErrors) as info:
        load_mappings(tmp_path)
    assert any(str(e).startswith(f"{path}:") and expected in str(e) for e in info.value.errors), str(info.value)


def test_gateway_check_exits_1_on_a_mistyped_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _overlay(tmp_path, "readydesk", "settings:\n  default_fromat: json\n")
    assert check([], None, tmp_path) == 1
    assert f"{path}:2:3: settings.default_fromat: unknown setting" in capsys.readouterr().out


def test_packaged_settings_are_typed_with_their_defaults() -> None:
    mappings = load_mappings()
    assert isinstance(mappings["whmcs"].config, WhmcsSettings)
    assert mappings["whmcs"].config.default_format == "legacy"
    assert isinstance(mappings["readydesk"].config, ReadyDeskSettings)
    pmp = mappings["pmp"].config
    assert isinstance(pmp, PmpSettings)
    assert [s.name for s in pmp.statuses][:2] == ["Open", "In progress"]
    assert pmp.contacts_cache_seconds == 10 and pmp.countries[1] == "AF"
