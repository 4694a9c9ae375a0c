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
    key: {..., required: "message", invalid: "message"}    # parse direction only
    key: {..., omit_empty: true}       # render: the key is left out when its value is empty

A parse model may say ``remote: PATH`` (``$`` for the whole source) or ``remote: {from:
PATH, drop: [keys]}``: its result then carries that raw vendor record, minus the dropped
keys, as ``remote`` (canonical ``RemoteData``).  A render model's ``remote:`` passes such a
record of its own vendor through (see ``_passthrough``).

In the parse direction a field whose value comes out None is left out of the
result, so absent input stays absent (a patch changes only what was sent).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from gateway import canonical, operations
from gateway.errors import InvalidInput
from gateway.mapping import transforms as tr
from gateway.mapping.source import LocDict, LocList, MappingError

Compiled = Callable[[Any], Any]

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
            "_omit_empty": _omit_empty,
        }
        self.counter = itertools.count()

    def bind(self, value: Any, prefix: str = "_c") -> str:
        name = f"{prefix}{next(self.counter)}"
        self.ns[name] = value
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


def _omit_empty(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    for key in keys:
        if d.get(key) in (None, "", {}, []):
            d.pop(key, None)
    return d


class ModelCompiler:
    """Compiles the ``models`` of one vendor; errors are collected, not raised one by one."""

    def __init__(self, ctx: tr.CompileContext, specs: Mapping[str, LocDict], errors: list[MappingError]):
        self.ctx = ctx
        self.specs = specs
        self.errors = errors
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
        source = _model_class(spec.get("source"))
        if spec.get("source") is not None and source is None and spec.get("source") != "dict":
            self.errors.append(MappingError(spec.loc_of("source"), f"{name}.source", "unknown canonical model"))
        target = _model_class(spec.get("target"))
        if not isinstance(fields, LocDict):
            self.errors.append(MappingError(spec.loc, name, "a model needs 'fields:'"))
            fn: Compiled = lambda s: None  # noqa: E731
        else:
            gen = _Gen()
            expr = self._object(
                gen,
                fields,
                name if name.startswith("actions.") else f"models.{name}",
                source,
                target,
                spec.get("source") == "dict" or source is None,
            )
            gen.lines.append(f"def _model(s):\n    return {expr}\n")
            fn = _exec(gen, name)
            if spec.get("remote") is not None and self.ctx.direction == "parse":
                fn = self._keeping_remote(fn, spec["remote"], name)
            elif "remote" in spec:
                fn = self._passthrough(spec, fields, name, source, fn)
        self._busy.discard(name)
        self.done[name] = fn
        return fn

    def _keeping_remote(self, fn: Compiled, spec: Any, name: str) -> Compiled:
        """``remote: PATH`` or ``remote: {from: PATH, drop: [key, ...]}`` (``$``: the whole source)."""
        if isinstance(spec, str):
            return _keeping_remote(fn, self.ctx.vendor, spec, frozenset())
        drop = spec.get("drop") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("from", "$"), str) or not isinstance(drop, list):
            where = spec.loc if isinstance(spec, LocDict) else self.specs[name].loc
            message = "must be a path or {from: path, drop: [keys]}"
            self.errors.append(MappingError(where, f"models.{name}.remote", message))
            return fn
        return _keeping_remote(fn, self.ctx.vendor, str(spec.get("from", "$")), frozenset(map(str, drop)))

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

        return passthrough

    # -- expressions -------------------------------------------------------

    def _object(
        self,
        gen: _Gen,
        fields: LocDict,
        path: str,
        source: type[BaseModel] | None,
        target: type[BaseModel] | None,
        from_dict: bool,
    ) -> str:
        items = []
        for key, spec in fields.items():
            fpath = f"{path}.{key}"
            if key == "<<":
                # spread: the fields of another model (or nested fields) merged in here
                items.append("**" + self._field(gen, spec, fields.loc_of(key), fpath, source, target, from_dict, key))
                continue
            if target is not None and key not in target.model_fields:
                self.errors.append(MappingError(fields.loc_of(key), fpath, f"{target.__name__} has no field '{key}'"))
            sub_target = _field_model(target, key)
            expr = self._field(gen, spec, fields.loc_of(key), fpath, source, sub_target, from_dict, key)
            items.append(f"{key!r}: {expr}")
        body = "{" + ", ".join(items) + "}"
        if self.ctx.direction == "parse":
            return f"_strip_none({body})"
        # `omit_empty: true`: the key is left out when its value is empty (WHMCS sends GetTicketCounts'
        # `status` object only when asked for it)
        optional = tuple(k for k, v in fields.items() if isinstance(v, dict) and v.get("omit_empty"))
        return f"_omit_empty({body}, {optional!r})" if optional else body

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
        value = self._getter(gen, spec.get("from", key), loc, fpath, source, from_dict)
        return self._apply(gen, spec, loc, fpath, value, key)

    def _apply(self, gen: _Gen, spec: Mapping[str, Any], loc: Any, fpath: str, value: str, key: str) -> str:
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
        default = spec.get("default")
        required, invalid = spec.get("required"), spec.get("invalid")
        if required is not None or invalid is not None:
            fn = _guarded(fns, default, required, invalid, spec.get("from", key))
            return f"{gen.bind(fn, '_g')}({value})"
        names = [gen.bind(fn, "_t") for fn in fns]

        def chain(inner: str) -> str:
            for name in names:
                inner = f"{name}({inner})"
            return inner

        # several sources (`from: [a, b]`) are absent when every one of them is
        absent = "_absent(_v)" if isinstance(spec.get("from"), list) else "(_v is None or _v == '')"
        if default is not None:
            return f"({gen.bind(default)} if (_v := {value}, {absent})[1] else {chain('_v')})"
        if self.ctx.direction == "parse" and names:
            # absent input stays absent: no transform turns a missing value into a present one
            return f"(None if (_v := {value}, {absent})[1] else {chain('_v')})"
        return chain(value)

    def _each(self, gen: _Gen, spec: Mapping[str, Any], loc: Any, fpath: str, source: Any, from_dict: bool) -> str:
        items = self._getter(gen, spec["each"], loc, fpath, source, from_dict)
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
        source = _model_class(src_name)
        gen = _Gen()
        expr = self._object(gen, fields, fpath, source, target, src_name == "dict" or source is None)
        gen.lines.append(f"def _model(s):\n    return {expr}\n")
        return _exec(gen, fpath)

    def _named(self, name: Any, loc: Any, fpath: str) -> Compiled:
        if not isinstance(name, str) or name not in self.specs:
            self.errors.append(MappingError(loc, fpath, f"unknown model '{name}'"))
            return lambda s: None
        # late-bound so models may be declared in any order
        return self.compile(name)


def _absent(value: Any) -> bool:
    """None, "", or a tuple of sources that are all absent."""
    if value is None or value == "":
        return True
    return type(value) is tuple and all(v is None or v == "" for v in value)


def _guarded(fns: list[tr.Fn], default: Any, required: Any, invalid: Any, param: Any) -> tr.Fn:
    field = param if isinstance(param, str) else ",".join(map(str, param))

    def guarded(value: Any) -> Any:
        if _absent(value) or (required is not None and isinstance(value, str) and not value.strip()):
            if required is not None:
                raise InvalidInput(str(required), field)
            return default
        try:
            for fn in fns:
                value = fn(value)
        except tr.DATA_ERRORS as exc:
            raise InvalidInput(str(invalid) if invalid is not None else f"{field}: {exc}", field) from None
        return value

    return guarded


def _keeping_remote(fn: Compiled, vendor: str, path: str, drop: frozenset[str]) -> Compiled:
    """A parse model with ``remote:`` keeps that raw record beside the canonical one
    (``remote`` = RemoteData), for same-vendor identity, minus the ``drop`` keys (secrets)."""
    parts = () if path == "$" else tuple(path.split("."))

    def parse(s: Any) -> Any:
        out = fn(s)
        raw = _dig(s, parts) if parts else s
        if isinstance(out, dict) and isinstance(raw, dict):
            out["remote"] = {"vendor": vendor, "fields": {k: v for k, v in raw.items() if k not in drop}}
        return out

    return parse


def _exec(gen: _Gen, name: str) -> Compiled:
    source = "\n".join(gen.lines)
    exec(compile(source, f"<mapping {name}>", "exec"), gen.ns)
    fn: Compiled = gen.ns["_model"]
    return fn


def _model_class(name: Any) -> type[BaseModel] | None:
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
