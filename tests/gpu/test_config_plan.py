"""The `gpu:` config shape and the cross-field checks that need the profiles."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kfboot.gpu.config import GpuConfig, parse_gpu_indices
from kfboot.gpu.plan import build_plan, check_gpu_config


def cfg(*pools: dict[str, Any]) -> GpuConfig:
    return GpuConfig.model_validate({"pools": list(pools)})


def mig_pool(geometry: Any = None, config: str | None = None, strategy: str = "mixed", **extra: Any) -> dict:
    mig: dict[str, Any] = {"strategy": strategy}
    if config:
        mig["config"] = config
    else:
        mig["geometry"] = geometry
    return {"name": "h100", "profile": "H100-80GB-SXM", "sharing": {"mode": "mig", "mig": mig}, **extra}


def test_empty_config_is_valid(profiles):
    assert GpuConfig().pools == []
    assert check_gpu_config(GpuConfig(), profiles) == []


def test_schema_has_descriptions():
    schema = GpuConfig.model_json_schema()
    pool = schema["$defs"]["GpuPool"]["properties"]
    assert "description" in pool["profile"] and "nodeSelector" in pool


def test_geometry_rejection_names_the_instance(profiles):
    problems = check_gpu_config(cfg(mig_pool({"all": "3g.40gb=2,1g.10gb=1"})), profiles)
    assert problems == ["gpu.pools[0].sharing.mig.geometry.all: 3g.40gb ×2 occupy all 8 memory slots; "
                        "1g.10gb has no free slot"]


def test_named_config_must_exist_for_that_gpu(profiles):
    problems = check_gpu_config(cfg(mig_pool(config="all-1g.5gb")), profiles)
    assert len(problems) == 1
    assert problems[0].startswith("gpu.pools[0].sharing.mig.config: 'all-1g.5gb' is not a MIG config for "
                                  "H100-80GB-SXM (valid: all-enabled, all-1g.10gb,")


def test_single_needs_one_profile_on_every_gpu(profiles):
    ok = cfg(mig_pool(config="all-1g.10gb", strategy="single"))
    assert check_gpu_config(ok, profiles) == []
    bad = check_gpu_config(cfg(mig_pool(config="all-balanced", strategy="single")), profiles)
    assert bad == ["gpu.pools[0].sharing.mig.strategy: single needs every GPU of the pool to have MIG enabled "
                   "with one profile (got 1g.10gb, 2g.20gb, 3g.40gb); use strategy mixed"]
    split = cfg(mig_pool({"0-3": "3g.40gb=2", "4-7": "1g.10gb=7"}, strategy="single"))
    assert "got 1g.10gb, 3g.40gb" in check_gpu_config(split, profiles)[0]


def test_geometry_must_cover_each_gpu_once(profiles):
    assert check_gpu_config(cfg(mig_pool({"0-5": "3g.40gb=2"})), profiles) == [
        "gpu.pools[0].sharing.mig.geometry: GPU 6-7 (of 0-7) has no geometry; cover them (or use `all`, or `disabled`)"
    ]
    assert check_gpu_config(cfg(mig_pool({"0-7": "3g.40gb=2", "3": "disabled"})), profiles) == [
        "gpu.pools[0].sharing.mig.geometry.3: GPU 3 is given a geometry twice"
    ]
    assert check_gpu_config(cfg(mig_pool({"all": "3g.40gb=2", "8": "disabled"})), profiles) == [
        "gpu.pools[0].sharing.mig.geometry.8: GPU 8 does not exist: the pool has 8 GPUs per node (0-7)"
    ]
    assert check_gpu_config(cfg(mig_pool({"all": "3g.40gb=2"}, gpusPerNode=2)), profiles) == []


def test_unknown_profile_and_non_mig_gpu(profiles):
    problems = check_gpu_config(cfg({"name": "x", "profile": "V100"}), profiles)
    assert problems[0].startswith("gpu.pools[0].profile: unknown hardware profile 'V100' (known: A10,")
    l4 = {"name": "l4", "profile": "L4", "sharing": {"mode": "mig", "mig": {"config": "all-balanced"}}}
    assert check_gpu_config(cfg(l4), profiles) == [
        "gpu.pools[0].sharing.mode: L4 is not MIG-capable; use time-slicing (MIG GPUs: A100, A30, H100, H200, GH200, B200)"
    ]


def test_cpu_only_cannot_share(profiles):
    pool = {"name": "cpu", "profile": "cpu-only", "nodes": ["kind-worker"],
            "sharing": {"mode": "time-slicing", "timeSlicing": {"replicas": 2}}}
    assert check_gpu_config(cfg(pool), profiles) == ["gpu.pools[0].sharing.mode: profile cpu-only has no GPUs to share"]


def test_selector_defaults_to_the_product(profiles):
    plan = build_plan(cfg({"name": "l4", "profile": "L4"}), profiles)
    assert plan.pools[0].node_selector == {"nvidia.com/gpu.product": "NVIDIA-L4"}
    problems = check_gpu_config(cfg({"name": "a", "profile": "A100-40GB"}), profiles)
    assert problems == ["gpu.pools[0].nodeSelector: set nodeSelector or nodes: profile A100-40GB has several "
                        "products (NVIDIA-A100-SXM4-40GB, NVIDIA-A100-PCIE-40GB)"]


def test_pools_cannot_overlap(profiles):
    a = {"name": "a", "profile": "L4", "nodes": ["n1", "n2"]}
    b = {"name": "b", "profile": "L4", "nodes": ["n2"]}
    assert check_gpu_config(cfg(a, b), profiles) == ["gpu.pools[1].nodes: node n2 is already in pool a"]
    c = {"name": "c", "profile": "L4", "nodeSelector": {"pool": "x"}}
    d = {"name": "d", "profile": "T4", "nodeSelector": {"pool": "x"}}
    assert "same nodeSelector as pool c" in check_gpu_config(cfg(c, d), profiles)[0]


@pytest.mark.parametrize("pools, fragment", [
    ([{"name": "l4", "profile": "L4", "sharing": {"mode": "time-slicing", "timeSlicing": {"replicas": 1}}}],
     "replicas must be >= 2"),
    ([{"name": "l4", "profile": "L4", "sharing": {"mode": "time-slicing"}}], "needs a `timeSlicing:` section"),
    ([{"name": "l4", "profile": "L4", "sharing": {"mode": "none", "timeSlicing": {"replicas": 2}}}],
     "`timeSlicing:` is set but mode is none"),
    ([{"name": "h", "profile": "A30", "sharing": {"mode": "mig", "mig": {}}}], "set exactly one of `config`"),
    ([{"name": "h", "profile": "A30", "sharing": {"mode": "mig", "mig": {"geometry": {"0-x": "1g.6gb=4"}}}}],
     "GPU selector '0-x' must be"),
    ([{"name": "h", "profile": "A30", "sharing": {"mode": "mig", "mig": {"geometry": {"all": "9g.6gb"}}}}],
     "9g is not a GPU instance size"),
    ([{"name": "H100", "profile": "A30"}], "should match pattern"),
    ([{"name": "a", "profile": "L4"}, {"name": "a", "profile": "T4"}], "pool names must be unique"),
    ([{"name": "a", "profile": "L4", "nodes": ["x"], "nodeSelector": {"a": "b"}}], "not both"),
    ([{"name": "a", "profile": "L4", "sharing": {"mode": "mps"}}], "Input should be"),
])
def test_shape_errors(pools, fragment):
    with pytest.raises(ValidationError, match=fragment):
        GpuConfig.model_validate({"pools": pools})


def test_gpu_indices():
    assert parse_gpu_indices("all") is None
    assert parse_gpu_indices("0-3,6") == [0, 1, 2, 3, 6]
    for bad in ("3-1", "0,0", "a"):
        with pytest.raises(ValueError):
            parse_gpu_indices(bad)


def test_pool_membership_ignores_gfd_suffixes(profiles):
    pool = build_plan(cfg({"name": "h", "profile": "H100-80GB-SXM"}), profiles).pools[0]
    assert pool.matches_node("n", {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb"})
    assert pool.matches_node("n", {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3-SHARED"})
    assert not pool.matches_node("n", {"nvidia.com/gpu.product": "NVIDIA-H100-PCIe"})
    named = build_plan(cfg({"name": "h", "profile": "L4", "nodes": ["a"]}), profiles).pools[0]
    assert named.matches_node("a", {}) and not named.matches_node("b", {})


def test_platform_file_errors_have_positions(tmp_path):
    platform = pytest.importorskip("kfboot.config.platform")
    from kfboot.errors import ConfigError

    path = tmp_path / "kfboot.yaml"
    path.write_text(
        "gpu:\n"
        "  pools:\n"
        "    - name: h100\n"
        "      profile: H100-80GB\n"
        "      sharing:\n"
        "        mode: mig\n"
        "        mig:\n"
        "          geometry:\n"
        '            "0-7": "3g.40gb=2,1g.10gb=1"\n'
    )
    with pytest.raises(ConfigError) as err:
        platform.load_platform(path)
    assert err.value.problems == [
        f"{path}:9:13: gpu.pools[0].sharing.mig.geometry.0-7: 3g.40gb ×2 occupy all 8 memory slots; "
        "1g.10gb has no free slot"
    ]
