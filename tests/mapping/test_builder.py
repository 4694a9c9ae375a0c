"""``record_builder`` and ``shape``: a record built directly is the one validation builds, or the
dict goes to validation (which then raises, or converts, as it always did)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway import canonical as c
from gateway.mapping import builder
from gateway.mapping.builder import record_builder, shape

NOW = datetime(2024, 3, 1, 9, 15, tzinfo=UTC)
AUTHOR = c.Author(kind="staff", staff_id=3, name="Sara")
REPLY = c.Reply(id=1, message="hi", author=AUTHOR)
NOTE = c.Note(id=2, message="internal")
REMOTE = c.RemoteData(vendor="pmp", fields={"ticketid": "7"})


class _Str(str):
    pass


# values of every kind a compiled mapping (or a careless one) may put in a field
VALUES: list[Any] = [
    None,
    0,
    7,
    10**30,
    True,
    False,
    1.0,
    "",
    "7",
    "customer",
    "guest",
    "nobody",
    _Str("x"),
    NOW,
    NOW.replace(tzinfo=None),
    date(2024, 3, 1),
    c.Status.OPEN,
    c.Priority.HIGH,
    "open",
    c.Unmapped(vendor="pmp", code="99"),
    c.Department(id=2, name="Sales"),
    AUTHOR,
    REPLY,
    NOTE,
    REMOTE,
    [REPLY],
    (REPLY, REPLY),
    [NOTE],
    [],
    ["a.pdf"],
    ("a.pdf", 1),
    [REPLY, NOTE],
    {"id": 1, "name": "x"},
    {"vendor": "pmp", "fields": {}},
]

RECORDS = [c.Ticket, c.Reply, c.Note, c.Author, c.Department, c.Staff, c.Contact, c.Customer]


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return ("record", fn())
    except ValidationError as exc:
        return ("error", [(e["type"], e["loc"]) for e in exc.errors()])


def _dicts(cls: type[BaseModel]) -> list[dict[str, Any]]:
    """Dicts of field values for ``cls``: a good one, then each field given every kind of value,
    then some left out, extra keys and None for everything."""
    fields = list(cls.model_fields)
    good = {name: _good(cls, name) for name in fields}
    out = [good, {k: v for k, v in good.items() if v is not None}]
    for name, value in itertools.product(fields, VALUES):
        out.append({**good, name: value})
    out.append(dict.fromkeys(fields))
    out.append({**good, "unknown": 1})
    out.append({})
    out.append(dict(reversed(good.items())))
    return out


def _good(cls: type[BaseModel], name: str) -> Any:
    annotation = cls.model_fields[name].annotation
    examples: dict[Any, Any] = {
        int: 5,
        str: "text",
        bool: True,
        c.RemoteData | None: REMOTE,
        datetime | None: NOW,
        c.StatusValue: c.Status.ANSWERED,
        c.PriorityValue: c.Priority.LOW,
        c.Department | None: c.Department(id=1, name="Support"),
        c.Author: AUTHOR,
        tuple[c.Reply, ...]: [REPLY],
        tuple[c.Note, ...]: (NOTE,),
        tuple[str, ...]: ["a.pdf"],
        int | None: None,
    }
    if name == "kind":
        return "customer"
    return examples.get(annotation)


@pytest.mark.parametrize("cls", RECORDS, ids=lambda k: k.__name__)
def test_a_built_record_is_the_validated_one_or_validation_decides(cls: type[BaseModel], same_record: Any) -> None:
    validate = cls.__pydantic_validator__.validate_python
    build = record_builder(cls, validate)
    assert build is not None, f"{cls.__name__} is a plain model the builder speaks for"
    for d in _dicts(cls):
        reference = _outcome(lambda: validate({k: v for k, v in d.items() if v is not None}))  # noqa: B023
        same_record(_outcome(lambda: build(dict(d))), reference)  # noqa: B023
        same_record(_outcome(lambda: build(dict(d))), reference)  # and again, from the kept plan  # noqa: B023


def test_a_default_factory_is_called_for_every_record() -> None:
    build = record_builder(c.Reply, c.Reply.__pydantic_validator__.validate_python)
    assert build is not None
    a, b = build({"id": 1}), build({"id": 2, "author": None})
    assert a.author == b.author == c.Author()
    assert a.author is not b.author
    assert a.model_fields_set == {"id"} and b.model_fields_set == {"id"}


def test_a_list_of_records_becomes_a_tuple_and_a_wrong_item_goes_to_validation() -> None:
    validate = c.Ticket.__pydantic_validator__.validate_python
    build = record_builder(c.Ticket, validate)
    assert build is not None
    ok = build({"id": 1, "replies": [REPLY]})
    assert ok.replies == (REPLY,) and type(ok.replies) is tuple and ok.replies[0] is REPLY
    with pytest.raises(ValidationError):
        build({"id": 1, "replies": [NOTE]})
    # a dict item is converted by validation, as before
    assert build({"id": 1, "replies": [{"id": 3}]}).replies == (c.Reply(id=3),)


def test_a_literal_value_outside_the_literal_goes_to_validation() -> None:
    build = record_builder(c.Author, c.Author.__pydantic_validator__.validate_python)
    assert build is not None
    assert build({"kind": "staff"}).kind == "staff"
    with pytest.raises(ValidationError):
        build({"kind": "robot"})


def test_the_kept_plans_are_bounded() -> None:
    validate = c.Department.__pydantic_validator__.validate_python
    build = record_builder(c.Department, validate)
    assert build is not None
    cells = dict(zip(build.__code__.co_freevars, build.__closure__ or (), strict=True))
    plans = cells["plans"].cell_contents
    for i in range(builder.PLAN_LIMIT * 2):
        keys = {f"k{i}": 1, "id": 1, "name": "x"}
        with pytest.raises(ValidationError):
            build(keys)
    assert len(plans) <= builder.PLAN_LIMIT
    assert build({"id": 1, "name": "x"}) == c.Department(id=1, name="x")


class _Validated(BaseModel):
    model_config = ConfigDict(frozen=True)
    n: int

    @field_validator("n")
    @classmethod
    def _positive(cls, value: int) -> int:
        return abs(value)


class _Constrained(BaseModel):
    n: int = Field(ge=0)


class _Aliased(BaseModel):
    n: int = Field(alias="number")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")
    n: int


class _Loose(BaseModel):
    n: Any


class _Floating(BaseModel):
    x: float


class _Kinds(BaseModel):
    kind: Literal["a", "b"] = "a"
    items: tuple[int, ...] = ()


@pytest.mark.parametrize("cls", [_Validated, _Constrained, _Aliased, _Lenient, _Loose, _Floating])
def test_a_model_the_builder_cannot_speak_for_has_no_builder(cls: type[BaseModel]) -> None:
    assert shape(cls) is None
    assert record_builder(cls, cls.__pydantic_validator__.validate_python) is None


def test_literals_and_tuples_of_plain_values_have_a_shape() -> None:
    found = shape(_Kinds)
    assert found is not None
    assert found.accepts["kind"].values == frozenset({"a", "b"})
    assert found.accepts["items"].items == frozenset({int})
    build = record_builder(_Kinds, _Kinds.__pydantic_validator__.validate_python)
    assert build is not None
    assert build({"items": [1, 2]}).items == (1, 2)
    # a text item is converted by validation (lax mode), not kept
    assert build({"items": ["3"]}).items == (3,)


def test_records_of_a_frozen_class_share_their_fields_set_and_a_copy_gets_its_own() -> None:
    build = record_builder(c.Reply, c.Reply.__pydantic_validator__.validate_python)
    assert build is not None
    a, b, other = build({"id": 1, "message": "x"}), build({"id": 2, "message": "y"}), build({"id": 3})
    assert a.model_fields_set == {"id", "message"} and a.model_fields_set is b.model_fields_set
    assert other.model_fields_set == {"id"}
    changed = a.model_copy(update={"author": AUTHOR})
    assert changed.model_fields_set == {"id", "message", "author"}
    assert b.model_fields_set == {"id", "message"}  # the shared set is not the copy's


class _Open(BaseModel):
    id: int
    note: str = ""


def test_records_of_a_class_that_can_change_get_a_fields_set_each() -> None:
    build = record_builder(_Open, _Open.__pydantic_validator__.validate_python)
    assert build is not None
    a, b = build({"id": 1}), build({"id": 2})
    assert a.model_fields_set == b.model_fields_set == {"id"}
    a.note = "set"
    assert a.model_fields_set == {"id", "note"} and b.model_fields_set == {"id"}
