"""Compiler and transform cases kept as data files (``cases/*.yaml``), one parametrised test each,
the way jmespath keeps its compliance cases."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway import canonical
from gateway.errors import GatewayError
from gateway.mapping import transforms as tr
from gateway.mapping.compiler import MappingDataFailure
from gateway.mapping.loader import ZoneConfig, _zone_resolver, load_mappings
from gateway.mapping.source import MappingErrors

CASES = Path(__file__).parent / "cases"


def _cases(name: str) -> list[Any]:
    cases = yaml.safe_load((CASES / name).read_text(encoding="utf-8"))
    return [pytest.param(case, id=case["name"]) for case in cases]


def _plain(value: Any) -> Any:
    """A result as YAML can write it: enums by value, datetimes in ISO form, tuples as lists."""
    if isinstance(value, canonical.Status | canonical.Priority):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _input(value: Any, direction: str) -> Any:
    if direction == "render" and isinstance(value, str):
        for kind in (canonical.Status, canonical.Priority):
            try:
                return kind(value)
            except ValueError:
                pass
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return tuple(value) if isinstance(value, list) and direction == "parse" else value


@pytest.mark.parametrize("case", _cases("transforms.yaml"))
def test_transform_case(case: dict[str, Any]) -> None:
    vendor, direction = case.get("vendor", "whmcs"), case.get("direction", "parse")
    mappings = load_mappings()[vendor]
    ctx = tr.CompileContext(vendor, direction, mappings.enums, mappings.dates, _zone_resolver(vendor, ZoneConfig()))
    steps = case["transform"] if isinstance(case["transform"], list) else [case["transform"]]
    fns = [tr.build(step, ctx) for step in steps]
    value = _input(case["input"], direction)
    if "error" in case:
        with pytest.raises(tr.DATA_ERRORS) as info:
            for fn in fns:
                value = fn(value)
        assert case["error"] in str(info.value)
        return
    for fn in fns:
        value = fn(value)
    assert _plain(value) == case["output"]


@pytest.mark.parametrize("case", _cases("compiler.yaml"))
def test_compiler_case(case: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "case.yaml").write_text(case["mapping"], encoding="utf-8")
    if "load_error" in case:
        with pytest.raises(MappingErrors) as info:
            load_mappings(roots=[tmp_path])
        assert any(case["load_error"] in str(e) for e in info.value.errors), str(info.value)
        return
    model = load_mappings(roots=[tmp_path])["v"].model(case["model"])
    source = case["input"]
    if "source" in case:
        source = getattr(canonical, case["source"]).model_validate(source)
    if "raises" in case:
        with pytest.raises(GatewayError) as raised:
            model(source)
        expected = case["raises"]
        assert raised.value.code == expected["code"]
        assert getattr(raised.value, "field", "") == expected.get("field", "")
        assert raised.value.message == expected.get("message", raised.value.message)
        return
    if "error" in case:
        with pytest.raises(MappingDataFailure) as failure:
            model(source)
        assert failure.value.detail == case["error"]
        assert "abc" not in failure.value.message  # the client is told nothing of the data
        return
    assert _plain(model(source)) == case["output"]


def test_a_backend_row_the_mapping_cannot_read_is_logged_with_both_paths(caplog: pytest.LogCaptureFixture) -> None:
    model = load_mappings()["pmp"].model("ticket")
    with caplog.at_level("ERROR", logger="gateway"), pytest.raises(MappingDataFailure) as failure:
        model({"ticketid": "1", "userid": "abc", "contactid": "0", "status": "1", "priority": "1"})
    assert "models.ticket.customer_id <- userid: not an integer: 'abc'" in caplog.text
    assert failure.value.code == "unavailable" and "abc" not in failure.value.message
