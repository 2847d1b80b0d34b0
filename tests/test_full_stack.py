"""The whole default platform (all seven phases) from the fixture tree and charts, against the fake.

Without --bundle, install takes its inputs from the verified cache bundle (here pre-filled from the
fixtures, as `kfboot bundle pull` would), so this is the default online path minus the download.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.sources.phase_sources import cache_bundle_dir
from tests.bed import build_fixture_bundle

CA_INJECT = "cert-manager.io/inject-ca-from"


class CertManagerAndOperators:
    """What real controllers would do for the stack: cainjector fills CA bundles, cert-manager
    marks Certificates Ready, the GPU Operator reports its ClusterPolicy ready."""

    def __init__(self, fk: Any) -> None:
        self.fk = fk
        self.stop = threading.Event()
        fk.on_create("Certificate", lambda _fk, _obj: {"conditions": [{"type": "Ready", "status": "True"}]})
        fk.on_create("ClusterPolicy", lambda _fk, _obj: {"state": "ready"})
        self.thread = threading.Thread(target=self._inject_ca, daemon=True)

    def _inject_ca(self) -> None:
        while not self.stop.wait(0.05):
            for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
                for hook in self.fk.list("admissionregistration.k8s.io/v1", kind):
                    if not any(a.startswith(CA_INJECT) for a in hook["metadata"].get("annotations") or {}):
                        continue
                    if all((w.get("clientConfig") or {}).get("caBundle") for w in hook.get("webhooks") or []):
                        continue
                    for w in hook.get("webhooks") or []:
                        w.setdefault("clientConfig", {})["caBundle"] = "Y2EtYnVuZGxl"
                    self.fk.put(hook)

    def __enter__(self) -> CertManagerAndOperators:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=2)


@pytest.fixture(scope="module")
def fixture_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_bundle(tmp_path_factory.mktemp("full") / "bundle")


@pytest.fixture
def stack(fake_kube: Any, fixture_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("KFBOOT_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    shutil.copytree(fixture_bundle, cache_bundle_dir())
    fake_kube.ready_delay = 0.05
    # a kind cluster made with `kfboot cluster create --gpus`: the GPU Operator is installed there
    fake_kube.put({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"},
                   "handler": "nvidia"})
    with CertManagerAndOperators(fake_kube):
        yield fake_kube


def _cli(fk: Any, tmp_path: Path, *args: str) -> Any:
    kubeconfig = fk.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    return CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "-o", "json",
                                    "--timeout", "60", *args])


def _summary(result: Any) -> dict[str, Any]:
    assert result.stdout.strip(), result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _states(summary: dict[str, Any]) -> dict[str, str]:
    return {p["phase"]: p["state"] for p in summary["phases"]}


def test_full_install_noop_upgrade_and_uninstall(stack: Any, tmp_path: Path) -> None:
    first = _cli(stack, tmp_path, "install")
    summary = _summary(first)
    assert first.exit_code == 0, json.dumps(summary, indent=1)
    assert set(_states(summary).values()) == {"ready"} and len(summary["phases"]) == 9  # 7 + kubeflow-namespace, kuberay-roles
    # Helm phases installed the verified charts of the cache bundle
    assert stack.get("nvidia.com/v1", "ClusterPolicy", "cluster-policy") is not None
    # Dex never ships the upstream password: kfboot's own Secret holds a generated one
    assert stack.get("v1", "Secret", "kfboot-dex-initial-user", "auth") is not None

    stack.reset_requests()
    again = _summary(_cli(stack, tmp_path, "install"))
    assert set(_states(again).values()) == {"up-to-date"}
    assert again["writes"] == 0 and stack.write_count() == 0

    config = tmp_path / "kfboot.yaml"
    config.write_text("apiVersion: kfboot.io/v1alpha1\nkind: Platform\n"
                      "components:\n  kserve: {deploymentMode: RawDeployment}\n")
    knative = [o for o in stack.list("apps/v1", "Deployment") if o["metadata"]["namespace"] == "knative-serving"]
    assert knative, "the Serverless default installs Knative Serving"
    upgraded = _summary(_cli(stack, tmp_path, "install", "-f", str(config)))
    assert _states(upgraded)["kserve"] == "ready"
    assert {p["phase"]: p["action"] for p in upgraded["phases"]}["kserve"] == "upgrade"
    assert not [o for o in stack.list("apps/v1", "Deployment") if o["metadata"]["namespace"] == "knative-serving"]

    removed = _cli(stack, tmp_path, "uninstall", "-f", str(config))
    assert removed.exit_code == 0, removed.output
    assert set(_states(_summary(removed)).values()) == {"removed"}
    leftover = [o["metadata"]["name"] for o in stack.list("apps/v1", "Deployment")]
    assert leftover == []
    assert stack.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")  # CRDs stay without --purge-crds


def test_tampered_cache_is_refused(stack: Any, tmp_path: Path) -> None:
    chart = next(cache_bundle_dir().glob("charts/gpu-operator-*.tgz"))
    data = bytearray(chart.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chart.write_bytes(bytes(data))

    result = _cli(stack, tmp_path, "install")

    assert result.exit_code != 0
    assert "gpu-operator" in result.output and "sha256" in result.output
    assert stack.get("nvidia.com/v1", "ClusterPolicy", "cluster-policy") is None


def test_dry_run_of_the_whole_stack_on_an_empty_cluster(stack: Any, tmp_path: Path) -> None:
    """Later phases need namespaces and CRDs of earlier ones: a dry run must not fail on them."""
    result = _cli(stack, tmp_path, "install", "--dry-run")

    summary = _summary(result)
    assert result.exit_code == 0, json.dumps(summary, indent=1)
    assert set(_states(summary).values()) == {"dry-run"}
    assert summary["writes"] == 0
    assert all(r.query.get("dryRun") == "All" for r in stack.requests if r.method != "GET")
    assert stack.get("v1", "Namespace", "kubeflow") is None
