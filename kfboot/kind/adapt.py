"""What `install` chooses by itself on a kind cluster (pure), and the words the plan uses to say so.

On a `kind-*` context: the oauth2-proxy overlay `m2m-dex-and-kind` (the catalog's kind-paths),
modest replicas (a ManifestPhase transform), and the GPU Operator fitted to the nodes — skipped when
no node has a GPU (nothing for it to do), else with `driver.enabled=false` and `toolkit.enabled=false`
because the host's driver and Container Toolkit already serve the kind nodes (nvkind's setup).
The user's own values win over these defaults; a component the user disabled stays disabled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kfboot.config.platform import Platform
from kfboot.phases.build import deep_merge

GPU_OPERATOR = "gpu-operator"
GPU_NODE_LABELS = ("nvidia.com/gpu.present", "feature.node.kubernetes.io/pci-10de.present")
KIND_GPU_OPERATOR_VALUES: dict[str, Any] = {"driver": {"enabled": False}, "toolkit": {"enabled": False}}
NO_GPU_REASON = ("kind cluster without GPU nodes: GPU Operator skipped "
                 "(for GPUs: kfboot cluster create --gpus all)")


@dataclass(frozen=True)
class KindAdaptation:
    platform: Platform
    notes: tuple[str, ...]
    skip_reasons: dict[str, str] = field(default_factory=dict)


def has_gpu_nodes(nodes: Iterable[dict[str, Any]], runtime_class_nvidia: bool) -> bool:
    """GPU nodes: a node labelled as having NVIDIA GPUs, or the `nvidia` RuntimeClass `cluster create --gpus` makes."""
    if runtime_class_nvidia:
        return True
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        if any(labels.get(label) == "true" for label in GPU_NODE_LABELS):
            return True
    return False


def adapt_platform(platform: Platform, gpu_nodes: bool | None) -> KindAdaptation:
    """The platform install uses on kind, and one plan line per choice. `gpu_nodes` None: unknown (offline)."""
    notes: list[str] = []
    skip: dict[str, str] = {}
    comps = platform.components
    if comps.dex.enabled:
        notes.append("kind cluster: oauth2-proxy overlay m2m-dex-and-kind (machine-to-machine tokens issued "
                     "for https://kubernetes.default.svc)")
    notes.append("kind cluster: modest replicas (at most 1 per Deployment, StatefulSet and HorizontalPodAutoscaler)")
    operator = comps.gpu_operator
    if operator.enabled and gpu_nodes is False:
        operator = operator.model_copy(update={"enabled": False})
        skip[GPU_OPERATOR] = NO_GPU_REASON
        notes.append(NO_GPU_REASON)
    elif operator.enabled:
        operator = operator.model_copy(update={"values": deep_merge(KIND_GPU_OPERATOR_VALUES, operator.values)})
        known = "" if gpu_nodes else " (GPU nodes not checked: no cluster)"
        notes.append("kind cluster with GPU nodes: GPU Operator with driver.enabled=false, toolkit.enabled=false "
                     f"(the host's driver and Container Toolkit serve the nodes){known}")
    adapted = platform.model_copy(update={"components": comps.model_copy(update={"gpu_operator": operator})})
    return KindAdaptation(adapted, tuple(notes), skip)
