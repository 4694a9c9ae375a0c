"""Parameters a backend cannot carry (an action's ``unsupported:``) are refused as before the
request's keys were first told apart in C: the refusal, or none, for every dialect's actions
over awkward parameter sets (empty values, bracketed keys, near names)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.app import dialect_classes, zone_config
from gateway.dialects.base import Dialect, Inbound
from gateway.errors import Unsupported
from gateway.mapping.loader import ActionSpec, load_mappings
from gateway.settings import Settings


def _reference(params: dict[str, Any], spec: ActionSpec) -> str | None:
    """The check as it was written before its shortcut: the parameter refused, or None."""
    bracketed = [k for k in params if "[" in k]
    for param in spec.unsupported:
        value = params.get(param)
        if value not in (None, "", [], {}) or (bracketed and any(k.startswith(param + "[") for k in bracketed)):
            return param
    return None


def _dialects() -> list[tuple[Dialect, ActionSpec]]:
    settings = Settings()
    mappings = load_mappings(None, zone_config(settings))
    out: list[tuple[Dialect, ActionSpec]] = []
    for name, cls in dialect_classes().items():
        vm = mappings.get(cls.vendor)
        if vm is None:
            continue
        dialect = cls(settings.dialect(name), vm)
        out.extend((dialect, spec) for spec in vm.actions.values() if spec.unsupported)
    return out


CASES = _dialects()


def _param_sets(spec: ActionSpec) -> list[dict[str, Any]]:
    lost = list(spec.unsupported)
    first = lost[0]
    sets: list[dict[str, Any]] = [
        {},
        {"subject": "Hi", "message": "Text"},
        {first: "x"},
        {first: ""},
        {first: None},
        {first: []},
        {first: {}},
        {first: ["a"]},
        {first: "0"},
        {first: 0},
        {f"{first}[0]": "a.txt"},
        {f"{first}[]": ""},
        {f"{first}[name]": "a"},
        {f"{first}x[0]": "near name"},
        {f"x{first}": "near name"},
        {"other[0]": "a bracket elsewhere"},
        {"[": "a bare bracket"},
        {first.upper(): "case differs"},
        {lost[-1]: "last", "subject": "s"},
        {p: "" for p in lost},
        {p: "v" for p in lost},
    ]
    return sets


@pytest.mark.parametrize(("dialect", "spec"), CASES, ids=[f"{d.name}-{s.name}" for d, s in CASES])
def test_lost_parameters_refused_as_before(dialect: Dialect, spec: ActionSpec) -> None:
    assert CASES, "some action has parameters a backend cannot carry"
    for params in _param_sets(spec):
        expected = _reference(params, spec)
        inbound = Inbound(action=spec.name, params=params, fmt="json")
        if expected is None:
            dialect.refuse_lost_params(inbound, spec)
            continue
        with pytest.raises(Unsupported) as err:
            dialect.refuse_lost_params(inbound, spec)
        assert err.value.message == spec.unsupported[expected], params
