"""Operators the platform relies on, simulated as controllers of the fake (not test hooks).

Each acts only while its own Deployment is available in the cluster, found by its container
image as a real cluster would run it, so deleting an operator first strands what it owns:

* cert-manager (``cert-manager-controller``): Issuers/ClusterIssuers Ready, Certificates issued
  (Secret ``spec.secretName`` of type kubernetes.io/tls, Ready condition, revision 1).
* cert-manager's webhook (``cert-manager-webhook``): writes its dynamic serving CA Secret
  (``--dynamic-serving-ca-secret-name``), annotated for direct injection, as the real one does.
* cainjector (``cert-manager-cainjector``): fills ``caBundle`` of webhook configurations, CRD
  conversion webhooks and APIServices from ``cert-manager.io/inject-ca-from`` (a Certificate's
  Secret) and ``cert-manager.io/inject-ca-from-secret`` (a Secret allowing direct injection).
* NVIDIA GPU Operator (``gpu-operator``): ClusterPolicy ``status.state: ready``.
* webhook servers that mint their own CA (Knative's webhooks, istiod, JobSet, Kubeflow Trainer; by
  image): ``caBundle`` appears once such a server is a ready endpoint of the webhook's Service.
* Kubeflow profiles controller (``profile-controller``): adds ``profile-finalizer`` to Profiles,
  creates the owner's namespace, and removes the finalizer on deletion.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime
import hashlib
import time
from typing import TYPE_CHECKING, Any

from .api import WriteOptions
from .errors import ApiError
from .objects import get_condition, owner_ref, set_condition

if TYPE_CHECKING:
    from .controllers import Controllers

INJECT_FROM = "cert-manager.io/inject-ca-from"
INJECT_FROM_SECRET = "cert-manager.io/inject-ca-from-secret"
ALLOW_DIRECT = "cert-manager.io/allow-direct-injection"
PROFILE_FINALIZER = "profile-finalizer"
# webhook servers that generate their own serving CA and patch it into their configurations
SELF_CERTIFYING = frozenset({"pilot", "jobset", "trainer-controller-manager"})  # istiod, JobSet, Kubeflow Trainer
SELF_CERTIFYING_PATHS = ("knative.dev/serving/cmd/webhook", "knative.dev/net-istio/cmd/webhook")


def _image_name(image: str) -> str:
    return image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]


def _pem(kind: str, seed: str) -> str:
    body = base64.b64encode(hashlib.sha256(f"{kind}:{seed}".encode()).digest() * 3).decode()
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Operators:
    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.api = ctl.api
        self._deleting_since: dict[str, float] = {}

    # ------------------------------------------------------------------ helpers
    def running(self, image: str) -> list[dict[str, Any]]:
        """Available Deployments whose pods run ``image`` (by image name, any registry/tag)."""
        out = []
        for dep in self.ctl._list("apps/v1", "Deployment"):
            if dep["metadata"].get("deletionTimestamp"):
                continue
            containers = ((dep.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
            if any(_image_name(c.get("image", "")) == image for c in containers) and \
                    (dep.get("status") or {}).get("availableReplicas", 0) >= 1:
                out.append(dep)
        return out

    def _snap(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        if self.ctl.fake.registry.by_kind(api_version, kind) is None:
            return []
        return self.ctl._list(api_version, kind)

    def _replace(self, api_version: str, kind: str, obj: dict[str, Any], manager: str) -> None:
        rt = self.ctl.rt(api_version, kind)
        new = copy.deepcopy(obj)
        new["metadata"].pop("resourceVersion", None)
        with contextlib.suppress(ApiError):  # changed meanwhile (or refused): next pass
            self.api.replace(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], new,
                             WriteOptions(manager=manager))

    def _secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.ctl._snap_get(("", "secrets"), namespace, name)

    # ------------------------------------------------------------------ reconcile
    def reconcile(self) -> None:
        if self.running("cert-manager-webhook"):
            self.webhook_ca()
        if self.running("cert-manager-controller"):
            self.issuers()
            self.certificates()
        if self.running("cert-manager-cainjector"):
            self.inject_ca()
        self.self_certified_webhooks()
        gpu = self.running("gpu-operator")
        if gpu:
            self.cluster_policies(gpu[0]["metadata"]["namespace"])
        self.profiles(bool(self.running("profile-controller")))

    # ------------------------------------------------------------------ cert-manager
    def webhook_ca(self) -> None:
        for dep in self.running("cert-manager-webhook"):
            ns = dep["metadata"]["namespace"]
            args = [a for c in dep["spec"]["template"]["spec"].get("containers") or [] for a in c.get("args") or []]
            name = next((a.split("=", 1)[1] for a in args if a.startswith("--dynamic-serving-ca-secret-name=")), "")
            if not name or self._secret(ns, name) is not None:
                continue
            ca = _pem("CERTIFICATE", f"{ns}/{name}")
            self.ctl._create(self.ctl.rt("v1", "Secret"), {
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": ns, "annotations": {ALLOW_DIRECT: "true"}},
                "data": {"ca.crt": _b64(ca), "tls.crt": _b64(ca), "tls.key": _b64(_pem("PRIVATE KEY", name))},
            })

    def issuers(self) -> None:
        for kind in ("Issuer", "ClusterIssuer"):
            for issuer in self._snap("cert-manager.io/v1", kind):
                if issuer["metadata"].get("deletionTimestamp"):
                    continue
                status = copy.deepcopy(issuer.get("status") or {})
                set_condition(status, "Ready", "True", "IsReady",
                              "Signing CA verified" if "ca" in (issuer.get("spec") or {}) else "")
                for c in status["conditions"]:
                    c["observedGeneration"] = issuer["metadata"].get("generation", 1)
                self.ctl._write_status(self.ctl.rt("cert-manager.io/v1", kind), issuer, status)

    def _issuer_ready(self, cert: dict[str, Any]) -> bool:
        ref = (cert.get("spec") or {}).get("issuerRef") or {}
        kind = ref.get("kind", "Issuer")
        if ref.get("group", "cert-manager.io") != "cert-manager.io":
            return True  # external issuers are out of scope: taken as ready
        ns = cert["metadata"]["namespace"] if kind == "Issuer" else ""
        key = ("cert-manager.io", "issuers" if kind == "Issuer" else "clusterissuers")
        issuer = self.ctl._snap_get(key, ns, ref.get("name", ""))
        return bool(issuer and (get_condition(issuer, "Ready") or {}).get("status") == "True")

    def certificates(self) -> None:
        cert_rt = self.ctl.rt("cert-manager.io/v1", "Certificate")
        for cert in self._snap("cert-manager.io/v1", "Certificate"):
            md, spec = cert["metadata"], cert.get("spec") or {}
            if md.get("deletionTimestamp") or not spec.get("secretName"):
                continue
            ns = md["namespace"]
            ready = get_condition(cert, "Ready") or {}
            if ready.get("status") == "True" and ready.get("observedGeneration") == md.get("generation", 1) \
                    and self._secret(ns, spec["secretName"]) is not None:
                continue
            if not self._issuer_ready(cert):
                continue
            if self._secret(ns, spec["secretName"]) is None:
                ca = _pem("CERTIFICATE", f"ca:{ns}/{spec['secretName']}")
                self.ctl._create(self.ctl.rt("v1", "Secret"), {
                    "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                    "metadata": {"name": spec["secretName"], "namespace": ns, "annotations": {
                        "cert-manager.io/certificate-name": md["name"],
                        "cert-manager.io/issuer-name": (spec.get("issuerRef") or {}).get("name", ""),
                        "cert-manager.io/issuer-kind": (spec.get("issuerRef") or {}).get("kind", "Issuer"),
                        "cert-manager.io/issuer-group": (spec.get("issuerRef") or {}).get("group", ""),
                        "cert-manager.io/common-name": spec.get("commonName", ""),
                        "cert-manager.io/alt-names": ",".join(spec.get("dnsNames") or [])}},
                    "data": {"ca.crt": _b64(ca), "tls.crt": _b64(_pem("CERTIFICATE", f"{ns}/{md['name']}")),
                             "tls.key": _b64(_pem("PRIVATE KEY", f"{ns}/{md['name']}"))},
                })
            now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
            status = copy.deepcopy(cert.get("status") or {})
            set_condition(status, "Ready", "True", "Ready", "Certificate is up to date and has not expired")
            for c in status["conditions"]:
                c["observedGeneration"] = md.get("generation", 1)
            status.update({
                "notBefore": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "notAfter": (now + datetime.timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "renewalTime": (now + datetime.timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "revision": status.get("revision", 0) + 1,
            })
            self.ctl._write_status(cert_rt, cert, status)

    def _ca_for(self, annotations: dict[str, str]) -> str | None:
        """The base64 CA bundle an injectable object asks for, or None while it does not exist yet."""
        if INJECT_FROM_SECRET in annotations:
            ns, _, name = annotations[INJECT_FROM_SECRET].partition("/")
            secret = self._secret(ns, name)
            if secret is None or (secret["metadata"].get("annotations") or {}).get(ALLOW_DIRECT) != "true":
                return None
            return (secret.get("data") or {}).get("ca.crt")
        if INJECT_FROM in annotations:
            ns, _, name = annotations[INJECT_FROM].partition("/")
            cert = self.ctl._snap_get(("cert-manager.io", "certificates"), ns, name)
            if cert is None:
                return None
            secret = self._secret(ns, (cert.get("spec") or {}).get("secretName", ""))
            return (secret.get("data") or {}).get("ca.crt") if secret else None
        return None

    def _injectable_now(self, annotations: dict[str, str]) -> bool:
        """cainjector reacts to a new CA Secret after ``fake.cainjector_delay`` seconds (a watch and a patch)."""
        delay = self.ctl.fake.cainjector_delay
        if not delay:
            return True
        if INJECT_FROM_SECRET in annotations:
            ns, _, name = annotations[INJECT_FROM_SECRET].partition("/")
        else:
            ns, _, cert_name = annotations[INJECT_FROM].partition("/")
            cert = self.ctl._snap_get(("cert-manager.io", "certificates"), ns, cert_name) or {}
            name = (cert.get("spec") or {}).get("secretName", "")
        secret = self._secret(ns, name) or {}
        at = self.ctl.store.spec_changed_at.get(secret.get("metadata", {}).get("uid", ""), 0.0) + delay
        if time.monotonic() >= at:
            return True
        self.ctl._due(at)
        return False

    def inject_ca(self) -> None:
        targets: list[tuple[str, str]] = [
            ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
            ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            ("apiregistration.k8s.io/v1", "APIService"),
        ]
        for api_version, kind in targets:
            for obj in self._snap(api_version, kind):
                annotations = obj["metadata"].get("annotations") or {}
                if obj["metadata"].get("deletionTimestamp") or not (
                        INJECT_FROM in annotations or INJECT_FROM_SECRET in annotations):
                    continue
                ca = self._ca_for(annotations)
                if not ca or not self._injectable_now(annotations):
                    continue
                new = copy.deepcopy(obj)
                if kind.endswith("WebhookConfiguration"):
                    for hook in new.get("webhooks") or []:
                        hook.setdefault("clientConfig", {})["caBundle"] = ca
                elif kind == "CustomResourceDefinition":
                    conv = (new.get("spec") or {}).get("conversion") or {}
                    if conv.get("strategy") != "Webhook":
                        continue
                    conv.setdefault("webhook", {}).setdefault("clientConfig", {})["caBundle"] = ca
                else:
                    new.setdefault("spec", {})["caBundle"] = ca
                if new != obj:
                    self._replace(api_version, kind, new, "cert-manager-cainjector")

    # ------------------------------------------------------------------ self-certifying webhook servers
    def self_certified_webhooks(self) -> None:
        """Webhook servers that mint their own CA (Knative, istiod, JobSet, Trainer) patch caBundle
        into their configurations once they run: here, once such a server is a ready endpoint."""
        for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            for cfg in self._snap("admissionregistration.k8s.io/v1", kind):
                annotations = cfg["metadata"].get("annotations") or {}
                if cfg["metadata"].get("deletionTimestamp") or INJECT_FROM in annotations \
                        or INJECT_FROM_SECRET in annotations:
                    continue
                new = copy.deepcopy(cfg)
                server = ""
                for hook in new.get("webhooks") or []:
                    cc = hook.setdefault("clientConfig", {})
                    ref = cc.get("service") or {}
                    if cc.get("caBundle") or not ref:
                        continue
                    ep = self.ctl._snap_get(("", "endpoints"), ref.get("namespace", ""), ref.get("name", ""))
                    if ep and self._self_certifying(ref.get("namespace", ""), ep):
                        cc["caBundle"] = _b64(_pem("CERTIFICATE", f"{ref.get('namespace')}/{ref.get('name')}"))
                        server = ref.get("name", "")
                if new != cfg:
                    self._replace("admissionregistration.k8s.io/v1", kind, new, server)

    def _self_certifying(self, namespace: str, endpoints: dict[str, Any]) -> bool:
        """A ready endpoint of the Service is a pod of a server known to mint its own CA."""
        for subset in endpoints.get("subsets") or []:
            for addr in subset.get("addresses") or []:
                pod = self.ctl._snap_get(("", "pods"), namespace, (addr.get("targetRef") or {}).get("name", ""))
                for c in ((pod or {}).get("spec") or {}).get("containers") or []:
                    image = c.get("image", "")
                    if _image_name(image) in SELF_CERTIFYING or any(p in image for p in SELF_CERTIFYING_PATHS):
                        return True
        return False

    # ------------------------------------------------------------------ GPU Operator
    def cluster_policies(self, namespace: str) -> None:
        for cp in self._snap("nvidia.com/v1", "ClusterPolicy"):
            if cp["metadata"].get("deletionTimestamp"):
                continue
            status = copy.deepcopy(cp.get("status") or {})
            status["state"] = "ready"
            status["namespace"] = namespace
            set_condition(status, "Ready", "True", "Reconciled", "ClusterPolicy reconciled successfully")
            set_condition(status, "Error", "False", "Ready", "")
            self.ctl._write_status(self.ctl.rt("nvidia.com/v1", "ClusterPolicy"), cp, status)

    # ------------------------------------------------------------------ Kubeflow profiles
    def _cleaned_up(self, uid: str) -> bool:
        """A finalizer comes off ``fake.finalizer_delay`` seconds after the controller saw the deletion."""
        seen = self._deleting_since.setdefault(uid, time.monotonic())
        at = seen + self.ctl.fake.finalizer_delay
        if time.monotonic() >= at:
            return True
        self.ctl._due(at)
        return False

    def profiles(self, controller_running: bool) -> None:
        if not controller_running:
            return  # nobody adds or removes the finalizer: a deleted Profile stays Terminating
        for profile in self._snap("kubeflow.org/v1", "Profile"):
            md = profile["metadata"]
            finalizers = md.get("finalizers") or []
            if md.get("deletionTimestamp"):
                if PROFILE_FINALIZER in finalizers and self._cleaned_up(md["uid"]):
                    new = copy.deepcopy(profile)
                    new["metadata"]["finalizers"] = [f for f in finalizers if f != PROFILE_FINALIZER]
                    self._replace("kubeflow.org/v1", "Profile", new, "profile-controller")
                continue
            if PROFILE_FINALIZER not in finalizers:
                new = copy.deepcopy(profile)
                new["metadata"]["finalizers"] = [*finalizers, PROFILE_FINALIZER]
                self._replace("kubeflow.org/v1", "Profile", new, "profile-controller")
                continue
            if self.ctl._snap_get(("", "namespaces"), "", md["name"]) is None:
                owner = (profile.get("spec") or {}).get("owner") or {}
                self.ctl._create(self.ctl.rt("v1", "Namespace"), {
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": md["name"], "ownerReferences": [owner_ref(profile)],
                                 "annotations": {"owner": owner.get("name", "")},
                                 "labels": {"app.kubernetes.io/part-of": "kubeflow-profile",
                                            "katib.kubeflow.org/metrics-collector-injection": "enabled",
                                            "pipelines.kubeflow.org/enabled": "true",
                                            "serving.kubeflow.org/inferenceservice": "enabled"}}})
            status = copy.deepcopy(profile.get("status") or {})
            if not status.get("conditions"):
                status["conditions"] = [{"type": "Successful", "status": "True", "message": ""}]
                self.ctl._write_status(self.ctl.rt("kubeflow.org/v1", "Profile"), profile, status)

