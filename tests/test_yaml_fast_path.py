"""The libyaml fast path for profiles reads exactly what the YAML 1.2 (ruamel) reading does, and steps
aside for anything YAML 1.1 would read differently; a broken profile is still reported with its position."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfboot.errors import ConfigError
from kfboot.gpu.profile_model import HardwareProfile
from kfboot.gpu.profiles import builtin_profile_dirs, load_profile_file, profile_files
from kfboot.yaml_positions import fast_plain, plain, read_yaml_file, validate

BUILTIN = profile_files(builtin_profile_dirs()[0])


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.name)
def test_every_builtin_profile_reads_the_same_on_both_paths(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert fast_plain(text) == plain(read_yaml_file(path).data)  # the fast path is taken, and agrees
    assert load_profile_file(path) == validate(read_yaml_file(path), HardwareProfile)


@pytest.mark.parametrize("text", [
    "enabled: on\n", "mode: no\n", "flags: [y, n]\n", "mode: 0755\n", "mask: 0b101\n", "time: 1:30\n",
    "big: 1_000\n", "<<: {a: 1}\n", "on: 1\n",
])
def test_scalars_yaml_1_1_reads_differently_take_the_exact_path(text: str) -> None:
    assert fast_plain(text) is None


def test_plain_documents_take_the_fast_path() -> None:
    assert fast_plain("name: H100\nmemory: 80Gi\nclocks: [1980, 2619]\nnote: 'on'\n") == {
        "name": "H100", "memory": "80Gi", "clocks": [1980, 2619], "note": "on"}


def test_a_broken_profile_is_still_reported_with_its_position(tmp_path: Path) -> None:
    broken = tmp_path / "A10.yaml"
    broken.write_text((BUILTIN[0].parent / "A10.yaml").read_text(encoding="utf-8") + "bogusKey: 1\n")
    with pytest.raises(ConfigError) as err:
        load_profile_file(broken)
    assert any(":" in line and "bogusKey" in line for line in err.value.problems)
