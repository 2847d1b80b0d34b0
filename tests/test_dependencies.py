"""Dependencies are checked before anything is written: in the config (positioned), at preflight for
components installed outside kfboot (`external: true`), and when uninstalling what others need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.config.platform import load_platform
from kfboot.errors import ConfigError, UsageError
from kfboot.phases.external import presence_problems
from tests.bed import MANIFESTS, connect, local_phases, runner, seed_external

KUBEFLOW_WITHOUT_ITS_NEEDS = """\
apiVersion: kfboot.io/v1alpha1
kind: Platform
components:
  gpu-operator: {enabled: false}
  cert-manager:
    enabled: false
  istio: {enabled: false}
  kuberay: {enabled: false}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kfboot.yaml"
    path.write_text(text)
    return path


def test_a_needed_component_disabled_is_a_positioned_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path, KUBEFLOW_WITHOUT_ITS_NEEDS)
    with pytest.raises(ConfigError) as err:
        load_platform(path)
    assert err.value.problems == [
        f"{path}:6:5: components.cert-manager.enabled: cert-manager is disabled, but kserve needs it: "
        "enable it, or set `external: true` if it is installed outside kfboot",
        f"{path}:7:11: components.istio.enabled: istio is disabled, but dex, kserve need it: "
        "enable it, or set `external: true` if it is installed outside kfboot",
    ]


def test_external_dependencies_are_accepted_and_not_installed(tmp_path: Path) -> None:
    text = KUBEFLOW_WITHOUT_ITS_NEEDS.replace("    enabled: false", "    external: true").replace(
        "istio: {enabled: false}", "istio: {external: true}")
    from kfboot.phases.build import BuildOptions, build_phases

    phases = {p.name: p for p in build_phases(load_platform(_write(tmp_path, text)), BuildOptions(manifests_root=MANIFESTS))}
    assert not phases["cert-manager"].enabled and not phases["istio"].enabled
    assert phases["kubeflow"].enabled and phases["kserve"].enabled and phases["kubeflow-namespace"].enabled


def test_install_with_a_missing_dependency_writes_nothing(fake_kube: Any, tmp_path: Path) -> None:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    config = _write(tmp_path, KUBEFLOW_WITHOUT_ITS_NEEDS)
    fake_kube.reset_requests()

    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "install",
                                      "-f", str(config), "--manifests", str(MANIFESTS)])

    assert result.exit_code == 2, result.output
    assert "components.cert-manager.enabled: cert-manager is disabled" in result.output
    assert fake_kube.write_count() == 0


def test_install_checks_external_components_at_preflight(fake_kube: Any, tmp_path: Path) -> None:
    text = KUBEFLOW_WITHOUT_ITS_NEEDS.replace("    enabled: false", "    external: true")
    platform = load_platform(_write(tmp_path, text.replace("istio: {enabled: false}", "istio: {external: true}")))
    kube = connect(fake_kube, tmp_path)

    missing = presence_problems(kube, platform)
    assert "cert-manager is external, but CRD certificates.cert-manager.io is not installed" in missing
    assert any(m.startswith("cert-manager is external, but Service cert-manager/cert-manager-webhook has no "
                            "ready endpoint") for m in missing)
    assert "istio is external, but CRD gateways.networking.istio.io is not installed" in missing

    fake_kube.reset_requests()
    result = CliRunner().invoke(app, ["--kubeconfig", str(tmp_path / "kubeconfig"), "--context", "kind-fake",
                                      "install", "-f", str(tmp_path / "kfboot.yaml"), "--manifests", str(MANIFESTS)])
    assert result.exit_code == 2 and "CRD certificates.cert-manager.io is not installed" in result.output
    assert fake_kube.write_count() == 0

    seed_external(fake_kube, "cert-manager")
    seed_external(fake_kube, "istio")
    assert presence_problems(kube, platform) == []


def test_presence_names_what_the_real_render_creates() -> None:
    """What `external: true` checks for is what kfboot would install itself (real 26.03 render)."""
    from kfboot.config.catalog import load_catalog
    from kfboot.sources.catalog_check import catalog_phases
    from tests.test_ownership import TREE, real_charts, real_render

    if not TREE.is_dir():
        pytest.skip("the real upstream render is not beside the repo")
    catalog = load_catalog()
    phases = {p.name: p for p in catalog_phases(catalog, real_render, real_charts())}
    for name, entry in catalog.components.items():
        objects = phases[name].objects
        crds = {o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"}
        services = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects if o["kind"] == "Service"}
        assert set(entry.presence.crds) <= crds, name
        assert {(e.namespace, e.name) for e in entry.presence.endpoints} <= services, name


def test_uninstalling_what_installed_phases_need_is_refused_unless_with_dependents(fake_kube: Any,
                                                                                   tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    assert runner(kube, local_phases()).install().exit_code == 0

    with pytest.raises(UsageError) as err:
        runner(kube, local_phases()).uninstall(["operator"])
    assert "operator is needed by app, still installed" in err.value.message
    assert "--with-dependents" in (err.value.hint or "")
    assert fake_kube.get("apps/v1", "Deployment", "widget-controller", "widgets-system") is not None

    events: list[Any] = []
    summary = runner(kube, local_phases(), events).uninstall(["operator"], with_dependents=True)
    assert summary.exit_code == 0
    assert {o.phase: o.state for o in summary.outcomes} == {"app": "removed", "operator": "removed"}
    removing = [e.phase for e in events if getattr(e, "state", None) == "removing"]
    assert removing == ["app", "operator"]
