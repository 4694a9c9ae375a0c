"""Load, validate and compile every vendor's mapping files, once.

Layout: ``<root>/<vendor>/*.yaml``.  The packaged root ships inside the
``gateway`` package; an operator's ``--mappings DIR`` is laid over it:

* a file with the same relative path as a packaged one (``whmcs/common.yaml``)
  is merged into it by key, at every depth: mappings merge, anything else (a
  text, a list) replaces the packaged value, and ``null`` removes a packaged
  entry (``Customer-Reply: null`` next to ``Awaiting Staff: customer_reply``
  renames a status).  What it overrides is listed by ``gateway check``;
* another file adds to the vendor, and an entry (enum, date, model, action,
  setting) it defines replaces the keys it restates of the entry of the same
  name (an overlay's status table restating ``values:`` keeps ``canonical:``).

Top-level keys of a vendor file:

    enums:    {name: {canonical: Status|Priority, values: {vendor: canonical}, to_vendor: {...}, unmapped: X}}
    dates:    {name: {format: "Y-m-d H:i:s", zone: backend|display|<IANA>}}
    models:   {name: {direction: parse|render, source: Model|dict, target: Model, fields: {...}}}
    actions:  {Name: {operation: op, params: {...}, result: model|{fields}, unsupported: {param: msg}, ...}}
    settings: {vendor data read by the dialect or backend; typed per vendor in vendor_settings.py}

``gateway check`` and the server both call :func:`load_mappings`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from gateway import canonical
from gateway.mapping.compiler import Compiled, ModelCompiler, identity_memo, model_class
from gateway.mapping.source import Loc, LocDict, LocList, MappingError, MappingErrors, load_yaml
from gateway.mapping.transforms import CompileContext, DateSpec, EnumTable, UnmappedHook
from gateway.mapping.vendor_settings import VendorSettings, check_placeholders, validate_settings
from gateway.operations import OPERATIONS

M = TypeVar("M", bound=BaseModel)
PACKAGED_ROOT = Path(__file__).resolve().parent.parent / "mappings"
_TOP_KEYS = frozenset({"enums", "dates", "models", "actions", "settings"})
_ACTION_KEYS = frozenset({"operation", "params", "result", "unsupported", "options"})


@dataclass(frozen=True)
class ActionSpec:
    name: str
    operation: str
    params: Compiled
    result: Compiled | None
    unsupported: Mapping[str, str]
    options: Mapping[str, Any]
    loc: Loc


@dataclass(frozen=True)
class VendorMappings:
    vendor: str
    enums: Mapping[str, EnumTable]
    dates: Mapping[str, DateSpec]
    models: Mapping[str, Compiled]
    actions: Mapping[str, ActionSpec]
    settings: Mapping[str, Any]
    files: tuple[str, ...] = ()
    # the same settings, validated against the vendor's model (gateway.mapping.vendor_settings)
    config: VendorSettings = field(default_factory=VendorSettings)
    # parse models with a `target:`, yielding that canonical record (see record())
    records: Mapping[str, Compiled] = field(default_factory=lambda: Records())

    def action(self, name: str) -> ActionSpec | None:
        return self.actions.get(name)

    def model(self, name: str) -> Compiled:
        return self.models[name]

    def record(self, name: str) -> Compiled | None:
        """``target.model_validate(model(name)(source))`` as one function, for a parse model with a
        ``target:`` (None for any other): the same record or the same error, built with the
        records of its nested models already made, and the same record again for equal columns
        where the model reads only a few (compiler._as_record)."""
        return self.records.get(name)

    def unvalidated_record(self, name: str, target: type[M]) -> Compiled:
        """``record(name)`` without its last step, for a hot path that tests the type itself: the
        ``target`` record, or the field values whose ``target.model_validate`` raises the error
        ``record(name)`` would (a value of a type no field keeps).  For a model without a record
        of that class, ``parse(name, ·, target)``."""
        found = self.records.unvalidated(name, target) if isinstance(self.records, Records) else None
        return found if found is not None else functools.partial(self.parse, name, target=target)

    def secrets(self, name: str) -> frozenset[str]:
        """The keys parse model ``name`` leaves out of the raw record it keeps (``remote: {drop:}``)."""
        return self.records.dropped(name) if isinstance(self.records, Records) else frozenset()

    def parse(self, name: str, source: Any, target: type[M]) -> M:
        """``source`` parsed by model ``name`` into a ``target`` record: its record where it has one
        of that class (record()), else its dict validated."""
        record = self.records.get(name)
        if record is not None:
            out = record(source)
            if type(out) is target:
                return out
        return target.model_validate(self.models[name](source))


@dataclass(frozen=True)
class ZoneConfig:
    """Time zones: the backend's, and each dialect's display zone (None: the backend's)."""

    backend: str = "UTC"
    display: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Override:
    """One packaged entry an overlay file changes (``removed``: the overlay set it to null)."""

    loc: Loc  # where the overlay says it
    path: str  # the entry, e.g. enums.status.values.Customer-Reply
    packaged: Loc  # where the packaged file says it
    removed: bool = False

    def __str__(self) -> str:
        verb = "removes" if self.removed else "overrides"
        return f"{self.loc}: {self.path}: {verb} the packaged entry ({self.packaged})"


@dataclass(frozen=True)
class MappingSet:
    vendors: Mapping[str, VendorMappings]
    overrides: tuple[Override, ...] = ()

    def __getitem__(self, vendor: str) -> VendorMappings:
        return self.vendors[vendor]

    def get(self, vendor: str) -> VendorMappings | None:
        return self.vendors.get(vendor)


def _noop_hook(vendor: str, enum: str, value: str) -> None:
    return None


def collect_layers(roots: Iterable[Path]) -> dict[str, dict[str, list[Path]]]:
    """vendor -> {relative name -> its files, packaged first, overlays after}."""
    found: dict[str, dict[str, list[Path]]] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.glob("*/*.yaml")) + sorted(root.glob("*/*.yml")):
            found.setdefault(path.parent.name, {}).setdefault(path.name, []).append(path)
    return found


def collect_files(roots: Iterable[Path]) -> dict[str, dict[str, Path]]:
    """vendor -> {relative name -> the top layer's path}."""
    return {v: {n: layers[-1] for n, layers in files.items()} for v, files in collect_layers(roots).items()}


def overlay_merge(base: LocDict, over: LocDict, path: str, overrides: list[Override]) -> LocDict:
    """``over`` laid on ``base`` by key at every depth; what it changes goes to ``overrides``."""
    out = _empty(base.loc)
    out.update(base)
    out.key_locs = dict(base.key_locs)
    for key, value in over.items():
        where = f"{path}.{key}" if path else key
        packaged = key in base
        previous = base.get(key)
        if value is None:
            if packaged:
                overrides.append(Override(over.loc_of(key), where, base.loc_of(key), removed=True))
                del out[key]
                out.key_locs.pop(key, None)
            continue
        if isinstance(previous, LocDict) and isinstance(value, LocDict):
            out[key] = overlay_merge(previous, value, where, overrides)
            continue
        if packaged:
            overrides.append(Override(over.loc_of(key), where, base.loc_of(key)))
        out[key] = value
        out.key_locs[key] = over.loc_of(key)
    return out


def _load_layers(layers: list[Path], errors: list[MappingError], overrides: list[Override]) -> LocDict | None:
    merged: LocDict | None = None
    for path in layers:
        try:
            doc = load_yaml(path, _display(path))
        except MappingError as exc:
            errors.append(exc)
            continue
        if not isinstance(doc, LocDict):
            errors.append(MappingError(Loc(_display(path), 1, 1), "", "a mapping file holds a mapping"))
            continue
        merged = doc if merged is None else overlay_merge(merged, doc, "", overrides)
    return merged


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_mappings(
    overlay: Path | None = None,
    zones: ZoneConfig | None = None,
    on_unmapped: UnmappedHook = _noop_hook,
    *,
    roots: Iterable[Path] | None = None,
) -> MappingSet:
    """Every vendor's mappings, compiled; raises MappingErrors listing every problem."""
    all_roots = list(roots) if roots is not None else [PACKAGED_ROOT]
    errors: list[MappingError] = []
    if overlay is not None:
        if not overlay.is_dir():
            raise MappingErrors([MappingError(Loc(str(overlay), 0, 0), "", "mappings directory not found")])
        all_roots.append(overlay)
    zone_cfg = zones or ZoneConfig()
    vendors: dict[str, VendorMappings] = {}
    overrides: list[Override] = []
    for vendor, files in sorted(collect_layers(all_roots).items()):
        docs = []
        # packaged files first, then each overlay's new files: a later file's entries win,
        # so an overlay's own file is never undone by a packaged one that sorts after it
        for name in files:
            doc = _load_layers(files[name], errors, overrides)
            if doc is not None:
                docs.append(doc)
        vendors[vendor] = _compile_vendor(vendor, docs, zone_cfg, on_unmapped, errors)
    if errors:
        raise MappingErrors(errors)
    return MappingSet(vendors, tuple(overrides))


def _merge(docs: list[LocDict], errors: list[MappingError]) -> dict[str, LocDict]:
    merged: dict[str, LocDict] = {}
    for doc in docs:
        for top, section in doc.items():
            if top not in _TOP_KEYS:
                errors.append(
                    MappingError(doc.loc_of(top), top, f"unknown section (expected one of {sorted(_TOP_KEYS)})")
                )
                continue
            if not isinstance(section, LocDict):
                errors.append(MappingError(doc.loc_of(top), top, "must be a mapping"))
                continue
            target = merged.setdefault(top, _empty(section.loc))
            for key, value in section.items():
                previous = target.get(key)
                if isinstance(previous, LocDict) and isinstance(value, LocDict):
                    # a later layer's entry keeps what it does not restate (an overlay's
                    # status table inherits `canonical:` and `unmapped:`), replaces the rest
                    merged_entry = _empty(value.loc)
                    merged_entry.update(previous)
                    merged_entry.key_locs = dict(previous.key_locs)
                    merged_entry.update(value)
                    merged_entry.key_locs.update(value.key_locs)
                    value = merged_entry
                target[key] = value
                target.key_locs[key] = section.loc_of(key)
    return merged


def _empty(loc: Loc) -> LocDict:
    d = LocDict()
    d.loc = loc
    d.key_locs = {}
    return d


def _zone_resolver(vendor: str, cfg: ZoneConfig) -> Callable[[str], tzinfo | None]:
    def resolve(name: str) -> tzinfo | None:
        if name == "backend":
            return _zone(cfg.backend)
        if name == "display":
            return _zone(cfg.display.get(vendor) or cfg.backend)
        return _zone(name)

    return resolve


def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    return ZoneInfo(name)


def _compile_vendor(
    vendor: str, docs: list[LocDict], zones: ZoneConfig, hook: UnmappedHook, errors: list[MappingError]
) -> VendorMappings:
    merged = _merge(docs, errors)
    enums = _enums(merged.get("enums"), errors)
    dates = _dates(merged.get("dates"), zones, vendor, errors)
    resolver = _zone_resolver(vendor, zones)
    model_specs = merged.get("models") or _empty(Loc(vendor, 0, 0))
    parse_specs = {n: s for n, s in model_specs.items() if isinstance(s, LocDict) and s.get("direction") == "parse"}
    render_specs = {n: s for n, s in model_specs.items() if isinstance(s, LocDict) and s.get("direction") != "parse"}
    for n, s in model_specs.items():
        if not isinstance(s, LocDict):
            errors.append(MappingError(model_specs.loc_of(n), f"models.{n}", "must be a mapping"))
        elif s.get("direction", "render") not in ("parse", "render"):
            errors.append(MappingError(s.loc_of("direction"), f"models.{n}.direction", "must be parse or render"))
    parse_ctx = CompileContext(vendor, "parse", enums, dates, resolver, hook)
    render_ctx = CompileContext(vendor, "render", enums, dates, resolver, hook)
    parser = ModelCompiler(parse_ctx, parse_specs, errors)
    renderer = ModelCompiler(render_ctx, render_specs, errors)
    models: dict[str, Compiled] = {}
    for name in parse_specs:
        models[name] = parser.compile(name)
    for name in render_specs:
        models[name] = renderer.compile(name)
    actions = _actions(merged.get("actions"), parser, renderer, errors)
    settings = dict(merged.get("settings") or {})
    config = validate_settings(vendor, merged.get("settings"), errors)
    files = tuple(str(d.loc.file) for d in docs)
    records = Records(parse_ctx, parse_specs) if not errors else Records()
    return VendorMappings(vendor, enums, dates, models, actions, settings, files, config, records)


class Records(Mapping[str, Compiled]):
    """The parse models with a target, compiled a second time to yield their records, each on
    first use (most installations read a few of them; compiling all at every load cost as much
    as a fifth of the load).  The specs are the ones just compiled without error, so nothing new
    can be found wrong here."""

    def __init__(self, ctx: CompileContext | None = None, specs: Mapping[str, LocDict] | None = None) -> None:
        self._specs = dict(specs or {})
        self._targets = {n: model_class(s.get("target")) for n, s in self._specs.items()}
        self._recorder = ModelCompiler(ctx, self._specs, [], records=True) if ctx is not None else None
        self._done: dict[str, Compiled] = {}

    def __getitem__(self, name: str) -> Compiled:
        fn = self._done.get(name)
        if fn is None:
            target = self._targets.get(name)
            if target is None or self._recorder is None:
                raise KeyError(name)
            fn = self._done[name] = _validated(self._recorder.compile(name), target)
        return fn

    def get(self, name: str, default: Any = None) -> Any:
        # (Mapping.get goes through __getitem__ and a KeyError: two Python calls a parsed row)
        fn = self._done.get(name)
        if fn is not None:
            return fn
        try:
            return self[name]
        except KeyError:
            return default

    def unvalidated(self, name: str, target: type[BaseModel]) -> Compiled | None:
        """Model ``name``'s record function before ``_validated``: its ``target`` record, or the field
        values to validate (None when the model has no record of that class)."""
        if self._targets.get(name) is not target or self._recorder is None:
            return None
        return self._recorder.compile(name)

    def dropped(self, name: str) -> frozenset[str]:
        """The keys model ``name``'s ``remote: {drop: [...]}`` leaves out of the raw record it keeps."""
        spec = self._specs.get(name)
        remote = spec.get("remote") if spec is not None else None
        drop = remote.get("drop") if isinstance(remote, dict) else None
        return frozenset(map(str, drop)) if isinstance(drop, list) else frozenset()

    def __iter__(self) -> Iterator[str]:
        return (n for n, t in self._targets.items() if t is not None)

    def __len__(self) -> int:
        return sum(1 for t in self._targets.values() if t is not None)


def _validated(fn: Compiled, target: type[BaseModel]) -> Compiled:
    validate = target.__pydantic_validator__.validate_python

    def record(source: Any) -> Any:
        out = fn(source)
        # a dict here did not validate: validating it again raises its error
        return out if type(out) is target else validate(out)

    record.__wrapped__ = fn  # type: ignore[attr-defined]
    return record


def _enums(section: LocDict | None, errors: list[MappingError]) -> dict[str, EnumTable]:
    tables: dict[str, EnumTable] = {}
    for name, spec in (section or {}).items():
        path = f"enums.{name}"
        if not isinstance(spec, LocDict) or not isinstance(spec.get("values"), LocDict):
            where = spec.loc if isinstance(spec, LocDict) else section.loc_of(name)  # type: ignore[union-attr]
            errors.append(MappingError(where, path, "an enum needs 'values:' (vendor value: canonical value)"))
            continue
        kind_name = spec.get("canonical")
        kind: type[canonical.Status] | type[canonical.Priority] | None = None
        if kind_name == "Status":
            kind = canonical.Status
        elif kind_name == "Priority":
            kind = canonical.Priority
        elif kind_name is not None:
            errors.append(MappingError(spec.loc_of("canonical"), f"{path}.canonical", "must be Status or Priority"))
        values: LocDict = spec["values"]
        to_canonical: dict[str, Any] = {}
        inverse: dict[Any, str] = {}
        for vendor_value, canon in values.items():
            converted = _canon_value(kind, canon, values.loc_of(vendor_value), f"{path}.values.{vendor_value}", errors)
            to_canonical[str(vendor_value).casefold()] = converted
            if not isinstance(converted, frozenset):
                inverse.setdefault(converted, str(vendor_value))
        overrides = spec.get("to_vendor") or {}
        if not isinstance(overrides, dict):
            errors.append(MappingError(spec.loc_of("to_vendor"), f"{path}.to_vendor", "must be a mapping"))
            overrides = {}
        for canon, vendor_value in overrides.items():
            where = overrides.loc_of(canon) if isinstance(overrides, LocDict) else spec.loc
            converted = _canon_value(kind, canon, where, f"{path}.to_vendor.{canon}", errors)
            inverse[converted] = str(vendor_value)
        unmapped = spec.get("unmapped", "passthrough")
        tables[name] = EnumTable(
            name, kind, to_canonical, inverse, None if unmapped == "passthrough" else str(unmapped)
        )
    return tables


def _canon_value(kind: Any, value: Any, loc: Loc, path: str, errors: list[MappingError]) -> Any:
    if isinstance(value, list):
        return frozenset(_canon_value(kind, v, loc, path, errors) for v in value)
    if kind is None:
        return value
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        errors.append(MappingError(loc, path, f"'{value}' is not a canonical {kind.__name__} ({allowed})"))
        return str(value)


def _dates(section: LocDict | None, zones: ZoneConfig, vendor: str, errors: list[MappingError]) -> dict[str, DateSpec]:
    from gateway.mapping.dates import DateFormatError, compile_formatter

    specs: dict[str, DateSpec] = {}
    for name, spec in (section or {}).items():
        path = f"dates.{name}"
        if not isinstance(spec, LocDict) or not isinstance(spec.get("format"), str):
            errors.append(MappingError(section.loc_of(name), path, "a date needs 'format:'"))  # type: ignore[union-attr]
            continue
        zone = str(spec.get("zone", "display"))
        try:
            compile_formatter(spec["format"], None)
        except DateFormatError as exc:
            errors.append(MappingError(spec.loc_of("format"), f"{path}.format", str(exc)))
            continue
        if zone not in ("backend", "display"):
            try:
                _zone(zone)
            except (ZoneInfoNotFoundError, ValueError):
                errors.append(MappingError(spec.loc_of("zone"), f"{path}.zone", f"unknown time zone '{zone}'"))
                continue
        specs[name] = DateSpec(name, spec["format"], zone)
    return specs


def _actions(
    section: LocDict | None, parser: ModelCompiler, renderer: ModelCompiler, errors: list[MappingError]
) -> dict[str, ActionSpec]:
    actions: dict[str, ActionSpec] = {}
    for name, spec in (section or {}).items():
        path = f"actions.{name}"
        if not isinstance(spec, LocDict):
            errors.append(MappingError(section.loc_of(name), path, "must be a mapping"))  # type: ignore[union-attr]
            continue
        for key in spec:
            if key not in _ACTION_KEYS:
                errors.append(MappingError(spec.loc_of(key), f"{path}.{key}", f"unknown key '{key}'"))
        op_name = spec.get("operation")
        operation = OPERATIONS.get(op_name) if isinstance(op_name, str) else None
        if operation is None:
            errors.append(MappingError(spec.loc_of("operation"), f"{path}.operation", f"unknown operation '{op_name}'"))
            continue
        params_spec = spec.get("params") or _empty(spec.loc)
        params = _inline(parser, params_spec, f"{path}.params", "dict", operation.args.__name__, errors)
        result_spec = spec.get("result")
        result: Compiled | None = None
        if isinstance(result_spec, str):
            if result_spec not in renderer.specs:
                errors.append(MappingError(spec.loc_of("result"), f"{path}.result", f"unknown model '{result_spec}'"))
            else:
                result = renderer.compile(result_spec)
        elif isinstance(result_spec, LocDict):
            result = _inline(renderer, result_spec, f"{path}.result", result_spec.get("source"), None, errors)
        if result is not None:
            # polling clients re-read unchanged records: the same canonical object, the same answer
            result = identity_memo(result)
        unsupported = spec.get("unsupported") or {}
        options = spec.get("options") or {}
        _check_texts(options.get("errors") if isinstance(options, dict) else None, spec, f"{path}.options", errors)
        actions[name] = ActionSpec(name, operation.name, params, result, dict(unsupported), dict(options), spec.loc)
    return actions


def _check_texts(texts: Any, spec: LocDict, path: str, errors: list[MappingError]) -> None:
    """An action's ``options.errors``: error code -> text, with known placeholders."""
    if texts is None:
        return
    options = spec.get("options")
    where = options.loc_of("errors") if isinstance(options, LocDict) else spec.loc
    if not isinstance(texts, dict) or not all(isinstance(v, str) for v in texts.values()):
        errors.append(MappingError(where, f"{path}.errors", "must map error codes to texts"))
        return
    try:
        check_placeholders(texts)
    except ValueError as exc:
        errors.append(MappingError(where, f"{path}.errors", str(exc)))


def _inline(
    compiler: ModelCompiler,
    spec: Any,
    path: str,
    source: Any,
    target: str | None,
    errors: list[MappingError],
) -> Compiled:
    if not isinstance(spec, LocDict):
        errors.append(MappingError(Loc("?", 0, 0), path, "must be a mapping"))
        return lambda s: None
    fields = spec.get("fields", spec) if "fields" in spec else spec
    wrapper = _empty(spec.loc)
    wrapper["fields"] = fields
    if source is not None:
        wrapper["source"] = source
    if target is not None:
        wrapper["target"] = target
    if "remote" in spec:
        wrapper["remote"] = spec["remote"]
        wrapper.key_locs = {"remote": spec.loc_of("remote")}
    compiler.specs = {**compiler.specs, path: wrapper}
    return compiler.compile(path)


def check_errors(overlay: Path | None = None, zones: ZoneConfig | None = None) -> list[MappingError]:
    """What ``gateway check`` reports for the mappings: [] when they load."""
    try:
        load_mappings(overlay, zones)
    except MappingErrors as exc:
        return exc.errors
    return []


__all__ = [
    "PACKAGED_ROOT",
    "ActionSpec",
    "LocList",
    "MappingSet",
    "Override",
    "VendorMappings",
    "ZoneConfig",
    "check_errors",
    "load_mappings",
]
