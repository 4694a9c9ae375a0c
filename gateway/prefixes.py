"""Start-up check: no two dialects' routes may answer the same request.

Each dialect serves under a prefix an operator may move (``dialects.NAME.prefix``).  A
prefix that makes one dialect's route match a path another dialect serves (the PMP
dialect moved to ``""`` would take Clientexec's ``/api/tickets``) is a configuration
error at start-up, not a silent change of who answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from gateway.dialects.base import Route

_VAR = re.compile(r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<re>(?:[^{}]|\{[^{}]*\})*))?\}")
_SAMPLES = ("1", "API", "x", "api/x")


def _parts(path: str) -> list[tuple[str, str | None]]:
    """A route path as (literal, None) and (variable, its regex) pieces."""
    out: list[tuple[str, str | None]] = []
    pos = 0
    for m in _VAR.finditer(path):
        out.append((path[pos : m.start()], None))
        out.append((m["name"], m["re"] or "[^{}/]+"))
        pos = m.end()
    out.append((path[pos:], None))
    return out


def _regex(path: str) -> re.Pattern[str]:
    return re.compile("".join(re.escape(text) if rx is None else f"(?:{rx})" for text, rx in _parts(path)))


def _sample(path: str) -> str:
    """A concrete path the route matches (each variable: the first sample its regex takes)."""
    out = []
    for text, rx in _parts(path):
        if rx is None:
            out.append(text)
        else:
            out.append(next((s for s in _SAMPLES if re.fullmatch(rx, s)), "1"))
    return "".join(out)


def collisions(routes: Mapping[str, Sequence[Route]]) -> list[str]:
    """One line per pair of dialects whose routes overlap, with an example path."""
    found: dict[frozenset[str], str] = {}
    compiled = {name: [(r.method, _regex(r.path)) for r in rs] for name, rs in routes.items()}
    for name, own in routes.items():
        for route in own:
            path = _sample(route.path)
            for other, patterns in compiled.items():
                pair = frozenset((name, other))
                if other == name or pair in found:
                    continue
                if any(
                    ("*" in (method, route.method) or method == route.method) and rx.fullmatch(path)
                    for method, rx in patterns
                ):
                    found[pair] = f"{name} and {other} would both answer {path}"
    return sorted(found.values())
