"""Checks of Kubeflow: a Profile, a Notebook, a Katib experiment, a Pipelines run, a TrainJob.

Shapes follow kubeflow/manifests' own CI (tests/*.sh, *_test.py): a grid Experiment of two trials
with `sidecar.istio.io/inject: "false"`, a KFP v2 run authenticated with the profile's
`default-editor` token and a foreign token refused, a TrainJob on the `torch-distributed` runtime.
"""

from __future__ import annotations

import secrets
from typing import Any

from kfboot.k8s import readiness as rd
from kfboot.k8s.refs import ObjectRef
from kfboot.verify import evidence, steps
from kfboot.verify.check import Check, CheckFailed, CheckSkipped, Probe
from kfboot.verify.http import HttpError
from kfboot.verify.kfp import FINAL_STATES, KfpClient, KfpError, one_step_pipeline, run_error
from kfboot.verify.pod_security import restricted

EDITOR = "default-editor"
NOTEBOOK = "kfboot-verify-notebook"
EXPERIMENT = "kfboot-verify-grid"
TRAINJOB = "kfboot-verify-trainjob"
FOREIGN = ("default", "default")  # a ServiceAccount of another namespace


def _needs_app(probe: Probe, app: str) -> None:
    if app not in probe.settings.kubeflow_apps:
        raise CheckSkipped(f"the Kubeflow app {app!r} is not in the platform's apps")


def profile_namespace(probe: Probe) -> str:
    ns = probe.shared.peek("profile")
    if not ns and probe.shared.peek("profile-skipped"):
        raise CheckSkipped(f"no test profile: {probe.shared.peek('profile-skipped')}")
    if not ns:
        raise CheckFailed("the test profile was not created", next_step="see the kubeflow/profile check")
    return str(ns)


def profile_object(name: str, owner: str) -> dict[str, Any]:
    return {"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": name},
            "spec": {"owner": {"kind": "User", "name": owner}}}


def notebook_object(ns: str, image: str) -> dict[str, Any]:
    return {"apiVersion": "kubeflow.org/v1", "kind": "Notebook", "metadata": {"name": NOTEBOOK, "namespace": ns},
            # gid 100 (users), as Kubeflow's notebook images expect
            "spec": {"template": {"spec": restricted({"containers": [{
                "name": NOTEBOOK, "image": image, "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}}]},
                group=100)}}}


def trainjob_object(ns: str) -> dict[str, Any]:
    """One node on the `torch-distributed` ClusterTrainingRuntime (its image is in the bundle already)."""
    return {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob",
            "metadata": {"name": TRAINJOB, "namespace": ns},
            "spec": {"runtimeRef": {"name": "torch-distributed"},
                     "trainer": {"numNodes": 1,
                                 "command": ["python3", "-c", "import torch; print('kfboot verify: torch', "
                                                              "torch.__version__)"],
                                 "resourcesPerNode": {"requests": {"cpu": "500m", "memory": "1Gi"}}}}}


def _not_terminating(obj: dict[str, Any]) -> rd.Readiness:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return rd.Readiness(False, "terminating (left by an earlier run)")
    return rd.READY


def profile(probe: Probe) -> str:
    try:
        _needs_app(probe, "profiles")
    except CheckSkipped as exc:
        probe.shared.put("profile-skipped", exc.message)
        raise
    try:
        owner, _ = steps.initial_login(probe, need_password=False)
    except (CheckFailed, CheckSkipped):
        from kfboot.verify.settings import FALLBACK_OWNER

        owner = FALLBACK_OWNER
    name = probe.settings.profile
    obj = profile_object(name, owner)
    probe.create(obj)
    next_step = "kubectl -n kubeflow logs deploy/profiles-deployment -c manager; " + steps.DOCTOR
    try:
        steps.wait_for(probe, ObjectRef("v1", "Namespace", name), _not_terminating, next_step=next_step)
        steps.wait_service_account(probe, name, EDITOR)
    except CheckFailed as exc:  # what the Profile itself says is the telling part
        exc.evidence[:0] = evidence.object_evidence(probe.kube, ObjectRef.of(obj))
        raise
    probe.shared.put("profile", name)
    probe.shared.put("profile-owner", owner)
    return f"Profile {name} (owner {owner}) yielded namespace {name} with ServiceAccount {EDITOR}"


def notebook_ready(obj: dict[str, Any]) -> rd.Readiness:
    status = obj.get("status") or {}
    if int(status.get("readyReplicas") or 0) >= 1:
        return rd.READY
    state = status.get("containerState") or {}
    waiting = state.get("waiting") or {}
    if waiting:
        return rd.Readiness(False, f"container waiting: {waiting.get('reason', '')} {waiting.get('message', '')}".strip())
    return rd.Readiness(False, "0 ready replicas")


def notebook(probe: Probe) -> str:
    _needs_app(probe, "notebooks")
    ns = profile_namespace(probe)
    obj = notebook_object(ns, probe.settings.image("notebook"))
    probe.create(obj)
    steps.wait_for(probe, ObjectRef.of(obj), notebook_ready, pods=f"notebook-name={NOTEBOOK}")
    return f"Notebook {ns}/{NOTEBOOK} is ready"


def katib_experiment(namespace: str, image: str) -> dict[str, Any]:
    """A grid over two learning rates: two trials, each one 'epoch' printing `loss=…` for the
    StdOut metrics collector; Istio sidecars off for the trial pods (they would never finish)."""
    script = 'echo "epoch 1: lr=${trialParameters.learningRate}"; echo "loss=0.05"'
    return {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": EXPERIMENT, "namespace": namespace},
        "spec": {
            "objective": {"type": "minimize", "goal": 0.001, "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "grid"},
            "parallelTrialCount": 2, "maxTrialCount": 2, "maxFailedTrialCount": 1,
            "parameters": [{"name": "lr", "parameterType": "double",
                            "feasibleSpace": {"min": "0.01", "max": "0.02", "step": "0.01"}}],
            "trialTemplate": {
                "primaryContainerName": "training-container",
                "trialParameters": [{"name": "learningRate", "description": "learning rate", "reference": "lr"}],
                "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {
                    "metadata": {"annotations": {"sidecar.istio.io/inject": "false"}},
                    "spec": {"restartPolicy": "Never",
                             # restricted-compliant like upstream's test, so a stricter namespace policy passes too
                             "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000,
                                                 "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
                             "containers": [{
                                 "name": "training-container", "image": image, "command": ["sh", "-c", script],
                                 "securityContext": {"allowPrivilegeEscalation": False,
                                                     "capabilities": {"drop": ["ALL"]}}}]}}}},
            },
        },
    }


def katib(probe: Probe) -> str:
    _needs_app(probe, "katib")
    ns = profile_namespace(probe)
    obj = katib_experiment(ns, probe.settings.image("busybox"))
    probe.create(obj)
    done = steps.wait_for(probe, ObjectRef.of(obj), steps.condition("Succeeded"),
                          pods=f"katib.kubeflow.org/experiment={EXPERIMENT}",
                          next_step="kubectl -n kubeflow logs deploy/katib-controller; " + steps.DOCTOR)
    status = done.get("status") or {}
    succeeded = int(status.get("trialsSucceeded") or 0)
    if succeeded < 2:
        raise steps.failure(probe, f"Experiment {ns}/{EXPERIMENT} succeeded with {succeeded} of 2 trials "
                                   f"({status.get('trialsFailed', 0)} failed)", ObjectRef.of(obj), done,
                            pods=f"katib.kubeflow.org/experiment={EXPERIMENT}")
    return f"grid Experiment {EXPERIMENT}: 2 trials succeeded"


def pipelines(probe: Probe) -> str:
    _needs_app(probe, "pipelines")
    ns = profile_namespace(probe)
    client = KfpClient(steps.gateway(probe), steps.service_account_token(probe, ns, EDITOR))
    name = f"kfboot-verify-{secrets.token_hex(3)}"
    spec = one_step_pipeline("kfboot-verify", probe.settings.image("busybox"), "kfboot verify")
    try:
        experiment = client.create_experiment(name, ns)
        probe.shared.closers.append(lambda: client.delete_experiment(experiment))
        run = client.create_run(name, experiment, spec)
        run_id = str(run.get("run_id"))
        state, pause = str(run.get("state") or "PENDING"), 0.25
        while state not in FINAL_STATES:
            if probe.remaining() <= 0:
                raise steps.failure(probe, f"KFP run {run_id} still {state} at the deadline",
                                    ObjectRef("v1", "Namespace", ns), pods=f"pipeline/runid={run_id}")
            probe.cancel.wait(min(pause, max(0.05, probe.remaining())))
            pause = min(pause * 2, 5.0)
            steps.checkpoint(probe)
            run = client.get_run(run_id)
            state = str(run.get("state") or state)
    except (KfpError, HttpError) as exc:
        refused = isinstance(exc, KfpError) and exc.status in (401, 403)
        raise CheckFailed(f"Kubeflow Pipelines API: {exc}",
                          next_step=steps.M2M_HINT if refused else
                          "kubectl -n kubeflow logs deploy/ml-pipeline; " + steps.DOCTOR) from None
    if state != "SUCCEEDED":
        err = run_error(run)
        raise steps.failure(probe, f"KFP run {run_id} ended {state}" + (f": {err}" if err else ""),
                            None, pods=f"pipeline/runid={run_id}",
                            next_step=f"kubectl -n {ns} get pods -l pipeline/runid={run_id}; "
                                      "kubectl -n kubeflow logs deploy/ml-pipeline")
    return f"KFP v2 run {run_id} SUCCEEDED (ServiceAccount token of {ns}/{EDITOR})"


def foreign_token(probe: Probe) -> str:
    _needs_app(probe, "pipelines")
    ns = profile_namespace(probe)
    client = KfpClient(steps.gateway(probe), steps.service_account_token(probe, *FOREIGN))
    try:
        client.list_runs(ns)
    except KfpError as exc:
        if exc.status in (401, 403):
            return f"a token of ServiceAccount {FOREIGN[0]}/{FOREIGN[1]} was refused (HTTP {exc.status})"
        raise CheckFailed(f"expected 401/403 for a foreign token, got {exc}",
                          next_step="kubectl -n kubeflow logs deploy/ml-pipeline") from None
    except HttpError as exc:
        raise CheckFailed(exc.message, next_step=steps.DOCTOR) from None
    raise CheckFailed(f"a token of ServiceAccount {FOREIGN[0]}/{FOREIGN[1]} could list the runs of {ns} (HTTP 200)",
                      next_step="Pipelines' multi-user authorization is off: check the ml-pipeline "
                                "KUBEFLOW_USERID_HEADER and MULTIUSER settings")


def trainjob(probe: Probe) -> str:
    _needs_app(probe, "trainer")
    ns = steps.namespace(probe, probe.settings.namespace)  # no sidecar injection: the job must end
    obj = trainjob_object(ns)
    probe.create(obj)
    steps.wait_for(probe, ObjectRef.of(obj), steps.condition("Complete"),
                   pods=f"jobset.sigs.k8s.io/jobset-name={TRAINJOB}",
                   next_step="kubectl -n kubeflow-system logs deploy/kubeflow-trainer-controller-manager; "
                             + steps.DOCTOR)
    return f"TrainJob {ns}/{TRAINJOB} on runtime torch-distributed completed"


CHECKS = [
    Check("kubeflow/profile", "kubeflow", "a Profile yields its namespace", profile, timeout=120),
    Check("kubeflow/notebook", "kubeflow", "a Notebook becomes ready", notebook, needs=("kubeflow/profile",),
          timeout=600),
    Check("kubeflow/katib", "kubeflow", "a grid Experiment of two trials succeeds", katib,
          needs=("kubeflow/profile",), timeout=600),
    Check("kubeflow/pipelines", "kubeflow", "a KFP v2 run succeeds (ServiceAccount token)", pipelines,
          needs=("kubeflow/profile",), timeout=600),
    Check("kubeflow/pipelines-foreign-token", "kubeflow", "a token of another namespace is refused", foreign_token,
          needs=("kubeflow/profile",), timeout=60),
    Check("kubeflow/trainjob", "kubeflow", "a TrainJob runs to completion", trainjob, timeout=900),
]
