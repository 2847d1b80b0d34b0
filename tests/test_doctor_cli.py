"""`kfboot doctor` end to end: the real CLI over real HTTP against the fake API server, set up healthy
and then broken one way at a time; each break must be diagnosed with its status, message and fix."""

from __future__ import annotations

import json
import os
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kfboot.cli.app import app
from tests import doctor_world as w
from tests.fakekube import FakeKube

NCCL = "RuntimeError: NCCL error: unhandled cuda error (run with NCCL_DEBUG=INFO for details)"
OOM = ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of "
       "79.10 GiB of which 3.12 GiB is free.")
E802 = ("UserWarning: CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda "
        "functions before calling NumCudaDevices() that might have already set an error? Error 802: system not yet "
        "initialized (Triggered internally at ../c10/cuda/CUDAFunctions.cpp:108.)")
FILES = 'E1201 10:00:00.000000 1 main.go:52] failed to create fsnotify watcher: too many open files'
CM_REFUSED = ('Internal error occurred: failed calling webhook "webhook.cert-manager.io": failed to call webhook: '
              'Post "https://cert-manager-webhook.cert-manager.svc:443/validate?timeout=30s": dial tcp '
              "10.96.120.7:443: connect: connection refused")
KSERVE_REFUSED = ('Internal error occurred: failed calling webhook "inferenceservice.kserve-webhook-server.defaulter": '
                  'failed to call webhook: Post "https://kserve-webhook-server-service.kubeflow.svc:443/mutate-'
                  'serving-kserve-io-v1beta1-inferenceservice?timeout=10s": no endpoints available for service '
                  '"kserve-webhook-server-service"')
SCHED = ("0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node "
         "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
         "2 Preemption is not helpful for scheduling.")


def _exe(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def world(fake_kube: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The healthy world, with a fake `kind` and a fake `docker` (inotify limits as upstream asks)."""
    w.healthy(fake_kube)
    monkeypatch.setenv("KFBOOT_KIND", str(_exe(tmp_path / "kind", 'echo "kind v0.31.0 go1.24.6 linux/amd64"\n')))
    monkeypatch.setenv("KFBOOT_DOCKER", str(_exe(tmp_path / "docker", 'echo 2280; echo 1255360\n')))
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-kfboot")
    return {"fk": fake_kube, "tmp": tmp_path, "base": ["--kubeconfig", str(kubeconfig), "--context", "kind-kfboot"],
            "mp": monkeypatch}


def run(world: dict[str, Any], *args: str) -> tuple[int, list[dict[str, Any]], Any]:
    result = CliRunner().invoke(app, [*world["base"], "-o", "json", "doctor", *args])
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, events, result


def failing(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "finding" and e["status"] in ("fail", "warn")]


def test_healthy_cluster_exits_0_with_nothing_to_fix_and_writes_nothing(world: dict[str, Any]) -> None:
    world["fk"].reset_requests()
    code, events, result = run(world)
    assert code == 0, result.output
    assert failing(events) == []
    assert all(e["event"] == "finding" for e in events[:-1]) and events[-1]["event"] == "summary"
    summary = events[-1]
    assert summary["ok"] is True and summary["counts"]["fail"] == 0 and summary["writes"] == 0
    ids = {e["id"] for e in events[:-1]}
    assert {"tools.kind", "cluster.api-server", "capacity.inotify", "gpu.operands", "gpu.fabric-manager",
            "platform.webhooks", "signature.none"} <= ids
    assert world["fk"].write_count() == 0
    lists = [r for r in world["fk"].requests if r.verb == "LIST"]
    assert len(lists) == len({r.path for r in lists}), "one LIST per kind"


def test_text_report_folds_ok_findings_unless_verbose(world: dict[str, Any]) -> None:
    world["fk"].remove("apps/v1", "Deployment", "dex", "auth")
    quiet = CliRunner().invoke(app, [*world["base"], "doctor"])
    assert quiet.exit_code == 1
    assert "✘ FAIL  deployment auth/dex" in quiet.stdout and "fix: `kfboot install`" in quiet.stdout
    assert "(-v lists them)" in quiet.stdout and "kubectl 1.37" not in quiet.stdout
    loud = CliRunner().invoke(app, [*world["base"], "doctor", "-v"])
    assert "✔ OK    tool kubectl" in loud.stdout and "(-v lists them)" not in loud.stdout


def _pending_gpu_pod(fk: FakeKube) -> None:
    fk.put(w.pod(w.PROFILE, "train-big-0", node="", gpus=16, status={"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": SCHED}]}))


def _crash(fk: FakeKube, ns: str, name: str, text: str, *, log: bool = True, container: str = "pytorch") -> None:
    term = {"exitCode": 1, "reason": "Error"}
    if not log:
        term["message"] = text
    fk.put(w.pod(ns, name, node="gpu-1", gpus=1, containers=[container], status={
        "phase": "Running", "conditions": [], "containerStatuses": [{
            "name": container, "restartCount": 4, "ready": False,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
            "lastState": {"terminated": term}}]}))
    if log:
        fk.set_pod_logs(ns, name, f"step 1\nstep 2\n{text}\n")


def _sidecar_job(fk: FakeKube) -> None:
    p = w.pod(w.PROFILE, "mnist-train-abcde", containers=["pytorch", "istio-proxy"],
              labels={"batch.kubernetes.io/job-name": "mnist-train"})
    p["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    fk.put(p)


def _kserve_refused(fk: FakeKube) -> None:
    records = [r for r in w.default_records() if r.phase != "kserve"]
    w.put_state(fk, [*records, w.record("kserve", "failed", error=KSERVE_REFUSED)])
    fk.put(w.pod("kubeflow", "kserve-controller-manager-5d9f7c-x2x4z", labels={"app": "kserve-controller-manager"},
                 containers=["manager"], status={"phase": "Running", "conditions": w.ready_conditions(),
                                                 "containerStatuses": [{"name": "manager", "ready": True,
                                                                        "restartCount": 3,
                                                                        "state": {"running": {}},
                                                                        "lastState": {"terminated": {
                                                                            "exitCode": 137,
                                                                            "reason": "OOMKilled"}}}]}))


def _webhook_refused(fk: FakeKube) -> None:
    w.service_with_endpoints(fk, "cert-manager", "cert-manager-webhook", ready=False)
    fk.put({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "serving-cert.1", "namespace": "kubeflow"},
            "type": "Warning", "reason": "FailedCreate", "message": CM_REFUSED, "count": 1,
            "involvedObject": {"kind": "Certificate", "name": "serving-cert", "namespace": "kubeflow"}})


def _low_inotify(fk: FakeKube, tmp: Path, mp: pytest.MonkeyPatch) -> None:
    _crash(fk, "kubeflow", "ml-pipeline-5d9f7c-x2x4z", FILES, container="ml-pipeline-api-server")
    mp.setenv("KFBOOT_DOCKER", str(_exe(tmp / "docker-low", 'echo 128; echo 8192\n')))


def _mig_failed(fk: FakeKube) -> None:
    fk.put(w.gpu_node("gpu-1", allocatable=0, extra_labels={"nvidia.com/mig.config": "all-3g.40gb",
                                                             "nvidia.com/mig.config.state": "failed"}))


# (name, break the world, [(id, status, subject, in message, in fix)])
Scenario = tuple[str, Callable[..., None], list[tuple[str, str, str, str, str]]]
SCENARIOS: list[Scenario] = [
    ("insufficient-gpu", lambda fk, tmp, mp: _pending_gpu_pod(fk),
     [("signature.insufficient-gpu", "fail", f"pod {w.PROFILE}/train-big-0", "Insufficient nvidia.com/gpu",
       "add GPU nodes")]),
    ("nccl", lambda fk, tmp, mp: _crash(fk, w.PROFILE, "ddp-worker-1", NCCL),
     [("signature.nccl-cuda", "fail", f"pod {w.PROFILE}/ddp-worker-1", "NCCL error: unhandled cuda error",
       "NCCL_DEBUG=INFO"),
      ("workload.crashloop", "fail", f"pod {w.PROFILE}/ddp-worker-1", "it last said: RuntimeError: NCCL error",
       "--previous")]),
    ("cuda-oom", lambda fk, tmp, mp: _crash(fk, w.PROFILE, "llm-finetune-0", OOM, log=False),
     [("signature.cuda-oom", "fail", f"pod {w.PROFILE}/llm-finetune-0", "CUDA out of memory", "batch size")]),
    ("cuda-802", lambda fk, tmp, mp: _crash(fk, w.PROFILE, "train-0", E802),
     [("signature.cuda-802", "fail", f"pod {w.PROFILE}/train-0", "on node gpu-1", "nvidia-fabricmanager")]),
    ("too-many-open-files", _low_inotify,
     [("signature.too-many-open-files", "fail", "pod kubeflow/ml-pipeline-5d9f7c-x2x4z", "inotify",
       "fs.inotify.max_user_watches=1255360"),
      ("capacity.inotify", "fail", "node gpu-1", "max_user_instances=128", "sudo sysctl")]),
    ("webhook-refused", lambda fk, tmp, mp: _webhook_refused(fk),
     [("signature.webhook-refused", "fail", "certificate kubeflow/serving-cert", "not serving yet",
       "rollout status deploy/cert-manager-webhook"),
      ("platform.webhook-endpoints", "fail", "ValidatingWebhookConfiguration cert-manager-webhook",
       "has no endpoints yet", "kubectl get pods -n cert-manager")]),
    ("sidecar-job", lambda fk, tmp, mp: _sidecar_job(fk),
     [("signature.istio-sidecar-job", "fail", f"pod {w.PROFILE}/mnist-train-abcde", "never completes",
       "sidecar.istio.io/inject")]),
    ("kserve-webhook", lambda fk, tmp, mp: _kserve_refused(fk),
     [("signature.kserve-webhook", "fail", "phase kserve", "OOMKilled", "memory limit"),
      ("state.phase", "fail", "phase kserve", "the last run of kserve failed", "kfboot install")]),
    ("gpu-zero-allocatable", lambda fk, tmp, mp: fk.put(w.gpu_node("gpu-1", allocatable=0)),
     [("gpu.allocatable", "fail", "node gpu-1", "0 nvidia.com/gpu allocatable", "device plugin")]),
    ("mig-failed", lambda fk, tmp, mp: _mig_failed(fk),
     [("gpu.mig-state", "fail", "node gpu-1", "all-3g.40gb", "kubectl logs -n gpu-operator -l app=nvidia-mig-manager")]),
    ("device-plugin-missing",
     lambda fk, tmp, mp: fk.remove("v1", "Pod", "nvidia-device-plugin-daemonset-gpu-1", "gpu-operator"),
     [("gpu.operands", "fail", "node gpu-1", "no nvidia-device-plugin-daemonset pod", "spec.nodeName=gpu-1")]),
    ("cluster-policy-not-ready",
     lambda fk, tmp, mp: fk.put({"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy",
                                  "metadata": {"name": "cluster-policy"}, "spec": {}, "status": {"state": "notReady"}}),
     [("gpu.cluster-policy", "fail", "ClusterPolicy cluster-policy", "notReady", "deploy/gpu-operator")]),
    ("ca-not-injected",
     lambda fk, tmp, mp: fk.put(w.webhook_config("MutatingWebhookConfiguration", "inferenceservice.serving.kserve.io",
                                                 "kubeflow", "kserve-webhook-server-service",
                                                 inject="kubeflow/serving-cert", ca="")),
     [("platform.webhook-ca", "fail", "MutatingWebhookConfiguration inferenceservice.serving.kserve.io",
       "kubeflow/serving-cert", "cainjector")]),
    ("profile-without-namespace",
     lambda fk, tmp, mp: fk.put({"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": "team-b"},
                                 "spec": {}}),
     [("platform.profiles", "fail", "profile team-b", "has no namespace", "profiles-deployment")]),
    ("crash-and-pull-and-oom", lambda fk, tmp, mp: _broken_workloads(fk),
     [("workload.image-pull", "fail", "pod kubeflow/centraldashboard-0", "example.com/dashboard:v9", "image"),
      ("workload.oom-killed", "fail", "pod kubeflow/katib-db-0", "512Mi", "memory limit"),
      ("workload.pending", "fail", "pod kubeflow/minio-0", "unbound immediate PersistentVolumeClaims",
       "kubectl describe pod"),
      ("capacity.pvc", "fail", "pvc kubeflow/minio-pvc", "Pending", "kubectl describe pvc")]),
    ("drift-and-stale-lock", lambda fk, tmp, mp: _drift_and_lock(fk),
     [("state.phase", "fail", "phase istio", "Deployment istio-system/istiod: missing", "kfboot install"),
      ("platform.istio", "fail", "deployment istio-system/istiod", "missing", "kfboot install"),
      ("state.lock", "warn", "lock kfboot-system/kfboot-lock", "stale lock of ci@runner", "takes it over")]),
    ("no-default-storage-class", lambda fk, tmp, mp: fk.remove("storage.k8s.io/v1", "StorageClass", "standard"),
     [("capacity.storage-class", "fail", "StorageClasses", "no default StorageClass", "provisioner")]),
]


def _broken_workloads(fk: FakeKube) -> None:
    fk.put(w.pod("kubeflow", "centraldashboard-0", status={"phase": "Pending", "conditions": [], "containerStatuses": [
        {"name": "main", "state": {"waiting": {"reason": "ImagePullBackOff", "message":
                                               'Back-off pulling image "example.com/dashboard:v9"'}}}]}))
    oom = w.pod("kubeflow", "katib-db-0", status={"phase": "Running", "conditions": w.ready_conditions(),
                                                  "containerStatuses": [{"name": "main", "state": {"running": {}},
                                                                         "lastState": {"terminated": {
                                                                             "exitCode": 137,
                                                                             "reason": "OOMKilled"}}}]})
    oom["spec"]["containers"][0]["resources"] = {"limits": {"memory": "512Mi"}}
    fk.put(oom)
    fk.put(w.pod("kubeflow", "minio-0", node="", status={"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."}]}))
    fk.put({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "minio-pvc",
                                                                             "namespace": "kubeflow"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}},
            "status": {"phase": "Pending"}})


def _drift_and_lock(fk: FakeKube) -> None:
    fk.remove("apps/v1", "Deployment", "istiod", "istio-system")
    fk.put({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "kfboot-lock", "namespace": "kfboot-system"},
            "spec": {"holderIdentity": "ci@runner/pid-42/abcd1234", "leaseDurationSeconds": 60,
                     "acquireTime": "2026-01-01T00:00:00.000000Z", "renewTime": "2026-01-01T00:05:00.000000Z"}})


@pytest.mark.parametrize(("name", "breaker", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_each_break_is_diagnosed(world: dict[str, Any], name: str, breaker: Callable[..., None],
                                 expected: list[tuple[str, str, str, str, str]]) -> None:
    breaker(world["fk"], world["tmp"], world["mp"])
    world["fk"].reset_requests()
    code, events, result = run(world)
    assert world["fk"].write_count() == 0
    found = failing(events)
    for fid, status, subject, in_message, in_fix in expected:
        match = [f for f in found if f["id"] == fid and f["subject"] == subject]
        assert match, f"{fid} on {subject} not found in {[(f['id'], f['subject']) for f in found]}"
        assert match[0]["status"] == status
        assert in_message in match[0]["message"], match[0]["message"]
        assert in_fix in match[0]["fix"], match[0]["fix"]
    assert code == (1 if any(s == "fail" for _, s, *_ in expected) else 0), result.output
    assert events[-1]["event"] == "summary" and events[-1]["exitCode"] == code


def test_requests_do_not_grow_with_the_cluster(world: dict[str, Any]) -> None:
    fk = world["fk"]
    fk.reset_requests()
    run(world)
    small = len(fk.requests)
    for i in range(2, 12):
        fk.put(w.gpu_node(f"gpu-{i}"))
        for app_label in w.OPERANDS:
            fk.put(w.pod("gpu-operator", f"{app_label}-gpu-{i}", node=f"gpu-{i}", labels={"app": app_label}))
    fk.reset_requests()
    code, events, _ = run(world)
    assert code == 0 and len([e for e in events if e.get("id") == "gpu.operands"]) == 11
    assert len(fk.requests) == small


def test_a_forbidden_list_is_a_warning_not_a_crash(world: dict[str, Any]) -> None:
    world["fk"].deny(("list",), "events")
    code, events, _ = run(world)
    [read] = [e for e in events if e.get("id") == "cluster.read"]
    assert code == 0 and read["status"] == "warn" and read["subject"] == "events" and "403" in read["message"]
    assert "kubectl auth can-i" in read["fix"]


def test_gpu_pool_from_the_config_not_applied(world: dict[str, Any]) -> None:
    config = world["tmp"] / "kfboot.yaml"
    config.write_text(yaml.safe_dump({"apiVersion": "kfboot.io/v1alpha1", "kind": "Platform", "gpu": {"pools": [
        {"name": "shared", "profile": "H100-80GB-SXM",
         "sharing": {"mode": "time-slicing", "timeSlicing": {"replicas": 4}}}]}}))
    code, events, _ = run(world, "-f", str(config))
    [pool] = [e for e in failing(events) if e["id"] == "gpu.pools"]
    assert code == 1 and pool["subject"] == "node gpu-1" and "nvidia.com/device-plugin.config=unset" in pool["message"]


def test_unreachable_api_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "u"}}]}))
    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "-o", "json", "doctor"])
    events = [json.loads(line) for line in result.stdout.splitlines()]
    [api] = [e for e in events if e.get("id") == "cluster.api-server"]
    assert result.exit_code == 1 and api["status"] == "fail" and "cluster-info" in api["fix"]
    assert "kind" not in {e.get("subject", "").removeprefix("tool ") for e in events}  # not a kind context


def test_junit_report(world: dict[str, Any]) -> None:
    _pending_gpu_pod(world["fk"])
    junit = world["tmp"] / "doctor.xml"
    code, events, _ = run(world, "--junit", str(junit))
    assert code == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests", "0")) == len(events) - 1
    failures = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == [f"signature.insufficient-gpu pod {w.PROFILE}/train-big-0"]
    assert "fix:" in (failures[0].find("failure").text or "")


SECRET_VALUE = "s3cr3t-P4ssw0rd-never-leaves"
TOKEN = ("eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50IiwibmFtZSI6InBsYW50In0."
         "c2lnbmF0dXJlLXBsYW50ZWQtZm9yLXRlc3Rpbmc")
HF_TOKEN = "hf_PlantedTokenForRedactionTest0123456789"


def test_collect_writes_a_redacted_support_archive(world: dict[str, Any]) -> None:
    fk = world["fk"]
    fk.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dex-passwords", "namespace": "auth"},
            "stringData": {"password": SECRET_VALUE}, "type": "Opaque"})
    kubeconfig_dump = (f"apiVersion: v1\nusers:\n- name: admin\n  user:\n    token: {TOKEN}\n"
                       f"    client-key-data: {SECRET_VALUE}\n")
    _crash(fk, w.PROFILE, "leaky-0", f"Authorization: Bearer {TOKEN}\nHF_TOKEN={HF_TOKEN}\n{kubeconfig_dump}{NCCL}")
    leaky = fk.get("v1", "Pod", "leaky-0", w.PROFILE)
    leaky["spec"]["containers"][0]["env"] = [{"name": "WANDB_API_KEY", "value": SECRET_VALUE}]
    fk.put(leaky)
    fk.put({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "leak.1", "namespace": "kubeflow"},
            "type": "Warning", "reason": "Failed", "message": f"login with password={SECRET_VALUE} token {TOKEN}",
            "involvedObject": {"kind": "Pod", "name": "x", "namespace": "kubeflow"}})
    records = [r for r in w.default_records() if r.phase != "dex"]
    w.put_state(fk, [*records, w.record("dex", "failed", error=f"apply failed: Bearer {TOKEN}")])
    out = world["tmp"] / "support"

    code, events, result = run(world, "--collect", str(out))

    [collected] = [e for e in events if e["event"] == "collect"]
    archive = Path(collected["path"])
    assert code == 1 and archive.is_file() and archive.name.endswith(".tar.gz") and archive.parent == out
    files = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file() and p != archive}
    names = {Path(n).name for n in files}
    assert {"findings.json", "events.json", "kfboot-state.json", "gpu-nodes.json", "clusterpolicy.json",
            "webhooks.json", "pods-failing.json", "versions.json", "README.txt"} <= names
    logs = [text for n, text in files.items() if "/logs/" in n]
    assert logs and any("NCCL error: unhandled cuda error" in t for t in logs)  # the evidence is kept
    everything = "\n".join(files.values()) + result.stdout
    for planted in (SECRET_VALUE, TOKEN, HF_TOKEN, TOKEN[:40]):
        assert planted not in everything
    assert "<redacted>" in everything
    gpu_nodes = json.loads(next(t for n, t in files.items() if n.endswith("gpu-nodes.json")))
    assert gpu_nodes[0]["labels"]["nvidia.com/gpu.product"] == w.H100
    import tarfile

    with tarfile.open(archive) as tar:
        members = tar.getnames()
        blob = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    assert any(m.endswith("events.json") for m in members)
    assert SECRET_VALUE.encode() not in blob and TOKEN.encode() not in blob


def test_inotify_skipped_with_a_reason_when_docker_is_absent(world: dict[str, Any]) -> None:
    world["mp"].setenv("KFBOOT_DOCKER", str(world["tmp"] / "no-docker-here"))
    _, events, _ = run(world)
    [ino] = [e for e in events if e.get("id") == "capacity.inotify"]
    assert ino["status"] == "skip" and "docker is not available" in ino["message"]
    assert os.environ["KFBOOT_DOCKER"].endswith("no-docker-here")
