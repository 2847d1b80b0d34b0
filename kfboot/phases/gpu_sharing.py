"""GPU sharing: per-pool node labels and a bounded wait until the GPUs offer what was promised.

The MIG and device-plugin ConfigMaps are created by the GPU Operator chart itself (kfboot passes
them as `create: true` values), so its mig-manager and device plugin never start without them.
This phase runs after the operator and sets the node labels they react to
(`nvidia.com/mig.config`, `nvidia.com/device-plugin.config`). Nodes are not ours, so they are never
in the inventory: we touch only our two labels plus an annotation marking the pool we labelled
the node for, with one merge patch per node that needs it, and none on a converged cluster.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kfboot.engine.phase import PhaseContext, Problem
from kfboot.engine.services import Services
from kfboot.errors import ClusterError, WaitTimeout
from kfboot.gpu import render
from kfboot.gpu.plan import DEVICE_PLUGIN_CONFIG_LABEL, MIG_CONFIG_LABEL, MIG_DISABLED_CONFIG, GpuPlan, PoolPlan
from kfboot.k8s.readiness import Readiness
from kfboot.k8s.refs import ObjectRef
from kfboot.phases.inventory import waiter
from kfboot.phases.render import Rendering

MIG_STATE_LABEL = "nvidia.com/mig.config.state"
OUR_LABELS = (MIG_CONFIG_LABEL, DEVICE_PLUGIN_CONFIG_LABEL)
MIG_MANAGER_LOGS_HINT = "kubectl logs -n gpu-operator -l app=nvidia-mig-manager"
POOL_ANNOTATION = "kfboot.io/gpu-pool"  # which pool kfboot labelled a node for (to clean up after it leaves)


@dataclass
class NodeView:
    """One node as the phase sees it: which pool claims it and what its labels/allocatable are."""

    name: str
    labels: dict[str, str]
    allocatable: dict[str, str]
    pool: PoolPlan | None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def wanted(self) -> dict[str, str]:
        return self.pool.node_labels() if self.pool is not None else {}

    def label_diff(self) -> dict[str, str]:
        """Only the labels that must change: a converged node yields {} (and gets no patch)."""
        return {k: v for k, v in self.wanted.items() if self.labels.get(k) != v}

    @property
    def labelled_by_us(self) -> bool:
        return POOL_ANNOTATION in self.annotations

    def patch(self) -> dict[str, Any] | None:
        """The one merge patch this node needs (labels to set or drop, our annotation), or None."""
        if self.pool is not None:
            labels: dict[str, str | None] = dict(self.label_diff())
            if not labels and self.annotations.get(POOL_ANNOTATION) == self.pool.name:
                return None
            return {"metadata": {"labels": labels, "annotations": {POOL_ANNOTATION: self.pool.name}}}
        return self.release_patch()

    def release_patch(self) -> dict[str, Any] | None:
        """Drop our labels from a node we labelled that is no longer in any pool (or on uninstall)."""
        if not self.labelled_by_us:
            return None
        return {"metadata": {"labels": {k: None for k in OUR_LABELS if k in self.labels},
                             "annotations": {POOL_ANNOTATION: None}}}

    @property
    def is_mig(self) -> bool:
        """mig-manager acts (and reports a state) wherever we set `nvidia.com/mig.config`."""
        return MIG_CONFIG_LABEL in self.wanted

    def allocatable_gaps(self) -> list[str]:
        """`nvidia.com/mig-1g.10gb 0/16` for every promised resource the node does not offer exactly."""
        promised = self.pool.allocatable_per_node() if self.pool is not None else {}
        gaps = []
        for res, want in sorted(promised.items()):
            have = _quantity(self.allocatable.get(res))
            if have != want:
                gaps.append(f"{res} {have}/{want}")
        return gaps


def _quantity(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


@dataclass
class GpuSharingPhase:
    plan: GpuPlan
    version: str  # the gpu-operator chart version these values and ConfigMaps target
    namespace: str = render.GPU_OPERATOR_NAMESPACE
    name: str = "gpu-sharing"
    title: str = "GPU sharing (MIG / time-slicing)"
    needs: tuple[str, ...] = ("gpu-operator",)
    enabled: bool = True
    operator_values: dict[str, Any] = field(default_factory=dict)  # shown by describe(); digested by gpu-operator
    _objects: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)

    # -- what we render --------------------------------------------------------------------------
    def configmaps(self) -> list[dict[str, Any]]:
        if not self._objects:
            self._objects = [render.mig_parted_configmap(self.plan, self.namespace),
                             render.device_plugin_configmap(self.plan, self.namespace)]
        return self._objects

    def render(self, services: Services) -> Rendering:
        return Rendering(self.configmaps(), {"kind": "gpu-sharing",
                                             "atInstall": ["node labels for GPU pools are set against the live nodes"]})

    def digest(self) -> str:
        pools = {p.name: {"labels": p.node_labels(), "nodes": p.nodes, "selector": p.node_selector,
                          "allocatable": p.allocatable_per_node()} for p in self.plan.pools}
        payload = json.dumps({"version": self.version, "configmaps": self.configmaps(), "pools": pools},
                             sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def describe(self) -> list[str]:
        mig = sorted(render.render_mig_parted(self.plan)["mig-configs"])
        plugin = sorted(render.render_device_plugin(self.plan))
        lines = [
            f"gpu-operator creates ConfigMap {self.namespace}/{render.MIG_PARTED_CONFIGMAP} "
            f"(mig-parted configs: {', '.join(mig)})",
            f"gpu-operator creates ConfigMap {self.namespace}/{render.DEVICE_PLUGIN_CONFIGMAP} "
            f"(device-plugin configs: {', '.join(plugin)})",
        ]
        for pool in self.plan.pools:
            labels = ", ".join(f"{k}={v}" for k, v in pool.node_labels().items()) or "no labels"
            lines.append(f"label nodes of pool {pool.name} ({_selection(pool)}): {labels}")
        shown = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in _flatten(self.operator_values)
                 if k.split(".")[0] in ("mig", "migManager", "devicePlugin")]
        if shown:
            lines.append(f"gpu-operator values: {', '.join(shown)}")
        lines.append(f"then wait for {MIG_STATE_LABEL}=success on MIG nodes and for node allocatable to match")
        lines += [f"capacity: {line}" for line in render.capacity(self.plan).lines()]
        return lines

    # -- reading the cluster -------------------------------------------------------------------------
    def nodes(self, ctx: PhaseContext) -> list[NodeView]:
        """Every node, with the (first) pool that claims it."""
        out = []
        for node in ctx.require_kube().list("v1", "Node"):
            md = node.get("metadata") or {}
            name, labels = md.get("name", ""), dict(md.get("labels") or {})
            pool = next((p for p in self.plan.pools if p.matches_node(name, labels)), None)
            allocatable = dict((node.get("status") or {}).get("allocatable") or {})
            out.append(NodeView(name, labels, allocatable, pool, dict(md.get("annotations") or {})))
        return out

    def _unmatched_pools(self, nodes: list[NodeView]) -> list[PoolPlan]:
        claimed = {n.pool.name for n in nodes if n.pool is not None}
        return [p for p in self.plan.pools if p.name not in claimed]

    # -- the Phase operations ----------------------------------------------------------------------
    def check(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> list[Problem]:
        kube = ctx.require_kube()
        problems = []
        for obj in self.configmaps():
            ref = ObjectRef.of(obj)
            live = kube.get_ref(ref)
            if live is None:
                problems.append(Problem(str(ref), "missing"))
            elif (live.get("data") or {}) != obj["data"]:
                problems.append(Problem(str(ref), "data differs from what kfboot rendered"))
        nodes = self.nodes(ctx)
        for pool in self._unmatched_pools(nodes):
            problems.append(Problem(f"pool {pool.name}", f"matches no node ({_selection(pool)})"))
        for node in nodes:
            if node.pool is None:
                if node.release_patch():
                    problems.append(Problem(f"node {node.name}", f"was labelled for pool "
                                            f"{node.annotations[POOL_ANNOTATION]}, which no longer selects it"))
                continue
            for key, want in node.label_diff().items():
                problems.append(Problem(f"node {node.name}", f"{key} is {node.labels.get(key, 'unset')}, want {want}"))
            state = node.labels.get(MIG_STATE_LABEL)
            if node.is_mig and state != "success":
                problems.append(Problem(f"node {node.name}", f"{MIG_STATE_LABEL} is {state or 'unset'}"))
            gaps = node.allocatable_gaps()
            if gaps:
                problems.append(Problem(f"node {node.name}", "allocatable " + ", ".join(gaps)))
        return problems

    def apply(self, ctx: PhaseContext) -> list[ObjectRef]:
        nodes = self.nodes(ctx)
        for pool in self._unmatched_pools(nodes):
            ctx.progress(f"pool {pool.name} matches no node yet ({_selection(pool)})")
        patches = {node.name: patch for node in nodes if (patch := node.patch())}
        for name, patch in sorted(patches.items()):
            labels = patch["metadata"]["labels"]
            shown = ", ".join(f"{k}={v}" if v is not None else f"{k}-" for k, v in labels.items()) or "annotation only"
            ctx.progress(f"{'dry run: would label' if ctx.dry_run else 'labelling'} node {name}: {shown}")
        if patches and not ctx.dry_run:
            errors = self._patch_nodes(ctx, patches)
            if errors:
                raise ClusterError("could not label nodes:\n  " + "\n  ".join(errors))
        return []  # nodes are not ours; the ConfigMaps belong to the gpu-operator release

    def _patch_nodes(self, ctx: PhaseContext, patches: dict[str, dict[str, Any]]) -> list[str]:
        """One merge patch per node; only the given label keys are sent, so other labels are untouched.

        Returns one line per node that could not be patched.
        """
        kube = ctx.require_kube()

        def one(item: tuple[str, dict[str, Any]]) -> str:
            name, patch = item
            try:
                kube.merge_patch(ObjectRef("v1", "Node", name), patch)
            except ClusterError as exc:
                return f"node {name}: {exc.message}"
            return ""

        with ThreadPoolExecutor(max_workers=max(1, min(ctx.parallel, len(patches))), thread_name_prefix="label") as pool:
            return [e for e in pool.map(one, sorted(patches.items())) if e]

    def wait(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> None:
        wait = waiter(ctx)

        def mig_states() -> Readiness:
            nodes = [n for n in self.nodes(ctx) if n.is_mig]
            states = {n.name: n.labels.get(MIG_STATE_LABEL, "unset") for n in nodes}
            failed = sorted(name for name, s in states.items() if s == "failed")
            if failed:
                which = ", ".join(f"{n} (mig.config={_label(nodes, n)})" for n in failed)
                return Readiness(False, f"mig-manager failed to apply the MIG config on node {which}", failed=True)
            waiting = {n: s for n, s in states.items() if s != "success"}
            if not waiting:
                return Readiness(True, "ready")
            return Readiness(False, "; ".join(f"node {n}: {MIG_STATE_LABEL}={s}" for n, s in sorted(waiting.items())))

        def allocatable() -> Readiness:
            gaps = [f"node {n.name}: {gap}" for n in self.nodes(ctx) for gap in n.allocatable_gaps()]
            return Readiness(not gaps, "; ".join(gaps) or "ready")

        from kfboot.k8s.waits import WaitFailed

        # the runner records messages, not hints: what to read next goes into the message itself
        logs = f"read mig-manager's log: `{MIG_MANAGER_LOGS_HINT}`"
        try:
            wait.until(f"{MIG_STATE_LABEL}=success", mig_states, ctx.deadline)
        except WaitFailed as exc:
            raise ClusterError(f"{exc.message}; {logs}", hint=logs) from None
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc.message}; mig-manager can wedge in pending (gpu-operator#2833): {logs}",
                              hint=f"{logs}; or raise --timeout") from None
        try:
            wait.until("node allocatable to match the GPU sharing plan", allocatable, ctx.deadline)
        except WaitTimeout as exc:
            raise WaitTimeout(exc.message, hint="the device plugin advertises the resources: "
                              "`kubectl logs -n gpu-operator -l app=nvidia-device-plugin-daemonset`; a geometry "
                              "changed under an unchanged nvidia.com/mig.config label is not re-applied by "
                              "mig-manager until its pod restarts") from None

    def uninstall(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> list[str]:
        """Drop our labels from the nodes we labelled; the ConfigMaps go with the gpu-operator release."""
        patches = {node.name: patch for node in self.nodes(ctx) if (patch := node.release_patch())}
        if not patches:
            return []
        ctx.progress(f"removing {', '.join(OUR_LABELS)} from {len(patches)} node(s) "
                     "(MIG partitions stay on the GPUs until mig.config is set again)")
        return [] if ctx.dry_run else self._patch_nodes(ctx, patches)


def _selection(pool: PoolPlan) -> str:
    if pool.nodes is not None:
        return "nodes " + ", ".join(pool.nodes)
    return ", ".join(f"{k}={v}" for k, v in (pool.node_selector or {}).items()) or "no selector"


def _label(nodes: list[NodeView], name: str) -> str:
    node = next(n for n in nodes if n.name == name)
    return node.labels.get(MIG_CONFIG_LABEL, MIG_DISABLED_CONFIG)


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """`{"mig": {"strategy": "mixed"}}` → [("mig.strategy", "mixed")]; embedded config data is skipped."""
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            if key != "data":
                out += _flatten(value, dotted + ".")
        else:
            out.append((dotted, value))
    return out
