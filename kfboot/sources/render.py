"""`kfboot render`: write what install would apply, per phase, without a cluster.

Manifest phases: the objects their source renders (the same list the engine's apply receives; it
only reorders them into waves). Helm phases: the values kfboot passes and `helm template` output.
Steps that need the live cluster (Dex's stored password, node labels) are listed in the index
instead of being guessed; nothing secret is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfboot.errors import UsageError

INDEX = "index.yaml"


def dump_objects(objects: list[dict[str, Any]]) -> str:
    import yaml

    return "".join("---\n" + yaml.safe_dump(obj, sort_keys=False, width=200) for obj in objects)


def select(phases: list[Any], names: list[str]) -> list[Any]:
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


def render_phase(phase: Any, helm_factory: Callable[[], Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The files of one phase and its index entry."""
    import yaml

    from kfboot.phases.helm_phase import HelmPhase
    from kfboot.phases.manifest_phase import ManifestPhase

    files: dict[str, str] = {}
    entry: dict[str, Any] = {"name": phase.name, "version": phase.version, "digest": phase.digest()}
    if isinstance(phase, HelmPhase):
        objects = helm_factory().template(phase.chart, phase.values, release=phase.release, namespace=phase.namespace)
        files["values.yaml"] = yaml.safe_dump(phase.values, sort_keys=True) if phase.values else "{}\n"
        entry.update(kind="helm", chart=phase.chart.describe(), release=f"{phase.namespace}/{phase.release}")
    elif isinstance(phase, ManifestPhase):
        objects = phase.source.render()
        for transform in phase.transforms:  # what a transform sets at install is left out (e.g. a password)
            objects = getattr(transform, "for_render", lambda o: o)(objects)
        entry.update(kind="manifests", source=phase.source.describe())
        later = [line for t in phase.transforms if (line := getattr(t, "describe", lambda: None)())]
        later += [line for t in phase.transforms for line in getattr(t, "render_notes", lambda: [])()]
        if later:
            entry["atInstall"] = later  # transforms that read the cluster (never rendered: may hold secrets)
    elif hasattr(phase, "configmaps"):
        objects = phase.configmaps()
        entry.update(kind="gpu-sharing", atInstall=["node labels for GPU pools are set against the live nodes"])
    else:
        objects = []
        entry.update(kind=type(phase).__name__, atInstall=["this phase works against the live cluster only"])
    from kfboot.sources.known_password import scrub

    files["manifests.yaml"] = scrub(dump_objects(objects))  # never upstream's well-known Dex login
    entry["objects"] = len(objects)
    entry["files"] = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}
    return files, entry


def render_to(phases: list[Any], output_dir: Path, helm_factory: Callable[[], Any],
              progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Write DIR/<phase>/manifests.yaml (+ values.yaml for Helm) and DIR/index.yaml; returns the index."""
    import yaml

    from kfboot import __version__

    output_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for phase in phases:
        files, entry = render_phase(phase, helm_factory)
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
