"""Placement rules of gpu.md section 2, per MIG family, with the exact rejection messages."""

from __future__ import annotations

import pytest

from kfboot.gpu.mig import (
    check_geometry,
    is_uniform,
    named_configs,
    parse_geometry,
    parse_profile_name,
    resource_suffix,
)

SEVEN_SLICE = {
    # profile: (1g, 1g+me, 1g 2-slot, 2g, 3g, 4g, 7g)
    "A100-40GB": ("1g.5gb", "1g.5gb+me", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"),
    "A100-80GB": ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100-80GB-SXM": ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100-80GB-PCIe": ("1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100-NVL-94GB": ("1g.12gb", "1g.12gb+me", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"),
    "H200-141GB": ("1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"),
    "GH200-144GB": ("1g.18gb", "1g.18gb+me", "1g.36gb", "2g.36gb", "3g.72gb", "4g.72gb", "7g.144gb"),
    "B200": ("1g.23gb", "1g.23gb+me", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"),
}
FAMILIES = sorted(SEVEN_SLICE)


def check(profiles, gpu, geometry):
    prof = profiles.get(gpu)
    return check_geometry(parse_geometry(geometry), prof.mig, prof.name)


def geo(gpu: str, spec: str) -> str:
    """Write geometries once for all families: `{1g}=2,{3g}=1` → profile names of `gpu`."""
    one, me, one2, two, three, four, seven = SEVEN_SLICE[gpu]
    return spec.format(**{"1g": one, "1gme": me, "1g2": one2, "2g": two, "3g": three, "4g": four, "7g": seven})


VALID = [
    "{4g}=1,{3g}=1",  # 4g+3g: slots 0-3 and 4-7
    "{2g}=3,{1g}=1",  # 3×2g+1g
    "{3g}=1,{2g}=1,{1g}=2",  # all-balanced
    "{7g}=1",
    "{1g}=7",
    "{1gme}=1,{1g}=6",
    "{1g2}=4",  # 1g double-memory at 0,2,4,6
    "{1g2}=2,{3g}=1",
    "{4g}=1,{1g2}=2",
    "{4g}=1,{2g}=1,{1g}=1",
    "{3g}=2",
    "{2g}=2,{1g2}=1,{1g}=1",
]


@pytest.mark.parametrize("gpu", FAMILIES)
@pytest.mark.parametrize("spec", VALID)
def test_valid_geometries_place(profiles, gpu, spec):
    result = check(profiles, gpu, geo(gpu, spec))
    assert result.ok, result.problems
    used: set[int] = set()
    for p in result.placements:  # the placement itself obeys the rules
        slots = set(range(p.start, p.start + p.size))
        assert not used & slots
        used |= slots
        assert p.start in profiles.get(gpu).mig.profile(parse_profile_name(p.profile).gpu_instance).starts


@pytest.mark.parametrize("gpu", FAMILIES)
def test_3g_3g_1g_is_rejected_with_reason(profiles, gpu):
    result = check(profiles, gpu, geo(gpu, "{3g}=2,{1g}=1"))
    three, one = SEVEN_SLICE[gpu][4], SEVEN_SLICE[gpu][0]
    assert result.problems == [f"{three} ×2 occupy all 8 memory slots; {one} has no free slot"]


@pytest.mark.parametrize("gpu", FAMILIES)
def test_7g_must_be_alone(profiles, gpu):
    result = check(profiles, gpu, geo(gpu, "{7g}=1,{1g}=1"))
    seven, one = SEVEN_SLICE[gpu][6], SEVEN_SLICE[gpu][0]
    assert result.problems == [f"{seven} takes the whole GPU and must be alone; also requested: {one} ×1"]


@pytest.mark.parametrize("gpu", FAMILIES)
def test_two_me_instances_rejected(profiles, gpu):
    result = check(profiles, gpu, geo(gpu, "{1gme}=2"))
    assert result.problems == [f"{SEVEN_SLICE[gpu][1]} ×2: at most 1 per GPU"]


@pytest.mark.parametrize("gpu", FAMILIES)
def test_compute_budget(profiles, gpu):
    result = check(profiles, gpu, geo(gpu, "{4g}=1,{2g}=2"))
    four, two = SEVEN_SLICE[gpu][5], SEVEN_SLICE[gpu][3]
    assert result.problems == [f"needs 8 compute slices ({four} ×1 = 4, {two} ×2 = 4); the GPU has 7"]


def test_double_memory_1g_fills_memory_before_compute(profiles):
    result = check(profiles, "H100-80GB-SXM", "4g.40gb=1,1g.20gb=2,1g.10gb=1")
    assert result.problems == ["4g.40gb ×1, 1g.20gb ×2 occupy all 8 memory slots; 1g.10gb has no free slot"]
    assert check(profiles, "H100-80GB-SXM", "1g.20gb=5").problems == ["1g.20gb ×5: at most 4 per GPU"]
    assert check(profiles, "H100-80GB-SXM", "1g.10gb=8").problems == ["1g.10gb ×8: at most 7 per GPU"]


def test_profile_of_another_gpu_is_rejected(profiles):
    result = check(profiles, "H100-80GB-SXM", "1g.5gb=1")
    assert result.problems == [
        "1g.5gb is not a MIG profile of H100-80GB-SXM (its profiles: 1g.10gb, 1g.10gb+me, 1g.20gb, 2g.20gb, "
        "3g.40gb, 4g.40gb, 7g.80gb)"
    ]


def test_compute_instance_prefix_uses_the_gpu_instance(profiles):
    assert check(profiles, "A100-40GB", "1c.3g.20gb=2").ok
    assert not check(profiles, "A100-40GB", "1c.3g.20gb=2,1g.5gb=1").ok


class TestA30:
    def test_valid(self, profiles):
        for g in ["1g.6gb=4", "2g.12gb=2", "4g.24gb=1", "1g.6gb=2,2g.12gb=1", "2g.12gb+me=1,1g.6gb=2",
                  "2g.12gb+me=1,2g.12gb=1", "1g.6gb+me=1,1g.6gb=3"]:
            assert check(profiles, "A30", g).ok, g

    def test_two_media_extension_profiles(self, profiles):
        assert check(profiles, "A30", "2g.12gb+me=1,1g.6gb+me=1").problems == [
            "at most one +me instance per GPU (it has one set of media engines); got 2g.12gb+me ×1, 1g.6gb+me ×1"
        ]

    def test_four_slices(self, profiles):
        assert check(profiles, "A30", "2g.12gb=2,1g.6gb=1").problems == [
            "needs 5 compute slices (2g.12gb ×2 = 4, 1g.6gb ×1 = 1); the GPU has 4"
        ]
        assert check(profiles, "A30", "4g.24gb=1,1g.6gb=1").problems == [
            "4g.24gb takes the whole GPU and must be alone; also requested: 1g.6gb ×1"
        ]


def test_unaligned_free_slot_is_explained():
    """A GPU where free memory exists but not at an allowed start (synthetic table)."""
    from kfboot.gpu.profile_model import MigCapability

    mig = MigCapability.model_validate({
        "computeSlices": 4, "memorySlots": 4,
        "profiles": [
            {"name": "1g.6gb", "computeSlices": 1, "memorySlots": 1, "starts": [1, 3], "maxInstances": 2},
            {"name": "2g.12gb", "computeSlices": 2, "memorySlots": 2, "starts": [1], "maxInstances": 1},
        ],
    })
    result = check_geometry({"2g.12gb": 1, "1g.6gb": 2}, mig, "toy")
    assert result.problems == [
        "2g.12gb ×1, 1g.6gb ×1 occupy memory slots 1-3; 1g.6gb needs 1 slot starting at slot 1, 3, "
        "but only slot 0 is free"
    ]


class TestParsing:
    def test_geometry(self):
        assert parse_geometry("3g.40gb=1, 2g.20gb=2") == {"3g.40gb": 1, "2g.20gb": 2}
        assert parse_geometry("7g.80gb") == {"7g.80gb": 1}

    @pytest.mark.parametrize("text, fragment", [
        ("", "empty geometry"),
        ("3g.40gb=x", "count must be a whole number"),
        ("3g.40gb=1,3g.40gb=1", "appears twice"),
        ("3g.40gb=1,,", "empty item"),
        ("5g.40gb=1", "5g is not a GPU instance size"),
        ("3g.40gbx=1", "is not a MIG profile name"),
        ("1g.10gb+xx=1", "unknown attribute 'xx'"),
        ("4c.3g.40gb=1", "does not fit a 3-slice GPU instance"),
    ])
    def test_geometry_errors(self, text, fragment):
        with pytest.raises(ValueError, match=fragment):
            parse_geometry(text)

    def test_names(self):
        assert str(parse_profile_name("1c.3g.40gb")) == "1c.3g.40gb"
        assert parse_profile_name("1g.10gb+me").gpu_instance == "1g.10gb+me"
        assert resource_suffix("1g.10gb+me") == "1g.10gb.me"


def test_named_configs_match_nvidia_defaults(profiles):
    h100 = named_configs(profiles.get("H100-80GB").mig)
    assert h100["all-disabled"] is None and h100["all-enabled"] == {}
    assert h100["all-1g.10gb"] == {"1g.10gb": 7}
    assert h100["all-1g.10gb.me"] == {"1g.10gb+me": 1}
    assert h100["all-balanced"] == {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1}
    a100 = named_configs(profiles.get("A100-40GB").mig)
    assert a100["all-balanced"] == {"1g.5gb": 2, "2g.10gb": 1, "3g.20gb": 1}
    assert a100["all-1g.10gb"] == {"1g.10gb": 4}  # NVIDIA's A100-40GB entry of all-1g.10gb
    assert named_configs(profiles.get("A30").mig)["all-balanced"] == {"1g.6gb": 2, "2g.12gb": 1}
    assert named_configs(profiles.get("B200").mig)["all-balanced"] == {"1g.23gb": 2, "2g.45gb": 1, "3g.90gb": 1}


def test_uniform_means_one_profile_everywhere():
    assert is_uniform([{"1g.10gb": 7}, {"1g.10gb": 7}])
    assert is_uniform([{"3g.40gb": 2}, {"3g.40gb": 1}])
    assert not is_uniform([{"1g.10gb": 2, "2g.20gb": 1}])
    assert not is_uniform([{"1g.10gb": 7}, None])
    assert not is_uniform([{}])
