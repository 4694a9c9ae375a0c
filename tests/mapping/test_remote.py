"""Same vendor on both sides: a render model with `remote:` answers the backend's raw record when it is
its own vendor's (and of its shape), other backends' records field by field; a parse model's `remote:`
keeps the raw record; the `which` transform and `omit_empty`."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.canonical import Author, Note, RemoteData, Reply, Ticket
from gateway.mapping.loader import load_mappings
from gateway.mapping.source import MappingErrors

MODELS = """
models:
  ticket:
    source: Ticket
    remote: {render: [number, replies], when: ticketid}
    fields:
      ticketid: {from: id, transform: str}
      number: {from: number, transform: str}
      subject: subject
      replies: {each: replies, model: reply}
      extra: {const: "", omit_empty: true}
  reply:
    source: Reply
    remote: passthrough
    fields:
      id: {from: id, transform: str}
      message: message
  parsed:
    direction: parse
    source: dict
    target: Reply
    remote: $
    fields:
      id: {from: replyid, transform: int}
      author: {fields: {kind: {from: [admin, userid], transform: "which:staff|customer|guest"}}}
"""


def vendor(tmp_path: Path, name: str = "acme", text: str = MODELS) -> object:
    (tmp_path / name).mkdir(exist_ok=True)
    (tmp_path / name / "m.yaml").write_text(text, encoding="utf-8")
    return load_mappings(roots=[tmp_path])[name]


def raw_ticket(vendor_name: str) -> Ticket:
    raw = {"ticketid": "5", "tid": "900", "subject": "As sent", "odd": 1, "replies": "raw"}
    replies = (Reply(id=0, message="hi", remote=RemoteData(vendor=vendor_name, fields={"id": "0", "x": True})),)
    return Ticket(
        id=5, number="LINKED", subject="canonical", replies=replies, remote=RemoteData(vendor=vendor_name, fields=raw)
    )


def test_own_vendor_record_passes_through_with_the_listed_fields_rendered(tmp_path: Path) -> None:
    m = vendor(tmp_path)
    out = m.model("ticket")(raw_ticket("acme"))  # type: ignore[attr-defined]
    assert out == {
        "ticketid": "5", "tid": "900", "subject": "As sent", "odd": 1, "number": "LINKED",
        "replies": [{"id": "0", "x": True}],
    }  # fmt: skip


def test_another_vendors_record_is_rendered_field_by_field(tmp_path: Path) -> None:
    m = vendor(tmp_path)
    out = m.model("ticket")(raw_ticket("other"))  # type: ignore[attr-defined]
    assert out == {
        "ticketid": "5",
        "number": "LINKED",
        "subject": "canonical",
        "replies": [{"id": "0", "message": "hi"}],
    }
    assert m.model("ticket")(Ticket(id=1, subject="s"))["subject"] == "s"  # type: ignore[attr-defined]


def test_a_raw_record_of_another_shape_is_not_passed_through(tmp_path: Path) -> None:
    m = vendor(tmp_path)
    listed = Ticket(id=5, subject="canonical", remote=RemoteData(vendor="acme", fields={"id": "5", "subject": "raw"}))
    assert m.model("ticket")(listed)["subject"] == "canonical"  # type: ignore[attr-defined]


def test_omit_empty_leaves_the_key_out(tmp_path: Path) -> None:
    m = vendor(tmp_path)
    assert "extra" not in m.model("ticket")(Ticket(id=1))  # type: ignore[attr-defined]


def test_parse_keeps_the_raw_record_and_which_picks_the_author(tmp_path: Path) -> None:
    m = vendor(tmp_path)
    parse = m.model("parsed")  # type: ignore[attr-defined]
    row = {"replyid": "3", "admin": "", "userid": "7"}
    reply = Reply.model_validate(parse(row))
    assert reply.remote == RemoteData(vendor="acme", fields=row)
    assert reply.author == Author(kind="customer")
    assert Reply.model_validate(parse({"replyid": "1", "admin": "Ann"})).author.kind == "staff"
    assert Reply.model_validate(parse({"replyid": "1", "userid": "0"})).author.kind == "guest"
    assert Note(id=1).remote is None


@pytest.mark.parametrize(
    ("remote", "message"),
    [
        ("{render: [nope]}", "no field 'nope'"),
        ("{rendr: [subject]}", "unknown key 'rendr'"),
        ("yes", "must be 'passthrough'"),
    ],
)
def test_remote_option_mistakes_are_reported(tmp_path: Path, remote: str, message: str) -> None:
    text = f"models:\n  t:\n    source: Ticket\n    remote: {remote}\n    fields:\n      subject: subject\n"
    with pytest.raises(MappingErrors) as caught:
        vendor(tmp_path, "bad", text)
    assert message in str(caught.value) and "m.yaml:4:" in str(caught.value)
