"""The engine against the fake API server over real HTTP: ordering, idempotency, drift, resume, locks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from kfboot.errors import LockHeld
from kfboot.k8s.lease import LeaseLock
from kfboot.phases.state_store import STATE_NAME, STATE_NAMESPACE, ConfigMapStateStore
from tests.bed import PHASES, connect, local_phases, runner
from tests.fakekube import Fault


def _operator_with(tmp_path: Path, extra_manifest: str) -> Path:
    """A copy of the operator phase's manifests plus one more document (to provoke a failure)."""
    bad = tmp_path / "operator"
    shutil.copytree(PHASES / "operator", bad)
    (bad / "50-extra.yaml").write_text(extra_manifest)
    return bad


def _index(requests, method: str, fragment: str) -> int:
    for i, r in enumerate(requests):
        if r.method == method and fragment in r.path:
            return i
    raise AssertionError(f"no {method} request to {fragment}")


def test_fresh_install_orders_crds_webhooks_and_crs(fake_kube, tmp_path: Path) -> None:
    fake_kube.ready_delay = 0.2
    kube = connect(fake_kube, tmp_path)
    summary = runner(kube, local_phases()).install()

    assert summary.exit_code == 0, summary.to_dict()
    assert [o.state for o in summary.outcomes] == ["ready", "ready"]
    reqs = fake_kube.requests
    crd_apply = _index(reqs, "PATCH", "customresourcedefinitions/widgets.demo.kfboot.io")
    deploy_apply = _index(reqs, "PATCH", "deployments/widget-controller")
    slices = _index(reqs, "GET", "/endpointslices")
    webhook_apply = _index(reqs, "PATCH", "validatingwebhookconfigurations/widget-validator")
    widget_apply = _index(reqs, "PATCH", "widgets/default-widget")
    assert crd_apply < deploy_apply < slices < webhook_apply < widget_apply
    # the webhook is applied only once its Service has a ready endpoint
    assert any(r.method == "GET" and "/endpointslices" in r.path for r in reqs[:webhook_apply])
    assert fake_kube.get("demo.kfboot.io/v1", "Widget", "app-widget", "widget-app") is not None
    state = fake_kube.get("v1", "ConfigMap", STATE_NAME, STATE_NAMESPACE)
    operator = json.loads(state["data"]["operator"])
    assert operator["status"] == "ready"
    assert {"apiVersion": "apps/v1", "kind": "Deployment", "name": "widget-controller",
            "namespace": "widgets-system"} in operator["inventory"]
    assert fake_kube.get("coordination.k8s.io/v1", "Lease", "kfboot-lock", STATE_NAMESPACE) is None  # released


def test_rerun_on_converged_cluster_writes_nothing(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    assert runner(kube, local_phases()).install().exit_code == 0
    fake_kube.reset_requests()

    summary = runner(kube, local_phases()).install()

    assert summary.exit_code == 0
    assert [o.state for o in summary.outcomes] == ["up-to-date", "up-to-date"]
    assert fake_kube.write_count() == 0
    assert all(r.method == "GET" for r in fake_kube.requests)


def test_missing_object_is_drift_and_gets_repaired(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    runner(kube, local_phases()).install()
    fake_kube.remove("apps/v1", "StatefulSet", "widget-store", "widget-app")

    planned = {p.phase.name: p.action for p in runner(kube, local_phases()).plan()}
    assert planned["operator"].kind.value == "up-to-date"
    assert planned["app"].kind.value == "repair"
    assert "StatefulSet widget-app/widget-store: missing" in planned["app"].details

    summary = runner(kube, local_phases()).install()
    assert [o.action for o in summary.outcomes] == ["up-to-date", "repair"]
    assert fake_kube.get("apps/v1", "StatefulSet", "widget-store", "widget-app") is not None


def test_unready_workload_is_drift(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    runner(kube, local_phases()).install()
    dep = fake_kube.get("apps/v1", "Deployment", "widget-controller", "widgets-system")
    dep["status"]["availableReplicas"] = 0
    fake_kube.hold_unready("Deployment", "widgets-system", "widget-controller")
    fake_kube.put(dep)

    planned = {p.phase.name: p.action for p in runner(kube, local_phases()).plan()}
    assert planned["operator"].kind.value == "repair"
    assert any("not ready" in d for d in planned["operator"].details)


def test_changed_manifests_upgrade_and_prune_removed_objects(fake_kube, tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(PHASES / "app", app_dir)
    kube = connect(fake_kube, tmp_path)
    runner(kube, local_phases(app_dir=app_dir)).install()
    text = (app_dir / "app.yaml").read_text()
    (app_dir / "app.yaml").write_text(text.split("---\napiVersion: demo.kfboot.io/v1")[0])  # drop the Widget

    summary = runner(kube, local_phases(app_dir=app_dir)).install()

    assert [o.action for o in summary.outcomes] == ["up-to-date", "upgrade"]
    assert fake_kube.get("demo.kfboot.io/v1", "Widget", "app-widget", "widget-app") is None
    record = ConfigMapStateStore(kube).load()["app"]
    assert all(ref.kind != "Widget" for ref in record.inventory)


def test_timeout_names_what_it_waited_for_then_resume_converges(fake_kube, tmp_path: Path) -> None:
    fake_kube.hold_unready("StatefulSet", "widget-app", "widget-store")
    kube = connect(fake_kube, tmp_path)

    summary = runner(kube, local_phases(), timeout=1.0).install()

    assert summary.exit_code == 3
    app = summary.outcomes[1]
    assert app.state == "timed-out"
    assert "StatefulSet widget-app/widget-store" in app.message and "replicas ready" in app.message
    assert ConfigMapStateStore(kube).load()["app"].status == "failed"

    fake_kube.release("StatefulSet", "widget-app", "widget-store")
    planned = {p.phase.name: p.action for p in runner(kube, local_phases()).plan()}
    assert planned["app"].reason.startswith("resume: last run failed")
    summary = runner(kube, local_phases()).install()
    assert summary.exit_code == 0
    assert [o.state for o in summary.outcomes] == ["up-to-date", "ready"]


def test_failure_cancels_dependents_with_the_cause(fake_kube, tmp_path: Path) -> None:
    bad = _operator_with(tmp_path, "apiVersion: v1\nkind: NoSuchKind\nmetadata: {name: x, namespace: widgets-system}\n")
    kube = connect(fake_kube, tmp_path)

    summary = runner(kube, local_phases(operator_dir=bad)).install()

    assert summary.exit_code == 1
    operator, app = summary.outcomes
    assert operator.state == "failed" and "NoSuchKind" in operator.message
    assert app.state == "cancelled" and "needs operator, which failed" in app.message


def test_second_run_fails_fast_naming_the_lock_holder(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    ConfigMapStateStore(kube).ensure()
    other = LeaseLock(kube, STATE_NAMESPACE, identity="alice@laptop/pid-1/abcd", renew_every=3600)
    other.acquire()
    try:
        summary = runner(kube, local_phases()).install()
        uninstalled = runner(kube, local_phases()).uninstall()  # nothing recorded yet: the lock is still checked
    finally:
        other.release()
    # the summary still lists every phase, none started, and names the holder
    assert summary.exit_code == LockHeld.exit_code == 1
    assert "alice@laptop/pid-1/abcd" in summary.message and summary.hint
    assert summary.outcomes and all(o.state in ("cancelled", "skipped", "up-to-date") for o in summary.outcomes)
    assert uninstalled.exit_code == 1 and "alice@laptop/pid-1/abcd" in uninstalled.message
    assert runner(kube, local_phases()).install().exit_code == 0


def test_stale_lock_is_taken_over_with_a_warning(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    ConfigMapStateStore(kube).ensure()
    fake_kube.put({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "kfboot-lock", "namespace": STATE_NAMESPACE},
        "spec": {"holderIdentity": "bob@ci/pid-7/ffff", "leaseDurationSeconds": 60,
                 "acquireTime": "2020-01-01T00:00:00.000000Z", "renewTime": "2020-01-01T00:00:00.000000Z"},
    })
    warnings: list[str] = []

    summary = runner(kube, local_phases(), warnings=warnings).install()

    assert summary.exit_code == 0
    assert any("stale lock from bob@ci/pid-7/ffff" in w for w in warnings)


def test_transient_faults_are_retried_until_success(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    fake_kube.inject(Fault(verbs=("PATCH",), error_rate=0.3, status=503))
    fake_kube.inject(Fault(verbs=("GET", "LIST"), drop_rate=0.1))
    fake_kube.inject(Fault(verbs=("PATCH",), error_rate=0.2, status=429, retry_after=0))

    summary = runner(kube, local_phases()).install()

    assert summary.exit_code == 0, summary.to_dict()
    assert kube.retries > 0
    assert fake_kube.get("demo.kfboot.io/v1", "Widget", "default-widget", "widgets-system") is not None


def test_validation_errors_are_not_retried(fake_kube, tmp_path: Path) -> None:
    bad = _operator_with(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_A_Valid_Name!, namespace: widgets-system}\n")
    kube = connect(fake_kube, tmp_path)
    fake_kube.inject(Fault(verbs=("PATCH",), error_rate=1.0, status=422, path_contains="Not_A_Valid_Name"))

    summary = runner(kube, local_phases(operator_dir=bad)).install()

    assert summary.outcomes[0].state == "failed"
    assert "Not_A_Valid_Name" in summary.outcomes[0].message
    attempts = [r for r in fake_kube.requests if r.method == "PATCH" and "Not_A_Valid_Name" in r.path]
    assert len(attempts) == 1


def test_uninstall_removes_in_reverse_order_and_keeps_crds(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    runner(kube, local_phases()).install()
    fake_kube.reset_requests()

    summary = runner(kube, local_phases()).uninstall()

    assert summary.exit_code == 0, summary.to_dict()
    assert [o.phase for o in summary.outcomes] == ["app", "operator"]
    assert fake_kube.get("v1", "Namespace", "widget-app") is None
    assert fake_kube.get("apps/v1", "Deployment", "widget-controller", "widgets-system") is None
    assert fake_kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.demo.kfboot.io")
    deletes = [r.path for r in fake_kube.requests if r.method == "DELETE"]
    assert deletes.index(next(p for p in deletes if "statefulsets" in p)) < deletes.index(
        next(p for p in deletes if "validatingwebhookconfigurations" in p))
    records = ConfigMapStateStore(kube).load()
    assert records["app"].status == records["operator"].status == "uninstalled"


def test_uninstall_reports_objects_stuck_on_finalizers(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    runner(kube, local_phases()).install()
    widget = fake_kube.get("demo.kfboot.io/v1", "Widget", "app-widget", "widget-app")
    widget["metadata"]["finalizers"] = ["demo.kfboot.io/cleanup"]
    fake_kube.put(widget)

    summary = runner(kube, local_phases(), timeout=1.0).uninstall(["app"])

    app = summary.outcomes[0]
    assert app.state == "failed"
    assert "demo.kfboot.io/cleanup" in app.message


def test_misspelled_field_is_rejected_not_dropped(fake_kube, tmp_path: Path) -> None:
    bad = _operator_with(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo, namespace: widgets-system}\ndatta: {a: b}\n")
    kube = connect(fake_kube, tmp_path)

    summary = runner(kube, local_phases(operator_dir=bad)).install()

    operator = summary.outcomes[0]
    assert operator.state == "failed"
    assert "ConfigMap widgets-system/typo" in operator.message and "datta" in operator.message
