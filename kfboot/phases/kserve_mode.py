"""KServe's default deployment mode follows the platform: RawDeployment must not leave KServe expecting Knative.

Upstream's `inferenceservice-config` says `"defaultDeploymentMode": "Serverless"`. kfboot installs
Knative only in Serverless mode, so with `deploymentMode: RawDeployment` every InferenceService that
does not carry the mode annotation would wait forever for a Knative Service that no one serves. This
ManifestPhase transform (pure) rewrites that one key of the ConfigMap's `deploy` entry; the other
keys of the entry are kept.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from kfboot.engine.phase import PhaseContext

CONFIG_MAP = "inferenceservice-config"


def set_default_mode(objects: list[dict[str, Any]], mode: str) -> tuple[list[dict[str, Any]], bool]:
    """The objects with KServe's default deployment mode set to `mode`; True when the ConfigMap was found."""
    out, found = [], False
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") != "ConfigMap" or meta.get("name") != CONFIG_MAP:
            out.append(obj)
            continue
        found = True
        data = obj.get("data") or {}
        try:
            deploy = json.loads(data.get("deploy") or "{}")
        except json.JSONDecodeError:
            deploy = {}
        if not isinstance(deploy, dict):
            deploy = {}
        if deploy.get("defaultDeploymentMode") == mode:
            out.append(obj)
            continue
        changed = copy.deepcopy(obj)
        deploy["defaultDeploymentMode"] = mode
        changed.setdefault("data", {})["deploy"] = json.dumps(deploy, indent=2)
        out.append(changed)
    return out, found


@dataclass(frozen=True)
class KServeDeploymentMode:
    """ManifestPhase transform of the kserve phase: the platform's `deploymentMode` becomes KServe's default."""

    mode: str

    def fingerprint(self) -> dict[str, str]:
        return {"kserveDefaultDeploymentMode": self.mode}

    def describe(self) -> str:
        return f"KServe's default deployment mode: {self.mode} ({CONFIG_MAP})"

    applied_in_render = True  # pure: `kfboot render` shows its result

    def for_render(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return set_default_mode(objects, self.mode)[0]

    def __call__(self, ctx: PhaseContext, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out, found = set_default_mode(objects, self.mode)
        if not found:
            ctx.progress(f"ConfigMap {CONFIG_MAP} is not in the render: KServe keeps its built-in default mode")
        return out
