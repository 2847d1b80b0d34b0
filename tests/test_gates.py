"""Catalog readiness gates (a CR's status field, a DaemonSet only where GPU nodes exist) against the fake."""

from __future__ import annotations

from pathlib import Path

from kfboot.config.catalog import Gate
from kfboot.phases.manifest_phase import ManifestPhase
from kfboot.sources.manifests import LocalManifests
from tests.bed import PHASES, connect, runner

STATE_READY = Gate.model_validate({"condition": {
    "apiVersion": "demo.kfboot.io/v1", "kind": "Widget", "namespace": "widgets-system", "name": "default-widget",
    "field": "status.state", "equals": "ready"}})
VALIDATOR = Gate.model_validate({"condition": {
    "apiVersion": "apps/v1", "kind": "DaemonSet", "namespace": "widgets-system", "name": "validator",
    "whenNodes": "nvidia.com/gpu.present=true"}})


def _phase(*gates: Gate) -> ManifestPhase:
    return ManifestPhase("operator", "Widget operator", LocalManifests((PHASES / "operator",)), "1.0",
                         gates=list(gates))


def test_status_field_gate_waits_for_the_value(fake_kube, tmp_path: Path) -> None:
    fake_kube.ready_delay = 0.3
    fake_kube.on_create("Widget", lambda _fk, _obj: {"state": "ready"})
    kube = connect(fake_kube, tmp_path)
    summary = runner(kube, [_phase(STATE_READY)]).install()
    assert summary.exit_code == 0, summary.to_dict()


def test_status_field_gate_times_out_saying_what_it_saw(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    summary = runner(kube, [_phase(STATE_READY)], timeout=1.0).install()
    assert summary.exit_code == 3
    assert "Widget widgets-system/default-widget" in summary.outcomes[0].message
    assert "status.state is None, want 'ready'" in summary.outcomes[0].message


def test_node_conditional_gate_is_skipped_without_gpu_nodes(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    assert runner(kube, [_phase(VALIDATOR)]).install().exit_code == 0


def test_node_conditional_gate_applies_when_gpu_nodes_exist(fake_kube, tmp_path: Path) -> None:
    fake_kube.put({"apiVersion": "v1", "kind": "Node",
                   "metadata": {"name": "gpu-1", "labels": {"nvidia.com/gpu.present": "true"}}})
    kube = connect(fake_kube, tmp_path)
    summary = runner(kube, [_phase(VALIDATOR)], timeout=1.0).install()
    assert summary.exit_code == 3
    assert "DaemonSet widgets-system/validator: does not exist" in summary.outcomes[0].message
