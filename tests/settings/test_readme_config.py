"""The README's configuration example loads, and documents every key the settings have."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from gateway.settings import BackendSettings, DialectSettings, Settings, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration") :]
    found = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert found, "README has no yaml block under ## Configuration"
    return found.group(1)


def test_the_readme_example_loads(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(_example(), encoding="utf-8")
    names = set(re.findall(r"\$\{([A-Z_]+)\}", _example()))
    settings = load_settings(config, env=dict.fromkeys(names, "x"))
    assert settings.backend.url and settings.dialect("pmp").generation == 3


def _keys(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_every_key_is_documented() -> None:
    example = _example()
    documented = set(re.findall(r"^\s*([a-z_]+):", example, re.M)) | set(re.findall(r"[{,]\s*([a-z_]+):", example))
    nested = {name for name, field in Settings.model_fields.items() if isinstance(field.default, BaseModel)}
    expected = _keys(Settings) | _keys(BackendSettings) | _keys(DialectSettings)
    for name in nested:
        expected |= _keys(type(Settings.model_fields[name].default))
    missing = expected - documented
    assert not missing, f"README's configuration example lacks {sorted(missing)}"
