"""`kfboot profiles …` and `kfboot render …` through the real app."""

from __future__ import annotations

import json

import pytest
import yaml

app_module = pytest.importorskip("kfboot.cli.app")
from typer.testing import CliRunner  # noqa: E402

from kfboot.gpu import upstream  # noqa: E402

KFBOOT_YAML = """\
gpu:
  pools:
    - name: h100-train
      profile: H100-80GB
      nodeCount: 1
      sharing:
        mode: mig
        mig: {config: all-balanced}
    - name: l4
      profile: L4
      nodeCount: 1
      sharing: {mode: time-slicing, timeSlicing: {replicas: 4}}
"""


def run(*args: str):
    return CliRunner().invoke(app_module.app, list(args))


def test_render_mig_quick_check():
    result = run("render", "mig", "--gpu", "H100-80GB", "--geometry", "3g.40gb=1,2g.20gb=2")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert upstream.mig_parted_error(data) is None
    (name,) = [n for n in data["mig-configs"] if n != "all-disabled"]
    assert name.startswith("h100-80gb-sxm-")  # pool name + geometry hash
    assert data["mig-configs"][name][0]["mig-devices"] == {"3g.40gb": 1, "2g.20gb": 2}
    assert "8 × nvidia.com/mig-3g.40gb" in result.stderr


def test_render_mig_invalid_geometry_exits_2():
    result = run("render", "mig", "--gpu", "H100-80GB", "--geometry", "3g.40gb=2,1g.10gb=1")
    assert result.exit_code == 2
    assert "3g.40gb ×2 occupy all 8 memory slots; 1g.10gb has no free slot" in result.stderr
    assert result.stdout == ""


def test_render_from_file(tmp_path):
    path = tmp_path / "kfboot.yaml"
    path.write_text(KFBOOT_YAML)
    mig = run("render", "mig", "-f", str(path))
    assert mig.exit_code == 0, mig.output
    assert any(n.startswith("h100-train-") for n in yaml.safe_load(mig.stdout)["mig-configs"])
    ts = run("render", "time-slicing", "-f", str(path))
    assert ts.exit_code == 0, ts.output
    cm = yaml.safe_load(ts.stdout)
    assert upstream.device_plugin_error(yaml.safe_load(cm["data"]["l4"])) is None
    assert "l4: 4 × L4, 4 replicas → 16 × nvidia.com/gpu (shared)" in ts.stderr
    assert "nvidia.com/device-plugin.config=l4" in ts.stderr


def test_render_json_and_output_dir(tmp_path):
    path = tmp_path / "kfboot.yaml"
    path.write_text(KFBOOT_YAML)
    result = run("-o", "json", "render", "time-slicing", "-f", str(path))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["nodeLabels"]["l4"] == {"nvidia.com/device-plugin.config": "l4"}
    assert data["capacity"]["total"]["nvidia.com/gpu"] == 16
    out = tmp_path / "out"
    assert run("render", "mig", "-f", str(path), "--output-dir", str(out)).exit_code == 0
    assert {p.name for p in out.iterdir()} == {"mig-parted-config.yaml", "mig-parted-configmap.yaml",
                                               "gpu-operator-values.yaml", "node-labels.yaml"}


def test_render_file_error_has_position(tmp_path):
    path = tmp_path / "kfboot.yaml"
    path.write_text(KFBOOT_YAML.replace("all-balanced", "all-1g.5gb"))
    result = run("render", "mig", "-f", str(path))
    assert result.exit_code == 2
    assert f"{path}:8:" in result.stderr and "'all-1g.5gb' is not a MIG config for H100-80GB-SXM" in result.stderr


def test_render_needs_a_source():
    assert run("render", "mig").exit_code == 2
    assert run("render", "time-slicing", "--gpu", "L4", "--replicas", "1").exit_code == 2


def test_profiles_list_show_validate(tmp_path):
    listed = run("profiles", "list")
    assert listed.exit_code == 0 and "H100-80GB-SXM" in listed.stdout
    shown = run("-o", "json", "profiles", "show", "A30")
    assert json.loads(shown.stdout)["namedConfigs"]["all-balanced"] == {"1g.6gb": 2, "2g.12gb": 1}
    assert run("profiles", "show", "V100").exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\npciDeviceIds: [2330]\n")
    result = run("profiles", "validate", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:2:" in result.stderr
