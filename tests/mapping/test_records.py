"""A parse model's record (``VendorMappings.record``): the very record, or the very error, that
validating its dict gives; nested records built once and shared while their columns are equal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from gateway import canonical as c
from gateway.mapping import compiler
from gateway.mapping.loader import VendorMappings, load_mappings

ROW: dict[str, Any] = {
    "ticketid": "7",
    "ticketkey": "704ae2e741b12ecfaf536e7869b9beaf",
    "subject": "Cannot log in",
    "message": "Hello,<br />\r\nsince this morning.\r\nJohn",
    "status": "1",
    "status_name": "Open",
    "priority": "2",
    "priority_name": "Medium",
    "department": "2",
    "department_name": "Technical Support",
    "userid": "1",
    "contactid": "3",
    "user_firstname": "John",
    "user_lastname": "Smith",
    "email": "john@acme.example",
    "from_name": None,
    "ticket_email": None,
    "cc": "",
    "date": "2024-03-01 09:15:00",
    "lastreply": None,
    "assigned": "1",
    "service": "1",
    "staff_firstname": None,
    "staff_lastname": None,
    "company": "Acme Widgets Ltd",
    "password": "$2y$10$secret",
    "last_ip": "10.0.0.1",
}

# awkward rows: each either parses or fails, and the record path must do exactly the same
VARIANTS: dict[str, dict[str, Any]] = {
    "as sent": {},
    "guest ticket": {
        "contactid": "0",
        "userid": "0",
        "user_firstname": None,
        "user_lastname": None,
        "from_name": "Walk In",
        "ticket_email": "walk@in.example",
        "email": None,
        "company": None,
    },
    "numbers, not texts": {"ticketid": 7, "userid": 1, "contactid": 3, "department": 2, "status": 1},
    "floats": {"userid": 1.0, "contactid": 3.0},
    "booleans": {"contactid": True},
    "empty texts": {"subject": "", "message": "", "cc": "", "department_name": "", "date": ""},
    "absent columns": {"department": None, "department_name": None, "date": None, "message": None},
    "unmapped status": {"status": "99", "status_name": "Awaiting Parts"},
    "non-ascii": {"subject": "Ünïcödé ✓ 日本", "user_firstname": "Zoë", "message": "naïve <br /> café"},
    "staff opened": {"staff_firstname": "Sara", "staff_lastname": "Bianchi", "admin": "1"},
    "last reply": {"lastreply": "2024-03-02 10:00:00"},
    "bad customer id": {"userid": "abc"},
    "bad date": {"date": "yesterday-ish"},
    "huge number": {"userid": "9" * 30},
    "list in a column": {"subject": ["a", "b"]},
    "no ticket id": {"ticketid": None},
    # the enum lookup spelled out in the generated code, against the function's own reading
    "status padded": {"status": " 1 "},
    "status as a label only": {"status": "", "status_name": "Open"},
    "status unknown number": {"status": 9, "priority": 7.0},
    "status in a list": {"status": ["1"]},
    "status upper-case label": {"status": "OPEN"},
    # the ints read from the memo of digit texts, against int()
    "leading zeros": {"userid": "007", "contactid": "0003"},
    "non-ascii digits": {"userid": "١٢"},
    "negative id": {"userid": "-5"},
    "nineteen digits": {"userid": "1" * 19},
    "a dict in a column": {"department_name": {"a": 1}},
    "a list in a keyed column": {"user_firstname": ["J"]},
    # an absent field (its default taken) before one that goes to validation: validation must
    # still be given None for the absent one (its fields set leaves it out)
    "absent, then a float": {"ticketkey": None, "subject": "", "userid": 1.0},
    "absent, then a list": {"ticketkey": None, "cc": None, "service": ["1"]},
}


@pytest.fixture(scope="module")
def pmp() -> VendorMappings:
    return load_mappings()["pmp"]


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        out = fn()
    except Exception as exc:  # the kind and the words of the failure are the outcome
        return ("error", (type(exc).__name__, getattr(exc, "detail", None)))
    return ("record", out)


@pytest.mark.parametrize("name", sorted(VARIANTS))
@pytest.mark.parametrize("model", ["ticket", "ticket_requester", "ticket_opening", "ticket_department"])
def test_a_record_is_what_validating_the_models_dict_gives(
    pmp: VendorMappings, model: str, name: str, same_record: Any
) -> None:
    row = {**ROW, **VARIANTS[name]}
    targets: dict[str, type[BaseModel]] = {"ticket": c.Ticket, "ticket_requester": c.Author, "ticket_opening": c.Reply}
    target = targets.get(model, c.Department)
    record = pmp.record(model)
    assert record is not None
    reference = _outcome(lambda: target.model_validate(pmp.model(model)(dict(row))))
    same_record(_outcome(lambda: record(dict(row))), reference)
    same_record(_outcome(lambda: record(dict(row))), reference)  # and again, when it may come from the memo


@pytest.mark.parametrize("vendor", ["pmp", "whmcs"])
def test_every_record_model_of_every_backend_agrees_with_validation(vendor: str, same_record: Any) -> None:
    m = load_mappings()[vendor]
    assert m.records, "the backend's parse models with a target have records"
    for name, record in m.records.items():
        target = compiler.model_class(_target_of(m, name))
        assert target is not None
        for source in ({}, dict(ROW), {**ROW, **VARIANTS["numbers, not texts"]}, {"id": "1", "name": "x"}):
            model, cls, fn = m.model(name), target, record
            reference = _outcome(lambda: cls.model_validate(model(dict(source))))  # noqa: B023
            same_record(_outcome(lambda: fn(dict(source))), reference)  # noqa: B023


def _target_of(m: VendorMappings, name: str) -> str:
    for path in m.files:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        spec = (doc.get("models") or {}).get(name)
        if spec and spec.get("target"):
            return str(spec["target"])
    raise AssertionError(f"no target for {name}")


def test_equal_columns_give_the_very_same_nested_records(pmp: VendorMappings) -> None:
    record = pmp.record("ticket")
    assert record is not None
    first = record(dict(ROW))
    # another status, subject and last reply: the requester, department and opening did not change
    second = record({**ROW, "status": "3", "subject": "Now answered", "lastreply": "2024-03-02 10:00:00"})
    assert second is not first and second.subject == "Now answered"
    assert second.requester is first.requester
    assert second.department is first.department
    assert second.replies[0] is first.replies[0]
    assert second.replies[0].author is first.requester


def test_a_changed_column_gives_a_new_nested_record(pmp: VendorMappings) -> None:
    record = pmp.record("ticket")
    assert record is not None
    first = record(dict(ROW))
    moved = record({**ROW, "department": "1", "department_name": "Sales", "message": "Edited"})
    assert moved.department != first.department and moved.department is not None
    assert moved.department.name == "Sales"
    assert moved.replies[0].message == "Edited" and moved.replies[0] is not first.replies[0]
    assert moved.requester is first.requester


def test_columns_that_are_not_texts_are_never_keys(pmp: VendorMappings) -> None:
    # 1, 1.0 and True are equal keys but do not read alike: only texts and None key a record
    record = pmp.record("ticket_department")
    assert record is not None
    as_int = record({"department": "2", "department_name": 1})
    as_float = record({"department": "2", "department_name": 1.0})
    assert (as_int.name, as_float.name) == ("1", "1.0")
    as_bool = record({"department": "2", "department_name": True})
    assert as_bool.name == pmp.model("ticket_department")({"department_name": True})["name"]
    assert as_int is not record({"department": "2", "department_name": 1})
    text = record({"department": "2", "department_name": "1"})
    assert text is record({"department": "2", "department_name": "1"})


UNMAPPED = """
enums:
  st:
    canonical: Status
    values: {"1": open}
models:
  thing:
    direction: parse
    source: dict
    target: Department
    fields:
      id: {from: n, transform: int}
      name: {from: label, transform: str}
  flagged:
    direction: parse
    source: dict
    target: Ticket
    fields:
      id: {from: n, transform: int}
      status: {from: s, transform: "enum:st"}
"""


def test_a_record_that_met_an_unmapped_value_is_made_again_on_every_read(tmp_path: Path) -> None:
    seen: list[tuple[str, str, str]] = []
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "m.yaml").write_text(UNMAPPED, encoding="utf-8")
    m = load_mappings(roots=[tmp_path], on_unmapped=lambda *a: seen.append(a))["acme"]
    record = m.record("flagged")
    assert record is not None
    a, b = record({"n": "1", "s": "9"}), record({"n": "1", "s": "9"})
    assert a == b and a is not b and isinstance(a.status, c.Unmapped)
    assert len(seen) == 2  # the metric counts both reads
    assert record({"n": "1", "s": "1"}) is record({"n": "1", "s": "1"})
    thing = m.record("thing")
    assert thing is not None and thing({"n": "4", "label": "x"}) is thing({"n": "4", "label": "x"})


def test_the_memo_of_records_is_bounded(pmp: VendorMappings) -> None:
    record = pmp.record("ticket_department")
    assert record is not None
    first = record({"department": "1", "department_name": "Sales"})
    for i in range(compiler.RECORD_MEMO_SIZE + 1):
        record({"department": str(1000 + i), "department_name": "Bulk"})
    again = record({"department": "1", "department_name": "Sales"})
    assert again == first and again is not first


def test_the_raw_record_is_built_as_model_construct_builds_it() -> None:
    fields = {"ticketid": "1", "x": None}
    fast, slow = compiler.remote_data("pmp", fields), c.RemoteData.model_construct(vendor="pmp", fields=fields)
    assert fast == slow and fast.fields is fields
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.__pydantic_extra__ == slow.__pydantic_extra__ and fast.__pydantic_private__ is None
    assert list(fast.__dict__) == list(slow.__dict__)
    with pytest.raises(Exception, match="frozen"):
        fast.vendor = "other"  # type: ignore[misc]


def test_a_model_without_a_target_has_no_record(pmp: VendorMappings) -> None:
    assert pmp.record("ticket_header") is None
    assert isinstance(pmp.model("ticket_header")(dict(ROW)), dict)


def test_a_date_text_parses_to_what_the_parser_gives_and_the_memo_is_bounded(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from gateway.mapping import transforms as tr
    from gateway.mapping.dates import compile_parser
    from gateway.mapping.loader import ZoneConfig

    m = load_mappings(zones=ZoneConfig(backend="Europe/Rome"))["pmp"]
    parse = m.model("ticket_reply")
    plain = compile_parser("Y-m-d H:i:s", ZoneInfo("Europe/Rome"))  # the same parser, no memo
    start = datetime(2024, 3, 30, 22, 0, tzinfo=UTC)
    count = tr.DATE_PARSE_MEMO_SIZE + 50  # more than the memo holds
    texts = [(start + timedelta(minutes=37 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(count)]
    for text in [*texts, "2024-03-31 02:30:00", "2024-03-01", " 2024-03-01 09:00:00 ", *texts[:60]]:
        got = parse({"id": "1", "date": text})["created_at"]
        assert got == plain(text) and got.tzinfo == plain(text).tzinfo, text
    assert parse({"id": "1", "date": "0000-00-00 00:00:00"}).get("created_at") is None
    with pytest.raises(compiler.MappingDataFailure):
        parse({"id": "1", "date": "not a date"})
    with pytest.raises(compiler.MappingDataFailure):
        parse({"id": "1", "date": "not a date"})  # a failure is never remembered as a date


def test_digit_texts_read_from_the_memo_are_their_ints_and_the_memo_is_bounded(pmp: VendorMappings) -> None:
    from gateway.mapping import transforms as tr

    record = pmp.record("ticket_department")
    assert record is not None
    for n in range(tr.INT_MEMO_SIZE + 50):
        text = f"{n:0{1 + n % 3}d}"  # with and without leading zeros
        assert record({"department": text, "department_name": "x"}).id == int(text)
        assert len(tr.INT_TEXTS) <= tr.INT_MEMO_SIZE
    assert all(k.isdigit() and k.isascii() and tr.INT_TEXTS[k] == int(k) for k in tr.INT_TEXTS)


def test_records_built_inline_share_a_fields_set_per_pattern_of_absent_fields(pmp: VendorMappings) -> None:
    record = pmp.record("ticket_department")
    assert record is not None
    a = record({"department": "1", "department_name": "Sales"})
    b = record({"department": "2", "department_name": "Billing"})
    validated = c.Department.model_validate({"id": 1, "name": "Sales"})
    assert a.model_fields_set == validated.model_fields_set and a.model_fields_set is b.model_fields_set
    copy = a.model_copy(update={"name": "Other"})
    assert copy.model_fields_set is not a.model_fields_set and b.model_fields_set == validated.model_fields_set


LAX = """
models:
  contact:
    direction: parse
    source: dict
    target: Contact
    fields:
      id: {from: n, transform: int}
      customer_id: {from: c, transform: int}
      firstname: {from: f}
      email: {from: e}
      is_primary: {from: p}
"""


@pytest.mark.parametrize(
    "row",
    [
        {"n": "1", "c": "2", "p": "1"},  # firstname and email absent, then a text for a boolean
        {"n": "1", "c": "2", "f": "Ann", "p": "yes"},
        {"n": "1", "c": "2", "e": "", "p": True},  # built without validation
        {"n": "1", "c": "2", "p": "maybe"},  # validation refuses it
    ],
)
def test_a_value_left_to_validation_after_absent_fields_is_validated_as_the_dict_is(
    tmp_path: Path, row: dict[str, Any], same_record: Any
) -> None:
    """A generated constructor that meets a value of another type (here a text for a boolean)
    hands every value to validation as the model gave it: an absent field before it is still
    absent there (None, not the default the constructor had taken for it)."""
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "m.yaml").write_text(LAX, encoding="utf-8")
    m = load_mappings(roots=[tmp_path])["acme"]
    record, model = m.record("contact"), m.model("contact")
    assert record is not None
    reference = _outcome(lambda: c.Contact.model_validate(model(dict(row))))
    same_record(_outcome(lambda: record(dict(row))), reference)


@pytest.mark.parametrize("secret", [False, True])
def test_a_tickets_raw_record_is_the_row_less_its_secrets_built_as_model_construct_builds_it(
    pmp: VendorMappings, secret: bool
) -> None:
    row = {k: v for k, v in ROW.items() if k not in ("password", "last_ip")}
    if secret:
        row["password"] = "$2y$10$secret"
    record = pmp.record("ticket")
    assert record is not None
    raw = record(row).remote
    assert raw is not None
    like = c.RemoteData.model_construct(vendor="pmp", fields={k: v for k, v in row.items() if k != "password"})
    assert raw == like and raw.model_fields_set == like.model_fields_set
    assert raw.__pydantic_extra__ is None and raw.__pydantic_private__ is None
    assert list(raw.__dict__) == list(like.__dict__)
    assert (raw.fields is row) is not secret  # the row itself when it holds no secret, else a copy
    assert "password" not in raw.fields and row.get("password") == ("$2y$10$secret" if secret else None)
