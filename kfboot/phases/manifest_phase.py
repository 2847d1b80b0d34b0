"""A phase that server-side applies rendered manifests in dependency waves and prunes leftovers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kfboot.config.catalog import Gate
from kfboot.engine.phase import PhaseContext, Problem
from kfboot.engine.services import Services
from kfboot.k8s.refs import ObjectRef
from kfboot.phases.gates import check_gates, describe_gate, wait_ready
from kfboot.phases.inventory import check_inventory, dry_run_world, remove_inventory, waiter
from kfboot.phases.render import Rendering
from kfboot.sources.manifests import ManifestSource

# Rewrites a phase's rendered objects before they are applied (e.g. Dex's initial user). A transform may
# also have `describe() -> str` (a plan line; never a secret), `fingerprint() -> JSON value` (goes into
# the phase digest, so a changed setting re-applies; never a secret, and stable across runs) and
# `check(ctx) -> list[Problem]` (read-only drift of what it manages, e.g. a rotated user Secret).
ObjectTransform = Callable[[PhaseContext, list[dict[str, Any]]], list[dict[str, Any]]]


@dataclass
class ManifestPhase:
    name: str
    title: str
    source: ManifestSource
    version: str
    needs: tuple[str, ...] = ()
    enabled: bool = True
    gates: list[Gate] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # component choices that change the render
    transforms: list[ObjectTransform] = field(default_factory=list)  # applied in order after render

    def digest(self) -> str:
        content: dict[str, Any] = {"source": self.source.fingerprint(), "version": self.version,
                                   "settings": self.settings}
        if self.transforms:  # only then, so phases without transforms keep their recorded digests
            content["transforms"] = [_call(t, "fingerprint", getattr(t, "__qualname__", type(t).__name__))
                                     for t in self.transforms]
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def describe(self) -> list[str]:
        return ([f"server-side apply {self.source.describe()}"]
                + [line for t in self.transforms if (line := _call(t, "describe", None))]
                + [f"then wait for {describe_gate(g)}" for g in self.gates])

    def check(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> list[Problem]:
        problems = check_inventory(ctx, inventory) + check_gates(ctx, self.gates)
        for transform in self.transforms:  # e.g. a user rotated the password in their own Secret
            hook = getattr(transform, "check", None)
            if hook is not None:
                problems += hook(ctx)
        return problems

    def apply(self, ctx: PhaseContext) -> list[ObjectRef]:
        from kfboot.k8s.apply import Applier, delete_objects

        objects = self.source.render()
        for transform in self.transforms:
            objects = transform(ctx, objects)
        kube = ctx.require_kube()
        applier = Applier(kube, waiter(ctx), parallel=ctx.parallel, dry_run=ctx.dry_run, progress=ctx.progress,
                          world=dry_run_world(ctx))
        result = applier.apply(objects, ctx.deadline)
        for ref, why in result.unchecked:
            ctx.progress(f"dry run: {ref} not checked by the server ({why})")
        inventory = sorted(set(result.applied))
        if ctx.record is not None and not ctx.dry_run:
            gone = sorted(set(ctx.record.inventory) - set(inventory))
            if not ctx.purge_crds:
                gone = [r for r in gone if r.kind != "CustomResourceDefinition"]
            if gone:
                ctx.progress(f"pruning {len(gone)} objects that left the manifests")
                stuck = delete_objects(kube, waiter(ctx), gone, ctx.deadline, parallel=ctx.parallel,
                                       progress=ctx.progress)
                for line in stuck:
                    ctx.progress(line)
        return inventory

    def wait(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> None:
        wait_ready(ctx, inventory, self.gates)

    def render(self, services: Services) -> Rendering:
        """The objects apply would receive, before transforms that read the cluster (listed instead)."""
        objects = self.source.render()
        for transform in self.transforms:  # what a transform sets at install is left out (e.g. a password)
            for_render = getattr(transform, "for_render", None)
            objects = for_render(objects) if callable(for_render) else objects
        entry: dict[str, Any] = {"kind": "manifests", "source": self.source.describe()}
        # pure transforms (`applied_in_render`) are in the objects already; the rest happen at install
        later = [line for t in self.transforms
                 if not getattr(t, "applied_in_render", False) and (line := _call(t, "describe", None))]
        later += [line for t in self.transforms for line in _call(t, "render_notes", [])]
        if later:
            entry["atInstall"] = later  # transforms that read the cluster (never rendered: may hold secrets)
        return Rendering(objects, entry)

    def uninstall(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> list[str]:
        return remove_inventory(ctx, inventory)


def _call(obj: Any, method: str, default: Any) -> Any:
    fn = getattr(obj, method, None)
    return fn() if callable(fn) else default
