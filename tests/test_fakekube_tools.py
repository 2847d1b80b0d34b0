"""Fidelity: the real kubectl and helm (3 and 4) binaries work against FakeKube with default flags."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.bed import HELMS
from tests.fakekube import FakeKube

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)
KUBECTL = VENV / "bin" / "kubectl"
CHART = ROOT / "tests" / "fixtures" / "charts" / "demo"

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: demo
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""

WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  namespace: demo
spec:
  size: 3
"""


STS_DS = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: demo}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:16}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: demo}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: agent:1}]}
"""


def tool_env(tmp_path: Path) -> dict[str, str]:
    """Confine every cache/config a tool may write to tmp_path."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "HELM"))}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        HELM_CACHE_HOME=str(home / "helm-cache"),
        HELM_CONFIG_HOME=str(home / "helm-config"),
        HELM_DATA_HOME=str(home / "helm-data"),
        KUBECACHEDIR=str(home / "kube-cache"),
    )
    return env


@pytest.fixture
def fk() -> Iterator[FakeKube]:
    with FakeKube(seed=1, ready_delay=0.1) as fake:
        yield fake


def run(binary: Path, kubeconfig: Path, env: dict[str, str], *args: str, timeout: float = 60) -> str:
    proc = subprocess.run([str(binary), "--kubeconfig", str(kubeconfig), *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{binary.name} {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.skipif(not KUBECTL.exists(), reason=f"kubectl not installed at {KUBECTL}")
def test_kubectl_server_side_apply_get_delete(fk: FakeKube, tmp_path: Path) -> None:
    env, kc = tool_env(tmp_path), fk.write_kubeconfig(tmp_path / "kubeconfig")
    (tmp_path / "m.yaml").write_text(MANIFEST)
    (tmp_path / "w.yaml").write_text(WIDGET)
    out = run(KUBECTL, kc, env, "apply", "--server-side", "-f", str(tmp_path / "m.yaml"))
    assert "deployment.apps/web serverside-applied" in out
    run(KUBECTL, kc, env, "wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=20s")
    run(KUBECTL, kc, env, "apply", "--server-side", "-f", str(tmp_path / "w.yaml"))
    # re-applying unchanged manifests is a no-op for the store
    rv = fk.get("apps/v1", "Deployment", "web", "demo")["metadata"]["resourceVersion"]
    run(KUBECTL, kc, env, "apply", "--server-side", "-f", str(tmp_path / "m.yaml"))
    assert fk.get("apps/v1", "Deployment", "web", "demo")["metadata"]["resourceVersion"] == rv

    run(KUBECTL, kc, env, "rollout", "status", "-n", "demo", "deployment/web", "--timeout=20s")
    (tmp_path / "sts.yaml").write_text(STS_DS)
    run(KUBECTL, kc, env, "apply", "-f", str(tmp_path / "sts.yaml"))  # client-side apply
    run(KUBECTL, kc, env, "rollout", "status", "-n", "demo", "statefulset/db", "--timeout=20s")
    run(KUBECTL, kc, env, "rollout", "status", "-n", "demo", "daemonset/agent", "--timeout=20s")
    docs = yaml.safe_load(run(KUBECTL, kc, env, "get", "-n", "demo", "deployment/web", "widget/w1", "-o", "yaml"))
    kinds = {i["kind"]: i for i in docs["items"]}
    assert kinds["Deployment"]["status"]["availableReplicas"] == 2
    assert kinds["Widget"]["spec"] == {"size": 3}
    assert "web" in run(KUBECTL, kc, env, "get", "deploy", "-n", "demo")  # server-side Table printing

    assert run(KUBECTL, kc, env, "auth", "can-i", "delete", "widgets.example.com", "-n", "demo").strip() == "yes"
    fk.deny(("delete",), "widgets", "example.com")
    proc = subprocess.run([str(KUBECTL), "--kubeconfig", str(kc), "auth", "can-i", "delete", "widgets.example.com",
                           "-n", "demo"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout.strip() == "no"
    fk.allow_all()
    run(KUBECTL, kc, env, "delete", "-f", str(tmp_path / "w.yaml"))
    run(KUBECTL, kc, env, "delete", "-f", str(tmp_path / "m.yaml"), "--timeout=30s")
    assert fk.get("v1", "Namespace", "demo") is None
    assert fk.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com") is None
    assert not any(r.path == "/openapi/v2" and r.method != "GET" for r in fk.requests)


@pytest.mark.parametrize("which", sorted(HELMS))
def test_helm_install_upgrade_status_uninstall(which: str, fk: FakeKube, tmp_path: Path) -> None:
    helm = HELMS[which]
    if not helm.exists() and shutil.which(str(helm)) is None:
        pytest.skip(f"{which} not installed at {helm}")
    env, kc = tool_env(tmp_path), fk.write_kubeconfig(tmp_path / "kubeconfig")
    start = time.monotonic()
    run(helm, kc, env, "install", "demo", str(CHART), "-n", "apps", "--create-namespace", "--wait",
        "--timeout", "60s", "--set", "message=hi")
    cm = fk.get("v1", "ConfigMap", "demo-config", "apps")
    assert cm is not None and cm["data"] == {"message": "hi"}
    dep = fk.get("apps/v1", "Deployment", "demo-web", "apps")
    assert dep["status"]["availableReplicas"] == 1
    secrets = fk.list("v1", "Secret", "apps")
    assert [s["metadata"]["labels"]["owner"] for s in secrets] == ["helm"]

    run(helm, kc, env, "upgrade", "demo", str(CHART), "-n", "apps", "--wait", "--timeout", "60s",
        "--set", "replicas=2", "--set", "message=bye")
    assert fk.get("v1", "ConfigMap", "demo-config", "apps")["data"] == {"message": "bye"}
    dep = fk.get("apps/v1", "Deployment", "demo-web", "apps")
    assert dep["spec"]["replicas"] == 2 and dep["metadata"]["generation"] == 2

    status = json.loads(run(helm, kc, env, "status", "demo", "-n", "apps", "-o", "json"))
    assert status["name"] == "demo" and status["version"] == 2
    assert status["info"]["status"] == "deployed"
    assert "kind: Deployment" in status["manifest"] and "bye" in status["manifest"]

    run(helm, kc, env, "uninstall", "demo", "-n", "apps", "--wait", "--timeout", "60s")
    assert fk.get("apps/v1", "Deployment", "demo-web", "apps") is None
    assert fk.list("v1", "Secret", "apps") == []
    assert not [r for r in fk.requests if r.path.startswith("/openapi/v2")]
    assert time.monotonic() - start < 30


@pytest.mark.skipif(not KUBECTL.exists(), reason=f"kubectl not installed at {KUBECTL}")
def test_kubectl_strict_field_validation_rejects_typos(fk: FakeKube, tmp_path: Path) -> None:
    pytest.importorskip("kubernetes_validate")
    env, kc = tool_env(tmp_path), fk.write_kubeconfig(tmp_path / "kubeconfig")
    bad = MANIFEST.split("---")[2].replace("image: nginx:1.27", "image: nginx:1.27\n          imagePulPolicy: Always")
    (tmp_path / "bad.yaml").write_text(MANIFEST.split("---")[0] + "---" + bad)
    proc = subprocess.run([str(KUBECTL), "--kubeconfig", str(kc), "apply", "--server-side", "-f",
                           str(tmp_path / "bad.yaml")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert 'unknown field "spec.template.spec.containers[0].imagePulPolicy"' in proc.stderr
    assert fk.get("apps/v1", "Deployment", "web", "demo") is None
