"""Shared fixtures of the mapping tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.mapping.loader import VendorMappings, load_mappings


@pytest.fixture(scope="session")
def yaml_vendor(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], VendorMappings]:
    """A vendor ``acme`` whose one mapping file is the given YAML text, loaded (in its own folder)."""

    def load(text: str) -> VendorMappings:
        root: Path = tmp_path_factory.mktemp("maps")
        (root / "acme").mkdir()
        (root / "acme" / "m.yaml").write_text(text, encoding="utf-8")
        return load_mappings(roots=[root])["acme"]

    return load


def _hash(x: Any) -> Any:
    try:
        return hash(x)
    except TypeError as exc:  # a record holding a raw record (a dict) has no hash, either way
        return str(exc)


def _same(a: tuple[str, Any], b: tuple[str, Any]) -> None:
    assert a[0] == b[0], (a, b)
    if a[0] == "error":
        assert a == b
        return
    x, y = a[1], b[1]
    assert type(x) is type(y)
    assert x == y
    assert x.model_fields_set == y.model_fields_set
    assert list(x.__dict__) == list(y.__dict__)
    assert [type(v) for v in x.__dict__.values()] == [type(v) for v in y.__dict__.values()]
    assert x.__pydantic_extra__ == y.__pydantic_extra__ and x.__pydantic_private__ == y.__pydantic_private__
    assert repr(x) == repr(y)
    assert x.model_dump() == y.model_dump()
    assert _hash(x) == _hash(y)


@pytest.fixture(scope="session")
def same_record() -> Callable[[tuple[str, Any], tuple[str, Any]], None]:
    """Two outcomes (``("record", r)`` or ``("error", what)``) alike: the same error, or records
    alike in every part of their state (class, values and their types, fields set, order, repr,
    dump, hash)."""
    return _same
