"""Shared fixtures of the mapping tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
