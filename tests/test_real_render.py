"""The default platform from the REAL kubeflow/manifests 26.03 render and the real charts' CRDs and
objects, against the fake API server with its simulated operators on (cert-manager, cainjector,
GPU Operator, profiles controller) and no test hooks: install, re-run, plan, status, uninstall.

Each step prints its requests, writes and wall time (run with ``-s`` to see them).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.helm import find_helm
from tests import realrender
from tests.fakekube import FakeKube

pytestmark = pytest.mark.skipif(not realrender.available(), reason="the upstream render is not beside the repo")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return realrender.real_bundle(tmp_path_factory.mktemp("real") / "bundle", find_helm())


class Steps:
    """Runs kfboot commands against the fake and records requests, writes and wall time per step."""

    def __init__(self, fk: FakeKube, tmp_path: Path, bundle: Path) -> None:
        self.fk = fk
        self.kubeconfig = fk.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
        self.bundle = bundle
        self.figures: list[tuple[str, int, int, float]] = []

    def run(self, step: str, *args: str) -> tuple[Any, dict[str, Any]]:
        self.fk.reset_requests()
        started = time.monotonic()
        result = CliRunner().invoke(app, ["--kubeconfig", str(self.kubeconfig), "--context", "kind-fake",
                                          "-o", "json", "--timeout", "120", *args, "--bundle", str(self.bundle)])
        wall = time.monotonic() - started
        requests = self.fk.requests
        self.figures.append((step, len(requests), self.fk.write_count(), wall))
        print(f"real render: {step:<10} {len(requests):>6} requests {self.fk.write_count():>5} writes "
              f"{wall:6.1f} s  exit {result.exit_code}")
        lines = [ln for ln in result.stdout.splitlines() if ln.strip().startswith("{")]
        summary = json.loads(lines[-1]) if lines else {}
        return result, summary


def _states(summary: dict[str, Any]) -> dict[str, str]:
    return {p["phase"]: p["state"] for p in summary.get("phases") or []}


def _failures(summary: dict[str, Any]) -> str:
    return "\n".join(f"{p['phase']}: {p.get('message', '')}" for p in summary.get("phases") or []
                     if p["state"] not in ("ready", "up-to-date", "removed", "skipped"))


@pytest.fixture
def steps(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KFBOOT_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    with FakeKube(seed=0, ready_delay=0.05) as fk:
        for node in realrender.kind_nodes():
            fk.put(node)
        yield Steps(fk, tmp_path, bundle)


def test_real_render_installs_reruns_plans_reports_and_uninstalls(steps: Steps) -> None:
    first, summary = steps.run("install", "install")
    assert first.exit_code == 0, _failures(summary) or first.output[-3000:]
    assert set(_states(summary).values()) == {"ready"}
    fk = steps.fk
    # what the real operators would have done, with no test hook
    assert fk.get("nvidia.com/v1", "ClusterPolicy", "cluster-policy")["status"]["state"] == "ready"
    hooks = fk.list("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
    assert hooks and all(w["clientConfig"].get("caBundle") for h in hooks for w in h.get("webhooks") or []
                         if "cert-manager.io/inject-ca-from" in (h["metadata"].get("annotations") or {})
                         or "cert-manager.io/inject-ca-from-secret" in (h["metadata"].get("annotations") or {}))

    again, summary = steps.run("re-run", "install")
    assert again.exit_code == 0, _failures(summary)
    assert set(_states(summary).values()) == {"up-to-date"}
    assert fk.write_count() == 0

    plan, _ = steps.run("plan", "plan")
    assert plan.exit_code == 0, plan.output[-2000:]
    status, _ = steps.run("status", "status")
    assert status.exit_code == 0, status.output[-2000:]

    removed, summary = steps.run("uninstall", "uninstall")
    assert removed.exit_code == 0, _failures(summary) or removed.output[-3000:]
    assert set(_states(summary).values()) == {"removed"}
    assert fk.list("apps/v1", "Deployment") == []
