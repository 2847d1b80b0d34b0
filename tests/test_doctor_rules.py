"""Every doctor rule on facts built by hand: no cluster, no fake, milliseconds each."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kfboot.config.platform import Platform
from kfboot.doctor.facts import Facts, Inotify, ToolFact, expectations
from kfboot.doctor.findings import Finding, Status, exit_code
from kfboot.doctor.rules import capacity, cluster, evaluate, gpu, platform, signatures, workloads
from kfboot.k8s.refs import ObjectRef
from tests import doctor_world as w

NOW = datetime(2026, 12, 1, 10, 30, tzinfo=timezone.utc)


def healthy_facts(**overrides: Any) -> Facts:
    nodes = [w._node("cpu-1", {}, {}, {}), w.gpu_node("gpu-1")]
    pods = [w.pod("gpu-operator", f"{app}-gpu-1", node="gpu-1", labels={"app": app}) for app in w.OPERANDS]
    facts = Facts(
        context="kind-test", server="https://127.0.0.1:6443", server_version="v1.34.0", is_kind=True,
        tools={"kubectl": ToolFact("kubectl", "/bin/kubectl", (1, 37, 1)), "helm": ToolFact("helm", "/bin/helm", (4, 1, 4))},
        enabled=("gpu-operator", "cert-manager", "istio", "dex", "kubeflow", "kuberay", "kserve"),
        nodes=nodes, pods=pods,
        namespaces=[{"metadata": {"name": n, "labels": {"istio-injection": "enabled"} if n == w.PROFILE else {}}}
                    for n in (*w.NAMESPACES, w.PROFILE)],
        deployments=[w.deployment(ns, n) for ns, n in sorted(w.DEPLOYMENTS)],
        storage_classes=[{"metadata": {"name": "standard", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}}}],
        crds=[w.crd("nvidia.com", "ClusterPolicy", "clusterpolicies")],
        cluster_policies=[{"metadata": {"name": "cluster-policy"}, "spec": {}, "status": {"state": "ready"}}],
        profiles=[{"metadata": {"name": w.PROFILE}}],
        state={r.phase: r for r in w.default_records()},
        inotify={"gpu-1": Inotify(8192, 2000000)},
        now=NOW,
    )
    for key, value in overrides.items():
        setattr(facts, key, value)
    return facts


def only(findings: list[Finding], fid: str, status: Status | None = None) -> list[Finding]:
    return [f for f in findings if f.id == fid and (status is None or f.status is status)]


def test_healthy_facts_have_no_failure_or_warning() -> None:
    findings = evaluate(healthy_facts())
    bad = [f for f in findings if f.status in (Status.fail, Status.warn)]
    assert bad == []
    assert exit_code(findings) == 0
    assert [f.group for f in findings] == sorted((f.group for f in findings),
                                                 key=["tools and cluster", "capacity", "GPU stack", "platform",
                                                      "workloads", "known signatures"].index)


# -- tools and cluster ------------------------------------------------------------------------------
def test_missing_helm_fails_only_when_a_helm_component_is_enabled() -> None:
    missing = {"helm": ToolFact("helm", error="helm was not found")}
    assert only(cluster.tools(healthy_facts(tools=missing)), "tools.helm", Status.fail)
    assert only(cluster.tools(healthy_facts(tools=missing, enabled=("cert-manager",))), "tools.helm", Status.warn)


def test_tool_too_old() -> None:
    [f] = cluster.tools(healthy_facts(tools={"helm": ToolFact("helm", "/x/helm", (3, 12, 0))}))
    assert f.status is Status.fail and "3.12.0" in f.message and "3.19" in f.message


@pytest.mark.parametrize(("version", "status"), [("v1.34.0", Status.ok), ("v1.27.3", Status.fail),
                                                 ("v1.31.2", Status.warn), ("v1.36.0", Status.warn)])
def test_api_server_version_against_the_pinned_stack(version: str, status: Status) -> None:
    [f] = cluster.api_server(healthy_facts(server_version=version))
    assert f.status is status and version in f.message


def test_unreachable_api_server_is_one_failure_and_nothing_else_is_judged() -> None:
    findings = evaluate(healthy_facts(server_error="connection refused"))
    assert only(findings, "cluster.api-server", Status.fail)[0].fix.startswith("check the cluster is up")
    assert only(findings, "cluster.checks", Status.skip)
    assert not only(findings, "gpu.allocatable")


def test_forbidden_list_is_reported_not_hidden() -> None:
    [f] = cluster.unreadable(healthy_facts(unreadable={"pods": "GET /api/v1/pods: 403 Forbidden",
                                                       "profiles": "the cluster has no Profile kind (…)"}))
    assert f.status is Status.warn and f.subject == "pods" and "403" in f.message


def test_failed_and_interrupted_phases() -> None:
    state = {"kserve": w.record("kserve", "failed", error="timed out waiting for Deployment"),
             "istio": w.record("istio", "applying")}
    findings = cluster.recorded_state(healthy_facts(state=state))
    kserve = only(findings, "state.phase")[1]
    assert kserve.subject == "phase kserve" and kserve.status is Status.fail and "timed out" in kserve.message
    istio = only(findings, "state.phase")[0]
    assert istio.status is Status.fail and "interrupted or killed" in istio.message and "kfboot install" in istio.fix


def test_applying_phase_while_the_lock_is_live_is_a_run_in_progress() -> None:
    lease = {"spec": {"holderIdentity": "me@host/pid-1/abc", "renewTime": "2026-12-01T10:29:50.000000Z",
                      "leaseDurationSeconds": 60}}
    facts = healthy_facts(state={"istio": w.record("istio", "waiting")}, lock=lease)
    assert only(cluster.recorded_state(facts), "state.phase", Status.warn)
    [lock] = cluster.lock(facts)
    assert lock.status is Status.warn and "in progress" in lock.message and "me@host" in lock.message


def test_stale_lock() -> None:
    lease = {"spec": {"holderIdentity": "ci@runner/pid-9/x", "renewTime": "2026-12-01T08:00:00.000000Z",
                      "leaseDurationSeconds": 60}}
    [f] = cluster.lock(healthy_facts(lock=lease))
    assert "stale lock of ci@runner" in f.message and "takes it over" in f.fix


def test_drift_names_the_missing_and_unready_objects() -> None:
    deps = [d for d in healthy_facts().deployments if d["metadata"]["name"] != "istiod"]
    deps = [w.deployment("auth", "dex", available=False) if d["metadata"]["name"] == "dex" else d for d in deps]
    findings = cluster.recorded_state(healthy_facts(deployments=deps))
    drifted = {f.subject: f for f in only(findings, "state.phase", Status.fail)}
    assert "Deployment istio-system/istiod: missing" in drifted["phase istio"].message
    assert "Deployment auth/dex: 0/1 replicas available" in drifted["phase dex"].message
    assert "kfboot install" in drifted["phase dex"].fix


# -- capacity ---------------------------------------------------------------------------------------
def test_footprint_does_not_fit_a_small_node() -> None:
    small = w._node("cpu-1", {}, {}, {"cpu": "2", "memory": "4Gi"})
    [f] = capacity.footprint(healthy_facts(nodes=[small]))
    assert f.status is Status.fail and "does not fit" in f.message and "2.0 CPU / 4.0 GiB" in f.message


def test_not_ready_node_and_small_disk() -> None:
    node = w._node("cpu-1", {}, {}, {"ephemeral-storage": "10Gi"})
    node["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    findings = capacity.footprint(healthy_facts(nodes=[node, w.gpu_node("gpu-1")]))
    assert only(findings, "capacity.nodes", Status.fail)[0].subject == "node cpu-1"
    assert "10.0 GiB" in only(findings, "capacity.disk", Status.warn)[0].message


def test_no_default_storage_class_fails_when_kubeflow_needs_pvcs() -> None:
    [f] = capacity.default_storage_class(healthy_facts(storage_classes=[]))
    assert f.status is Status.fail and "65 GiB" in f.message and "provisioner" in f.fix
    [g] = capacity.default_storage_class(healthy_facts(storage_classes=[], enabled=("cert-manager",)))
    assert g.status is Status.warn


def test_two_default_storage_classes() -> None:
    sc = {"metadata": {"annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}
    [f] = capacity.default_storage_class(healthy_facts(storage_classes=[
        {"metadata": {**sc["metadata"], "name": "a"}}, {"metadata": {**sc["metadata"], "name": "b"}}]))
    assert f.status is Status.warn and "a, b" in f.message


def test_pending_pvc_quotes_its_event() -> None:
    pvc = {"metadata": {"name": "minio-pvc", "namespace": "kubeflow"}, "spec": {}, "status": {"phase": "Pending"}}
    event = {"type": "Warning", "reason": "ProvisioningFailed", "message": "storageclass.storage.k8s.io \"fast\" "
             "not found", "involvedObject": {"kind": "PersistentVolumeClaim", "name": "minio-pvc",
                                             "namespace": "kubeflow"}}
    [f] = capacity.pending_pvcs(healthy_facts(pvcs=[pvc], events=[event]))
    assert f.status is Status.fail and f.subject == "pvc kubeflow/minio-pvc" and "ProvisioningFailed" in f.message


def test_inotify_low_and_skipped() -> None:
    [f] = capacity.inotify(healthy_facts(inotify={"kind-worker": Inotify(128, 8192)}))
    assert f.status is Status.fail and "max_user_instances=128" in f.message and "2280" in f.fix
    [s] = capacity.inotify(healthy_facts(inotify={}, inotify_skipped="docker is not available"))
    assert s.status is Status.skip and "docker" in s.message


# -- GPU stack --------------------------------------------------------------------------------------
def test_gpu_node_labelled_with_zero_allocatable() -> None:
    [f] = gpu.gpu_nodes(healthy_facts(nodes=[w.gpu_node("gpu-1", allocatable=0)]))
    assert f.status is Status.fail and "0 nvidia.com/gpu allocatable" in f.message and "device plugin" in f.fix


def test_unhealthy_gpus_and_label_disagreement_and_mig_invalid() -> None:
    [f] = gpu.gpu_nodes(healthy_facts(nodes=[w.gpu_node("gpu-1", allocatable=7)]))
    assert f.status is Status.warn and "1 of 8" in f.message
    odd = w.gpu_node("gpu-1", count=8)
    odd["status"]["capacity"]["nvidia.com/gpu"] = odd["status"]["allocatable"]["nvidia.com/gpu"] = "4"
    [g] = gpu.gpu_nodes(healthy_facts(nodes=[odd]))
    assert g.status is Status.warn and "GFD counts 8" in g.message
    [h] = gpu.gpu_nodes(healthy_facts(nodes=[w.gpu_node("gpu-1", product=f"{w.H100}-MIG-INVALID", allocatable=0)]))
    assert h.status is Status.fail and "MIG-INVALID" in h.message


def test_no_gpu_nodes_skips() -> None:
    [f] = gpu.gpu_nodes(healthy_facts(nodes=[w._node("cpu-1", {}, {}, {})]))
    assert f.status is Status.skip


def test_missing_device_plugin_fails_missing_dcgm_warns_disabled_is_fine() -> None:
    pods = [p for p in healthy_facts().pods if p["metadata"]["labels"]["app"] != "nvidia-device-plugin-daemonset"]
    [f] = gpu.operands(healthy_facts(pods=pods))
    assert f.status is Status.fail and "no nvidia-device-plugin-daemonset pod" in f.message
    pods = [p for p in healthy_facts().pods if p["metadata"]["labels"]["app"] != "nvidia-dcgm-exporter"]
    assert gpu.operands(healthy_facts(pods=pods))[0].status is Status.warn
    policy = [{"metadata": {"name": "cluster-policy"}, "spec": {"dcgmExporter": {"enabled": False}},
               "status": {"state": "ready"}}]
    assert gpu.operands(healthy_facts(pods=pods, cluster_policies=policy))[0].status is Status.ok


def test_cluster_policy_not_ready_and_missing() -> None:
    cp = [{"metadata": {"name": "cluster-policy"}, "status": {"state": "notReady", "conditions": [
        {"type": "Error", "status": "True", "message": "ClusterPolicy is not ready, states not ready: "
         "[state-driver]"}]}}]
    [f] = gpu.cluster_policy(healthy_facts(cluster_policies=cp))
    assert f.status is Status.fail and "notReady" in f.message and "state-driver" in f.message
    assert gpu.cluster_policy(healthy_facts(cluster_policies=[]))[0].status is Status.fail


@pytest.mark.parametrize(("state", "status"), [("failed", Status.fail), ("pending", Status.warn),
                                               ("success", Status.ok)])
def test_mig_config_state(state: str, status: Status) -> None:
    node = w.gpu_node("gpu-1", extra_labels={"nvidia.com/mig.config": "all-1g.10gb",
                                             "nvidia.com/mig.config.state": state})
    [f] = gpu.mig_state(healthy_facts(nodes=[node]))
    assert f.status is status
    if status is Status.fail:
        assert "kubectl logs -n gpu-operator -l app=nvidia-mig-manager" in f.fix


def _pool_facts(node: dict[str, Any]) -> Facts:
    cfg = {"pools": [{"name": "shared-h100", "profile": "H100-80GB-SXM",
                      "sharing": {"mode": "time-slicing", "timeSlicing": {"replicas": 4}}}]}
    enabled, pools = expectations(Platform.model_validate({"gpu": cfg}))
    return healthy_facts(nodes=[node], pools=pools, enabled=enabled)


def test_time_slicing_pool_not_applied() -> None:
    facts = _pool_facts(w.gpu_node("gpu-1"))
    [f] = gpu.pools(facts)
    assert f.status is Status.fail and "nvidia.com/device-plugin.config=unset (want shared-h100)" in f.message
    labelled = w.gpu_node("gpu-1", extra_labels={"nvidia.com/device-plugin.config": "shared-h100",
                                                 "nvidia.com/mig.config": "all-disabled",
                                                 "nvidia.com/mig.config.state": "success"})
    [g] = gpu.pools(_pool_facts(labelled))
    assert g.status is Status.fail and "nvidia.com/gpu 8/32" in g.message and "device plugin" in g.fix
    labelled["status"]["allocatable"]["nvidia.com/gpu"] = "32"
    assert gpu.pools(_pool_facts(labelled))[0].status is Status.ok


def test_pool_without_nodes_warns() -> None:
    [f] = gpu.pools(_pool_facts(w._node("cpu-1", {}, {}, {})))
    assert f.status is Status.warn and f.subject == "pool shared-h100"


def test_fabric_manager_on_nvswitch_nodes_only() -> None:
    pods = [p for p in healthy_facts().pods if p["metadata"]["labels"]["app"] != "nvidia-operator-validator"]
    [f] = gpu.fabric_manager(healthy_facts(pods=pods))
    assert f.status is Status.warn and "802" in f.message and "nvidia-fabricmanager" in f.fix
    [g] = gpu.fabric_manager(healthy_facts(nodes=[w.gpu_node("t4", count=1, product="Tesla-T4")]))
    assert g.status is Status.skip


# -- platform ---------------------------------------------------------------------------------------
def _webhook_facts(ready: bool, ca: str = w.CA) -> Facts:
    cfg = w.webhook_config("ValidatingWebhookConfiguration", "cert-manager-webhook", "cert-manager",
                           "cert-manager-webhook", inject="cert-manager/cert-manager-webhook-ca", ca=ca)
    svc = {"metadata": {"name": "cert-manager-webhook", "namespace": "cert-manager"}}
    eps = [{"addresses": ["10.0.0.1"], "conditions": {"ready": ready}}]
    sl = {"metadata": {"name": "x", "namespace": "cert-manager",
                       "labels": {"kubernetes.io/service-name": "cert-manager-webhook"}}, "endpoints": eps}
    return healthy_facts(validating_webhooks=[cfg], services=[svc], endpoint_slices=[sl])


def test_webhook_without_ready_endpoints_fails_writes() -> None:
    assert platform.webhooks(_webhook_facts(True))[0].status is Status.ok
    [f] = platform.webhooks(_webhook_facts(False))
    assert f.id == "platform.webhook-endpoints" and f.status is Status.fail
    assert "none ready" in f.message and "every create/update it intercepts is refused" in f.message


def test_webhook_ca_not_injected() -> None:
    [f] = platform.webhooks(_webhook_facts(True, ca=""))
    assert f.id == "platform.webhook-ca" and "cert-manager/cert-manager-webhook-ca" in f.message


def test_crd_not_established() -> None:
    [f] = platform.crds(healthy_facts(crds=[w.crd("kubeflow.org", "Notebook", "notebooks", established=False)]))
    assert f.status is Status.fail and f.subject == "CRD notebooks.kubeflow.org"


def test_istio_down_and_namespace_without_injection() -> None:
    deps = [w.deployment("istio-system", "istiod", available=False)]
    namespaces = [{"metadata": {"name": n}} for n in (*w.NAMESPACES, w.PROFILE)]
    findings = platform.istio(healthy_facts(deployments=deps, namespaces=namespaces))
    assert only(findings, "platform.istio", Status.fail)[0].message.endswith("(0/1 replicas available)")
    inj = only(findings, "platform.sidecar-injection", Status.warn)[0]
    assert inj.subject == f"namespace {w.PROFILE}" and "istio-injection=enabled" in inj.fix


def test_dex_missing_and_kserve_down() -> None:
    deps = [d for d in healthy_facts().deployments if d["metadata"]["name"] != "dex"]
    assert only(platform.auth(healthy_facts(deployments=deps)), "platform.auth", Status.fail)[0].subject == \
        "deployment auth/dex"
    deps = [w.deployment("kubeflow", "kserve-controller-manager", available=False)]
    [f] = platform.serving(healthy_facts(deployments=deps))
    assert f.status is Status.fail


def test_profile_without_namespace() -> None:
    [f] = platform.profiles(healthy_facts(profiles=[{"metadata": {"name": "team-a"}}]))
    assert f.status is Status.fail and f.subject == "profile team-a" and "profiles-deployment" in f.fix


# -- workloads --------------------------------------------------------------------------------------
def _status(phase: str, conditions: list[Any] | None = None, cs: list[Any] | None = None) -> dict[str, Any]:
    return {"phase": phase, "conditions": conditions or [], "containerStatuses": cs or []}


def test_pending_pod_with_scheduler_reason() -> None:
    msg = "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available."
    p = w.pod("kubeflow", "katib-db", status=_status("Pending", [{"type": "PodScheduled", "status": "False",
                                                                   "reason": "Unschedulable", "message": msg}]))
    [f] = workloads.pending(healthy_facts(pods=[p]))
    assert f.status is Status.fail and "Insufficient memory" in f.message and "kubectl describe pod" in f.fix


def test_crashloop_quotes_the_log_and_image_pull_the_message_and_oom_the_limit() -> None:
    crash = w.pod("kubeflow", "ml-pipeline-1", status=_status("Running", cs=[{
        "name": "main", "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]))
    pull = w.pod("kubeflow", "web-1", status=_status("Pending", cs=[{
        "name": "main", "state": {"waiting": {"reason": "ImagePullBackOff",
                                              "message": "Back-off pulling image \"example.com/web:9\""}}}]))
    oom = w.pod("kubeflow", "katib-1", status=_status("Running", cs=[{
        "name": "main", "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 137,
                                                                               "reason": "OOMKilled"}}}]))
    oom["spec"]["containers"][0]["resources"] = {"limits": {"memory": "256Mi"}}
    facts = healthy_facts(pods=[crash, pull, oom], logs={"kubeflow/ml-pipeline-1/main": "boot\npanic: db down\n"})
    findings = workloads.broken_containers(facts)
    assert "it last said: panic: db down" in only(findings, "workload.crashloop")[0].message
    assert "example.com/web:9" in only(findings, "workload.image-pull")[0].message
    assert "256Mi" in only(findings, "workload.oom-killed")[0].message


def test_recent_warning_events_of_platform_namespaces_and_gpu_pods_only() -> None:
    gpu_pod = w.pod("team", "train-0", gpus=1)
    recent = (NOW - timedelta(minutes=5)).isoformat()
    old = (NOW - timedelta(hours=5)).isoformat()

    def ev(ns: str, name: str, when: str, kind: str = "Pod") -> dict[str, Any]:
        return {"type": "Warning", "reason": "Unhealthy", "message": "Readiness probe failed", "count": 3,
                "lastTimestamp": when, "involvedObject": {"kind": kind, "name": name, "namespace": ns}}

    events = [ev("kubeflow", "ml-pipeline-1", recent), ev("team", "train-0", recent), ev("team", "web", recent),
              ev("kubeflow", "old", old)]
    findings = workloads.warning_events(healthy_facts(pods=[gpu_pod], events=events))
    assert sorted(f.subject for f in findings) == ["pod kubeflow/ml-pipeline-1", "pod team/train-0"]
    assert "Unhealthy ×3" in findings[0].message


# -- known signatures -------------------------------------------------------------------------------
SCHED = ("0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node "
         "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod.")


def _crashing(log_or_message: str, *, as_log: bool = True) -> tuple[dict[str, Any], dict[str, str]]:
    term = {"exitCode": 1, "reason": "Error"} if as_log else {"exitCode": 1, "reason": "Error",
                                                                "message": log_or_message}
    p = w.pod("team", "train-0", node="gpu-1", gpus=1, status=_status("Running", cs=[{
        "name": "main", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": term}}]))
    return p, ({"team/train-0/main": log_or_message} if as_log else {})


@pytest.mark.parametrize(("text", "fid", "in_fix"), [
    ("RuntimeError: NCCL error: unhandled cuda error (run with NCCL_DEBUG=INFO for details)", "signature.nccl-cuda",
     "NCCL_DEBUG=INFO"),
    ("RuntimeError: NCCL error in: /pytorch/torch/lib/c10d/ProcessGroupNCCL.cpp:911, unhandled cuda error, NCCL "
     "version 2.7.8\nncclUnhandledCudaError: Call to CUDA function failed.", "signature.nccl-cuda", "/dev/shm"),
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
     "79.10 GiB", "signature.cuda-oom", "batch size"),
    ("UserWarning: CUDA initialization: Unexpected error from cudaGetDeviceCount(). Error 802: system not yet "
     "initialized", "signature.cuda-802", "nvidia-fabricmanager"),
    ("CUDA error at bandwidthTest.cu:256 code=802(cudaErrorSystemNotReady)", "signature.cuda-802", "Fabric"),
    ("failed to create fsnotify watcher: too many open files", "signature.too-many-open-files",
     "fs.inotify.max_user_instances=2280"),
])
def test_signatures_in_logs_and_termination_messages(text: str, fid: str, in_fix: str) -> None:
    for as_log in (True, False):
        p, logs = _crashing(text, as_log=as_log)
        found = only(signatures.signatures(healthy_facts(pods=[p], logs=logs)), fid, Status.fail)
        assert [f.subject for f in found] == ["pod team/train-0"], as_log
        assert in_fix in found[0].fix


def test_insufficient_gpu_names_the_offer() -> None:
    p = w.pod("team", "train-1", gpus=4, status=_status("Pending", [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": SCHED}]))
    facts = healthy_facts(pods=[p])
    [f] = only(signatures.signatures(facts), "signature.insufficient-gpu")
    assert "Insufficient nvidia.com/gpu" in f.message and "gpu-1 8" in f.message and "time-slicing" in f.fix
    assert workloads.pending(facts) == []  # one finding for it, not two


def test_webhook_refused_in_an_event_and_kserve_webhook_in_a_phase_error() -> None:
    refused = ('Internal error occurred: failed calling webhook "webhook.cert-manager.io": failed to call webhook: '
               'Post "https://cert-manager-webhook.cert-manager.svc:443/validate?timeout=30s": dial tcp '
               "10.96.120.7:443: connect: connection refused")
    event = {"type": "Warning", "reason": "FailedCreate", "message": refused,
             "involvedObject": {"kind": "Certificate", "name": "serving-cert", "namespace": "kubeflow"}}
    kserve = ('Internal error occurred: failed calling webhook "inferenceservice.kserve-webhook-server.defaulter": '
              'failed to call webhook: Post "https://kserve-webhook-server-service.kubeflow.svc:443/mutate-serving-'
              'kserve-io-v1beta1-inferenceservice?timeout=10s": no endpoints available for service '
              '"kserve-webhook-server-service"')
    oom = w.pod("kubeflow", "kserve-controller-manager-7f9-abc", status=_status("Running", cs=[{
        "name": "manager", "state": {"running": {}}, "lastState": {"terminated": {"reason": "OOMKilled",
                                                                                  "exitCode": 137}}}]))
    facts = healthy_facts(events=[event], pods=[oom], state={"kserve": w.record("kserve", "failed", error=kserve)})
    found = signatures.signatures(facts)
    [cm] = only(found, "signature.webhook-refused")
    assert cm.subject == "certificate kubeflow/serving-cert" and "rollout status deploy/cert-manager-webhook" in cm.fix
    [ks] = only(found, "signature.kserve-webhook")
    assert ks.subject == "phase kserve" and "was OOMKilled" in ks.message and "memory limit" in ks.fix


def test_istio_sidecar_keeps_a_finished_job_pod_running() -> None:
    p = w.pod("team", "mnist-0", containers=["main", "istio-proxy"], labels={"batch.kubernetes.io/job-name": "mnist"})
    p["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    [f] = only(signatures.signatures(healthy_facts(pods=[p])), "signature.istio-sidecar-job")
    assert "Job mnist never completes" in f.message and 'sidecar.istio.io/inject: "false"' in f.fix
    p["status"]["containerStatuses"][0]["state"] = {"running": {}}
    assert not only(signatures.signatures(healthy_facts(pods=[p])), "signature.istio-sidecar-job")


def test_each_signature_reported_once_per_subject() -> None:
    p, logs = _crashing("CUDA out of memory\nCUDA out of memory")
    event = {"type": "Warning", "message": "CUDA out of memory",
             "involvedObject": {"kind": "Pod", "name": "train-0", "namespace": "team"}}
    found = only(signatures.signatures(healthy_facts(pods=[p], logs=logs, events=[event])), "signature.cuda-oom")
    assert len(found) == 1


def test_inventory_of_a_kind_doctor_does_not_list_is_not_called_drift() -> None:
    rec = w.record("kubeflow", inventory=[ObjectRef("v1", "ConfigMap", "x", "kubeflow")])
    assert cluster.recorded_state(healthy_facts(state={"kubeflow": rec}))[0].status is Status.ok
