"""The render direction's shortcuts give what the functions they skip give: the date memo (against
the plain formatter, with equal instants in other zones, folds, gaps, naive and odd values), the
spelled-out enum and slice renders, ``optional`` / ``omit_empty`` keys left out inline, a list's
items looked up in their memo inline, a passthrough model's other-vendor records, urlencode's memo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import pytest

from gateway.canonical import Author, Priority, RemoteData, Reply, Status, Ticket, Unmapped
from gateway.mapping import dates
from gateway.mapping import transforms as tr
from gateway.mapping.compiler import MappingDataFailure, _drop_none, _omit_empty
from gateway.mapping.loader import load_mappings

ROME = ZoneInfo("Europe/Rome")
CHICAGO = ZoneInfo("America/Chicago")
ZONES: list[tzinfo] = [UTC, ROME, CHICAGO, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-11))]


class Stamp(datetime):
    """A datetime subclass (its own formatting rules are not the memo's business)."""


def _values() -> list[Any]:
    """Dates whose texts differ though the dates compare equal, or nearly."""
    base = datetime(2024, 3, 1, 23, 30, 5, 123456, tzinfo=UTC)
    out: list[Any] = [base, base.replace(microsecond=0), base.replace(microsecond=999999)]
    # the same instant in other zones (equal to `base`, other fields)
    out += [base.astimezone(z) for z in ZONES]
    # Rome's autumn fold: 02:30 happens twice; fold=0 and fold=1 compare equal in the same zone
    out += [datetime(2024, 10, 27, 2, 30, tzinfo=ROME), datetime(2024, 10, 27, 2, 30, tzinfo=ROME, fold=1)]
    out += [datetime(2024, 10, 27, 0, 30, tzinfo=UTC), datetime(2024, 10, 27, 1, 30, tzinfo=UTC)]
    # Rome's spring gap: 02:30 does not exist
    out += [datetime(2024, 3, 31, 2, 30, tzinfo=ROME), datetime(2024, 3, 31, 2, 30, tzinfo=ROME, fold=1)]
    # naive (the process's local zone), a subclass, far dates, not dates at all
    out += [datetime(2024, 3, 1, 23, 30, 5), datetime(2024, 3, 1, 23, 30, 5, fold=1)]
    out += [Stamp(2024, 3, 1, 23, 30, 5, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59)]
    out += [None, "", "2024-03-01 23:30:05", 0, datetime(2024, 3, 1).date()]
    return out


@pytest.mark.parametrize("fmt", ["Y-m-d H:i:s", "Y-m-d", "n/j/Y g:i:s A", "m/d/Y h:i:s a", "U"])
@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_the_date_memo_gives_what_the_formatter_gives(fmt: str, zone: tzinfo) -> None:
    plain = dates.compile_formatter(fmt, zone)
    values = _values()
    for size in (dates.DATE_MEMO_SIZE, 3):  # (3: the memo fills and is cleared on the way)
        render = dates.memo_renderer(plain, size)
        # each value after every other (forwards, then backwards): a cached equal twin never answers
        for value in [*values, *values[::-1], *values]:
            want = _outcome(plain, value) if isinstance(value, datetime) else ("ok", "")
            assert _outcome(render, value) == want, (value, fmt)


def _outcome(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(value))
    except Exception as exc:  # (a date past year 9999 in a zone east of it: the same error)
        return ("error", type(exc).__name__)


def test_the_date_memo_is_bounded() -> None:
    render = dates.memo_renderer(dates.compile_formatter("Y-m-d H:i:s", UTC), size=8)
    for minute in range(50):
        render(datetime(2024, 1, 1, 0, minute, tzinfo=UTC))
    assert render.__closure__ is not None
    memo = next(c.cell_contents for c in render.__closure__ if isinstance(c.cell_contents, dict))
    assert 0 < len(memo) <= 8


@pytest.mark.parametrize("zone", ["UTC", "Europe/Rome", "display"])
def test_the_date_transform_renders_as_the_plain_formatter(zone: str) -> None:
    ctx = tr.CompileContext(
        "acme", "render", {}, {"d": tr.DateSpec("d", "Y-m-d H:i:s", zone)}, lambda n: ROME if n != "UTC" else UTC
    )
    render = tr.build("date:d", ctx)
    plain = dates.compile_formatter("Y-m-d H:i:s", UTC if zone == "UTC" else ROME)
    for value in _values():
        assert _outcome(render, value) == (_outcome(plain, value) if isinstance(value, datetime) else ("ok", ""))


def test_a_formatter_keeping_the_datetimes_own_zone_is_not_memoised() -> None:
    ctx = tr.CompileContext("acme", "render", {}, {"d": tr.DateSpec("d", "Y-m-d H:i:s", "own")}, lambda n: None)
    render = tr.build("date:d", ctx)
    when = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    # equal instants, other wall times: a memo keyed by the instant would answer the first twice
    assert render(when) == "2024-03-01 23:30:00"
    assert render(when.astimezone(ROME)) == "2024-03-02 00:30:00"


MODELS = """
enums:
  status:
    canonical: Status
    values: {Open: open, Closed: closed}
  level:
    canonical: Priority
    values: {Low: low, High: high}
    unmapped: Medium
models:
  row:
    source: Reply
    fields:
      a: {from: message, transform: "slice:0:3"}
      b: {from: message, transform: "slice:2:"}
      c: {from: message, transform: ["slice::-1", str]}
      d: {from: author.name, transform: [upper, "slice:1:4"]}
      maybe: {from: remote, optional: true}
      empty: {from: message, omit_empty: true}
      both: {from: remote, optional: true, omit_empty: true}
      last: {from: id, transform: str}
  spread:
    source: Reply
    fields:
      empty: {from: message, omit_empty: true}
      "<<": {from: author, model: named}
  named:
    source: Author
    fields:
      empty: {from: name}
  ticket:
    source: Ticket
    fields:
      status: {from: status, transform: "enum:status"}
      priority: {from: priority, transform: "enum:level"}
      both: {from: status, transform: ["enum:status", "slice:0:2"]}
"""


@pytest.fixture(scope="module")
def vendor(yaml_vendor: Any) -> Any:
    return yaml_vendor(MODELS)


def _ctx(vendor: Any) -> tr.CompileContext:
    return tr.CompileContext("acme", "render", vendor.enums, {}, lambda n: None)


TEXTS: list[Any] = ["", "ab", "abcdef", "èàù€ü", "a\r\nb", 5, None, True, 1.5, ("x",), Status.OPEN]


@pytest.mark.parametrize("text", TEXTS, ids=repr)
def test_slices_and_omitted_keys_give_what_the_functions_give(vendor: Any, text: Any) -> None:
    reply = Reply.model_construct(id=3, message=text, author=Author(name="José"), remote=None)
    got = vendor.model("row")(reply)
    ctx = tr.CompileContext("acme", "render", {}, {}, lambda n: None)
    upper = tr.build("upper", ctx)
    want = {
        "a": tr.build("slice:0:3", ctx)(text),
        "b": tr.build("slice:2:", ctx)(text),
        "c": tr.to_str(tr.build("slice::-1", ctx)(text)),
        "d": tr.build("slice:1:4", ctx)(upper("José")),
        "maybe": None,
        "empty": text,
        "both": None,
        "last": "3",
    }
    want = _omit_empty(_drop_none(want, ("maybe", "both")), ("empty", "both"))
    assert got == want and list(got) == list(want)


@pytest.mark.parametrize("value", [None, "", {}, [], 0, False, "0", " ", (), {"k": 1}], ids=repr)
def test_omit_empty_and_optional_test_what_the_functions_test(vendor: Any, value: Any) -> None:
    reply = Reply.model_construct(id=0, message=value, author=Author(), remote=value)
    got = vendor.model("row")(reply)
    full = {"maybe": value, "empty": value, "both": value}
    want = _omit_empty(_drop_none(dict(full), ("maybe", "both")), ("empty", "both"))
    assert {k: got[k] for k in full if k in got} == want


def test_a_spread_after_an_omitted_key_still_decides_it(vendor: Any) -> None:
    render = vendor.model("spread")
    assert render(Reply(id=1, message="", author=Author(name="Ann"))) == {"empty": "Ann"}
    assert render(Reply(id=1, message="x", author=Author(name=""))) == {}


STATUSES: list[Any] = [*Status, *Priority, None, "", "open", "Open", Unmapped(vendor="x", code="9", label="Nine")]


@pytest.mark.parametrize("value", STATUSES, ids=repr)
def test_enum_renders_give_what_the_function_gives(vendor: Any, value: Any) -> None:
    ctx = _ctx(vendor)
    status, level = tr.build("enum:status", ctx), tr.build("enum:level", ctx)
    before = tr.unmapped_seen()
    got = vendor.model("ticket")(Ticket.model_construct(id=1, status=value, priority=value))
    middle = tr.unmapped_seen()
    want = {"status": status(value), "priority": level(value), "both": status(value)[0:2]}
    assert got == want
    # an unmapped value is counted as the functions count it (a memo must not reuse the answer)
    assert middle - before == tr.unmapped_seen() - middle


def test_enum_renders_of_unhashable_values_fail_as_the_function_does(vendor: Any) -> None:
    with pytest.raises(TypeError):
        tr.build("enum:status", _ctx(vendor))(["open"])
    with pytest.raises(MappingDataFailure) as failure:
        vendor.model("ticket")(Ticket.model_construct(id=1, status=["open"], priority=None))  # type: ignore[arg-type]
    assert failure.value.spec_path == "models.ticket.status"


PASSING = """
models:
  reply:
    source: Reply
    remote: {render: [id], when: replyid}
    fields:
      id: {from: id, transform: str}
      when: {from: created_at, transform: "date:d"}
      tags: {from: attachments, transform: "join:,"}
      extra: {const: "", omit_empty: true}
dates:
  d: {format: "Y-m-d H:i:s", zone: UTC}
"""


@pytest.fixture(scope="module")
def passing(yaml_vendor: Any) -> Any:
    return yaml_vendor(PASSING)


def test_a_passthrough_model_renders_other_backends_records_field_by_field(passing: Any) -> None:
    render = passing.model("reply")
    when = datetime(2024, 3, 1, 9, 5, tzinfo=ROME)
    own = Reply(id=4, remote=RemoteData(vendor="acme", fields={"replyid": "x", "id": "old", "z": 1}))
    assert render(own) == {"replyid": "x", "id": "4", "z": 1}
    shaped = Reply(id=4, remote=RemoteData(vendor="acme", fields={"other": 1}), created_at=when)
    other = Reply(id=4, remote=RemoteData(vendor="pmp", fields={"replyid": "x"}), created_at=when)
    for reply in (shaped, other, Reply(id=4, created_at=when, attachments=("a", "b"))):
        got = render(reply)
        assert got == {"id": "4", "when": "2024-03-01 08:05:00", "tags": ",".join(reply.attachments)}


def test_a_passthrough_models_failure_names_the_field_once(passing: Any, caplog: pytest.LogCaptureFixture) -> None:
    bad = Reply.model_construct(id=4, remote=None, created_at=None, attachments=5)  # type: ignore[arg-type]
    with pytest.raises(MappingDataFailure) as failure:
        passing.model("reply")(bad)
    assert (failure.value.spec_path, failure.value.data_field) == ("models.reply.tags", "attachments")
    assert [r.getMessage() for r in caplog.records].count(f"mapping failure (render): {failure.value.detail}") == 1


LISTS = """
enums:
  status:
    canonical: Status
    values: {Open: open}
models:
  page:
    source: Ticket
    fields:
      items: {each: replies, model: item}
      plain: {each: notes, fields: {id: {from: id, transform: str}}}
  item:
    source: Reply
    fields:
      id: {from: id, transform: str}
      text: message
"""


@pytest.fixture(scope="module")
def lists(yaml_vendor: Any) -> Any:
    return yaml_vendor(LISTS)


def test_a_lists_items_are_rendered_once_per_object(lists: Any) -> None:
    render = lists.model("page")
    one, two = Reply(id=1, message="a"), Reply(id=2, message="b")
    first = render(Ticket(id=1, replies=(one, two)))
    assert first["items"] == [{"id": "1", "text": "a"}, {"id": "2", "text": "b"}]
    # the same reply objects in another ticket: their renderings are the very same dicts
    again = render(Ticket(id=2, replies=(two, one, one)))
    assert again["items"][0] is first["items"][1] and again["items"][1] is first["items"][0]
    assert again["items"][2] is again["items"][1]
    # an equal new object is rendered again (it may come from another answer)
    copy = Reply(id=1, message="a")
    third = render(Ticket(id=3, replies=(copy,)))
    assert third["items"] == [first["items"][0]] and third["items"][0] is not first["items"][0]


def test_a_lists_mutable_items_are_rendered_every_time(lists: Any) -> None:
    render = lists.model("page")
    row: dict[str, Any] = {"id": 1, "message": "a"}

    class Box:  # not a frozen record: its fields may change between renderings
        id = 5
        message = "m"

    box = Box()
    ticket = Ticket.model_construct(id=1, replies=(box,), notes=(row,))  # type: ignore[arg-type]
    first = render(ticket)
    box.message, row["id"] = "n", 2
    second = render(ticket)
    assert first["items"] == [{"id": "5", "text": "m"}] and second["items"] == [{"id": "5", "text": "n"}]
    assert first["plain"] == [{"id": "1"}] and second["plain"] == [{"id": "2"}]


URL_TEXTS = ["a\r\nb", "50% & more", "è/é?", "plain words", "x" * 5000 + "&", "", "a+b", "Ünïcödé\u2028", "\t"]


def test_urlencode_remembers_what_quote_plus_gave(monkeypatch: pytest.MonkeyPatch) -> None:
    urlencode = tr.build("urlencode", tr.CompileContext("acme", "render", {}, {}, lambda n: None))
    for size in (tr.URL_MEMO_SIZE, 2):  # (2: the memo fills and is cleared on the way)
        monkeypatch.setattr(tr, "URL_MEMO_SIZE", size)
        monkeypatch.setattr(tr, "_URL_MEMO", {})
        for text in [*URL_TEXTS, *URL_TEXTS[::-1], *URL_TEXTS]:
            assert urlencode(text) == quote_plus(text)
        assert len(tr._URL_MEMO) <= size
    assert "x" * 5000 + "&" not in tr._URL_MEMO  # (a long text is encoded, not kept)


def test_fields_rendering_one_format_in_other_zones_do_not_share_texts() -> None:
    when = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    texts = []
    for zone in (ROME, CHICAGO, ROME):
        dates_ = {"d": tr.DateSpec("d", "Y-m-d H:i:s", "z")}
        ctx = tr.CompileContext("acme", "render", {}, dates_, dict.fromkeys(["z"], zone).get)
        texts.append(tr.build("date:d", ctx)(when))
    assert texts == ["2024-03-02 00:30:00", "2024-03-01 17:30:00", "2024-03-02 00:30:00"]


def _records() -> list[Any]:
    """Canonical records with every field set (or left as their defaults), of the classes render
    models read."""
    from gateway import canonical as c

    when = datetime(2024, 3, 1, 9, 15, tzinfo=UTC)
    author = Author(kind="customer", customer_id=1, contact_id=3, name="John Smith", email="john@acme.example")
    staff = Author(kind="staff", staff_id=2, name="Sara Bianchi", email="sara@helpdesk.example")
    replies = (
        Reply(id=0, created_at=when, message="Hello\r\nthere", author=author),
        Reply(id=5, created_at=when + timedelta(hours=1), message="On it", author=staff, attachments=("a.pdf",)),
    )
    ticket = Ticket(
        id=7,
        number="ABC-7",
        access_key="704ae2e741b12ecf",
        subject="Cannot log in",
        status=Status.ANSWERED,
        priority=Unmapped(vendor="pmp", code="9", label="Urgent"),
        department=c.Department(id=2, name="Support"),
        customer_id=1,
        contact_id=3,
        requester=author,
        cc="boss@acme.example",
        created_at=when,
        last_reply_at=when + timedelta(hours=1),
        assigned_staff_id=2,
        replies=replies,
        notes=(c.Note(id=1, created_at=when, message="internal", staff_name="Sara", staff_id=2),),
        opened_by_staff="Sara Bianchi",
        company="Acme",
        remote=RemoteData(vendor="pmp", fields={"ticketid": "7", "subject": "Cannot log in"}),
    )
    return [
        ticket,
        Ticket(id=1),
        *replies,
        author,
        staff,
        Author(),
        c.Note(id=2),
        c.Department(id=1, name=""),
        c.Staff(id=4, firstname="Ann", lastname="Lee", email="ann@x.example"),
        c.Contact(id=3, customer_id=1, firstname="John", email="john@acme.example", created_at=when),
        c.Customer(id=1, company="Acme", firstname="John", created_at=when, primary_contact_id=3),
    ]


def _subclass_copy(record: Any) -> Any:
    """The same record as an instance of a subclass: the render reads it attribute by attribute."""
    sub: Any = type(f"Sub{type(record).__name__}", (type(record),), {})
    copy = sub.model_construct(_fields_set=set(record.model_fields_set), **record.__dict__)
    assert type(copy) is not type(record) and copy.__dict__ == record.__dict__
    return copy


def test_a_records_fields_read_from_its_dict_render_as_read_one_by_one() -> None:
    mappings = load_mappings()
    seen = 0
    for vendor in mappings.vendors.values():
        for name, model in vendor.models.items():
            for record in _records():
                fast = _outcome(model, record)
                slow = _outcome(model, _subclass_copy(record))
                assert fast == slow, (vendor, name, type(record).__name__)
                seen += fast[0] == "ok"
    assert seen >= 40  # (a model given another class's record fails alike both ways)
    detail = mappings["whmcs"].models["ticket_detail"]
    ticket = _records()[0]
    assert detail(ticket) == detail(_subclass_copy(ticket))
    assert detail(ticket)["priority"] == "Urgent" and len(detail(ticket)["replies"]["reply"]) == 2


def test_the_render_memo_lets_go_of_a_record_when_it_dies() -> None:
    import gc
    import weakref

    from gateway.mapping.compiler import identity_memo, memo_parts

    calls: list[int] = []

    def render(s: Any) -> dict[str, Any]:
        calls.append(s.id)
        return {"id": s.id}

    cache, miss = memo_parts(render, 4)
    ticket = Ticket(id=1, subject="kept while alive")
    first = miss(ticket)
    assert len(cache) == 1 and cache[id(ticket)][1] is first
    alive = weakref.ref(ticket)
    del ticket
    gc.collect()
    assert alive() is None  # the memo held no strong reference
    assert len(cache) == 0  # and its entry left with the record
    # more live records than the memo holds: the oldest entries go first
    live = [Ticket(id=n) for n in range(10)]
    for t in live:
        miss(t)
    assert len(cache) == 4 and set(cache) == {id(t) for t in live[-4:]}
    # an object at a dead one's address is rendered, never answered the dead one's rendering
    memo = identity_memo(render, 4)
    for n in range(200):
        out = memo(Ticket(id=n))  # each dies at once; its successor may take its address
        assert out == {"id": n}
    kept = Ticket(id=999)
    assert memo(kept) is memo(kept)
