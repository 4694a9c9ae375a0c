"""Argument models built directly (gateway.plain_args) against pydantic's validation of the same values."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway import operations as ops
from gateway import service
from gateway.plain_args import construct, plan

# values of every kind a dialect's params mapping hands over, right and wrong
SAMPLES: list[Any] = [
    0,
    7,
    -3,
    10**30,
    True,
    False,
    None,
    "",
    "42",
    " padded ",
    "a\ud800b",
    "x" * 5000,
    1.5,
    [1],
    {"a": 1},
]


def _value_sets(cls: type[BaseModel]) -> list[dict[str, Any]]:
    names = list(cls.model_fields)
    out: list[dict[str, Any]] = [{}, {"unknown": 1}]
    for name in names:
        out += [{name: v} for v in SAMPLES]
    out += [{n: SAMPLES[i % len(SAMPLES)] for i, n in enumerate(names)}]
    out += [{n: ("v" if cls.model_fields[n].annotation in (str, str | None) else 1) for n in names}]
    return out


def _validated(cls: type[BaseModel], values: dict[str, Any]) -> BaseModel | None:
    try:
        return cls.model_validate(values)
    except ValidationError:
        return None


ARG_MODELS: list[type[BaseModel]] = sorted({s.args for s in ops.OPERATIONS.values()}, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", ARG_MODELS)
def test_a_model_built_directly_is_the_one_validation_builds(cls: type[BaseModel]) -> None:
    for values in _value_sets(cls):
        built = construct(cls, values)
        if built is None:
            continue  # validated as usual
        reference = _validated(cls, values)
        assert reference is not None, values  # never built where validation refuses
        assert type(built) is type(reference)
        assert list(built.__dict__.items()) == list(reference.__dict__.items()), values
        assert built.model_fields_set == reference.model_fields_set
        assert (built.__pydantic_extra__, built.__pydantic_private__) == (None, None)
        assert built == reference and hash(built) == hash(reference)
        assert built.model_dump() == reference.model_dump()


def test_the_usual_get_ticket_is_built_directly_and_odd_values_are_validated() -> None:
    assert plan(ops.GetTicketArgs) is not None
    built = construct(ops.GetTicketArgs, {"ticket_id": 123456})
    assert built == ops.GetTicketArgs(ticket_id=123456)
    assert construct(ops.GetTicketArgs, {"ticket_id": "123456"}) is None  # validation converts it
    assert construct(ops.GetTicketArgs, {"ticket_id": True}) is None  # a bool is not taken for an int
    assert construct(ops.GetTicketArgs, {"ticketid": 1}) is None  # unknown: validation refuses it
    with pytest.raises(Exception, match="ticketid"):
        service.build_args("get_ticket", {"ticketid": 1})


class _Constrained(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    n: int = Field(default=0, ge=0)


class _Validated(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    s: str = ""

    @field_validator("s")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()


class _Stripping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    s: str = ""


class _Required(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    n: int


class _NotFrozen(BaseModel):
    n: int = 0


def test_models_whose_validation_does_more_are_never_built_directly() -> None:
    for cls in (_Constrained, _Validated, _Stripping, _NotFrozen):
        assert plan(cls) is None, cls
    assert construct(_Required, {}) is None  # validation names the missing field
    assert construct(_Required, {"n": 3}) == _Required(n=3)


def test_build_args_answers_as_before_for_new_and_repeated_values() -> None:
    for values in ({"ticket_id": 5}, {"ticket_number": "ABC-1"}, {"ticket_id": 9, "replies_desc": True}):
        args = service.build_args("get_ticket", dict(values))
        assert args == ops.GetTicketArgs.model_validate(values)
        assert service.build_args("get_ticket", dict(values)) is args  # (the memo of built models)
