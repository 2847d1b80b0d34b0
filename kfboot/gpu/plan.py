"""Resolve a `GpuConfig` against the hardware profiles into a per-pool plan, or say what is wrong.

This is where the rules that need the GPU's data live: named configs must exist for the GPU,
geometries must fit (kfboot.gpu.mig), `single` needs one profile on every GPU, every GPU of a node
gets exactly one geometry. Rendering and the apply phase consume the resulting `PoolPlan`s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kfboot.gpu.config import DISABLED_EVERYWHERE, GpuConfig, GpuPool, TimeSlicing, geometry_value, parse_gpu_indices
from kfboot.gpu.mig import Geometry, check_geometry, is_uniform, named_configs, resource_suffix, slot_ranges
from kfboot.gpu.profile_model import HardwareProfile
from kfboot.gpu.profiles import ProfileSet

PRODUCT_LABEL = "nvidia.com/gpu.product"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
MIG_DISABLED_CONFIG = "all-disabled"

Path_ = tuple[Any, ...]
_UNSET = object()  # a GPU index no geometry key has covered yet


@dataclass
class ConfigProblem:
    """One finding with the config path it concerns (for `file:line:col` via Located.position)."""

    path: Path_
    message: str

    def __str__(self) -> str:
        out = ""
        for part in self.path:
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += ("." if out else "") + str(part)
        return f"{out}: {self.message}"


@dataclass
class PoolPlan:
    """A validated pool: what to render for it and what its nodes will offer."""

    name: str
    profile: HardwareProfile
    gpus_per_node: int
    node_count: int | None
    nodes: list[str] | None
    node_selector: dict[str, str] | None
    mode: str
    strategy: str  # none | single | mixed  (device-plugin / GFD migStrategy for the pool's nodes)
    geometries: list[Geometry | None] | None  # per GPU index when MIG is used; None = MIG disabled
    named_config: str | None
    time_slicing: TimeSlicing | None

    @property
    def uses_mig(self) -> bool:
        return self.geometries is not None

    @property
    def mig_config_name(self) -> str:
        """`<pool>-<hash of the geometry>`: mig-manager re-partitions only when the label value changes,
        so a new geometry must get a new name (gpu-operator#891)."""
        import hashlib
        import json

        shape = [dict(sorted(g.items())) if g is not None else None for g in self.geometries or []]
        digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:6]
        return f"{self.name}-{digest}"

    @property
    def mig_config_label(self) -> str | None:
        """Value for `nvidia.com/mig.config`: the pool's config, all-disabled, or None (not MIG-capable)."""
        if self.uses_mig:
            return self.mig_config_name
        return MIG_DISABLED_CONFIG if self.profile.mig_capable else None

    def node_labels(self) -> dict[str, str]:
        """Labels kfboot sets on every node of the pool (mig-manager and device plugin watch them)."""
        labels = {}
        if self.mig_config_label:
            labels[MIG_CONFIG_LABEL] = self.mig_config_label
        if self.profile.has_gpus:
            labels[DEVICE_PLUGIN_CONFIG_LABEL] = self.name
        return labels

    def device_resources(self) -> dict[str, int]:
        """Devices per node before time-slicing: resource name → count."""
        out: dict[str, int] = {}
        if not self.profile.has_gpus:
            return out
        if self.geometries is None:
            return {"nvidia.com/gpu": self.gpus_per_node}
        for geometry in self.geometries:
            if geometry is None:
                out["nvidia.com/gpu"] = out.get("nvidia.com/gpu", 0) + 1
                continue
            for name, count in geometry.items():
                if not count:
                    continue
                res = "nvidia.com/gpu" if self.strategy == "single" else f"nvidia.com/mig-{resource_suffix(name)}"
                out[res] = out.get(res, 0) + count
        return out

    def allocatable_per_node(self) -> dict[str, int]:
        """What one node of the pool should report in `status.allocatable` once everything is applied."""
        devices = self.device_resources()
        ts = self.time_slicing
        if ts is None:
            return devices
        return {
            (f"{res}.shared" if ts.rename_by_default else res): count * ts.replicas for res, count in devices.items()
        }

    def shared_resources(self) -> list[str]:
        """Device resources (before renaming) the device plugin should time-slice."""
        return list(self.device_resources()) if self.time_slicing else []

    def matches_node(self, node_name: str, labels: Mapping[str, str]) -> bool:
        """Whether a node belongs to the pool; GFD's -MIG-<profile> / -SHARED product suffixes are ignored."""
        if self.nodes is not None:
            return node_name in self.nodes
        for key, want in (self.node_selector or {}).items():
            have = labels.get(key)
            if have is None:
                return False
            if key == PRODUCT_LABEL:
                have = base_product(have)
            if have != want:
                return False
        return bool(self.node_selector)


def base_product(product: str) -> str:
    """`NVIDIA-H100-80GB-HBM3-MIG-1g.10gb` / `…-SHARED` → `NVIDIA-H100-80GB-HBM3` (GFD adds suffixes)."""
    return product.split("-MIG-")[0].removesuffix("-SHARED")


@dataclass
class GpuPlan:
    pools: list[PoolPlan] = field(default_factory=list)
    located_problems: list[ConfigProblem] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [str(p) for p in self.located_problems]

    @property
    def ok(self) -> bool:
        return not self.located_problems

    def pool(self, name: str) -> PoolPlan | None:
        return next((p for p in self.pools if p.name == name), None)

    def cluster_mig_strategy(self) -> str:
        """GPU Operator `mig.strategy` (the default for unlabelled nodes; pools override via their config)."""
        strategies = {p.strategy for p in self.pools if p.uses_mig}
        if len(strategies) == 1:
            return strategies.pop()
        return "mixed" if strategies else "none"


def build_plan(cfg: GpuConfig, profiles: ProfileSet, root: Path_ = ("gpu",)) -> GpuPlan:
    """Resolve every pool; problems carry paths under `root` (default `gpu`)."""
    plan = GpuPlan()
    for i, pool in enumerate(cfg.pools):
        base = (*root, "pools", i)
        problems: list[ConfigProblem] = []
        resolved = _resolve_pool(pool, profiles, base, problems)
        plan.located_problems.extend(problems)
        if resolved is not None and not problems:
            plan.pools.append(resolved)
    plan.located_problems.extend(_cross_pool(cfg, root))
    return plan


def check_gpu_config(cfg: GpuConfig, profiles: ProfileSet) -> list[str]:
    """Everything that needs the hardware profiles: one `gpu.pools[i].…: message` line per problem."""
    return build_plan(cfg, profiles).problems


def _resolve_pool(pool: GpuPool, profiles: ProfileSet, base: Path_, problems: list[ConfigProblem]) -> PoolPlan | None:
    profile = profiles.find(pool.profile)
    if profile is None:
        problems.append(
            ConfigProblem(
                (*base, "profile"), f"unknown hardware profile {pool.profile!r} (known: {', '.join(profiles.names())})"
            )
        )
        return None
    sharing = pool.sharing
    if not profile.has_gpus:
        if sharing.mode != "none":
            problems.append(ConfigProblem((*base, "sharing", "mode"), f"profile {profile.name} has no GPUs to share"))
        gpus = 0
    else:
        gpus = pool.gpus_per_node or profile.gpus_per_node
    selector = _node_selector(pool, profile, base, problems)
    geometries, strategy, named = _mig_layout(pool, profile, gpus, base, problems)
    node_count = pool.node_count if pool.node_count is not None else (len(pool.nodes) if pool.nodes else None)
    return PoolPlan(
        name=pool.name,
        profile=profile,
        gpus_per_node=gpus,
        node_count=node_count,
        nodes=pool.nodes,
        node_selector=selector if pool.nodes is None else None,
        mode=sharing.mode,
        strategy=strategy,
        geometries=geometries,
        named_config=named,
        time_slicing=sharing.time_slicing,
    )


def _node_selector(pool: GpuPool, profile: HardwareProfile, base: Path_,
                   problems: list[ConfigProblem]) -> dict[str, str] | None:
    """The pool's nodeSelector, defaulting to the profile's one product label when neither it nor nodes is set."""
    if pool.nodes is not None or pool.node_selector is not None:
        return pool.node_selector
    if len(profile.products) == 1:
        return {PRODUCT_LABEL: profile.products[0]}
    what = "no product label" if not profile.products else f"several products ({', '.join(profile.products)})"
    problems.append(ConfigProblem((*base, "nodeSelector"), f"set nodeSelector or nodes: profile {profile.name} has {what}"))
    return None


def _mig_layout(pool: GpuPool, profile: HardwareProfile, gpus: int, base: Path_,
                problems: list[ConfigProblem]) -> tuple[list[Geometry | None] | None, str, str | None]:
    """(per-GPU geometries or None, MIG strategy, named config) of a pool that asks for MIG."""
    sharing = pool.sharing
    if not sharing.uses_mig or sharing.mig is None:
        return None, "none", None
    strategy, named = sharing.mig.strategy, sharing.mig.config
    if profile.mig is None:
        problems.append(
            ConfigProblem(
                (*base, "sharing", "mode"),
                f"{profile.name} is not MIG-capable; use time-slicing (MIG GPUs: A100, A30, H100, H200, GH200, B200)",
            )
        )
        return None, strategy, named
    geometries = _pool_geometries(pool, profile, gpus, base, problems)
    if geometries is not None and strategy == "single" and not is_uniform(geometries):
        used = sorted({n for g in geometries if g for n, c in g.items() if c})
        problems.append(
            ConfigProblem(
                (*base, "sharing", "mig", "strategy"),
                "single needs every GPU of the pool to have MIG enabled with one profile "
                f"(got {', '.join(used) or 'no MIG instances'}"
                + (", and MIG-disabled GPUs" if any(g is None for g in geometries) else "")
                + "); use strategy mixed",
            )
        )
    if geometries is not None and sharing.time_slicing and not any(geometries):
        problems.append(
            ConfigProblem((*base, "sharing", "mig"), "no MIG devices to time-slice: the geometry creates no instances")
        )
    return geometries, strategy, named


def _pool_geometries(
    pool: GpuPool, profile: HardwareProfile, gpus: int, base: Path_, problems: list[ConfigProblem]
) -> list[Geometry | None] | None:
    mig_cfg = pool.sharing.mig
    assert mig_cfg is not None and profile.mig is not None
    if mig_cfg.config is not None:
        path = (*base, "sharing", "mig", "config")
        configs = named_configs(profile.mig)
        if mig_cfg.config == "all-disabled":
            problems.append(ConfigProblem(path, DISABLED_EVERYWHERE))
            return None
        if mig_cfg.config not in configs:
            valid = ", ".join(n for n in configs if n != "all-disabled")
            problems.append(
                ConfigProblem(path, f"{mig_cfg.config!r} is not a MIG config for {profile.name} (valid: {valid})")
            )
            return None
        geometry = configs[mig_cfg.config]
        check = check_geometry(geometry or {}, profile.mig, profile.name)
        problems.extend(ConfigProblem(path, f"{mig_cfg.config}: {msg}") for msg in check.problems)
        return [dict(geometry) if geometry is not None else None for _ in range(gpus)]
    assert mig_cfg.geometry is not None
    per_gpu: list[Geometry | object | None] = [_UNSET] * gpus
    ok = True
    for key, value in mig_cfg.geometry.items():
        path = (*base, "sharing", "mig", "geometry", key)
        indices = parse_gpu_indices(key)
        geometry = geometry_value(value)
        if geometry is not None:
            check = check_geometry(geometry, profile.mig, profile.name)
            if not check.ok:
                problems.extend(ConfigProblem(path, msg) for msg in check.problems)
                ok = False
        targets = list(range(gpus)) if indices is None else indices
        for idx in targets:
            if idx >= gpus:
                problems.append(
                    ConfigProblem(path, f"GPU {idx} does not exist: the pool has {gpus} GPUs per node (0-{gpus - 1})")
                )
                ok = False
                break
            if per_gpu[idx] is not _UNSET:
                problems.append(ConfigProblem(path, f"GPU {idx} is given a geometry twice"))
                ok = False
                break
            per_gpu[idx] = geometry
    missing = [i for i, g in enumerate(per_gpu) if g is _UNSET]
    if missing and ok:
        problems.append(
            ConfigProblem(
                (*base, "sharing", "mig", "geometry"),
                f"GPU {slot_ranges(missing)} (of 0-{gpus - 1}) has no geometry; cover them (or use `all`, or `disabled`)",
            )
        )
        ok = False
    if ok and all(g is None for g in per_gpu):
        problems.append(ConfigProblem((*base, "sharing", "mig", "geometry"), DISABLED_EVERYWHERE))
        ok = False
    return [g for g in per_gpu if isinstance(g, dict) or g is None] if ok else None


def _cross_pool(cfg: GpuConfig, root: Path_) -> list[ConfigProblem]:
    problems = []
    owner: dict[str, int] = {}
    selectors: dict[tuple[tuple[str, str], ...], int] = {}
    for i, pool in enumerate(cfg.pools):
        for node in pool.nodes or []:
            if node in owner and owner[node] != i:
                problems.append(
                    ConfigProblem(
                        (*root, "pools", i, "nodes"), f"node {node} is already in pool {cfg.pools[owner[node]].name}"
                    )
                )
            owner.setdefault(node, i)
        if pool.node_selector:
            key = tuple(sorted(pool.node_selector.items()))
            if key in selectors:
                problems.append(
                    ConfigProblem(
                        (*root, "pools", i, "nodeSelector"),
                        f"same nodeSelector as pool {cfg.pools[selectors[key]].name}: a node can be in one pool only",
                    )
                )
            selectors.setdefault(key, i)
    return problems
