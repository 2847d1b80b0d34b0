"""The objects `kfboot verify-gpu` creates, as plain dicts (pure: no cluster here).

Every pod: pinned to its node by the scheduler (a nodeSelector, not nodeName, so a node that lacks
GPUs shows up as `Insufficient nvidia.com/gpu` instead of a kubelet rejection), tolerates the
usual `nvidia.com/gpu` taint, has no Istio sidecar (a sidecar keeps Job pods alive), and runs
with the Pod Security "restricted" securityContext: non-root, no privilege escalation, all
capabilities dropped, RuntimeDefault seccomp. GPUs reach the container through the device plugin
and /dev/shm is an in-memory emptyDir, neither of which needs an exception. The one exception is
opt-in RDMA for multi-node tests (`rdma_resource`): NCCL pins memory for InfiniBand, which needs
the IPC_LOCK capability, so that namespace is labelled "privileged" instead.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from kfboot.gpu.smi_checks import SMI_SCRIPT
from kfboot.verify.pod_security import RESTRICTED_EXCEPTIONS, pod_security

__all__ = ["RESTRICTED_EXCEPTIONS", "pod_security"]  # re-exported: verify-gpu's pods are restricted too

APP_LABEL = "app.kubernetes.io/name"
APP = "kfboot-verify-gpu"
CHECK_LABEL = "kfboot.io/check"
NODE_LABEL = "kfboot.io/node"
RUN_LABEL = "kfboot.io/run"
MASTER_PORT = 29500
BENCH_CONFIGMAP = "kfboot-allreduce-bench"
BENCH_FILE = "allreduce_bench.py"
NO_SIDECAR = {"sidecar.istio.io/inject": "false"}
GPU_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def namespace(name: str, *, rdma: bool = False) -> dict[str, Any]:
    level = "privileged" if rdma else "restricted"  # RDMA: IPC_LOCK is beyond "restricted"
    return {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {
            APP_LABEL: APP, "app.kubernetes.io/managed-by": "kfboot",
            "pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/warn": level,
            "pod-security.kubernetes.io/audit": level, "istio-injection": "disabled",
        }},
    }


def object_name(prefix: str, *parts: str) -> str:
    """A DNS-1123 label ≤ 52 characters (Job pod names add a suffix), readable and unique per input."""
    raw = "-".join(parts)
    slug = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    digest = hashlib.sha256(raw.encode()).hexdigest()[:6]
    return f"{prefix}-{slug[: 52 - len(prefix) - 8].rstrip('-')}-{digest}"


def _job(name: str, ns: str, check: str, node_label: str, pod_spec: dict[str, Any], deadline_s: int,
         extra_labels: dict[str, str] | None = None, job_spec: dict[str, Any] | None = None) -> dict[str, Any]:
    labels = {APP_LABEL: APP, CHECK_LABEL: check, NODE_LABEL: node_label[:63], **NO_SIDECAR, **(extra_labels or {})}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": ns, "labels": {APP_LABEL: APP, CHECK_LABEL: check}},
        "spec": {
            "backoffLimit": 0, "activeDeadlineSeconds": max(int(deadline_s), 1), **(job_spec or {}),
            "template": {"metadata": {"labels": labels, "annotations": dict(NO_SIDECAR)}, "spec": pod_spec},
        },
    }


def _pod_spec(node: str | None, container: dict[str, Any], *, volumes: list[dict[str, Any]] | None = None,
              ipc_lock: bool = False) -> dict[str, Any]:
    pod_sc, container_sc = pod_security(ipc_lock=ipc_lock)
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "tolerations": list(GPU_TOLERATIONS),
        "securityContext": pod_sc,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 5,
        "containers": [{**container, "securityContext": container_sc}],
    }
    if node is not None:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    if volumes:
        spec["volumes"] = volumes
    return spec


def smi_job(ns: str, node: str, gpu_resources: dict[str, int], image: str, deadline_s: int) -> dict[str, Any]:
    """One pod on `node` holding all of its GPU resources, printing query, -L, topo -m and -q."""
    container = {
        "name": "nvidia-smi", "image": image, "command": ["sh", "-c", SMI_SCRIPT],
        "resources": {"limits": {k: str(v) for k, v in sorted(gpu_resources.items())}},
        "env": [{"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"}],
    }
    return _job(object_name("smi", node), ns, "nvidia-smi", node, _pod_spec(node, container), deadline_s)


def shm_limit(node_memory_bytes: int | None, wanted: int = 8 << 30) -> str:
    """/dev/shm size: `wanted`, capped at half the node's memory (it is RAM the pod can fill)."""
    size = wanted if not node_memory_bytes else min(wanted, node_memory_bytes // 2)
    return f"{max(size >> 20, 64)}Mi"


def _shm_volume(size: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return ({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": size}},
            {"name": "dshm", "mountPath": "/dev/shm"})


NCCL_ENV = [
    {"name": "NCCL_DEBUG", "value": "INFO"},  # the transport lines kfboot reads ("via P2P/IPC", "via SHM", ...)
    {"name": "HOME", "value": "/tmp"},
    {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
]


def nccl_command(gpus: int, max_bytes: str) -> str:
    """all_reduce_perf over all the pod's GPUs; NVIDIA's PyTorch image ships it as all_reduce_perf_mpi."""
    return (
        'B="$(command -v all_reduce_perf || command -v all_reduce_perf_mpi)" || '
        '{ echo "all_reduce_perf not found in the image (use an image with nccl-tests)"; exit 127; }; '
        f'exec "$B" -b 8 -e {max_bytes} -f 2 -g {gpus}'
    )


def nccl_job(ns: str, node: str, gpus: int, image: str, max_bytes: str, deadline_s: int,
             node_memory_bytes: int | None = None) -> dict[str, Any]:
    """Single-node all_reduce: one pod holding all of the node's GPUs (ranks in different pods would
    not use NVLink), with an in-memory /dev/shm large enough for NCCL."""
    volume, mount = _shm_volume(shm_limit(node_memory_bytes))
    container = {
        "name": "all-reduce", "image": image, "command": ["sh", "-c", nccl_command(gpus, max_bytes)],
        "env": list(NCCL_ENV), "volumeMounts": [mount],
        "resources": {"limits": {"nvidia.com/gpu": str(gpus)}, "requests": {"cpu": "1"}},
    }
    return _job(object_name("nccl", node), ns, "nccl", node, _pod_spec(node, container, volumes=[volume]), deadline_s)


def bench_configmap(ns: str, script: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": BENCH_CONFIGMAP, "namespace": ns, "labels": {APP_LABEL: APP}},
            "data": {BENCH_FILE: script}}


def multi_node_objects(ns: str, name: str, nodes: list[str], gpus_per_node: int, image: str, max_bytes: str,
                       deadline_s: int, *, rdma_resource: str | None = None,
                       node_memory_bytes: int | None = None) -> list[dict[str, Any]]:
    """A headless Service and an Indexed Job, one pod per node, running kfboot's torch.distributed
    all_reduce benchmark with torchrun (no MPI operator, no SSH). Pod i is `<name>-i.<name>`."""
    volume, mount = _shm_volume(shm_limit(node_memory_bytes))
    bench = {"name": "bench", "configMap": {"name": BENCH_CONFIGMAP}}
    command = (
        f"exec torchrun --nnodes={len(nodes)} --nproc-per-node={gpus_per_node} "
        f"--node-rank=$JOB_COMPLETION_INDEX --master-addr={name}-0.{name} --master-port={MASTER_PORT} "
        f"/opt/kfboot/{BENCH_FILE} --max-bytes {max_bytes}"
    )
    limits = {"nvidia.com/gpu": str(gpus_per_node)}
    if rdma_resource:
        limits[rdma_resource] = "1"
    container = {
        "name": "all-reduce", "image": image, "command": ["sh", "-c", command], "env": list(NCCL_ENV),
        "ports": [{"containerPort": MASTER_PORT, "name": "rendezvous"}],
        "volumeMounts": [mount, {"name": "bench", "mountPath": "/opt/kfboot", "readOnly": True}],
        "resources": {"limits": limits, "requests": {"cpu": "1"}},
    }
    spec = _pod_spec(None, container, volumes=[volume, bench], ipc_lock=bool(rdma_resource))
    spec["subdomain"] = name
    spec["affinity"] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": list(nodes)}]}]}},
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {RUN_LABEL: name}}, "topologyKey": "kubernetes.io/hostname"}]},
    }
    job = _job(name, ns, "nccl-multi-node", "+".join(nodes), spec, deadline_s, extra_labels={RUN_LABEL: name},
               job_spec={"completionMode": "Indexed", "completions": len(nodes), "parallelism": len(nodes)})
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": {APP_LABEL: APP}},
        "spec": {"clusterIP": "None", "selector": {RUN_LABEL: name}, "publishNotReadyAddresses": True,
                 "ports": [{"name": "rendezvous", "port": MASTER_PORT, "targetPort": MASTER_PORT}]},
    }
    return [service, job]
