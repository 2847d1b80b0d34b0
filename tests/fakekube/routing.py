"""URL parsing: turn a kube-apiserver path into (resource type, namespace, name, subresource)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError
from .resources import Registry, ResourceType

_NS_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class ResourcePath:
    rt: ResourceType
    namespace: str | None  # None = all namespaces (lists) or cluster-scoped
    name: str | None
    subresource: str = ""


def parse_resource_path(registry: Registry, path: str) -> ResourcePath | None:
    """None if ``path`` is not a resource URL (discovery etc.); ApiError(404) for unknown resources."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (
        group == "" and len(rest) == 3 and rest[2] in _NS_SUBRESOURCES
    ):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = "/".join(rest[2:]) if len(rest) > 2 else ""
    rt = registry.by_plural(group, version, plural)
    if rt is None:
        raise ApiError(404, "the server could not find the requested resource", "NotFound",
                       {"group": group, "kind": plural})
    if namespace is not None and not rt.namespaced:
        raise ApiError(404, "the server could not find the requested resource", "NotFound",
                       {"group": group, "kind": plural})
    if rt.namespaced and name is not None and namespace is None:
        raise ApiError(404, "the server could not find the requested resource", "NotFound",
                       {"group": group, "kind": plural})
    if sub and sub not in (("status",) if rt.status else ()) + rt.subresources:
        raise ApiError(404, "the server could not find the requested resource", "NotFound",
                       {"group": group, "kind": plural})
    return ResourcePath(rt, namespace, name, sub)
