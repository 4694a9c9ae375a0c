"""The mapping files are read with libyaml's parser where PyYAML has it: it must give what the
pure-Python parser gives, values and file:line:column locations alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.mapping import source
from gateway.mapping.loader import PACKAGED_ROOT
from gateway.mapping.source import LocDict, LocList, MappingError


def _with_locs(value: Any) -> Any:
    if isinstance(value, LocDict):
        return ("map", value.loc, {k: (value.loc_of(k), _with_locs(v)) for k, v in value.items()})
    if isinstance(value, LocList):
        return ("list", value.loc, [(loc, _with_locs(v)) for loc, v in zip(value.item_locs, value, strict=True)])
    return value


def _both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = _with_locs(source.load_yaml_text(text, "f.yaml"))
    monkeypatch.setattr(source, "_Loader", yaml.SafeLoader)
    slow = _with_locs(source.load_yaml_text(text, "f.yaml"))
    monkeypatch.undo()
    return fast, slow


@pytest.mark.parametrize("path", sorted(PACKAGED_ROOT.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_packaged_file_reads_the_same_with_either_parser(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = _both(path.read_text(encoding="utf-8"), monkeypatch)
    assert fast == slow


def test_awkward_yaml_reads_the_same_with_either_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    text = 'a: {b: "x: y", c: [1, 2.5, null, true, "0123"]}\n\nd:\n  - é ✓\n  - |\n    two\n    lines\n"e": 0x1F\n'
    fast, slow = _both(text, monkeypatch)
    assert fast == slow


def test_a_syntax_error_names_its_place_with_either_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    errors = []
    for loader in (source._Loader, yaml.SafeLoader):
        monkeypatch.setattr(source, "_Loader", loader)
        with pytest.raises(MappingError) as failure:
            source.load_yaml_text("models:\n  a: [1, 2\n", "f.yaml")
        errors.append(failure.value)
    assert all("YAML syntax" in str(e) for e in errors)
    assert errors[0].loc.file == errors[1].loc.file == "f.yaml"
