"""`kfboot render`: write what install would apply, per phase, without a cluster.

Rendering is an optional capability of a phase kind (`Renderable.render`): manifest phases give the
objects their source renders (the same list the engine's apply receives; it only reorders them into
waves), Helm phases the values kfboot passes and `helm template` output, the GPU sharing phase its
ConfigMaps. Steps that need the live cluster (Dex's stored password, node labels) are listed in the
index instead of being guessed; nothing secret is written. A phase kind without `render` is listed
as cluster-only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from kfboot.engine.phase import Phase
from kfboot.engine.services import Services
from kfboot.errors import UsageError

INDEX = "index.yaml"


@dataclass
class Rendering:
    """What a phase would apply: its objects, its index fields, and files besides manifests.yaml."""

    objects: list[dict[str, Any]]
    entry: dict[str, Any]  # kind, where it comes from, atInstall (steps only the live cluster can do)
    files: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Renderable(Protocol):
    """A phase kind that can say what it would apply without a cluster."""

    def render(self, services: Services) -> Rendering: ...


def dump_objects(objects: list[dict[str, Any]]) -> str:
    import yaml

    return "".join("---\n" + yaml.safe_dump(obj, sort_keys=False, width=200) for obj in objects)


def select(phases: list[Phase], names: list[str]) -> list[Phase]:
    """`all` (or nothing): the enabled phases; otherwise the named ones, in install order."""
    if not names or names == ["all"]:
        return [p for p in phases if p.enabled]
    known = {p.name: p for p in phases}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown phase {', '.join(unknown)}", hint=f"phases: all, {', '.join(known)}")
    disabled = [n for n in names if not known[n].enabled]
    if disabled:
        raise UsageError(f"phase {', '.join(disabled)} is disabled in the config, so install would apply nothing",
                         hint="enable it in kfboot.yaml to render it")
    return [p for p in phases if p.name in names]


def render_phase(phase: Phase, services: Services) -> tuple[dict[str, str], dict[str, Any]]:
    """The files of one phase and its index entry."""
    entry: dict[str, Any] = {"name": phase.name, "version": phase.version, "digest": phase.digest()}
    if isinstance(phase, Renderable):
        rendering = phase.render(services)
    else:
        rendering = Rendering([], {"kind": type(phase).__name__,
                                   "atInstall": ["this phase works against the live cluster only"]})
    entry.update(rendering.entry)
    from kfboot.sources.known_password import scrub

    # never upstream's well-known Dex login, whatever a phase renders
    files = {**rendering.files, "manifests.yaml": scrub(dump_objects(rendering.objects))}
    entry["objects"] = len(rendering.objects)
    entry["files"] = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}
    return files, entry


def render_to(phases: list[Phase], output_dir: Path, services: Services,
              progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Write DIR/<phase>/manifests.yaml (+ values.yaml for Helm) and DIR/index.yaml; returns the index."""
    import yaml

    from kfboot import __version__

    output_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for phase in phases:
        files, entry = render_phase(phase, services)
        target = output_dir / phase.name
        target.mkdir(exist_ok=True)
        for stale in ("manifests.yaml", "values.yaml"):
            if stale not in files and (target / stale).exists():
                (target / stale).unlink()
        for name, text in files.items():
            (target / name).write_text(text, encoding="utf-8")
        entries.append(entry)
        progress(f"{phase.name}: {entry['objects']} objects → {target}")
    index = {"apiVersion": "kfboot.io/v1alpha1", "kind": "Render", "kfbootVersion": __version__, "phases": entries}
    (output_dir / INDEX).write_text(yaml.safe_dump(index, sort_keys=False, width=200), encoding="utf-8")
    return index
