"""`kfboot render`: what install would apply, per phase, with no cluster; output equals the engine's input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.config.platform import default_platform
from kfboot.helm import Helm
from kfboot.phases.build import BuildOptions, build_phases
from kfboot.phases.helm_phase import HelmPhase
from kfboot.phases.manifest_phase import ManifestPhase
from tests.bed import MANIFESTS, bundle_build_args

ALL = ["gpu-operator", "cert-manager", "istio", "dex", "kubeflow-namespace", "kubeflow", "kuberay", "kserve",
       "kuberay-roles"]


@pytest.fixture(autouse=True)
def _no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))  # render must never need one
    monkeypatch.setenv("KFBOOT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render") / "bundle"
    assert CliRunner().invoke(app, bundle_build_args(out)).exit_code == 0
    return out


@pytest.fixture(scope="module")
def rendered(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render") / "out"
    result = CliRunner().invoke(app, ["render", "all", "--output-dir", str(out), "--bundle", str(bundle)])
    assert result.exit_code == 0, result.output
    return out


def _objects(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_render_writes_every_enabled_phase_and_an_index(rendered: Path) -> None:
    index = yaml.safe_load((rendered / "index.yaml").read_text())
    assert [p["name"] for p in index["phases"]] == ALL
    for entry in index["phases"]:
        assert (rendered / entry["name"] / "manifests.yaml").is_file()
        assert ((rendered / entry["name"] / "values.yaml").is_file()) == (entry["kind"] == "helm")
        assert entry["objects"] == len(_objects(rendered / entry["name"] / "manifests.yaml"))
    dex = next(p for p in index["phases"] if p["name"] == "dex")
    assert any("initial user" in line for line in dex.get("atInstall", []))  # cluster-side step, not rendered


def test_render_equals_what_the_engine_would_apply(bundle: Path, rendered: Path) -> None:
    phases = build_phases(default_platform(), BuildOptions(bundle=bundle))
    helm = Helm(None, None)
    for phase in phases:
        got = _objects(rendered / phase.name / "manifests.yaml")
        if isinstance(phase, ManifestPhase):  # less what is set at install (Dex's password Secret)
            expected = [o for o in phase.source.render()
                        if not (phase.name == "dex" and o["kind"] == "Secret" and o["metadata"]["name"] == "dex-passwords")]
            assert got == expected, phase.name
        else:
            assert isinstance(phase, HelmPhase)
            assert got == helm.template(phase.chart, phase.values, release=phase.release, namespace=phase.namespace)
            assert (yaml.safe_load((rendered / phase.name / "values.yaml").read_text()) or {}) == phase.values


def test_bundle_render_equals_local_tree_render(rendered: Path, tmp_path: Path) -> None:
    out = tmp_path / "local"
    result = CliRunner().invoke(app, ["render", "cert-manager", "istio", "dex", "kubeflow", "kserve",
                                      "--output-dir", str(out), "--manifests", str(MANIFESTS)])
    assert result.exit_code == 0, result.output
    for name in ("cert-manager", "istio", "dex", "kubeflow", "kserve"):
        assert _objects(out / name / "manifests.yaml") == _objects(rendered / name / "manifests.yaml")


def test_rendered_objects_validate(rendered: Path) -> None:
    """Built-in kinds against Kubernetes 1.34's schemas (strict); custom resources against their CRD."""
    objects = [o for name in ALL for o in _objects(rendered / name / "manifests.yaml")]
    crds = {}
    for o in objects:
        if o["kind"] == "CustomResourceDefinition":
            for v in o["spec"]["versions"]:
                crds[(f"{o['spec']['group']}/{v['name']}", o["spec"]["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
    custom = checked = 0
    for o in objects:
        key = (o["apiVersion"], o["kind"])
        if key in crds:
            schema = _json_schema(crds[key])
            jsonschema.validate(o, schema)
            custom += 1
        else:
            kubernetes_validate.validate(o, "1.34", strict=True)
            checked += 1
    assert custom >= 10 and checked >= 100


def _json_schema(openapi: Any) -> Any:
    """openAPIV3Schema → JSON Schema: drop the x-kubernetes-* extensions jsonschema does not know."""
    if isinstance(openapi, dict):
        return {k: _json_schema(v) for k, v in openapi.items() if not k.startswith("x-kubernetes-")}
    if isinstance(openapi, list):
        return [_json_schema(v) for v in openapi]
    return openapi


def test_a_crd_schema_rejects_a_bad_custom_resource(rendered: Path) -> None:
    crd = next(o for o in _objects(rendered / "gpu-operator" / "manifests.yaml") if o["kind"] == "CustomResourceDefinition")
    policy = next(o for o in _objects(rendered / "gpu-operator" / "manifests.yaml") if o["kind"] == "ClusterPolicy")
    assert policy["metadata"]["name"] == "cluster-policy"
    schema = _json_schema(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    jsonschema.validate(policy, schema)
    policy["spec"]["mig"]["strategy"] = "sometimes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(policy, schema)


def test_render_kind_uses_the_kind_overlay(bundle: Path, tmp_path: Path) -> None:
    def issuer(extra: list[str]) -> str:
        out = tmp_path / ("kind" if extra else "plain")
        result = CliRunner().invoke(app, ["render", "dex", "--output-dir", str(out), "--bundle", str(bundle), *extra])
        assert result.exit_code == 0, result.output
        ra = next(o for o in _objects(out / "dex" / "manifests.yaml") if o["kind"] == "RequestAuthentication")
        return ra["spec"]["jwtRules"][0]["issuer"]

    assert issuer(["--kind"]) == "https://kubernetes.default.svc"
    assert issuer([]) == "https://kubernetes.default.svc.cluster.local"


def test_render_phases_subcommand_and_errors(bundle: Path, tmp_path: Path) -> None:
    ok = CliRunner().invoke(app, ["render", "phases", "kserve", "--output-dir", str(tmp_path / "o"), "--bundle", str(bundle)])
    assert ok.exit_code == 0, ok.output
    assert [p.name for p in (tmp_path / "o").iterdir() if p.is_dir()] == ["kserve"]
    unknown = CliRunner().invoke(app, ["render", "nope", "--output-dir", str(tmp_path / "x")])
    assert unknown.exit_code == 2 and "unknown phase nope" in unknown.output
    config = tmp_path / "kfboot.yaml"
    config.write_text("apiVersion: kfboot.io/v1alpha1\nkind: Platform\ncomponents:\n  kserve: {enabled: false}\n")
    disabled = CliRunner().invoke(app, ["render", "kserve", "-f", str(config), "--output-dir", str(tmp_path / "y"),
                                        "--bundle", str(bundle)])
    assert disabled.exit_code == 2 and "disabled" in disabled.output


def test_render_mig_still_works() -> None:
    result = CliRunner().invoke(app, ["render", "mig", "--help"])
    assert result.exit_code == 0 and "mig-parted" in result.output


def test_raw_deployment_mode_leaves_knative_out(bundle: Path, tmp_path: Path) -> None:
    config = tmp_path / "kfboot.yaml"
    config.write_text("apiVersion: kfboot.io/v1alpha1\nkind: Platform\ncomponents:\n  kserve: {deploymentMode: RawDeployment}\n")
    result = CliRunner().invoke(app, ["render", "kserve", "-f", str(config), "--output-dir", str(tmp_path / "o"),
                                      "--bundle", str(bundle)])
    assert result.exit_code == 0, result.output
    kinds = {o["metadata"].get("namespace") for o in _objects(tmp_path / "o" / "kserve" / "manifests.yaml")}
    assert "knative-serving" not in kinds
