"""Short-lived workloads: run a Job to completion and bring back its pods' logs.

Verification (nvidia-smi on every GPU node, NCCL all_reduce, smoke tests of each component) is a
Job whose logs are the result; this is the one place that knows how to run one and read it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kfboot.errors import ClusterError
from kfboot.k8s import readiness as rd
from kfboot.k8s.client import Kube
from kfboot.k8s.refs import ObjectRef
from kfboot.k8s.waits import Waiter, WaitFailed

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


@dataclass
class JobResult:
    name: str
    namespace: str
    succeeded: bool
    detail: str
    logs: dict[str, str] = field(default_factory=dict)  # pod name → log text

    @property
    def text(self) -> str:
        """All pods' logs, in pod-name order (a single-pod Job's log as it is)."""
        return "\n".join(self.logs[name] for name in sorted(self.logs))


def run_job(
    kube: Kube,
    waiter: Waiter,
    job: dict[str, Any],
    deadline: float,
    *,
    replace: bool = True,
    keep: bool = False,
    check: Callable[[dict[str, Any]], rd.Readiness] = rd.job_complete,
) -> JobResult:
    """Apply `job`, wait until it completes or fails (bounded), and collect its pods' logs.

    A Job's pod template is immutable, so a previous run of the same name is deleted first
    (`replace`); with `keep=False` the Job is deleted afterwards (its pods with it). `check` may
    look beyond the Job (e.g. fail fast on a pod whose image cannot be pulled).
    """
    ref = ObjectRef.of(job)
    if ref.kind != "Job" or not ref.namespace:
        raise ClusterError(f"run_job needs a namespaced batch/v1 Job, got {ref}")
    if replace and kube.get_ref(ref) is not None:
        kube.delete(ref, propagation="Foreground")
        waiter.until(f"previous {ref} to be deleted",
                     lambda: rd.Readiness(kube.get_ref(ref) is None, "still terminating"), deadline)
    kube.apply(job)
    succeeded, detail = True, "completed"
    try:
        waiter.object_ready(ref, deadline, check)
    except WaitFailed as exc:
        succeeded, detail = False, exc.message
    pods = kube.list("v1", "Pod", ref.namespace, label_selector=f"{JOB_NAME_LABEL}={ref.name}")
    logs = {}
    for pod in pods:
        name = pod["metadata"]["name"]
        try:
            logs[name] = kube.pod_logs(ref.namespace, name)
        except ClusterError as exc:  # a pod that never started has no log: say so instead of failing
            logs[name] = f"<no log: {exc.message}>"
    if not keep:
        kube.delete(ref, propagation="Background")
    return JobResult(ref.name, ref.namespace, succeeded, detail, logs)
