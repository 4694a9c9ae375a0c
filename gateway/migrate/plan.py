"""The plan: what a run would carry and what the target cannot hold, as named losses.

The losses come from the target's own answer to ``Backend.support(operation)`` for the
operations a migration uses, from the target's status list, and from matching staff and
departments: nothing here knows a vendor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gateway.backends.base import Backend
from gateway.canonical import Status, StatusValue, Unmapped
from gateway.losses import is_known, status_loss

#: Loss ids a backend names that do not apply to a migration: nobody is to be notified.
NOT_LOSSES = frozenset({"notifications", "requester-details"})


@dataclass
class Plan:
    counts: dict[str, int] = field(default_factory=dict)  # kind -> records in scope
    losses: dict[str, int] = field(default_factory=dict)  # loss id -> records it touches
    problems: list[str] = field(default_factory=list)  # refusals that no --allow-loss can accept
    creates: list[str] = field(default_factory=list)  # records the target lacks and a run creates (departments)

    def lose(self, loss_id: str, n: int = 1) -> None:
        if n > 0:
            self.losses[loss_id] = self.losses.get(loss_id, 0) + n

    def unaccepted(self, allowed: frozenset[str]) -> list[str]:
        if "all" in allowed:
            return []
        return sorted(loss for loss in self.losses if loss not in allowed)

    def render(self, allowed: frozenset[str]) -> str:
        lines = ["plan:"]
        for kind, n in self.counts.items():
            lines.append(f"  {kind}: {n}")
        for what in self.creates:
            lines.append(f"  create {what}")
        for loss, n in sorted(self.losses.items()):
            mark = "accepted" if "all" in allowed or loss in allowed else "NOT accepted"
            lines.append(f"  loss {loss}: {n} ({mark})")
        for problem in self.problems:
            lines.append(f"  refused: {problem}")
        return "\n".join(lines)


def support_losses(target: Backend, operation: str) -> tuple[str, ...]:
    """The loss ids writing ``operation`` on the target costs; a refused write loses the kind itself."""
    how, detail = target.support(operation)
    if how == "refused":
        return ({"add_reply": "replies", "add_note": "notes"}.get(operation, "refused:" + operation),)
    if how == "loss":
        return tuple(d for d in detail if d not in NOT_LOSSES and is_known(d))
    return ()


class StatusMap:
    """Source statuses -> what the target holds; an unmapped one is the loss ``status:NAME``."""

    def __init__(self, target_statuses: Sequence[tuple[StatusValue, str]], target_kind: str) -> None:
        self._known: set[str] = set()
        self._default: StatusValue = Status.OPEN
        for i, (value, _colour) in enumerate(target_statuses):
            self._known.add(self._key(value))
            if i == 0:
                self._default = value
        self._kind = target_kind
        self._open = not target_statuses  # a target that lists no statuses takes every canonical one

    @staticmethod
    def _key(value: StatusValue) -> str:
        if isinstance(value, Unmapped):
            return f"{value.vendor}:{(value.label or value.code).casefold()}"
        return value.value

    def holds(self, value: StatusValue) -> bool:
        if isinstance(value, Unmapped):
            return value.vendor == self._kind and self._key(value) in self._known
        return self._open or value.value in self._known

    def loss(self, value: StatusValue) -> str | None:
        if self.holds(value):
            return None
        if value == Status.CUSTOMER_REPLY:
            return "customer-reply-status"
        return status_loss(str(value.label or value.code) if isinstance(value, Unmapped) else value.value)

    @property
    def default(self) -> StatusValue:
        return self._default


def refusal(unaccepted: Iterable[str]) -> str:
    listed = ",".join(unaccepted)
    return f"the plan has losses not accepted: {listed} (accept with --allow-loss {listed} or --allow-loss all)"
