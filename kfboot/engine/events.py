"""Events the engine emits; the CLI turns them into a live table, plain lines or JSON."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Phase states as users see them.
PENDING = "pending"
APPLYING = "applying"
WAITING = "waiting"
READY = "ready"
UP_TO_DATE = "up-to-date"
SKIPPED = "skipped"
FAILED = "failed"
TIMED_OUT = "timed-out"
CANCELLED = "cancelled"
INTERRUPTED = "interrupted"
REMOVING = "removing"
REMOVED = "removed"
DRY_RUN = "dry-run"
GOOD = frozenset({READY, UP_TO_DATE, SKIPPED, REMOVED, DRY_RUN})


@dataclass(frozen=True)
class Event:
    kind: str  # "plan" | "phase" | "progress" | "warning"
    phase: str | None = None
    state: str | None = None
    message: str = ""
    elapsed: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.kind, "time": round(self.at, 3)}
        if self.phase is not None:
            out["phase"] = self.phase
        if self.state is not None:
            out["state"] = self.state
        if self.message:
            out["message"] = self.message
        if self.elapsed is not None:
            out["elapsed"] = round(self.elapsed, 3)
        out.update(self.data)
        return out


Emit = Callable[[Event], None]


@dataclass
class PhaseOutcome:
    phase: str
    title: str
    state: str
    action: str
    reason: str
    duration: float = 0.0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "title": self.title, "state": self.state, "action": self.action,
                "reason": self.reason, "duration": round(self.duration, 3), "message": self.message}


@dataclass
class RunSummary:
    operation: str
    outcomes: list[PhaseOutcome]
    elapsed: float
    requests: int = 0
    writes: int = 0
    exit_code: int = 0
    target: dict[str, str] = field(default_factory=dict)
    message: str = ""
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return {"event": "summary", "operation": self.operation, "ok": self.ok, "exitCode": self.exit_code,
                "elapsed": round(self.elapsed, 3), "requests": self.requests, "writes": self.writes,
                "target": self.target, "message": self.message, **({"hint": self.hint} if self.hint else {}),
                "phases": [o.to_dict() for o in self.outcomes]}
