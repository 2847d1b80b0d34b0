"""Manifests as data: parsing multi-document YAML and sorting objects into apply/delete waves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kfboot.errors import ConfigError
from kfboot.k8s.manifests import (
    WAVES,
    deletion_order,
    order_waves,
    parse_manifests,
    wave_of,
    webhook_backends,
    webhook_guarded_groups,
)
from kfboot.k8s.refs import ObjectRef

CERT_MANAGER = Path(__file__).parent / "fixtures" / "manifests" / "cert-manager.yaml"


@pytest.fixture
def cert_manager() -> list[dict[str, Any]]:
    return parse_manifests(CERT_MANAGER.read_text(encoding="utf-8"), str(CERT_MANAGER))


def names(objects: list[dict[str, Any]]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objects]


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


# -- parsing ----------------------------------------------------------------------------------------
def test_parse_cert_manager_fixture_drops_empty_documents(cert_manager: list[dict[str, Any]]) -> None:
    assert names(cert_manager) == [
        "Namespace/cert-manager",
        "CustomResourceDefinition/clusterissuers.cert-manager.io",
        "CustomResourceDefinition/certificates.cert-manager.io",
        "ServiceAccount/cert-manager-webhook",
        "ClusterRole/cert-manager-controller-issuers",
        "Service/cert-manager-webhook",
        "ValidatingWebhookConfiguration/cert-manager-webhook",
        "Deployment/cert-manager-webhook",
        "ClusterIssuer/kubeflow-self-signing-issuer",
    ]


def test_list_kinds_are_flattened() -> None:
    text = """
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: x}}
  - {apiVersion: v1, kind: Secret, metadata: {name: b, namespace: x}}
---
apiVersion: v1
kind: ConfigMapList
items: []
"""
    assert names(parse_manifests(text)) == ["ConfigMap/a", "Secret/b"]


def test_only_empty_documents_give_nothing() -> None:
    assert parse_manifests("---\n---\n# just a comment\n") == []
    assert parse_manifests("") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: Secret\nmetadata: {name: b}\n",
     "m.yaml: document 2 is not a Kubernetes object (needs apiVersion and kind)"),
    ("apiVersion: v1\nmetadata: {name: a}\n", "m.yaml: document 1 is not a Kubernetes object"),
    ("- just\n- a list\n", "m.yaml: document 1 is not a Kubernetes object"),
    ("plain string\n", "m.yaml: document 1 is not a Kubernetes object"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n", "m.yaml: a ConfigMap has no metadata.name"),
    ("apiVersion: v1\nkind: ConfigMap\n", "m.yaml: a ConfigMap has no metadata.name"),
])
def test_objects_without_identity_are_errors(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_manifests(text, "m.yaml")
    assert info.value.problems[0].startswith(expected)


def test_list_items_without_kind_are_errors() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n  - {metadata: {name: a}}\n"
    with pytest.raises(ConfigError) as info:
        parse_manifests(text, "m.yaml")
    assert "m.yaml" in info.value.message and "apiVersion and kind" in info.value.message


@pytest.mark.parametrize("text", [
    "apiVersion: v1\nkind: 5\nmetadata: {name: a}\n",
    "apiVersion: v1\nkind: List\nitems: [just-a-string]\n",
])
def test_malformed_objects_are_config_errors_not_crashes(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_manifests(text, "m.yaml")


def test_invalid_yaml_reports_line_and_column() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n"
    with pytest.raises(ConfigError) as info:
        parse_manifests(text, "m.yaml")
    assert info.value.problems[0].startswith("m.yaml:5:1: invalid YAML")


# -- waves ------------------------------------------------------------------------------------------
def test_cert_manager_waves_in_apply_order(cert_manager: list[dict[str, Any]]) -> None:
    waves = order_waves(cert_manager)
    assert [(w.name, names(w.objects)) for w in waves] == [
        ("namespaces", ["Namespace/cert-manager"]),
        ("crds", ["CustomResourceDefinition/clusterissuers.cert-manager.io",
                  "CustomResourceDefinition/certificates.cert-manager.io"]),
        ("config", ["ServiceAccount/cert-manager-webhook", "ClusterRole/cert-manager-controller-issuers",
                    "Service/cert-manager-webhook"]),
        ("workloads", ["Deployment/cert-manager-webhook"]),
        ("webhooks", ["ValidatingWebhookConfiguration/cert-manager-webhook"]),
        ("guarded-resources", ["ClusterIssuer/kubeflow-self-signing-issuer"]),
    ]


def test_custom_resources_not_intercepted_by_a_webhook_go_before_webhooks(cert_manager: list[dict[str, Any]]) -> None:
    gateway = obj("networking.istio.io/v1", "Gateway", "kubeflow-gateway", "kubeflow")
    waves = {w.name: names(w.objects) for w in order_waves([*cert_manager, gateway])}
    assert waves["resources"] == ["Gateway/kubeflow-gateway"]
    assert list(waves) == ["namespaces", "crds", "config", "workloads", "resources", "webhooks", "guarded-resources"]


def test_without_the_webhook_the_issuer_is_an_ordinary_resource(cert_manager: list[dict[str, Any]]) -> None:
    no_hook = [o for o in cert_manager if o["kind"] != "ValidatingWebhookConfiguration"]
    waves = {w.name: names(w.objects) for w in order_waves(no_hook)}
    assert waves["resources"] == ["ClusterIssuer/kubeflow-self-signing-issuer"]
    assert "guarded-resources" not in waves and "webhooks" not in waves


def test_guarded_groups_ignore_core_and_wildcards(cert_manager: list[dict[str, Any]]) -> None:
    assert webhook_guarded_groups(cert_manager) == {"cert-manager.io", "acme.cert-manager.io"}
    hook = obj("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "m",
               webhooks=[{"rules": [{"apiGroups": ["", "*", "kubeflow.org"]}]}])
    assert webhook_guarded_groups([hook]) == {"kubeflow.org"}


@pytest.mark.parametrize(("api_version", "kind", "wave"), [
    ("v1", "Namespace", "namespaces"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "crds"),
    ("v1", "ConfigMap", "config"),
    ("v1", "Secret", "config"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "config"),
    ("networking.k8s.io/v1", "NetworkPolicy", "config"),
    ("apps/v1", "StatefulSet", "workloads"),
    ("apps/v1", "DaemonSet", "workloads"),
    ("batch/v1", "Job", "workloads"),
    ("batch/v1", "CronJob", "workloads"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "webhooks"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "webhooks"),
    ("apiregistration.k8s.io/v1", "APIService", "webhooks"),
    ("kubeflow.org/v1", "Profile", "resources"),
    ("cert-manager.io/v1", "Certificate", "guarded-resources"),
])
def test_wave_of(api_version: str, kind: str, wave: str) -> None:
    assert wave in WAVES
    assert wave_of(obj(api_version, kind, "x"), {"cert-manager.io"}) == wave


def test_duplicates_keep_the_last_definition() -> None:
    first = obj("v1", "ConfigMap", "settings", "kubeflow", data={"v": "1"})
    other = obj("v1", "ConfigMap", "settings", "istio-system", data={"v": "other"})
    last = obj("v1", "ConfigMap", "settings", "kubeflow", data={"v": "2"})
    waves = order_waves([first, other, last])
    assert len(waves) == 1
    assert [o["data"]["v"] for o in waves[0].objects] == ["2", "other"]


def test_empty_waves_are_omitted() -> None:
    assert order_waves([]) == []
    assert [w.name for w in order_waves([obj("v1", "Namespace", "a")])] == ["namespaces"]


# -- webhook backends -------------------------------------------------------------------------------
def test_webhook_backends_of_cert_manager(cert_manager: list[dict[str, Any]]) -> None:
    vwc = next(o for o in cert_manager if o["kind"] == "ValidatingWebhookConfiguration")
    assert webhook_backends(vwc) == [("cert-manager", "cert-manager-webhook")]


def test_webhook_backends_dedupe_default_namespace_and_skip_urls() -> None:
    hook = obj("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "m", webhooks=[
        {"name": "a", "clientConfig": {"service": {"name": "svc", "namespace": "kubeflow"}}},
        {"name": "b", "clientConfig": {"service": {"name": "svc", "namespace": "kubeflow"}}},
        {"name": "c", "clientConfig": {"service": {"name": "plain"}}},
        {"name": "d", "clientConfig": {"url": "https://example.com/hook"}},
    ])
    assert webhook_backends(hook) == [("default", "plain"), ("kubeflow", "svc")]


def test_webhook_backends_of_an_api_service() -> None:
    local = obj("apiregistration.k8s.io/v1", "APIService", "v1.apps")
    metrics = obj("apiregistration.k8s.io/v1", "APIService", "v1beta1.metrics.k8s.io",
                  spec={"service": {"name": "metrics-server", "namespace": "kube-system"}})
    assert webhook_backends(local) == []
    assert webhook_backends(metrics) == [("kube-system", "metrics-server")]


# -- deletion ----------------------------------------------------------------------------------------
def test_deletion_order_webhooks_first_namespaces_last(cert_manager: list[dict[str, Any]]) -> None:
    refs = [ObjectRef.of(o) for o in cert_manager]
    buckets = [[f"{r.kind}/{r.name}" for r in bucket] for bucket in deletion_order(refs)]
    assert buckets == [
        ["ValidatingWebhookConfiguration/cert-manager-webhook"],
        ["ClusterIssuer/kubeflow-self-signing-issuer"],
        ["Deployment/cert-manager-webhook"],
        ["ClusterRole/cert-manager-controller-issuers", "Service/cert-manager-webhook",
         "ServiceAccount/cert-manager-webhook"],
        ["CustomResourceDefinition/certificates.cert-manager.io",
         "CustomResourceDefinition/clusterissuers.cert-manager.io"],
        ["Namespace/cert-manager"],
    ]
    assert sum(len(b) for b in deletion_order(refs)) == len(refs)


def test_deletion_order_of_nothing() -> None:
    assert deletion_order([]) == []
