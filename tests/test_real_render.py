"""The default platform from the REAL kubeflow/manifests 26.03 render and the real charts' CRDs and
objects, against the fake API server with its simulated operators on (cert-manager, cainjector,
GPU Operator, profiles controller, self-certifying webhook servers) and no test hooks.

One journey per module, install -> re-run -> plan -> status -> uninstall, with a real cluster's
timing: CRDs take a second to become Established, cainjector a moment to patch a new CA, and the
profiles controller a second to clean up a deleted Profile before it drops its finalizer.
Each step prints its requests, writes and wall time (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from tests import realrender
from tests.fakekube import FakeKube, RequestRecord

pytestmark = [pytest.mark.skipif(not realrender.available(), reason="the upstream render is not beside the repo"),
              pytest.mark.timeout(400)]  # the module's journey (~1 min) runs inside its first test

HELM3 = realrender.REPO / ".venv" / "tools" / "helm-v3.19.0" / "helm"
HELM4 = realrender.REPO / ".venv" / "tools" / "helm-v4.1.4" / "helm"
CRD_ESTABLISH_DELAY = 1.0  # seconds; any real cluster can take this long
CAINJECTOR_DELAY = 0.5
# not a kind-* context: kfboot would skip the GPU Operator on a kind cluster without GPU nodes, and this
# journey is meant to install the real GPU Operator chart too
CONTEXT = "lab"
FINALIZER_DELAY = 3.0
MAX_READ_ONLY_REQUESTS = 160  # a no-op re-run, plan or status of the default platform  # the profiles controller cleans up a deleted Profile's namespace first


def _helm(path: Path) -> str:
    if not path.is_file():
        pytest.skip(f"{path.parent.name} is not installed (scripts/setup --dev)")
    return str(path)


@dataclass
class Step:
    name: str
    exit_code: int
    summary: dict[str, Any]
    output: str
    requests: list[RequestRecord]
    writes: int
    wall: float

    def refused_by_webhooks(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests if r.status == 500 and r.method != "GET"]


@dataclass
class Journey:
    fk: FakeKube
    kubeconfig: Path
    bundle: Path
    steps: dict[str, Step] = field(default_factory=dict)
    after_install: dict[str, Any] = field(default_factory=dict)

    def run(self, name: str, *args: str, timeout: int = 120) -> Step:
        self.fk.reset_requests()
        started = time.monotonic()
        result = CliRunner().invoke(app, ["--kubeconfig", str(self.kubeconfig), "--context", CONTEXT, "--yes", "-o",
                                          "json", "--timeout", str(timeout), *args, "--bundle", str(self.bundle)])
        wall = time.monotonic() - started
        lines = [ln for ln in result.stdout.splitlines() if ln.strip().startswith("{")]
        requests = self.fk.requests
        step = Step(name, result.exit_code, json.loads(lines[-1]) if lines else {}, result.output, requests,
                    self.fk.write_count(), wall)
        print(f"\nreal render: {name:<10} {len(requests):>6} requests {step.writes:>5} writes {wall:6.1f} s "
              f"exit {result.exit_code}", end="")
        self.steps[name] = step
        return step


def _prepare(fk: FakeKube, monkeypatch: pytest.MonkeyPatch, home: Path, helm: str) -> None:
    monkeypatch.setenv("KFBOOT_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("KFBOOT_HELM", helm)
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    fk.ready_delay = 0.05
    fk.crd_establish_delay = CRD_ESTABLISH_DELAY
    fk.cainjector_delay = CAINJECTOR_DELAY
    fk.finalizer_delay = FINALIZER_DELAY
    for node in realrender.kind_nodes():
        fk.put(node)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return realrender.real_bundle(tmp_path_factory.mktemp("real-bundle") / "bundle", _helm(HELM3))


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory, bundle: Path) -> Any:
    helm = _helm(HELM3)
    home = tmp_path_factory.mktemp("real")
    with pytest.MonkeyPatch.context() as monkeypatch, FakeKube(seed=0) as fk:
        _prepare(fk, monkeypatch, home, helm)
        j = Journey(fk, fk.write_kubeconfig(home / "kubeconfig", context=CONTEXT), bundle)
        if j.run("install", "install").exit_code == 0:
            j.after_install = {
                "policy": fk.get("nvidia.com/v1", "ClusterPolicy", "cluster-policy"),
                "webhooks": fk.list("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
                + fk.list("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
            }
            j.run("re-run", "install")
            j.run("plan", "plan")
            j.run("status", "status")
            j.run("uninstall", "uninstall", timeout=15)
            j.after_install["deployments_left"] = fk.list("apps/v1", "Deployment")
        yield j


def _states(step: Step) -> dict[str, str]:
    return {p["phase"]: p["state"] for p in step.summary.get("phases") or []}


def _why(step: Step) -> str:
    failed = [f"{p['phase']}: {p.get('message', '')}" for p in step.summary.get("phases") or []
              if p["state"] not in ("ready", "up-to-date", "removed")]
    return "\n".join(failed) or step.output[-3000:]


def test_install_succeeds_and_the_operators_did_their_part(journey: Journey) -> None:
    install = journey.steps["install"]
    assert install.exit_code == 0, _why(install)
    assert set(_states(install).values()) == {"ready"} and len(install.summary["phases"]) == 9
    assert journey.after_install["policy"]["status"]["state"] == "ready"
    hooks = journey.after_install["webhooks"]
    assert len(hooks) >= 20
    assert all(w["clientConfig"].get("caBundle") for h in hooks for w in h["webhooks"])


def test_rerun_writes_nothing(journey: Journey) -> None:
    again = journey.steps["re-run"]
    assert again.exit_code == 0, _why(again)
    assert set(_states(again).values()) == {"up-to-date"}
    assert again.writes == 0


def _repeated_reads(step: Step) -> list[str]:
    """Inventory LISTs (no selector) and discovery documents asked for more than once in one command."""
    def discovery(path: str) -> bool:
        return path == "/api/v1" or (path.startswith("/apis/") and path.count("/") == 3)

    reads = Counter(r.path for r in step.requests
                    if r.method == "GET" and ((r.verb == "LIST" and not r.query) or discovery(r.path)))
    return [f"{path} x{n}" for path, n in reads.items() if n > 1]


@pytest.mark.parametrize("name", ["re-run", "plan", "status"])
def test_a_read_only_pass_reads_each_kind_once(journey: Journey, name: str) -> None:
    """Phases share one LIST per kind and namespace (CRDs: megabytes of schema) and one discovery request
    per group version: 198 requests before that, ~140 now (kfboot's and Helm's together)."""
    step = journey.steps[name]
    assert _repeated_reads(step) == []
    assert len(step.requests) <= MAX_READ_ONLY_REQUESTS


def test_plan_and_status_read_only(journey: Journey) -> None:
    for name in ("plan", "status"):
        step = journey.steps[name]
        assert step.exit_code == 0, step.output[-2000:]
        assert step.writes == 0


def test_uninstall_removes_every_workload(journey: Journey) -> None:
    removed = journey.steps["uninstall"]
    assert removed.exit_code == 0, _why(removed)
    assert set(_states(removed).values()) == {"removed"}
    assert journey.after_install["deployments_left"] == []


def test_no_write_is_sent_before_its_webhook_can_answer(journey: Journey) -> None:
    """Webhooks refuse writes (500) until their Service answers with a known CA: an installer that waits
    for the right things never sees one, and never relies on retries to get past them."""
    refused = journey.steps["install"].refused_by_webhooks()
    assert refused == [], "\n".join(refused)


GPU_ONLY = """\
apiVersion: kfboot.io/v1alpha1
kind: Platform
components:
  cert-manager: {enabled: false}
  istio: {enabled: false}
  dex: {enabled: false}
  kubeflow: {enabled: false}
  kuberay: {enabled: false}
  kserve: {enabled: false}
"""


def test_gpu_operator_chart_installs_under_helm4(bundle: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    helm = _helm(HELM4)
    config = tmp_path / "kfboot.yaml"
    config.write_text(GPU_ONLY)
    with FakeKube(seed=0) as fk:
        _prepare(fk, monkeypatch, tmp_path, helm)
        j = Journey(fk, fk.write_kubeconfig(tmp_path / "kubeconfig", context=CONTEXT), bundle)
        step = j.run("helm4", "install", "-f", str(config))
        assert step.exit_code == 0, _why(step)
        assert fk.get("nvidia.com/v1", "ClusterPolicy", "cluster-policy")["status"]["state"] == "ready"


CERT_MANAGER_ONLY = """\
apiVersion: kfboot.io/v1alpha1
kind: Platform
components:
  gpu-operator: {enabled: false}
  istio: {enabled: false}
  dex: {enabled: false}
  kubeflow: {enabled: false}
  kuberay: {enabled: false}
  kserve: {enabled: false}
"""


@pytest.mark.parametrize("seed", [7])
def test_real_cert_manager_converges_through_transient_api_failures(bundle: Path, tmp_path: Path, seed: int,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The real cert-manager render (CRDs, webhooks waiting for cainjector) at 10 % transient failures
    (seeded 503/500, 429, dropped connections): the install rides them out, a calm re-run writes nothing.
    benchmarks/bench_faults.py measures the whole platform at 0-20 %."""
    from tests.fakekube import Fault

    config = tmp_path / "kfboot.yaml"
    config.write_text(CERT_MANAGER_ONLY)
    with FakeKube(seed=seed) as fk:
        _prepare(fk, monkeypatch, tmp_path, _helm(HELM3))
        storm = [fk.inject(Fault(verbs=("GET", "LIST"), error_rate=0.08, status=503, drop_rate=0.02)),
                 fk.inject(Fault(verbs=("PATCH", "POST", "PUT", "DELETE"), error_rate=0.06, status=500, drop_rate=0.02)),
                 fk.inject(Fault(verbs=("PATCH",), error_rate=0.02, status=429, retry_after=0))]
        j = Journey(fk, fk.write_kubeconfig(tmp_path / "kubeconfig", context=CONTEXT), bundle)
        stormy = j.run("stormy", "install", "-f", str(config))
        assert sum(h.fired for h in storm) > 5  # the storm really hit
        assert stormy.exit_code == 0, _why(stormy)
        assert _states(stormy)["cert-manager"] == "ready"
        fk.clear_faults()
        calm = j.run("calm", "install", "-f", str(config))
        assert calm.exit_code == 0 and calm.writes == 0, _why(calm)
