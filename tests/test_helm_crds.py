"""A chart's own CRDs (its `crds/` directory) with the real Helm 3.19 and 4.1 against the fake API server.

On a real cluster a new CRD takes a moment to become Established. Helm 4 does not wait for the CRDs
it creates from `crds/`, so the chart's custom resources fail with "resource mapping not found …
ensure CRDs are installed first"; and no Helm version ever upgrades `crds/`. kfboot applies them
itself (server-side apply, wait Established) and runs Helm with --skip-crds.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import yaml

from kfboot.engine.services import Services
from kfboot.helm import ChartRef, Helm
from kfboot.phases.helm_phase import HELM, HelmPhase
from tests.bed import CHARTS, connect, runner

CRD = "clusterpolicies.nvidia.com"



def _install(fake_kube: Any, tmp_path: Path, helm_bin: Path, chart_dir: Path, values: dict[str, Any]) -> Any:
    kube = connect(fake_kube, tmp_path)
    services = Services({HELM: lambda: Helm(tmp_path / "kubeconfig", "kind-fake", executable=str(helm_bin))})
    phase = HelmPhase("gpu-operator", "GPU Operator", ChartRef("gpu-operator", "v26.7.0", path=chart_dir),
                      "gpu-operator", "gpu-operator", values=values)
    return runner(kube, [phase], services=services).install()


def test_chart_crds_established_late_do_not_fail_the_release(fake_kube: Any, tmp_path: Path, helm_bin: Path) -> None:
    fake_kube.hold_unready("CustomResourceDefinition", None, CRD)
    timer = threading.Timer(1.5, fake_kube.release, ("CustomResourceDefinition", None, CRD))
    timer.start()
    try:
        summary = _install(fake_kube, tmp_path, helm_bin, CHARTS["gpu-operator"], {})
    finally:
        timer.cancel()

    assert summary.exit_code == 0, summary.to_dict()
    assert fake_kube.get("nvidia.com/v1", "ClusterPolicy", "cluster-policy") is not None
    crd = fake_kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD)
    assert "helm.sh/chart" not in (crd["metadata"].get("labels") or {})  # kfboot's, not the release's


def test_upgrade_updates_the_chart_crds(fake_kube: Any, tmp_path: Path, helm_bin: Path) -> None:
    chart = tmp_path / "chart"
    shutil.copytree(CHARTS["gpu-operator"], chart)
    assert _install(fake_kube, tmp_path, helm_bin, chart, {}).exit_code == 0

    crd_file = chart / "crds" / "nvidia.com_clusterpolicies.yaml"
    crd = yaml.safe_load(crd_file.read_text())
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Status", "type": "string", "jsonPath": ".status.state"}]
    crd_file.write_text(yaml.safe_dump(crd))
    upgraded = _install(fake_kube, tmp_path, helm_bin, chart, {"mig": {"strategy": "mixed"}})

    assert upgraded.exit_code == 0, upgraded.to_dict()
    assert upgraded.outcomes[0].action == "upgrade"
    live = fake_kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD)
    assert live["spec"]["versions"][0].get("additionalPrinterColumns") == [
        {"name": "Status", "type": "string", "jsonPath": ".status.state"}]
    assert fake_kube.get("nvidia.com/v1", "ClusterPolicy", "cluster-policy")["spec"]["mig"]["strategy"] == "mixed"
