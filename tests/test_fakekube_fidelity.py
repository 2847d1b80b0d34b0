"""The fake answers as kube-apiserver does: status code, reason and message shape, over raw HTTP.

Names per kind, percent-decoded paths, pagination, CRD schema validation (pruning, Strict, CEL),
admission webhooks, the simulated operators, scheduling and pod Events.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.bed import wait_for
from tests.fakekube import FakeKube

NS = "demo"


@pytest.fixture
def fk() -> Iterator[FakeKube]:
    with FakeKube(seed=0, ready_delay=0.0) as fake:
        fake.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": {"team": "ml"}}})
        yield fake


def call(fk: FakeKube, method: str, path: str, body: Any = None,
         ctype: str = "application/json") -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    req = urllib.request.Request(fk.url + path, data=data, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")



# ---------------------------------------------------------------------------------------------- names, paths
def test_rbac_names_are_path_segments_and_clients_percent_encode_them(fk: FakeKube) -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "cert-manager-controller-approve:cert-manager-io"}, "rules": []}
    code, _ = call(fk, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", role)
    assert code == 201
    code, got = call(fk, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/"
                                "cert-manager-controller-approve%3Acert-manager-io")
    assert code == 200 and got["metadata"]["name"] == "cert-manager-controller-approve:cert-manager-io"
    code, err = call(fk, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                     {**role, "metadata": {"name": "50%off"}})
    assert code == 422 and err["reason"] == "Invalid"
    assert err["message"] == ('ClusterRole.rbac.authorization.k8s.io "50%off" is invalid: metadata.name: '
                              "Invalid value: \"50%off\": may not contain '%'")


def test_names_follow_each_kinds_rule(fk: FakeKube) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a:b"}}
    code, err = call(fk, "POST", f"/api/v1/namespaces/{NS}/configmaps", cm)
    assert code == 422
    assert err["message"].startswith('ConfigMap "a:b" is invalid: metadata.name: Invalid value: "a:b": '
                                     "a lowercase RFC 1123 subdomain must consist of")
    assert err["details"]["causes"][0] == {"reason": "FieldValueInvalid", "field": "metadata.name",
                                           "message": err["message"].split("metadata.name: ", 1)[1]}
    code, _ = call(fk, "POST", f"/api/v1/namespaces/{NS}/configmaps", {**cm, "metadata": {"name": "a.b"}})
    assert code == 201  # subdomains may hold dots
    code, err = call(fk, "POST", "/api/v1/namespaces", {"metadata": {"name": "a.b"}})
    assert code == 422 and "a lowercase RFC 1123 label must consist of" in err["message"]
    code, err = call(fk, "POST", f"/api/v1/namespaces/{NS}/services",
                     {"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}})
    assert code == 422 and "a DNS-1035 label must consist of" in err["message"]
    code, err = call(fk, "POST", f"/apis/apps/v1/namespaces/{NS}/deployments",
                     {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x" * 254}})
    assert code == 422 and "must be no more than 253 characters" in err["message"]


# ---------------------------------------------------------------------------------------------- pagination
def test_list_pages_with_limit_and_continue(fk: FakeKube) -> None:
    wait_for(lambda: fk.get("v1", "ConfigMap", "kube-root-ca.crt", NS))
    for i in range(5):
        fk.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}", "namespace": NS}})
    code, page = call(fk, "GET", f"/api/v1/namespaces/{NS}/configmaps?limit=2")
    assert code == 200 and [i["metadata"]["name"] for i in page["items"]] == ["cm-0", "cm-1"]
    assert page["metadata"]["remainingItemCount"] == 4  # cm-2..cm-4 and kube-root-ca.crt
    names = [i["metadata"]["name"] for i in page["items"]]
    while page["metadata"].get("continue"):
        code, page = call(fk, "GET", f"/api/v1/namespaces/{NS}/configmaps?limit=2&continue="
                                     f"{page['metadata']['continue']}")
        names += [i["metadata"]["name"] for i in page["items"]]
    assert names == ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "kube-root-ca.crt"]
    code, err = call(fk, "GET", f"/api/v1/namespaces/{NS}/configmaps?limit=2&continue=bogus")
    assert code == 400 and err["message"].startswith("invalid continue token")


# ---------------------------------------------------------------------------------------------- CRD schemas
GADGETS = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.demo.kfboot.io"},
    "spec": {"group": "demo.kfboot.io", "scope": "Namespaced",
             "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "required": ["size"],
                                        "x-kubernetes-validations": [
                                            {"rule": "self.size <= self.maxSize", "message": "size exceeds maxSize"},
                                            {"rule": "self.mode == oldSelf.mode", "message": "mode is immutable"}],
                                        "properties": {
                                            "size": {"type": "integer", "minimum": 1},
                                            "maxSize": {"type": "integer", "default": 10},
                                            "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
                                            "port": {"x-kubernetes-int-or-string": True},
                                            "since": {"type": "string", "format": "date-time"},
                                            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                        }},
                               "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                           }}}}]},
}
GADGETS_URL = f"/apis/demo.kfboot.io/v1/namespaces/{NS}/gadgets"


@pytest.fixture
def gadgets(fk: FakeKube) -> FakeKube:
    assert call(fk, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", GADGETS)[0] == 201
    wait_for(lambda: fk.registry.by_kind("demo.kfboot.io/v1", "Gadget"))
    return fk


def gadget(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "demo.kfboot.io/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": spec}


def test_custom_resources_are_pruned_and_defaulted(gadgets: FakeKube) -> None:
    code, got = call(gadgets, "POST", GADGETS_URL, gadget(size=2, port="http", unknown=1, extra={"free": {"a": 1}}))
    assert code == 201
    assert got["spec"] == {"size": 2, "maxSize": 10, "mode": "safe", "port": "http", "extra": {"free": {"a": 1}}}


def test_strict_field_validation_refuses_unknown_fields(gadgets: FakeKube) -> None:
    code, err = call(gadgets, "POST", GADGETS_URL + "?fieldValidation=Strict", gadget(size=2, unknown=1))
    assert code == 400 and err["reason"] == "BadRequest"
    assert err["message"] == ('Gadget in version "v1" cannot be handled as a Gadget: strict decoding error: '
                              'unknown field "spec.unknown"')


def test_schema_violations_are_422_with_every_cause(gadgets: FakeKube) -> None:
    code, err = call(gadgets, "POST", GADGETS_URL, gadget(size="two", mode="turbo", since="yesterday"))
    assert code == 422 and err["reason"] == "Invalid"
    assert err["message"].startswith('Gadget.demo.kfboot.io "g" is invalid: [')  # several errors: a list
    assert sorted((c["field"], c["reason"], c["message"]) for c in err["details"]["causes"]) == [
        ("spec.mode", "FieldValueNotSupported", 'Unsupported value: "turbo": supported values: "fast", "safe"'),
        ("spec.since", "FieldValueInvalid",
         'Invalid value: "yesterday": spec.since in body must be of type date-time: "yesterday"'),
        ("spec.size", "FieldValueTypeInvalid",
         'Invalid value: "string": spec.size in body must be of type integer: "string"')]
    code, err = call(gadgets, "POST", GADGETS_URL, gadget(port=True))
    assert code == 422
    assert sorted(c["message"] for c in err["details"]["causes"]) == [
        'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"', "Required value"]


def test_cel_rules_and_transition_rules(gadgets: FakeKube) -> None:
    code, err = call(gadgets, "POST", GADGETS_URL, gadget(size=20))
    assert code == 422
    assert err["message"] == 'Gadget.demo.kfboot.io "g" is invalid: spec: Invalid value: "object": size exceeds maxSize'
    assert call(gadgets, "POST", GADGETS_URL, gadget(size=2))[0] == 201
    code, err = call(gadgets, "PATCH", GADGETS_URL + "/g", {"spec": {"mode": "fast"}},
                     ctype="application/merge-patch+json")
    assert code == 422 and err["message"].endswith('spec: Invalid value: "object": mode is immutable')
    assert call(gadgets, "PATCH", GADGETS_URL + "/g", {"spec": {"size": 3}}, ctype="application/merge-patch+json")[0] == 200


# ---------------------------------------------------------------------------------------------- webhooks
def webhook_config(ca: str = "", policy: str = "Fail", **extra: Any) -> dict[str, Any]:
    hook = {"name": "check.demo.kfboot.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": policy,
            "clientConfig": {"service": {"namespace": NS, "name": "checker", "path": "/check"},
                             **({"caBundle": ca} if ca else {})},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                       "resources": ["configmaps"]}], **extra}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "checker"}, "webhooks": [hook]}


def checker_server(fk: FakeKube) -> None:
    fk.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "checker", "namespace": NS},
            "spec": {"selector": {"app": "checker"}, "ports": [{"port": 443, "targetPort": 9443}]}})
    fk.put({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "checker", "namespace": NS},
            "spec": {"selector": {"matchLabels": {"app": "checker"}},
                     "template": {"metadata": {"labels": {"app": "checker"}},
                                  "spec": {"containers": [{"name": "c", "image": "checker:1"}]}}}})


def cm(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}}}


def test_webhook_errors_until_the_service_answers_with_a_known_ca(fk: FakeKube) -> None:
    fk.put(webhook_config())
    url = f"/api/v1/namespaces/{NS}/configmaps"
    code, err = call(fk, "POST", url, cm("a"))
    assert code == 500 and err["reason"] == "InternalError"
    assert err["message"] == ('Internal error occurred: failed calling webhook "check.demo.kfboot.io": failed to '
                              'call webhook: Post "https://checker.demo.svc:443/check?timeout=10s": '
                              'service "checker" not found')
    checker_server(fk)
    ip = fk.get("v1", "Service", "checker", NS)["spec"]["clusterIP"]
    code, err = call(fk, "POST", url, cm("a"))
    assert code == 500 and err["message"].endswith(f"dial tcp {ip}:443: connect: connection refused")
    wait_for(lambda: (fk.get("v1", "Endpoints", "checker", NS) or {}).get("subsets"))
    code, err = call(fk, "POST", url, cm("a"))
    assert code == 500 and err["message"].endswith(
        "tls: failed to verify certificate: x509: certificate signed by unknown authority")
    assert err["details"]["causes"] == [{"message": err["message"].removeprefix("Internal error occurred: ")}]
    fk.put(webhook_config(ca="Y2E="))
    assert call(fk, "POST", url, cm("a"))[0] == 201
    # a webhook that intercepts DELETE blocks deletions once its server is gone
    cfg = webhook_config(ca="Y2E=")
    cfg["webhooks"][0]["rules"][0]["operations"] = ["DELETE"]
    fk.put(cfg)
    fk.remove("apps/v1", "Deployment", "checker", NS)
    wait_for(lambda: not (fk.get("v1", "Endpoints", "checker", NS) or {}).get("subsets"))
    code, err = call(fk, "DELETE", url + "/a")
    assert code == 500 and err["message"].endswith("connect: connection refused")


def test_webhook_selectors_and_ignore_policy(fk: FakeKube) -> None:
    url = f"/api/v1/namespaces/{NS}/configmaps"
    fk.put(webhook_config(namespaceSelector={"matchLabels": {"team": "web"}}))
    assert call(fk, "POST", url, cm("other-team"))[0] == 201
    fk.put(webhook_config(objectSelector={"matchLabels": {"checked": "yes"}}))
    assert call(fk, "POST", url, cm("unlabelled"))[0] == 201
    assert call(fk, "POST", url, cm("labelled", {"checked": "yes"}))[0] == 500
    fk.put(webhook_config(policy="Ignore"))
    assert call(fk, "POST", url, cm("ignored"))[0] == 201
    # the apiserver never sends webhook configurations to webhooks
    assert call(fk, "PUT", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/checker",
                {**webhook_config(), "metadata": {"name": "checker"}})[0] == 200


@pytest.mark.parametrize(("resources", "intercepted"), [
    (["*/*"], True),  # every resource and subresource, the resource itself included (cert-manager's webhook)
    (["configmaps/*"], True),
    (["*"], True),
    (["configmaps"], True),
    (["configmaps/status"], False),  # only that subresource
    (["secrets"], False),
])
def test_webhook_resource_rules_match_as_the_apiserver_does(fk: FakeKube, resources: list[str],
                                                            intercepted: bool) -> None:
    cfg = webhook_config()
    cfg["webhooks"][0]["rules"][0]["resources"] = resources
    fk.put(cfg)
    code, _ = call(fk, "POST", f"/api/v1/namespaces/{NS}/configmaps", cm("a"))
    assert code == (500 if intercepted else 201)


# ---------------------------------------------------------------------------------------------- operators
def deployment(name: str, ns: str, image: str, args: list[str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image, "args": args or []}]}}}}


CERT_MANAGER_CRDS = [("certificates", "Certificate", "Namespaced"), ("issuers", "Issuer", "Namespaced"),
                     ("clusterissuers", "ClusterIssuer", "Cluster")]


def cert_manager(fk: FakeKube, cainjector: bool = True) -> None:
    fk.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}})
    for plural, kind, scope in CERT_MANAGER_CRDS:
        fk.put({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.cert-manager.io"},
                "spec": {"group": "cert-manager.io", "scope": scope,
                         "names": {"plural": plural, "kind": kind, "singular": kind.lower()},
                         "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                       "schema": {"openAPIV3Schema": {"type": "object",
                                                                      "x-kubernetes-preserve-unknown-fields": True}}}]}})
    fk.put(deployment("cert-manager", "cert-manager", "quay.io/jetstack/cert-manager-controller:v1.19.4"))
    fk.put(deployment("cert-manager-webhook", "cert-manager", "quay.io/jetstack/cert-manager-webhook:v1.19.4",
                      ["--dynamic-serving-ca-secret-name=cert-manager-webhook-ca"]))
    if cainjector:
        fk.put(deployment("cert-manager-cainjector", "cert-manager",
                          "quay.io/jetstack/cert-manager-cainjector:v1.19.4"))
    wait_for(lambda: fk.registry.by_kind("cert-manager.io/v1", "ClusterIssuer"))


def test_cert_manager_issues_certificates_and_cainjector_fills_both_annotations(fk: FakeKube) -> None:
    cert_manager(fk, cainjector=False)
    fk.put({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "selfsigned"},
            "spec": {"selfSigned": {}}})
    fk.put({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "serving", "namespace": NS},
            "spec": {"secretName": "serving-tls", "dnsNames": ["svc.demo.svc"],
                     "issuerRef": {"kind": "ClusterIssuer", "name": "selfsigned"}}})
    ready = wait_for(lambda: [c for c in (fk.get("cert-manager.io/v1", "Certificate", "serving", NS).get("status")
                                          or {}).get("conditions") or [] if c["status"] == "True"])
    assert ready[0]["reason"] == "Ready"
    secret = fk.get("v1", "Secret", "serving-tls", NS)
    assert secret["type"] == "kubernetes.io/tls" and {"ca.crt", "tls.crt", "tls.key"} <= set(secret["data"])
    webhook_ca = wait_for(lambda: fk.get("v1", "Secret", "cert-manager-webhook-ca", "cert-manager"))
    for name, annotation in (("from-cert", {"cert-manager.io/inject-ca-from": f"{NS}/serving"}),
                             ("from-secret", {"cert-manager.io/inject-ca-from-secret":
                                              "cert-manager/cert-manager-webhook-ca"})):
        cfg = webhook_config()
        cfg["metadata"] = {"name": name, "annotations": annotation}
        fk.put(cfg)
    time.sleep(0.3)  # no cainjector running: nothing is injected
    assert not fk.get("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
                      "from-cert")["webhooks"][0]["clientConfig"].get("caBundle")
    fk.put(deployment("cert-manager-cainjector", "cert-manager", "quay.io/jetstack/cert-manager-cainjector:v1.19.4"))

    def bundle(name: str) -> str:
        return fk.get("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
                      name)["webhooks"][0]["clientConfig"].get("caBundle", "")

    assert wait_for(lambda: bundle("from-cert")) == secret["data"]["ca.crt"]
    assert wait_for(lambda: bundle("from-secret")) == webhook_ca["data"]["ca.crt"]


def test_gpu_operator_reports_its_cluster_policy_ready(fk: FakeKube) -> None:
    fk.put({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "clusterpolicies.nvidia.com"},
            "spec": {"group": "nvidia.com", "scope": "Cluster",
                     "names": {"plural": "clusterpolicies", "kind": "ClusterPolicy", "singular": "clusterpolicy"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}})
    wait_for(lambda: fk.registry.by_kind("nvidia.com/v1", "ClusterPolicy"))
    fk.put({"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "metadata": {"name": "cluster-policy"},
            "spec": {}})
    time.sleep(0.2)
    assert "state" not in (fk.get("nvidia.com/v1", "ClusterPolicy", "cluster-policy").get("status") or {})
    fk.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu-operator"}})
    fk.put(deployment("gpu-operator", "gpu-operator", "nvcr.io/nvidia/gpu-operator:v26.7.0"))
    assert wait_for(lambda: (fk.get("nvidia.com/v1", "ClusterPolicy", "cluster-policy").get("status")
                             or {}).get("state")) == "ready"


def test_profile_finalizer_strands_the_profile_once_its_controller_is_gone(fk: FakeKube) -> None:
    fk.put({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "profiles.kubeflow.org"},
            "spec": {"group": "kubeflow.org", "scope": "Cluster",
                     "names": {"plural": "profiles", "kind": "Profile", "singular": "profile"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}})
    fk.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubeflow"}})
    fk.put(deployment("profiles-deployment", "kubeflow", "ghcr.io/kubeflow/kubeflow/profile-controller:v1.10.0"))
    wait_for(lambda: fk.registry.by_kind("kubeflow.org/v1", "Profile"))
    fk.put({"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": "alice"},
            "spec": {"owner": {"kind": "User", "name": "alice@example.com"}}})
    wait_for(lambda: fk.get("v1", "Namespace", "alice"))
    assert fk.get("kubeflow.org/v1", "Profile", "alice")["metadata"]["finalizers"] == ["profile-finalizer"]
    fk.remove("apps/v1", "Deployment", "profiles-deployment", "kubeflow")
    code, _ = call(fk, "DELETE", "/apis/kubeflow.org/v1/profiles/alice")
    assert code == 200
    time.sleep(0.3)
    stranded = fk.get("kubeflow.org/v1", "Profile", "alice")
    assert stranded is not None and stranded["metadata"].get("deletionTimestamp")
    fk.put(deployment("profiles-deployment", "kubeflow", "ghcr.io/kubeflow/kubeflow/profile-controller:v1.10.0"))
    wait_for(lambda: fk.get("kubeflow.org/v1", "Profile", "alice") is None)


# ---------------------------------------------------------------------------------------------- scheduling, Events
def node(name: str, labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or []}}


def test_daemonsets_run_only_on_matching_nodes_that_they_tolerate(fk: FakeKube) -> None:
    fk.put(node("cpu-1"))
    fk.put(node("gpu-1", {"nvidia.com/gpu.present": "true"}))
    fk.put(node("gpu-2", {"nvidia.com/gpu.present": "true"}, [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]))
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "plugin", "namespace": NS},
          "spec": {"selector": {"matchLabels": {"app": "plugin"}},
                   "template": {"metadata": {"labels": {"app": "plugin"}},
                                "spec": {"nodeSelector": {"nvidia.com/gpu.present": "true"},
                                         "containers": [{"name": "c", "image": "plugin:1"}]}}}}
    fk.put(ds)
    got = wait_for(lambda: (s := fk.get("apps/v1", "DaemonSet", "plugin", NS).get("status") or {})
                   .get("numberReady") == 1 and s)
    assert got["desiredNumberScheduled"] == 1
    pods = [p for p in fk.list("v1", "Pod", NS) if p["metadata"]["name"].startswith("plugin-")]
    assert [p["spec"]["nodeName"] for p in pods] == ["gpu-1"]
    ds["spec"]["template"]["spec"]["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists"}]
    fk.put(ds)
    wait_for(lambda: (fk.get("apps/v1", "DaemonSet", "plugin", NS).get("status") or {}).get("numberReady") == 2)


def test_unschedulable_pod_gets_failed_scheduling_event(fk: FakeKube) -> None:
    fk.put(node("cp", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]))
    fk.put(node("w1", {"pool": "cpu"}))
    fk.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "trainer", "namespace": NS},
            "spec": {"nodeSelector": {"pool": "gpu"}, "containers": [{"name": "c", "image": "trainer:1"}]}})
    ev = wait_for(lambda: [e for e in fk.list("v1", "Event", NS) if e["reason"] == "FailedScheduling"])[0]
    assert ev["type"] == "Warning" and ev["source"] == {"component": "default-scheduler"}
    assert ev["involvedObject"]["kind"] == "Pod" and ev["involvedObject"]["name"] == "trainer"
    assert ev["message"] == ("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                             "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. "
                             "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    pod = fk.get("v1", "Pod", "trainer", NS)
    assert pod["status"]["phase"] == "Pending"
    assert next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")["reason"] == "Unschedulable"


def test_image_pull_backoff_with_kubelet_events(fk: FakeKube) -> None:
    fk.unpullable_images.add("registry.example/missing:1")
    fk.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": NS},
            "spec": {"containers": [{"name": "app", "image": "registry.example/missing:1"}]}})
    events = wait_for(lambda: [e for e in fk.list("v1", "Event", NS) if e["reason"] in ("Failed", "BackOff")])
    messages = {e["message"] for e in events}
    assert 'Back-off pulling image "registry.example/missing:1"' in messages
    assert "Error: ImagePullBackOff" in messages
    assert all(e["involvedObject"]["fieldPath"] == "spec.containers{app}" for e in events)
    waiting = fk.get("v1", "Pod", "web", NS)["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ImagePullBackOff"
