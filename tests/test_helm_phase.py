"""Helm phases with the real Helm 3.19 and 4.1 binaries against the fake API server."""

from __future__ import annotations

from pathlib import Path

from kfboot.engine.services import Services
from kfboot.helm import ChartRef, Helm
from kfboot.phases.helm_phase import HELM, HelmPhase
from tests.bed import connect, runner

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "tests" / "fixtures" / "charts" / "demo"



def _phase(values: dict) -> HelmPhase:
    return HelmPhase("demo", "Demo chart", ChartRef("demo", "0.1.0", path=CHART), "demo", "demo-ns", values=values)


def _run(fake_kube, tmp_path: Path, helm_bin: Path, values: dict, op: str = "install"):
    kube = connect(fake_kube, tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    services = Services({HELM: lambda: Helm(kubeconfig, "kind-fake", executable=str(helm_bin))})
    r = runner(kube, [_phase(values)], services=services)
    return r.install() if op == "install" else r.uninstall()


def _revisions(fake_kube) -> list[str]:
    return sorted(s["metadata"]["name"] for s in fake_kube.list("v1", "Secret", "demo-ns")
                  if s["metadata"]["name"].startswith("sh.helm.release.v1.demo."))


def test_install_noop_upgrade_uninstall(fake_kube, tmp_path: Path, helm_bin: Path) -> None:
    summary = _run(fake_kube, tmp_path, helm_bin, {"replicas": 2})
    assert summary.exit_code == 0, summary.to_dict()
    assert fake_kube.get("apps/v1", "Deployment", "demo-web", "demo-ns")["spec"]["replicas"] == 2
    assert _revisions(fake_kube) == ["sh.helm.release.v1.demo.v1"]

    fake_kube.reset_requests()
    again = _run(fake_kube, tmp_path, helm_bin, {"replicas": 2})
    assert again.outcomes[0].state == "up-to-date"
    assert fake_kube.write_count() == 0
    assert _revisions(fake_kube) == ["sh.helm.release.v1.demo.v1"]  # no new release revision

    upgraded = _run(fake_kube, tmp_path, helm_bin, {"replicas": 3})
    assert upgraded.outcomes[0].action == "upgrade"
    assert upgraded.exit_code == 0, upgraded.to_dict()
    assert fake_kube.get("apps/v1", "Deployment", "demo-web", "demo-ns")["spec"]["replicas"] == 3
    assert len(_revisions(fake_kube)) == 2

    removed = _run(fake_kube, tmp_path, helm_bin, {"replicas": 3}, op="uninstall")
    assert removed.exit_code == 0, removed.to_dict()
    assert fake_kube.get("apps/v1", "Deployment", "demo-web", "demo-ns") is None
    assert _revisions(fake_kube) == []


def test_deleted_release_object_is_repaired(fake_kube, tmp_path: Path, helm_bin: Path) -> None:
    _run(fake_kube, tmp_path, helm_bin, {"replicas": 1})
    fake_kube.remove("apps/v1", "Deployment", "demo-web", "demo-ns")

    summary = _run(fake_kube, tmp_path, helm_bin, {"replicas": 1})

    assert summary.outcomes[0].action == "repair"
    assert summary.exit_code == 0, summary.to_dict()
    assert fake_kube.get("apps/v1", "Deployment", "demo-web", "demo-ns") is not None


def test_transient_api_failures_under_helm_are_retried(fake_kube, tmp_path: Path, helm_bin: Path) -> None:
    """Helm's own client does not retry: one 500 or dropped connection used to fail the whole phase
    (bench_faults: 0 of 3 real-render installs converged at 5 % transient failures)."""
    from tests.fakekube import Fault

    first_writes = fake_kube.inject(Fault(verbs=("POST", "PUT", "PATCH"), error_rate=1.0, status=500,
                                          path_contains="/namespaces/demo-ns/", times=2))
    summary = _run(fake_kube, tmp_path, helm_bin, {"replicas": 1})
    assert first_writes.fired == 2
    assert summary.exit_code == 0, summary.to_dict()
    assert fake_kube.get("apps/v1", "Deployment", "demo-web", "demo-ns") is not None


def test_a_permanent_helm_failure_is_not_retried(fake_kube, tmp_path: Path, helm_bin: Path) -> None:
    from tests.fakekube import Fault

    refused = fake_kube.inject(Fault(verbs=("POST",), error_rate=1.0, status=403, path_contains="/namespaces/demo-ns/"))
    summary = _run(fake_kube, tmp_path, helm_bin, {"replicas": 1})
    assert summary.exit_code == 1
    assert "helm failed for release demo-ns/demo" in summary.outcomes[0].message
    assert refused.fired == 1  # refused once, reported at once
