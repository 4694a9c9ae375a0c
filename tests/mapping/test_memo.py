"""The render memo (gateway.mapping.compiler.identity_memo): the same immutable canonical record
renders once; anything whose rendering may differ from call to call is rendered every time."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.app import zone_config
from gateway.canonical import Reply, Ticket, Unmapped
from gateway.mapping.compiler import MEMO_SIZE, identity_memo, is_volatile
from gateway.mapping.loader import load_mappings
from gateway.metrics import Metrics
from gateway.settings import Settings


def _ticket(ticket_id: int = 7, **kw: object) -> Ticket:
    opened = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    return Ticket(
        id=ticket_id,
        number=str(ticket_id),
        subject="Printer",
        created_at=opened,
        replies=(Reply(id=1, created_at=opened, message="It jams"),),
        **kw,
    )


def test_the_same_record_renders_once_and_an_equal_new_one_renders_again() -> None:
    calls: list[object] = []

    def render(s: object) -> dict[str, object]:
        calls.append(s)
        return {"id": getattr(s, "id", None)}

    memo = identity_memo(render)
    ticket = _ticket()
    first = memo(ticket)
    assert memo(ticket) is first and len(calls) == 1
    again = memo(_ticket())  # equal, but another object: it may come from another answer
    assert again == first and again is not first and len(calls) == 2


def test_mutable_arguments_are_never_cached() -> None:
    calls: list[object] = []

    def render(s: dict[str, int]) -> dict[str, int]:
        calls.append(s)
        return {"n": len(s)}

    memo = identity_memo(render)
    row = {"a": 1}
    assert memo(row) == {"n": 1}
    row["b"] = 2
    assert memo(row) == {"n": 2} and len(calls) == 2


def test_the_memo_is_bounded() -> None:
    memo = identity_memo(lambda s: {"id": s.id})
    tickets = [_ticket(i) for i in range(1, MEMO_SIZE + 50)]
    for t in tickets:
        memo(t)
    closure = memo.__closure__
    assert closure is not None
    cache = closure[0].cell_contents
    assert len(cache) <= MEMO_SIZE


def test_a_model_reading_the_clock_is_volatile_and_rendered_every_time() -> None:
    mappings = load_mappings(None, zone_config(Settings()))
    clientexec = mappings["clientexec"]
    spec = clientexec.actions["GetTicket"]
    assert spec.result is not None
    # time_elapsed_in_minutes (minutes_since) makes Clientexec's ticket depend on the clock
    assert is_volatile(spec.result)
    ticket = _ticket()
    assert spec.result(ticket) is not spec.result(ticket)


def test_whmcs_get_ticket_reuses_its_rendering() -> None:
    mappings = load_mappings(None, zone_config(Settings()))
    spec = mappings["whmcs"].actions["GetTicket"]
    assert spec.result is not None
    ticket = _ticket()
    assert spec.result(ticket) is spec.result(ticket)


def test_an_unmapped_value_is_counted_on_every_rendering() -> None:
    metrics = Metrics()
    mappings = load_mappings(None, zone_config(Settings()), metrics.on_unmapped)
    spec = mappings["whmcs"].actions["GetTicket"]
    assert spec.result is not None
    odd = _ticket(status=Unmapped(vendor="other", code="42", label="Escalated"))
    first, second = spec.result(odd), spec.result(odd)
    assert first == second and first is not second
    text = metrics.render().decode()
    assert 'gateway_unmapped_values_total{enum="status",vendor="whmcs"} 2.0' in text


def test_the_oldest_rendering_is_the_one_forgotten() -> None:
    calls: list[int] = []

    def render(s: Ticket) -> dict[str, int]:
        calls.append(s.id)
        return {"id": s.id}

    memo = identity_memo(render, size=2)
    one, two, three = _ticket(1), _ticket(2), _ticket(3)
    for t in (one, two, three, two, three):  # three pushes one out
        memo(t)
    assert calls == [1, 2, 3]
    memo(one)  # rendered again, pushing two out
    memo(three)
    memo(two)
    assert calls == [1, 2, 3, 1, 2]
