"""Platform config: loading kfboot.yaml, `file:line:col: path: message` errors, defaults and schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kfboot.config.platform import Platform, default_platform, load_platform, parse_dotted, platform_schema
from kfboot.errors import ConfigError
from kfboot.yaml_positions import load_yaml, validate

FIXTURES = Path(__file__).parent / "fixtures" / "config"
POSITIONED = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<rest>.*)$")


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_platform(path)
    assert info.value.exit_code == 2
    return info.value.problems


def problems_in(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate(load_yaml(text, "kfboot.yaml"), Platform)
    return info.value.problems


# -- defaults ------------------------------------------------------------------------------------------
def test_default_platform_has_seven_enabled_components() -> None:
    platform = load_platform(None)
    names = ["gpu-operator", "cert-manager", "istio", "dex", "kubeflow", "kuberay", "kserve"]
    assert [n for n in names if platform.components.get(n).enabled] == names
    assert len(Platform.model_fields["components"].annotation.model_fields) == 7  # type: ignore[union-attr]
    assert platform.components.kserve.deployment_mode == "Serverless"
    assert platform.install.parallel == 4
    assert platform.gpu.pools == []
    assert default_platform() == platform


def test_empty_file_is_the_default_platform(tmp_path: Path) -> None:
    empty = tmp_path / "kfboot.yaml"
    empty.write_text("# nothing set\n", encoding="utf-8")
    assert load_platform(empty) == default_platform()


def test_valid_file_overrides_defaults() -> None:
    platform = load_platform(FIXTURES / "valid.yaml")
    assert platform.metadata.name == "lab"
    assert platform.components.gpu_operator.version == "v26.3.3"
    assert platform.components.gpu_operator.values == {"driver": {"enabled": False}}
    assert platform.components.kserve.deployment_mode == "RawDeployment"
    assert platform.components.kubeflow.apps == ["pipelines", "notebooks", "central-dashboard"]
    assert platform.components.kuberay.enabled is False
    assert (platform.install.parallel, platform.install.timeout) == (2, 300)


# -- errors with positions -----------------------------------------------------------------------------
def test_unknown_key_deep_inside_points_at_the_key() -> None:
    path = FIXTURES / "unknown-key.yaml"
    assert problems_of(path) == [
        f"{path}:9:5: components.gpu-operator.enabeld: unknown key (not allowed here; check spelling or `kfboot schema`)"
    ]


def test_wrong_type() -> None:
    path = FIXTURES / "wrong-type.yaml"
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:5:3: install.parallel: ")
    assert "integer" in problem


def test_bad_kserve_deployment_mode_lists_allowed_values() -> None:
    path = FIXTURES / "bad-enum.yaml"
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:3:5: components.kserve.deploymentMode: ")
    assert "'Serverless'" in problem and "'RawDeployment'" in problem


def test_invalid_yaml_syntax_has_a_position() -> None:
    path = FIXTURES / "bad-syntax.yaml"
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:4:4: invalid YAML")


def test_unpinned_helm_version_lists_pinned_versions() -> None:
    path = FIXTURES / "unpinned.yaml"
    assert problems_of(path) == [
        f"{path}:4:5: components.gpu-operator.version: v1.0.0 is not a version kfboot has pinned "
        "(choose one of v26.7.0, v26.3.3)"
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert problems_of(path) == [f"{path}: file not found"]


def test_every_problem_is_reported_in_document_order() -> None:
    text = "install:\n  parallel: 0\n  timeout: -1\ncomponents:\n  dex: {enabled: maybe}\n"
    found = problems_in(text)
    assert [p.split(": ")[1] for p in found] == ["install.parallel", "install.timeout", "components.dex.enabled"]
    assert [POSITIONED.match(p).group("line") for p in found] == ["2", "3", "5"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "expected"), [
    ("- a\n- b\n", "kfboot.yaml:1:1: (top level): Input should be a valid dictionary"),
    ("kind: Platfrom\n", "kfboot.yaml:1:1: kind: Input should be 'Platform'"),
    ("components:\n  kubeflow:\n    apps:\n      - pipelines\n      - bogus\n",
     "kfboot.yaml:5:9: components.kubeflow.apps[1]: Input should be"),
    ("components:\n  kubeflow:\n    apps: [katib, katib]\n",
     "kfboot.yaml:3:5: components.kubeflow.apps: listed more than once: katib"),
    ("gpu:\n  pools:\n    - name: a\n      sharing: {mode: none}\n",
     "kfboot.yaml:3:7: gpu.pools[0].profile: required key is missing"),
    ("components:\n  istio: {enabled: true}\n  istio: {enabled: false}\n",
     "kfboot.yaml:3:3: invalid YAML: found duplicate key \"istio\""),
    ("components:\n\tistio: {}\n", "kfboot.yaml:2:1: invalid YAML"),
    ("metadata:\n  name: My_Platform\n", "kfboot.yaml:2:3: metadata.name: String should match pattern"),
])
def test_error_positions(text: str, expected: str) -> None:
    [problem] = problems_in(text)
    assert problem.startswith(expected)


@pytest.mark.parametrize(("dotted", "path"), [
    ("components.gpu-operator.version", ("components", "gpu-operator", "version")),
    ("gpu.pools[0].sharing", ("gpu", "pools", 0, "sharing")),
    ("gpu.pools[2].sharing.mig.geometry.0-3", ("gpu", "pools", 2, "sharing", "mig", "geometry", "0-3")),
])
def test_parse_dotted(dotted: str, path: tuple[str | int, ...]) -> None:
    assert parse_dotted(dotted) == path


# -- schema ------------------------------------------------------------------------------------------
def test_schema_forbids_unknown_keys() -> None:
    schema = platform_schema()
    assert schema["additionalProperties"] is False
    assert schema["title"] == "Platform"
    assert {"apiVersion", "kind", "metadata", "components", "gpu", "install"} <= set(schema["properties"])
    components = schema["$defs"]["Components"]
    assert components["additionalProperties"] is False
    assert set(components["properties"]) == {"gpu-operator", "cert-manager", "istio", "dex", "kubeflow", "kuberay",
                                             "kserve"}
    assert schema["$defs"]["KServeComponent"]["properties"]["deploymentMode"]["enum"] == ["Serverless",
                                                                                          "RawDeployment"]


def test_schema_validates_the_valid_fixture_and_rejects_unknown_keys() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = platform_schema()
    jsonschema.validate(yaml.safe_load((FIXTURES / "valid.yaml").read_text(encoding="utf-8")), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load((FIXTURES / "unknown-key.yaml").read_text(encoding="utf-8")), schema)


# -- GPU pools -----------------------------------------------------------------------------------------
def test_valid_gpu_pools() -> None:
    platform = load_platform(FIXTURES / "gpu-pools.yaml")
    train, inference = platform.gpu.pools
    assert (train.name, train.profile, train.sharing.mode) == ("train", "H100-80GB-SXM", "mig")
    assert train.sharing.mig is not None and train.sharing.mig.config == "all-balanced"
    assert inference.sharing.time_slicing is not None and inference.sharing.time_slicing.replicas == 4


def test_impossible_mig_geometry_is_reported_at_its_position() -> None:
    path = FIXTURES / "gpu-bad-geometry.yaml"
    found = problems_of(path)
    assert found
    for problem in found:
        assert problem.startswith(f"{path}:10:13: gpu.pools[0].sharing.mig.geometry.all: "), problem
    assert any("7g.80gb" in p for p in found)


@pytest.mark.parametrize(("text", "expected"), [
    ("gpu:\n  pools:\n    - name: a\n      profile: L4\n      sharing:\n        mode: mig\n",
     "kfboot.yaml:5:7: gpu.pools[0].sharing: mode mig needs a `mig:` section"),
    ("gpu:\n  pools:\n    - name: a\n      profile: L4\n      sharing:\n        mode: time-slicing\n"
     "        timeSlicing: {replicas: 1}\n",
     "kfboot.yaml:7:23: gpu.pools[0].sharing.timeSlicing.replicas: replicas must be >= 2"),
])
def test_gpu_shape_errors_have_positions(text: str, expected: str) -> None:
    [problem] = problems_in(text)
    assert problem.startswith(expected)
