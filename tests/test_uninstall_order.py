"""Uninstall that a real cluster survives: each deletion group is waited for before the next (a
controller must outlive the resources whose finalizers it runs), and namespaces Helm created for kfboot
(`--create-namespace`) are removed with the release, while ones that existed before are kept."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from kfboot.engine.services import Services
from kfboot.helm import ChartRef, Helm
from kfboot.k8s.refs import ObjectRef
from kfboot.phases.helm_phase import HELM, HelmPhase
from kfboot.phases.manifest_phase import ManifestPhase
from kfboot.sources.manifests import LocalManifests
from tests.bed import HELMS, PHASES, connect, runner
from tests.test_helm_phase import CHART

FINALIZER = "demo.kfboot.io/cleanup"


class WidgetController:
    """Runs the Widget finalizer like a real controller: some time after the deletion is requested,
    and only while its own Deployment is still there."""

    def __init__(self, fk: Any, kube: Any, delay: float = 0.3) -> None:
        self.fk, self.kube, self.delay, self.stop = fk, kube, delay, threading.Event()
        self.seen: dict[str, float] = {}
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(0.02):
            for widget in self.fk.list("demo.kfboot.io/v1", "Widget"):
                meta = widget["metadata"]
                if not meta.get("deletionTimestamp") or FINALIZER not in (meta.get("finalizers") or []):
                    continue
                first = self.seen.setdefault(meta["name"], time.monotonic())
                if time.monotonic() - first < self.delay:
                    continue
                controller = self.fk.get("apps/v1", "Deployment", "widget-controller", "widgets-system")
                if controller is None or controller["metadata"].get("deletionTimestamp"):
                    continue  # the controller is gone: nobody runs the finalizer any more
                left = [f for f in meta["finalizers"] if f != FINALIZER]  # through the API: the last one deletes
                self.kube.merge_patch(ObjectRef.of(widget), {"metadata": {"finalizers": left or None}})


def test_resources_are_gone_before_their_controller_is_deleted(fake_kube: Any, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    phase = ManifestPhase("widgets", "Widgets", LocalManifests((PHASES / "operator", PHASES / "app")), "1.0")
    assert runner(kube, [phase]).install().exit_code == 0
    widget = fake_kube.get("demo.kfboot.io/v1", "Widget", "app-widget", "widget-app")
    widget["metadata"]["finalizers"] = [FINALIZER]
    fake_kube.put(widget)

    controller = WidgetController(fake_kube, connect(fake_kube, tmp_path))
    controller.thread.start()
    try:
        summary = runner(kube, [phase], timeout=5.0).uninstall()
    finally:
        controller.stop.set()
        controller.thread.join(timeout=2)

    assert summary.exit_code == 0, [o.message for o in summary.outcomes]
    assert fake_kube.get("demo.kfboot.io/v1", "Widget", "app-widget", "widget-app") is None
    assert fake_kube.get("v1", "Namespace", "widgets-system") is None


def _helm_phase() -> HelmPhase:
    return HelmPhase("demo", "Demo chart", ChartRef("demo", "0.1.0", path=CHART), "demo", "demo-ns")


def _services(tmp_path: Path) -> Services:
    helm = HELMS["helm4"]
    return Services({HELM: lambda: Helm(tmp_path / "kubeconfig", "kind-fake", executable=str(helm))})


def test_uninstall_removes_the_namespace_helm_created_and_keeps_one_that_existed(
        fake_kube: Any, tmp_path: Path, monkeypatch: Any) -> None:
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    kube = connect(fake_kube, tmp_path)
    assert runner(kube, [_helm_phase()], services=_services(tmp_path)).install().exit_code == 0
    assert fake_kube.get("v1", "Namespace", "demo-ns") is not None
    fake_kube.reset_requests()
    again = runner(kube, [_helm_phase()], services=_services(tmp_path)).install()
    assert again.outcomes[0].state == "up-to-date" and fake_kube.write_count() == 0

    removed = runner(kube, [_helm_phase()], services=_services(tmp_path)).uninstall()
    assert removed.exit_code == 0, removed.to_dict()
    assert fake_kube.get("v1", "Namespace", "demo-ns") is None

    fake_kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo-ns", "labels": {"team": "x"}}})
    assert runner(kube, [_helm_phase()], services=_services(tmp_path)).install().exit_code == 0
    assert runner(kube, [_helm_phase()], services=_services(tmp_path)).uninstall().exit_code == 0
    assert fake_kube.get("v1", "Namespace", "demo-ns") is not None  # not kfboot's: kept
