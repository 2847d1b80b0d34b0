"""A settled GPU + Kubeflow cluster in the fake API server, for `kfboot doctor` tests and its benchmark.

The fake's controllers are stopped: doctor only reads, and a broken pod must stay broken. Every object
is seeded with the status a healthy real cluster shows (GPU Operator operands per GPU node, webhooks
with endpoints and injected CAs, kfboot's state). Tests then break one thing each.
"""

from __future__ import annotations

import json
from typing import Any

from kfboot.engine.state import PhaseRecord
from kfboot.k8s.refs import ObjectRef
from kfboot.phases.state_store import STATE_NAME, STATE_NAMESPACE
from tests.fakekube import FakeKube
from tests.fakekube.controllers import Controllers

NOW = "2026-12-01T10:00:00Z"
H100 = "NVIDIA-H100-80GB-HBM3"
OPERANDS = ("nvidia-device-plugin-daemonset", "nvidia-operator-validator", "gpu-feature-discovery",
            "nvidia-dcgm-exporter")
DEPLOYMENTS = {("cert-manager", "cert-manager"), ("cert-manager", "cert-manager-webhook"),
               ("cert-manager", "cert-manager-cainjector"), ("istio-system", "istiod"), ("auth", "dex"),
               ("oauth2-proxy", "oauth2-proxy"), ("kubeflow", "kserve-controller-manager"),
               ("kubeflow", "ml-pipeline"), ("kubeflow", "profiles-deployment"), ("gpu-operator", "gpu-operator"),
               ("kuberay", "kuberay-operator")}
NAMESPACES = ("kfboot-system", "gpu-operator", "cert-manager", "istio-system", "auth", "oauth2-proxy", "kubeflow",
              "kuberay")
PROFILE = "kubeflow-user-example-com"
CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="


def ready_conditions() -> list[dict[str, Any]]:
    return [{"type": t, "status": "True", "lastTransitionTime": NOW}
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]


def pod(namespace: str, name: str, *, node: str = "cpu-1", labels: dict[str, str] | None = None,
        containers: list[str] = ("main",), gpus: int = 0, status: dict[str, Any] | None = None,
        owner: dict[str, Any] | None = None) -> dict[str, Any]:
    spec_containers = []
    for c in containers:
        res = {"limits": {"nvidia.com/gpu": str(gpus)}} if gpus and c != "istio-proxy" else {}
        spec_containers.append({"name": c, "image": f"example.com/{c}:1", "resources": res})
    md: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if owner:
        md["ownerReferences"] = [owner]
    running = {"phase": "Running", "podIP": "10.244.1.2", "conditions": ready_conditions(),
               "containerStatuses": [{"name": c, "ready": True, "restartCount": 0, "image": f"example.com/{c}:1",
                                      "state": {"running": {"startedAt": NOW}}} for c in containers]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"nodeName": node, "containers": spec_containers}, "status": status or running}


def gpu_node(name: str, *, count: int = 8, product: str = H100, allocatable: int | None = None,
             extra_labels: dict[str, str] | None = None, provider: str = "kind://docker/kfboot/") -> dict[str, Any]:
    alloc = count if allocatable is None else allocatable
    labels = {"kubernetes.io/hostname": name, "nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": str(count),
              "nvidia.com/gpu.product": product, "nvidia.com/gpu.replicas": "1", **(extra_labels or {})}
    return _node(name, labels, {"nvidia.com/gpu": str(count)}, {"nvidia.com/gpu": str(alloc)}, provider)


def _node(name: str, labels: dict[str, str], cap: dict[str, str], alloc: dict[str, str],
          provider: str = "kind://docker/kfboot/") -> dict[str, Any]:
    base = {"cpu": "16", "memory": "64Gi", "ephemeral-storage": "200Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "spec": {"providerID": f"{provider}{name}"},
            "status": {"capacity": {**base, **cap}, "allocatable": {**base, **alloc},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def crd(group: str, kind: str, plural: str, scope: str = "Namespaced", established: bool = True) -> dict[str, Any]:
    cond = "True" if established else "False"
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope,
                     "names": {"kind": kind, "plural": plural, "listKind": f"{kind}List"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]},
            "status": {"conditions": [{"type": "NamesAccepted", "status": "True"},
                                      {"type": "Established", "status": cond}]}}


def put_crd(fk: FakeKube, obj: dict[str, Any]) -> None:
    stored = fk.put(obj)
    fk.registry.set_crd(stored["metadata"]["name"], Controllers._crd_types(stored))


def deployment(namespace: str, name: str, available: bool = True) -> dict[str, Any]:
    n = 1 if available else 0
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "generation": 1},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": "x"}]}}},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": n,
                       "availableReplicas": n}}


def service_with_endpoints(fk: FakeKube, namespace: str, name: str, ready: bool = True) -> None:
    fk.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"port": 443, "targetPort": 9443}]}})
    endpoints = [{"addresses": ["10.244.0.9"], "conditions": {"ready": True}}] if ready else []
    fk.put({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-abcde", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "endpoints": endpoints, "ports": [{"port": 9443}]})


def webhook_config(kind: str, name: str, namespace: str, service: str, *, inject: str | None, ca: str = CA,
                   hook: str = "") -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if inject:
        md["annotations"] = {"cert-manager.io/inject-ca-from": inject}
    client = {"service": {"namespace": namespace, "name": service, "path": "/validate"}}
    if ca:
        client["caBundle"] = ca
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": md,
            "webhooks": [{"name": hook or f"{name}.example.com", "clientConfig": client, "failurePolicy": "Fail",
                          "sideEffects": "None", "admissionReviewVersions": ["v1"]}]}


def record(phase: str, status: str = "ready", error: str = "", inventory: list[ObjectRef] | None = None) -> PhaseRecord:
    return PhaseRecord(phase, status, "1.0", "digest", inventory or [], NOW, NOW, error)


def put_state(fk: FakeKube, records: list[PhaseRecord]) -> None:
    fk.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": STATE_NAME, "namespace": STATE_NAMESPACE},
            "data": {r.phase: r.to_json() for r in records}})


def default_records() -> list[PhaseRecord]:
    dep = lambda ns, n: ObjectRef("apps/v1", "Deployment", n, ns)  # noqa: E731
    return [record("cert-manager", inventory=[dep("cert-manager", "cert-manager-webhook")]),
            record("istio", inventory=[dep("istio-system", "istiod")]),
            record("dex", inventory=[dep("auth", "dex"), dep("oauth2-proxy", "oauth2-proxy")]),
            record("kubeflow", inventory=[dep("kubeflow", "ml-pipeline")]),
            record("kserve", inventory=[dep("kubeflow", "kserve-controller-manager")]),
            record("gpu-operator"), record("kuberay")]


def healthy(fk: FakeKube, *, gpu_nodes: int = 1, cpu_nodes: int = 1, workload_pods_per_node: int = 0,
            provider: str = "kind://docker/kfboot/") -> None:
    """Seed the settled cluster (stops the fake's controllers first); provider: nodes' providerID prefix."""
    fk.controllers.stop()
    for ns in (*NAMESPACES, PROFILE):
        labels = {"istio-injection": "enabled"} if ns == PROFILE else {}
        fk.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels},
                "status": {"phase": "Active"}})
    put_crd(fk, crd("nvidia.com", "ClusterPolicy", "clusterpolicies", "Cluster"))
    put_crd(fk, crd("kubeflow.org", "Profile", "profiles", "Cluster"))
    fk.put({"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "metadata": {"name": "cluster-policy"},
            "spec": {}, "status": {"state": "ready"}})
    fk.put({"apiVersion": "kubeflow.org/v1", "kind": "Profile", "metadata": {"name": PROFILE},
            "spec": {"owner": {"kind": "User", "name": "user@example.com"}}})
    fk.put({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path"})
    for i in range(cpu_nodes):
        fk.put(_node(f"cpu-{i + 1}", {"kubernetes.io/hostname": f"cpu-{i + 1}"}, {}, {}, provider))
    for i in range(gpu_nodes):
        name = f"gpu-{i + 1}"
        fk.put(gpu_node(name, provider=provider))
        for app in OPERANDS:
            fk.put(pod("gpu-operator", f"{app}-{name}", node=name, labels={"app": app}))
        for j in range(workload_pods_per_node):
            fk.put(pod(PROFILE, f"train-{name}-{j}", node=name, gpus=1, labels={"app": "train"}))
    for ns, name in sorted(DEPLOYMENTS):
        fk.put(deployment(ns, name))
        fk.put(pod(ns, f"{name}-5d9f7c-x2x4z", labels={"app": name}))
    service_with_endpoints(fk, "cert-manager", "cert-manager-webhook")
    service_with_endpoints(fk, "kubeflow", "kserve-webhook-server-service")
    fk.put(webhook_config("ValidatingWebhookConfiguration", "cert-manager-webhook", "cert-manager",
                          "cert-manager-webhook", inject="cert-manager/cert-manager-webhook-ca",
                          hook="webhook.cert-manager.io"))
    fk.put(webhook_config("MutatingWebhookConfiguration", "inferenceservice.serving.kserve.io", "kubeflow",
                          "kserve-webhook-server-service", inject="kubeflow/serving-cert",
                          hook="inferenceservice.kserve-webhook-server.defaulter"))
    put_state(fk, default_records())


def state_json(fk: FakeKube) -> dict[str, Any]:
    cm = fk.get("v1", "ConfigMap", STATE_NAME, STATE_NAMESPACE) or {}
    return {k: json.loads(v) for k, v in (cm.get("data") or {}).items()}
