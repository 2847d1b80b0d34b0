"""Security sweep: no secret leaks out of kfboot, and every pod it creates is restricted.

Secrets: the Dex password kfboot generates, ServiceAccount tokens (TokenRequest) that `verify` uses,
and the kubeconfig's credentials (bearer token, client certificate key). None of them may appear in
stdout/stderr (text and JSON events), JUnit reports, the rendered manifests, kfboot's state ConfigMap
or a `doctor --collect` archive, over install, verify, verify-gpu and doctor.

Pods: every pod template kfboot creates (verify-gpu's Jobs, verify's test workloads) runs with the Pod
Security "restricted" securityContext, except what `RESTRICTED_EXCEPTIONS` documents.
"""

from __future__ import annotations

import base64
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.phases.state_store import STATE_NAME, STATE_NAMESPACE
from kfboot.verify import gpu_pods
from kfboot.verify.pod_security import RESTRICTED_EXCEPTIONS
from tests.bed import FOUR_PHASES, MANIFESTS
from tests.fakekube import FakeKube
from tests.fakekube.sim_verify import TOKEN_PREFIX
from tests.gpu.nccl_logs import single_node_log
from tests.gpu.test_verify_gpu_live import NS as GPU_NS
from tests.gpu.test_verify_gpu_live import node as gpu_node
from tests.gpu.test_verify_gpu_live import smi_log
from tests.test_verify_checks import Stack, stack  # noqa: F401  (the verify test bed, as a fixture)

BEARER = "kubeconfig-bearer-7f3a9c-do-not-print"
CLIENT_KEY = "-----BEGIN EC PRIVATE KEY-----\nclient-key-5e1d-do-not-print\n-----END EC PRIVATE KEY-----\n"
CLIENT_CERT = "-----BEGIN CERTIFICATE-----\nclient-cert-5e1d\n-----END CERTIFICATE-----\n"
PLATFORM = FOUR_PHASES
POD_KINDS = [("batch/v1", "Job"), ("v1", "Pod"), ("apps/v1", "Deployment"), ("kubeflow.org/v1", "Notebook"),
             ("kubeflow.org/v1beta1", "Experiment"), ("ray.io/v1", "RayJob"), ("ray.io/v1", "RayCluster"),
             ("trainer.kubeflow.org/v1alpha1", "TrainJob"), ("serving.kserve.io/v1beta1", "InferenceService")]


def _secret_kubeconfig(fk: FakeKube, path: Path, context: str = "kind-fake") -> Path:
    """The fake's kubeconfig with credentials a leak would show: a bearer token and a client key pair."""
    fk.write_kubeconfig(path, context=context)
    cfg = yaml.safe_load(path.read_text())
    cfg["users"][0]["user"] = {
        "token": BEARER,
        "client-certificate-data": base64.b64encode(CLIENT_CERT.encode()).decode(),
        "client-key-data": base64.b64encode(CLIENT_KEY.encode()).decode(),
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    found = []
    for what, secret in secrets.items():
        for form in {secret, base64.b64encode(secret.encode()).decode()}:
            if form and form in text:
                found.append(what)
    return found


def _files_text(root: Path) -> Iterator[tuple[str, str]]:
    """(name, text) of every file under root, and of every member of the archives among them."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if tarfile.is_tarfile(path):
            with tarfile.open(path) as tar:
                for member in tar.getmembers():
                    f = tar.extractfile(member)
                    if f is not None:
                        yield f"{path.name}:{member.name}", f.read().decode("utf-8", "replace")
        else:
            yield str(path.relative_to(root)), path.read_bytes().decode("utf-8", "replace")


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_install_doctor_and_render_leak_no_password_token_or_key(fake_kube: FakeKube, tmp_path: Path) -> None:
    kubeconfig = _secret_kubeconfig(fake_kube, tmp_path / "kubeconfig")
    config = tmp_path / "kfboot.yaml"
    config.write_text(PLATFORM)
    base = ["--kubeconfig", str(kubeconfig), "--context", "kind-fake"]
    outputs: dict[str, str] = {}
    for label, args in {
        "install -o json": [*base, "-o", "json", "install", "-f", str(config), "--manifests", str(MANIFESTS)],
        "install (re-run, text)": [*base, "install", "-f", str(config), "--manifests", str(MANIFESTS)],
        "status": [*base, "status", "-f", str(config)],
        "plan -o json": [*base, "-o", "json", "plan", "-f", str(config), "--manifests", str(MANIFESTS)],
        "credentials": [*base, "credentials"],
        "doctor --collect": [*base, "-o", "json", "doctor", "--collect", str(tmp_path / "support")],
        "render": ["render", "all", "-f", str(config), "--manifests", str(MANIFESTS),
                   "--output-dir", str(tmp_path / "render")],
    }.items():
        code, out = _invoke(*args)
        assert code in (0, 1), f"{label}: {out[-2000:]}"  # doctor may find something to fail on the fake
        outputs[label] = out

    initial = fake_kube.get("v1", "Secret", "kfboot-dex-initial-user", "auth")
    assert initial is not None, "install created no Dex login"
    password = base64.b64decode(initial["data"]["password"]).decode()
    assert len(password) >= 12
    secrets = {"Dex password": password, "kubeconfig token": BEARER, "client key": "client-key-5e1d"}

    leaks = {label: _leaks(out, secrets) for label, out in outputs.items()}
    state = fake_kube.get("v1", "ConfigMap", STATE_NAME, STATE_NAMESPACE)
    leaks["state ConfigMap"] = _leaks(yaml.safe_dump(state), secrets)
    events = fake_kube.list("v1", "Event") + fake_kube.list("events.k8s.io/v1", "Event")
    leaks["cluster Events"] = _leaks(yaml.safe_dump(events), secrets)
    files = {**dict(_files_text(tmp_path / "support")), **dict(_files_text(tmp_path / "render"))}
    assert any(n.endswith((".yaml", ".json")) for n in files), sorted(files)[:20]
    assert len([n for n in files if "render" not in n]) >= 1  # the support archive was written
    leaks.update({name: _leaks(text, secrets) for name, text in files.items()})
    assert {k: v for k, v in leaks.items() if v} == {}
    assert "kubectl" in outputs["credentials"]  # says how to read the password, without printing it


def test_verify_leaks_no_password_or_service_account_token(stack: Stack) -> None:  # noqa: F811
    junit = stack.tmp / "verify.xml"
    code, events, output = stack.verify("--junit", str(junit))
    assert code == 0, output
    assert any(e.get("check") == "kubeflow/pipelines" for e in events)  # a token was used (KFP's m2m call)
    secrets = {"Dex password": stack.platform.password, "ServiceAccount token": f"{TOKEN_PREFIX}.",
               "kubeconfig token": "fakekube-token"}
    assert _leaks(output, secrets) == []
    assert _leaks(junit.read_text(), secrets) == []


# -- pods --------------------------------------------------------------------------------------------------------

def _pod_specs(obj: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every pod spec inside an object (anything with `containers`), with where it sits."""
    if isinstance(obj, dict):
        if isinstance(obj.get("containers"), list):
            yield where, obj
        for key, value in obj.items():
            yield from _pod_specs(value, f"{where}.{key}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _pod_specs(value, f"{where}[{i}]")


def _beyond_restricted(spec: dict[str, Any]) -> list[str]:
    """How a pod spec goes beyond Pod Security "restricted" (kubernetes.io/docs/concepts/security/pod-security-standards)."""
    out = []
    pod = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            out.append(flag)
    out += [f"hostPath volume {v['name']}" for v in spec.get("volumes") or [] if "hostPath" in v]
    for c in [*(spec.get("initContainers") or []), *spec["containers"]]:
        sc = c.get("securityContext") or {}
        name = c.get("name", "?")
        if sc.get("privileged"):
            out.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation not false")
        if sc.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
            out.append(f"{name}: runAsNonRoot not true")
        if sc.get("runAsUser", pod.get("runAsUser")) == 0:
            out.append(f"{name}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name}: seccompProfile {seccomp}")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{name}: capabilities not dropped")
        out += [f"capability {cap}" for cap in caps.get("add") or [] if cap != "NET_BIND_SERVICE"]
    return out


def _kfboot_pod_specs(fk: FakeKube, namespace_prefix: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for api_version, kind in POD_KINDS:
        try:
            objects = fk.list(api_version, kind)
        except Exception:  # a kind this bed does not serve
            continue
        for obj in objects:
            ns = obj["metadata"].get("namespace") or ""
            if kind == "Pod" or not ns.startswith(namespace_prefix):
                continue  # pods are what controllers made of kfboot's templates; seeded objects are not kfboot's
            found += [(f"{kind} {ns}/{obj['metadata']['name']}{where}", spec) for where, spec in _pod_specs(obj)]
    return found


def test_every_pod_verify_creates_is_restricted(stack: Stack) -> None:  # noqa: F811
    code, _, output = stack.verify("--keep")
    assert code == 0, output
    specs = _kfboot_pod_specs(stack.fk, "kfboot-verify")
    assert len(specs) >= 3, [w for w, _ in specs]  # Katib, KubeRay, KServe … each made one
    assert {w: _beyond_restricted(s) for w, s in specs if _beyond_restricted(s)} == {}


def test_every_pod_verify_gpu_creates_is_restricted_but_the_documented_exceptions(
        fake_kube: FakeKube, tmp_path: Path) -> None:
    for name in ("gpu-a", "gpu-b"):
        fake_kube.put(gpu_node(name))
        fake_kube.set_job_result(GPU_NS, gpu_pods.object_name("smi", name), smi_log())
        fake_kube.set_job_result(GPU_NS, gpu_pods.object_name("nccl", name), single_node_log(host=f"{name}-pod"))
    kubeconfig = _secret_kubeconfig(fake_kube, tmp_path / "kubeconfig")
    code, output = _invoke("--kubeconfig", str(kubeconfig), "--context", "kind-fake", "-o", "json",
                           "verify-gpu", "--keep", "--timeout", "20")
    assert code == 0, output[-3000:]
    assert _leaks(output, {"kubeconfig token": BEARER, "client key": "client-key-5e1d"}) == []
    specs = _kfboot_pod_specs(fake_kube, GPU_NS)
    assert len(specs) == 4, [w for w, _ in specs]  # nvidia-smi and NCCL on each node
    assert {w: _beyond_restricted(s) for w, s in specs if _beyond_restricted(s)} == {}

    # multi-node (not simulated live): plain restricted, and with RDMA only the documented exception
    for rdma in (None, "rdma/ib"):
        objects = gpu_pods.multi_node_objects(GPU_NS, "multi", ["gpu-a", "gpu-b"], 8, "img", "1G", 60,
                                              rdma_resource=rdma)
        beyond = {p for obj in objects for _, spec in _pod_specs(obj) for p in _beyond_restricted(spec)}
        assert beyond <= set(RESTRICTED_EXCEPTIONS), beyond
        assert bool(beyond) == bool(rdma)
        assert gpu_pods.namespace(GPU_NS, rdma=bool(rdma))["metadata"]["labels"][
            "pod-security.kubernetes.io/enforce"] == ("privileged" if rdma else "restricted")
