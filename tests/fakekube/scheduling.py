"""Which Nodes a pod may run on (nodeSelector, required node affinity, taints and tolerations) and the
scheduler's and kubelet's Events for pods that cannot start (FailedScheduling, ImagePullBackOff).

The predicates are kube-scheduler's NodeAffinity, TaintToleration and NodeUnschedulable plugins;
DaemonSet pods get the tolerations the DaemonSet controller adds. Resources, ports, volumes and
pod (anti-)affinity are not considered.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from .objects import now_iso

# added by the DaemonSet controller to every daemon pod
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
AFFINITY = "node(s) didn't match Pod's node affinity/selector"
UNSCHEDULABLE = "node(s) were unschedulable"


def _expr_ok(expr: dict[str, Any], values_of: dict[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    present = key in values_of
    if op == "In":
        return present and values_of[key] in values
    if op == "NotIn":
        return not present or values_of[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            have, want = int(values_of[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def matches_affinity(spec: dict[str, Any], node: dict[str, Any]) -> bool:
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if not terms:
        return True
    fields = {"metadata.name": node["metadata"]["name"]}
    return any(
        all(_expr_ok(e, labels) for e in term.get("matchExpressions") or [])
        and all(_expr_ok(e, fields) for e in term.get("matchFields") or [])
        and (term.get("matchExpressions") or term.get("matchFields"))
        for term in terms)


def _tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator", "Equal") == "Exists":
            if not t.get("key") or t["key"] == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def untolerated_taint(spec: dict[str, Any], node: dict[str, Any], daemon: bool) -> dict[str, Any] | None:
    tolerations = list(spec.get("tolerations") or []) + (DAEMON_TOLERATIONS if daemon else [])
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint):
            return taint
    return None


def why_not(spec: dict[str, Any], node: dict[str, Any], daemon: bool = False) -> str | None:
    """None if the pod fits the node, else the scheduler's reason phrase."""
    if not daemon and (node.get("spec") or {}).get("unschedulable"):
        return UNSCHEDULABLE
    taint = untolerated_taint(spec, node, daemon)  # filter plugins run in this order; the first failure counts
    if taint is not None:
        return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}"
    if not matches_affinity(spec, node):
        return AFFINITY
    return None


def failed_scheduling_message(spec: dict[str, Any], nodes: list[dict[str, Any]]) -> str:
    """``0/N nodes are available: …`` as kube-scheduler words it."""
    counts: dict[str, int] = {}
    for node in nodes:
        reason = why_not(spec, node)
        if reason:
            counts[reason] = counts.get(reason, 0) + 1
    parts = ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))
    total = len(nodes)
    return (f"0/{total} nodes are available: {parts}. preemption: 0/{total} nodes are available: "
            f"{total} Preemption is not helpful for scheduling.")


def event(involved: dict[str, Any], reason: str, message: str, etype: str, component: str,
          host: str = "", field_path: str = "") -> dict[str, Any]:
    """A core/v1 Event as the scheduler or kubelet records it."""
    md = involved["metadata"]
    suffix = hashlib.sha256(f"{md.get('uid')}|{reason}|{message}|{time.monotonic()}".encode()).hexdigest()[:16]
    ref = {"kind": involved.get("kind", "Pod"), "namespace": md.get("namespace", ""), "name": md["name"],
           "uid": md.get("uid", ""), "apiVersion": involved.get("apiVersion", "v1"),
           "resourceVersion": md.get("resourceVersion", "")}
    if field_path:
        ref["fieldPath"] = field_path
    ts = now_iso()
    source = {"component": component, **({"host": host} if host else {})}
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{md['name']}.{suffix}", "namespace": md.get("namespace", "default")},
        "involvedObject": ref, "reason": reason, "message": message, "type": etype,
        "source": source, "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
        "reportingComponent": component if component != "kubelet" else "kubelet",
        "reportingInstance": host if component == "kubelet" else "",
    }


def image_pull_events(pod: dict[str, Any], container: str, image: str, host: str) -> list[dict[str, Any]]:
    path = f"spec.containers{{{container}}}"
    failed = (f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to pull and unpack '
              f'image "{image}": failed to resolve reference "{image}": {image}: not found')
    return [
        event(pod, "Pulling", f'Pulling image "{image}"', "Normal", "kubelet", host, path),
        event(pod, "Failed", failed, "Warning", "kubelet", host, path),
        event(pod, "Failed", "Error: ErrImagePull", "Warning", "kubelet", host, path),
        event(pod, "BackOff", f'Back-off pulling image "{image}"', "Normal", "kubelet", host, path),
        event(pod, "Failed", "Error: ImagePullBackOff", "Warning", "kubelet", host, path),
    ]
