"""The securityContext of every pod kfboot creates (verify-gpu's Jobs, verify's test workloads).

Pod Security "restricted": non-root (uid/gid 1000, as the ray, jupyter and CUDA images run), no
privilege escalation, all capabilities dropped, RuntimeDefault seccomp. The only ways beyond it are
listed in RESTRICTED_EXCEPTIONS, with why; a test sweeps every pod kfboot creates against that list.
"""

from __future__ import annotations

from typing import Any

# Every way a pod kfboot creates may go beyond Pod Security "restricted", and why.
RESTRICTED_EXCEPTIONS = {
    "capability IPC_LOCK": "opt-in RDMA (--rdma-resource) for multi-node NCCL: InfiniBand memory registration "
                           "pins memory; the test namespace is labelled privileged for it",
}


def pod_security(*, ipc_lock: bool = False, group: int = 1000) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod securityContext, container securityContext) per Pod Security "restricted"."""
    pod = {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": group, "seccompProfile": {"type": "RuntimeDefault"}}
    container: dict[str, Any] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    if ipc_lock:
        container["capabilities"]["add"] = ["IPC_LOCK"]  # RDMA memory registration (RESTRICTED_EXCEPTIONS)
    return pod, container


def restricted(spec: dict[str, Any], *, group: int = 1000) -> dict[str, Any]:
    """`spec` (a pod spec) with the restricted securityContext on the pod and each of its containers."""
    pod_sc, container_sc = pod_security(group=group)
    return {**spec, "securityContext": {**pod_sc, **(spec.get("securityContext") or {})},
            "containers": [{**c, "securityContext": {**container_sc, **(c.get("securityContext") or {})}}
                           for c in spec["containers"]]}
