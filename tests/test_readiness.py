"""Readiness checks over real-shaped status objects (as `kubectl get -o yaml` shows them)."""

from __future__ import annotations

from typing import Any

import pytest

from kfboot.k8s.readiness import (
    condition_true,
    crd_established,
    daemonset_ready,
    deployment_available,
    endpoints_ready,
    has_readiness_check,
    job_complete,
    pod_problem,
    pod_ready,
    readiness_of,
    statefulset_ready,
)


def deployment(generation: int = 3, observed: int = 3, want: int = 2, **status: Any) -> dict[str, Any]:
    replicas = want
    base = {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": 'ReplicaSet "istiod-7d4b9c" has successfully progressed.'},
            ]}
    base.update(status)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "istiod", "namespace": "istio-system", "generation": generation},
            "spec": {"replicas": want}, "status": base}


# -- Deployment ----------------------------------------------------------------------------------------
def test_deployment_rolled_out() -> None:
    assert deployment_available(deployment()).ready
    assert readiness_of(deployment()).ready


def test_deployment_controller_lagging_behind_generation() -> None:
    r = deployment_available(deployment(generation=4, observed=3))
    assert not r.ready and not r.failed
    assert "has not observed the latest generation" in r.detail


def test_deployment_without_any_status_yet() -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "generation": 1},
           "spec": {"replicas": 1}}
    r = readiness_of(obj)
    assert not r.ready and "latest generation" in r.detail


def test_deployment_mid_rollout() -> None:
    # `kubectl rollout restart` of 2 replicas: one new pod up, old ReplicaSet still has 2
    r = deployment_available(deployment(updatedReplicas=1, replicas=3, availableReplicas=2))
    assert (r.ready, r.detail) == (False, "1/2 replicas updated")


def test_deployment_old_replicas_terminating() -> None:
    r = deployment_available(deployment(replicas=3))
    assert (r.ready, r.detail) == (False, "1 old replicas pending termination")


def test_deployment_updated_but_not_available() -> None:
    r = deployment_available(deployment(availableReplicas=1))
    assert (r.ready, r.detail) == (False, "1/2 replicas available")


def test_deployment_progress_deadline_exceeded() -> None:
    obj = deployment(updatedReplicas=1, availableReplicas=1, conditions=[
        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": 'ReplicaSet "istiod-5f9c" has timed out progressing.'},
    ])
    r = deployment_available(obj)
    assert not r.ready
    assert r.detail == 'rollout stuck: ReplicaSet "istiod-5f9c" has timed out progressing.'


def test_deployment_scaled_to_zero_is_ready() -> None:
    obj = deployment(want=0)
    obj["status"] = {"observedGeneration": 3}
    assert deployment_available(obj).ready


# -- StatefulSet / DaemonSet ---------------------------------------------------------------------------
def statefulset(**status: Any) -> dict[str, Any]:
    base = {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3,
            "updatedReplicas": 3, "currentRevision": "mysql-6b8f", "updateRevision": "mysql-6b8f"}
    base.update(status)
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "mysql", "generation": 2},
            "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate"}}, "status": base}


def test_statefulset_ready() -> None:
    assert readiness_of(statefulset()).ready


def test_statefulset_not_all_ready() -> None:
    r = statefulset_ready(statefulset(readyReplicas=2))
    assert (r.ready, r.detail) == (False, "2/3 replicas ready")


def test_statefulset_revision_rolling() -> None:
    r = statefulset_ready(statefulset(updateRevision="mysql-7c9d", updatedReplicas=1))
    assert (r.ready, r.detail) == (False, "rolling update to mysql-7c9d in progress")


def test_statefulset_on_delete_does_not_wait_for_revisions() -> None:
    obj = statefulset(updateRevision="mysql-7c9d")
    obj["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert statefulset_ready(obj).ready


def test_statefulset_lagging_generation() -> None:
    assert not statefulset_ready(statefulset(observedGeneration=1)).ready


def daemonset(**status: Any) -> dict[str, Any]:
    base = {"observedGeneration": 1, "desiredNumberScheduled": 4, "currentNumberScheduled": 4,
            "updatedNumberScheduled": 4, "numberReady": 4, "numberAvailable": 4, "numberMisscheduled": 0}
    base.update(status)
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "nvidia-device-plugin-daemonset", "generation": 1}, "status": base}


@pytest.mark.parametrize(("status", "ready", "detail"), [
    ({}, True, "ready"),
    ({"updatedNumberScheduled": 2}, False, "2/4 pods updated"),
    ({"numberReady": 3}, False, "3/4 pods ready"),
    ({"observedGeneration": 0}, False, "controller has not observed the latest generation"),
    ({"desiredNumberScheduled": 0, "updatedNumberScheduled": 0, "numberReady": 0}, True, "ready"),
])
def test_daemonset(status: dict[str, Any], ready: bool, detail: str) -> None:
    r = daemonset_ready(daemonset(**status))
    assert (r.ready, r.detail) == (ready, detail)
    assert readiness_of(daemonset(**status)).ready is ready


# -- Job ---------------------------------------------------------------------------------------------
def job(conditions: list[dict[str, Any]], **status: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "katib-db-migrate"},
            "status": {"conditions": conditions, **status}}


def test_job_complete() -> None:
    obj = job([{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}],
              succeeded=1)
    assert job_complete(obj).ready


def test_job_failed_is_terminal() -> None:
    obj = job([{"type": "FailureTarget", "status": "True"},
               {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit"}], failed=7)
    r = readiness_of(obj)
    assert not r.ready and r.failed
    assert r.detail == "failed: Job has reached the specified backoff limit"


def test_job_running() -> None:
    r = job_complete(job([], active=1))
    assert (r.ready, r.failed, r.detail) == (False, False, "1 active, 0 succeeded")


# -- CRD ---------------------------------------------------------------------------------------------
def crd(established: str, names_accepted: str, message: str = "") -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "certificates.cert-manager.io"},
            "status": {"conditions": [
                {"type": "NamesAccepted", "status": names_accepted, "reason": "NoConflicts", "message": message},
                {"type": "Established", "status": established, "reason": "InitialNamesAccepted"},
            ]}}


def test_crd_established() -> None:
    assert readiness_of(crd("True", "True")).ready


def test_crd_names_conflict_is_terminal() -> None:
    r = crd_established(crd("False", "False", '"certificates" is already in use'))
    assert not r.ready and r.failed
    assert '"certificates" is already in use' in r.detail


def test_crd_not_established_yet_keeps_waiting() -> None:
    r = crd_established(crd("False", "True"))
    assert (r.ready, r.failed, r.detail) == (False, False, "not Established yet")
    assert not crd_established({"kind": "CustomResourceDefinition", "status": {}}).ready


# -- custom resource conditions ------------------------------------------------------------------------
def certificate(status: str, generation: int = 2, observed: int = 2, message: str = "") -> dict[str, Any]:
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "serving-cert", "namespace": "kubeflow", "generation": generation},
            "status": {"conditions": [{"type": "Ready", "status": status, "observedGeneration": observed,
                                       "reason": "Issuing", "message": message}]}}


def test_condition_true() -> None:
    assert condition_true(certificate("True")).ready


def test_condition_false_explains_why() -> None:
    r = condition_true(certificate("False", message="Issuing certificate as Secret does not exist"))
    assert (r.ready, r.detail) == (False, "Ready=False: Issuing certificate as Secret does not exist")


def test_condition_for_older_generation_is_not_ready() -> None:
    r = condition_true(certificate("True", generation=3, observed=2))
    assert (r.ready, r.detail) == (False, "Ready reported for an older generation")


def test_condition_missing() -> None:
    r = condition_true({"status": {"conditions": []}}, "Established")
    assert (r.ready, r.detail) == (False, "no Established condition yet")


# -- Pods ----------------------------------------------------------------------------------------------
def pod(phase: str = "Pending", conditions: list[dict[str, Any]] | None = None,
        containers: list[dict[str, Any]] | None = None, init: list[dict[str, Any]] | None = None,
        **status: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"phase": phase, "conditions": conditions or [], **status}
    if containers is not None:
        st["containerStatuses"] = containers
    if init is not None:
        st["initContainerStatuses"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "kubeflow"}, "status": st}


def waiting(name: str, reason: str, message: str = "") -> dict[str, Any]:
    w = {"reason": reason, **({"message": message} if message else {})}
    return {"name": name, "ready": False, "restartCount": 0, "state": {"waiting": w}}


def test_pod_image_pull_backoff() -> None:
    p = pod(conditions=[{"type": "PodScheduled", "status": "True"}], containers=[
        waiting("kserve-controller", "ImagePullBackOff",
                'Back-off pulling image "kserve/kserve-controller:v0.16.0"')])
    assert pod_problem(p) == ('container kserve-controller: ImagePullBackOff '
                              '(Back-off pulling image "kserve/kserve-controller:v0.16.0")')
    r = pod_ready(p)
    assert not r.ready and "ImagePullBackOff" in r.detail


def test_pod_unschedulable() -> None:
    p = pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                         "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}])
    assert pod_problem(p) == "unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."


def test_pod_crash_loop() -> None:
    cs = waiting("manager", "CrashLoopBackOff", "back-off 40s restarting failed container=manager")
    cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
    cs["restartCount"] = 4
    p = pod("Running", [{"type": "Ready", "status": "False"}], [cs])
    assert pod_problem(p).startswith("container manager: CrashLoopBackOff (back-off 40s")


def test_pod_failed_init_container() -> None:
    init = [{"name": "istio-init", "state": {"terminated": {"exitCode": 126, "reason": "Error"}}}]
    p = pod("Pending", [{"type": "PodScheduled", "status": "True"}], [waiting("app", "PodInitializing")], init)
    assert pod_problem(p) == "container istio-init exited 126 (Error)"


def test_pod_creating_is_not_a_problem() -> None:
    p = pod("Pending", [{"type": "PodScheduled", "status": "True"}], [waiting("app", "ContainerCreating")])
    assert pod_problem(p) == ""
    assert pod_ready(p).detail == "phase Pending"


def test_pod_ready_succeeded_and_failed() -> None:
    assert pod_ready(pod("Running", [{"type": "Ready", "status": "True"}])).ready
    assert pod_ready(pod("Succeeded")).ready
    r = pod_ready(pod("Failed", reason="Evicted"))
    assert r.failed and "Evicted" in r.detail


# -- EndpointSlices ------------------------------------------------------------------------------------
def slice_(*ready: bool | None) -> dict[str, Any]:
    eps = []
    for i, flag in enumerate(ready):
        cond = {} if flag is None else {"ready": flag, "serving": flag, "terminating": False}
        eps.append({"addresses": [f"10.244.0.{i + 10}"], "conditions": cond})
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": "cert-manager-webhook-abcde",
                         "labels": {"kubernetes.io/service-name": "cert-manager-webhook"}},
            "endpoints": eps}


@pytest.mark.parametrize(("slices", "ready", "detail"), [
    ([], False, "no endpoints yet"),
    ([{"endpoints": None}], False, "no endpoints yet"),
    ([slice_(False, False)], False, "2 endpoints, none ready"),
    ([slice_(False), slice_(True)], True, "ready"),
    ([slice_(None)], True, "ready"),  # nil ready means unknown: consumers treat it as ready
])
def test_endpoints_ready(slices: list[dict[str, Any]], ready: bool, detail: str) -> None:
    r = endpoints_ready(slices)
    assert (r.ready, r.detail) == (ready, detail)


# -- dispatch --------------------------------------------------------------------------------------------
def test_unknown_kinds_are_ready_once_they_exist() -> None:
    assert readiness_of({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}).ready
    assert has_readiness_check("apps/v1", "Deployment")
    assert has_readiness_check("v1", "Pod")
    assert not has_readiness_check("v1", "Service")
    assert not has_readiness_check("extensions/v1beta1", "Deployment")
