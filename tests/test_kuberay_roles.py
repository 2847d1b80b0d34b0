"""KubeRay inside Kubeflow: profile users get Ray rights through Kubeflow's aggregated roles, checked
against the real kubeflow-roles render and the real KubeRay chart; the plan names the operator's namespace."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kfboot.config.platform import Platform, default_platform
from kfboot.k8s.manifests import parse_manifests
from kfboot.phases.build import KUBERAY_ROLES, BuildOptions, build_phases
from tests.bed import MANIFESTS

UPSTREAM = Path(__file__).resolve().parents[1].parent / "shared" / "upstream"
ROLES = {"kubeflow-kuberay-admin": "kubeflow-admin", "kubeflow-kuberay-edit": "kubeflow-edit",
         "kubeflow-kuberay-view": "kubeflow-view"}


def _phases(platform: Platform) -> dict[str, object]:
    return {p.name: p for p in build_phases(platform, BuildOptions(manifests_root=MANIFESTS))}


def test_the_roles_phase_comes_with_kuberay_and_kubeflow_only() -> None:
    phases = _phases(default_platform())
    roles = phases["kuberay-roles"]
    assert roles.needs == ("kubeflow", "kuberay")  # type: ignore[attr-defined]
    assert sorted(o["metadata"]["name"] for o in roles.source.render()) == sorted(ROLES)  # type: ignore[attr-defined]
    without_kubeflow = Platform.model_validate({"components": {"kubeflow": {"enabled": False}}})
    assert "kuberay-roles" not in _phases(without_kubeflow)


def test_the_helm_plan_says_where_the_operator_runs() -> None:
    kuberay = _phases(default_platform())["kuberay"]
    assert "the operator runs in namespace kuberay (created if missing)" in kuberay.describe()  # type: ignore[attr-defined]


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="the real upstream render is not beside the repo")
def test_roles_aggregate_into_kubeflows_real_roles_and_cover_the_real_ray_crds() -> None:
    ours = {o["metadata"]["name"]: o for o in yaml.safe_load_all(KUBERAY_ROLES.read_text())}
    kubeflow_roles = {o["metadata"]["name"]: o for o in parse_manifests(
        (UPSTREAM / "kubeflow-manifests-26.03" / "common" / "kubeflow-roles" / "base.yaml").read_text())}
    ray_crds = [o for o in parse_manifests((UPSTREAM / "charts" / "kuberay-operator-1.3.2.rendered.yaml").read_text())
                if o["kind"] == "CustomResourceDefinition"]

    def selected_by(target: dict, role: dict) -> bool:
        labels = role["metadata"].get("labels") or {}
        return any(all(labels.get(k) == v for k, v in sel["matchLabels"].items())
                   for sel in target["aggregationRule"]["clusterRoleSelectors"])

    for name, kubeflow_role in ROLES.items():
        assert selected_by(kubeflow_roles[kubeflow_role], ours[name]), name
    assert selected_by(ours["kubeflow-kuberay-admin"], ours["kubeflow-kuberay-edit"])
    edit = {r for rule in ours["kubeflow-kuberay-edit"]["rules"] if "create" in rule["verbs"] for r in rule["resources"]}
    view = {r for rule in ours["kubeflow-kuberay-view"]["rules"] for r in rule["resources"]}
    plurals = {c["spec"]["names"]["plural"] for c in ray_crds}
    assert {c["spec"]["group"] for c in ray_crds} == {"ray.io"}
    assert plurals == {"rayclusters", "rayjobs", "rayservices"} and plurals <= edit and plurals <= view


def test_the_plan_names_the_roles_not_a_path_of_this_machine() -> None:
    from typer.testing import CliRunner

    from kfboot.cli.app import app

    result = CliRunner().invoke(app, ["plan", "--offline"])
    line = next(ln for ln in result.output.splitlines() if "kubeflow-kuberay-admin/edit/view" in ln)
    assert "server-side apply kfboot's kubeflow-kuberay-admin/edit/view ClusterRoles" in line
    assert "/" + "data/manifests" not in result.output
