"""Building kfboot's real engine against the fake API server (shared by integration tests)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfboot.engine.runner import Runner
from kfboot.k8s.client import Kube
from kfboot.k8s.lease import LeaseLock
from kfboot.phases.manifest_phase import ManifestPhase
from kfboot.phases.state_store import STATE_NAMESPACE, ConfigMapStateStore
from kfboot.sources.manifests import LocalManifests

FIXTURES = Path(__file__).parent / "fixtures"
# the Helm binaries scripts/setup --dev puts in the venv (tests skip when one is missing)
HELMS = {
    "helm3": Path(sys.prefix) / "tools" / "helm-v3.19.0" / "helm",
    "helm4": Path(sys.prefix) / "tools" / "helm-v4.1.4" / "helm",
}
PHASES = FIXTURES / "phases"
MANIFESTS = FIXTURES / "kubeflow-manifests"  # a miniature kubeflow/manifests tree, upstream layout
CHARTS = {"gpu-operator": FIXTURES / "charts" / "gpu-operator", "kuberay": FIXTURES / "charts" / "kuberay-operator"}
# the fixture tree's four phases: cert-manager, kubeflow-namespace, istio (needs both), dex (needs istio)
FOUR_PHASES = """\
apiVersion: kfboot.io/v1alpha1
kind: Platform
components:
  gpu-operator: {enabled: false}
  kubeflow: {enabled: false}
  kuberay: {enabled: false}
  kserve: {enabled: false}
install: {timeout: 60}
"""
ONLY_CERT_MANAGER = """\
apiVersion: kfboot.io/v1alpha1
kind: Platform
components:
  gpu-operator: {enabled: false}
  istio: {enabled: false}
  dex: {enabled: false}
  kubeflow: {enabled: false}
  kuberay: {enabled: false}
  kserve: {enabled: false}
install: {timeout: 30}
"""


def connect(fk: Any, tmp_path: Path, context: str = "kind-fake") -> Kube:
    return Kube.connect(fk.write_kubeconfig(tmp_path / "kubeconfig", context=context), context)


def local_phases(operator_dir: Path = PHASES / "operator", app_dir: Path = PHASES / "app") -> list[ManifestPhase]:
    """Two small phases: an operator (namespace, CRD, RBAC, controller, webhook, CR) and an app needing it."""
    return [
        ManifestPhase("operator", "Widget operator", LocalManifests((operator_dir,)), "1.0"),
        ManifestPhase("app", "Widget app", LocalManifests((app_dir,)), "1.0", needs=("operator",)),
    ]


def runner(kube: Kube, phases: list[Any], events: list[Any] | None = None, **kwargs: Any) -> Runner:
    warnings: list[str] | None = kwargs.pop("warnings", None)

    def sink(event: Any) -> None:  # lock warnings reach the caller as `warning` events
        if events is not None:
            events.append(event)
        if warnings is not None and event.kind == "warning":
            warnings.append(event.message)

    return Runner(
        phases,
        kube=kube,
        store=ConfigMapStateStore(kube),
        emit=sink,
        lock_factory=lambda: LeaseLock(kube, STATE_NAMESPACE),
        **kwargs,
    )


def bundle_build_args(out: Path, manifests: Path = MANIFESTS) -> list[str]:
    """`kfboot bundle build` arguments for a bundle of the fixture tree and fixture charts."""
    args = ["bundle", "build", str(out), "--manifests", str(manifests)]
    for name, path in CHARTS.items():
        args += ["--chart", f"{name}={path}"]
    return args


def build_fixture_bundle(out: Path) -> Path:
    from typer.testing import CliRunner

    from kfboot.cli.app import app

    result = CliRunner().invoke(app, bundle_build_args(out))
    assert result.exit_code == 0, result.output
    return out


def seed_external(fk: Any, component: str) -> None:
    """Play a component installed outside kfboot (`external: true`): what the catalog's `presence`
    says must exist (Established CRDs, a ready endpoint behind each webhook Service)."""
    from kfboot.config.catalog import load_catalog

    presence = load_catalog().components[component].presence
    for crd in presence.crds:
        plural, _, group = crd.partition(".")
        fk.put({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": crd},
                "spec": {"group": group, "scope": "Namespaced",
                         "names": {"plural": plural, "kind": plural.capitalize().rstrip("s")},
                         "versions": [{"name": "v1", "served": True, "storage": True,
                                       "schema": {"openAPIV3Schema": {"type": "object",
                                                                      "x-kubernetes-preserve-unknown-fields": True}}}]},
                "status": {"conditions": [{"type": "Established", "status": "True"}]}})
    for ep in presence.endpoints:
        fk.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ep.namespace}})
        fk.put({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": f"{ep.name}-external", "namespace": ep.namespace,
                             "labels": {"kubernetes.io/service-name": ep.name}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.0.0.9"], "conditions": {"ready": True}}]})


def wait_for(pred: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll `pred` until it returns something truthy (returned), or fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")
