"""A phase that installs one Helm release; kfboot's digest decides when Helm runs at all."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kfboot.config.catalog import Gate
from kfboot.engine.phase import PhaseContext, Problem
from kfboot.engine.services import Service, Services
from kfboot.helm import ChartRef, Helm
from kfboot.k8s.refs import ObjectRef
from kfboot.phases.gates import check_gates, describe_gate, wait_ready
from kfboot.phases.inventory import check_inventory, dry_run_world, remove_inventory, waiter
from kfboot.phases.render import Rendering
from kfboot.sources.manifests import tree_digest

# One Helm client per run, built on first use (constructing it runs `helm version`); the session provides it.
HELM: Service[Helm] = Service("helm")


def helm_from(ctx: PhaseContext) -> Helm:
    return ctx.services.get(HELM)


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
            chart_id["files"] = tree_digest(self.chart.path)
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
            objects = self._namespaced(ctx, objects)
            from kfboot.k8s.apply import Applier

            world = dry_run_world(ctx)
            if ctx.require_kube().get("v1", "Namespace", self.namespace) is None:
                world.namespaces.add(self.namespace)  # helm would create it (--create-namespace)
            applier = Applier(ctx.require_kube(), waiter(ctx), dry_run=True, progress=ctx.progress, world=world)
            return applier.apply(objects, ctx.deadline).applied
        ctx.progress(f"helm upgrade --install {self.release} ({self.chart.name} {self.chart.version})")
        refs = helm.install_or_upgrade(self.release, self.namespace, self.installable_chart(), self.values,
                                       timeout=max(1.0, ctx.deadline - ctx.started))
        return self._with_namespaces(ctx, refs)

    def _namespaced(self, ctx: PhaseContext, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`helm template` leaves metadata.namespace out where the chart does; Helm uses the release's."""
        out = []
        for obj in objects:
            meta = obj.get("metadata") or {}
            if not meta.get("namespace") and _is_namespaced(ctx, obj.get("apiVersion", ""), obj.get("kind", "")):
                obj = {**obj, "metadata": {**meta, "namespace": self.namespace}}
            out.append(obj)
        return out

    def _with_namespaces(self, ctx: PhaseContext, refs: list[ObjectRef]) -> list[ObjectRef]:
        """The same for the release's objects as Helm reports them (its manifest)."""
        from dataclasses import replace

        placed = {replace(r, namespace=self.namespace) if r.namespace is None
                  and _is_namespaced(ctx, r.api_version, r.kind) else r for r in refs}
        return sorted(placed)

    def wait(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> None:
        wait_ready(ctx, inventory, self.gates)

    def render(self, services: Services) -> Rendering:
        """`helm template` of the chart with kfboot's values, and those values as values.yaml."""
        import yaml

        objects = services.get(HELM).template(self.installable_chart(), self.values, release=self.release, namespace=self.namespace)
        values = yaml.safe_dump(self.values, sort_keys=True) if self.values else "{}\n"
        entry = {"kind": "helm", "chart": self.chart.describe(), "release": f"{self.namespace}/{self.release}"}
        return Rendering(objects, entry, {"values.yaml": values})

    def uninstall(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> list[str]:
        helm_from(ctx).uninstall(self.release, self.namespace, timeout=max(1.0, ctx.timeout))
        # Helm deletes asynchronously and leaves CRDs; wait for the rest to be gone and report leftovers
        return remove_inventory(ctx, inventory)


def _is_namespaced(ctx: PhaseContext, api_version: str, kind: str) -> bool:
    from kfboot.k8s.client import NotFound

    try:
        return ctx.require_kube().resource(api_version, kind).namespaced
    except NotFound:  # a kind whose CRD is not installed yet: the chart's own CRDs come first
        return False
