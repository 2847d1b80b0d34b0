"""Shipped profiles load, are self-consistent, and match real nvidia-smi output; schema errors have positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfboot.errors import ConfigError, UsageError
from kfboot.gpu import nvsmi
from kfboot.gpu.profiles import ENV_PROFILES_DIR, builtin_profile_dirs, load_profiles, profile_problems

from .conftest import FIXTURES

REQUIRED = ["A100-40GB", "A100-80GB", "A30", "H100-80GB-SXM", "H100-80GB-PCIe", "H100-NVL-94GB", "H200-141GB",
            "GH200-144GB", "B200", "L40S", "L4", "T4", "A10", "cpu-only"]


def test_required_profiles_present(profiles):
    assert set(REQUIRED) <= set(profiles.names())


@pytest.mark.parametrize("name", REQUIRED)
def test_profile_is_consistent(profiles, name):
    prof = profiles.get(name)
    assert profile_problems(prof) == []
    if prof.has_gpus:
        assert prof.products and prof.pci_device_ids and prof.gpus_per_node > 0
    if name in ("L40S", "L4", "T4", "A10", "cpu-only"):
        assert prof.mig is None


def test_every_file_cites_sources():
    for path in builtin_profile_dirs()[0].glob("*.yaml"):
        assert path.read_text().lstrip().startswith("#"), path


def test_aliases_and_case(profiles):
    assert profiles.get("H100-80GB").name == "H100-80GB-SXM"
    assert profiles.get("h100-pcie").name == "H100-80GB-PCIe"
    assert profiles.by_product("NVIDIA-H100-80GB-HBM3-MIG-1g.10gb").name == "H100-80GB-SXM"
    with pytest.raises(UsageError, match="unknown hardware profile 'V100'"):
        profiles.get("V100")


def test_device_filters_use_nvidia_vendor(profiles):
    assert profiles.get("A100-40GB").device_filters() == ["0x20B010DE", "0x20B110DE", "0x20F110DE", "0x20F610DE"]


def test_h100_profile_matches_nvidia_smi(profiles):
    """Cross-check the H100 MIG table against real `nvidia-smi mig -lgipp` and `-lgip` output."""
    mig = profiles.get("H100-80GB-SXM").mig
    placements = nvsmi.parse_lgipp((FIXTURES / "nvidia-smi/mig-lgipp-H100-80GB.txt").read_text())
    listed = nvsmi.parse_lgip((FIXTURES / "nvidia-smi/mig-lgip-H100-80GB.txt").read_text())
    assert len(placements) == len(listed) == len(mig.profiles) == 7
    by_id = {p.profile_id: p for p in placements}
    for row in listed:
        ours = mig.profile(row.name)
        assert ours is not None, row.name
        assert ours.gi_profile_id == row.profile_id
        assert ours.max_instances == row.total
        assert ours.memory_gib == row.memory_gib
        assert ours.starts == by_id[row.profile_id].starts
        assert ours.memory_slots == by_id[row.profile_id].size
    assert listed[-1].sm == 132 and listed[-1].ce == 8


def test_a100_fixture_is_all_balanced(profiles):
    from kfboot.gpu.mig import check_geometry

    gpus = nvsmi.parse_list_gpus((FIXTURES / "nvidia-smi/list-gpus-A100-40GB-with-MIG.txt").read_text())
    prof = profiles.by_product(nvsmi.product_label(gpus[0].name))
    assert prof is not None and prof.name == "A100-40GB"
    counts: dict[str, int] = {}
    for profile, _, _ in gpus[0].mig_devices:
        counts[profile] = counts.get(profile, 0) + 1
    assert counts == prof.mig.balanced
    assert check_geometry(counts, prof.mig).ok


def test_query_csv_names_the_h100_product(profiles):
    rows = nvsmi.parse_query_csv((FIXTURES / "nvidia-smi/query-gpu-8xH100.csv").read_text())
    assert len(rows) == 8 and rows[0]["memory.total"] == "81559 MiB"
    assert profiles.by_product(nvsmi.product_label(rows[0]["name"])).name == "H100-80GB-SXM"


BAD_PROFILE = """\
name: bad-gpu
pciDeviceIds: ["0x2330"]
gpusPerNode: 8
mig:
  computeSlices: 7
  memorySlots: 8
  profiles:
    - name: 1g.10gb
      computeSlices: 1
      memorySlots: 1
      starts: [0]
      maxInstances: 1
      colour: green
"""


def test_schema_errors_have_positions(tmp_path):
    path = tmp_path / "bad-gpu.yaml"
    path.write_text(BAD_PROFILE)
    with pytest.raises(ConfigError) as err:
        load_profiles([tmp_path], include_builtin=False)
    assert err.value.problems[0].startswith(f"{path}:13:7: mig.profiles[0].colour: unknown key")


def test_name_must_match_file(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text(BAD_PROFILE.replace("      colour: green\n", ""))
    with pytest.raises(ConfigError) as err:
        load_profiles([tmp_path], include_builtin=False)
    assert err.value.problems == [f"{path}:1:1: name: 'bad-gpu' must match the file name 'other'"]


def test_placement_beyond_memory_is_a_schema_error(tmp_path):
    path = tmp_path / "bad-gpu.yaml"
    path.write_text(BAD_PROFILE.replace("      colour: green\n", "").replace("starts: [0]", "starts: [0, 8]"))
    with pytest.raises(ConfigError, match="starting at slot 8 would end past memory slot 7"):
        load_profiles([tmp_path], include_builtin=False)


def test_user_directory_adds_and_overrides(tmp_path, monkeypatch):
    src = builtin_profile_dirs()[0] / "L4.yaml"
    (tmp_path / "L4.yaml").write_text(src.read_text().replace("gpusPerNode: 4", "gpusPerNode: 2"))
    merged = load_profiles([tmp_path])
    assert merged.get("L4").gpus_per_node == 2 and merged.sources["L4"] == tmp_path / "L4.yaml"
    assert "H100-80GB-SXM" in merged.names()
    monkeypatch.setenv(ENV_PROFILES_DIR, str(tmp_path))
    assert load_profiles().names() == ["L4"]


def test_missing_user_directory(tmp_path):
    with pytest.raises(ConfigError, match="profiles directory not found"):
        load_profiles([tmp_path / "nope"])


def test_alias_clash_is_reported(tmp_path):
    src = builtin_profile_dirs()[0] / "L4.yaml"
    (tmp_path / "L4x.yaml").write_text(src.read_text().replace("name: L4\n", "name: L4x\n"))
    with pytest.raises(ConfigError, match="alias 'L4-24GB' of L4x is already a name or alias of L4"):
        load_profiles([tmp_path])


def test_profiles_dir_is_found_from_a_checkout():
    assert builtin_profile_dirs() == [Path(__file__).resolve().parents[2] / "profiles"]
