"""A parse model and a render model composed: a backend's row -> a client's answer, one function.

The canonical model stays the contract between them: both models are compiled as usual
(``gateway.mapping.compiler``), and this module composes their generated source.  The parse
model's record constructor works each canonical field out into a local and checks it
(:class:`RecordParts`); the render model's dict display reads the record's fields from its
``__dict__`` (``_d['status']``: :class:`RenderParts`).  The fused function runs the first, then
the second with each ``_d[...]`` read replaced by that field's local: exactly what
``render(parse(row))`` gives, without building the canonical record in between (nested records,
a ticket's requester or its messages, are still built and shared as the parse builds them).

It answers None wherever the record would not have been built directly (a value its field does
not keep as it is, left to validation) or the data is refused (a parse or render failure): the
caller then goes the usual way, which gives the usual record, or the usual error with its
mapping path.  A render may read the record's fields, a property that names the fields it reads
(``FUSED_PROPERTIES``: called on a namespace of just those) and another render of the same
record (its display spelled out in place); one that reads anything else (the record itself, its
raw record, another property) is not composed: :func:`fuse` answers None.
"""

from __future__ import annotations

import builtins
import io
import keyword
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel

Compiled = Callable[[Any], Any]

#: the name of what makes a fused function answer None (the usual way then decides): a value
#: left to validation (the compiler's ``_NotKept``, raised by the checks) or refused data
_GIVE_UP = "_FUSE_GIVE_UP"
_LOCAL = re.compile(r"_[rv]\d+|_m|_fs")  # the record constructor's locals


@dataclass(frozen=True)
class RecordParts:
    """A generated record constructor, in parts: ``statements`` set a local per canonical field
    and check it (raising ``_Bad`` for a value the field would not keep as it is); ``values``
    gives each field's value as an expression over them (or a bound default); ``ns`` is the
    generated module's namespace."""

    target: type[BaseModel]
    statements: list[str]
    values: dict[str, str]
    ns: dict[str, Any]


@dataclass(frozen=True)
class RenderParts:
    """A generated render model's dict display over ``source``'s fields, read as ``_d['name']``."""

    source: type[BaseModel]
    expr: str
    ns: dict[str, Any]


def unwrapped(render: Compiled, vendor: str) -> Compiled | None:
    """The function ``render`` calls for a record parsed from ``vendor``'s rows: through the
    render memo (``__wrapped__``) and a same-vendor pass-through (``other_vendors``: the full
    render for another vendor's records; None when ``vendor`` is the one passed through)."""
    fn = getattr(render, "__wrapped__", render)
    other = getattr(fn, "other_vendors", None)
    if other is not None:
        full, passed = other
        if passed == vendor:
            return None
        fn = full
    return fn


def fuse(record: Compiled, render: Compiled, vendor: str) -> Compiled | None:
    """``row -> render(record(row))`` in one generated function, or None when they do not
    compose (see the module's docstring).  ``vendor``: the backend's, whose raw records the
    record carries."""
    while not hasattr(record, "record_parts") and hasattr(record, "__wrapped__"):
        record = record.__wrapped__  # (through validation and the memo of records: the same record)
    parts: RecordParts | None = getattr(record, "record_parts", None)
    inner = unwrapped(render, vendor)
    shown: RenderParts | None = getattr(inner, "render_parts", None) if inner is not None else None
    if parts is None or shown is None or not issubclass(parts.target, shown.source):
        return None
    extra: dict[str, Any] = {}
    expr = _rewritten(shown, parts, extra)
    if expr is None:
        return None
    ns = {**parts.ns, **extra}
    # (anything the parse or the render would raise: the usual way raises it, with its mapping path)
    ns[_GIVE_UP] = Exception
    body = "".join(f"        {line}\n" for line in parts.statements)
    source = f"def _fused(s):\n    try:\n{body}        return {expr}\n    except {_GIVE_UP}:\n        return None\n"
    exec(compile(source, f"<fused {parts.target.__name__} -> {getattr(inner, '__qualname__', 'render')}>", "exec"), ns)
    fused: Compiled = ns["_fused"]
    return fused


def _rewritten(shown: RenderParts, parts: RecordParts, extra: dict[str, Any], prefix: str = "_R") -> str | None:
    """The render's dict display with each field read made the record's value for it, a nested
    render of the same record (``_m0(s)``) spelled out in it, and the render's own names renamed
    apart (``prefix`` + name, bound in ``extra``); None if it reads anything else of the record
    (``s``, ``_d`` otherwise than ``_d['field']``) or a field the record has no value for, or if
    a name of its own would meet one of the constructor's locals."""
    tokens = list(tokenize.generate_tokens(io.StringIO(shown.expr).readline))
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        after_dot = i > 0 and tokens[i - 1].string == "."
        if tok.type == tokenize.NAME and not after_dot:
            name = tok.string
            if name == "_d":
                if not (i + 3 < len(tokens) and tokens[i + 1].string == "[" and tokens[i + 3].string == "]"):
                    return None
                key = _literal(tokens[i + 2])
                if key is None or key not in parts.values or key == "remote":
                    return None
                out.append((tokenize.NAME, f"({parts.values[key]})"))
                i += 4
                continue
            if name == "s":
                read = _property_read(tokens, i, shown.source, parts.values, extra)
                if read is None:
                    return None
                out.append((tokenize.NAME, read))
                i += 3
                continue
            if name in shown.ns and name.startswith("_"):
                nested = _same_record(tokens, i, shown.ns[name], parts)
                if nested is not None:  # (a model of the same record: its display, here)
                    inner = _rewritten(nested, parts, extra, f"{prefix}{i}_")
                    if inner is None:
                        return None
                    out.append((tokenize.NAME, f"({inner})"))
                    i += 4
                    continue
                extra[f"{prefix}{name}"] = shown.ns[name]
                out.append((tokenize.NAME, f"{prefix}{name}"))
                i += 1
                continue
            if _LOCAL.fullmatch(name) or name == _GIVE_UP:
                return None
            if not (keyword.iskeyword(name) or hasattr(builtins, name) or name.startswith("_")) and name != "x":
                return None  # (a name neither the render's, a builtin, a temporary nor an item)
        out.append((tok.type, tok.string))
        i += 1
    return tokenize.untokenize(out).strip()


def _same_record(tokens: list[tokenize.TokenInfo], i: int, fn: Any, parts: RecordParts) -> RenderParts | None:
    """The parts of ``fn`` when ``tokens[i:]`` call it on the record itself (``_m0(s)``) and it is
    a render model of that record's class (through its render memo); else None."""
    if not (i + 3 < len(tokens) and [t.string for t in tokens[i + 1 : i + 4]] == ["(", "s", ")"]):
        return None
    found: RenderParts | None = getattr(getattr(fn, "__wrapped__", fn), "render_parts", None)
    return found if found is not None and issubclass(parts.target, found.source) else None


def _property_read(
    tokens: list[tokenize.TokenInfo], i: int, source: type[BaseModel], values: dict[str, str], extra: dict[str, Any]
) -> str | None:
    """``s.name`` at ``tokens[i]`` for a property of ``source`` that declares the fields it reads
    (``FUSED_PROPERTIES``): the property called on a namespace of just those; else None.
    ``extra``: names the expression binds (added to the fused function's namespace)."""
    if not (i + 2 < len(tokens) and tokens[i + 1].string == "." and tokens[i + 2].type == tokenize.NAME):
        return None
    name = tokens[i + 2].string
    reads = getattr(source, "FUSED_PROPERTIES", {}).get(name)
    prop = getattr(source, name, None)
    if reads is None or not isinstance(prop, property) or prop.fget is None or not all(f in values for f in reads):
        return None
    bound = f"_FP{len(extra)}"
    extra[bound], extra["_NS"] = prop.fget, SimpleNamespace
    fields = ", ".join(f"{f}=({values[f]})" for f in reads)
    return f"{bound}(_NS({fields}))"


def _literal(tok: tokenize.TokenInfo) -> str | None:
    if tok.type != tokenize.STRING:
        return None
    text = tok.string
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" and text[1:-1].isidentifier():
        return text[1:-1]
    return None
