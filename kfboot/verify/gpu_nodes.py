"""Which nodes have GPUs, what kind, and whether their GPUs are whole (NCCL needs whole GPUs).

A GPU node is one that advertises `nvidia.com/gpu` or an `nvidia.com/mig-*` resource in
`status.allocatable`. GPU Feature Discovery labels name the product, count and memory. MIG
partitions and time-slicing/MPS replicas are not whole GPUs: NCCL cannot span MIG instances and
two ranks on one GPU fail with "Duplicate GPU detected", so such nodes get nvidia-smi only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kfboot.gpu.profile_model import HardwareProfile
from kfboot.gpu.profiles import ProfileSet

GPU = "nvidia.com/gpu"
_MIG_RESOURCE = re.compile(r"^nvidia\.com/mig-(.+)$")


@dataclass
class GpuNode:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    allocatable: dict[str, int] = field(default_factory=dict)  # GPU resources only
    memory_bytes: int | None = None
    profile: HardwareProfile | None = None
    unschedulable: bool = False

    @property
    def product(self) -> str | None:
        return self.labels.get("nvidia.com/gpu.product")

    @property
    def gpus(self) -> int:
        """Whole GPUs a pod can ask for (0 when they are MIG-partitioned or shared)."""
        return 0 if self.shared_reason else self.allocatable.get(GPU, 0)

    @property
    def physical_gpus(self) -> int:
        count = self.labels.get("nvidia.com/gpu.count", "")
        if count.isdigit() and "-MIG-" not in (self.product or ""):
            return int(count)
        return self.allocatable.get(GPU, 0)

    @property
    def mig_resources(self) -> dict[str, int]:
        return {k: v for k, v in self.allocatable.items() if _MIG_RESOURCE.match(k)}

    @property
    def shared_reason(self) -> str | None:
        """Why this node's GPUs are not whole GPUs for NCCL, or None."""
        mig = self.mig_resources
        if mig or "-MIG-" in (self.product or ""):
            what = ", ".join(f"{n}× {k.split('/', 1)[1]}" for k, n in sorted(mig.items())) or self.product
            return f"MIG-partitioned ({what}): NCCL cannot span MIG instances; nvidia-smi only"
        replicas = self.labels.get("nvidia.com/gpu.replicas", "")
        strategy = self.labels.get("nvidia.com/gpu.sharing-strategy", "")
        if (replicas.isdigit() and int(replicas) > 1) or strategy in ("time-slicing", "mps") or \
                (self.product or "").endswith("-SHARED") or any(k.endswith(".shared") for k in self.allocatable):
            how = strategy if strategy and strategy != "none" else "time-sliced"
            return (f"GPUs are shared ({how}, {replicas or '?'} replicas each): two NCCL ranks on one GPU fail "
                    "with 'Duplicate GPU detected'; nvidia-smi only")
        return None


def _quantity(value: Any) -> int:
    text = str(value).strip()
    return int(text) if text.isdigit() else 0


_MEM_UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "k": 10**3, "M": 10**6, "G": 10**9}


def memory_bytes(value: Any) -> int | None:
    m = re.fullmatch(r"(\d+)([KMGT]i|[kMG])?", str(value or "").strip())
    if not m:
        return None
    return int(m.group(1)) * _MEM_UNITS.get(m.group(2) or "", 1)


def gpu_node(node: dict[str, Any], profiles: ProfileSet, forced: HardwareProfile | None = None) -> GpuNode | None:
    """A Node object → GpuNode, or None when it has no GPU resource."""
    status = node.get("status") or {}
    alloc = status.get("allocatable") or {}
    gpu_res = {k: _quantity(v) for k, v in alloc.items()
               if (k == GPU or _MIG_RESOURCE.match(k) or k.startswith(f"{GPU}.")) and _quantity(v) > 0}
    if not gpu_res:
        return None
    md = node.get("metadata") or {}
    labels = dict(md.get("labels") or {})
    product = labels.get("nvidia.com/gpu.product")
    return GpuNode(
        name=md["name"], labels=labels, allocatable=gpu_res, memory_bytes=memory_bytes(alloc.get("memory")),
        profile=forced or (profiles.by_product(product) if product else None),
        unschedulable=bool((node.get("spec") or {}).get("unschedulable")),
    )


def discover(nodes: list[dict[str, Any]], profiles: ProfileSet, *, only: list[str] | None = None,
             forced: HardwareProfile | None = None) -> tuple[list[GpuNode], list[str]]:
    """GPU nodes (sorted by name), and problems with `only` (names that are not GPU nodes)."""
    found = {n.name: n for node in nodes if (n := gpu_node(node, profiles, forced)) is not None}
    problems = []
    if only:
        names = {(n.get("metadata") or {}).get("name") for n in nodes}
        for wanted in only:
            if wanted not in names:
                problems.append(f"node {wanted} does not exist")
            elif wanted not in found:
                problems.append(f"node {wanted} has no allocatable nvidia.com/gpu or nvidia.com/mig-* resource")
        found = {k: v for k, v in found.items() if k in only}
    return [found[k] for k in sorted(found)], problems
