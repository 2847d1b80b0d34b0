"""Is this object ready? Pure functions over an object's status, each explaining what is missing.

Mirrors what `kubectl rollout status` / `kubectl wait` check, so "ready" means the same thing here
as it does to a platform engineer reading kubectl output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str
    failed: bool = False  # terminal: waiting longer cannot help (e.g. a Job that failed)


READY = Readiness(True, "ready")


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("type", ""): c for c in (obj.get("status") or {}).get("conditions") or []}


def _observed_current(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    return generation is None or (observed is not None and observed >= generation)


def condition_true(obj: dict[str, Any], cond_type: str = "Ready") -> Readiness:
    """A custom resource condition (e.g. cert-manager Certificate Ready) on the current generation."""
    cond = _conditions(obj).get(cond_type)
    if cond is None:
        return Readiness(False, f"no {cond_type} condition yet")
    if "observedGeneration" in cond and not _observed_current({**obj, "status": cond}):
        return Readiness(False, f"{cond_type} reported for an older generation")
    if cond.get("status") == "True":
        return READY
    why = cond.get("message") or cond.get("reason") or "no reason given"
    return Readiness(False, f"{cond_type}={cond.get('status')}: {why}")


def crd_established(obj: dict[str, Any]) -> Readiness:
    cond = _conditions(obj)
    if cond.get("Established", {}).get("status") == "True":
        return READY
    names = cond.get("NamesAccepted", {})
    if names.get("status") == "False":
        return Readiness(False, f"names not accepted: {names.get('message', '')}", failed=True)
    return Readiness(False, "not Established yet")


def deployment_available(obj: dict[str, Any]) -> Readiness:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not _observed_current(obj):
        return Readiness(False, "controller has not observed the latest generation")
    want = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    progressing = _conditions(obj).get("Progressing", {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Readiness(False, f"rollout stuck: {progressing.get('message', 'progress deadline exceeded')}")
    if updated < want:
        return Readiness(False, f"{updated}/{want} replicas updated")
    if status.get("replicas", 0) > updated:
        return Readiness(False, f"{status.get('replicas', 0) - updated} old replicas pending termination")
    if available < want:
        return Readiness(False, f"{available}/{want} replicas available")
    return READY


def statefulset_ready(obj: dict[str, Any]) -> Readiness:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not _observed_current(obj):
        return Readiness(False, "controller has not observed the latest generation")
    want = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if ready < want:
        return Readiness(False, f"{ready}/{want} replicas ready")
    strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
    if strategy == "RollingUpdate" and status.get("updateRevision") and (
        status.get("currentRevision") != status.get("updateRevision")
    ):
        return Readiness(False, f"rolling update to {status.get('updateRevision')} in progress")
    return READY


def daemonset_ready(obj: dict[str, Any]) -> Readiness:
    status = obj.get("status") or {}
    if not _observed_current(obj):
        return Readiness(False, "controller has not observed the latest generation")
    desired = status.get("desiredNumberScheduled", 0)
    updated, ready = status.get("updatedNumberScheduled", 0), status.get("numberReady", 0)
    if updated < desired:
        return Readiness(False, f"{updated}/{desired} pods updated")
    if ready < desired:
        return Readiness(False, f"{ready}/{desired} pods ready")
    return READY


def job_complete(obj: dict[str, Any]) -> Readiness:
    cond = _conditions(obj)
    if cond.get("Complete", {}).get("status") == "True":
        return READY
    failed = cond.get("Failed", {})
    if failed.get("status") == "True":
        return Readiness(False, f"failed: {failed.get('message') or failed.get('reason', '')}", failed=True)
    status = obj.get("status") or {}
    return Readiness(False, f"{status.get('active', 0)} active, {status.get('succeeded', 0)} succeeded")


def pod_ready(obj: dict[str, Any]) -> Readiness:
    status = obj.get("status") or {}
    phase = status.get("phase", "Pending")
    if phase == "Succeeded":
        return READY
    if phase == "Failed":
        return Readiness(False, f"pod failed: {status.get('reason') or status.get('message', '')}", failed=True)
    if _conditions(obj).get("Ready", {}).get("status") == "True":
        return READY
    return Readiness(False, pod_problem(obj) or f"phase {phase}")


def endpoints_ready(slices: list[dict[str, Any]]) -> Readiness:
    """A Service can take traffic once one of its EndpointSlices has a ready endpoint."""
    total = 0
    for slc in slices:
        for ep in slc.get("endpoints") or []:
            total += 1
            if (ep.get("conditions") or {}).get("ready", True):
                return READY
    return Readiness(False, "no endpoints yet" if total == 0 else f"{total} endpoints, none ready")


def pod_problem(pod: dict[str, Any]) -> str:
    """The most telling reason a pod is not running (ImagePullBackOff, Unschedulable, ...), or ''."""
    status = pod.get("status") or {}
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return f"unschedulable: {c.get('message') or c.get('reason', '')}"
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        waiting = state.get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            msg = waiting.get("message", "")
            return f"container {cs.get('name')}: {waiting.get('reason')}" + (f" ({msg})" if msg else "")
        terminated = state.get("terminated")
        if terminated and terminated.get("exitCode", 0) != 0:
            return f"container {cs.get('name')} exited {terminated.get('exitCode')} ({terminated.get('reason', '')})"
    return ""


CHECKS = {
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd_established,
    ("apps", "Deployment"): deployment_available,
    ("apps", "StatefulSet"): statefulset_ready,
    ("apps", "DaemonSet"): daemonset_ready,
    ("batch", "Job"): job_complete,
    ("", "Pod"): pod_ready,
}


def readiness_of(obj: dict[str, Any]) -> Readiness:
    """Generic readiness: typed checks for known kinds; anything else is ready once it exists."""
    group = (obj.get("apiVersion") or "").rpartition("/")[0]
    check = CHECKS.get((group, obj.get("kind", "")))
    return check(obj) if check else READY


def has_readiness_check(api_version: str, kind: str) -> bool:
    return (api_version.rpartition("/")[0], kind) in CHECKS
