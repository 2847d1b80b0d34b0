"""Immutable fields: the 422 "field is immutable" errors installers meet when re-applying changed objects."""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError
from .resources import ResourceType

# kind -> dotted paths that may not change once set
_IMMUTABLE: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "StatefulSet": ("spec.selector",),
    "Job": ("spec.selector", "spec.template", "spec.completionMode"),
    "Service": ("spec.clusterIP",),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
    "CustomResourceDefinition": ("spec.scope",),
    "PersistentVolumeClaim": ("spec.storageClassName", "spec.accessModes", "spec.volumeName", "spec.selector"),
}
# StatefulSet: only these spec fields may change (everything else is Forbidden)
_STS_MUTABLE = {"replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds", "revisionHistoryLimit"}


def _get(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _invalid(rt: ResourceType, name: str, field: str, message: str, value: Any = None) -> ApiError:
    shown = f"Invalid value: {json.dumps(value, sort_keys=True)}: " if value is not None else ""
    return ApiError(
        422,
        f'{rt.kind}.{rt.group or ""} "{name}" is invalid: {field}: {shown}{message}'.replace('. "', ' "'),
        "Invalid",
        {"name": name, "group": rt.group, "kind": rt.kind,
         "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]},
    )


def check_immutable(rt: ResourceType, current: dict[str, Any], new: dict[str, Any]) -> None:
    """Raise 422 Invalid like kube-apiserver's validation when an immutable field changes."""
    name = current["metadata"]["name"]
    for path in _IMMUTABLE.get(rt.kind, ()):
        old_v, new_v = _get(current, path), _get(new, path)
        if old_v is not None and old_v != new_v:
            if rt.kind == "Service" and new_v in (None, ""):
                continue  # an omitted clusterIP keeps the allocated one (defaulting)
            raise _invalid(rt, name, path, "field is immutable", new_v)
    if rt.kind == "StatefulSet":
        old_spec, new_spec = current.get("spec") or {}, new.get("spec") or {}
        changed = {k for k in set(old_spec) | set(new_spec) if old_spec.get(k) != new_spec.get(k)}
        if changed - _STS_MUTABLE:
            raise _invalid(rt, name, "spec", "Forbidden: updates to statefulset spec for fields other than "
                           "'replicas', 'ordinals', 'template', 'updateStrategy', "
                           "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
    if rt.kind in ("ConfigMap", "Secret") and current.get("immutable"):
        for f in ("data", "binaryData", "immutable"):
            if current.get(f) != new.get(f):
                raise _invalid(rt, name, f, "field is immutable when `immutable` is set")
