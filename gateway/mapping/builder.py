"""Canonical records built without pydantic's validation when validation could change nothing.

A compiled parse model produces a dict of field values; ``validate_python`` turns it into the
record.  For the values a compiled mapping produces (ints, texts, datetimes, enum members,
records), validation only checks each value's type and copies it into the record's
``__dict__``, with the defaults of the fields left out: about a tenth of a new ticket
row's translation.  :func:`record_builder` does the same directly when every value already
has exactly a type its field accepts as it is, and validates otherwise.

What is checked is each value's *type*, and the set of keys present: the pair is a plan, worked
out once and kept, so a row pays for a tuple of its types and a dict lookup, not for a check per
field.  A class the builder cannot speak for (a validator, a constraint, an alias, a field
annotation it does not know) gets no builder: it is always validated.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

_new, _put = object.__new__, object.__setattr__
# a pydantic model's slots, set through their descriptors (`object.__setattr__` looks each one up)
put_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
put_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
put_private = BaseModel.__dict__["__pydantic_private__"].__set__


def frozen_record(cls: type[BaseModel]) -> bool:
    """Whether ``cls``'s instances are immutable: their fields sets may then be one shared object
    (pydantic changes a fields set only on assignment, which a frozen record refuses, and
    ``model_copy`` copies it before it adds to it).  A record holds the same few sets of given
    fields as thousands of others: a set each was ~200 bytes to 2 KB per record kept."""
    return bool(cls.model_config.get("frozen"))


def shared_fields_set(fields: frozenset[str], kept: dict[frozenset[str], set[str]]) -> set[str]:
    """The one set of ``fields`` records of a frozen class share (made on its first use)."""
    found = kept.get(fields)
    if found is None:
        found = kept[fields] = set(fields)
    return found


def instance(cls: type[M], values: dict[str, Any], fields_set: set[str]) -> M:
    """The instance of ``cls`` validation builds from ``values`` (every field, in field order, each
    already what validation would keep) given ``fields_set``: its state set directly."""
    out: M = _new(cls)
    _put(out, "__dict__", values)
    put_fields_set(out, fields_set)
    put_extra(out, None)
    put_private(out, None)
    return out


#: plans (key sets and value types) kept per class; more are validated, not planned
PLAN_LIMIT = 64

_NONE = type(None)
M = TypeVar("M", bound=BaseModel)
#: value types a field of that annotation keeps as they are (the exact type: a ``bool`` in an
#: ``int`` field, a ``str`` subclass, a ``date`` in a ``datetime`` field all go to pydantic)
_PLAIN = (int, str, bool, datetime)


@dataclass(frozen=True)
class _Field:
    """What a field accepts unchanged: exact ``types``; or, for ``tuple[X, ...]``, a list or tuple
    whose items are exactly ``items``; or, for a ``Literal``, one of ``values``."""

    types: frozenset[type]
    items: frozenset[type] | None = None
    values: frozenset[Any] | None = None


def _field(annotation: Any) -> _Field | None:
    """What ``annotation`` accepts unchanged, or None when the builder cannot say."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [_field(arg) for arg in typing.get_args(annotation) if arg is not _NONE]
        if not parts or any(p is None or p.items is not None or p.values is not None for p in parts):
            return None
        return _Field(frozenset().union(*(p.types for p in parts if p is not None)))
    if origin is typing.Literal:
        values = typing.get_args(annotation)
        if not all(type(v) is str for v in values):
            return None
        return _Field(frozenset({str}), values=frozenset(values))
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) != 2 or args[1] is not Ellipsis:
            return None
        item = _field(args[0])
        if item is None or item.items is not None or item.values is not None:
            return None
        return _Field(frozenset({tuple, list}), items=item.types)
    if origin is not None or not isinstance(annotation, type):
        return None
    if annotation in _PLAIN:
        return _Field(frozenset({annotation}))
    if issubclass(annotation, enum.Enum):
        return _Field(frozenset({annotation}))
    if issubclass(annotation, BaseModel) and _plain_model(annotation):
        # a record of exactly that class is kept as it is (pydantic's revalidate_instances="never")
        return _Field(frozenset({annotation}))
    return None


def _plain_model(cls: type[BaseModel]) -> bool:
    """A model pydantic validates field by field only: no validators, post-init, private or extra
    attributes, aliases or constraints, and instances kept as they are."""
    config = cls.model_config
    decorators = cls.__pydantic_decorators__
    return (
        config.get("revalidate_instances", "never") == "never"
        and config.get("extra") in (None, "ignore", "forbid")
        and not config.get("strict")
        and not config.get("validate_default")
        and not config.get("from_attributes")
        and cls.__pydantic_post_init__ is None
        and not cls.__private_attributes__
        and not (
            decorators.validators
            or decorators.field_validators
            or decorators.root_validators
            or decorators.model_validators
        )
        and all(
            f.alias is None and f.validation_alias is None and not f.metadata and f.discriminator is None
            for f in cls.model_fields.values()
        )
    )


@dataclass(frozen=True)
class _Plan:
    """How one key set with one set of value types becomes the record."""

    present: frozenset[str]  # the keys given a value (the record's fields set)
    fields_set: set[str] | None  # the one set a frozen class's records built by this plan share
    reset: tuple[str, ...]  # keys given None: their default again (the dict had them last)
    factories: tuple[tuple[str, Callable[[], Any]], ...]  # absent keys whose default is made per record
    sequences: tuple[tuple[str, frozenset[type]], ...]  # list/tuple values: items checked, made tuples
    literals: tuple[tuple[str, frozenset[Any]], ...]  # texts that must be one of the values


@dataclass(frozen=True)
class Shape:
    """What a record class's validation does, for the values it keeps as they are: each field's
    accepted values, its default (or default factory) and whether it is required."""

    cls: type[BaseModel]
    accepts: dict[str, _Field]
    defaults: dict[str, Any]  # field order; None for a required or factory-made field
    factories: dict[str, Callable[[], Any]]
    required: frozenset[str]


def shape(cls: type[BaseModel]) -> Shape | None:
    """``cls``'s shape, or None when the builder cannot speak for its validation."""
    if not _plain_model(cls):
        return None
    accepts: dict[str, _Field] = {}
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    required: set[str] = set()
    for name, info in cls.model_fields.items():
        spec = _field(info.annotation)
        if spec is None:
            return None
        accepts[name] = spec
        if info.default_factory is not None:
            factories[name] = info.default_factory  # type: ignore[assignment]
            defaults[name] = None
        elif info.default is PydanticUndefined:
            required.add(name)
            defaults[name] = None
        else:
            if type(info.default) not in (*spec.types, _NONE):
                return None  # a default validation would not keep as it is (it is not validated, though)
            defaults[name] = info.default
    return Shape(cls, accepts, defaults, factories, frozenset(required))


def record_builder(cls: type[BaseModel], validate: Callable[[Any], Any]) -> Callable[[dict[str, Any]], Any] | None:
    """``validate(d)`` for a dict ``d`` of field values where None means "not given" (as a parse
    model's dict before ``_strip_none``), built directly when validation could not change a value.

    The record is the one validation would make: the same ``__dict__`` (field order, defaults,
    default factories called), the same fields set; any other dict goes to ``validate`` with its
    None values left out.  None when ``cls`` is not a model the builder can speak for."""
    found_shape = shape(cls)
    if found_shape is None:
        return None
    accepts, template, factories = found_shape.accepts, found_shape.defaults, found_shape.factories
    required = found_shape.required
    plans: dict[tuple[tuple[str, ...], tuple[type, ...]], _Plan | None] = {}
    strip = _strip_none
    frozen = frozen_record(cls)
    shared: dict[frozenset[str], set[str]] = {}

    def plan(keys: tuple[str, ...], kinds: tuple[type, ...]) -> _Plan | None:
        present: set[str] = set()
        reset, sequences, literals = [], [], []
        for key, kind in zip(keys, kinds, strict=True):
            spec = accepts.get(key)
            if spec is None:
                return None  # not a field: validation's error
            if kind is _NONE:
                if key in factories or template[key] is not None:
                    reset.append(key)
                continue
            if kind not in spec.types:
                return None
            present.add(key)
            if spec.items is not None:
                sequences.append((key, spec.items))
            if spec.values is not None:
                literals.append((key, spec.values))
        if not required <= present:
            return None
        made = tuple((k, f) for k, f in factories.items() if k not in present)
        reset = [k for k in reset if k not in factories]
        given = frozenset(present)
        fields_set = shared_fields_set(given, shared) if frozen else None
        return _Plan(given, fields_set, tuple(reset), made, tuple(sequences), tuple(literals))

    def build(d: dict[str, Any]) -> Any:
        keys = tuple(d)
        kinds = tuple(map(type, d.values()))
        try:
            found = plans[keys, kinds]
        except KeyError:
            found = plan(keys, kinds)
            if len(plans) < PLAN_LIMIT:
                plans[keys, kinds] = found
        if found is None:
            return validate(strip(d))
        values = template.copy()
        values.update(d)
        for key in found.reset:
            values[key] = template[key]
        for key, factory in found.factories:
            values[key] = factory()
        for key, allowed in found.sequences:
            seq = values[key]
            for item in seq:
                if type(item) not in allowed:
                    return validate(strip(d))
            if type(seq) is list:
                values[key] = tuple(seq)
        for key, allowed in found.literals:
            if values[key] not in allowed:
                return validate(strip(d))
        fields_set = found.fields_set
        return instance(cls, values, set(found.present) if fields_set is None else fields_set)

    return build


def items_ok(seq: Any, allowed: frozenset[type]) -> bool:
    """Every item of ``seq`` is exactly of one of the ``allowed`` types (a loop: ``all()`` over a
    generator costs a frame more, for every list of every record)."""
    for item in seq:  # noqa: SIM110
        if type(item) not in allowed:
            return False
    return True


def _strip_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
