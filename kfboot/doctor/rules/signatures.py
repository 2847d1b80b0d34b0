"""Known signatures: exact error strings of NVIDIA, PyTorch/NCCL, Linux and Kubernetes, each mapped to its
cause and fix. Searched in Pending pods' scheduler messages, containers' last messages and log tails,
Warning events and kfboot's recorded phase errors (sources: gpu.md §7, kubeflow.md "known signatures")."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kfboot.doctor.facts import Facts
from kfboot.doctor.findings import Finding, fail, ok
from kfboot.doctor.podview import ISTIO_PROXY, last_message, name, sidecar_keeps_running, statuses, unschedulable
from kfboot.doctor.rules._common import deployment, labels, quantity, shorten

GROUP = "known signatures"

# kube-scheduler: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: …"
INSUFFICIENT_GPU = re.compile(r"0/(\d+) nodes are available:.*?Insufficient (nvidia\.com/[\w.-]+)")
# PyTorch: "RuntimeError: NCCL error: unhandled cuda error (run with NCCL_DEBUG=INFO for details)", older:
# "NCCL error in: …ProcessGroupNCCL.cpp:…, unhandled cuda error, NCCL version …"; NCCL: ncclUnhandledCudaError
NCCL_CUDA = re.compile(r"NCCL error.{0,200}?unhandled cuda error|ncclUnhandledCudaError", re.IGNORECASE)
# PyTorch: "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate …"; CUDA: "CUDA error: out of memory"
CUDA_OOM = re.compile(r"CUDA out of memory|CUDA error: out of memory|cudaErrorMemoryAllocation")
# CUDA 802 = cudaErrorSystemNotReady: "Error 802: system not yet initialized" (NVSwitch without Fabric Manager)
CUDA_802 = re.compile(r"system not yet initiali[sz]ed|cudaErrorSystemNotReady|CUDA_ERROR_SYSTEM_NOT_READY|"
                      r"error[ (]*802\b", re.IGNORECASE)
TOO_MANY_FILES = re.compile(r"too many open files", re.IGNORECASE)
# kube-apiserver: 'Internal error occurred: failed calling webhook "webhook.cert-manager.io": failed to call
# webhook: Post "https://…": dial tcp …:443: connect: connection refused' (or: no endpoints available for service)
WEBHOOK_REFUSED = re.compile(r'failed calling webhook "([^"]+)".{0,400}?(connection refused|no endpoints available'
                             r"|context deadline exceeded|i/o timeout)", re.DOTALL)


@dataclass(frozen=True)
class Text:
    subject: str  # "pod ns/name", "event on Job ns/name", "phase kserve"
    text: str
    node: str = ""


def texts(facts: Facts) -> Iterator[Text]:
    """Every piece of text a known signature may hide in."""
    for pod in facts.pods:
        subject, node = f"pod {name(pod)}", (pod.get("spec") or {}).get("nodeName", "")
        why = unschedulable(pod)
        if why:
            yield Text(subject, why, node)
        for cs in statuses(pod):
            said = last_message(pod, cs.get("name", ""))
            if said:
                yield Text(subject, said, node)
        md = pod["metadata"]
        for cs in statuses(pod):
            log = facts.logs.get(f"{md.get('namespace', '')}/{md['name']}/{cs.get('name', '')}")
            if log:
                yield Text(subject, log, node)
    for event in facts.events:
        obj = event.get("involvedObject") or {}
        where = f"{obj.get('namespace')}/{obj.get('name')}" if obj.get("namespace") else obj.get("name", "")
        yield Text(f"{str(obj.get('kind', 'object')).lower()} {where}", event.get("message", ""))
    for phase, rec in facts.state.items():
        if rec.error:
            yield Text(f"phase {phase}", rec.error)


def _gpu_offer(facts: Facts) -> str:
    gpus = [(name(n), int(quantity(((n.get("status") or {}).get("allocatable") or {}).get("nvidia.com/gpu"))))
            for n in facts.nodes]
    with_gpus = [f"{n} {g}" for n, g in gpus if g]
    if not with_gpus:
        return "no node offers nvidia.com/gpu at all (see the GPU stack findings)"
    shown = ", ".join(with_gpus[:5]) + (f" (+{len(with_gpus) - 5} more)" if len(with_gpus) > 5 else "")
    return f"allocatable nvidia.com/gpu per node: {shown}"


def _kserve_state(facts: Facts) -> str:
    dep = deployment(facts, "kubeflow", "kserve-controller-manager")
    if dep is None:
        return "kserve-controller-manager does not exist"
    pods = [p for p in facts.pods if p["metadata"].get("namespace") == "kubeflow"
            and p["metadata"]["name"].startswith("kserve-controller-manager")]
    problems = []
    for pod in pods:
        for cs in statuses(pod):
            term = (cs.get("lastState") or {}).get("terminated") or {}
            if term.get("reason") == "OOMKilled":
                problems.append(f"{name(pod)} was OOMKilled")
        if (pod.get("status") or {}).get("phase") == "Pending":
            problems.append(f"{name(pod)} is Pending: {shorten(unschedulable(pod), 120)}")
    return "; ".join(problems) or "its pods look healthy now (it may have restarted)"


Judge = Callable[[Facts, Text, "re.Match[str]"], Finding]


def _insufficient_gpu(facts: Facts, t: Text, m: re.Match[str]) -> Finding:
    return fail("signature.insufficient-gpu", t.subject, f"\"0/{m.group(1)} nodes are available: … Insufficient "
                f"{m.group(2)}\": no node has a free {m.group(2)} for it; {_gpu_offer(facts)}",
                "free GPUs held by finished or idle pods (`kubectl get pods -A -o wide | grep -v Completed`), lower "
                "the request, share GPUs (a time-slicing or MIG pool in kfboot.yaml), or add GPU nodes", GROUP)


def _nccl(facts: Facts, t: Text, m: re.Match[str]) -> Finding:
    return fail("signature.nccl-cuda", t.subject, f"\"{shorten(m.group(0), 120)}\": a CUDA call inside NCCL failed",
                "rerun with NCCL_DEBUG=INFO to see the call; common causes on Kubernetes: /dev/shm is 64 MiB (mount "
                "an emptyDir with medium: Memory at /dev/shm), two ranks on one GPU through time-slicing "
                "(\"Duplicate GPU detected\"), ranks on MIG slices (NCCL cannot span MIG instances)", GROUP)


def _oom(facts: Facts, t: Text, m: re.Match[str]) -> Finding:
    return fail("signature.cuda-oom", t.subject, f"\"{m.group(0)}\": the model, batch or activations do not fit in "
                "the GPU memory the pod got", "reduce the batch size or sequence length, use gradient checkpointing "
                "or more GPUs (FSDP/ZeRO); a MIG slice or a time-sliced share has less memory than a whole GPU "
                "(time-slicing does not isolate memory: other pods on the GPU use it too)", GROUP)


def _e802(facts: Facts, t: Text, m: re.Match[str]) -> Finding:
    where = f" on node {t.node}" if t.node else ""
    return fail("signature.cuda-802", t.subject, f"CUDA error 802 (\"{m.group(0)}\"){where}: the NVSwitch fabric is "
                "not initialised because Fabric Manager is not running", "on the node: `systemctl enable --now "
                "nvidia-fabricmanager` (its version must match the driver's); check with `nvidia-smi -q | grep -A2 "
                "Fabric` (State: Completed)", GROUP)


def _files(facts: Facts, t: Text, m: re.Match[str]) -> Finding:
    return fail("signature.too-many-open-files", t.subject, "\"too many open files\": the node's inotify limits are "
                "exhausted (Kubeflow's controllers watch many files)", "raise them on the node (kind: on the host): "
                "`sudo sysctl fs.inotify.max_user_instances=2280 fs.inotify.max_user_watches=1255360`, persist in "
                "/etc/sysctl.d, then restart the pod", GROUP)


def _webhook(facts: Facts, t: Text, m: re.Match[str]) -> Finding:
    hook = m.group(1)
    if "kserve" in hook:
        return fail("signature.kserve-webhook", t.subject, f"the KServe webhook \"{hook}\" refused the call "
                    f"({m.group(2)}): its controller is not serving; {_kserve_state(facts)}",
                    "give kserve-controller-manager the resources it needs (it is OOMKilled or unschedulable when "
                    "under-resourced): `kubectl describe pod -n kubeflow -l control-plane=kserve-controller-manager`, "
                    "raise its memory limit or add capacity, then retry", GROUP)
    fix = ("wait for the webhook's pods to be Ready and its Service to have endpoints, then retry "
           "(`kfboot install` waits for that itself)")
    if "cert-manager" in hook:
        fix = ("`kubectl -n cert-manager rollout status deploy/cert-manager-webhook`, then retry; `kfboot install` "
               "waits for the webhook's endpoints before applying Certificates")
    return fail("signature.webhook-refused", t.subject, f"failed calling webhook \"{hook}\" ({m.group(2)}): the "
                "webhook was not serving yet, so the write was refused", fix, GROUP)


SIGNATURES: tuple[tuple[re.Pattern[str], Judge], ...] = (
    (INSUFFICIENT_GPU, _insufficient_gpu), (NCCL_CUDA, _nccl), (CUDA_OOM, _oom), (CUDA_802, _e802),
    (TOO_MANY_FILES, _files), (WEBHOOK_REFUSED, _webhook),
)


def signatures(facts: Facts) -> list[Finding]:
    found: dict[tuple[str, str], Finding] = {}
    for t in texts(facts):
        for pattern, judge in SIGNATURES:
            match = pattern.search(t.text)
            if match:
                finding = judge(facts, t, match)
                found.setdefault((finding.id, finding.subject), finding)
    out = list(found.values()) + sidecar_jobs(facts)
    if not out:
        out.append(ok("signature.none", "cluster", "no known error signature in pods, logs, events or kfboot's "
                      "state", GROUP))
    return out


def sidecar_jobs(facts: Facts) -> list[Finding]:
    out = []
    for pod in facts.pods:
        if sidecar_keeps_running(pod):
            job = labels(pod).get("batch.kubernetes.io/job-name") or name(pod)
            out.append(fail("signature.istio-sidecar-job", f"pod {name(pod)}", f"the training/Job containers finished "
                            f"but the {ISTIO_PROXY} sidecar keeps running, so Job {job} never completes",
                            "add the pod template annotation `sidecar.istio.io/inject: \"false\"` (or run the "
                            "sidecar as a native sidecar: Istio `ENABLE_NATIVE_SIDECARS=true`)", GROUP))
    return out


