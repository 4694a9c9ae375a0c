"""The generated code's shortcuts give what the functions they skip give: `str` and `int` spelled out,
absent-source tests inlined, a field of a field without `_oget`, ISO dates by the C formatter,
`urlencode` without `quote_plus`, and a parse's raw record built as `RemoteData`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import pytest

from gateway.canonical import Author, RemoteData, Reply
from gateway.mapping import dates
from gateway.mapping import transforms as tr
from gateway.mapping.compiler import MappingDataFailure

MODELS = """
models:
  parsed:
    direction: parse
    source: dict
    fields:
      as_str: {from: v, transform: str}
      as_int: {from: v, transform: int}
      both: {from: [a, b], transform: coalesce}
      both_default: {from: [a, b], transform: coalesce, default: none}
      one_default: {from: a, default: none}
  kept:
    direction: parse
    source: dict
    target: Reply
    remote: {from: $, drop: [secret, other]}
    fields:
      id: {from: id, transform: int}
  rendered:
    source: Reply
    fields:
      name: {from: author.name, transform: str}
      author_id: {from: author.customer_id, transform: str}
      missing: {from: remote.vendor, transform: str}
      text: {from: message, transform: urlencode}
      date: {from: created_at, transform: "date:iso"}
      day: {from: created_at, transform: "date:iso_day"}
dates:
  iso: {format: "Y-m-d H:i:s", zone: "Europe/Rome"}
  iso_day: {format: "Y-m-d", zone: "Europe/Rome"}
"""

# strings of digits and not, other types: what `str` and `int` are given
VALUES: list[Any] = [
    "12",
    "007",
    "",
    " 12",
    "-3",
    "+4",
    "1" * 19,
    "١٢",  # Arabic-Indic digits: isdigit() but not ASCII
    "abc",
    "x" * 50,
    12,
    0,
    True,
    False,
    1.5,
    None,
    [],
]


@pytest.fixture(scope="module")
def vendor(yaml_vendor: Any) -> Any:
    return yaml_vendor(MODELS)


def _outcome(fn: Any, value: Any) -> Any:
    try:
        return ("ok", fn(value))
    except Exception as exc:  # the failure's kind is what is compared
        return ("error", type(exc).__name__)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_str_and_int_fields_give_what_the_transforms_give(vendor: Any, value: Any) -> None:
    parse = vendor.model("parsed")
    got = _outcome(parse, {"v": value})
    absent = value is None or value == ""
    want_str = None if absent else _outcome(tr.to_str, value)
    want_int = None if absent else _outcome(tr.to_int, value)
    if want_int is not None and want_int[0] == "error":
        assert got[0] == "error" and isinstance(parse_error(parse, value), MappingDataFailure)
        return
    assert got[0] == "ok"
    assert got[1].get("as_str") == (want_str[1] if want_str else None)
    assert got[1].get("as_int") == (want_int[1] if want_int else None)
    assert type(got[1].get("as_int")) is type(want_int[1] if want_int else None)


def parse_error(parse: Any, value: Any) -> Exception:
    try:
        parse({"v": value})
    except Exception as exc:
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("a", "b", "both", "both_default", "one_default"),
    [
        (None, None, None, "none", "none"),
        ("", "", None, "none", "none"),
        ("", "x", "x", "x", "none"),
        ("y", None, "y", "y", "y"),
        (0, "", 0, 0, 0),
    ],
)
def test_several_sources_are_absent_only_when_every_one_is(
    vendor: Any, a: Any, b: Any, both: Any, both_default: Any, one_default: Any
) -> None:
    out = vendor.model("parsed")({"a": a, "b": b})
    assert out.get("both") == both
    assert out.get("both_default") == both_default
    assert out.get("one_default") == one_default


def test_a_parse_keeps_the_raw_record_as_the_validated_record_would_be(vendor: Any) -> None:
    raw = {"id": "3", "secret": "hash", "z": 1, "other": None, "a": [1]}
    before = dict(raw)
    out = vendor.model("kept")(raw)
    assert raw == before  # the source is not changed
    remote = out["remote"]
    assert isinstance(remote, RemoteData)
    assert list(remote.fields) == ["id", "z", "a"]  # in the record's order, less the dropped keys
    validated = RemoteData.model_validate({"vendor": "acme", "fields": {"id": "3", "z": 1, "a": [1]}})
    assert remote == validated and remote.model_fields_set == validated.model_fields_set
    assert Reply.model_validate(out).remote is remote


def test_a_field_of_a_field_and_urlencode_and_iso_dates(vendor: Any) -> None:
    render = vendor.model("rendered")
    when = datetime(2024, 3, 1, 23, 30, 5, 123456, tzinfo=UTC)
    reply = Reply(id=1, message="Hi there & bye", created_at=when, author=Author(name="Ann", customer_id=7))
    assert render(reply) == {
        "name": "Ann",
        "author_id": "7",
        "missing": "",
        "text": "Hi+there+%26+bye",
        "date": "2024-03-02 00:30:05",
        "day": "2024-03-02",
    }
    # a record built without validation (model_construct) may hold anything: the generated code
    # still gives what `_oget` and `str` give
    odd = Reply.model_construct(id=1, author=None, created_at=None, message=5, remote=None)  # type: ignore[arg-type]
    assert render(odd) == {"name": "", "author_id": "", "missing": "", "text": "5", "date": "", "day": ""}


@pytest.mark.parametrize(
    "text",
    [
        *("", "plain", "two words", "a-b_c.d~e", "x+y", "50%", "è", "a/b?c=d&e", " lead", "\t"),
        # letters and digits outside ASCII are alphanumeric too, and still encoded
        *("abc123", "0042", "caf\u00e9", "\u0663\u0664", "x\u00b2", "\u00bd", "\u4e2d\u6587", "\uff21", "I\u0307"),
    ],
)
def test_urlencode_is_quote_plus(text: str) -> None:
    assert tr.TRANSFORMS["urlencode"](None, _ctx())(text) == quote_plus(text)


@pytest.mark.parametrize("value", [None, 7, -3, True, False, 0])
def test_urlencode_of_a_value_is_quote_plus_of_its_text(value: Any) -> None:
    assert tr.TRANSFORMS["urlencode"](None, _ctx())(value) == quote_plus(tr.to_str(value))


def _attr_loop(paths: list[tuple[str, ...]], value: Any) -> Any:
    """``attr:`` as it was before it was compiled: each path walked in a loop."""
    for path in paths:
        found = value
        for part in path:
            found = found.get(part) if isinstance(found, dict) else getattr(found, part, None)
            if found is None:
                break
        if found is not None and found != "" and (found is False or found != 0):
            return found
    return None


class _Obj:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


ATTR_ARGS = [
    "author.staff_id|author.staff_name|author.customer_id",
    "author.staff_id|author.staff_name|author.customer_id|author.name",
    "author.kind",
    "a|b.c|a.b|b",
    "x.y.z|x.y|x",
    'it\'s."q"|n',  # parts that need quoting in the generated code
]
ATTR_VALUES: list[Any] = [
    None,
    {},
    {"author": None},
    {"author": {"staff_id": 0, "staff_name": "", "customer_id": 5}},
    {"author": {"staff_id": 3, "staff_name": "Sara"}},
    {"author": {"staff_id": False}},  # False is a value, unlike 0
    {"author": {"staff_id": 0.0, "staff_name": None, "customer_id": "0", "name": "N"}},
    {"author": _Obj(staff_id=None, staff_name="Ann", kind="staff")},
    _Obj(author=_Obj(staff_id=None, staff_name=None, customer_id=None, name="")),
    _Obj(author={"kind": "customer"}),
    Reply(id=1, author=Author(kind="staff", staff_id=3, name="Sara")),
    Reply(id=1, author=Author(kind="customer", customer_id=9, name="Bob")),
    {"a": 0, "b": {"c": ""}, "x": {"y": {"z": []}}},
    {"a": [], "b": {"c": [1]}, "x": {"y": 2}},
    {"b": 7, "x": {"y": {"z": 0}}},  # a step from a number
    {"it's": {'"q"': "quoted"}, "n": 1},
    "a text",
]


@pytest.mark.parametrize("arg", ATTR_ARGS)
def test_attr_compiled_gives_what_the_loop_gives(arg: str) -> None:
    fn = tr.TRANSFORMS["attr"](arg, _ctx())
    paths = [tuple(p.split(".")) for p in arg.split("|") if p]
    for value in ATTR_VALUES:
        expected = _attr_loop(paths, value)
        got = fn(value)
        assert got == expected and type(got) is type(expected), (arg, value)


def _ctx() -> tr.CompileContext:
    return tr.CompileContext("acme", "render", {}, {}, lambda name: None)


@pytest.mark.parametrize("fmt", ["Y-m-d H:i:s", "Y-m-d"])
@pytest.mark.parametrize("zone", [None, UTC, ZoneInfo("America/Chicago"), timezone(timedelta(hours=5, minutes=30))])
def test_iso_formats_match_the_letters(fmt: str, zone: Any) -> None:
    fast = dates.compile_formatter(fmt, zone)
    body = "".join(dates._TOKENS[t][0] if tok else t for tok, t in dates._split(fmt))
    ns: dict[str, Any] = {"_zone": zone}
    convert = "d = d.astimezone(_zone)\n    " if zone is not None else ""
    exec(f'def slow(d):\n    {convert}return f"{body}"\n', ns)
    for when in (
        datetime(2014, 4, 30, 15, 47, 57, tzinfo=UTC),
        datetime(2014, 4, 30, 15, 47, 57, 1, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2024, 10, 27, 1, 59, 59, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-11))),
    ):
        assert fast(when) == ns["slow"](when)
