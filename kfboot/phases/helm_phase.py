"""A phase that installs one Helm release; kfboot's digest decides when Helm runs at all."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kfboot.config.catalog import Gate
from kfboot.engine.phase import PhaseContext, Problem
from kfboot.helm import ChartRef, Helm
from kfboot.k8s.refs import ObjectRef
from kfboot.phases.gates import check_gates, describe_gate, wait_gates
from kfboot.phases.inventory import check_inventory, wait_inventory


def helm_from(ctx: PhaseContext) -> Helm:
    """One Helm client per run, built on first use (constructing it runs `helm version`)."""
    factory = ctx.services.get("helm_factory")
    helm = ctx.services.get("helm")
    if helm is None:
        if factory is None:
            raise RuntimeError("no helm_factory service was configured")
        helm = ctx.services["helm"] = factory()
    return helm


@dataclass
class HelmPhase:
    name: str
    title: str
    chart: ChartRef
    release: str
    namespace: str
    values: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    enabled: bool = True
    gates: list[Gate] = field(default_factory=list)
    # where the chart files come from at apply time (e.g. the verified cache bundle); the digest
    # keeps describing `chart`, so resolving lazily never makes a plan download anything
    resolve_chart: Callable[[], ChartRef] | None = None

    def installable_chart(self) -> ChartRef:
        return self.resolve_chart() if self.resolve_chart is not None else self.chart

    @property
    def version(self) -> str:
        return self.chart.version

    def digest(self) -> str:
        chart_id: Any = {"name": self.chart.name, "version": self.chart.version, "repo": self.chart.repo}
        if self.chart.path is not None:
            chart_id["files"] = _tree_digest(self.chart.path)
        payload = json.dumps({"chart": chart_id, "values": self.values, "release": self.release,
                              "namespace": self.namespace}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def describe(self) -> list[str]:
        lines = [f"helm install/upgrade release {self.namespace}/{self.release} from {self.chart.describe()}"]
        if self.values:
            lines.append(f"with {len(self.values)} top-level value override(s): {', '.join(sorted(self.values))}")
        return lines + [f"then wait for {describe_gate(g)}" for g in self.gates]

    def check(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> list[Problem]:
        status = helm_from(ctx).release_status(self.release, self.namespace)
        if status != "deployed":
            return [Problem(f"release {self.namespace}/{self.release}", f"status is {status or 'missing'}")]
        return check_inventory(ctx, inventory) + check_gates(ctx, self.gates)

    def apply(self, ctx: PhaseContext) -> list[ObjectRef]:
        helm = helm_from(ctx)
        if ctx.dry_run:
            objects = helm.template(self.installable_chart(), self.values, release=self.release,
                                    namespace=self.namespace)
            from kfboot.k8s.apply import Applier

            applier = Applier(ctx.require_kube(), ctx.waiter(), dry_run=True, progress=ctx.progress)
            return applier.apply(objects, ctx.deadline).applied
        ctx.progress(f"helm upgrade --install {self.release} ({self.chart.name} {self.chart.version})")
        refs = helm.install_or_upgrade(self.release, self.namespace, self.installable_chart(), self.values,
                                       timeout=max(1.0, ctx.deadline - ctx.started))
        return self._with_namespaces(ctx, refs)

    def _with_namespaces(self, ctx: PhaseContext, refs: list[ObjectRef]) -> list[ObjectRef]:
        """Chart templates often omit metadata.namespace; Helm puts those objects in the release namespace."""
        from dataclasses import replace

        from kfboot.k8s.client import NotFound

        kube = ctx.require_kube()
        out = []
        for ref in refs:
            if ref.namespace is None:
                try:
                    if kube.resource(ref.api_version, ref.kind).namespaced:
                        ref = replace(ref, namespace=self.namespace)
                except NotFound:
                    pass
            out.append(ref)
        return sorted(set(out))

    def wait(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> None:
        wait_inventory(ctx, inventory)
        wait_gates(ctx, self.gates)

    def uninstall(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> list[str]:
        from kfboot.k8s.apply import delete_objects

        helm_from(ctx).uninstall(self.release, self.namespace, timeout=max(1.0, ctx.timeout))
        # Helm deletes asynchronously and leaves CRDs; wait for the rest to be gone and report leftovers
        refs = [r for r in inventory if ctx.purge_crds or r.kind != "CustomResourceDefinition"]
        return delete_objects(ctx.require_kube(), ctx.waiter(), refs, ctx.deadline, parallel=ctx.parallel,
                              progress=ctx.progress, force=ctx.force)


def _tree_digest(path: Any) -> str:
    from pathlib import Path

    root = Path(path)
    digest = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for f in files:
        digest.update(str(f.relative_to(root) if root.is_dir() else f.name).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()
