"""Which objects a phase's install would create, change or prune: `kfboot plan --objects|--diff`.

The desired objects are the phase's rendering (what `kfboot render` writes), the recorded ones its
inventory in the state. Without the cluster: create = rendered and not recorded, prune = recorded
and no longer rendered, the rest re-applied. With `--diff` every rendered object is read and only
the fields kfboot sets are compared (defaults the API server adds are not changes), one
`path: live → wanted` line each. Nothing is downloaded for this: a phase whose sources are not
local yet says so, and Helm phases leave the comparison to `helm upgrade`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kfboot.engine.phase import Phase
from kfboot.engine.services import Services
from kfboot.engine.state import PhaseRecord
from kfboot.k8s.refs import ObjectRef
from kfboot.phases.helm_phase import HelmPhase
from kfboot.phases.manifest_phase import ManifestPhase
from kfboot.phases.render import Renderable

MAX_DIFF_LINES = 20  # per object; the rest is counted
SKIPPED_METADATA = ("creationTimestamp", "resourceVersion", "uid", "generation", "managedFields")


@dataclass
class ObjectChanges:
    create: list[str] = field(default_factory=list)
    change: list[str] = field(default_factory=list)
    prune: list[str] = field(default_factory=list)
    unchanged: int = 0
    reapply: int = 0  # without --diff: objects that exist and are applied again
    diff: dict[str, list[str]] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"create": self.create, "change": self.change, "prune": self.prune,
                               "unchanged": self.unchanged, "reapply": self.reapply}
        if self.diff:
            out["diff"] = self.diff
        if self.note:
            out["note"] = self.note
        return out


def object_changes(phase: Phase, record: PhaseRecord | None, services: Services, kube: Any | None) -> ObjectChanges:
    """What install would do to each object of `phase`; with `kube`, field by field against the live objects."""
    if isinstance(phase, HelmPhase):
        return ObjectChanges(note="Helm computes the release's changes itself (`helm upgrade`)")
    if isinstance(phase, ManifestPhase) and not _local(phase):
        return ObjectChanges(note="its manifests are not downloaded yet (cache bundle); pass --bundle or --manifests "
                                  "to list its objects")
    if not isinstance(phase, Renderable):
        return ObjectChanges(note="objects are decided against the live cluster at install")
    desired = {ObjectRef.of(obj): obj for obj in phase.render(services).objects}
    recorded = set(record.inventory) if record is not None else set()
    out = ObjectChanges(prune=sorted(str(ref) for ref in recorded - desired.keys()))
    for ref, obj in sorted(desired.items()):
        if kube is None:
            if ref in recorded:
                out.reapply += 1
            else:
                out.create.append(str(ref))
            continue
        live = kube.get_ref(ref)
        if live is None:
            out.create.append(str(ref))
            continue
        lines = field_diff(obj, live)
        if lines:
            out.change.append(str(ref))
            out.diff[str(ref)] = lines[:MAX_DIFF_LINES] + (
                [f"… {len(lines) - MAX_DIFF_LINES} more fields"] if len(lines) > MAX_DIFF_LINES else [])
        else:
            out.unchanged += 1
    return out


def _local(phase: ManifestPhase) -> bool:
    from kfboot.sources.phase_sources import CachedUpstream, cache_bundle_present

    return not isinstance(phase.source, CachedUpstream) or cache_bundle_present()


def field_diff(wanted: Any, live: Any, path: str = "") -> list[str]:
    """`path: live → wanted` for every field set in `wanted` that `live` holds differently (pure)."""
    if isinstance(wanted, dict) and isinstance(live, dict):
        lines: list[str] = []
        for key, value in wanted.items():
            if (path == "" and key == "status") or (path == "metadata" and key in SKIPPED_METADATA):
                continue
            lines += field_diff(value, live.get(key), f"{path}.{key}" if path else str(key))
        return lines
    if isinstance(wanted, list) and isinstance(live, list) and len(wanted) == len(live):
        return [line for i, (w, v) in enumerate(zip(wanted, live, strict=True))
                for line in field_diff(w, v, f"{path}[{i}]")]  # items keep the fields the server defaults
    if wanted == live:
        return []
    return [f"{path}: {_short(live)} → {_short(wanted)}"]


def _short(value: Any) -> str:
    text = "(absent)" if value is None else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "…"
