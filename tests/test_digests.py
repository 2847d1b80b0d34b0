"""Digests come from content, not from where the sources came from.

`install --bundle B`, then the same bundle as the cache and `install` without `--bundle`, must be a
no-op: the same objects and values give the same digest (no upgrade, no writes, no Helm revision).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.phases.helm_phase import chart_content_digest
from kfboot.sources.phase_sources import cache_bundle_dir
from tests.bed import CHARTS, ONLY_CERT_MANAGER, build_fixture_bundle

CERT_MANAGER_AND_KUBERAY = ONLY_CERT_MANAGER.replace("  kuberay: {enabled: false}\n", "")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_bundle(tmp_path_factory.mktemp("digests") / "bundle")


def _install(fk: Any, tmp_path: Path, *args: str) -> dict[str, Any]:
    kubeconfig = fk.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    config = tmp_path / "kfboot.yaml"
    config.write_text(CERT_MANAGER_AND_KUBERAY)
    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "-o", "json",
                                      "install", "-f", str(config), *args])
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.exit_code == 0, json.dumps(summary, indent=1)
    return summary


def test_the_same_bundle_as_cache_is_a_noop_after_install_from_it(fake_kube: Any, bundle: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFBOOT_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    first = _install(fake_kube, tmp_path, "--bundle", str(bundle))
    assert {p["phase"]: p["state"] for p in first["phases"] if p["state"] != "skipped"} == {
        "cert-manager": "ready", "kuberay": "ready"}

    shutil.copytree(bundle, cache_bundle_dir())
    fake_kube.reset_requests()
    again = _install(fake_kube, tmp_path)

    actions = {p["phase"]: p["action"] for p in again["phases"] if p["phase"] in ("cert-manager", "kuberay")}
    assert actions == {"cert-manager": "up-to-date", "kuberay": "up-to-date"}, json.dumps(again, indent=1)
    assert again["writes"] == 0 and fake_kube.write_count() == 0
    revisions = [s for s in fake_kube.list("v1", "Secret", "kuberay") if s["metadata"]["name"].startswith("sh.helm.")]
    assert len(revisions) == 1


def test_a_chart_directory_and_its_package_have_the_same_content_digest(bundle: Path) -> None:
    packaged = next(bundle.glob("charts/kuberay-operator-*.tgz"))
    assert chart_content_digest(CHARTS["kuberay"]) == chart_content_digest(packaged)
    assert chart_content_digest(CHARTS["kuberay"]) != chart_content_digest(CHARTS["gpu-operator"])


def test_install_from_a_local_tree_takes_local_charts(fake_kube: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`install --manifests DIR --chart NAME=PATH`, as `bundle build` takes them: no chart repository."""
    from tests.bed import MANIFESTS

    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    local = ["--manifests", str(MANIFESTS), "--chart", f"kuberay={CHARTS['kuberay']}"]
    first = _install(fake_kube, tmp_path, *local)
    assert {p["phase"]: p["state"] for p in first["phases"] if p["state"] != "skipped"} == {
        "cert-manager": "ready", "kuberay": "ready"}
    assert fake_kube.get("apps/v1", "Deployment", "kuberay-operator", "kuberay") is not None

    fake_kube.reset_requests()
    again = _install(fake_kube, tmp_path, *local)
    assert again["writes"] == 0 and fake_kube.write_count() == 0

    kubeconfig = tmp_path / "kubeconfig"
    wrong = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "plan",
                                     "--manifests", str(MANIFESTS), "--chart", f"ray={CHARTS['kuberay']}"])
    assert wrong.exit_code == 2 and "--chart: ray is not a Helm component" in wrong.output
