"""Render a GpuPlan into what NVIDIA's components read, and say what users will be able to schedule.

Outputs: the mig-parted `version: v1` config (one named config per MIG pool, plus all-disabled),
the device-plugin `version: v1` configs (one named config per pool, selected per node by the
`nvidia.com/device-plugin.config` label; never a per-resource `selector:`, which the plugin
ignores), the node labels per pool, the GPU Operator Helm values fragment, and a capacity summary.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from kfboot.gpu.mig import Geometry, format_geometry, slot_ranges
from kfboot.gpu.plan import MIG_DISABLED_CONFIG, GpuPlan, PoolPlan

MIG_PARTED_CONFIGMAP = "kfboot-mig-parted-config"
MIG_PARTED_CONFIGMAP_KEY = "config.yaml"
DEVICE_PLUGIN_CONFIGMAP = "kfboot-device-plugin-config"
DEVICE_PLUGIN_DEFAULT = "default"
GPU_OPERATOR_NAMESPACE = "gpu-operator"


def to_yaml(data: Any) -> str:
    """Block-style YAML, keys in insertion order (what users read and what ConfigMaps carry)."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None  # embedded configs stay readable in ConfigMaps
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


# --- mig-parted ------------------------------------------------------------------------------


def _groups(geometries: list[Geometry | None]) -> list[tuple[list[int], Geometry | None]]:
    """GPU indices sharing one geometry, in first-seen order."""
    groups: list[tuple[list[int], Geometry | None]] = []
    for idx, geometry in enumerate(geometries):
        for indices, g in groups:
            if g == geometry:
                indices.append(idx)
                break
        else:
            groups.append(([idx], geometry))
    return groups


def mig_parted_entries(pool: PoolPlan) -> list[dict[str, Any]]:
    """The mig-parted entries of one MIG pool, filtered to the pool's GPU model by PCI id."""
    assert pool.geometries is not None
    groups = _groups(pool.geometries)
    entries = []
    for indices, geometry in groups:
        entry: dict[str, Any] = {
            "device-filter": pool.profile.device_filters(),
            "devices": "all" if len(groups) == 1 else indices,
            "mig-enabled": geometry is not None,
        }
        if geometry is not None:
            entry["mig-devices"] = {name: count for name, count in geometry.items() if count}
        entries.append(entry)
    return entries


def render_mig_parted(plan: GpuPlan) -> dict[str, Any]:
    """mig-parted config: all-disabled (mig-manager's default) plus one named config per MIG pool."""
    configs: dict[str, Any] = {MIG_DISABLED_CONFIG: [{"devices": "all", "mig-enabled": False}]}
    for pool in plan.pools:
        if pool.uses_mig:
            configs[pool.mig_config_name] = mig_parted_entries(pool)
    return {"version": "v1", "mig-configs": configs}


# --- device plugin ---------------------------------------------------------------------------


def device_plugin_config(pool: PoolPlan) -> dict[str, Any]:
    """The device-plugin (and GFD) config for the nodes of one pool."""
    config: dict[str, Any] = {"version": "v1", "flags": {"migStrategy": pool.strategy}}
    ts = pool.time_slicing
    if ts is not None:
        config["sharing"] = {
            "timeSlicing": {
                "renameByDefault": ts.rename_by_default,
                "failRequestsGreaterThanOne": ts.fail_requests_greater_than_one,
                "resources": [{"name": res, "replicas": ts.replicas} for res in pool.shared_resources()],
            }
        }
    return config


def render_device_plugin(plan: GpuPlan) -> dict[str, dict[str, Any]]:
    """Named device-plugin configs: `default` (unlabelled nodes) plus one per GPU pool."""
    configs = {DEVICE_PLUGIN_DEFAULT: {"version": "v1", "flags": {"migStrategy": plan.cluster_mig_strategy()}}}
    for pool in plan.pools:
        if pool.profile.has_gpus:
            configs[pool.name] = device_plugin_config(pool)
    return configs


def _configmap(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "kfboot"}},
        "data": data,
    }


def mig_parted_configmap(plan: GpuPlan, namespace: str = GPU_OPERATOR_NAMESPACE) -> dict[str, Any]:
    """ConfigMap for `migManager.config.name` (the chart requires the key `config.yaml`)."""
    return _configmap(MIG_PARTED_CONFIGMAP, namespace, {MIG_PARTED_CONFIGMAP_KEY: to_yaml(render_mig_parted(plan))})


def device_plugin_configmap(plan: GpuPlan, namespace: str = GPU_OPERATOR_NAMESPACE) -> dict[str, Any]:
    """ConfigMap for `devicePlugin.config.name`: one key per named config."""
    data = {key: to_yaml(cfg) for key, cfg in render_device_plugin(plan).items()}
    return _configmap(DEVICE_PLUGIN_CONFIGMAP, namespace, data)


def node_labels(plan: GpuPlan) -> dict[str, dict[str, str]]:
    """Pool name → labels to set on each of its nodes."""
    return {pool.name: pool.node_labels() for pool in plan.pools if pool.node_labels()}


def helm_values(plan: GpuPlan, *, embed: bool = False) -> dict[str, Any]:
    """GPU Operator values fragment; `embed=True` lets the chart create the ConfigMaps (create+data)."""
    mig_manager: dict[str, Any] = {"name": MIG_PARTED_CONFIGMAP, "default": MIG_DISABLED_CONFIG}
    plugin: dict[str, Any] = {"name": DEVICE_PLUGIN_CONFIGMAP, "default": DEVICE_PLUGIN_DEFAULT}
    if embed:
        mig_manager = {"create": True, **mig_manager, "data": mig_parted_configmap(plan)["data"]}
        plugin = {"create": True, **plugin, "data": device_plugin_configmap(plan)["data"]}
    values: dict[str, Any] = {"mig": {"strategy": plan.cluster_mig_strategy()}, "devicePlugin": {"config": plugin}}
    if any(p.profile.mig_capable for p in plan.pools):
        values["migManager"] = {"enabled": True, "config": mig_manager}
    return values


# --- capacity --------------------------------------------------------------------------------


def _resource_order(resource: str) -> tuple[int, int, int, str]:
    m = re.match(r"^nvidia\.com/mig-(?:\d+c\.)?(\d+)g\.(\d+)gb", resource)
    if m:
        return (1, int(m.group(1)), int(m.group(2)), resource)
    return (0, 0, 0, resource)


@dataclass
class PoolCapacity:
    pool: str
    gpu: str
    gpus_per_node: int
    nodes: int | None
    sharing: str
    per_node: dict[str, int]
    shared: list[str]
    single_profile: str | None = None

    @property
    def total(self) -> dict[str, int] | None:
        if self.nodes is None:
            return None
        return {res: count * self.nodes for res, count in self.per_node.items()}

    def sentence(self) -> str:
        """`8 × H100-80GB-SXM, all-balanced → 16 × nvidia.com/mig-1g.10gb, …` (per node if count unknown)."""
        counts = self.total if self.total is not None else self.per_node
        gpus = self.gpus_per_node * (self.nodes if self.nodes is not None else 1)
        left = f"{gpus} × {self.gpu}" + (f", {self.sharing}" if self.sharing else "")
        right = format_resources(counts, self.shared, self.single_profile) or "no GPU resources"
        prefix = "per node: " if self.nodes is None else ""
        return f"{prefix}{left} → {right}"

    def to_json(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "gpu": self.gpu,
            "gpusPerNode": self.gpus_per_node,
            "nodes": self.nodes,
            "sharing": self.sharing,
            "perNode": self.per_node,
            "total": self.total,
            "shared": self.shared,
            "summary": self.sentence(),
        }


def format_resources(
    counts: dict[str, int],
    shared: Collection[str] = (),
    single_profile: str | None = None,
    partly_shared: Collection[str] = (),
) -> str:
    """`16 × nvidia.com/gpu (shared), 16 × nvidia.com/mig-1g.10gb`: whole GPUs first, then MIG by size."""
    parts = []
    for res in sorted(counts, key=_resource_order):
        note = []
        if single_profile and res.startswith("nvidia.com/gpu"):
            note.append(f"MIG {single_profile}")
        if res in partly_shared:
            note.append("partly shared")
        elif res in shared:
            note.append("shared")
        parts.append(f"{counts[res]} × {res}" + (f" ({', '.join(note)})" if note else ""))
    return ", ".join(parts)


def _sharing_text(pool: PoolPlan) -> str:
    parts = []
    if pool.uses_mig:
        if pool.named_config:
            parts.append(pool.named_config)
        else:
            groups = _groups(pool.geometries or [])
            texts = [format_geometry(g) if g is not None else "MIG disabled" for _, g in groups]
            if len(groups) == 1:
                parts.append(texts[0])
            else:
                parts.append(
                    "; ".join(f"GPU {slot_ranges(idx)}: {t}" for (idx, _), t in zip(groups, texts, strict=True))
                )
        if pool.strategy == "single":
            parts.append("single strategy")
    if pool.time_slicing is not None:
        parts.append(f"{pool.time_slicing.replicas} replicas")
    return ", ".join(parts)


def pool_capacity(pool: PoolPlan) -> PoolCapacity:
    allocatable = pool.allocatable_per_node()
    shared = list(allocatable) if pool.time_slicing is not None else []
    single = None
    if pool.uses_mig and pool.strategy == "single" and pool.geometries:
        first = pool.geometries[0] or {}
        single = next((n for n, c in first.items() if c), None)
    return PoolCapacity(
        pool=pool.name,
        gpu=pool.profile.name,
        gpus_per_node=pool.gpus_per_node,
        nodes=pool.node_count,
        sharing=_sharing_text(pool),
        per_node=allocatable,
        shared=shared,
        single_profile=single,
    )


@dataclass
class CapacityReport:
    pools: list[PoolCapacity] = field(default_factory=list)

    @property
    def total(self) -> dict[str, int]:
        """Sum over pools with a known node count."""
        out: dict[str, int] = {}
        for p in self.pools:
            for res, count in (p.total or {}).items():
                out[res] = out.get(res, 0) + count
        return out

    @property
    def uncounted(self) -> list[str]:
        return [p.pool for p in self.pools if p.nodes is None and p.per_node]

    def lines(self) -> list[str]:
        out = [f"{p.pool}: {p.sentence()}" for p in self.pools]
        if len(self.pools) > 1:
            counted = [p for p in self.pools if p.nodes is not None]
            shared = {r for p in counted for r in p.shared}
            exclusive = {r for p in counted for r in p.per_node if r not in p.shared}
            total = format_resources(self.total, shared, partly_shared=shared & exclusive) or "nothing counted"
            note = f" (without {', '.join(self.uncounted)}: set nodeCount or nodes)" if self.uncounted else ""
            out.append(f"total: {total}{note}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"pools": [p.to_json() for p in self.pools], "total": self.total, "uncounted": self.uncounted}


def capacity(plan: GpuPlan) -> CapacityReport:
    return CapacityReport([pool_capacity(p) for p in plan.pools])
