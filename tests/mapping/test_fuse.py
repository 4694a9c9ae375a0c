"""A parse model fused into a render model (``gateway.mapping.fuse``): what ``render(record(row))``
gives, or None (the usual way then decides), for every dialect's ticket render and awkward rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.app import dialect_classes
from gateway.mapping.fuse import fuse, unwrapped
from gateway.mapping.loader import MappingSet, VendorMappings, load_mappings
from tests.mapping.test_records import ROW, VARIANTS


@pytest.fixture(scope="module")
def mappings() -> MappingSet:
    return load_mappings()


def _ticket_renders(mappings: MappingSet) -> dict[str, Any]:
    """Each dialect's get_ticket render (its action's result, with the render memo)."""
    out: dict[str, Any] = {}
    for name, cls in dialect_classes().items():
        vm = mappings.get(cls.vendor)
        if vm is None:
            continue
        for action in vm.actions.values():
            if action.operation == "get_ticket" and action.result is not None:
                out[name] = action.result
    return out


def _ticket_record(mappings: MappingSet) -> Any:
    record = mappings["pmp"].record("ticket")
    assert record is not None
    return record


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return ("answer", fn())
    except Exception as exc:  # the failure's kind is the outcome
        return ("error", type(exc).__name__)


def test_the_ticket_renders_that_read_only_the_records_fields_are_fused(mappings: MappingSet) -> None:
    record = _ticket_record(mappings)
    fused = {name: fuse(record, render, "pmp") is not None for name, render in _ticket_renders(mappings).items()}
    assert fused["whmcs"] and fused["keliweb"]
    # Clientexec's: a nested model of the same ticket, reading a property that names its fields
    assert fused["clientexec"]
    # the PMP dialect's ticket reads the raw record (same-vendor fields): not composed
    assert not fused["pmp"]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_a_fused_answer_is_the_rendered_record_or_none(mappings: MappingSet, name: str) -> None:
    record = _ticket_record(mappings)
    row = {**ROW, **VARIANTS[name]}
    for dialect, render in _ticket_renders(mappings).items():
        fused = fuse(record, render, "pmp")
        if fused is None:
            continue
        usual = _outcome(lambda r=render: r(record(dict(row))))
        got = fused(dict(row))
        if got is None:
            continue  # the usual way answers (or fails) instead
        assert usual == ("answer", got), (dialect, name)


def test_the_usual_row_is_answered_by_the_fused_function(mappings: MappingSet) -> None:
    record = _ticket_record(mappings)
    row = {k: v for k, v in ROW.items() if k not in ("password", "last_ip")}
    for dialect in ("whmcs", "keliweb"):
        render = _ticket_renders(mappings)[dialect]
        fused = fuse(record, render, "pmp")
        assert fused is not None
        assert fused(dict(row)) == render(record(dict(row)))


@pytest.mark.parametrize(
    "change",
    [
        {"date": "yesterday-ish"},  # the parse refuses it
        {"userid": "abc"},
        {"ticketid": None},  # the id is required: validation decides
    ],
)
def test_refused_data_is_left_to_the_usual_way(mappings: MappingSet, change: dict[str, Any]) -> None:
    record = _ticket_record(mappings)
    render = _ticket_renders(mappings)["whmcs"]
    fused = fuse(record, render, "pmp")
    assert fused is not None
    assert fused({**ROW, **change}) is None


def test_a_render_of_the_backends_own_vendor_is_not_composed(mappings: MappingSet) -> None:
    """A same-vendor pass-through (the raw record answered as it is) has no render to fuse for
    that vendor's records; for another vendor's it is the full render."""
    render = _ticket_renders(mappings)["whmcs"]  # (a WHMCS ticket read from a WHMCS backend: its own fields)
    assert unwrapped(render, "whmcs") is None
    assert unwrapped(render, "pmp") is not None


LAX = """
models:
  item:
    direction: parse
    source: dict
    target: Department
    fields:
      id: {from: n, transform: int}
      name: {from: label, transform: str}
  shown:
    direction: render
    source: Department
    fields:
      ident: {from: id, transform: str}
      title: {from: name}
  by_self:
    direction: render
    source: Department
    fields:
      ident: {from: id, transform: str}
      whole: {from: $}
  author:
    direction: parse
    source: dict
    target: Author
    fields:
      customer_id: {from: cid, transform: int}
      name: {from: who, transform: str}
  author_shown:
    direction: render
    source: Author
    fields:
      name: {from: name, transform: str}
  author_as_staff:
    direction: render
    source: Author
    fields:
      admin: {from: staff_name, transform: str}
"""


@pytest.fixture
def acme(tmp_path: Path) -> VendorMappings:
    """The mappings above, as an installation's own vendor."""
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "m.yaml").write_text(LAX, encoding="utf-8")
    return load_mappings(roots=[tmp_path])["acme"]


def test_a_render_that_reads_the_record_itself_is_not_composed(acme: VendorMappings) -> None:
    m = acme
    record = m.record("item")
    assert record is not None
    shown = fuse(record, m.model("shown"), "acme")
    assert shown is not None
    assert shown({"n": "3", "label": "Sales"}) == m.model("shown")(record({"n": "3", "label": "Sales"}))
    assert fuse(record, m.model("by_self"), "acme") is None


def test_a_property_that_does_not_name_the_fields_it_reads_is_not_composed(acme: VendorMappings) -> None:
    m = acme
    record = m.record("author")
    assert record is not None
    shown = fuse(record, m.model("author_shown"), "acme2")
    assert shown is not None and shown({"cid": "4", "who": "Sara"}) == {"name": "Sara"}
    assert fuse(record, m.model("author_as_staff"), "acme2") is None  # (Author.staff_name: no FUSED_PROPERTIES)
