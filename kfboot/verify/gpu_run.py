"""`kfboot verify-gpu` on a cluster: find GPU nodes, run nvidia-smi and NCCL all_reduce, judge them.

Order: nvidia-smi on every GPU node at once; single-node all_reduce on every node with whole GPUs
(bounded concurrency); optionally one all_reduce across the nodes and, when that is low, node pairs
against the best node to name the slow one. Everything runs in a namespace of its own, deleted
afterwards unless `keep`. Every step has a deadline, and a pod that cannot run says why (Pending
for lack of GPUs, image pull errors, OOM), in words a user can act on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfboot.errors import ClusterError, UsageError, WaitTimeout
from kfboot.gpu.expected import expected_busbw
from kfboot.gpu.nccl import GIB, NcclRun, parse_nccl_log, parse_size
from kfboot.gpu.plan import PoolPlan
from kfboot.gpu.profiles import ProfileSet
from kfboot.gpu.report import GpuReport, check_smi_parts
from kfboot.gpu.smi_checks import Check, NodeSmi, split_sections
from kfboot.gpu.verdict import FAILED, NcclVerdict, flag_outliers, judge, skipped
from kfboot.k8s import readiness as rd
from kfboot.k8s.client import Kube
from kfboot.k8s.refs import ObjectRef
from kfboot.k8s.waits import Waiter, deadline_in
from kfboot.k8s.workloads import JOB_NAME_LABEL, run_job
from kfboot.sources.images import VERIFY_GPU_NCCL_IMAGE, VERIFY_GPU_SMI_IMAGE
from kfboot.verify import gpu_pods as pods
from kfboot.verify.gpu_nodes import GpuNode, discover

Progress = Callable[[str], None]
BENCH_SCRIPT = Path(__file__).resolve().parents[1] / "data" / "bench" / pods.BENCH_FILE
# A waiting reason that no amount of waiting fixes
_FATAL = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
          "CreateContainerError", "RunContainerError", "exited")


@dataclass
class LiveOptions:
    profile: str | None = None
    min_busbw: float | None = None
    nics: str | None = None
    nodes: list[str] | None = None
    multi_node: bool = False
    bisect: bool = False
    image: str | None = None
    smi_image: str | None = None
    max_bytes: str = "8G"
    parallel: int = 4
    keep: bool = False
    skip_nccl: bool = False
    timeout: float | None = None  # seconds per step (default: smi 300, NCCL 900)
    namespace: str = "kfboot-verify-gpu"
    pending_grace: float = 120.0  # how long a pod may stay unschedulable before we say why and stop
    rdma_resource: str | None = None
    pools: list[PoolPlan] = field(default_factory=list)  # kfboot.yaml's GPU pools: what MIG each node should show


@dataclass
class Outcome:
    """What one Job did: its logs, and if it did not complete, why."""

    succeeded: bool
    detail: str
    logs: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return "\n".join(self.logs[k] for k in sorted(self.logs))


class _Runner:
    def __init__(self, kube: Kube, profiles: ProfileSet, options: LiveOptions, progress: Progress) -> None:
        self.kube = kube
        self.profiles = profiles
        self.options = options
        self.progress = progress
        self.waiter = Waiter(kube, progress=progress, max_interval=1.0)
        self.ns = options.namespace

    # -- one Job, explained ------------------------------------------------------------------------
    def job_check(self, name: str, started: float) -> Callable[[dict[str, Any]], rd.Readiness]:
        def check(job: dict[str, Any]) -> rd.Readiness:
            state = rd.job_complete(job)
            if state.ready:
                return state
            problems = [p for pod in self.job_pods(name) if (p := rd.pod_problem(pod))]
            why = problems[0] if problems else ""
            if state.failed:
                return rd.Readiness(False, f"{state.detail}" + (f"; {why}" if why else ""), failed=True)
            if why and any(k in why for k in _FATAL):
                return rd.Readiness(False, why, failed=True)
            if why.startswith("unschedulable") and time.monotonic() - started > self.options.pending_grace:
                return rd.Readiness(False, why, failed=True)
            return rd.Readiness(False, why or state.detail)

        return check

    def job_pods(self, name: str) -> list[dict[str, Any]]:
        return self.kube.list("v1", "Pod", self.ns, label_selector=f"{JOB_NAME_LABEL}={name}")

    def run(self, job: dict[str, Any], seconds: float) -> Outcome:
        name = job["metadata"]["name"]
        started = time.monotonic()
        try:
            result = run_job(self.kube, self.waiter, job, deadline_in(seconds), keep=self.options.keep,
                             check=self.job_check(name, started))
        except WaitTimeout as exc:
            logs = self._logs(name)
            problem = next((p for pod in self.job_pods(name) if (p := rd.pod_problem(pod))), None)
            if not self.options.keep:
                self.kube.delete(ObjectRef.of(job), propagation="Background")
            return Outcome(False, exc.message, logs, problem, timed_out=True, seconds=time.monotonic() - started)
        problem = None
        if not result.succeeded:
            problem = result.detail.split(": ", 1)[-1]
        return Outcome(result.succeeded, result.detail, result.logs, problem, seconds=time.monotonic() - started)

    def _logs(self, name: str) -> dict[str, str]:
        logs = {}
        for pod in self.job_pods(name):
            try:
                logs[pod["metadata"]["name"]] = self.kube.pod_logs(self.ns, pod["metadata"]["name"])
            except ClusterError:
                continue
        return logs

    def explain(self, outcome: Outcome, node: GpuNode | None, image: str, seconds: float, wanted: str) -> str:
        """A sentence for a Job that did not complete."""
        why = outcome.problem or outcome.detail
        where = f" on {node.name}" if node else ""
        if "Insufficient nvidia.com/gpu" in why or ("Insufficient" in why and "nvidia.com/" in why):
            have = ", ".join(f"{v} {k}" for k, v in sorted(node.allocatable.items())) if node else "?"
            return (f"Pending{where}: the pod needs {wanted} but the node cannot fit it (allocatable {have}; other "
                    f"pods hold some of them, or the device plugin lost GPUs); scheduler: {why.removeprefix('unschedulable: ')}")
        if "unschedulable" in why:
            return f"Pending{where}: {why.removeprefix('unschedulable: ')}"
        if any(k in why for k in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName")):
            return (f"image {image} cannot be pulled{where} ({why}): check the name and the registry's reachability "
                    "and credentials, or pass --image with a mirror")
        if "OOMKilled" in why:
            return f"the container was killed for lack of memory{where} (OOMKilled): lower --max-bytes or free memory"
        if outcome.timed_out:
            return f"timed out after {seconds:.0f}s{where}: {why}"
        return f"the pod failed{where}: {why}"


def _first_run(text: str) -> NcclRun | None:
    runs = [r for r in parse_nccl_log(text) if r.rows or r.failures or r.ranks]
    return max(runs, key=lambda r: len(r.rows)) if runs else None


def run_verify_gpu(kube: Kube, profiles: ProfileSet, options: LiveOptions,
                   progress: Progress = lambda _m: None) -> GpuReport:
    """The whole live flow (module docstring); the cluster is left as it was unless `keep`."""
    try:
        max_bytes = parse_size(options.max_bytes)
    except ValueError as exc:
        raise UsageError(f"--max-bytes: {exc}") from None
    if max_bytes < GIB:
        raise UsageError(f"--max-bytes {options.max_bytes} is below 1G",
                         hint="bus bandwidth is judged at message sizes ≥ 1 GiB; use 8G (the default)")
    forced = profiles.get(options.profile) if options.profile else None
    gpu_nodes, problems = discover(kube.list("v1", "Node"), profiles, only=options.nodes, forced=forced)
    if problems:
        raise UsageError("; ".join(problems), hint="list GPU nodes with `kubectl get nodes -L nvidia.com/gpu.product`")
    if not gpu_nodes:
        raise ClusterError("no GPU nodes: no node advertises nvidia.com/gpu or nvidia.com/mig-* in its allocatable",
                           hint="install the GPU Operator (`kfboot install`) and wait for its device plugin")
    r = _Runner(kube, profiles, options, progress)
    report = GpuReport()
    _wait_namespace_gone_if_terminating(r)  # a previous run's namespace may still be terminating
    kube.apply(pods.namespace(r.ns, rdma=bool(options.rdma_resource)))
    progress(f"{len(gpu_nodes)} GPU nodes: {', '.join(n.name for n in gpu_nodes)}; namespace {r.ns}")
    try:
        report.smi = _smi_all(r, gpu_nodes)
        if not options.skip_nccl:
            singles = _nccl_single_all(r, gpu_nodes, report)
            report.nccl.extend(singles)
            report.outliers = flag_outliers(singles)
            if options.multi_node:
                _multi_node(r, gpu_nodes, singles, report)
    finally:
        if options.keep:
            report.notes.append(f"kept namespace {r.ns}: `kubectl delete namespace {r.ns}` when done")
        else:
            kube.delete(ObjectRef("v1", "Namespace", r.ns), propagation="Background")
    return report


def _wait_namespace_gone_if_terminating(r: _Runner) -> None:
    def gone() -> rd.Readiness:
        ns = r.kube.get("v1", "Namespace", r.ns)
        terminating = ns is not None and (ns.get("metadata") or {}).get("deletionTimestamp")
        return rd.Readiness(not terminating, "terminating (a previous run is being cleaned up)")

    if not gone().ready:
        r.waiter.until(f"namespace {r.ns} of a previous run to be deleted", gone, deadline_in(180))


# -- nvidia-smi ---------------------------------------------------------------------------------------
def _smi_all(r: _Runner, nodes: list[GpuNode]) -> list[NodeSmi]:
    with ThreadPoolExecutor(max_workers=min(len(nodes), 16)) as pool:
        return list(pool.map(lambda n: _smi(r, n), nodes))


def _smi(r: _Runner, node: GpuNode) -> NodeSmi:
    seconds = r.options.timeout or 300
    image = r.options.smi_image or VERIFY_GPU_SMI_IMAGE
    r.progress(f"nvidia-smi on {node.name}")
    outcome = r.run(pods.smi_job(r.ns, node.name, node.allocatable, image, int(seconds)), seconds)
    parts = split_sections(outcome.text)
    if not parts:
        wanted = ", ".join(f"{v} {k}" for k, v in sorted(node.allocatable.items()))
        result = NodeSmi(node.name)
        reason = r.explain(outcome, node, image, seconds, wanted) if not outcome.succeeded else \
            f"the nvidia-smi pod printed nothing kfboot understands: {outcome.text.strip()[:200]!r}"
        result.checks.append(Check("pod", False, reason))
        return result
    pool = next((p for p in r.options.pools if p.matches_node(node.name, node.labels)), None)
    geometries: list[dict[str, int] | None] | None = None
    if pool is not None and pool.profile.mig_capable:  # the pool says what MIG layout this node must have
        geometries = list(pool.geometries) if pool.uses_mig else [None] * node.physical_gpus
    profile = node.profile or (pool.profile if pool else None)
    return check_smi_parts(node.name, parts, r.profiles, profile, labels=node.labels, mig_geometries=geometries)


# -- single-node NCCL -----------------------------------------------------------------------------------
def _nccl_single_all(r: _Runner, nodes: list[GpuNode], report: GpuReport) -> list[NcclVerdict]:
    runnable, out = [], []
    for node in nodes:
        if node.shared_reason:
            out.append(skipped(node.name, node.shared_reason))
        elif node.gpus < 2:
            out.append(skipped(node.name, "one GPU: an all_reduce moves no data between GPUs (busbw is 0); "
                                          "it is covered by nvidia-smi and --multi-node"))
        elif node.unschedulable:
            out.append(skipped(node.name, "the node is cordoned (spec.unschedulable)"))
        else:
            runnable.append(node)
    smi = {s.node: s for s in report.smi}
    with ThreadPoolExecutor(max_workers=max(1, min(r.options.parallel, len(runnable) or 1))) as pool:
        out += list(pool.map(lambda n: _nccl_single(r, n, smi.get(n.name)), runnable))
    return out


def _nccl_single(r: _Runner, node: GpuNode, smi: NodeSmi | None) -> NcclVerdict:
    seconds = r.options.timeout or 900
    image = r.options.image or VERIFY_GPU_NCCL_IMAGE
    r.progress(f"NCCL all_reduce on {node.name} ({node.gpus} GPUs)")
    job = pods.nccl_job(r.ns, node.name, node.gpus, image, r.options.max_bytes, int(seconds), node.memory_bytes)
    outcome = r.run(job, seconds)
    exp = expected_busbw(node.profile, nodes=1, gpus_per_node=node.gpus, override=r.options.min_busbw,
                         nics=r.options.nics)
    verdict = _judge_outcome(r, outcome, exp, node.name, [node.name], node, image, seconds,
                             f"{node.gpus} nvidia.com/gpu", node.profile.interconnect if node.profile else None)
    nvlink = next((c for c in (smi.checks if smi else []) if c.name == "nvlink" and not c.passed), None)
    if verdict.status == FAILED and nvlink is not None:
        verdict.reason += f"; nvidia-smi topo -m: {nvlink.reason}"
    return verdict


def _judge_outcome(r: _Runner, outcome: Outcome, exp: Any, name: str, nodes: list[str], node: GpuNode | None,
                   image: str, seconds: float, wanted: str, interconnect: str | None, kind: str = "") -> NcclVerdict:
    run = _first_run(outcome.text)
    if run is None or not (run.rows or run.failures):
        verdict = NcclVerdict(name=name, nodes=nodes, status=FAILED, expected=exp, kind=kind,
                              reason=r.explain(outcome, node, image, seconds, wanted) if not outcome.succeeded
                              else "the pod printed no all_reduce results: " + (outcome.text.strip()[-200:] or "empty log"))
    else:
        verdict = judge(run, exp, name=name, nodes=nodes, interconnect=interconnect)
        verdict.kind = kind
        if outcome.timed_out and verdict.status == FAILED:
            verdict.reason += f" (timed out after {seconds:.0f}s)"
        elif not outcome.succeeded and outcome.problem and verdict.passed:
            verdict.status, verdict.reason = FAILED, r.explain(outcome, node, image, seconds, wanted)
    verdict.seconds = outcome.seconds
    verdict.log = outcome.text[-20000:]
    return verdict


# -- multi-node ---------------------------------------------------------------------------------------------
def _multi_node(r: _Runner, nodes: list[GpuNode], singles: list[NcclVerdict], report: GpuReport) -> None:
    whole = [n for n in nodes if not n.shared_reason and n.gpus >= 1 and not n.unschedulable]
    if len(whole) < 2:
        report.notes.append("--multi-node needs at least two nodes with whole GPUs")
        return
    verdict = _multi(r, whole, "nccl-all", kind="multi-node")
    report.nccl.append(verdict)
    if verdict.status != FAILED or not r.options.bisect:
        return
    if len(whole) < 3:
        report.notes.append("--bisect needs three or more nodes to tell which node of a pair is slow")
        return
    peaks = {v.name: v.peak_busbw or 0.0 for v in singles if v.peak_busbw is not None}
    reference = max(whole, key=lambda n: peaks.get(n.name, 0.0))
    pairs = [_multi(r, [reference, n], f"nccl-pair-{i}", kind="pair") for i, n in enumerate(whole) if n is not reference]
    report.nccl.extend(pairs)
    slow = [p.nodes[1] for p in pairs if p.status == FAILED]
    if slow and len(slow) < len(pairs):
        report.notes.append(f"bisect: pairs with {reference.name} are slow only for {', '.join(slow)}: "
                            "look at those nodes' NICs, cables and switch ports")
    elif slow:
        report.notes.append(f"bisect: every pair with {reference.name} is slow: suspect {reference.name} or the fabric")


def _multi(r: _Runner, nodes: list[GpuNode], name: str, kind: str) -> NcclVerdict:
    seconds = r.options.timeout or 900
    image = r.options.image or VERIFY_GPU_NCCL_IMAGE
    gpus = min(n.gpus for n in nodes)
    names = [n.name for n in nodes]
    r.progress(f"NCCL all_reduce across {', '.join(names)} ({gpus} GPUs each, torchrun)")
    r.kube.apply(pods.bench_configmap(r.ns, BENCH_SCRIPT.read_text(encoding="utf-8")))
    memory = min((n.memory_bytes for n in nodes if n.memory_bytes), default=None)
    service, job = pods.multi_node_objects(r.ns, name, names, gpus, image, r.options.max_bytes, int(seconds),
                                           rdma_resource=r.options.rdma_resource, node_memory_bytes=memory)
    r.kube.apply(service)
    outcome = r.run(job, seconds)
    profile = nodes[0].profile
    exp = expected_busbw(profile, nodes=len(nodes), gpus_per_node=gpus, override=r.options.min_busbw,
                         nics=r.options.nics)
    verdict = _judge_outcome(r, outcome, exp, "+".join(names), names, None, image, seconds,
                             f"{gpus} nvidia.com/gpu on each of {len(nodes)} nodes",
                             profile.interconnect if profile else None, kind=kind)
    verdict.nodes = names
    return verdict

