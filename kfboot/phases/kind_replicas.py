"""Modest replicas on kind: one laptop or CI runner does not need two oauth2-proxies or istiod autoscaling to five.

A ManifestPhase transform (pure, no cluster read): Deployments and StatefulSets get at most one
replica, HorizontalPodAutoscalers at most one; everything else is untouched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kfboot.engine.phase import PhaseContext

MAX_REPLICAS = 1


def modest_replicas(objects: list[dict[str, Any]], limit: int = MAX_REPLICAS) -> tuple[list[dict[str, Any]], list[str]]:
    """The objects with replicas capped at `limit`, and what was changed (`Kind namespace/name: 2 → 1`)."""
    out, changed = [], []
    for obj in objects:
        kind, spec = obj.get("kind"), obj.get("spec")
        if not isinstance(spec, dict):
            out.append(obj)
            continue
        key = {"Deployment": "replicas", "StatefulSet": "replicas", "HorizontalPodAutoscaler": "maxReplicas"}.get(
            str(kind))
        value = spec.get(key) if key else None
        if key is None or not isinstance(value, int) or value <= limit:
            out.append(obj)
            continue
        capped = copy.deepcopy(obj)
        capped["spec"][key] = limit
        if key == "maxReplicas" and isinstance(spec.get("minReplicas"), int) and spec["minReplicas"] > limit:
            capped["spec"]["minReplicas"] = limit
        meta = obj.get("metadata") or {}
        where = f"{meta['namespace']}/" if meta.get("namespace") else ""
        changed.append(f"{kind} {where}{meta.get('name')}: {key} {value} → {limit}")
        out.append(capped)
    return out, changed


@dataclass(frozen=True)
class ModestReplicas:
    """ManifestPhase transform used on kind clusters."""

    limit: int = MAX_REPLICAS

    def fingerprint(self) -> dict[str, int]:
        return {"kindModestReplicas": self.limit}

    def describe(self) -> str:
        return f"kind cluster: at most {self.limit} replica per Deployment, StatefulSet and HorizontalPodAutoscaler"

    applied_in_render = True  # pure: `kfboot render` shows its result

    def for_render(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return modest_replicas(objects, self.limit)[0]

    def __call__(self, ctx: PhaseContext, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        capped, changed = modest_replicas(objects, self.limit)
        for line in changed:
            ctx.progress(f"kind cluster: {line}")
        return capped
