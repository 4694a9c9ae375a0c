"""Argument models built without pydantic's validator where validation could change nothing.

Every request with parameters not seen before (a GetTicket of a new ticket id) builds its
operation's argument model.  For a model whose fields are plain scalars (``int``, ``str``,
``bool``, ``float``, optional or not: no constraints, aliases, validators or defaults to
validate) and values that already are of exactly one of a field's types, validation hands
back the very values it was given, with the defaults for the rest: :func:`construct` builds
that instance directly (about a third of the cost).  Anything else (a value of another
type, a missing required field, an unknown key, a model that does not qualify) answers None
and the caller validates as usual, errors included.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

_SCALARS: frozenset[type] = frozenset({int, str, bool, float, type(None)})
# the only configuration a model may have: any other key (strictness, string trimming, lengths,
# aliases, ...) could change or refuse a value, and the model is validated as usual
_CONFIG_KEYS = frozenset({"frozen", "extra", "title"})
_EXTRA_OK = (None, "forbid", "ignore")  # (an unknown key is never built directly: refused or dropped)
_REQUIRED = object()

# field name -> (the exact types it takes as they are, its default or _REQUIRED)
Fields = dict[str, tuple[frozenset[type], Any]]
_PLAN: dict[type[BaseModel], Fields | None] = {}


def plan(cls: type[BaseModel]) -> Fields | None:
    """How ``cls`` is built directly, or None when it does not qualify (worked out once per class)."""
    if cls in _PLAN:
        return _PLAN[cls]
    found = _plan(cls)
    _PLAN[cls] = found
    return found


def _plan(cls: type[BaseModel]) -> Fields | None:
    config = cls.model_config
    if not config.get("frozen"):
        return None  # (instances are shared between requests only when frozen)
    if not set(config) <= _CONFIG_KEYS or config.get("extra") not in _EXTRA_OK:
        return None
    decorators = cls.__pydantic_decorators__
    if decorators.validators or decorators.field_validators or decorators.root_validators:
        return None
    if decorators.model_validators or cls.__private_attributes__ or cls.__pydantic_post_init__:
        return None
    fields: Fields = {}
    for name, info in cls.model_fields.items():
        kinds = _scalar_types(info.annotation)
        if kinds is None or info.metadata or info.alias or info.validation_alias or info.default_factory:
            return None
        if info.is_required():
            fields[name] = (kinds, _REQUIRED)
        elif type(info.default) in kinds:  # (a default is not validated: it must be one of the types)
            fields[name] = (kinds, info.default)
        else:
            return None
    return fields


def _scalar_types(annotation: Any) -> frozenset[type] | None:
    if annotation in _SCALARS:
        return frozenset({annotation})
    if get_origin(annotation) in (Union, types.UnionType):
        members = get_args(annotation)
        if all(m in _SCALARS for m in members):
            return frozenset(members)
    return None


def construct(cls: type[BaseModel], values: dict[str, Any]) -> BaseModel | None:
    """``cls.model_validate(values)`` without the validator, or None when it might differ."""
    fields = plan(cls)
    if fields is None:
        return None
    for name, value in values.items():
        field = fields.get(name)
        if field is None or type(value) not in field[0]:
            return None  # an unknown key (refused or dropped) or a value validation would convert
    data: dict[str, Any] = {}
    for name, (_, default) in fields.items():  # (in the fields' order, as validation fills them)
        value = values.get(name, default)
        if value is _REQUIRED:
            return None  # validation names the missing field
        data[name] = value
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", data)
    object.__setattr__(model, "__pydantic_fields_set__", set(values))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model
