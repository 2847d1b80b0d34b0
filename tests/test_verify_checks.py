"""`kfboot verify` end to end: the real CLI against the fake API server (whose simulated operators
move the test objects to done or to injected failures) and a local stand-in for the platform behind
its gateway (oauth2-proxy + Dex login flow, KFP's v2beta1 API, KServe's v1 predict), reached through
a fake `kubectl port-forward` that prints what the real one prints."""

from __future__ import annotations

import base64
import json
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.engine.state import PhaseRecord
from kfboot.k8s.client import Kube
from kfboot.phases.state_store import ConfigMapStateStore
from tests.fakekube import FakeKube
from tests.fakekube.sim_verify import VerifySim, crd, wait_established
from tests.verify_services import Platform

COMPONENTS = ("cert-manager", "istio", "dex", "kubeflow-namespace", "kubeflow", "kuberay", "kserve", "gpu-operator")
FAKE_KUBECTL = """#!PYTHON
import os, sys, time
with open(os.environ["FAKE_KUBECTL_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1] != "port-forward":
    sys.exit("fake kubectl: only port-forward")
port = os.environ["FAKE_GATEWAY_PORT"]
if port == "refused":
    sys.stderr.write("error: unable to forward port because pod is not running. Current status=Pending\\n")
    sys.exit(1)
print(f"Forwarding from 127.0.0.1:{port} -> 8080", flush=True)
print(f"Forwarding from [::1]:{port} -> 8080", flush=True)
time.sleep(120)
"""


@dataclass
class Stack:
    fk: FakeKube
    sim: VerifySim
    platform: Platform
    kubeconfig: Path
    tmp: Path

    def kube(self) -> Kube:
        return Kube.connect(self.kubeconfig, "kind-fake")

    def record(self, phase: str, status: str = "ready", error: str = "") -> None:
        ConfigMapStateStore(self.kube()).save(PhaseRecord(phase, status, "1", "d", error=error))

    def forget(self, phase: str) -> None:
        cm = self.fk.get("v1", "ConfigMap", "kfboot-state", "kfboot-system")
        assert cm is not None
        cm["data"].pop(phase, None)
        self.fk.put(cm)

    def verify(self, *args: str) -> tuple[int, list[dict[str, Any]], str]:
        result = CliRunner().invoke(app, ["--kubeconfig", str(self.kubeconfig), "--context", "kind-fake",
                                          "-o", "json", "verify", *args])
        events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        return result.exit_code, events, result.output

    def kubectl_calls(self) -> list[str]:
        log = self.tmp / "kubectl.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def stack(fake_kube: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    sim = VerifySim(fake_kube).install()
    platform = Platform(password="Xk2-pw-generated").start()
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(FAKE_KUBECTL.replace("PYTHON", sys.executable))
    kubectl.chmod(0o755)
    monkeypatch.setenv("KFBOOT_KUBECTL", str(kubectl))
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(tmp_path / "kubectl.log"))
    monkeypatch.setenv("FAKE_GATEWAY_PORT", str(platform.port))
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig")
    s = Stack(fake_kube, sim, platform, kubeconfig, tmp_path)
    for name in COMPONENTS:
        s.record(name)
    for ns in ("auth", "istio-system", "kubeflow"):
        fake_kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for svc in ("ml-pipeline", "centraldashboard"):  # how verify knows Pipelines and the dashboard are there
        fake_kube.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc, "namespace": "kubeflow"},
                       "spec": {"ports": [{"port": 80}]}})
    fake_kube.put(crd("serving.knative.dev", "v1", "Service", "services", True))  # KServe Serverless
    wait_established(fake_kube, ["services.serving.knative.dev"])
    data = {"email": "user@example.com", "passwordHash": "$2b$12$" + "x" * 53, "password": platform.password}
    fake_kube.put({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                   "metadata": {"name": "kfboot-dex-initial-user", "namespace": "auth",
                                "annotations": {"kfboot.io/password-source": "generated"}},
                   "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})
    try:
        yield s
    finally:
        platform.stop()


def gone(stack: Stack, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
    deadline = time.monotonic() + 10
    while stack.fk.get(api_version, kind, name, namespace) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def results(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in events[-1]["checks"]}


def test_every_check_passes_and_cleans_up(stack: Stack) -> None:
    code, events, output = stack.verify("--junit", str(stack.tmp / "verify.xml"))
    assert code == 0, output
    assert all("event" in e for e in events) and events[-1]["event"] == "summary"
    by = results(events)
    assert {n for n, c in by.items() if c["result"] != "passed"} == {"gpu-operator/validator", "gpu-operator/nvidia-smi"}
    assert by["gpu-operator/validator"]["result"] == by["gpu-operator/nvidia-smi"]["result"] == "skipped"
    assert "no node is labelled nvidia.com/gpu.present=true" in by["gpu-operator/validator"]["reason"]
    assert "(Serverless) predicted [1, 1] through the gateway" in by["kserve/sklearn"]["reason"]  # Knative is there
    assert "SUCCEEDED" in by["kubeflow/pipelines"]["reason"]
    assert "refused (HTTP 403)" in by["kubeflow/pipelines-foreign-token"]["reason"]
    assert "the central dashboard knows the user" in by["dex/login"]["reason"]
    # the login went the real way: sign-in page, start, Dex, form, callback
    paths = [p.split("?")[0] for _, p in stack.platform.requests]
    for step in ("/oauth2/start", "/dex/auth", "/dex/auth/local/login", "/oauth2/callback"):
        assert step in paths
    # one port-forward to the gateway, on the right context, a random local port
    calls = [c for c in stack.kubectl_calls() if c.startswith("port-forward")]
    assert calls == ["port-forward -n istio-system svc/istio-ingressgateway :80 --address 127.0.0.1 "
                     f"--kubeconfig {stack.kubeconfig} --context kind-fake"]
    # test objects are gone (profile namespace through its owner), kfboot's own state is not
    assert gone(stack, "kubeflow.org/v1", "Profile", "kfboot-verify-profile")
    assert gone(stack, "v1", "Namespace", "kfboot-verify-profile")
    assert gone(stack, "v1", "Namespace", "kfboot-verify")
    assert gone(stack, "v1", "Namespace", "kfboot-verify-mesh")
    assert stack.fk.get("v1", "ConfigMap", "kfboot-state", "kfboot-system") is not None
    assert events[-1]["cleanedUp"] > 10
    # check events: each check announced running, then its result
    running = [e["check"] for e in events if e.get("event") == "check" and e["result"] == "running"]
    assert "kserve/sklearn" in running
    suite = ET.parse(stack.tmp / "verify.xml").getroot()
    assert suite.get("tests") == str(len(by)) and suite.get("failures") == "0" and suite.get("skipped") == "2"


def test_keep_leaves_the_test_objects(stack: Stack) -> None:
    code, events, _ = stack.verify("cert-manager", "--keep")
    assert code == 0
    assert stack.fk.get("cert-manager.io/v1", "Certificate", "kfboot-verify-cert", "kfboot-verify") is not None
    assert events[-1]["message"] == "kept the test objects (--keep)"


def test_named_checks_run_alone_and_in_graph_order(stack: Stack) -> None:
    code, events, output = stack.verify("kubeflow/notebook", "kubeflow/profile")
    assert code == 0, output
    assert list(results(events)) == ["kubeflow/profile", "kubeflow/notebook"]
    assert [k for k, _ in stack.sim.created] == ["Profile", "Notebook"]


def test_unknown_component_is_a_usage_error(stack: Stack) -> None:
    code, _, output = stack.verify("kubeflw")
    assert code == 2 and "unknown component or check: kubeflw" in output


# -- failures, each for its own reason -----------------------------------------------------------
def test_certificate_not_issued(stack: Stack) -> None:
    stack.sim.fail("Certificate", {"conditions": [{"type": "Ready", "status": "False", "reason": "Pending",
                                                    "message": "Issuing certificate as Secret does not exist"}]})
    code, events, _ = stack.verify("cert-manager", "--timeout", "1")
    out = results(events)["cert-manager/certificate"]
    assert code == 3 and out["result"] == "timed-out"
    assert "Ready=False (Pending: Issuing certificate as Secret does not exist)" in out["reason"]
    assert "kubectl -n cert-manager logs deploy/cert-manager" in out["nextStep"]


def test_missing_sidecar(stack: Stack) -> None:
    stack.sim.fail("Pod", {})
    code, events, _ = stack.verify("istio/sidecar")
    out = results(events)["istio/sidecar"]
    assert code == 1 and "no istio-proxy sidecar (containers: echo)" in out["reason"]


def test_gateway_does_not_route(stack: Stack) -> None:
    stack.platform.echo_routed = False
    code, events, _ = stack.verify("istio", "--timeout", "3")
    by = results(events)
    assert code == 1 and by["istio/sidecar"]["result"] == "passed"
    assert "did not route /kfboot-verify-echo/echo to the echo service: last HTTP 404" in by["istio/gateway"]["reason"]


def test_open_gateway_is_not_a_login_redirect(stack: Stack) -> None:
    stack.platform.open_gateway = True
    _, events, _ = stack.verify("dex/login-redirect")
    out = results(events)["dex/login-redirect"]
    assert out["result"] == "failed" and "answered HTTP 200, not a redirect to the login" in out["reason"]


def test_login_with_a_stale_password_fails_and_wrong_password_is_refused(stack: Stack) -> None:
    stack.platform.password = "rotated-since-install"
    code, events, _ = stack.verify("dex")
    by = results(events)
    assert code == 1
    assert by["dex/login-redirect"]["result"] == "passed"
    assert "Dex did not accept the login of user@example.com" in by["dex/login"]["reason"]
    assert by["dex/wrong-password"]["result"] == "passed"


def test_dex_that_accepts_any_password_fails(stack: Stack) -> None:
    stack.platform.accept_any_password = True
    code, events, _ = stack.verify("dex/wrong-password")
    out = results(events)["dex/wrong-password"]
    assert code == 1 and "Dex accepted a wrong password for user@example.com" in out["reason"]


def test_approval_screen_is_approved(stack: Stack) -> None:
    stack.platform.approval_screen = True
    code, events, _ = stack.verify("dex/login")
    assert code == 0 and "/dex/approval" in results(events)["dex/login"]["reason"]


def test_pipeline_run_failure_names_the_error(stack: Stack) -> None:
    stack.platform.run_states = ["PENDING", "FAILED"]
    stack.platform.run_error = "task 'say' failed: exit status 1"
    code, events, _ = stack.verify("kubeflow/profile", "kubeflow/pipelines")
    out = results(events)["kubeflow/pipelines"]
    assert code == 1 and "ended FAILED: task 'say' failed: exit status 1" in out["reason"]
    assert "pipeline/runid=" in out["nextStep"]


def test_foreign_token_accepted_fails(stack: Stack) -> None:
    stack.platform.multi_user = False
    _, events, _ = stack.verify("kubeflow/profile", "kubeflow/pipelines-foreign-token")
    out = results(events)["kubeflow/pipelines-foreign-token"]
    assert out["result"] == "failed"
    assert "a token of ServiceAccount default/default could list the runs of kfboot-verify-profile" in out["reason"]


def test_katib_failed_experiment(stack: Stack) -> None:
    stack.sim.fail("Experiment", {"conditions": [{"type": "Failed", "status": "True", "reason": "ExperimentFailed",
                                                   "message": "Experiment has failed because max failed count has reached"}]})
    stack.sim.pod("kfboot-verify-profile", "kfboot-verify-grid-abc-xyz",
                  {"katib.kubeflow.org/experiment": "kfboot-verify-grid"}, "sh: python3: not found\n")
    code, events, _ = stack.verify("kubeflow/profile", "kubeflow/katib")
    out = results(events)["kubeflow/katib"]
    assert code == 1 and "max failed count has reached" in out["reason"]
    assert any("sh: python3: not found" in line for line in out["evidence"])


def test_profile_that_never_yields_a_namespace_cancels_what_needs_it(stack: Stack) -> None:
    stack.sim.fail("Profile", {"conditions": [{"type": "Ready", "status": "False", "reason": "Failed",
                                                "message": "namespace is owned by another profile"}]})
    code, events, _ = stack.verify("kubeflow", "--timeout", "1")
    by = results(events)
    assert code == 1
    assert by["kubeflow/profile"]["result"] == "timed-out"
    assert "namespace is owned by another profile" in " ".join(by["kubeflow/profile"]["evidence"])
    assert by["kubeflow/notebook"]["result"] == "cancelled"
    assert by["kubeflow/notebook"]["reason"] == "not started: needs kubeflow/profile, which timed-out"
    assert by["kubeflow/trainjob"]["result"] == "passed"  # independent of the profile


def test_isvc_not_ready_shows_conditions_and_predictor_logs(stack: Stack) -> None:
    stack.sim.fail("InferenceService", {"conditions": [
        {"type": "PredictorReady", "status": "False", "reason": "RevisionFailed",
         "message": "Revision \"kfboot-verify-iris-predictor-00001\" failed with message: Container failed"},
        {"type": "Ready", "status": "False", "reason": "RevisionFailed"}]})
    stack.sim.pod("kfboot-verify-profile", "kfboot-verify-iris-predictor-00001-deployment-x",
                  {"serving.kserve.io/inferenceservice": "kfboot-verify-iris"},
                  "INFO loading model\nRuntimeError: Failed to fetch model. No model found in /mnt/models.\n")
    code, events, _ = stack.verify("kubeflow/profile", "kserve", "--timeout", "1")
    out = results(events)["kserve/sklearn"]
    assert code == 3 and out["result"] == "timed-out"
    assert "PredictorReady=False (RevisionFailed" in out["reason"]
    assert any("No model found in /mnt/models" in line for line in out["evidence"])
    assert "kubectl logs -n kfboot-verify-profile kfboot-verify-iris-predictor-00001-deployment-x" in out["nextStep"]


def test_wrong_predictions(stack: Stack) -> None:
    stack.platform.predictions = [0, 2]
    _, events, _ = stack.verify("kserve")
    out = results(events)["kserve/sklearn"]
    assert out["result"] == "failed" and "expected predictions [1, 1]" in out["reason"]


def test_raw_deployment_routes_to_the_predictor_service(stack: Stack) -> None:
    stack.fk.remove("apiextensions.k8s.io/v1", "CustomResourceDefinition", "services.serving.knative.dev")
    code, _, output = stack.verify("kserve", "--keep")  # no Knative: KServe cannot be Serverless here
    assert code == 0, output
    isvc = stack.fk.get("serving.kserve.io/v1beta1", "InferenceService", "kfboot-verify-iris", "kfboot-verify-serving")
    assert isvc is not None  # no profile selected: its own injected namespace
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"  # KServe 0.16's name
    vs = stack.fk.get("networking.istio.io/v1", "VirtualService", "kfboot-verify-iris-path", "kfboot-verify-serving")
    assert vs["spec"]["http"][0]["route"][0]["destination"]["host"] == \
        "kfboot-verify-iris-predictor.kfboot-verify-serving.svc.cluster.local"


def test_rayjob_failure(stack: Stack) -> None:
    stack.sim.fail("RayJob", {"jobStatus": "FAILED", "jobDeploymentStatus": "Failed",
                              "message": "Job entrypoint command failed with exit code 1"})
    _, events, _ = stack.verify("kuberay/rayjob")
    out = results(events)["kuberay/rayjob"]
    assert out["result"] == "failed"
    assert "jobStatus FAILED, jobDeploymentStatus Failed: Job entrypoint command failed" in out["reason"]


def test_profile_user_may_not_create_rayclusters(stack: Stack) -> None:
    stack.fk.deny(("create",), "rayclusters", "ray.io", namespace="kfboot-verify-profile")
    code, events, _ = stack.verify("kubeflow/profile", "kuberay/profile-user")
    out = results(events)["kuberay/profile-user"]
    assert code == 1 and "user@example.com may not create RayClusters in kfboot-verify-profile" in out["reason"]
    assert "aggregate-to-kubeflow-edit" in out["nextStep"]


def test_gpu_nodes_validator_and_ray_gpu_worker(stack: Stack) -> None:
    stack.fk.put({"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "gpu-1", "labels": {"nvidia.com/gpu.present": "true"}}})
    stack.fk.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu-operator"}})
    stack.fk.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "nvidia-operator-validator-x1", "namespace": "gpu-operator", "labels": {"app": "nvidia-operator-validator"}},
        "spec": {"nodeName": "gpu-1", "containers": [{"name": "nvidia-operator-validator", "image": "v"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "driver-validation", "ready": False, "restartCount": 3,
             "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}}]}})
    stack.fk.hold_unready("Pod", "gpu-operator", "nvidia-operator-validator-x1")  # the fake kubelet would run it
    stack.fk.set_pod_logs("gpu-operator", "nvidia-operator-validator-x1",
                          "running command chroot with args [/run/nvidia/driver nvidia-smi]\n"
                          "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n")
    code, events, _ = stack.verify("gpu-operator", "kuberay/raycluster")
    by = results(events)
    assert code == 1
    assert "node gpu-1: pod nvidia-operator-validator-x1: container driver-validation: CrashLoopBackOff" \
        in by["gpu-operator/validator"]["reason"]
    assert any("couldn't communicate with the NVIDIA driver" in ln for ln in by["gpu-operator/validator"]["evidence"])
    assert by["kuberay/raycluster"]["reason"].endswith("with a GPU worker") and stack.sim.gpu_worker_seen

    code, events, _ = stack.verify("gpu-operator", "kuberay/raycluster", "--no-gpu")
    by = results(events)
    assert code == 0 and by["gpu-operator/validator"] == {**by["gpu-operator/validator"], "result": "skipped",
                                                          "reason": "--no-gpu"}
    assert not by["kuberay/raycluster"]["reason"].endswith("GPU worker")


def test_components_not_installed_are_skipped_or_fail_when_asked_for(stack: Stack) -> None:
    stack.forget("kserve")
    code, events, _ = stack.verify("kserve", "cert-manager")
    by = results(events)
    assert code == 1 and by["cert-manager/certificate"]["result"] == "passed"
    assert by["kserve/sklearn"]["result"] == "cancelled"
    assert by["kserve/sklearn"]["reason"] == "not started: kserve is not installed (kfboot has no record of it)"
    assert by["kserve/sklearn"]["nextStep"] == "kfboot status; kfboot install"

    stack.record("istio", "failed", "timed out waiting for Deployment istio-system/istiod")
    code, events, _ = stack.verify("dex")
    assert code == 1 and results(events)["dex/login"]["reason"] == (
        "not started: istio is not ready (kfboot recorded failed: timed out waiting for Deployment istio-system/istiod)")

    code, events, _ = stack.verify()  # everything: what is not installed is skipped, what is broken fails
    by = results(events)
    assert by["kserve/sklearn"]["result"] == "skipped"
    assert by["dex/login"]["result"] == "cancelled" and by["kubeflow/notebook"]["result"] == "cancelled"
    assert by["cert-manager/certificate"]["result"] == "passed" and code == 1


def test_port_forward_failure_is_reported(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_GATEWAY_PORT", "refused")
    _, events, _ = stack.verify("dex/login-redirect")
    out = results(events)["dex/login-redirect"]
    assert out["result"] == "failed"
    assert "unable to forward port because pod is not running" in out["reason"]
    assert "kubectl -n istio-system get svc/istio-ingressgateway" in out["nextStep"]


def test_text_output_names_the_failure_its_evidence_and_next_step(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")  # plain lines, as in a CI log
    stack.sim.fail("RayJob", {"jobStatus": "FAILED", "jobDeploymentStatus": "Failed", "message": "exit code 1"})
    stack.sim.pod("kfboot-verify", "kfboot-verify-rayjob-submitter", {"batch.kubernetes.io/job-name": "kfboot-verify-rayjob"},
                  "Traceback (most recent call last):\nModuleNotFoundError: No module named 'ray'\n")
    result = CliRunner().invoke(app, ["--kubeconfig", str(stack.kubeconfig), "--context", "kind-fake", "verify",
                                      "kuberay/rayjob", "cert-manager"])
    assert result.exit_code == 1
    out = result.output
    assert "cert-manager  cert-manager/certificate" in out and "passed" in out
    assert "failed kuberay/rayjob: RayJob kfboot-verify/kfboot-verify-rayjob: jobStatus FAILED" in out
    assert "pod kfboot-verify/kfboot-verify-rayjob-submitter: Failed, container main exited 1 (Error)" in out
    assert "ModuleNotFoundError: No module named 'ray'" in out
    assert "next: read the pod: kubectl logs -n kfboot-verify kfboot-verify-rayjob-submitter" in out
    assert "verify failed (exit 1): 1 passed, 1 failed" in out


def test_gateway_that_trusts_no_service_account_tokens(stack: Stack) -> None:
    stack.platform.trusts_sa_tokens = False  # oauth2-proxy's m2m-dex-only overlay: Dex tokens only
    code, events, _ = stack.verify("istio/gateway", "kubeflow/profile", "kubeflow/pipelines")
    by = results(events)
    assert code == 1
    assert by["istio/gateway"]["result"] == "passed" and "signed in as user@example.com" in by["istio/gateway"]["reason"]
    assert "HTTP 401: Jwt issuer is not configured" in by["kubeflow/pipelines"]["reason"]
    assert "m2m-dex-and-kind" in by["kubeflow/pipelines"]["nextStep"]


def test_login_skipped_when_kfboot_knows_only_a_hash(stack: Stack) -> None:
    secret = stack.fk.get("v1", "Secret", "kfboot-dex-initial-user", "auth")
    secret["metadata"]["annotations"]["kfboot.io/password-source"] = "hash"
    del secret["data"]["password"]
    stack.fk.put(secret)
    code, events, _ = stack.verify("dex", "istio/gateway")
    by = results(events)
    assert code == 0
    assert by["dex/login"]["result"] == "skipped" and "only a hash" in by["dex/login"]["reason"]
    assert by["dex/wrong-password"]["result"] == "passed"
    assert "token of ServiceAccount kfboot-verify-mesh/default" in by["istio/gateway"]["reason"]


def test_without_the_profiles_app_profile_checks_are_skipped(stack: Stack) -> None:
    config = stack.tmp / "kfboot.yaml"
    config.write_text("apiVersion: kfboot.io/v1alpha1\nkind: Platform\n"
                      "components:\n  kubeflow: {apps: [notebooks, pipelines]}\n")
    code, events, output = stack.verify("kubeflow/profile", "kubeflow/notebook", "kserve", "-f", str(config))
    by = results(events)
    assert code == 0, output
    assert by["kubeflow/profile"]["result"] == "skipped"
    assert by["kubeflow/notebook"]["reason"] == \
        "no test profile: the Kubeflow app 'profiles' is not in the platform's apps"
    assert "kfboot-verify-serving/kfboot-verify-iris" in by["kserve/sklearn"]["reason"]


def test_nothing_installed_is_not_a_pass(stack: Stack) -> None:
    stack.fk.remove("v1", "ConfigMap", "kfboot-state", "kfboot-system")
    code, events, _ = stack.verify()
    assert code == 1 and {c["result"] for c in events[-1]["checks"]} == {"skipped"}
    assert events[-1]["message"].startswith("nothing was verified")


def test_nvidia_smi_through_verify_gpu_after_the_validator(stack: Stack) -> None:
    from kfboot.verify import gpu_pods
    from tests.gpu.test_verify_gpu_live import NS, node, smi_log

    stack.fk.put(node("gpu-a"))
    stack.fk.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu-operator"}})
    stack.fk.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "nvidia-operator-validator-a", "namespace": "gpu-operator", "labels": {"app": "nvidia-operator-validator"}},
        "spec": {"nodeName": "gpu-a", "containers": [{"name": "nvidia-operator-validator", "image": "v"}]}})
    stack.fk.set_job_result(NS, gpu_pods.object_name("smi", "gpu-a"), smi_log())
    code, events, output = stack.verify("gpu-operator")
    by = results(events)
    assert code == 0, output
    assert by["gpu-operator/validator"]["reason"] == "validator passed on 1 GPU node(s): gpu-a"
    assert by["gpu-operator/nvidia-smi"]["reason"] == "nvidia-smi passed on gpu-a (8× NVIDIA H100 80GB HBM3)"

    stack.fk.set_job_result(NS, gpu_pods.object_name("smi", "gpu-a"), smi_log(fabric="In Progress"))
    code, events, _ = stack.verify("gpu-operator/nvidia-smi")
    out = results(events)["gpu-operator/nvidia-smi"]
    assert code == 1 and out["reason"].startswith("nvidia-smi failed on gpu-a: ")
    assert "kfboot verify-gpu" in out["nextStep"]
