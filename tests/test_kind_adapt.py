"""On a kind cluster install chooses by itself, and the plan says so: the m2m-dex-and-kind overlay, modest
replicas, and a GPU Operator fitted to the nodes (skipped without GPUs; driver and toolkit off with them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.config.platform import Platform
from kfboot.engine.plan import ActionKind, decide_install
from kfboot.kind.adapt import NO_GPU_REASON, adapt_platform, has_gpu_nodes
from kfboot.phases.kind_replicas import modest_replicas
from kfboot.session import Session, Sources, Target
from tests.bed import MANIFESTS

UPSTREAM = Path(__file__).resolve().parents[2] / "shared" / "upstream" / "kubeflow-manifests-26.03"
RUNTIME_CLASS = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"},
                 "handler": "nvidia"}


def upstream(path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((UPSTREAM / f"{path}.yaml").read_text()) if d]


def test_modest_replicas_on_the_real_render() -> None:
    objects = upstream("common/oauth2-proxy/overlays/m2m-dex-and-kind") + upstream(
        "common/istio/istio-install/overlays/oauth2-proxy")
    capped, changed = modest_replicas(objects)
    assert "Deployment oauth2-proxy/oauth2-proxy: replicas 2 → 1" in changed
    assert "HorizontalPodAutoscaler istio-system/istiod: maxReplicas 5 → 1" in changed
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in capped}
    assert by_name[("Deployment", "oauth2-proxy")]["spec"]["replicas"] == 1
    assert by_name[("HorizontalPodAutoscaler", "istio-ingressgateway")]["spec"]["maxReplicas"] == 1
    untouched = [a for a, b in zip(objects, capped, strict=True) if a is b]
    assert len(untouched) == len(objects) - len(changed)  # everything else is the very same object
    assert next(o for o in objects if o["metadata"]["name"] == "oauth2-proxy" and o["kind"] == "Deployment")[
        "spec"]["replicas"] == 2


def test_the_transform_reports_what_it_capped_and_feeds_the_digest() -> None:
    from types import SimpleNamespace

    from kfboot.phases.kind_replicas import ModestReplicas

    said: list[str] = []
    transform = ModestReplicas()
    out = transform(SimpleNamespace(progress=said.append), upstream("common/oauth2-proxy/overlays/m2m-dex-and-kind"))
    assert said == ["kind cluster: Deployment oauth2-proxy/oauth2-proxy: replicas 2 → 1"]
    assert {o["metadata"]["name"]: o["spec"]["replicas"] for o in out if o["kind"] == "Deployment"}["oauth2-proxy"] == 1
    assert transform.fingerprint() == {"kindModestReplicas": 1}


def test_gpu_nodes_are_recognised() -> None:
    labelled = {"metadata": {"name": "w", "labels": {"nvidia.com/gpu.present": "true"}}}
    pci = {"metadata": {"name": "w", "labels": {"feature.node.kubernetes.io/pci-10de.present": "true"}}}
    plain = {"metadata": {"name": "w", "labels": {"kubernetes.io/os": "linux"}}}
    assert has_gpu_nodes([plain, labelled], False) and has_gpu_nodes([pci], False)
    assert has_gpu_nodes([plain], True) and not has_gpu_nodes([plain], False)


def test_without_gpu_nodes_the_gpu_operator_is_skipped_and_says_why() -> None:
    adapted = adapt_platform(Platform(), gpu_nodes=False)
    assert adapted.platform.components.gpu_operator.enabled is False
    assert adapted.skip_reasons == {"gpu-operator": NO_GPU_REASON}
    assert NO_GPU_REASON in adapted.notes
    assert Platform().components.gpu_operator.enabled  # the user's platform is not changed


def test_with_gpu_nodes_driver_and_toolkit_are_off_but_user_values_win() -> None:
    adapted = adapt_platform(Platform(), gpu_nodes=True)
    assert adapted.platform.components.gpu_operator.values == {"driver": {"enabled": False},
                                                               "toolkit": {"enabled": False}}
    assert any("driver.enabled=false, toolkit.enabled=false" in n for n in adapted.notes)
    mine = Platform.model_validate({"components": {"gpu-operator": {"values": {
        "toolkit": {"enabled": True}, "cdi": {"enabled": True}}}}})
    values = adapt_platform(mine, gpu_nodes=True).platform.components.gpu_operator.values
    assert values == {"driver": {"enabled": False}, "toolkit": {"enabled": True}, "cdi": {"enabled": True}}


def test_a_component_the_user_disabled_stays_disabled_without_kind_notes() -> None:
    mine = Platform.model_validate({"components": {"gpu-operator": {"enabled": False}, "dex": {"enabled": False}}})
    adapted = adapt_platform(mine, gpu_nodes=False)
    assert adapted.skip_reasons == {}
    assert not any("GPU Operator" in n or "m2m-dex-and-kind" in n for n in adapted.notes)


def test_a_disabled_reason_replaces_disabled_in_config() -> None:
    action = decide_install(enabled=False, version="v1", digest="d", record=None, problems=None,
                            disabled_reason=NO_GPU_REASON)
    assert action.kind is ActionKind.SKIP and action.reason == NO_GPU_REASON


def _plan(fake_kube: Any, tmp_path: Path, context: str) -> dict[str, Any]:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context=context)
    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", context, "-o", "json",
                                      "plan", "--manifests", str(MANIFESTS)])
    assert result.exit_code == 0, result.output
    [plan] = [json.loads(line) for line in result.stdout.splitlines()]
    return plan


def _phase(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in plan["phases"] if p["phase"] == name)


def test_plan_on_kind_without_gpus(fake_kube: Any, tmp_path: Path) -> None:
    plan = _plan(fake_kube, tmp_path, "kind-ci")
    assert NO_GPU_REASON in plan["notes"]
    gpu = _phase(plan, "gpu-operator")
    assert gpu["action"] == "skip" and gpu["reason"] == NO_GPU_REASON
    dex_steps = _phase(plan, "dex")["steps"]
    assert "common/oauth2-proxy/overlays/m2m-dex-and-kind" in dex_steps[0]
    assert any("at most 1 replica" in s for s in dex_steps)


def test_plan_on_kind_with_gpus(fake_kube: Any, tmp_path: Path) -> None:
    fake_kube.put(RUNTIME_CLASS)
    plan = _plan(fake_kube, tmp_path, "kind-gpu")
    gpu = _phase(plan, "gpu-operator")
    assert gpu["action"] == "install"
    assert any("driver.enabled=false, toolkit.enabled=false" in n for n in plan["notes"])
    assert "with 2 top-level value override(s): driver, toolkit" in gpu["steps"]


def test_plan_on_another_cluster_changes_nothing(fake_kube: Any, tmp_path: Path) -> None:
    plan = _plan(fake_kube, tmp_path, "prod")
    assert plan["notes"] == []
    assert _phase(plan, "gpu-operator")["action"] == "install"
    assert "m2m-dex-only" in _phase(plan, "dex")["steps"][0]
    assert not any("replica" in s for p in plan["phases"] for s in p["steps"])


def test_text_plan_says_so(fake_kube: Any, tmp_path: Path) -> None:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-ci")
    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-ci", "plan",
                                      "--manifests", str(MANIFESTS)])
    assert f"note: {NO_GPU_REASON}\n" in result.stdout
    assert f"gpu-operator        v26.7.0   skip       {NO_GPU_REASON}" in result.stdout


@pytest.mark.parametrize("kind", [True, False])
def test_offline_kind_sessions_assume_gpu_nodes_may_exist(kind: bool) -> None:
    session = Session(target=Target(), sources=Sources(), offline=True, kind=kind)
    operator = next(p for p in session.phases if p.name == "gpu-operator")
    assert operator.enabled
    assert (operator.values == {"driver": {"enabled": False}, "toolkit": {"enabled": False}}) is kind
    assert bool(session.notes) is kind


def test_install_on_kind_announces_its_choices(fake_kube: Any, tmp_path: Path) -> None:
    from tests.bed import ONLY_CERT_MANAGER

    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-ci")
    config = tmp_path / "kfboot.yaml"
    config.write_text(ONLY_CERT_MANAGER)
    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-ci", "-o", "json",
                                      "install", "-f", str(config), "--manifests", str(MANIFESTS)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    notes = [e["message"] for e in events if e["event"] == "note"]
    assert notes == ["kind cluster: modest replicas (at most 1 per Deployment, StatefulSet and HorizontalPodAutoscaler)"]
    assert events[-1]["event"] == "summary" and events[-1]["ok"]
