"""Phase ownership over the real kubeflow/manifests 26.03 render and the real chart renders.

Every namespace, CRD and referenced Gateway/Service an object relies on must come from its own phase
or one it transitively needs. The catalog as shipped passes; the arrangement kfboot had before
(Gateway in `kubeflow`, Istio not needing the Kubeflow namespace) is named object by object.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from kfboot.config.catalog import Catalog, load_catalog
from kfboot.errors import ConfigError
from kfboot.k8s.manifests import parse_manifests
from kfboot.k8s.ownership import PhaseObjects, check_ownership
from kfboot.sources.catalog_check import catalog_phases

UPSTREAM = Path(__file__).resolve().parents[1].parent / "shared" / "upstream"
TREE = UPSTREAM / "kubeflow-manifests-26.03"
needs_upstream = pytest.mark.skipif(not TREE.is_dir(), reason="the real upstream render is not beside the repo")
GATEWAY_PATH = "common/istio/kubeflow-istio-resources/base"


@functools.cache
def _parsed(path: str) -> tuple[dict[str, Any], ...]:
    file = TREE / f"{path}.yaml"
    return tuple(parse_manifests(file.read_text(encoding="utf-8"), str(file)))


def real_render(_source: str, path: str) -> list[dict[str, Any]]:
    return list(_parsed(path))


def real_charts() -> dict[str, list[dict[str, Any]]]:
    charts = {"gpu-operator": "gpu-operator-v26.7.0", "kuberay": "kuberay-operator-1.3.2"}
    return {name: parse_manifests((UPSTREAM / "charts" / f"{file}.rendered.yaml").read_text(encoding="utf-8"))
            for name, file in charts.items()}


def previous_catalog() -> Catalog:
    """The catalog before the fix: the Gateway in `kubeflow`, Istio needing only cert-manager."""
    data = load_catalog().model_dump(by_alias=True, exclude_none=True)
    istio, kubeflow = data["components"]["istio"], data["components"]["kubeflow"]
    istio["needs"] = ["cert-manager"]
    istio["manifests"]["paths"].remove(GATEWAY_PATH)
    kubeflow["manifests"]["paths"].append(GATEWAY_PATH)
    return Catalog.model_validate(data)


@needs_upstream
def test_the_catalog_owns_everything_its_real_render_relies_on() -> None:
    phases = catalog_phases(load_catalog(), real_render, real_charts())
    assert sum(len(p.objects) for p in phases) > 700
    assert check_ownership(phases) == []


@needs_upstream
def test_the_previous_catalog_is_refused_naming_object_and_phases() -> None:
    problems = check_ownership(catalog_phases(previous_catalog(), real_render, real_charts()))

    assert ("ConfigMap knative-serving/config-istio in phase kserve relies on Gateway kubeflow/kubeflow-gateway, "
            "created by phase kubeflow, which kserve does not need") in problems
    assert any(p.startswith("ConfigMap kubeflow/inferenceservice-config in phase kserve relies on Gateway "
                            "kubeflow/kubeflow-gateway") for p in problems)
    assert any(p.startswith("VirtualService auth/dex in phase dex relies on Gateway kubeflow/kubeflow-gateway")
               for p in problems)
    assert any(p.startswith("Sidecar kubeflow/") and "in phase istio relies on namespace kubeflow, created by "
               "phase kubeflow-namespace" in p for p in problems)


def _obj(api: str, kind: str, name: str, ns: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": ns} if ns else {})}
    return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}


def test_custom_resources_webhook_services_and_preexisting_namespaces() -> None:
    crd = _obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com",
               spec={"group": "example.com", "names": {"kind": "Widget"}})
    hook = _obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "widgets",
                webhooks=[{"name": "w", "clientConfig": {"service": {"namespace": "widgets", "name": "hook"}}}])
    operator = PhaseObjects("operator", (), [crd, _obj("v1", "Service", "hook", "widgets")],
                            frozenset({"widgets"}))
    app = PhaseObjects("app", (), [_obj("example.com/v1", "Widget", "w1", "kube-system"), hook])

    assert check_ownership([operator, app]) == [
        "Widget kube-system/w1 in phase app relies on the CRD of Widget.example.com, created by phase operator, "
        "which app does not need",
        "ValidatingWebhookConfiguration widgets in phase app relies on Service widgets/hook, created by phase "
        "operator, which app does not need",
    ]
    assert check_ownership([operator, PhaseObjects("app", ("operator",), app.objects)]) == []
    lonely = PhaseObjects("app", (), [_obj("v1", "ConfigMap", "c", "nowhere")])
    assert check_ownership([lonely]) == ["ConfigMap nowhere/c in phase app relies on namespace nowhere, "
                                         "which no phase creates"]
    assert check_ownership([lonely], unowned=False) == []


def test_plan_refuses_a_platform_whose_phases_rely_on_an_unrelated_phase() -> None:
    from kfboot.config.platform import default_platform
    from kfboot.phases.build import BuildOptions, build_phases
    from kfboot.phases.ownership import check_phase_ownership
    from tests.bed import MANIFESTS

    options = BuildOptions(manifests_root=MANIFESTS)
    assert check_phase_ownership(build_phases(default_platform(), options)) is True
    with pytest.raises(ConfigError) as err:
        check_phase_ownership(build_phases(default_platform(), options, previous_catalog()))
    assert "relies on Gateway kubeflow/kubeflow-gateway, created by phase kubeflow" in str(err.value.problems)


def test_bundle_build_refuses_a_catalog_whose_phases_rely_on_an_unrelated_phase(tmp_path: Path) -> None:
    from kfboot.sources.build import SourceTree, build_bundle
    from tests.bed import CHARTS, MANIFESTS

    with pytest.raises(ConfigError) as err:
        build_bundle(tmp_path / "bundle", {"kubeflow-manifests": SourceTree(MANIFESTS)}, CHARTS,
                     catalog=previous_catalog())
    assert any(p.startswith("bundle build: ") and "Gateway kubeflow/kubeflow-gateway" in p
               for p in err.value.problems)
    assert not (tmp_path / "bundle").exists()
