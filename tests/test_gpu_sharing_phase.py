"""The gpu-sharing phase against the fake API server, with a small thread playing mig-manager + device plugin."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfboot.config.platform import Platform
from kfboot.engine.phase import PhaseContext
from kfboot.gpu import render
from kfboot.gpu.config import GpuConfig
from kfboot.gpu.plan import DEVICE_PLUGIN_CONFIG_LABEL, MIG_CONFIG_LABEL, PRODUCT_LABEL, GpuPlan, build_plan
from kfboot.gpu.profiles import load_profiles
from kfboot.phases.build import build_phases, deep_merge
from kfboot.phases.gpu_sharing import MIG_STATE_LABEL, GpuSharingPhase
from kfboot.phases.helm_phase import HelmPhase
from kfboot.phases.manifest_phase import ManifestPhase
from kfboot.sources.manifests import LocalManifests
from tests.bed import PHASES, connect, runner

H100 = "NVIDIA-H100-80GB-HBM3"
NS = "gpu-operator"
TRAIN = {"name": "train", "profile": "H100-80GB-SXM",
         "sharing": {"mode": "mig", "mig": {"strategy": "mixed", "config": "all-balanced"}}}
INFER = {"name": "infer", "profile": "L4", "sharing": {"mode": "time-slicing", "timeSlicing": {"replicas": 4}}}
PROFILES = load_profiles()


def make_plan(*pools: dict[str, Any]) -> GpuPlan:
    plan = build_plan(GpuConfig.model_validate({"pools": list(pools)}), PROFILES)
    assert plan.ok, plan.problems
    return plan


class ChartObjects:
    """Stands in for the gpu-operator release: its namespace plus the ConfigMaps the chart creates
    from kfboot's `create: true` values."""

    def __init__(self, plan: GpuPlan) -> None:
        self.objects = [*LocalManifests((PHASES / "gpu-operator-ns",)).render(),
                        render.mig_parted_configmap(plan, NS), render.device_plugin_configmap(plan, NS)]

    def describe(self) -> str:
        return "gpu-operator stand-in"

    def fingerprint(self) -> str:
        return json.dumps(self.objects, sort_keys=True)

    def render(self) -> list[dict[str, Any]]:
        return self.objects


def phases(plan: GpuPlan) -> list[Any]:
    operator = ManifestPhase("gpu-operator", "stand-in", ChartObjects(plan), "1.0")
    return [operator, GpuSharingPhase(plan=plan, version="v26.7.0")]


def mig_label(plan: GpuPlan, pool: str = "train") -> str:
    label = plan.pool(pool).mig_config_label
    assert label is not None
    return label


def node(name: str, product: str | None, **labels: str) -> dict[str, Any]:
    if product:
        labels[PRODUCT_LABEL] = product
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"team": "ml", **labels}},
            "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"}}}


class Operator:
    """Plays mig-manager and the device plugin: reacts to our labels like the real ones, or gets stuck."""

    def __init__(self, fk: Any, plan: GpuPlan, mode: str = "ok", delay: float = 0.05) -> None:
        self.fk, self.plan, self.mode, self.delay = fk, plan, mode, delay
        self.stuck_nodes: set[str] = set()
        self.stop = threading.Event()
        self.applied: dict[str, tuple[str | None, str | None]] = {}
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.wait(self.delay):
            for item in self.fk.list("v1", "Node"):
                self.step(item["metadata"]["name"])

    def step(self, name: str) -> None:
        with self.fk.store.lock:
            obj = self.fk.get("v1", "Node", name)
            labels = obj["metadata"].get("labels") or {}
            seen = (labels.get(MIG_CONFIG_LABEL), labels.get(DEVICE_PLUGIN_CONFIG_LABEL))
            if seen == (None, None) or self.applied.get(name) == seen:
                return
            if seen[0] is None:
                self.applied[name] = seen
            elif self.mode == "stuck" or name in self.stuck_nodes:
                labels[MIG_STATE_LABEL] = "pending"
                self.applied[name] = seen
            elif labels.get(MIG_STATE_LABEL) != "pending":
                labels[MIG_STATE_LABEL] = "pending"  # first pending, then success/failed on the next round
            else:
                labels[MIG_STATE_LABEL] = "failed" if self.mode == "failed" else "success"
                self.applied[name] = seen
            pool = self.plan.pool(seen[1] or "")
            offered = pool.allocatable_per_node() if pool and labels.get(MIG_STATE_LABEL) != "pending" else {}
            if self.mode == "short":
                offered = {res: count // 2 for res, count in offered.items()}
            alloc = obj.setdefault("status", {}).setdefault("allocatable", {})
            for res in [r for r in alloc if r.startswith("nvidia.com/")]:
                del alloc[res]
            alloc.update({res: str(count) for res, count in offered.items()})
            obj["metadata"]["labels"] = labels
            self.fk.put(obj)

    def __enter__(self) -> Operator:
        # like the real mig-manager, react to label *changes* only: what is already applied stays
        for item in self.fk.list("v1", "Node"):
            labels = item["metadata"].get("labels") or {}
            seen = (labels.get(MIG_CONFIG_LABEL), labels.get(DEVICE_PLUGIN_CONFIG_LABEL))
            if seen != (None, None) and (seen[0] is None or labels.get(MIG_STATE_LABEL) == "success"):
                self.applied[item["metadata"]["name"]] = seen
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=2)


@pytest.fixture
def cluster(fake_kube: Any) -> Iterator[Any]:
    for obj in (node("gpu-a", H100), node("gpu-b", H100), node("l4-a", "NVIDIA-L4"), node("cpu-a", None)):
        fake_kube.put(obj)
    yield fake_kube


def labels_of(fk: Any, name: str) -> dict[str, str]:
    return fk.get("v1", "Node", name)["metadata"]["labels"]


def node_patches(fk: Any) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in fk.requests if r.method == "PATCH" and "/nodes/" in r.path]


def test_install_labels_pools_waits_for_mig_manager_and_rerun_writes_nothing(cluster: Any, tmp_path: Path) -> None:
    plan = make_plan(TRAIN, INFER)
    kube = connect(cluster, tmp_path)
    events: list[Any] = []
    with Operator(cluster, plan):
        summary = runner(kube, phases(plan), events, timeout=10).install()
    assert summary.exit_code == 0, summary.to_dict()
    assert [o.state for o in summary.outcomes] == ["ready", "ready"]

    for name in ("gpu-a", "gpu-b"):
        labels = labels_of(cluster, name)
        assert labels[MIG_CONFIG_LABEL] == mig_label(plan) and labels[DEVICE_PLUGIN_CONFIG_LABEL] == "train"
        assert cluster.get("v1", "Node", name)["metadata"]["annotations"]["kfboot.io/gpu-pool"] == "train"
        assert labels["team"] == "ml" and labels[PRODUCT_LABEL] == H100  # other labels untouched
        assert labels[MIG_STATE_LABEL] == "success"
    assert labels_of(cluster, "l4-a")[DEVICE_PLUGIN_CONFIG_LABEL] == "infer"
    assert MIG_CONFIG_LABEL not in labels_of(cluster, "l4-a")  # L4 is not MIG-capable
    assert set(labels_of(cluster, "cpu-a")) == {"team"}
    assert sorted(node_patches(cluster)) == ["gpu-a", "gpu-b", "l4-a"]  # exactly one patch per node
    alloc = cluster.get("v1", "Node", "gpu-a")["status"]["allocatable"]
    assert alloc["nvidia.com/mig-1g.10gb"] == "16"
    cm = cluster.get("v1", "ConfigMap", render.MIG_PARTED_CONFIGMAP, NS)
    assert mig_label(plan) in yaml.safe_load(cm["data"]["config.yaml"])["mig-configs"]
    assert set(cluster.get("v1", "ConfigMap", render.DEVICE_PLUGIN_CONFIGMAP, NS)["data"]) == {
        "default", "train", "infer"}
    assert any(e.kind == "progress" and "labelling node gpu-a" in e.message for e in events)

    cluster.reset_requests()
    again = runner(kube, phases(plan)).install()
    assert [o.state for o in again.outcomes] == ["up-to-date", "up-to-date"]
    assert cluster.write_count() == 0


def test_node_stuck_pending_times_out_with_exit_3_naming_the_node(cluster: Any, tmp_path: Path) -> None:
    plan = make_plan(TRAIN)
    kube = connect(cluster, tmp_path)
    with Operator(cluster, plan) as op:
        op.stuck_nodes.add("gpu-b")
        summary = runner(kube, phases(plan), timeout=1.5).install()
    assert summary.exit_code == 3, summary.to_dict()
    sharing = summary.outcomes[-1]
    assert sharing.state == "timed-out"
    assert f"node gpu-b: {MIG_STATE_LABEL}=pending" in sharing.message
    assert "gpu-a" not in sharing.message  # it reached success
    assert "kubectl logs -n gpu-operator -l app=nvidia-mig-manager" in sharing.message


def test_mig_manager_failure_fails_the_phase_naming_the_node_and_the_log(cluster: Any, tmp_path: Path) -> None:
    plan = make_plan(TRAIN)
    kube = connect(cluster, tmp_path)
    with Operator(cluster, plan, mode="failed"):
        started = time.monotonic()
        summary = runner(kube, phases(plan), timeout=10).install()
    assert time.monotonic() - started < 5  # failed is terminal: no waiting out the deadline
    assert summary.exit_code == 1
    sharing = summary.outcomes[-1]
    assert sharing.state == "failed"
    # failed is terminal at once: the message names the node(s) seen failed by then, with their config
    assert any(f"node {n} (mig.config={mig_label(plan)})" in sharing.message for n in ("gpu-a", "gpu-b"))
    assert "kubectl logs -n gpu-operator -l app=nvidia-mig-manager" in sharing.message


def test_allocatable_mismatch_is_reported_per_node_and_resource(cluster: Any, tmp_path: Path) -> None:
    plan = make_plan(TRAIN, INFER)
    kube = connect(cluster, tmp_path)
    with Operator(cluster, plan, mode="short"):
        summary = runner(kube, phases(plan), timeout=1.5).install()
    assert summary.exit_code == 3
    message = summary.outcomes[-1].message
    assert "node gpu-a: nvidia.com/mig-1g.10gb 8/16" in message
    assert "node l4-a: nvidia.com/gpu 8/16" in message
    # drift check reads the same: the plan says repair, naming the node
    planned = {p.phase.name: p.action for p in runner(kube, phases(plan)).plan()}
    assert planned["gpu-sharing"].kind.value == "install"  # last run failed → resume


def test_changed_geometry_relabels_only_what_changed(cluster: Any, tmp_path: Path) -> None:
    plan = make_plan(TRAIN, INFER)
    kube = connect(cluster, tmp_path)
    with Operator(cluster, plan):
        assert runner(kube, phases(plan), timeout=10).install().exit_code == 0
    # the H100 pool stops using MIG (time-slicing of whole GPUs instead); the L4 pool is unchanged
    ts_train = {**TRAIN, "sharing": {"mode": "time-slicing", "timeSlicing": {"replicas": 2}}}
    new_plan = make_plan(ts_train, INFER)
    cluster.reset_requests()
    with Operator(cluster, new_plan) as op:
        op.applied.update({"l4-a": (None, "infer")})
        summary = runner(kube, phases(new_plan), timeout=10).install()
    assert summary.exit_code == 0, summary.to_dict()
    # the operator's values carry the configs, so it upgrades too (as helm would), then we relabel
    assert [o.action for o in summary.outcomes] == ["upgrade", "upgrade"]
    kfboot_patches = [r for r in cluster.requests if r.method == "PATCH" and "/nodes/" in r.path]
    assert sorted(r.path.rsplit("/", 1)[-1] for r in kfboot_patches) == ["gpu-a", "gpu-b"]
    assert labels_of(cluster, "gpu-a")[MIG_CONFIG_LABEL] == "all-disabled"
    assert labels_of(cluster, "gpu-a")[DEVICE_PLUGIN_CONFIG_LABEL] == "train"
    assert cluster.get("v1", "Node", "gpu-a")["status"]["allocatable"]["nvidia.com/gpu"] == "16"


def test_new_geometry_gets_a_new_label_so_mig_manager_repartitions(cluster: Any, tmp_path: Path) -> None:
    plan = make_plan(TRAIN, INFER)
    kube = connect(cluster, tmp_path)
    with Operator(cluster, plan):
        assert runner(kube, phases(plan), timeout=10).install().exit_code == 0
    ones = make_plan({**TRAIN, "sharing": {"mode": "mig", "mig": {"config": "all-1g.10gb"}}}, INFER)
    assert mig_label(ones) != mig_label(plan)
    cluster.reset_requests()
    with Operator(cluster, ones) as op:
        op.applied.update({"l4-a": (None, "infer")})
        summary = runner(kube, phases(ones), timeout=10).install()
    assert summary.exit_code == 0, summary.to_dict()
    assert sorted(node_patches(cluster)) == ["gpu-a", "gpu-b"]  # the L4 node is left alone
    assert labels_of(cluster, "gpu-a")[MIG_CONFIG_LABEL] == mig_label(ones)
    assert cluster.get("v1", "Node", "gpu-a")["status"]["allocatable"]["nvidia.com/mig-1g.10gb"] == "56"


def test_node_that_leaves_every_pool_loses_only_our_labels(cluster: Any, tmp_path: Path) -> None:
    plan = make_plan(TRAIN, INFER)
    kube = connect(cluster, tmp_path)
    with Operator(cluster, plan):
        assert runner(kube, phases(plan), timeout=10).install().exit_code == 0
    pinned = make_plan({**TRAIN, "nodes": ["gpu-a"]}, INFER)
    planned = {p.phase.name: p.action for p in runner(kube, phases(pinned)).plan()}
    assert planned["gpu-sharing"].kind.value == "upgrade"
    drift = GpuSharingPhase(plan=pinned, version="v26.7.0").check(PhaseContext(kube), [])
    assert [str(p) for p in drift if "gpu-b" in str(p)] == [
        "node gpu-b: was labelled for pool train, which no longer selects it"]
    with Operator(cluster, pinned) as op:
        op.applied.update({"gpu-a": (mig_label(pinned), "train"), "l4-a": (None, "infer")})
        assert runner(kube, phases(pinned), timeout=10).install().exit_code == 0
    assert MIG_CONFIG_LABEL not in labels_of(cluster, "gpu-b")
    assert DEVICE_PLUGIN_CONFIG_LABEL not in labels_of(cluster, "gpu-b")
    assert "kfboot.io/gpu-pool" not in cluster.get("v1", "Node", "gpu-b")["metadata"].get("annotations", {})
    assert labels_of(cluster, "gpu-a")[MIG_CONFIG_LABEL] == mig_label(pinned)


def test_pool_matching_no_node_is_drift(cluster: Any, tmp_path: Path) -> None:
    plan = make_plan(TRAIN, INFER)
    kube = connect(cluster, tmp_path)
    with Operator(cluster, plan):
        assert runner(kube, phases(plan), timeout=10).install().exit_code == 0
    cluster.remove("v1", "Node", "l4-a")
    cluster.put(node("cpu-b", None, **{DEVICE_PLUGIN_CONFIG_LABEL: "someone-elses"}))
    planned = {p.phase.name: p.action for p in runner(kube, phases(plan)).plan()}
    assert planned["gpu-sharing"].kind.value == "repair"
    assert any("pool infer: matches no node (nvidia.com/gpu.product=NVIDIA-L4)" in d
               for d in planned["gpu-sharing"].details)


def test_dry_run_labels_nothing(cluster: Any, tmp_path: Path) -> None:
    plan = make_plan(TRAIN, INFER)
    kube = connect(cluster, tmp_path)
    cluster.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    events: list[Any] = []
    summary = runner(kube, phases(plan), events).install(dry_run=True)
    assert summary.exit_code == 0, summary.to_dict()
    assert node_patches(cluster) == []
    assert cluster.get("v1", "ConfigMap", render.MIG_PARTED_CONFIGMAP, NS) is None
    assert any("dry run: would label node gpu-a" in e.message for e in events if e.kind == "progress")


def test_uninstall_removes_only_our_labels(cluster: Any, tmp_path: Path) -> None:
    plan = make_plan(TRAIN, INFER)
    kube = connect(cluster, tmp_path)
    with Operator(cluster, plan):
        assert runner(kube, phases(plan), timeout=10).install().exit_code == 0
    cluster.put(node("cpu-b", None, **{DEVICE_PLUGIN_CONFIG_LABEL: "someone-elses"}))
    summary = runner(kube, phases(plan), timeout=10).uninstall(["gpu-sharing"])
    assert summary.exit_code == 0, summary.to_dict()
    for name in ("gpu-a", "gpu-b", "l4-a"):
        labels = labels_of(cluster, name)
        assert MIG_CONFIG_LABEL not in labels and DEVICE_PLUGIN_CONFIG_LABEL not in labels
        assert labels["team"] == "ml"
    assert labels_of(cluster, "gpu-a")[PRODUCT_LABEL] == H100
    assert labels_of(cluster, "cpu-b")[DEVICE_PLUGIN_CONFIG_LABEL] == "someone-elses"
    # the ConfigMaps belong to the gpu-operator release (chart-created): they go when it is uninstalled
    assert cluster.get("v1", "ConfigMap", render.MIG_PARTED_CONFIGMAP, NS) is not None


# --- wiring (pure) ----------------------------------------------------------------------------------

# gpu.md §4: keys the GPU Operator chart reads in both pinned versions (v26.7.0, v26.3.3)
CHART_KEYS = {
    "mig.strategy", "migManager.enabled", "migManager.config.name", "migManager.config.default",
    "migManager.config.create", "migManager.config.data",
    "devicePlugin.config.name", "devicePlugin.config.default", "devicePlugin.config.create",
    "devicePlugin.config.data",
}


def _dotted(values: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for key, value in values.items():
        nested = isinstance(value, dict) and key != "data"  # config data is opaque to the chart
        out |= _dotted(value, f"{prefix}{key}.") if nested else {f"{prefix}{key}"}
    return out


@pytest.mark.parametrize("version", ["v26.7.0", "v26.3.3"])
def test_gpu_operator_values_are_valid_chart_keys(version: str) -> None:
    platform = Platform.model_validate({
        "components": {"gpu-operator": {"version": version, "values": {"mig": {"strategy": "single"},
                                                                       "driver": {"enabled": False}}}},
        "gpu": {"pools": [TRAIN, INFER]}})
    built = {p.name: p for p in build_phases(platform)}
    operator, sharing = built["gpu-operator"], built["gpu-sharing"]
    assert isinstance(operator, HelmPhase) and isinstance(sharing, GpuSharingPhase)
    assert sharing.needs == ("gpu-operator",) and sharing.version == version
    names = [p.name for p in build_phases(platform)]
    assert names.index("gpu-sharing") == names.index("gpu-operator") + 1
    generated = _dotted(render.helm_values(sharing.plan, embed=True))
    assert generated <= CHART_KEYS, generated - CHART_KEYS
    assert "operator.defaultRuntime" not in _dotted(operator.values)  # removed in v25.3.0
    values = operator.values
    assert values["mig"]["strategy"] == "single"  # the user's value wins
    assert values["driver"] == {"enabled": False}
    mig_cfg, plugin_cfg = values["migManager"]["config"], values["devicePlugin"]["config"]
    assert (mig_cfg["name"], mig_cfg["default"], mig_cfg["create"]) == (render.MIG_PARTED_CONFIGMAP, "all-disabled", True)
    assert (plugin_cfg["name"], plugin_cfg["default"], plugin_cfg["create"]) == (render.DEVICE_PLUGIN_CONFIGMAP, "default", True)
    # the chart creates the ConfigMaps with exactly what kfboot renders (key config.yaml for mig-manager)
    assert mig_cfg["data"] == render.mig_parted_configmap(sharing.plan)["data"]
    assert plugin_cfg["data"] == render.device_plugin_configmap(sharing.plan)["data"]
    assert values["migManager"]["config"]["default"] in yaml.safe_load(
        render.mig_parted_configmap(sharing.plan)["data"]["config.yaml"])["mig-configs"]
    assert values["devicePlugin"]["config"]["default"] in render.device_plugin_configmap(sharing.plan)["data"]


def test_no_pools_or_disabled_operator_adds_no_phase() -> None:
    assert "gpu-sharing" not in [p.name for p in build_phases(Platform())]
    off = Platform.model_validate({"components": {"gpu-operator": {"enabled": False}}, "gpu": {"pools": [TRAIN]}})
    assert "gpu-sharing" not in [p.name for p in build_phases(off)]


def test_deep_merge_lets_the_user_win_per_key() -> None:
    base = {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    assert deep_merge(base, {"a": {"c": {"d": 9}}, "f": 4}) == {"a": {"b": 1, "c": {"d": 9}}, "e": 3, "f": 4}
    assert base["a"]["c"]["d"] == 2  # inputs are not modified


def test_describe_lists_labels_values_and_capacity() -> None:
    platform = Platform.model_validate({"gpu": {"pools": [TRAIN, INFER]}})
    sharing = next(p for p in build_phases(platform) if p.name == "gpu-sharing")
    text = "\n".join(sharing.describe())
    assert "label nodes of pool train (nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3)" in text
    assert "mig.strategy=mixed" in text and "migManager.config.name=kfboot-mig-parted-config" in text
    assert "capacity: train:" in text and "16 × nvidia.com/mig-1g.10gb" in text
