"""Rendered configs parse back and pass the upstream loaders; hand-made bad configs fail with upstream errors."""

from __future__ import annotations

import pytest
import yaml

from kfboot.gpu import render, upstream
from kfboot.gpu.config import GpuConfig
from kfboot.gpu.plan import build_plan

POOLS = [
    {"name": "h100-train", "profile": "H100-80GB-SXM", "nodeCount": 2,
     "sharing": {"mode": "mig", "mig": {"config": "all-balanced"}}},
    {"name": "h100-mix", "profile": "H100-80GB-SXM", "nodes": ["a"], "sharing": {
        "mode": "mig+time-slicing", "timeSlicing": {"replicas": 2, "renameByDefault": True},
        "mig": {"geometry": {"0-3": "3g.40gb=2", "4-6": {"1g.10gb": 7}, "7": "disabled"}}}},
    {"name": "a100-single", "profile": "A100-40GB", "nodeSelector": {"pool": "s"}, "nodeCount": 1,
     "sharing": {"mode": "mig", "mig": {"strategy": "single", "config": "all-1g.5gb"}}},
    {"name": "l4", "profile": "L4", "nodeCount": 1, "sharing": {"mode": "time-slicing", "timeSlicing": {"replicas": 4}}},
    {"name": "a30", "profile": "A30", "nodeCount": 1},
]


@pytest.fixture()
def plan(profiles):
    result = build_plan(GpuConfig.model_validate({"pools": POOLS}), profiles)
    assert result.ok, result.problems
    return result


def test_mig_parted_round_trip(plan, profiles):
    text = render.to_yaml(render.render_mig_parted(plan))
    data = yaml.safe_load(text)
    assert upstream.mig_parted_error(data) is None
    configs = data["mig-configs"]
    names = {p.name: p.mig_config_label for p in plan.pools}
    assert list(configs) == ["all-disabled", names["h100-train"], names["h100-mix"], names["a100-single"]]
    assert all(names[p].startswith(p + "-") and len(names[p]) == len(p) + 7
               for p in ("h100-train", "h100-mix", "a100-single"))
    assert configs[names["h100-train"]] == [{"device-filter": ["0x233010DE"], "devices": "all", "mig-enabled": True,
                                      "mig-devices": {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1}}]
    mix = configs[names["h100-mix"]]
    assert [e["devices"] for e in mix] == [[0, 1, 2, 3], [4, 5, 6], [7]]
    assert mix[2] == {"device-filter": ["0x233010DE"], "devices": [7], "mig-enabled": False}
    for entries in configs.values():  # only keys mig-parted accepts
        for entry in entries:
            assert set(entry) <= {"device-filter", "devices", "mig-enabled", "mig-devices"}


def test_device_plugin_round_trip(plan):
    cm = yaml.safe_load(render.to_yaml(render.device_plugin_configmap(plan)))
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == render.DEVICE_PLUGIN_CONFIGMAP
    assert set(cm["data"]) == {"default", "h100-train", "h100-mix", "a100-single", "l4", "a30"}
    for key, text in cm["data"].items():
        config = yaml.safe_load(text)
        assert upstream.device_plugin_error(config) is None, key
        assert upstream.lint_device_plugin_config(config) == [], key
        assert "selector" not in text
    mix = yaml.safe_load(cm["data"]["h100-mix"])
    assert mix["flags"] == {"migStrategy": "mixed"}
    assert [r["name"] for r in mix["sharing"]["timeSlicing"]["resources"]] == [
        "nvidia.com/mig-3g.40gb", "nvidia.com/mig-1g.10gb", "nvidia.com/gpu"]
    assert yaml.safe_load(cm["data"]["a100-single"])["flags"]["migStrategy"] == "single"
    assert "sharing" not in yaml.safe_load(cm["data"]["a30"])


def test_labels_and_helm_values(plan):
    labels = render.node_labels(plan)
    assert labels["h100-train"] == {"nvidia.com/mig.config": plan.pool("h100-train").mig_config_name,
                                    "nvidia.com/device-plugin.config": "h100-train"}
    assert labels["l4"] == {"nvidia.com/device-plugin.config": "l4"}
    assert labels["a30"]["nvidia.com/mig.config"] == "all-disabled"  # MIG-capable but not using MIG
    values = render.helm_values(plan)
    assert values["mig"] == {"strategy": "mixed"}
    assert values["migManager"]["config"] == {"name": "kfboot-mig-parted-config", "default": "all-disabled"}
    assert values["devicePlugin"]["config"] == {"name": "kfboot-device-plugin-config", "default": "default"}
    embedded = render.helm_values(plan, embed=True)
    assert embedded["migManager"]["config"]["create"] is True
    assert "config.yaml" in embedded["migManager"]["config"]["data"]


def test_capacity_sentences(plan):
    lines = render.capacity(plan).lines()
    assert lines[0] == ("h100-train: 16 × H100-80GB-SXM, all-balanced → 32 × nvidia.com/mig-1g.10gb, "
                        "16 × nvidia.com/mig-2g.20gb, 16 × nvidia.com/mig-3g.40gb")
    assert lines[1] == ("h100-mix: 8 × H100-80GB-SXM, GPU 0-3: 3g.40gb=2; GPU 4-6: 1g.10gb=7; GPU 7: MIG disabled, "
                        "2 replicas → 2 × nvidia.com/gpu.shared (shared), 42 × nvidia.com/mig-1g.10gb.shared (shared), "
                        "16 × nvidia.com/mig-3g.40gb.shared (shared)")
    assert lines[2] == ("a100-single: 8 × A100-40GB, all-1g.5gb, single strategy → "
                        "56 × nvidia.com/gpu (MIG 1g.5gb)")
    assert lines[3] == "l4: 4 × L4, 4 replicas → 16 × nvidia.com/gpu (shared)"
    assert lines[4] == "a30: 4 × A30 → 4 × nvidia.com/gpu"
    assert lines[5].startswith("total: 76 × nvidia.com/gpu (partly shared), 2 × nvidia.com/gpu.shared (shared), ")


def test_allocatable_per_node(plan):
    assert plan.pool("h100-train").allocatable_per_node() == {
        "nvidia.com/mig-1g.10gb": 16, "nvidia.com/mig-2g.20gb": 8, "nvidia.com/mig-3g.40gb": 8}
    assert plan.pool("l4").allocatable_per_node() == {"nvidia.com/gpu": 16}


def test_me_profiles_become_dotted_resources(profiles):
    pool = {"name": "p", "profile": "H100-80GB-SXM", "sharing": {"mode": "mig", "mig": {"config": "all-1g.10gb.me"}}}
    plan = build_plan(GpuConfig.model_validate({"pools": [pool]}), profiles)
    assert plan.pools[0].device_resources() == {"nvidia.com/mig-1g.10gb.me": 8}
    assert upstream.device_plugin_error({"sharing": {"timeSlicing": {"resources": [
        {"name": "nvidia.com/mig-1g.10gb.me", "replicas": 2}]}}}) is None


MIG_PARTED_BAD = [
    ({"mig-configs": {"a": [{"devices": "all", "mig-enabled": False}]}}, "unable to parse with missing 'version' field"),
    ({"version": "v2"}, "unknown version: v2"),
    ({"version": "v1", "mig-configs": {}}, "at least one entry in 'mig-configs' is required"),
    ({"version": "v1", "mig-configs": {"x": []}}, "at least one entry in 'x' is required"),
    ({"version": "v1", "configs": {}}, "unexpected field: configs"),
    ({"version": "v1", "mig-configs": {"x": [{"mig-enabled": True, "mig-devices": {}}]}},
     "missing required field: devices"),
    ({"version": "v1", "mig-configs": {"x": [{"devices": "all"}]}}, "missing required field: mig-enabled"),
    ({"version": "v1", "mig-configs": {"x": [{"devices": "some", "mig-enabled": False}]}},
     "invalid string input for 'devices': some"),
    ({"version": "v1", "mig-configs": {"x": [{"devices": "all", "mig-enabled": True}]}},
     "missing required field 'mig-devices' when 'mig-enabled' is true"),
    ({"version": "v1", "mig-configs": {"x": [{"devices": "all", "mig-enabled": False, "mig-devices": {"1g.5gb": 1}}]}},
     "MIG devices included when 'mig-enabled' is false"),
    ({"version": "v1", "mig-configs": {"x": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.5gb": -1}}]}},
     "error validating values in 'mig-devices' field: invalid count for '-1': <nil>"),
    ({"version": "v1", "mig-configs": {"x": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.5gb": 0}}]}},
     "error validating values in 'mig-devices' field: all counts for all MigProfiles are 0"),
    ({"version": "v1", "mig-configs": {"x": [{"devices": "all", "mig-enabled": True,
                                              "mig-devices": {"3g.20gbx": 1}}]}},
     "error validating values in 'mig-devices' field: invalid format for '3g.20gbx': error parsing '.' separated "
     "fields in MigProfile string: missing 'gb' from '%dgb'"),
    ({"version": "v1", "mig-configs": {"x": [{"devices": "all", "mig-enabled": True,
                                              "mig-devices": {"5g.20gb": 1}}]}},
     "error validating values in 'mig-devices' field: invalid format for '5g.20gb': unknown Compute Instance "
     "slice size: 5"),
    ({"version": "v1", "mig-configs": {"x": [{"devices": "all", "mig-enabled": True,
                                              "mig-devices": {"1g.5gb+m-e": 1}}]}},
     "error validating values in 'mig-devices' field: invalid format for '1g.5gb+m-e': error parsing attributes "
     "following '+' in MigProfile string: non alpha-numeric character or digit in attribute"),
    ({"version": "v1", "mig-configs": {"x": [{"devices": "all", "mig-enabled": False, "selector": 1}]}},
     "unexpected field: selector"),
]


@pytest.mark.parametrize("data, error", MIG_PARTED_BAD)
def test_mig_parted_upstream_errors(data, error):
    assert upstream.mig_parted_error(data) == error


def test_mig_parted_accepts_nvidia_shapes():
    assert upstream.mig_parted_error({"version": "v1"}) is None
    assert upstream.mig_parted_error({"version": "v1", "mig-configs": {"all-enabled": [
        {"devices": "all", "mig-enabled": True, "mig-devices": {}}]}}) is None
    assert upstream.mig_parted_error({"version": "v1", "mig-configs": {"x": [
        {"device-filter": "0x20B710DE", "devices": [0, 1], "mig-enabled": True,
         "mig-devices": {"1c.2g.12gb": 1, "1g.6gb+me": 1}}]}}) is None


def ts(*resources, **flags):
    return {"version": "v1", "sharing": {"timeSlicing": {**flags, "resources": list(resources)}}}


DEVICE_PLUGIN_BAD = [
    ({"version": "v1", "sharing": {"timeSlicing": {}}}, "no resources specified"),
    (ts(), "no resources specified"),
    (ts({"replicas": 2}), "no resource name specified"),
    (ts({"name": "nvidia.com/gpu"}), "no replicas specified"),
    (ts({"name": "nvidia.com/gpu", "replicas": 1}), "number of replicas must be >= 2"),
    (ts({"name": "nvidia.com/gpu", "replicas": 2, "devices": "some"}),
     "devices set as 'some' but the only valid string input is 'all'"),
    (ts({"name": "nvidia.com/gpu", "replicas": 2, "devices": 0}),
     "devices set as '0' but a count of devices must be > 0"),
    (ts({"name": "nvidia.com/GPU", "replicas": 2}), "incorrect format for resource name 'nvidia.com/GPU': [a lowercase"),
    ({"version": "v2"}, "unknown version: v2"),
]


@pytest.mark.parametrize("data, error", DEVICE_PLUGIN_BAD)
def test_device_plugin_upstream_errors(data, error):
    assert upstream.device_plugin_error(data).startswith(error)


def test_device_plugin_log_line():
    assert upstream.device_plugin_log_line("number of replicas must be >= 2") == (
        "unable to parse config file: error parsing config file: unmarshal error: error unmarshaling JSON: "
        "while decoding JSON: number of replicas must be >= 2")


def test_selector_is_accepted_upstream_but_linted():
    bad = ts({"name": "nvidia.com/gpu", "replicas": 4, "selector": {"product": "NVIDIA-L4"}})
    assert upstream.device_plugin_error(bad) is None  # the plugin silently ignores it…
    (warning,) = upstream.lint_device_plugin_config(bad)  # …so kfboot says so
    assert warning.startswith("sharing.timeSlicing.resources[0].selector: silently ignored by the device plugin")


def test_a_new_geometry_gets_a_new_mig_config_name(profiles):
    """mig-manager only re-partitions when nvidia.com/mig.config changes value (gpu-operator#891)."""
    def name_for(config: str) -> str:
        pool = {"name": "train", "profile": "H100-80GB-SXM",
                "sharing": {"mode": "mig", "mig": {"strategy": "mixed", "config": config}}}
        built = build_plan(GpuConfig.model_validate({"pools": [pool]}), profiles)
        return built.pool("train").mig_config_label

    assert name_for("all-balanced") == name_for("all-balanced")
    assert name_for("all-balanced") != name_for("all-1g.10gb")
