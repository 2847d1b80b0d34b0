"""decide_install / decide_uninstall: every rule, table-driven."""

from __future__ import annotations

import pytest

from kfboot.engine.phase import Problem
from kfboot.engine.plan import Action, ActionKind, decide_install, decide_uninstall
from kfboot.engine.state import PhaseRecord
from kfboot.k8s.refs import ObjectRef

INV = [ObjectRef("apps/v1", "Deployment", "webhook", "cert-manager"), ObjectRef("v1", "Namespace", "cert-manager")]


def rec(status: str = "ready", version: str = "1.19.4", digest: str = "d1", error: str = "") -> PhaseRecord:
    return PhaseRecord("cert-manager", status, version, digest, list(INV), error=error)


CASES: list[tuple[str, dict[str, object], ActionKind, str]] = [
    ("disabled, never installed", {"enabled": False, "record": None}, ActionKind.SKIP, "disabled in config"),
    ("disabled, uninstalled", {"enabled": False, "record": rec("uninstalled")}, ActionKind.SKIP, "disabled in config"),
    ("disabled, still installed", {"enabled": False, "record": rec()}, ActionKind.SKIP,
     "disabled in config (still installed: `kfboot uninstall` removes it)"),
    ("offline", {"offline": True, "record": rec()}, ActionKind.INSTALL, "offline plan: cluster state unknown"),
    ("no record", {"record": None}, ActionKind.INSTALL, "not installed"),
    ("uninstalled", {"record": rec("uninstalled")}, ActionKind.INSTALL, "not installed"),
    ("failed", {"record": rec("failed", error="boom")}, ActionKind.INSTALL, "resume: last run failed: boom"),
    ("interrupted", {"record": rec("interrupted")}, ActionKind.INSTALL, "resume: last run was interrupted"),
    ("killed while applying", {"record": rec("applying")}, ActionKind.INSTALL,
     "resume: last run stopped while applying"),
    ("killed while waiting", {"record": rec("waiting")}, ActionKind.INSTALL, "resume: last run stopped while waiting"),
    ("new version", {"version": "1.20.0", "digest": "d2"}, ActionKind.UPGRADE, "version 1.19.4 → 1.20.0"),
    ("same version, new values", {"digest": "d2"}, ActionKind.UPGRADE, "configuration changed"),
    ("digest change wins over drift", {"digest": "d2", "problems": [Problem("x", "y")]}, ActionKind.UPGRADE,
     "configuration changed"),
    ("unchanged, no problems", {"problems": []}, ActionKind.UP_TO_DATE, "installed, unchanged and ready"),
    ("unchanged, not checked", {"problems": None}, ActionKind.UP_TO_DATE, "installed, unchanged and ready"),
    ("drift", {"problems": [Problem("Deployment cert-manager/webhook", "0/1 available")]}, ActionKind.REPAIR,
     "drift: 1 object(s) missing or not ready"),
]


@pytest.mark.parametrize(("overrides", "kind", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide_install(overrides: dict[str, object], kind: ActionKind, reason: str) -> None:
    args: dict[str, object] = {"enabled": True, "version": "1.19.4", "digest": "d1", "record": rec(),
                               "problems": None, "offline": False}
    args.update(overrides)
    action = decide_install(**args)  # type: ignore[arg-type]
    assert (action.kind, action.reason) == (kind, reason)


def test_repair_details_list_at_most_ten_problems_but_count_all() -> None:
    problems = [Problem(f"Pod ns/p{i}", "ImagePullBackOff") for i in range(12)]
    action = decide_install(enabled=True, version="1.19.4", digest="d1", record=rec(), problems=problems)
    assert action.kind is ActionKind.REPAIR
    assert action.reason.startswith("drift: 12 object(s)")
    assert action.details == tuple(f"Pod ns/p{i}: ImagePullBackOff" for i in range(10))


def test_disabled_wins_over_everything() -> None:
    action = decide_install(enabled=False, version="2", digest="other", record=rec("failed"), problems=None,
                            offline=True)
    assert action.kind is ActionKind.SKIP
    assert not action.kind.changes


@pytest.mark.parametrize(("record", "kind", "reason"), [
    (None, ActionKind.SKIP, "not installed"),
    (rec("uninstalled"), ActionKind.SKIP, "not installed"),
    (rec("ready"), ActionKind.REMOVE, "installed (ready), 2 objects recorded"),
    (rec("failed"), ActionKind.REMOVE, "installed (failed), 2 objects recorded"),
    (rec("uninstalling"), ActionKind.REMOVE, "installed (uninstalling), 2 objects recorded"),
])
def test_decide_uninstall(record: PhaseRecord | None, kind: ActionKind, reason: str) -> None:
    action = decide_uninstall(record)
    assert (action.kind, action.reason) == (kind, reason)


@pytest.mark.parametrize(("kind", "changes"), [
    (ActionKind.INSTALL, True), (ActionKind.UPGRADE, True), (ActionKind.REPAIR, True), (ActionKind.REMOVE, True),
    (ActionKind.UP_TO_DATE, False), (ActionKind.SKIP, False),
])
def test_which_actions_change_the_cluster(kind: ActionKind, changes: bool) -> None:
    assert kind.changes is changes


def test_action_to_dict() -> None:
    action = Action(ActionKind.REPAIR, "drift", ("a: b",))
    assert action.to_dict() == {"action": "repair", "reason": "drift", "details": ["a: b"]}


def test_record_round_trips_through_json() -> None:
    record = rec("failed", error="x")
    again = PhaseRecord.from_json(record.to_json(), ObjectRef.from_dict)
    assert again == record
    assert again.inventory[1].namespace is None
