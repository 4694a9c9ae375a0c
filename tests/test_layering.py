"""Dialects and backends meet only at the canonical model: read the imports and enforce it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parent.parent / "gateway"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (GATEWAY / package).rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", _modules("dialects"), ids=lambda p: p.name)
def test_dialects_never_import_backends_or_each_other(path: Path) -> None:
    own = f"gateway.dialects.{path.stem}"
    for name in _imports(path):
        assert not name.startswith("gateway.backends"), f"{path.name} imports {name}"
        assert not name.startswith("gateway.pmp_sim"), f"{path.name} imports {name}"
        if name.startswith("gateway.dialects.") and not name.startswith("gateway.dialects.base"):
            assert name.startswith(own), f"{path.name} imports another dialect: {name}"


@pytest.mark.parametrize("path", _modules("backends"), ids=lambda p: p.name)
def test_backends_never_import_dialects(path: Path) -> None:
    for name in _imports(path):
        assert not name.startswith("gateway.dialects"), f"{path.name} imports {name}"


@pytest.mark.parametrize("path", _modules("mapping"), ids=lambda p: p.name)
def test_mapping_engine_knows_no_vendor(path: Path) -> None:
    for name in _imports(path):
        assert not name.startswith(("gateway.dialects", "gateway.backends", "gateway.pmp_sim")), name


def test_service_knows_no_vendor() -> None:
    for name in _imports(GATEWAY / "service.py"):
        assert not name.startswith(("gateway.dialects", "gateway.backends.pmp", "gateway.pmp_sim")), name
