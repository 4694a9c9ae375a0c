"""YAML read with positions: every mapping and list remembers where its items were.

PyYAML's composed nodes carry line and column; this turns them into plain dicts
and lists that also know the ``file:line:col`` of each key, so that every error
the loader finds can point at the text an operator wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Loc:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class MappingError(Exception):
    """One problem in one mapping or config file, at one place."""

    def __init__(self, loc: Loc, path: str, message: str) -> None:
        super().__init__(f"{loc}: {path}: {message}" if path else f"{loc}: {message}")
        self.loc = loc
        self.path = path
        self.message = message


class MappingErrors(Exception):
    def __init__(self, errors: list[MappingError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class LocDict(dict[str, Any]):
    """A dict that knows where it and each of its keys came from."""

    loc: Loc
    key_locs: dict[str, Loc]

    def loc_of(self, key: str) -> Loc:
        return self.key_locs.get(key, self.loc)


class LocList(list[Any]):
    loc: Loc
    item_locs: list[Loc]

    def loc_of(self, index: int) -> Loc:
        return self.item_locs[index] if index < len(self.item_locs) else self.loc


def _loc(file: str, node: yaml.Node) -> Loc:
    return Loc(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _convert(file: str, node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = LocDict()
        out.loc = _loc(file, node)
        out.key_locs = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            skey = str(key) if not isinstance(key, bool) else ("true" if key else "false")
            if skey in out:
                raise MappingError(_loc(file, key_node), skey, "duplicate key")
            out[skey] = _convert(file, value_node, loader)
            out.key_locs[skey] = _loc(file, key_node)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = LocList()
        items.loc = _loc(file, node)
        items.item_locs = []
        for child in node.value:
            items.append(_convert(file, child, loader))
            items.item_locs.append(_loc(file, child))
        return items
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path, display_name: str | None = None) -> Any:
    """Parse one YAML file into LocDict/LocList values; syntax errors become MappingError."""
    name = display_name or str(path)
    text = path.read_text(encoding="utf-8")
    return load_yaml_text(text, name)


# libyaml's parser where PyYAML was built with it (the wheels are): the same nodes and marks,
# about five times faster (the pure-Python scanner was most of a mapping load)
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_text(text: str, name: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            empty = LocDict()
            empty.loc = Loc(name, 1, 1)
            empty.key_locs = {}
            return empty
        return _convert(name, node, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(name, mark.line + 1, mark.column + 1) if mark else Loc(name, 1, 1)
        raise MappingError(loc, "", f"YAML syntax: {exc.problem or exc}") from None
    finally:
        loader.dispose()
