"""Small helpers on object dicts shared by the API layer and the controllers."""

from __future__ import annotations

import copy
import datetime as _dt
from typing import Any


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.setdefault("metadata", {})


def spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything that counts as desired state: generation bumps only when this changes."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object minus fields that change on every write (for no-op detection)."""
    out = copy.deepcopy(obj)
    m = out.get("metadata", {})
    m.pop("resourceVersion", None)
    for entry in m.get("managedFields") or []:
        entry.pop("time", None)
    return out


def set_condition(status: dict[str, Any], ctype: str, value: str, reason: str = "", message: str = "") -> None:
    """Upsert a condition, keeping lastTransitionTime when the status does not flip."""
    conds = status.setdefault("conditions", [])
    for c in conds:
        if c.get("type") == ctype:
            if c.get("status") != value:
                c["lastTransitionTime"] = now_iso()
            c.update({"status": value, "reason": reason, "message": message})
            c.setdefault("lastUpdateTime", now_iso())
            return
    conds.append(
        {
            "type": ctype,
            "status": value,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now_iso(),
        }
    )


def get_condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def owned_by(obj: dict[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in meta(obj).get("ownerReferences") or [])


def owner_ref(owner: dict[str, Any], controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }
