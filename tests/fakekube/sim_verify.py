"""Simulated controllers for `kfboot verify`'s test objects, plus the TokenRequest subresource.

`VerifySim(fk).install()` registers the CRDs the checks use and plays each operator: cert-manager
issues, the profile controller makes the namespace and its ServiceAccounts, Katib/KubeRay/KServe/
Trainer move their CRs to done, istiod injects the sidecar. `sim.fail(kind, status)` makes the
operator report that status instead (an injected failure), `sim.pod(...)` leaves a pod with logs
behind for the evidence a failed check collects.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .errors import ApiError

if TYPE_CHECKING:
    from .fake import FakeKube

TOKEN_PREFIX = "fake-token"

KINDS = [  # (group, version, kind, plural, namespaced)
    ("cert-manager.io", "v1", "Issuer", "issuers", True),
    ("cert-manager.io", "v1", "Certificate", "certificates", True),
    ("kubeflow.org", "v1", "Profile", "profiles", False),
    ("kubeflow.org", "v1", "Notebook", "notebooks", True),
    ("kubeflow.org", "v1beta1", "Experiment", "experiments", True),
    ("trainer.kubeflow.org", "v1alpha1", "TrainJob", "trainjobs", True),
    ("ray.io", "v1", "RayCluster", "rayclusters", True),
    ("ray.io", "v1", "RayJob", "rayjobs", True),
    ("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices", True),
    ("networking.istio.io", "v1", "VirtualService", "virtualservices", True),
    ("security.istio.io", "v1", "AuthorizationPolicy", "authorizationpolicies", True),
]


def token_for(namespace: str, account: str) -> str:
    return f"{TOKEN_PREFIX}.{namespace}.{account}"


def token_request(fake: FakeKube, namespace: str, account: str, body: Any) -> dict[str, Any]:
    """POST …/serviceaccounts/NAME/token: a token naming its ServiceAccount (404 if there is none)."""
    if fake.get("v1", "ServiceAccount", account, namespace) is None:
        raise ApiError(404, f'serviceaccounts "{account}" not found', "NotFound",
                       {"name": account, "kind": "serviceaccounts"})
    out = dict(body or {})
    out.update(apiVersion="authentication.k8s.io/v1", kind="TokenRequest")
    out["status"] = {"token": token_for(namespace, account), "expirationTimestamp": "2099-01-01T00:00:00Z"}
    return out


def _cond(kind: str, status: str = "True", reason: str = "", message: str = "") -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-01-01T00:00:00Z"}


def crd(group: str, version: str, kind: str, plural: str, namespaced: bool) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced" if namespaced else "Cluster",
                     "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
                     "versions": [{"name": version, "served": True, "storage": True,
                                   "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}


def wait_established(fake: FakeKube, names: list[str], timeout: float = 10) -> None:
    """Block until the fake's CRD controller has Established these CRDs (as a test setup on a real
    cluster would), so discovery serves their kinds before the code under test looks."""
    import time

    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            crd_obj = fake.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name) or {}
            conditions = (crd_obj.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} was not Established within {timeout:g}s")
            time.sleep(0.02)


class VerifySim:
    def __init__(self, fake: FakeKube) -> None:
        self.fake = fake
        self.failures: dict[str, dict[str, Any]] = {}
        self.gpu_worker_seen = False
        self.created: list[tuple[str, str]] = []  # (kind, namespace/name) in creation order

    def install(self) -> VerifySim:
        for spec in KINDS:
            self.fake.put(crd(*spec))
        wait_established(self.fake, [crd(*spec)["metadata"]["name"] for spec in KINDS])
        hooks = {"Issuer": self._issuer, "Certificate": self._certificate, "Profile": self._profile,
                 "Notebook": self._notebook, "Experiment": self._experiment, "TrainJob": self._trainjob,
                 "RayCluster": self._raycluster, "RayJob": self._rayjob, "InferenceService": self._isvc,
                 "Pod": self._inject_sidecar}
        for kind, fn in hooks.items():
            self.fake.on_create(kind, fn)
        return self

    def fail(self, kind: str, status: dict[str, Any]) -> None:
        """The operator of `kind` reports `status` instead of success."""
        self.failures[kind] = status

    def pod(self, namespace: str, name: str, labels: dict[str, str], logs: str, *,
            reason: str = "Error", exit_code: int = 1) -> None:
        """A pod that failed, with logs (what a failed check should quote)."""
        self.fake.put({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": namespace, "labels": labels},
                       "spec": {"containers": [{"name": "main", "image": "busybox"}]},
                       "status": {"phase": "Failed", "containerStatuses": [{
                           "name": "main", "ready": False, "restartCount": 0,
                           "state": {"terminated": {"exitCode": exit_code, "reason": reason}}}]}})
        self.fake.set_pod_logs(namespace, name, logs)

    def _outcome(self, kind: str, obj: dict[str, Any], ok: dict[str, Any]) -> dict[str, Any]:
        md = obj["metadata"]
        self.created.append((kind, f"{md.get('namespace', '')}/{md['name']}".lstrip("/")))
        return copy.deepcopy(self.failures.get(kind, ok))

    # -- operators --------------------------------------------------------------------------------
    def _issuer(self, fk: FakeKube, obj: dict[str, Any]) -> dict[str, Any]:
        return self._outcome("Issuer", obj, {"conditions": [_cond("Ready", reason="IsReady")]})

    def _certificate(self, fk: FakeKube, obj: dict[str, Any]) -> dict[str, Any]:
        status = self._outcome("Certificate", obj, {"conditions": [_cond("Ready", reason="Ready")]})
        if "Certificate" not in self.failures:
            fk.put({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                    "metadata": {"name": obj["spec"]["secretName"], "namespace": obj["metadata"]["namespace"]},
                    "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}})
        return status

    def _profile(self, fk: FakeKube, obj: dict[str, Any]) -> dict[str, Any]:
        status = self._outcome("Profile", obj, {"conditions": []})
        if "Profile" not in self.failures:
            name = obj["metadata"]["name"]
            owner = {"apiVersion": "kubeflow.org/v1", "kind": "Profile", "name": name,
                     "uid": obj["metadata"]["uid"], "controller": True}
            fk.put({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "labels": {"istio-injection": "enabled"}, "ownerReferences": [owner]}})
            for account in ("default-editor", "default-viewer"):
                fk.put({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": name}})
        return status

    def _notebook(self, fk: FakeKube, obj: dict[str, Any]) -> dict[str, Any]:
        return self._outcome("Notebook", obj, {"readyReplicas": 1, "containerState": {"running": {}}})

    def _experiment(self, fk: FakeKube, obj: dict[str, Any]) -> dict[str, Any]:
        trials = int(obj["spec"].get("maxTrialCount", 0))
        return self._outcome("Experiment", obj, {"conditions": [_cond("Created"), _cond("Running", "False"),
                                                                 _cond("Succeeded", reason="ExperimentMaxTrialsReached")],
                                                 "trials": trials, "trialsSucceeded": trials})

    def _trainjob(self, fk: FakeKube, obj: dict[str, Any]) -> dict[str, Any]:
        return self._outcome("TrainJob", obj, {"conditions": [_cond("Complete", reason="JobsCompleted")]})

    def _raycluster(self, fk: FakeKube, obj: dict[str, Any]) -> dict[str, Any]:
        groups = obj["spec"].get("workerGroupSpecs") or []
        self.gpu_worker_seen = any(g.get("groupName") == "gpu" for g in groups)
        workers = sum(int(g.get("replicas", 0)) for g in groups)
        return self._outcome("RayCluster", obj, {"state": "ready", "readyWorkerReplicas": workers,
                                                 "conditions": [_cond("HeadPodReady"), _cond("RayClusterProvisioned")]})

    def _rayjob(self, fk: FakeKube, obj: dict[str, Any]) -> dict[str, Any]:
        return self._outcome("RayJob", obj, {"jobStatus": "SUCCEEDED", "jobDeploymentStatus": "Complete"})

    def _isvc(self, fk: FakeKube, obj: dict[str, Any]) -> dict[str, Any]:
        name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
        return self._outcome("InferenceService", obj, {
            "url": f"http://{name}.{ns}.example.com",
            "conditions": [_cond("IngressReady"), _cond("PredictorReady"), _cond("Ready")]})

    def _inject_sidecar(self, fk: FakeKube, pod: dict[str, Any]) -> None:
        """istiod's webhook: pods in namespaces labelled istio-injection=enabled get istio-proxy."""
        ns = fk.get("v1", "Namespace", pod["metadata"].get("namespace", ""))
        labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
        if labels.get("istio-injection") != "enabled" or "Pod" in self.failures:
            return
        names = [c.get("name") for c in pod["spec"].get("containers") or []]
        if "istio-proxy" not in names:
            new = copy.deepcopy(pod)
            new["spec"]["containers"].append({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.28.0"})
            fk.put(new)
