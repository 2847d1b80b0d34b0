"""Workloads: Pending pods with the scheduler's reason, crash loops and image pulls with the container's
last message, OOMKills, and recent Warning events of kfboot's namespaces and of GPU pods."""

from __future__ import annotations

from typing import Any

from kfboot.doctor.facts import Facts
from kfboot.doctor.findings import Finding, fail, ok, warn
from kfboot.doctor.podview import gpu_request, last_message, name, oom_killed, unschedulable, waiting
from kfboot.doctor.rules._common import NAMESPACES, parse_time, plural, shorten
from kfboot.doctor.rules.signatures import INSUFFICIENT_GPU

GROUP = "workloads"
RECENT_SECONDS = 3600
MAX_EVENT_FINDINGS = 20
PLATFORM_NAMESPACES = set(NAMESPACES.values()) | {"kfboot-system", "oauth2-proxy", "knative-serving"}
# covered by their own findings: the pod's status already says it
COVERED_REASONS = {"FailedScheduling", "BackOff", "Failed", "FailedMount", "ProvisioningFailed"}


def pending(facts: Facts) -> list[Finding]:
    out = []
    for pod in facts.pods:
        why = unschedulable(pod)
        if not why or INSUFFICIENT_GPU.search(why):
            continue  # GPU shortage has its own signature finding with a fix
        md = pod["metadata"]
        out.append(fail("workload.pending", f"pod {name(pod)}", f"Pending, the scheduler says: {shorten(why)}",
                        f"`kubectl describe pod -n {md.get('namespace')} {md['name']}`: free or add the resource it "
                        "names, or relax its nodeSelector/tolerations/affinity", GROUP))
    return out


def _limit(pod: dict[str, Any], container: str) -> str:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            return str(((c.get("resources") or {}).get("limits") or {}).get("memory", "no limit"))
    return "unknown"


def broken_containers(facts: Facts) -> list[Finding]:
    out = []
    for pod in facts.pods:
        md = pod["metadata"]
        ns, pod_name = md.get("namespace", ""), md["name"]
        subject = f"pod {name(pod)}"
        for container, reason, message in waiting(pod):
            if reason == "CrashLoopBackOff":
                last = last_message(pod, container)
                log = facts.logs.get(f"{ns}/{pod_name}/{container}", "").strip().splitlines()
                said = shorten(log[-1]) if log else (shorten(last) if last else "no output")
                out.append(fail("workload.crashloop", subject, f"container {container} is crash-looping; it last "
                                f"said: {said}", f"`kubectl logs -n {ns} {pod_name} -c {container} --previous`",
                                GROUP))
            elif reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
                out.append(fail("workload.image-pull", subject, f"container {container} cannot pull its image "
                                f"({reason}): {shorten(message) or 'no message'}", "check the image name and tag, "
                                "registry reachability from the nodes, and imagePullSecrets (air-gapped: "
                                "`kfboot bundle` mirrors images)", GROUP))
            else:
                out.append(fail("workload.container", subject, f"container {container}: {reason}: "
                                f"{shorten(message) or 'no message'}",
                                f"`kubectl describe pod -n {ns} {pod_name}` (a missing ConfigMap/Secret key, a bad "
                                "command)", GROUP))
        for container in oom_killed(pod):
            out.append(fail("workload.oom-killed", subject, f"container {container} was OOMKilled (memory limit "
                            f"{_limit(pod, container)}): the kernel killed it for using more memory than allowed",
                            "raise its memory limit (and request), or make it use less (smaller batch, fewer "
                            "workers)", GROUP))
    if not out:
        out.append(ok("workload.containers", "pods", f"{plural(len(facts.pods), 'pod')}: none crash-looping, "
                      "failing to pull, or OOMKilled", GROUP))
    return out


def _event_time(event: dict[str, Any]) -> Any:
    return (parse_time(event.get("lastTimestamp")) or parse_time(event.get("eventTime"))
            or parse_time((event.get("metadata") or {}).get("creationTimestamp")))


def warning_events(facts: Facts) -> list[Finding]:
    gpu_pods = {(p["metadata"].get("namespace"), p["metadata"]["name"]) for p in facts.pods if gpu_request(p)}
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for event in facts.events:
        if event.get("type") != "Warning" or event.get("reason") in COVERED_REASONS:
            continue
        obj = event.get("involvedObject") or {}
        ns = obj.get("namespace") or (event.get("metadata") or {}).get("namespace", "")
        is_gpu_pod = obj.get("kind") == "Pod" and (ns, obj.get("name")) in gpu_pods
        if ns not in PLATFORM_NAMESPACES and not is_gpu_pod:
            continue
        when = _event_time(event)
        if when is not None and (facts.now - when).total_seconds() > RECENT_SECONDS:
            continue
        groups.setdefault((obj.get("kind", ""), ns, obj.get("name", ""), event.get("reason", "")), []).append(event)
    out = []
    for (kind, ns, obj_name, reason), events in sorted(groups.items())[:MAX_EVENT_FINDINGS]:
        count = sum(int(e.get("count") or 1) for e in events)
        latest = events[-1].get("message", "")
        out.append(warn("workload.events", f"{kind.lower()} {ns}/{obj_name}", f"{reason} ×{count} in the last hour: "
                        f"{shorten(latest)}", f"`kubectl get events -n {ns} --field-selector "
                        f"involvedObject.name={obj_name}`", GROUP))
    if len(groups) > MAX_EVENT_FINDINGS:
        out.append(warn("workload.events", "events", f"{len(groups) - MAX_EVENT_FINDINGS} more objects have recent "
                        "Warning events", "`kubectl get events -A --field-selector type=Warning`", GROUP))
    if not out:
        out.append(ok("workload.events", "events", "no recent Warning events in kfboot's namespaces or on GPU pods",
                      GROUP))
    return out
