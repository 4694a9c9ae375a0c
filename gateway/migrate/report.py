"""What a run did, per kind, and the JSON report / stdout summary built from it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The kinds a run counts, in stage order.
KINDS: tuple[str, ...] = ("departments", "staff", "customers", "contacts", "tickets", "replies", "notes")
OUTCOMES: tuple[str, ...] = ("created", "updated", "unchanged", "skipped", "failed", "conflicts")


@dataclass
class Problem:
    kind: str
    source_id: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "source_id": self.source_id, "reason": self.reason}


@dataclass
class Report:
    """Every record in scope gets exactly one outcome, so the outcomes of a kind add up to its scope."""

    counts: dict[str, dict[str, int]] = field(default_factory=lambda: {k: dict.fromkeys(OUTCOMES, 0) for k in KINDS})
    failures: list[Problem] = field(default_factory=list)
    conflicts: list[Problem] = field(default_factory=list)
    losses: dict[str, int] = field(default_factory=dict)  # accepted loss id -> records it touched
    loss_notes: dict[str, str] = field(default_factory=dict)  # loss id -> what was written instead
    interrupted: bool = False
    dry_run: bool = False

    def add(self, kind: str, outcome: str, n: int = 1) -> None:
        self.counts[kind][outcome] += n

    def fail(self, kind: str, source_id: object, reason: str) -> None:
        self.counts[kind]["failed"] += 1
        self.failures.append(Problem(kind, str(source_id), reason))

    def conflict(self, kind: str, source_id: object, reason: str) -> None:
        self.counts[kind]["conflicts"] += 1
        self.conflicts.append(Problem(kind, str(source_id), reason))

    def lose(self, loss_id: str, n: int = 1) -> None:
        self.losses[loss_id] = self.losses.get(loss_id, 0) + n

    def in_scope(self, kind: str) -> int:
        return sum(self.counts[kind].values())

    @property
    def clean(self) -> bool:
        return not self.failures and not self.conflicts

    def exit_code(self) -> int:
        """INTERFACE: 0 all carried, 1 failures or conflicts, 3 interrupted."""
        if self.interrupted:
            return 3
        return 0 if self.clean else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
            "kinds": {k: {**self.counts[k], "in_scope": self.in_scope(k)} for k in KINDS},
            "failures": [p.as_dict() for p in self.failures],
            "conflicts": [p.as_dict() for p in self.conflicts],
            "losses_accepted": {
                loss: {"count": n, **({"written": self.loss_notes[loss]} if loss in self.loss_notes else {})}
                for loss, n in sorted(self.losses.items())
            },
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    def summary(self) -> str:
        lines = [f"{'kind':<12}" + "".join(f"{o:>11}" for o in OUTCOMES)]
        for kind in KINDS:
            lines.append(f"{kind:<12}" + "".join(f"{self.counts[kind][o]:>11}" for o in OUTCOMES))
        for loss, n in sorted(self.losses.items()):
            note = f" ({self.loss_notes[loss]})" if loss in self.loss_notes else ""
            lines.append(f"loss accepted: {loss}: {n}{note}")
        for p in self.failures[:20]:
            lines.append(f"failed: {p.kind} {p.source_id}: {p.reason}")
        for p in self.conflicts[:20]:
            lines.append(f"conflict: {p.kind} {p.source_id}: {p.reason}")
        more = len(self.failures) + len(self.conflicts) - min(20, len(self.failures)) - min(20, len(self.conflicts))
        if more > 0:
            lines.append(f"... {more} more in the report")
        if self.interrupted:
            lines.append("interrupted: run the same command again to resume")
        return "\n".join(lines)
