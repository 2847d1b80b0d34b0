"""Discovery documents and a minimal OpenAPI v3.

OpenAPI v3 is served only as far as client-go's field-validation probe needs: every PATCH
operation carries ``x-kubernetes-group-version-kind`` and a ``fieldValidation`` query parameter.
kubectl and helm then rely on server-side validation and never download the protobuf
``/openapi/v2`` (which is 404 here).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .resources import PREFERRED_ORDER, Registry, ResourceType

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first, others last."""
    m = _VERSION_RE.match(version)
    if not m:
        return (3, 0, 0, version)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, version)


def version_doc(kube_version: str) -> dict[str, Any]:
    major, minor = kube_version.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "gitVersion": kube_version,
        "gitCommit": "0" * 40,
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(host: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    }


def _groups(registry: Registry) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for rt in registry.all():
        if rt.group:
            versions = groups.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
    for versions in groups.values():
        versions.sort(key=version_priority)
    order = {g: n for n, g in enumerate(PREFERRED_ORDER)}
    return dict(sorted(groups.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def _group_doc(name: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(g, vs) for g, vs in _groups(registry).items()],
    }


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = _groups(registry).get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


def _storage_hash(rt: ResourceType) -> str:
    return hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).hexdigest()[:11]


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = [rt for rt in registry.all() if rt.group == group and rt.version == version]
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular_name,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
            "storageVersionHash": _storage_hash(rt),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        subs = (["status"] if rt.status else []) + list(rt.subresources)
        for sub in subs:
            verbs = ["get"] if sub == "log" else ["get", "patch", "update"]
            kind = "Scale" if sub == "scale" else rt.kind
            resources.append(
                {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                 "kind": kind, "verbs": verbs}
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


# ---------------------------------------------------------------------------- OpenAPI v3

def _gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_index(registry: Registry) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    seen = set()
    for rt in registry.all():
        if (rt.group, rt.version) in seen:
            continue
        seen.add((rt.group, rt.version))
        doc = openapi_v3_gv(registry, rt.group, rt.version, "")
        digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()
        key = _gv_key(rt.group, rt.version)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": dict(sorted(paths.items()))}


_PATCH_PARAMS = [
    {"name": n, "in": "query", "schema": {"type": t}, "uniqueItems": True}
    for n, t in (("dryRun", "string"), ("fieldManager", "string"), ("fieldValidation", "string"),
                 ("force", "boolean"), ("pretty", "string"))
]


def openapi_v3_gv(registry: Registry, group: str, version: str, kube_version: str) -> dict[str, Any] | None:
    types = [rt for rt in registry.all() if rt.group == group and rt.version == version]
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rt in types:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        base = rt.gv_path + ("/namespaces/{namespace}/" if rt.namespaced else "/") + rt.plural
        op = {
            "operationId": f"patch{rt.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": _PATCH_PARAMS,
            "requestBody": {"content": {"application/apply-patch+yaml": {"schema": {"type": "object"}}}},
            "responses": {"200": {"description": "OK"}},
        }
        paths[base + "/{name}"] = {"patch": op, "get": {**op, "operationId": f"read{rt.kind}",
                                                        "x-kubernetes-action": "get"}}
        schema_name = f"{'.'.join(reversed(rt.group.split('.'))) if rt.group else 'io.k8s.api.core'}.{rt.version}.{rt.kind}"
        schemas[schema_name] = {
            "type": "object",
            "description": f"{rt.kind} (schema elided by fakekube)",
            "x-kubernetes-group-version-kind": [gvk],
            "x-kubernetes-preserve-unknown-fields": True,
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": kube_version or "unversioned"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
