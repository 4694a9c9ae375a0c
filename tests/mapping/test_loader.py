"""The mapping engine: loading, validation with file:line:col, compiled models."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway import canonical as c
from gateway.errors import InvalidInput
from gateway.mapping.loader import load_mappings
from gateway.mapping.source import MappingErrors


def write(root: Path, vendor: str, name: str, text: str) -> Path:
    path = root / vendor / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


BASE = """
enums:
  status:
    canonical: Status
    values: {"1": open, "5": closed}
dates:
  d: {format: "Y-m-d H:i:s", zone: backend}
models:
  row:
    direction: parse
    source: dict
    target: Ticket
    fields:
      id: {from: ticketid, transform: int}
      subject: subject
      status: {from: [status, status_name], transform: "enum:status"}
      created_at: {from: date, transform: "date:d"}
  out:
    source: Ticket
    fields:
      id: {from: id, transform: str}
      status: {from: status, transform: "enum:status"}
      date: {from: created_at, transform: "date:d"}
      replies: {each: replies, wrap: reply, fields: {m: message}}
"""


def test_compiled_models_round_trip(tmp_path: Path) -> None:
    write(tmp_path, "v", "a.yaml", BASE)
    m = load_mappings(roots=[tmp_path])["v"]
    row = {"ticketid": "7", "subject": "s", "status": "5", "date": "2019-04-10 03:08:21"}
    ticket = c.Ticket.model_validate(m.model("row")(row))
    assert ticket.status is c.Status.CLOSED
    assert ticket.created_at == datetime(2019, 4, 10, 3, 8, 21, tzinfo=UTC)
    assert m.model("out")(ticket) == {
        "id": "7",
        "status": "5",
        "date": "2019-04-10 03:08:21",
        "replies": {"reply": []},
    }


def test_unknown_enum_value_passes_through_visibly(tmp_path: Path) -> None:
    write(tmp_path, "v", "a.yaml", BASE)
    seen: list[tuple[str, str, str]] = []
    m = load_mappings(roots=[tmp_path], on_unmapped=lambda *a: seen.append(a))["v"]
    ticket = c.Ticket.model_validate(m.model("row")({"ticketid": "1", "status": "9", "status_name": "Escalated"}))
    assert ticket.status == c.Unmapped(vendor="v", code="9", label="Escalated")
    assert m.model("out")(ticket)["status"] == "Escalated"
    assert ("v", "status", "9") in seen


def test_absent_input_stays_absent(tmp_path: Path) -> None:
    write(tmp_path, "v", "a.yaml", BASE)
    m = load_mappings(roots=[tmp_path])["v"]
    assert m.model("row")({"ticketid": "3"}) == {"id": 3}


def test_errors_name_file_line_column_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "v",
        "a.yaml",
        BASE.replace('"date:d"}\n  out', '"dat:d"}\n  out').replace(
            "subject: subject", "subject: {from: subject, transform: nope}"
        ),
    )
    with pytest.raises(MappingErrors) as info:
        load_mappings(roots=[tmp_path])
    text = str(info.value)
    assert f"{path}:15:7: models.row.subject: unknown transform 'nope'" in text
    assert f"{path}:17:7: models.row.created_at: unknown transform 'dat'" in text


def test_paths_are_checked_against_the_canonical_model(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "v",
        "a.yaml",
        BASE.replace(
            'from: created_at, transform: "date:d"}\n      replies',
            'from: created, transform: "date:d"}\n      replies',
        ),
    )
    with pytest.raises(MappingErrors) as info:
        load_mappings(roots=[tmp_path])
    assert f"{path}:23:7: models.out.date: Ticket has no field 'created'" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("enums:\n  s:\n    canonical: Status\n    values: {a: opne}\n", "'opne' is not a canonical Status"),
        ("dates:\n  d: {format: 'Y-m-d Q'}\n", "unsupported date letter 'Q'"),
        ("dates:\n  d: {format: 'Y', zone: Mars/Base}\n", "unknown time zone 'Mars/Base'"),
        ("actions:\n  X: {operation: fly}\n", "unknown operation 'fly'"),
        ("bogus: {}\n", "unknown section"),
        ("models:\n  m: {fields: {a: {from: x, colour: red}}}\n", "unknown key 'colour'"),
        ("models:\n  m: {fields: {a: {each: x, model: nope}}}\n", "unknown model 'nope'"),
        ("models: [1, 2\n", "YAML syntax"),
        ("a: 1\na: 2\n", "duplicate key"),
    ],
)
def test_each_kind_of_mistake_is_reported(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "v", "a.yaml", text)
    with pytest.raises(MappingErrors) as info:
        load_mappings(roots=[tmp_path])
    assert message in str(info.value)
    assert str(tmp_path / "v" / "a.yaml") + ":" in str(info.value)


def test_overlay_replaces_entries_and_files(tmp_path: Path) -> None:
    packaged, overlay = tmp_path / "p", tmp_path / "o"
    write(packaged, "v", "a.yaml", BASE)
    write(
        overlay,
        "v",
        "statuses.yaml",
        'enums:\n  status:\n    canonical: Status\n    values: {"1": open, "5": closed, "6": on_hold}\n',
    )
    m = load_mappings(overlay, roots=[packaged])["v"]
    ticket = c.Ticket.model_validate(m.model("row")({"ticketid": "1", "status": "6"}))
    assert ticket.status is c.Status.ON_HOLD


def test_required_and_invalid_messages(tmp_path: Path) -> None:
    write(
        tmp_path,
        "v",
        "a.yaml",
        """
    actions:
      Get:
        operation: get_ticket
        params:
          ticket_id: {from: ticketid, transform: int, required: Ticket ID Not Found, invalid: Bad id}
    """,
    )
    spec = load_mappings(roots=[tmp_path])["v"].actions["Get"]
    assert spec.params({"ticketid": "12"}) == {"ticket_id": 12}
    with pytest.raises(InvalidInput, match="Ticket ID Not Found"):
        spec.params({})
    with pytest.raises(InvalidInput, match="Bad id"):
        spec.params({"ticketid": "1 OR 1=1"})


def test_packaged_mappings_load() -> None:
    mappings = load_mappings()
    assert {"whmcs", "pmp"} <= set(mappings.vendors)


def test_gateway_check_prints_file_line_and_exits_1(tmp_path: Path) -> None:
    broken = write(
        tmp_path,
        "whmcs",
        "broken.yaml",
        "models:\n  m:\n    source: Ticket\n    fields:\n      x: {from: id, transform: dat}\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "check", "--mappings", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{broken}:5:7: models.m.x: unknown transform 'dat'" in result.stdout


def test_gateway_check_passes_on_packaged_mappings() -> None:
    result = subprocess.run([sys.executable, "-m", "gateway", "check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_overlay_entry_inherits_what_it_does_not_restate(tmp_path: Path) -> None:
    packaged, overlay = tmp_path / "p", tmp_path / "o"
    write(packaged, "v", "a.yaml", BASE)
    bad = write(overlay, "v", "statuses.yaml", "enums:\n  status:\n    values: {Open: opne}\n")
    with pytest.raises(MappingErrors) as info:
        load_mappings(overlay, roots=[packaged])
    assert f"{bad}:3:14: enums.status.values.Open: 'opne' is not a canonical Status" in str(info.value)
