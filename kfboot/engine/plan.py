"""Deciding what to do for each phase: pure, so every rule is a fast unit test."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kfboot.engine.phase import Problem
    from kfboot.engine.state import PhaseRecord


class ActionKind(str, Enum):
    UP_TO_DATE = "up-to-date"
    INSTALL = "install"
    UPGRADE = "upgrade"
    REPAIR = "repair"
    REMOVE = "remove"
    SKIP = "skip"

    @property
    def changes(self) -> bool:
        return self in (ActionKind.INSTALL, ActionKind.UPGRADE, ActionKind.REPAIR, ActionKind.REMOVE)


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    reason: str
    details: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {"action": self.kind.value, "reason": self.reason, "details": list(self.details)}


def decide_install(
    *,
    enabled: bool,
    version: str,
    digest: str,
    record: PhaseRecord | None,
    problems: list[Problem] | None,
    offline: bool = False,
    disabled_reason: str | None = None,
) -> Action:
    """Install, upgrade, repair or nothing, with the reason a user would want to read.

    `disabled_reason` says why a disabled phase is off when it was not the user's config (e.g. a kind
    cluster without GPU nodes skips the GPU Operator)."""
    if not enabled:
        why = disabled_reason or "disabled in config"
        if record is not None and record.status not in ("uninstalled",):
            return Action(ActionKind.SKIP, f"{why} (still installed: `kfboot uninstall` removes it)")
        return Action(ActionKind.SKIP, why)
    if offline:
        return Action(ActionKind.INSTALL, "offline plan: cluster state unknown")
    if record is None or record.status == "uninstalled":
        return Action(ActionKind.INSTALL, "not installed")
    if record.status != "ready":
        what = {"failed": "last run failed", "interrupted": "last run was interrupted"}.get(
            record.status, f"last run stopped while {record.status}"
        )
        err = f": {record.error}" if record.error else ""
        return Action(ActionKind.INSTALL, f"resume: {what}{err}")
    if record.digest != digest:
        if record.version != version:
            return Action(ActionKind.UPGRADE, f"version {record.version} → {version}")
        return Action(ActionKind.UPGRADE, "configuration changed")
    if problems:
        shown = tuple(str(p) for p in problems[:10])
        return Action(ActionKind.REPAIR, f"drift: {len(problems)} object(s) missing or not ready", shown)
    return Action(ActionKind.UP_TO_DATE, "installed, unchanged and ready")


def decide_uninstall(record: PhaseRecord | None) -> Action:
    if record is None or record.status == "uninstalled":
        return Action(ActionKind.SKIP, "not installed")
    return Action(ActionKind.REMOVE, f"installed ({record.status}), {len(record.inventory)} objects recorded")
