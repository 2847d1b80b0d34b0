"""Rendering plans and status for humans (stdout text) and machines (one JSON object)."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from kfboot.cli.context import GlobalOptions, print_json

MARKS = {"install": "+", "upgrade": "~", "repair": "!", "up-to-date": "=", "skip": "-", "remove": "x"}


def _layers(runner: Any) -> list[list[str]]:
    from kfboot.engine.dag import layers

    return layers(runner.needs)


def show_plan(opts: GlobalOptions, runner: Any, planned: list[Any], kube: Any, notes: tuple[str, ...] = (),
              objects: dict[str, Any] | None = None) -> None:
    """The plan; with `objects` (phase → ObjectChanges, `--objects`/`--diff`) also what happens to each object."""
    objects = objects or {}
    from kfboot.config.catalog import load_catalog

    src = load_catalog().sources["kubeflow-manifests"]
    counts = Counter(p.action.kind.value for p in planned)
    target = {"context": kube.target.context, "server": kube.target.server} if kube is not None else None
    if opts.json:
        print_json({
            "event": "plan", "offline": kube is None, "target": target,
            "kubeflowManifests": {"version": src.version, "commit": src.commit},
            "layers": _layers(runner),
            "phases": [{"phase": p.phase.name, "title": p.phase.title, "version": p.phase.version,
                        "needs": list(p.phase.needs), "enabled": p.phase.enabled, **p.action.to_dict(),
                        "steps": p.phase.describe(),
                        **({"objects": objects[p.phase.name].to_dict()} if p.phase.name in objects else {})}
                       for p in planned],
            "counts": dict(counts),
            "notes": list(notes),  # choices kfboot made by itself (e.g. on a kind cluster)
        })
        return
    out = sys.stdout.write
    where = "offline: cluster state not read" if kube is None else f"context {kube.target.context} ({kube.target.server})"
    out(f"kfboot plan ({where})\n")
    out(f"sources: kubeflow/manifests {src.version} at {src.commit}\n\n")
    for note in notes:
        out(f"note: {note}\n")
    if notes:
        out("\n")
    out("phase graph (a layer's phases may run at the same time; ← needs):\n")
    for i, layer in enumerate(_layers(runner), 1):
        parts = [name + (f" ← {', '.join(runner.needs[name])}" if runner.needs[name] else "") for name in layer]
        out(f"  {i}. " + "; ".join(parts) + "\n")
    out("\nphases:\n")
    width = max(len(p.phase.name) for p in planned)
    for p in planned:
        kind = p.action.kind.value
        out(f"  {MARKS.get(kind, ' ')} {p.phase.name:<{width}}  {p.phase.version:<9} {kind:<10} {p.action.reason}\n")
        for detail in p.action.details:
            out(f"      - {detail}\n")
        if p.action.kind.changes or kube is None:
            for step in p.phase.describe():
                out(f"      {step}\n")
        if p.phase.name in objects:
            _show_objects(out, objects[p.phase.name])
    summary = ", ".join(f"{counts.get(k, 0)} {label}" for k, label in (
        ("install", "to install"), ("upgrade", "to upgrade"), ("repair", "to repair"),
        ("up-to-date", "up to date"), ("skip", "skipped")))
    out(f"\n{summary}\n")


def _show_objects(out: Any, changes: Any) -> None:
    if changes.note:
        out(f"      objects: {changes.note}\n")
    for mark, refs in (("+", changes.create), ("~", changes.change), ("-", changes.prune)):
        for ref in refs:
            out(f"      {mark} {ref}\n")
            for line in changes.diff.get(ref, []):
                out(f"          {line}\n")
    counted = [f"{n} {what}" for n, what in ((changes.unchanged, "unchanged"), (changes.reapply, "re-applied")) if n]
    if counted:
        out(f"      = {', '.join(counted)}\n")


def show_status(opts: GlobalOptions, planned: list[Any], records: dict[str, Any]) -> None:
    rows = []
    for p in planned:
        rec = records.get(p.phase.name)
        rows.append({
            "phase": p.phase.name, "enabled": p.phase.enabled,
            "recorded": rec.status if rec else "not installed",
            "version": rec.version if rec else "", "wantedVersion": p.phase.version,
            "objects": len(rec.inventory) if rec else 0,
            "updated": (rec.finished_at or rec.started_at) if rec else "",
            "lastError": rec.error if rec else "",
            "live": p.action.kind.value, "reason": p.action.reason, "problems": list(p.action.details),
        })
    if opts.json:
        print_json({"event": "status", "phases": rows})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, box=None)
    for col in ("phase", "recorded", "version", "objects", "updated", "next install would"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["phase"], r["recorded"], r["version"] or "-", str(r["objects"]), r["updated"] or "-",
                      f"{r['live']}: {r['reason']}")
    from kfboot.cli.context import console_width

    Console(highlight=False, width=console_width()).print(table)
    for r in rows:
        for problem in r["problems"]:
            sys.stdout.write(f"  {r['phase']}: {problem}\n")
