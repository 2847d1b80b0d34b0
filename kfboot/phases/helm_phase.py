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
        """From the chart's content where it is on this machine (a bundle's or the cache's .tgz, a local
        chart), so the same chart and values give the same digest wherever they came from."""
        chart_id: Any = {"name": self.chart.name, "version": self.chart.version}
        path = self.chart.path
        if path is None and self.resolve_chart is not None:
            peek = getattr(self.resolve_chart, "peek", None)
            path = peek() if callable(peek) else None
        if path is not None:
            chart_id["content"] = chart_content_digest(path)
        else:
            chart_id["repo"] = self.chart.repo
        payload = json.dumps({"chart": chart_id, "values": self.values, "release": self.release,
                              "namespace": self.namespace}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def describe(self) -> list[str]:
        lines = [f"helm install/upgrade release {self.namespace}/{self.release} from {self.chart.describe()}",
                 f"the operator runs in namespace {self.namespace} (created if missing)"]
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
        chart = self.installable_chart()
        namespace = ObjectRef("v1", "Namespace", self.namespace)
        # Helm creates the release namespace (--create-namespace) but never lists or deletes it: kfboot
        # owns it when it did not exist before kfboot's first install, and uninstall removes it
        ours = (ctx.record is not None and namespace in ctx.record.inventory) or \
            ctx.require_kube().get_ref(namespace) is None
        crds = self._apply_chart_crds(ctx, helm, chart)
        ctx.progress(f"helm upgrade --install {self.release} ({self.chart.name} {self.chart.version})")
        refs = helm.install_or_upgrade(self.release, self.namespace, chart, self.values,
                                       timeout=max(1.0, ctx.deadline - ctx.started), skip_crds=True)
        return sorted(set(crds) | set(self._with_namespaces(ctx, refs)) | ({namespace} if ours else set()))

    def _apply_chart_crds(self, ctx: PhaseContext, helm: Helm, chart: ChartRef) -> list[ObjectRef]:
        """The chart's `crds/` the way kfboot applies manifest CRDs: server-side apply, then wait until
        Established, so the release's custom resources map (Helm 4 does not wait for its own CRDs), and
        an upgrade updates them (Helm never upgrades `crds/`). Helm then runs with --skip-crds."""
        from kfboot.k8s.apply import Applier

        crds = helm.chart_crds(chart, self.values, release=self.release, namespace=self.namespace)
        if not crds:
            return []
        applier = Applier(ctx.require_kube(), waiter(ctx), parallel=ctx.parallel, progress=ctx.progress)
        return applier.apply(crds, ctx.deadline).applied

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


def chart_content_digest(path: Any) -> str:
    """The files of a chart (directory or .tgz), by path below the chart's top directory: archive
    metadata (timestamps, owners), Chart.yaml's layout and where the chart lies do not count."""
    import tarfile
    from pathlib import Path

    root = Path(path)
    files: list[tuple[str, bytes]] = []
    if root.is_dir():
        files = [(p.relative_to(root).as_posix(), p.read_bytes()) for p in root.rglob("*") if p.is_file()]
    else:
        with tarfile.open(root) as tar:
            for member in tar.getmembers():
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is not None:
                    files.append((member.name.split("/", 1)[-1], handle.read()))
    digest = hashlib.sha256()
    for name, data in sorted(files):
        if name == "Chart.yaml":  # `helm package` rewrites it (key order, line wrapping): its data counts
            import yaml

            data = json.dumps(yaml.safe_load(data), sort_keys=True, default=str).encode()
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()
