"""What a failed check shows: the object's conditions, its events, its pods' state and last log lines.

Collected automatically when a check fails, so the user sees why without running kubectl; every
read is best-effort (a failure to collect never hides the failure itself).
"""

from __future__ import annotations

from typing import Any

from kfboot.errors import ClusterError
from kfboot.k8s import readiness as rd
from kfboot.k8s.client import Kube
from kfboot.k8s.refs import ObjectRef

LOG_LINES = 10
MAX_PODS = 3


def conditions_text(obj: dict[str, Any] | None) -> str:
    """`Ready=False (RevisionMissing: …)`, one per condition; '' when there are none."""
    out = []
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        why = ": ".join(x for x in (cond.get("reason"), cond.get("message")) if x)
        out.append(f"{cond.get('type')}={cond.get('status')}" + (f" ({why})" if why else ""))
    return ", ".join(out)


def events_for(kube: Kube, ref: ObjectRef, limit: int = 5) -> list[str]:
    if not ref.namespace:
        return []
    try:
        events = kube.list("v1", "Event", ref.namespace, field_selector=f"involvedObject.name={ref.name}")
    except ClusterError:
        return []
    events = [e for e in events if (e.get("involvedObject") or {}).get("kind", ref.kind) == ref.kind]
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return [f"event {e.get('type', '')} {e.get('reason', '')}: {e.get('message', '')}".strip()
            for e in events[-limit:]]


def pods_evidence(kube: Kube, namespace: str, selector: str) -> list[str]:
    """Each matching pod's phase and problem, plus the last log lines of its first container."""
    try:
        pods = kube.list("v1", "Pod", namespace, label_selector=selector)
    except ClusterError as exc:
        return [f"pods {selector}: cannot list ({exc.message})"]
    if not pods:
        return [f"no pods in {namespace} match {selector}"]
    out = []
    for pod in pods[:MAX_PODS]:
        name = pod["metadata"]["name"]
        phase = (pod.get("status") or {}).get("phase", "Pending")
        problem = rd.pod_problem(pod)
        out.append(f"pod {namespace}/{name}: {phase}" + (f", {problem}" if problem else ""))
        out.extend(f"  {line}" for line in last_log_lines(kube, namespace, name))
    return out


def last_log_lines(kube: Kube, namespace: str, pod: str, container: str | None = None,
                   lines: int = LOG_LINES) -> list[str]:
    try:
        text = kube.pod_logs(namespace, pod, container=container, tail_lines=lines)
    except ClusterError:
        return []
    return [ln for ln in (text or "").splitlines() if ln.strip()][-lines:]


def object_evidence(kube: Kube, ref: ObjectRef, obj: dict[str, Any] | None = None) -> list[str]:
    """Conditions and events of one object."""
    if obj is None:
        try:
            obj = kube.get_ref(ref)
        except ClusterError:
            obj = None
    out = []
    conds = conditions_text(obj)
    out.append(f"{ref}: " + (conds or ("no conditions yet" if obj is not None else "does not exist")))
    out.extend(events_for(kube, ref))
    return out
