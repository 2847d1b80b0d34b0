"""The resource catalogue: which kinds exist, their URL names, scope and subresources.

Built-in kinds are fixed; CRD kinds are added/removed by the CRD controller so that
discovery changes exactly when a real API server's would (on Established).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    status: bool = False  # has a /status subresource (main writes ignore .status)
    subresources: tuple[str, ...] = ()  # extra subresources beyond status (e.g. "log")
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    crd: str | None = None  # name of the owning CRD, for CRD kinds
    list_kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gv_path(self) -> str:
        """URL prefix of the group version, e.g. ``/apis/apps/v1`` or ``/api/v1``."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


def _r(
    gv: str,
    plural: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = False,
    sub: tuple[str, ...] = (),
    cats: tuple[str, ...] = (),
    verbs: tuple[str, ...] = tuple(ALL_VERBS),
) -> ResourceType:
    group, _, version = gv.rpartition("/")
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        status=status,
        subresources=sub,
        categories=cats,
        verbs=verbs,
    )


BUILTINS: list[ResourceType] = [
    _r("v1", "namespaces", "Namespace", False, ("ns",), status=True, sub=("finalize",)),
    _r("v1", "configmaps", "ConfigMap", short=("cm",)),
    _r("v1", "secrets", "Secret"),
    _r("v1", "services", "Service", short=("svc",), status=True, cats=("all",)),
    _r("v1", "serviceaccounts", "ServiceAccount", short=("sa",), sub=("token",)),
    _r("v1", "pods", "Pod", short=("po",), status=True, sub=("log",), cats=("all",)),
    _r("v1", "endpoints", "Endpoints", short=("ep",)),
    _r("v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), status=True),
    _r("v1", "persistentvolumes", "PersistentVolume", False, ("pv",), status=True),
    _r("v1", "nodes", "Node", False, ("no",), status=True),
    _r("v1", "events", "Event", short=("ev",)),
    _r("v1", "limitranges", "LimitRange", short=("limits",)),
    _r("v1", "resourcequotas", "ResourceQuota", short=("quota",), status=True),
    _r("apps/v1", "deployments", "Deployment", short=("deploy",), status=True, sub=("scale",), cats=("all",)),
    _r("apps/v1", "statefulsets", "StatefulSet", short=("sts",), status=True, sub=("scale",), cats=("all",)),
    _r("apps/v1", "daemonsets", "DaemonSet", short=("ds",), status=True, cats=("all",)),
    _r("apps/v1", "replicasets", "ReplicaSet", short=("rs",), status=True, sub=("scale",), cats=("all",)),
    _r("apps/v1", "controllerrevisions", "ControllerRevision"),
    _r("batch/v1", "jobs", "Job", status=True, cats=("all",)),
    _r("batch/v1", "cronjobs", "CronJob", short=("cj",), status=True, cats=("all",)),
    _r("rbac.authorization.k8s.io/v1", "roles", "Role"),
    _r("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", False,
       ("crd", "crds"), status=True),
    _r("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations",
       "MutatingWebhookConfiguration", False),
    _r("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations",
       "ValidatingWebhookConfiguration", False),
    _r("coordination.k8s.io/v1", "leases", "Lease"),
    _r("discovery.k8s.io/v1", "endpointslices", "EndpointSlice"),
    _r("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _r("networking.k8s.io/v1", "ingresses", "Ingress", short=("ing",), status=True),
    _r("networking.k8s.io/v1", "ingressclasses", "IngressClass", False),
    _r("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",), status=True),
    _r("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", False, ("pc",)),
    _r("storage.k8s.io/v1", "storageclasses", "StorageClass", False, ("sc",)),
    _r("storage.k8s.io/v1", "csidrivers", "CSIDriver", False),
    _r("node.k8s.io/v1", "runtimeclasses", "RuntimeClass", False),
    _r("apiregistration.k8s.io/v1", "apiservices", "APIService", False, status=True),
    _r("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=("hpa",),
       status=True, cats=("all",)),
    _r("authorization.k8s.io/v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
       verbs=("create",)),
    _r("authorization.k8s.io/v1", "subjectaccessreviews", "SubjectAccessReview", False, verbs=("create",)),
    _r("authorization.k8s.io/v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, verbs=("create",)),
    _r("authentication.k8s.io/v1", "selfsubjectreviews", "SelfSubjectReview", False, verbs=("create",)),
    _r("certificates.k8s.io/v1", "certificatesigningrequests", "CertificateSigningRequest", False,
       ("csr",), status=True),
]

# Built-in kinds whose registry strategy maintains metadata.generation (every custom resource does).
GENERATION_KINDS = {
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "PodDisruptionBudget",
    "HorizontalPodAutoscaler", "Ingress", "NetworkPolicy", "CustomResourceDefinition", "Pod",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
}


def has_generation(rt: ResourceType) -> bool:
    return rt.crd is not None or rt.kind in GENERATION_KINDS


# Groups whose preferred version is listed first in /apis (order kube-apiserver uses, roughly).
PREFERRED_ORDER = [
    "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy",
    "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
    "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io",
]


@dataclass
class Registry:
    """Thread-safe catalogue of served resource types, keyed several ways for routing."""

    _types: list[ResourceType] = field(default_factory=lambda: list(BUILTINS))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types)

    def by_plural(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            for rt in self._types:
                if rt.group == group and rt.version == version and rt.plural == plural:
                    return rt
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rt in self._types:
                if rt.group == group and rt.kind == kind and rt.version == version:
                    return rt
            for rt in self._types:  # same kind, another served version of its group
                if rt.group == group and rt.kind == kind:
                    return rt
        return None

    def by_group_kind(self, group: str, kind: str) -> ResourceType | None:
        with self._lock:
            for rt in self._types:
                if rt.group == group and rt.kind == kind:
                    return rt
        return None

    def by_group_plural(self, group: str, plural: str) -> ResourceType | None:
        with self._lock:
            for rt in self._types:
                if rt.group == group and rt.plural == plural:
                    return rt
        return None

    def has_group_version(self, group: str, version: str) -> bool:
        with self._lock:
            return any(rt.group == group and rt.version == version for rt in self._types)

    def set_crd(self, crd_name: str, types: list[ResourceType]) -> bool:
        """Replace the kinds served for one CRD; returns True if anything changed."""
        with self._lock:
            old = [rt for rt in self._types if rt.crd == crd_name]
            if old == types:
                return False
            self._types = [rt for rt in self._types if rt.crd != crd_name] + types
            return True

    def remove_crd(self, crd_name: str) -> bool:
        return self.set_crd(crd_name, [])

    def storage_key(self, rt: ResourceType) -> tuple[str, str]:
        """Objects of every version of a kind live under one key (group, plural)."""
        return (rt.group, rt.plural)
