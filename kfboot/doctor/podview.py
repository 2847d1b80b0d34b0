"""Pure readings of Pod objects shared by the rules and the reader (no I/O)."""

from __future__ import annotations

from typing import Any

GPU = "nvidia.com/gpu"
ISTIO_PROXY = "istio-proxy"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
BAD_WAITING = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
               "CreateContainerError", "InvalidImageName", "RunContainerError")


def name(obj: dict[str, Any]) -> str:
    md = obj.get("metadata") or {}
    return f"{md['namespace']}/{md['name']}" if md.get("namespace") else str(md.get("name", ""))


def statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def gpu_request(pod: dict[str, Any]) -> int:
    """GPUs (whole or MIG/shared slices: any `nvidia.com/…` extended resource) the pod asks for."""
    total = 0
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        for section in ("limits", "requests"):
            for key, value in (res.get(section) or {}).items():
                if key.startswith("nvidia.com/"):
                    try:
                        total = max(total, int(str(value)))
                    except ValueError:
                        total = max(total, 1)
    return total


def waiting(pod: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(container, reason, message) of containers stuck waiting for a reason that will not fix itself."""
    out = []
    for cs in statuses(pod):
        w = (cs.get("state") or {}).get("waiting") or {}
        if w.get("reason") in BAD_WAITING:
            out.append((cs.get("name", ""), w["reason"], w.get("message", "")))
    return out


def last_terminated(cs: dict[str, Any]) -> dict[str, Any]:
    state = cs.get("state") or {}
    return state.get("terminated") or (cs.get("lastState") or {}).get("terminated") or {}


def oom_killed(pod: dict[str, Any]) -> list[str]:
    return [cs.get("name", "") for cs in statuses(pod) if last_terminated(cs).get("reason") == "OOMKilled"]


def failing_containers(pod: dict[str, Any]) -> list[str]:
    """Containers worth reading the log of: crash-looping, or terminated with an error."""
    out = []
    for cs in statuses(pod):
        w = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
        term = last_terminated(cs)
        if w == "CrashLoopBackOff" or (term and term.get("exitCode", 0) != 0):
            out.append(cs.get("name", ""))
    return out


def last_message(pod: dict[str, Any], container: str) -> str:
    """The container's own last words: its termination message, else its waiting message."""
    for cs in statuses(pod):
        if cs.get("name") != container:
            continue
        term = last_terminated(cs)
        if term.get("message"):
            return str(term["message"]).strip()
        w = (cs.get("state") or {}).get("waiting") or {}
        if w.get("message"):
            return str(w["message"]).strip()
        if term:
            return f"exit code {term.get('exitCode')} ({term.get('reason', '')})"
    return ""


def unschedulable(pod: dict[str, Any]) -> str:
    """The scheduler's message for a Pending pod ("0/3 nodes are available: …"), or ''."""
    status = pod.get("status") or {}
    if status.get("phase") not in (None, "Pending"):
        return ""
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return str(c.get("message") or c.get("reason") or "Unschedulable")
    return ""


def sidecar_keeps_running(pod: dict[str, Any]) -> bool:
    """A Job pod whose own containers finished while the Istio sidecar still runs (it never completes)."""
    if JOB_NAME_LABEL not in ((pod.get("metadata") or {}).get("labels") or {}) and not any(
            o.get("kind") == "Job" for o in (pod.get("metadata") or {}).get("ownerReferences") or []):
        return False
    if (pod.get("status") or {}).get("phase") != "Running":
        return False
    sidecar_running, others, others_done = False, 0, 0
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        state = cs.get("state") or {}
        if cs.get("name") == ISTIO_PROXY:
            sidecar_running = "running" in state
        else:
            others += 1
            others_done += 1 if "terminated" in state else 0
    return sidecar_running and others > 0 and others == others_done


def is_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") == "Succeeded":
        return True
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
