"""KServe's default deployment mode follows the platform (the real 26.03 render says Serverless).

With `deploymentMode: RawDeployment` kfboot installs no Knative, so KServe's own default must not stay
Serverless: an InferenceService without the mode annotation would wait for a Knative Service forever.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kfboot.k8s.manifests import parse_manifests
from kfboot.phases.kserve_mode import CONFIG_MAP, KServeDeploymentMode, set_default_mode

KSERVE = (Path(__file__).resolve().parents[1].parent / "shared" / "upstream" / "kubeflow-manifests-26.03"
          / "applications" / "kserve" / "kserve.yaml")


@pytest.fixture(scope="module")
def real_kserve() -> list[dict]:
    return parse_manifests(KSERVE.read_text(encoding="utf-8"), str(KSERVE))


def _deploy(objects: list[dict]) -> dict:
    cm = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == CONFIG_MAP)
    return json.loads(cm["data"]["deploy"])


def test_upstream_defaults_to_serverless(real_kserve: list[dict]) -> None:
    assert _deploy(real_kserve) == {"defaultDeploymentMode": "Serverless"}


def test_raw_deployment_becomes_kserves_default_and_nothing_else_changes(real_kserve: list[dict]) -> None:
    out, found = set_default_mode(real_kserve, "RawDeployment")
    assert found
    assert _deploy(out) == {"defaultDeploymentMode": "RawDeployment"}
    assert _deploy(real_kserve) == {"defaultDeploymentMode": "Serverless"}  # the input is not mutated
    changed = [(a["kind"], a["metadata"]["name"]) for a, b in zip(real_kserve, out, strict=True) if a != b]
    assert changed == [("ConfigMap", CONFIG_MAP)]
    cm = next(o for o in out if o["metadata"]["name"] == CONFIG_MAP)
    original = next(o for o in real_kserve if o["metadata"]["name"] == CONFIG_MAP)
    assert {k: v for k, v in cm["data"].items() if k != "deploy"} == \
        {k: v for k, v in original["data"].items() if k != "deploy"}


def test_serverless_leaves_the_render_as_it_is(real_kserve: list[dict]) -> None:
    out, found = set_default_mode(real_kserve, "Serverless")
    assert found and out == real_kserve


def test_the_mode_is_part_of_the_digest_and_shown_by_render() -> None:
    raw, serverless = KServeDeploymentMode("RawDeployment"), KServeDeploymentMode("Serverless")
    assert raw.fingerprint() != serverless.fingerprint()  # switching modes re-applies the phase
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIG_MAP, "namespace": "kubeflow"},
                "data": {"deploy": '{"defaultDeploymentMode": "Serverless"}'}}]
    assert json.loads(raw.for_render(objects)[0]["data"]["deploy"]) == {"defaultDeploymentMode": "RawDeployment"}


def test_the_kserve_phase_carries_the_platforms_mode() -> None:
    from kfboot.config.platform import default_platform
    from kfboot.phases.build import BuildOptions, build_phases

    platform = default_platform()
    platform.components.kserve.deployment_mode = "RawDeployment"
    kserve = next(p for p in build_phases(platform, BuildOptions()) if p.name == "kserve")
    assert KServeDeploymentMode("RawDeployment") in kserve.transforms
