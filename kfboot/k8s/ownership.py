"""Phase ownership (pure): everything a phase's objects rely on is created by that phase or by one it
transitively needs, or exists in every cluster before kfboot runs.

Otherwise the phase works only while some unrelated phase happens to be installed: KServe without
Kubeflow has no ingress Gateway, Istio without the Kubeflow namespace cannot write its Sidecars, and
uninstalling the unrelated phase silently breaks the one that relied on it. Checked over the render
(`bundle build`, `plan`), so such a catalog never ships.

Relied on: an object's namespace; a custom resource's CRD; and what configuration names by reference
— Gateways of VirtualServices, of Knative's `config-istio` and of KServe's ingress config; Services
that webhooks and APIServices call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kfboot.k8s.manifests import BUILTIN_GROUPS

PREEXISTING_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
GATEWAY = ("networking.istio.io", "Gateway")
SERVICE = ("", "Service")
_KSERVE_INGRESS = re.compile(r'"ingressGateway"\s*:\s*"([^"/\s]+)/([^"\s]+)"')


@dataclass(frozen=True)
class PhaseObjects:
    """One phase as rendered: its objects, what it needs, and namespaces it creates without an object
    (Helm's --create-namespace)."""

    name: str
    needs: tuple[str, ...]
    objects: list[dict[str, Any]]
    created_namespaces: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Requirement:
    what: str  # e.g. "namespace kubeflow", "CRD of Gateway.networking.istio.io"
    key: tuple[str, ...]  # what providers are indexed by
    by: str  # the object that relies on it, e.g. "ConfigMap knative-serving/config-istio"


def _describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


def _group(obj: dict[str, Any]) -> str:
    api = str(obj.get("apiVersion") or "")
    return api.rpartition("/")[0]


def provided(phase: PhaseObjects) -> set[tuple[str, ...]]:
    """Keys of what a phase creates: namespaces, CRD kinds and named objects."""
    keys: set[tuple[str, ...]] = {("namespace", ns) for ns in phase.created_namespaces}
    for obj in phase.objects:
        meta = obj.get("metadata") or {}
        kind, name = obj.get("kind", ""), meta.get("name", "")
        if kind == "Namespace" and _group(obj) == "":
            keys.add(("namespace", name))
        elif kind == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            keys.add(("crd", spec.get("group", ""), (spec.get("names") or {}).get("kind", "")))
        keys.add(("object", _group(obj), kind, meta.get("namespace") or "", name))
    return keys


def requirements(obj: dict[str, Any]) -> Iterator[Requirement]:
    """What one object relies on existing."""
    meta = obj.get("metadata") or {}
    by = _describe(obj)
    ns = meta.get("namespace")
    group, kind = _group(obj), obj.get("kind", "")
    if ns and kind != "Namespace":
        yield Requirement(f"namespace {ns}", ("namespace", ns), by)
    if group not in BUILTIN_GROUPS:
        yield Requirement(f"the CRD of {kind}.{group}", ("crd", group, kind), by)
    for ref_ns, ref_name in _gateways(obj):
        yield Requirement(f"Gateway {ref_ns}/{ref_name}", ("object", *GATEWAY, ref_ns, ref_name), by)
    for ref_ns, ref_name in _services(obj):
        yield Requirement(f"Service {ref_ns}/{ref_name}", ("object", *SERVICE, ref_ns, ref_name), by)


def _gateways(obj: dict[str, Any]) -> Iterator[tuple[str, str]]:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    kind, name = obj.get("kind"), meta.get("name")
    if kind == "VirtualService" and _group(obj) == GATEWAY[0]:
        for ref in (obj.get("spec") or {}).get("gateways") or []:
            if isinstance(ref, str) and ref != "mesh":
                gw_ns, _, gw_name = ref.rpartition("/")
                yield gw_ns or ns, gw_name
    elif kind == "ConfigMap" and name == "config-istio":  # Knative's net-istio: gateway.<ns>.<name>: <service>
        for key in (obj.get("data") or {}):
            prefix, _, rest = key.partition(".")
            if prefix in ("gateway", "local-gateway") and rest.count(".") == 1:
                gw_ns, gw_name = rest.split(".")
                yield gw_ns, gw_name
    elif kind == "ConfigMap" and name == "inferenceservice-config":  # KServe's ingress config (JSON)
        ingress = (obj.get("data") or {}).get("ingress") or ""
        try:
            parsed = json.loads(ingress)
        except ValueError:
            yield from _KSERVE_INGRESS.findall(ingress)
            return
        ref = parsed.get("ingressGateway") if isinstance(parsed, dict) else None
        if isinstance(ref, str) and "/" in ref:
            gw_ns, gw_name = ref.split("/", 1)
            yield gw_ns, gw_name


def _services(obj: dict[str, Any]) -> Iterator[tuple[str, str]]:
    kind = obj.get("kind")
    if kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for hook in obj.get("webhooks") or []:
            svc = (hook.get("clientConfig") or {}).get("service")
            if svc and svc.get("namespace") and svc.get("name"):
                yield svc["namespace"], svc["name"]
    elif kind == "APIService":
        svc = (obj.get("spec") or {}).get("service")
        if svc and svc.get("namespace") and svc.get("name"):
            yield svc["namespace"], svc["name"]
    elif kind == "CustomResourceDefinition":
        conversion = ((obj.get("spec") or {}).get("conversion") or {}).get("webhook") or {}
        svc = (conversion.get("clientConfig") or {}).get("service")
        if svc and svc.get("namespace") and svc.get("name"):
            yield svc["namespace"], svc["name"]


def _closure(name: str, needs: dict[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(needs.get(current, ()))
    return seen


def check_ownership(phases: Iterable[PhaseObjects], *, unowned: bool = True) -> list[str]:
    """One line per object that relies on something its phase does not own, naming object and phases.

    With `unowned=False`, what no given phase creates is left out (a platform's disabled or external
    components are the dependency check's business); only reliance on an unrelated phase is reported."""
    phases = list(phases)
    needs = {p.name: p.needs for p in phases}
    owners: dict[tuple[str, ...], list[str]] = {}
    for phase in phases:
        for key in provided(phase):
            owners.setdefault(key, []).append(phase.name)
    problems: dict[str, None] = {}
    for phase in phases:
        reachable = _closure(phase.name, needs)
        for obj in phase.objects:
            for req in requirements(obj):
                if req.key[0] == "namespace" and req.key[1] in PREEXISTING_NAMESPACES:
                    continue
                by = owners.get(req.key, [])
                if reachable & set(by):
                    continue
                if by:
                    problems[f"{req.by} in phase {phase.name} relies on {req.what}, created by phase "
                             f"{', '.join(by)}, which {phase.name} does not need"] = None
                elif unowned:
                    problems[f"{req.by} in phase {phase.name} relies on {req.what}, which no phase creates"] = None
    return list(problems)
