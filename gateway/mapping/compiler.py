"""Compile a model's field specs into one plain Python function.

A spec is checked once (paths against the canonical model, transform names,
enum and date names) and turned into Python source: one dict display with one
expression per field, transforms bound as local names.  The generated function
is what runs per request; nothing is interpreted then.

Field spec forms (``key`` is the output key):

    key: src.path                      # copy
    key: {from: path | [paths], transform: t | [t...], default: X}   # X when the source is None or ""
    key: {const: X}
    key: {fields: {...}}               # nested object (from: optional)
    key: {each: path, fields|model: ..., wrap: singular}   # list of objects
    key: {..., required: "message", invalid: "message"}    # parse direction only; or an error
                                       # code the dialect words: {not_found: ticket} | {reason: CODE}
    key: {..., optional: true}         # render: left out when its value is None
    key: {..., omit_empty: true}       # render: the key is left out when its value is empty

A parse model may say ``remote: PATH`` (``$`` for the whole source) or ``remote: {from:
PATH, drop: [keys]}``: its result then carries that raw vendor record, minus the dropped
keys, as ``remote`` (canonical ``RemoteData``).  A render model's ``remote:`` passes such a
record of its own vendor through (see ``_passthrough``).

In the parse direction a field whose value comes out None is left out of the
result, so absent input stays absent (a patch changes only what was sent).
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import tokenize
import types
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway import canonical, operations
from gateway.errors import GatewayError, InternalError, InvalidInput, NotFound
from gateway.mapping import transforms as tr
from gateway.mapping.builder import (
    Shape,
    frozen_record,
    instance,
    items_ok,
    put_extra,
    put_fields_set,
    put_private,
    record_builder,
    shape,
)
from gateway.mapping.fuse import RecordParts, RenderParts
from gateway.mapping.source import LocDict, LocList, MappingError

Compiled = Callable[[Any], Any]
log = logging.getLogger("gateway")

# compiled functions whose result depends on more than their input (a VOLATILE transform,
# directly or in a nested model): identity_memo never caches them
_VOLATILE: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


def is_volatile(fn: Callable[..., Any]) -> bool:
    return fn in _VOLATILE


_SPEC_KEYS = frozenset(
    {
        "from",
        "transform",
        "default",
        "const",
        "fields",
        "each",
        "model",
        "wrap",
        "required",
        "invalid",
        "source",
        "index",
        "optional",
        "omit_empty",
    }
)


class _Gen:
    """Source and namespace of one generated module."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {
            "_dig": _dig,
            "_oget": _oget,
            "_strip_none": _strip_none,
            "_absent": _absent,
            "_drop_none": _drop_none,
            "_omit_empty": _omit_empty,
        }
        self.counter = itertools.count()
        self.volatile = False  # a bound function is volatile: so is what this module computes

    def bind(self, value: Any, prefix: str = "_c") -> str:
        name = f"{prefix}{next(self.counter)}"
        self.ns[name] = value
        if isinstance(value, types.FunctionType) and value in _VOLATILE:
            self.volatile = True
        return name


def _dig(src: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if src is None:
            return None
        src = src.get(part) if isinstance(src, dict) else None
    return src


def _oget(src: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if src is None:
            return None
        src = getattr(src, part, None)
    return src


def _strip_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _drop_none(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The ``optional`` keys whose value is None left out (an answer part only sent when asked for)."""
    for key in keys:
        if d.get(key, 0) is None:
            del d[key]
    return d


def _omit_empty(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    for key in keys:
        if d.get(key) in (None, "", {}, []):
            d.pop(key, None)
    return d


class ModelCompiler:
    """Compiles the ``models`` of one vendor; errors are collected, not raised one by one."""

    def __init__(
        self,
        ctx: tr.CompileContext,
        specs: Mapping[str, LocDict],
        errors: list[MappingError],
        records: bool = False,
    ):
        self.ctx = ctx
        self.specs = specs
        self.errors = errors
        # `records`: a parse model with a `target:` yields that canonical record (see _as_record),
        # its nested models' records included; otherwise every parse model yields a dict
        self.records = records
        self.done: dict[str, Compiled] = {}
        self._busy: set[str] = set()

    def compile(self, name: str) -> Compiled:
        if name in self.done:
            return self.done[name]
        spec = self.specs[name]
        if name in self._busy:
            self.errors.append(MappingError(spec.loc, name, "model refers to itself"))
            return lambda s: None
        self._busy.add(name)
        fields = spec.get("fields")
        source = model_class(spec.get("source"))
        if spec.get("source") is not None and source is None and spec.get("source") != "dict":
            self.errors.append(MappingError(spec.loc_of("source"), f"{name}.source", "unknown canonical model"))
        target = model_class(spec.get("target"))
        if not isinstance(fields, LocDict):
            self.errors.append(MappingError(spec.loc, name, "a model needs 'fields:'"))
            fn: Compiled = lambda s: None  # noqa: E731
        else:
            gen = _Gen()
            path = name if name.startswith("actions.") else f"models.{name}"
            checks: list[tuple[str, str, str]] = []
            # a record's dict keeps its None values: the record builder reads them as "not given"
            keep_none = self.records and target is not None and self.ctx.direction == "parse"
            expr = self._object(
                gen, fields, path, source, target, spec.get("source") == "dict" or source is None, checks, keep_none
            )
            found = shape(target) if keep_none and target is not None else None
            inline = found is not None and "<<" not in fields and all(k in found.accepts for k in fields)
            if inline and found is not None:
                reader = self._remote_reader(spec["remote"], name) if spec.get("remote") is not None else None
                fn = self._finish_record(gen, checks, path, found, reader)
            else:
                fn = self._finish(gen, expr, checks, path, source)
            if spec.get("remote") is not None and self.ctx.direction == "parse":
                if not inline:  # (an inline record reads its raw record itself)
                    fn = self._keeping_remote(fn, spec["remote"], name)
            elif "remote" in spec:
                fn = self._passthrough(spec, fields, name, source, fn)
            if self.records and target is not None and self.ctx.direction == "parse":
                volatile = gen.volatile or is_volatile(fn)
                fn = _as_record(fn, target, None if volatile else self._columns(name), volatile, inline)
        self._busy.discard(name)
        self.done[name] = fn
        return fn

    def _keeping_remote(self, fn: Compiled, spec: Any, name: str) -> Compiled:
        """``remote: PATH`` or ``remote: {from: PATH, drop: [key, ...]}`` (``$``: the whole source)."""
        reader = self._remote_reader(spec, name)
        return fn if reader is None else _keeping_remote(fn, reader)

    def _remote_reader(self, spec: Any, name: str) -> Callable[[Any], canonical.RemoteData | None] | None:
        if isinstance(spec, str):
            return _remote_reader(self.ctx.vendor, spec, frozenset())
        drop = spec.get("drop") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("from", "$"), str) or not isinstance(drop, list):
            where = spec.loc if isinstance(spec, LocDict) else self.specs[name].loc
            message = "must be a path or {from: path, drop: [keys]}"
            self.errors.append(MappingError(where, f"models.{name}.remote", message))
            return None
        return _remote_reader(self.ctx.vendor, str(spec.get("from", "$")), frozenset(map(str, drop)))

    def _passthrough(
        self, spec: LocDict, fields: LocDict, name: str, source: type[BaseModel] | None, full: Compiled
    ) -> Compiled:
        """``remote: {render: [field...], when: key}`` (or ``remote: passthrough``): when the record carries the
        raw record of this mapping's own vendor (``RemoteData``), answer that record as it is, with
        only the listed fields rendered from the canonical record over it (those the gateway itself
        may change: a linked ticket number, a list whose items pass through one by one).  Any other
        backend's record is rendered field by field as usual."""
        option = spec["remote"]
        where = spec.loc_of("remote")
        keep: list[str] = []
        when = ""
        if isinstance(option, LocDict):
            keep = list(option.get("render") or [])
            when = str(option.get("when") or "")
            unknown = [k for k in option if k not in ("render", "when")]
            if unknown:
                self.errors.append(MappingError(where, f"{name}.remote", f"unknown key '{unknown[0]}'"))
        elif option != "passthrough":
            self.errors.append(MappingError(where, f"{name}.remote", "must be 'passthrough' or {render: [...]}"))
        missing = [k for k in keep if k not in fields]
        if missing:
            self.errors.append(MappingError(where, f"{name}.remote.render", f"no field '{missing[0]}' in this model"))
        kept = LocDict({k: fields[k] for k in keep if k in fields})
        kept.loc, kept.key_locs = fields.loc, {k: fields.loc_of(k) for k in kept}
        gen = _Gen()
        expr = self._object(gen, kept, f"{name}.remote", source, None, spec.get("source") == "dict" or source is None)
        gen.lines.append(f"def _model(s):\n    return {expr}\n")
        overlay = _exec(gen, f"{name}.remote")
        vendor = self.ctx.vendor
        volatile = gen.volatile or is_volatile(full)

        # `when: key` / `when: "!key"`: only a raw record that has (has not) that key is of this
        # model's shape (a vendor may answer one record in several shapes: list item, detail)
        present = not when.startswith("!")
        key = when.lstrip("!")

        def passthrough(s: Any) -> Any:
            remote = getattr(s, "remote", None)
            if remote is None or remote.vendor != vendor or (key and (key in remote.fields) != present):
                return full(s)
            out = dict(remote.fields)
            if keep:
                out.update(overlay(s))
            return out

        if volatile:
            _VOLATILE.add(passthrough)
        # a record of another vendor, or none: ``full`` (what gateway.mapping.fuse composes)
        passthrough.other_vendors = (full, vendor)  # type: ignore[attr-defined]
        return passthrough

    def _columns(self, name: str) -> tuple[str, ...] | None:
        """The source columns a parse model reads, when its result depends on nothing else
        (a dict source, top-level keys only, no lists, no raw record kept); else None."""
        spec = self.specs.get(name)
        if spec is None or spec.get("remote") is not None or spec.get("source") != "dict":
            return None
        fields = spec.get("fields")
        found = _spec_columns(fields, self._columns) if isinstance(fields, Mapping) else None
        return tuple(dict.fromkeys(found)) if found is not None and len(found) <= _KEY_COLUMNS else None

    # -- expressions -------------------------------------------------------

    def _object(
        self,
        gen: _Gen,
        fields: LocDict,
        path: str,
        source: type[BaseModel] | None,
        target: type[BaseModel] | None,
        from_dict: bool,
        checks: list[tuple[str, str, str]] | None = None,
        keep_none: bool = False,
    ) -> str:
        items = []
        optional = tuple(k for k, v in fields.items() if isinstance(v, dict) and v.get("optional"))
        for key, spec in fields.items():
            fpath = f"{path}.{key}"
            if key == "<<":
                # spread: the fields of another model (or nested fields) merged in here
                expr = self._field(gen, spec, fields.loc_of(key), fpath, source, target, from_dict, key)
                items.append("**" + expr)
            else:
                if target is not None and key not in target.model_fields:
                    where = fields.loc_of(key)
                    self.errors.append(MappingError(where, fpath, f"{target.__name__} has no field '{key}'"))
                sub_target = _field_model(target, key)
                expr = self._field(gen, spec, fields.loc_of(key), fpath, source, sub_target, from_dict, key)
                items.append(f"{key!r}: {expr}")
            if checks is not None:
                checks.append((fpath, _source_of(spec, key), expr))
        body = "{" + ", ".join(items) + "}"
        if self.ctx.direction == "parse":
            return body if keep_none else f"_strip_none({body})"
        if "<<" not in fields:
            items = _render_items(gen, fields, items)
            return "{" + ", ".join(items) + "}"
        if optional:
            body = f"_drop_none({body}, {optional!r})"
        # `omit_empty: true`: the key is left out when its value is empty (WHMCS sends GetTicketCounts'
        # `status` object only when asked for it)
        empty = tuple(k for k, v in fields.items() if isinstance(v, dict) and v.get("omit_empty"))
        return f"_omit_empty({body}, {empty!r})" if empty else body

    def _getter(
        self, gen: _Gen, path: Any, loc: Any, fpath: str, source: type[BaseModel] | None, from_dict: bool
    ) -> str:
        if isinstance(path, list):
            return "(" + "".join(self._getter(gen, p, loc, fpath, source, from_dict) + ", " for p in path) + ")"
        if not isinstance(path, str) or not path:
            self.errors.append(MappingError(loc, fpath, "'from' must be a path or a list of paths"))
            return "None"
        if path == "$":
            return "s"
        parts = tuple(path.split("."))
        if not from_dict and source is not None:
            _check_path(source, parts, loc, fpath, self.errors)
        if from_dict:
            return f"s.get({parts[0]!r})" if len(parts) == 1 else f"_dig(s, {parts!r})"
        if len(parts) == 1 and parts[0].isidentifier():
            return f"s.{parts[0]}"
        if (
            source is not None
            and len(parts) == 2
            and all(p.isidentifier() for p in parts)
            and parts[0] in source.model_fields
        ):
            # `_oget` spelled out for a field of a field (no call, no loop): `requester.name`
            return f"(None if s.{parts[0]} is None else getattr(s.{parts[0]}, {parts[1]!r}, None))"
        return f"_oget(s, {parts!r})"

    def _field(
        self,
        gen: _Gen,
        spec: Any,
        loc: Any,
        fpath: str,
        source: type[BaseModel] | None,
        target: type[BaseModel] | None,
        from_dict: bool,
        key: str,
    ) -> str:
        if isinstance(spec, str):
            spec = {"from": spec}
        if not isinstance(spec, dict):
            return gen.bind(spec)  # a bare constant
        for k in spec:
            if k not in _SPEC_KEYS:
                where = spec.loc_of(k) if isinstance(spec, LocDict) else loc
                self.errors.append(MappingError(where, f"{fpath}.{k}", f"unknown key '{k}'"))
        if "const" in spec:
            return gen.bind(spec["const"])
        if "each" in spec:
            return self._each(gen, spec, loc, fpath, source, from_dict)
        if "fields" in spec or "model" in spec:
            return self._nested(gen, spec, loc, fpath, source, target, from_dict)
        sources = spec.get("from", key)
        value = self._getter(gen, sources, loc, fpath, source, from_dict)
        # (a dict's first source column alone, for a lookup that needs only it)
        first = sources[0] if isinstance(sources, list) and sources else sources
        plain = from_dict and isinstance(first, str) and first
        code = self._getter(gen, first, loc, fpath, None, True) if plain else None
        return self._apply(gen, spec, loc, fpath, value, key, code)

    def _apply(
        self, gen: _Gen, spec: Mapping[str, Any], loc: Any, fpath: str, value: str, key: str, code: str | None = None
    ) -> str:
        steps = spec.get("transform") or []
        if isinstance(steps, str):
            steps = [steps]
        fns: list[tr.Fn] = []
        for i, step in enumerate(steps):
            where = steps.loc_of(i) if isinstance(steps, LocList) else loc
            if not isinstance(step, str):
                self.errors.append(MappingError(where, fpath, f"transform must be a name, not {step!r}"))
                continue
            try:
                fns.append(tr.build(step, self.ctx))
            except (tr.TransformArgError, ValueError) as exc:
                self.errors.append(MappingError(where, fpath, str(exc)))
            if step.partition(":")[0] in tr.VOLATILE:
                gen.volatile = True
        default = spec.get("default")
        required, invalid = spec.get("required"), spec.get("invalid")
        if required is not None or invalid is not None:
            for name, refusal in (("required", required), ("invalid", invalid)):
                if refusal is not None and not _refusal_ok(refusal):
                    where = spec.loc_of(name) if isinstance(spec, LocDict) else loc
                    self.errors.append(MappingError(where, f"{fpath}.{name}", _REFUSAL_FORMS))
            fn = _guarded(fns, default, required, invalid, spec.get("from", key))
            return f"{gen.bind(fn, '_g')}({value})"
        names = [gen.bind(fn, "_t") for fn in fns]
        plain = {name: fn for name, fn in zip(names, fns, strict=True) if fn in (tr.to_str, tr.to_int)}
        inline = _render_inlines(gen, names, fns) if self.ctx.direction == "render" else {}

        def chain(inner: str) -> str:
            # `str` and `int`'s common cases spelled out (what those functions do first), so the
            # usual field costs no call: a string kept as it is, a string of digits made an int
            for name in names:
                if plain.get(name) is tr.to_str:
                    inner = f"(_s if type(_s := {inner}) is str else str(_s) if type(_s) is int else {name}(_s))"
                elif plain.get(name) is tr.to_int:
                    # a digit text read before is one dict lookup (tr.INT_TEXTS holds only texts of
                    # ASCII digits, each with its int)
                    texts, read = gen.bind(tr.INT_TEXTS, "_it"), gen.bind(tr.digits_int, "_di")
                    fast = "_s.isdigit() and _s.isascii() and len(_s) <= 18"
                    inner = (
                        f"(_x if type(_s := {inner}) is str and (_x := {texts}.get(_s)) is not None"
                        f" else {read}(_s) if type(_s) is str and {fast} else {name}(_s))"
                    )
                elif name in inline:
                    inner = inline[name].format(inner)
                else:
                    inner = f"{name}({inner})"
            return inner

        # several sources (`from: [a, b]`) are absent when every one of them is (spelled out inline:
        # this test runs for every field of every record parsed)
        sources = spec.get("from")
        if isinstance(sources, list) and sources:
            test = " and ".join(f"(_v[{i}] is None or _v[{i}] == '')" for i in range(len(sources)))
            absent = f"((_v := {value}), {test})[1]"
        elif isinstance(sources, list):
            absent = f"_absent(_v := {value})"
        else:
            absent = f"((_v := {value}) is None or _v == '')"
        if default is not None:
            return f"({gen.bind(default)} if {absent} else {chain('_v')})"
        if self.ctx.direction == "parse" and names:
            # absent input stays absent: no transform turns a missing value into a present one
            expr = f"(None if {absent} else {chain('_v')})"
            kind, table = tr.INLINE.get(fns[0], ("", None)) if len(fns) == 1 else ("", None)
            if kind == "enum_parse" and code is not None:
                # a vendor code the table knows as it is (a text) is its answer: no (code, label)
                # pair, no strip and case-fold (anything else goes the function's way)
                known = f"type(_k := {code}) is str and (_e := {gen.bind(table, '_tb')}.get(_k)) is not None"
                expr = f"(_e if {known} else {expr})"
            return expr
        return chain(value)

    def _each(self, gen: _Gen, spec: Mapping[str, Any], loc: Any, fpath: str, source: Any, from_dict: bool) -> str:
        named = spec["each"] if isinstance(spec["each"], list) else None
        parts = [self._getter(gen, p, loc, fpath, source, from_dict) for p in named] if named is not None else []
        # (the list's getter is the tuple of its paths' getters)
        items = "(" + "".join(p + ", " for p in parts) + ")" if named is not None else None
        items = items or self._getter(gen, spec["each"], loc, fpath, source, from_dict)
        item_fn = self._sub_model(spec, loc, fpath + "[]")
        index = spec.get("index")
        if index is not None:
            # a dict keyed by one rendered field of each item (WHMCS GetTicketCounts' status object)
            key_fn: tr.Fn = lambda v: v  # noqa: E731
            steps = spec.get("transform")
            if steps:
                try:
                    key_fn = tr.build(str(steps), self.ctx)
                except (tr.TransformArgError, ValueError) as exc:
                    self.errors.append(MappingError(loc, fpath, str(exc)))
            m, k = gen.bind(item_fn, "_m"), gen.bind(key_fn, "_t")
            return f"{{{k}(_i[{index!r}]): _i for _i in ({m}(x) for x in ({items} or ()))}}"
        if self.ctx.direction == "render" and not is_volatile(item_fn):
            # a list page shows mostly the records it showed before (the adapter hands back the same
            # immutable objects for unchanged rows): each one's rendering is reused (identity_memo,
            # its lookup spelled out here)
            cache, miss = memo_parts(item_fn)
            get, call = gen.bind(cache.get, "_mg"), gen.bind(miss, "_m")
            hit = f"(_h := {get}(id(x))) is not None and _h[0]() is x"
            expr = f"[_h[1] if {hit} else {call}(x) for x in ({items} or ())]"
        elif isinstance(spec["each"], list):
            # items named one by one (`each: [$]`: the row itself): a list display, no loop
            call = gen.bind(item_fn, "_m")
            expr = "[" + ", ".join(f"{call}({part})" for part in parts) + "]"
        else:
            expr = f"[{gen.bind(item_fn, '_m')}(x) for x in ({items} or ())]"
        wrap = spec.get("wrap")
        return f"{{{wrap!r}: {expr}}}" if wrap else expr

    def _nested(
        self,
        gen: _Gen,
        spec: Mapping[str, Any],
        loc: Any,
        fpath: str,
        source: Any,
        target: Any,
        from_dict: bool,
    ) -> str:
        if "from" in spec:
            inner = self._getter(gen, spec["from"], loc, fpath, source, from_dict)
            fn = self._sub_model(spec, loc, fpath, target)
            return f"(None if (_n := {inner}) is None else {gen.bind(fn, '_m')}(_n))"
        # same source record, nested output
        if "model" in spec:
            return f"{gen.bind(self._named(spec['model'], loc, fpath), '_m')}(s)"
        return self._object(gen, spec["fields"], fpath, source, target, from_dict)

    def _sub_model(self, spec: Mapping[str, Any], loc: Any, fpath: str, target: Any = None) -> Compiled:
        if "model" in spec:
            return self._named(spec["model"], loc, fpath)
        fields = spec.get("fields")
        if not isinstance(fields, LocDict):
            self.errors.append(MappingError(loc, fpath, "needs 'fields:' or 'model:'"))
            return lambda s: None
        src_name = spec.get("source")
        source = model_class(src_name)
        gen = _Gen()
        checks: list[tuple[str, str, str]] = []
        expr = self._object(gen, fields, fpath, source, target, src_name == "dict" or source is None, checks)
        return self._finish(gen, expr, checks, fpath, source)

    def _finish(
        self,
        gen: _Gen,
        expr: str,
        checks: list[tuple[str, str, str]],
        path: str,
        source: type[BaseModel] | None = None,
    ) -> Compiled:
        """The model's function: one expression; on bad data, each field alone finds the culprit
        (the slow path runs only then, so the fast path stays one dict display)."""
        self._probes(gen, checks, path)
        fast = _dict_reads(expr, source) if self.ctx.direction == "render" and source is not None else None
        # a canonical record's fields read from its __dict__: pydantic's models define __getattr__,
        # which makes every attribute read a slow generic look-up (a ticket's render reads ~25)
        head = ""
        if fast is not None:
            kind = gen.bind(source, "_K")
            head = f"        if type(s) is {kind}:\n            _d = s.__dict__\n            return {fast}\n"
        gen.lines.append(
            "def _model(s):\n"
            f"    try:\n{head}        return {expr}\n"
            f"    except _DATA_ERRORS as e:\n        raise _fail(s, e, _probes, {path!r}) from None\n"
        )
        fn = _exec(gen, path)
        if fast is not None and source is not None:
            fn.render_parts = RenderParts(source, fast, gen.ns)  # type: ignore[attr-defined]
        return fn

    def _probes(self, gen: _Gen, checks: list[tuple[str, str, str]], path: str) -> None:
        """Each field's expression alone (``_probes``): on bad data, ``_fail`` finds the culprit."""
        probes = []
        for i, (fpath, src, field_expr) in enumerate(checks):
            gen.lines.append(f"def _probe{i}(s):\n    return {field_expr}\n")
            probes.append(f"({fpath!r}, {src!r}, _probe{i})")
        gen.ns["_fail"] = _failure(self.ctx.direction, path.startswith("actions.") and ".params" in path)
        gen.ns["_DATA_ERRORS"] = tr.DATA_ERRORS
        gen.lines.append(f"_probes = ({''.join(p + ', ' for p in probes)})\n")

    def _finish_record(
        self,
        gen: _Gen,
        checks: list[tuple[str, str, str]],
        path: str,
        found: Shape,
        remote: Callable[[Any], canonical.RemoteData | None] | None,
    ) -> Compiled:
        """A parse model that yields its canonical record itself, built the way validation builds
        it, when every value already has a type its field keeps as it is (see ``builder``).

        Each field's value is worked out once, into a local; if one of them is of another type,
        the field values go on as a dict (None for "not given") to be validated as before."""
        names = [fpath.rsplit(".", 1)[1] for fpath, _, _ in checks]
        local = {key: f"_r{i}" for i, key in enumerate(names)}
        if remote is not None:
            local["remote"] = "_rr"
        unmapped_required = [k for k in found.required if k not in local]
        self._probes(gen, checks, path)
        lines = ["def _model(s):\n    try:\n"]
        lines.extend(f"        _r{i} = {field_expr}\n" for i, (_, _, field_expr) in enumerate(checks))
        if not checks:
            lines.append("        pass\n")
        lines.append(f"    except _DATA_ERRORS as e:\n        raise _fail(s, e, _probes, {path!r}) from None\n")
        if remote is not None:
            lines.extend(f"    {line}\n" for line in _remote_lines(gen, remote))
        # (the values that are not all of their fields' types go on to _as_record's validation,
        # called from here: the record function is this one, with no wrapper around it)
        given = "{" + "".join(f"{k!r}: {v}, " for k, v in local.items()) + "}"
        fallback = f"{gen.bind(_record_fallback(found.cls), '_fb')}({given})"
        if unmapped_required:
            lines.append(f"    return {fallback}\n")
            gen.lines.append("".join(lines))
            return _exec(gen, path)
        checks_of, values, build = self._record_make(gen, found, local)
        lines.append("    try:\n")
        lines.extend(f"    {line}\n" for lines_of in checks_of.values() for line in lines_of)
        lines.append(f"    except _Bad:\n        return {fallback}\n")
        lines.extend(f"    {line}\n" for line in build)
        gen.lines.append("".join(lines))
        fn = _exec(gen, path)
        # what a fused function (gateway.mapping.fuse) is made of: the same locals, the same
        # checks (but the raw record's: a render does not read it), the record's field values
        statements = [f"_r{i} = {field_expr}" for i, (_, _, field_expr) in enumerate(checks)]
        statements += [line[4:] for key, lines_of in checks_of.items() if key != "remote" for line in lines_of]
        fn.record_parts = RecordParts(found.cls, statements, values, gen.ns)  # type: ignore[attr-defined]
        return fn

    @staticmethod
    def _record_test(gen: _Gen, found: Shape, key: str, var: str) -> str:
        """The test that ``var``, not None, is a value ``key``'s validation keeps as it is."""
        accepts = found.accepts[key]
        if accepts.items is not None:
            kinds, items = gen.bind(accepts.types, "_T"), gen.bind(accepts.items, "_T")
            ok = f"(type({var}) in {kinds} and _items_ok({var}, {items}))"
        elif len(accepts.types) == 1:
            ok = f"type({var}) is {gen.bind(next(iter(accepts.types)), '_T')}"
        else:
            ok = f"type({var}) in {gen.bind(accepts.types, '_T')}"
        if accepts.values is not None:
            ok = f"({ok} and {var} in {gen.bind(accepts.values, '_V')})"
        return ok

    @staticmethod
    def _record_make(
        gen: _Gen, found: Shape, local: dict[str, str]
    ) -> tuple[dict[str, list[str]], dict[str, str], list[str]]:
        """How the record is built from the checked locals: each local's check (statements that
        raise ``_Bad`` for a value its field would not keep as it is), the expression of each
        field's value (in field order; defaults for what is not given), and the statements that
        build the record from those (its ``__dict__`` and its fields set: what is given).

        One branch per field, straight-line: None takes the default (and marks the field absent),
        a kept type takes the value, anything else raises.  The locals themselves are not
        changed: the fallback that catches ``_Bad`` sees None for "not given"."""
        frozen = frozen_record(found.cls)
        optional = [(key, var) for key, var in local.items() if key not in found.required]
        bits = {key: 1 << i for i, (key, _) in enumerate(optional)}
        first = "_m = 0" if frozen else f"_fs = set({gen.bind(frozenset(local), '_G')})"
        checks: dict[str, list[str]] = {}
        value_of: dict[str, str] = {}
        for key, var in local.items():
            ok = ModelCompiler._record_test(gen, found, key, var)
            value = f"tuple({var})" if found.accepts[key].items is not None else var
            if key in found.required:
                checks[key] = [f"    if not ({ok}): raise _Bad"]
                value_of[key] = value
                continue
            factory = found.factories.get(key)
            default = found.defaults[key]
            mark = f"_m |= {bits[key]}" if frozen else f"_fs.discard({key!r})"
            if factory is None and default is None and value == var:
                # (None is the default: the local is the value either way)
                checks[key] = [f"    if {var} is None:", f"        {mark}"]
                checks[key] += [f"    elif not ({ok}):", "        raise _Bad"]
                value_of[key] = var
                continue
            absent = f"{gen.bind(factory, '_F')}()" if factory is not None else gen.bind(default, "_D")
            kept = f"_v{var[2:]}"
            checks[key] = [
                f"    if {var} is None:",
                f"        {mark}",
                f"        {kept} = {'None' if factory is None and default is None else absent}",
                f"    elif {ok}:",
                f"        {kept} = {value}",
                "    else:",
                "        raise _Bad",
            ]
            value_of[key] = kept
        checks = {"": [f"    {first}"], **checks}  # ("": before every field's)
        values: dict[str, str] = {}
        for key, default in found.defaults.items():
            if key in value_of:
                values[key] = value_of[key]
                continue
            factory = found.factories.get(key)
            values[key] = f"{gen.bind(factory, '_F')}()" if factory is not None else gen.bind(default, "_D")
        build = [
            f"_o = _new({gen.bind(found.cls, '_K')})",
            f"_put(_o, '__dict__', {{{', '.join(f'{k!r}: {v}' for k, v in values.items())}}})",
        ]
        if frozen:
            # one shared set per pattern of absent optional fields (a bit each): no set per record
            sets = _FieldsSets(frozenset(local), tuple(key for key, _ in optional))
            kept_sets, make = gen.bind(sets.kept, "_FS"), gen.bind(sets.make, "_FM")
            build += [f"_fs = {kept_sets}.get(_m)", f"if _fs is None: _fs = {make}(_m)"]
        build += ["_put_fs(_o, _fs)", "_put_extra(_o, None)", "_put_private(_o, None)", "return _o"]
        gen.ns.update(_new=object.__new__, _put=object.__setattr__, _items_ok=items_ok, _Bad=_NotKept)
        gen.ns.update(_put_fs=put_fields_set, _put_extra=put_extra, _put_private=put_private)
        return checks, values, build

    def _named(self, name: Any, loc: Any, fpath: str) -> Compiled:
        if not isinstance(name, str) or name not in self.specs:
            self.errors.append(MappingError(loc, fpath, f"unknown model '{name}'"))
            return lambda s: None
        # late-bound so models may be declared in any order
        return self.compile(name)


def _render_items(gen: _Gen, fields: LocDict, items: list[str]) -> list[str]:
    """A render object's items, each ``optional`` / ``omit_empty`` key spelled as a spread that
    is empty when the value is None / empty: what ``_drop_none`` and ``_omit_empty`` do after
    the dict is built, without their call and loop (with no ``<<`` spread, which may set the
    key again, nothing else can change the value they would test)."""
    out = []
    for (key, spec), item in zip(fields.items(), items, strict=True):
        optional = isinstance(spec, dict) and spec.get("optional")
        empty = isinstance(spec, dict) and spec.get("omit_empty")
        if not (optional or empty):
            out.append(item)
            continue
        expr = item[len(f"{key!r}: ") :]
        var = f"_o{next(gen.counter)}"
        # (_omit_empty's test, `in` a bound tuple: None, "", {}, [] by identity or equality)
        kept = f"not in {gen.bind((None, '', {}, []), '_e')}" if empty else "is not None"
        out.append(f"**({{{key!r}: {var}}} if ({var} := {expr}) {kept} else {gen.bind({}, '_e')})")
    return out


def _dict_reads(expr: str, source: type[BaseModel]) -> str | None:
    """``expr`` with each read of one of ``source``'s fields (``s.name``) made a read of ``_d``,
    the record's ``__dict__`` (a property, or anything else, is still read from ``s``); None
    when nothing changes.  Rewritten token by token: text in string literals is left alone."""
    if not issubclass(source, BaseModel):
        return None
    fields = source.model_fields
    tokens = list(tokenize.generate_tokens(io.StringIO(expr).readline))
    out: list[tuple[int, str]] = []
    changed = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        prev = tokens[i - 1] if i else None
        if (
            tok.type == tokenize.NAME
            and tok.string == "s"
            and i + 2 < len(tokens)
            and tokens[i + 1].string == "."
            and tokens[i + 2].type == tokenize.NAME
            and tokens[i + 2].string in fields
            and not (prev is not None and prev.string == ".")
        ):
            out += [(tokenize.NAME, "_d"), (tokenize.OP, "["), (tokenize.STRING, repr(tokens[i + 2].string))]
            out.append((tokenize.OP, "]"))
            changed = True
            i += 3
            continue
        out.append((tok.type, tok.string))
        i += 1
    return tokenize.untokenize(out).strip() if changed else None


def _render_inlines(gen: _Gen, names: list[str], fns: list[tr.Fn]) -> dict[str, str]:
    """Render transforms spelled out (``tr.INLINE``): bound name -> a format of the inner
    expression that gives what the function gives, calling it for all but the common case."""
    out: dict[str, str] = {}
    for name, fn in zip(names, fns, strict=True):
        kind, data = tr.INLINE.get(fn, ("", None))
        if kind == "enum":
            # a canonical value the table knows (else: None, "", Unmapped... as the function says)
            table = gen.bind(data, "_tb")
            out[name] = f"(_e if (_e := {table}.get(_s := {{}})) is not None else {name}(_s))"
        elif kind == "slice":
            start, stop = data
            out[name] = f"(_s[{start}:{stop}] if type(_s := {{}}) is str else {name}(_s))"
    return out


def _source_of(spec: Any, key: str) -> str:
    """The data field(s) a field spec reads, as the failure message names them."""
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, Mapping) or "const" in spec:
        return ""
    src = spec.get("from", spec.get("each", key if "fields" not in spec and "model" not in spec else ""))
    return ",".join(map(str, src)) if isinstance(src, list) else str(src or "")


class MappingDataFailure(InternalError, ValueError):
    """Data a compiled mapping could not translate: ``models.ticket.customer_id <- userid: not an
    integer: 'abc'`` (logged; the client gets its dialect's "unavailable" answer).  A ValueError
    too, so that a caller that handles bad data (the backend adapter) still does."""

    default_code = "unavailable"

    def __init__(self, spec_path: str, data_field: str, reason: str) -> None:
        self.spec_path, self.data_field, self.reason = spec_path, data_field, reason
        self.detail = f"{spec_path} <- {data_field}: {reason}" if data_field else f"{spec_path}: {reason}"
        super().__init__("The gateway could not translate the backend's data")


def _failure(direction: str, client_params: bool) -> Callable[[Any, Exception, Any, str], Exception]:
    def fail(source: Any, exc: Exception, probes: Any, path: str) -> Exception:
        if isinstance(exc, MappingDataFailure | GatewayError):
            return exc  # a nested model's failure, already located (and logged)
        spec_path, data_field, reason = path, "", f"{exc}"
        for fpath, field, probe in probes:
            try:
                probe(source)
            except tr.DATA_ERRORS as inner:
                spec_path, data_field, reason = fpath, field, f"{inner}"
                break
        if client_params:
            # the client's own parameter: its error, not the gateway's
            return InvalidInput(f"{data_field or spec_path}: {reason}", data_field, reason="invalid")
        failure = MappingDataFailure(spec_path, data_field, reason)
        log.error("mapping failure (%s): %s", direction, failure.detail)
        return failure

    return fail


def _absent(value: Any) -> bool:
    """None, "", or a tuple of sources that are all absent."""
    if value is None or value == "":
        return True
    return type(value) is tuple and all(v is None or v == "" for v in value)


_REFUSAL_FORMS = "must be a text, {not_found: KIND} or {reason: CODE}"


def _refusal_ok(refusal: Any) -> bool:
    if isinstance(refusal, str):
        return True
    return (
        isinstance(refusal, Mapping)
        and len(refusal) == 1
        and next(iter(refusal)) in ("not_found", "reason")
        and isinstance(next(iter(refusal.values())), str)
    )


def _refusal(refusal: Any, field: str, detail: str) -> GatewayError:
    """A parameter's ``required:``/``invalid:``: a text, or an error code the dialect words
    (``{not_found: ticket}``: WHMCS's "Ticket ID Not Found" for ``ticketid=abc``)."""
    if isinstance(refusal, Mapping):
        if "not_found" in refusal:
            return NotFound(str(refusal["not_found"]))
        return InvalidInput(field=field, reason=str(refusal.get("reason") or "invalid"))
    return InvalidInput(str(refusal) if refusal is not None else detail, field)


def _guarded(fns: list[tr.Fn], default: Any, required: Any, invalid: Any, param: Any) -> tr.Fn:
    field = param if isinstance(param, str) else ",".join(map(str, param))

    def guarded(value: Any) -> Any:
        if _absent(value) or (required is not None and isinstance(value, str) and not value.strip()):
            if required is not None:
                raise _refusal(required, field, f"{field} is required")
            return default
        try:
            for fn in fns:
                value = fn(value)
        except tr.DATA_ERRORS as exc:
            raise _refusal(invalid, field, f"{field}: {exc}") from None
        return value

    return guarded


def _remote_lines(gen: _Gen, remote: Callable[[Any], canonical.RemoteData | None]) -> list[str]:
    """Statements that set ``_rr``, a record's raw record (``remote:``): the reader called, or,
    for a whole row that holds none of the secrets, its ``RemoteData`` built here (``remote_data``
    without the three calls it is made of)."""
    call = f"_rr = {gen.bind(remote, '_rm')}(s)"
    whole: tuple[str, frozenset[str]] | None = getattr(remote, "whole_row", None)
    if whole is None:
        return [call]
    vendor, drop = whole
    cls, fields_set = gen.bind(canonical.RemoteData, "_K"), gen.bind(_REMOTE_FIELDS, "_RF")
    gen.ns.update(_new=object.__new__, _put=object.__setattr__)
    gen.ns.update(_put_fs=put_fields_set, _put_extra=put_extra, _put_private=put_private)
    return [
        f"if type(s) is dict and s.keys().isdisjoint({gen.bind(drop, '_X')}):",
        f"    _rr = _new({cls})",
        f"    _put(_rr, '__dict__', {{'vendor': {gen.bind(vendor, '_RV')}, 'fields': s}})",
        f"    _put_fs(_rr, {fields_set})",
        "    _put_extra(_rr, None)",
        "    _put_private(_rr, None)",
        "else:",
        f"    {call}",
    ]


class _NotKept(Exception):
    """A generated record constructor's value that its field would not keep as it is: the values
    go to validation instead (raised and caught inside the constructor)."""


class _FieldsSets:
    """The fields sets a generated record constructor gives a frozen class's records: one shared
    set per pattern of absent optional fields (``mask``: bit ``i`` set when ``optional[i]`` is
    None), kept as they are first met; past ``limit`` patterns, a set per record."""

    __slots__ = ("_given", "_optional", "kept", "limit")

    def __init__(self, given: frozenset[str], optional: tuple[str, ...], limit: int = 256) -> None:
        self._given, self._optional, self.limit = given, optional, limit
        self.kept: dict[int, set[str]] = {}  # (read by the generated code directly: no call on a hit)

    def make(self, mask: int) -> set[str]:
        """The set for ``mask`` met the first time."""
        fields = set(self._given)
        fields.difference_update(key for i, key in enumerate(self._optional) if mask >> i & 1)
        if len(self.kept) < self.limit:
            self.kept[mask] = fields
        return fields


_REMOTE_FIELDS = {"vendor", "fields"}  # (RemoteData is frozen: its records share their fields set)


def remote_data(vendor: str, fields: dict[str, Any]) -> canonical.RemoteData:
    """``RemoteData.model_construct(vendor=vendor, fields=fields)``, without its generic walk over
    the class's fields (a fifth of a ticket row's parse): the same instance state, set directly."""
    return instance(canonical.RemoteData, {"vendor": vendor, "fields": fields}, _REMOTE_FIELDS)


def _remote_reader(vendor: str, path: str, drop: frozenset[str]) -> Callable[[Any], canonical.RemoteData | None]:
    """A parse model's ``remote:``: the raw record (``RemoteData``) kept beside the canonical one,
    for same-vendor identity, minus the ``drop`` keys (secrets); None when it is not a record."""
    parts = () if path == "$" else tuple(path.split("."))
    dropped = tuple(sorted(drop))

    def remote(s: Any) -> canonical.RemoteData | None:
        raw = _dig(s, parts) if parts else s
        if not isinstance(raw, dict):
            return None
        if drop and raw.keys().isdisjoint(drop):
            # nothing to leave out (the PMP adapter takes the secrets out of the rows it decodes):
            # the record itself, which no one changes once parsed
            return remote_data(vendor, raw)
        # a copy less the secrets (a C-level copy then a few deletions: a row has ~100 columns
        # and the comprehension that filtered each one was a fifth of a ticket's parse)
        fields = raw.copy()
        pop = fields.pop
        for key in dropped:
            pop(key, None)
        # built as the record (the copy above is its own): validating it would copy it again
        return remote_data(vendor, fields)

    if not parts and drop:
        # what a generated record constructor does itself for the usual row (one with none of
        # the secrets: the row itself is the raw record): see ModelCompiler._finish_record
        remote.whole_row = (vendor, drop)  # type: ignore[attr-defined]
    return remote


def _keeping_remote(fn: Compiled, reader: Callable[[Any], canonical.RemoteData | None]) -> Compiled:
    """A parse model with ``remote:`` (its dict, with ``remote`` = the reader's RemoteData)."""

    def parse(s: Any) -> Any:
        out = fn(s)
        if isinstance(out, dict):
            remote = reader(s)
            if remote is not None:
                out["remote"] = remote
        return out

    return parse


#: most source columns a record's memo key is made of (a bigger record is not worth keying)
_KEY_COLUMNS = 16
#: records each memo of records keeps (per compiled model)
RECORD_MEMO_SIZE = 256


def _spec_columns(fields: Mapping[str, Any], named: Callable[[str], tuple[str, ...] | None]) -> list[str] | None:
    """The top-level source keys ``fields`` read (``named``: a nested model's own), or None when
    they read anything else: the whole source, a dotted path, a list of items, another record."""
    found: list[str] = []
    for key, spec in fields.items():
        if isinstance(spec, str):
            spec = {"from": spec}
        if not isinstance(spec, Mapping):
            continue  # a bare constant
        if "const" in spec:
            continue
        if "each" in spec or (("fields" in spec or "model" in spec) and "from" in spec):
            return None
        if "model" in spec:
            inner = named(spec["model"]) if isinstance(spec["model"], str) else None
            if inner is None:
                return None
            found.extend(inner)
            continue
        if "fields" in spec:
            nested = _spec_columns(spec["fields"], named) if isinstance(spec["fields"], Mapping) else None
            if nested is None:
                return None
            found.extend(nested)
            continue
        sources = spec.get("from", key)
        for path in sources if isinstance(sources, list) else [sources]:
            if not isinstance(path, str) or not path or path == "$" or "." in path:
                return None
            found.append(path)
    return found


def _record_fallback(target: type[BaseModel]) -> Compiled:
    """What ``_as_record`` does with a dict of field values (None for "not given"): the record
    built or validated, else the dict less its Nones (an outer record's validation then raises
    the error, at its place)."""
    validate = target.__pydantic_validator__.validate_python
    build = record_builder(target, validate) or (lambda d: validate(_strip_none(d)))

    def fallback(values: dict[str, Any]) -> Any:
        try:
            return build(values)
        except ValidationError:
            return _strip_none(values)

    return fallback


def _as_record(
    fn: Compiled, target: type[BaseModel], columns: tuple[str, ...] | None, volatile: bool, inline: bool = False
) -> Compiled:
    """A parse model's dict validated into its canonical record.

    The record is handed back instead of the dict, so that a model nesting this one gets the
    record already built (validating the outer record then keeps it as it is).  A dict that
    does not validate is handed back as it is: the caller's own validation of the outer record
    raises the error the dict would have raised there.

    ``columns``: the source keys the model reads, when its result depends on nothing else.
    Records are immutable, so equal columns give back the very same record (a ticket's
    requester, department and opening message do not change when its status does): no parse,
    no validation, and the render memo, which knows records by identity, hits.  Only texts
    (and None) key it: ``1``, ``1.0`` and ``True`` are equal keys that may not parse alike."""
    validate = target.__pydantic_validator__.validate_python
    values = _record_fallback(target)

    def wrapped(s: Any) -> Any:
        out = fn(s)  # the record, or the field values, None for "not given" (see _object's keep_none)
        if type(out) is target:
            return out
        if type(out) is dict:
            return values(out)
        try:
            return validate(out)
        except ValidationError:
            return out

    # (an inline record builds its record itself, and validates what it cannot build: _finish_record)
    record: Compiled = fn if inline else wrapped
    if columns is None:
        if volatile:
            _VOLATILE.add(record)
        return record
    ns: dict[str, Any] = {"_record": record, "_cls": target, "_cache": {}, "_order": deque(), "_box": tr._UNMAPPED_SEEN}
    names = [f"_a{i}" for i in range(len(columns))]
    texts = " and ".join(f"(type({n}) is str or {n} is None)" for n in names) or "True"
    # Only keys of texts and None are kept, and a text equals only a text: a key holding a number,
    # a boolean or a float may be looked up (it cannot be found there); one holding a list cannot
    # be hashed (that row is parsed, never kept)
    source = (
        "def _interned(s):\n"
        "    if type(s) is not dict:\n"
        "        return _record(s)\n"
        f"    _key = ({''.join(f's.get({c!r}), ' for c in columns)})\n"
        "    try:\n"
        "        _hit = _cache.get(_key)\n"
        "    except TypeError:\n"
        "        return _record(s)\n"
        "    if _hit is not None:\n"
        "        return _hit\n"
        f"    ({''.join(n + ', ' for n in names)}) = _key\n"
        f"    if not ({texts}):\n"
        "        return _record(s)\n"
        "    _seen = _box[0]\n"
        "    _out = _record(s)\n"
        "    # (a record that met an unmapped enum value is not kept: its metric counts every read)\n"
        "    if type(_out) is _cls and _box[0] == _seen:\n"
        f"        if len(_cache) >= {RECORD_MEMO_SIZE}:\n"
        "            del _cache[_order.popleft()]\n"
        "        _cache[_key] = _out\n"
        "        _order.append(_key)\n"
        "    return _out\n"
    )
    exec(compile(source, f"<record {target.__name__} memo>", "exec"), ns)
    interned: Compiled = ns["_interned"]
    interned.__wrapped__ = record  # type: ignore[attr-defined]
    return interned


def _exec(gen: _Gen, name: str) -> Compiled:
    source = "\n".join(gen.lines)
    exec(compile(source, f"<mapping {name}>", "exec"), gen.ns)
    fn: Compiled = gen.ns["_model"]
    if gen.volatile:
        _VOLATILE.add(fn)
    return fn


#: renderings an identity_memo keeps (per compiled function)
MEMO_SIZE = 512


def identity_memo(fn: Compiled, size: int = MEMO_SIZE) -> Compiled:
    """``fn`` (a render model) reusing its result for the very same immutable canonical object.

    Canonical records are frozen, and the backend adapter hands back the same object while the
    backend answers the same bytes (``Wire.read_memo``): rendering it again would only rebuild
    an equal dict.  Results are shared between calls, so their consumers (dialect envelopes,
    serialisers) must not change them.  Not cached: a volatile model (the clock), a mutable
    argument, and a rendering that met an unmapped enum value (its metric counts every one).
    """
    if is_volatile(fn):
        return fn
    cache, miss = memo_parts(fn, size)

    def memoised(s: Any) -> Any:
        hit = cache.get(id(s))
        if hit is not None and hit[0]() is s:
            return hit[1]
        return miss(s)

    memoised.__wrapped__ = fn  # type: ignore[attr-defined]
    return memoised


def memo_parts(fn: Compiled, size: int = MEMO_SIZE) -> tuple[dict[int, tuple[Any, Any]], Compiled]:
    """An identity memo as its table (``id(s)`` -> ``(weak reference to s, rendering)``) and its
    miss: ``fn(s)``, kept when it may be.  A hit is the caller's ``hit[0]() is s`` test (generated
    list renders spell it out in the comprehension: an item seen before costs no call at all).

    An entry leaves the table when its object dies: the memo does not keep records alive.  A
    record that outlived its use (a ticket whose row changed: the adapter holds the new one) was
    held for the next few hundred renders, with the raw row it carries, then freed long after
    it left the processor's caches; every new answer then wrote into memory gone cold (in
    callgrind's cache simulation, ~200 last-level write misses a changed GetTicket against 3 for
    the hand-written code).  Now it goes when the adapter lets it go, while still warm."""
    # (an ordered dict: the oldest entry leaves in O(1) when full, and a dead object's entry is
    # taken out wherever it is)
    cache: OrderedDict[int, tuple[Any, Any]] = OrderedDict()
    # (the counter's list and the frozen-type table read directly: a new record pays for this
    # on every item of every list)
    seen_box, frozen = tr._UNMAPPED_SEEN, _FROZEN
    # when the object dies, its entry goes (`cache.pop(key, ref)`, all in C: a Python callback
    # cost a frame per record).  No newer entry can hold that key then: an object's id is not
    # reused while it lives, and its weak references' callbacks run before it is freed.
    drop = cache.pop

    def miss(s: Any) -> Any:
        cls = type(s)
        if not (frozen.get(cls) or _frozen(cls)):
            return fn(s)
        seen = seen_box[0]
        out = fn(s)
        if seen_box[0] == seen:
            key = id(s)
            try:
                ref = _weak(s, _partial(drop, key))
            except TypeError:  # (a record that cannot be referred to weakly is not kept)
                return out
            if len(cache) >= size:
                cache.popitem(last=False)
            cache[key] = (ref, out)
        return out

    return cache, miss


_weak, _partial = weakref.ref, functools.partial
_FROZEN: dict[type, bool] = {}


def _frozen(cls: type) -> bool:
    found = _FROZEN.get(cls)
    if found is None:
        found = _FROZEN[cls] = (
            isinstance(cls, type) and issubclass(cls, BaseModel) and bool(cls.model_config.get("frozen"))
        )
    return found


def model_class(name: Any) -> type[BaseModel] | None:
    """The canonical record or operation class a model's ``source:``/``target:`` names, if any."""
    if not isinstance(name, str):
        return None
    cls = getattr(canonical, name, None) or getattr(operations, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _field_model(target: type[BaseModel] | None, key: str) -> type[BaseModel] | None:
    if target is None or key not in target.model_fields:
        return None
    ann = target.model_fields[key].annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _check_path(
    model: type[BaseModel], parts: tuple[str, ...], loc: Any, fpath: str, errors: list[MappingError]
) -> None:
    current: type[BaseModel] | None = model
    for part in parts:
        if current is None:
            return
        if part in current.model_fields:
            current = _field_model(current, part)
        elif isinstance(getattr(current, part, None), property):
            current = None
        else:
            errors.append(MappingError(loc, fpath, f"{current.__name__} has no field '{part}'"))
            return
