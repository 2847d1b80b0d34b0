"""Simulated controllers: CRD establishment, workloads and their pods, jobs, endpoints, namespaces, GC.

One background thread reconciles everything whenever the store changes or a readiness timer
is due (checked every ~20 ms). Controllers write through ``Api`` as "kube-controller-manager",
so their writes have real resourceVersions, events and no-op suppression.
A pod becomes Ready ``ready_delay`` seconds after it was created (workload template changes
replace pods), unless its workload is held with ``hold_unready``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import scheduling
from .api import FOREGROUND, WriteOptions
from .errors import ApiError
from .objects import get_condition, now_iso, owner_ref, set_condition
from .operators import Operators
from .resources import ResourceType
from .selectors import selector_from_match

if TYPE_CHECKING:
    from .fake import FakeKube

_SAFE = "bcdfghjklmnpqrstvwxz2456789"
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
TICK = 0.02


def short_hash(data: Any, n: int = 10) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:n])


class Controllers:
    def __init__(self, fake: FakeKube) -> None:
        self.fake = fake
        self.api = fake.api
        self.store = fake.store
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._hooked: set[str] = set()
        self._next_due: float | None = None
        self._ns_deleting_since: dict[str, float] = {}
        self._hash_cache: dict[tuple[str, int], str] = {}
        self._snap: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self._by_owner: dict[str, list[tuple[tuple[str, str], dict[str, Any]]]] = {}
        self.operators = Operators(self)
        self._evented: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ loop
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fakekube-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def poke(self) -> None:
        """Settings changed (hold/release/ready_delay/job results): reconcile now."""
        self._poke.set()

    def _run(self) -> None:
        seen_rv = -1
        while not self._stop.is_set():
            rv = self.store.resource_version
            due = self._next_due is not None and time.monotonic() >= self._next_due
            if rv != seen_rv or due or self._poke.is_set():
                self._poke.clear()
                seen_rv = rv
                self._next_due = None
                try:
                    self.reconcile()
                except Exception:  # keep simulating even if one object is odd
                    traceback.print_exc()
            self._poke.wait(TICK)

    def _due(self, when: float) -> None:
        if self._next_due is None or when < self._next_due:
            self._next_due = when

    def _ready_at(self, obj: dict[str, Any]) -> float:
        changed = self.store.spec_changed_at.get(obj["metadata"].get("uid", ""), 0.0)
        return changed + self.fake.ready_delay

    def _is_ready_now(self, obj: dict[str, Any]) -> bool:
        at = self._ready_at(obj)
        if time.monotonic() >= at:
            return True
        self._due(at)
        return False

    def _established_now(self, crd: dict[str, Any]) -> bool:
        delay = self.fake.crd_establish_delay
        if delay is None:
            return self._is_ready_now(crd)
        at = self.store.spec_changed_at.get(crd["metadata"].get("uid", ""), 0.0) + delay
        if time.monotonic() >= at:
            return True
        self._due(at)
        return False

    # ------------------------------------------------------------------ helpers
    def rt(self, api_version: str, kind: str) -> ResourceType:
        rt = self.fake.registry.by_kind(api_version, kind)
        assert rt is not None, kind
        return rt

    def _list(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects from this pass's snapshot: read-only, never mutate them."""
        objs = self._snap.get(self.fake.registry.storage_key(self.rt(api_version, kind)), {})
        return [o for (ns, _), o in sorted(objs.items()) if namespace is None or ns == namespace]

    def _owned(self, uid: str, kind: str = "") -> list[dict[str, Any]]:
        return [o for k, o in self._by_owner.get(uid, []) if not kind or k[1] == kind]

    def _snap_get(self, key: tuple[str, str], namespace: str, name: str) -> dict[str, Any] | None:
        return self._snap.get(key, {}).get((namespace, name))

    def _write_status(self, rt: ResourceType, obj: dict[str, Any], status: dict[str, Any]) -> None:
        if obj.get("status") == status:
            return
        new = copy.deepcopy(obj)
        new["status"] = status
        new["metadata"].pop("resourceVersion", None)
        with contextlib.suppress(ApiError):
            self.api.replace(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], new,
                             WriteOptions(subresource="status"))

    def _create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        with contextlib.suppress(ApiError):
            self.api.create(rt, obj["metadata"].get("namespace", ""), obj, WriteOptions())

    def _delete(self, rt: ResourceType, obj: dict[str, Any], propagation: str | None = None) -> None:
        md = obj["metadata"]
        if md.get("deletionTimestamp"):
            return
        with contextlib.suppress(ApiError):
            self.api.delete(rt, md.get("namespace", ""), md["name"], None, propagation=propagation)

    def _held(self, kind: str, obj: dict[str, Any]) -> bool:
        md = obj["metadata"]
        return (kind, md.get("namespace", ""), md["name"]) in self.fake._held

    # ------------------------------------------------------------------ reconcile all
    def reconcile(self) -> None:
        self._snap = self.store.snapshot()
        self._by_owner: dict[str, list[tuple[tuple[str, str], dict[str, Any]]]] = {}
        for key, objs in self._snap.items():
            for obj in objs.values():
                for ref in obj["metadata"].get("ownerReferences") or ():
                    self._by_owner.setdefault(ref.get("uid", ""), []).append((key, obj))
        self.crds()
        self.namespaces()
        self.garbage_collect()
        # pods first, then their owners: readiness propagates pod -> ReplicaSet -> Deployment in one pass
        self.pods()
        self.replicasets()
        self.deployments()
        self.statefulsets()
        self.daemonsets()
        self.jobs()
        self.pvcs()
        self.apiservices()
        self.services()
        self.operators.reconcile()
        self.hooks()

    # ------------------------------------------------------------------ CRDs
    def crds(self) -> None:
        crd_rt = self.rt("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        present = set()
        for crd in self._list("apiextensions.k8s.io/v1", "CustomResourceDefinition"):
            name = crd["metadata"]["name"]
            present.add(name)
            established = (get_condition(crd, "Established") or {}).get("status") == "True"
            if crd["metadata"].get("deletionTimestamp"):
                self._crd_cleanup(crd_rt, crd)
                continue
            if not established:
                if self._held("CustomResourceDefinition", crd) or not self._established_now(crd):
                    continue
                if CRD_FINALIZER not in (crd["metadata"].get("finalizers") or []):
                    new = copy.deepcopy(crd)
                    new["metadata"].setdefault("finalizers", []).append(CRD_FINALIZER)
                    try:
                        self.api.replace(crd_rt, "", name, new, WriteOptions())
                    except ApiError:
                        continue  # changed meanwhile: next pass
                    crd = self.store.get(("apiextensions.k8s.io", "customresourcedefinitions"), "", name)
                    if crd is None:
                        continue
            self.fake.registry.set_crd(name, self._crd_types(crd))
            status = copy.deepcopy(crd.get("status") or {})
            spec = crd["spec"]
            set_condition(status, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
            set_condition(status, "Established", "True", "InitialNamesAccepted",
                          "the initial names have been accepted")
            status["acceptedNames"] = spec["names"]
            stored = status.get("storedVersions") or []
            for v in spec["versions"]:
                if v.get("storage") and v["name"] not in stored:
                    stored.append(v["name"])
            status["storedVersions"] = stored
            self._write_status(crd_rt, crd, status)
        for rt in self.fake.registry.all():
            if rt.crd and rt.crd not in present:
                self.fake.registry.remove_crd(rt.crd)

    @staticmethod
    def _crd_types(crd: dict[str, Any]) -> list[ResourceType]:
        spec, name = crd["spec"], crd["metadata"]["name"]
        names = spec["names"]
        out = []
        for v in spec["versions"]:
            if not v.get("served", True):
                continue
            subs = v.get("subresources") or {}
            out.append(ResourceType(
                group=spec["group"], version=v["name"], plural=names["plural"], kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular", names["kind"].lower()),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status="status" in subs, subresources=("scale",) if "scale" in subs else (),
                crd=name, list_kind=names.get("listKind") or f"{names['kind']}List",
            ))
        return out

    def _crd_cleanup(self, crd_rt: ResourceType, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        key = (spec["group"], spec["names"]["plural"])
        items = self.store.list(key)
        rt = self.fake.registry.by_group_plural(*key)
        if items and rt is not None:
            for obj in items:
                self._delete(rt, obj)
            status = copy.deepcopy(crd.get("status") or {})
            set_condition(status, "Terminating", "True", "InstanceDeletionInProgress",
                          "CustomResource deletion is in progress")
            self._write_status(crd_rt, crd, status)
            return
        fins = [f for f in crd["metadata"].get("finalizers") or [] if f != CRD_FINALIZER]
        if fins != (crd["metadata"].get("finalizers") or []):
            new = copy.deepcopy(crd)
            new["metadata"]["finalizers"] = fins
            with contextlib.suppress(ApiError):
                self.api.replace(crd_rt, "", crd["metadata"]["name"], new, WriteOptions())

    # ------------------------------------------------------------------ namespaces
    def namespaces(self) -> None:
        ns_rt = self.rt("v1", "Namespace")
        for ns in self._list("v1", "Namespace"):
            if not ns["metadata"].get("deletionTimestamp"):
                if self.fake.namespace_defaults:
                    self._namespace_defaults(ns["metadata"]["name"])
                continue
            since = self._ns_deleting_since.setdefault(ns["metadata"]["uid"], time.monotonic())
            if time.monotonic() < since + self.fake.namespace_delete_delay:
                self._due(since + self.fake.namespace_delete_delay)
                continue
            name = ns["metadata"]["name"]
            contents = self.store.in_namespace(name)
            finalizers: dict[str, int] = {}
            for key, obj in contents:
                rt = self.fake.registry.by_group_plural(*key)
                for f in obj["metadata"].get("finalizers") or []:
                    finalizers[f] = finalizers.get(f, 0) + 1
                if rt is not None:
                    self._delete(rt, obj)
                else:  # kind no longer served (CRD gone): drop it like the real namespace controller
                    self.store.delete(key, name, obj["metadata"]["name"])
            status = copy.deepcopy(ns.get("status") or {})
            status["phase"] = "Terminating"
            remaining = self.store.in_namespace(name)
            set_condition(status, "NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered",
                          "All resources successfully discovered")
            set_condition(status, "NamespaceDeletionContentFailure", "False", "ContentDeleted",
                          "All content successfully deleted, may be waiting on finalization")
            if remaining:
                kinds = sorted({k[1] for k, _ in remaining})
                set_condition(status, "NamespaceContentRemaining", "True", "SomeResourcesRemain",
                              f"Some resources are remaining: {', '.join(f'{k} has {sum(1 for kk, _ in remaining if kk[1] == k)} resource instances' for k in kinds)}")
            else:
                set_condition(status, "NamespaceContentRemaining", "False", "ContentRemoved",
                              "All content successfully removed")
            if finalizers and remaining:
                msg = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
                set_condition(status, "NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                              f"Some content in the namespace has finalizers remaining: {msg}")
            else:
                set_condition(status, "NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers",
                              "All content-preserving finalizers finished")
            self._write_status(ns_rt, ns, status)
            if not remaining:
                current = self.store.get(("", "namespaces"), "", name)
                if current is not None:
                    current.setdefault("spec", {})["finalizers"] = []
                    current["metadata"].pop("resourceVersion", None)
                    with contextlib.suppress(ApiError):
                        self.api.replace(ns_rt, "", name, current,
                                         WriteOptions(subresource="finalize"))

    def _namespace_defaults(self, ns: str) -> None:
        """What every real namespace gets: the root CA ConfigMap and the default ServiceAccount."""
        if self._snap_get(("", "configmaps"), ns, "kube-root-ca.crt") is None:
            self._create(self.rt("v1", "ConfigMap"), {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "kube-root-ca.crt", "namespace": ns,
                             "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be "
                                             "used to verify the kube-apiserver when using internal endpoints "
                                             "such as the internal service IP or kubernetes.default.svc. No "
                                             "other usage is guaranteed across distributions of Kubernetes "
                                             "clusters."}},
                "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nZmFrZWt1YmU=\n-----END CERTIFICATE-----\n"}})
        if self._snap_get(("", "serviceaccounts"), ns, "default") is None:
            self._create(self.rt("v1", "ServiceAccount"), {
                "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}})

    # ------------------------------------------------------------------ garbage collector
    def garbage_collect(self) -> None:
        everything = [(key, o) for key, objs in self._snap.items() for o in objs.values()]
        uids = {o["metadata"].get("uid") for _, o in everything}
        for key, obj in everything:  # foreground deletion: dependents first, then the owner
            md = obj["metadata"]
            if not md.get("deletionTimestamp") or FOREGROUND not in (md.get("finalizers") or []):
                continue
            rt = self.fake.registry.by_group_plural(*key)
            dependents = self._by_owner.get(md["uid"], [])
            for dkey, dep in dependents:
                drt = self.fake.registry.by_group_plural(*dkey)
                if drt is not None:
                    self._delete(drt, dep, "Foreground")
            if not dependents and rt is not None:
                new = copy.deepcopy(obj)
                new["metadata"]["finalizers"] = [f for f in md["finalizers"] if f != FOREGROUND]
                with contextlib.suppress(ApiError):
                    self.api.replace(rt, md.get("namespace", ""), md["name"], new, WriteOptions())
        for key, obj in everything:
            refs = obj["metadata"].get("ownerReferences") or []
            if refs and not any(r.get("uid") in uids for r in refs):
                rt = self.fake.registry.by_group_plural(*key)
                if rt is not None:
                    self._delete(rt, obj)

    # ------------------------------------------------------------------ pods shared by workloads
    def _pod_ready(self, pod: dict[str, Any], held: bool) -> bool:
        return not held and self._is_ready_now(pod)

    def _sync_pods(
        self, owner: dict[str, Any], names: list[str], template: dict[str, Any],
        extra_labels: dict[str, str], node_names: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Make the owner's pods exactly ``names`` with ``extra_labels``; returns the current pods."""
        pod_rt = self.rt("v1", "Pod")
        ns = owner["metadata"]["namespace"]
        uid = owner["metadata"]["uid"]
        pods = self._owned(uid, "pods")
        keep = []
        for p in pods:
            labels = p["metadata"].get("labels") or {}
            stale = p["metadata"]["name"] not in names or any(labels.get(k) != v for k, v in extra_labels.items())
            if stale:
                self._delete(pod_rt, p)
            elif not p["metadata"].get("deletionTimestamp"):
                keep.append(p)
        have = {p["metadata"]["name"] for p in keep}
        for i, name in enumerate(names):
            if name in have:
                continue
            tmpl = copy.deepcopy(template or {})
            md = tmpl.get("metadata") or {}
            pod = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "name": name, "namespace": ns,
                    "labels": {**(md.get("labels") or {}), **extra_labels},
                    "annotations": md.get("annotations") or {},
                    "ownerReferences": [owner_ref(owner)],
                },
                "spec": tmpl.get("spec") or {},
            }
            node = node_names[i] if node_names else self._place(pod["spec"])
            if node:
                pod["spec"]["nodeName"] = node
            self._create(pod_rt, pod)
        return keep

    @staticmethod
    def _count_ready(pods: list[dict[str, Any]]) -> int:
        return sum(1 for p in pods if (get_condition(p, "Ready") or {}).get("status") == "True")

    def _top_held(self, pod: dict[str, Any]) -> bool:
        """A pod is held if it or any owner up the chain (RS -> Deployment) is held."""
        if not self.fake._held:
            return False
        obj: dict[str, Any] | None = pod
        kind = "Pod"
        for _ in range(4):
            if obj is None:
                return False
            if self._held(kind, obj):
                return True
            refs = obj["metadata"].get("ownerReferences") or []
            ref = next((r for r in refs if r.get("controller")), None)
            if ref is None:
                return False
            rt = self.fake.registry.by_kind(ref["apiVersion"], ref["kind"])
            if rt is None:
                return False
            kind = ref["kind"]
            obj = self._snap_get(self.fake.registry.storage_key(rt), obj["metadata"].get("namespace", ""),
                                 ref["name"])
        return False

    # ------------------------------------------------------------------ pods (status)
    def pods(self) -> None:
        pod_rt = self.rt("v1", "Pod")
        for pod in self._list("v1", "Pod"):
            md = pod["metadata"]
            if md.get("deletionTimestamp"):
                continue
            current = pod.get("status") or {}
            if current.get("phase") in ("Succeeded", "Failed"):
                continue
            if self._cannot_start(pod_rt, pod):
                continue
            job_name = (md.get("labels") or {}).get("batch.kubernetes.io/job-name")
            forced = self.fake._job_pod_status.get((md["namespace"], job_name)) if job_name else None
            if forced is not None:
                self._write_status(pod_rt, pod, copy.deepcopy(forced))
                continue
            held = self._top_held(pod)
            if not job_name and current.get("phase") == "Running" and current.get("podIP"):
                want = "True" if self._pod_ready(pod, held) else "False"
                if (get_condition(pod, "Ready") or {}).get("status") == want:
                    continue  # settled: skip the expensive rebuild
            status = copy.deepcopy(current)
            status.setdefault("podIP", self._pod_ip(pod))
            status.setdefault("podIPs", [{"ip": status["podIP"]}])
            status.setdefault("hostIP", "172.18.0.2")
            status.setdefault("startTime", now_iso())
            status.setdefault("qosClass", "BestEffort")
            containers = (pod.get("spec") or {}).get("containers") or []
            if job_name and not held and self._is_ready_now(pod):
                result = self.fake._job_results.get((md["namespace"], job_name), ("", True))
                ok = result[1]
                status["phase"] = "Succeeded" if ok else "Failed"
                set_condition(status, "Ready", "False", "PodCompleted")
                status["containerStatuses"] = [
                    {"name": c.get("name", "main"), "ready": False, "restartCount": 0, "image": c.get("image", ""),
                     "imageID": "", "containerID": f"containerd://{short_hash([md['uid'], c.get('name')], 12)}",
                     "state": {"terminated": {"exitCode": 0 if ok else 1,
                                              "reason": "Completed" if ok else "Error"}}}
                    for c in containers]
                self._write_status(pod_rt, pod, status)
                continue
            ready = self._pod_ready(pod, held)
            status["phase"] = "Running"
            set_condition(status, "PodScheduled", "True")
            set_condition(status, "Initialized", "True")
            set_condition(status, "ContainersReady", "True" if ready else "False")
            set_condition(status, "Ready", "True" if ready else "False")
            status["containerStatuses"] = [
                {"name": c.get("name", "main"), "ready": ready, "started": True, "restartCount": 0,
                 "image": c.get("image", ""), "imageID": "", "state": {"running": {"startedAt": status["startTime"]}}}
                for c in containers]
            self._write_status(pod_rt, pod, status)

    def _place(self, pod_spec: dict[str, Any]) -> str | None:
        """The scheduler's pick: the first fitting Node; "fake-node" in a cluster without Nodes."""
        nodes = self._list("v1", "Node")
        if not nodes:
            return "fake-node"
        return next((n["metadata"]["name"] for n in nodes if scheduling.why_not(pod_spec, n) is None), None)

    def _event_once(self, key: tuple[str, str], events: list[dict[str, Any]]) -> None:
        if key in self._evented:
            return
        self._evented.add(key)
        for ev in events:
            self._create(self.rt("v1", "Event"), ev)

    def _cannot_start(self, pod_rt: ResourceType, pod: dict[str, Any]) -> bool:
        """Unschedulable (no Node fits) or an image that cannot be pulled: Pending, with the Events."""
        md, spec = pod["metadata"], pod.get("spec") or {}
        if not spec.get("nodeName") and self._place(spec) is None:
            nodes = self._list("v1", "Node")
            message = scheduling.failed_scheduling_message(spec, nodes)
            status = copy.deepcopy(pod.get("status") or {})
            status["phase"] = "Pending"
            set_condition(status, "PodScheduled", "False", "Unschedulable", message)
            self._write_status(pod_rt, pod, status)
            self._event_once((md["uid"], "FailedScheduling"), [scheduling.event(
                pod, "FailedScheduling", message, "Warning", "default-scheduler")])
            return True
        bad = [c for c in spec.get("containers") or [] if c.get("image") in self.fake.unpullable_images]
        if not bad:
            return False
        host = spec.get("nodeName", "")
        status = copy.deepcopy(pod.get("status") or {})
        status["phase"] = "Pending"
        status.setdefault("hostIP", "172.18.0.2")
        set_condition(status, "PodScheduled", "True")
        set_condition(status, "Ready", "False", "ContainersNotReady",
                      f"containers with unready status: [{' '.join(c.get('name', '') for c in bad)}]")
        status["containerStatuses"] = [
            {"name": c.get("name", ""), "ready": False, "started": False, "restartCount": 0, "image": c.get("image"),
             "imageID": "", "state": {"waiting": {"reason": "ImagePullBackOff",
                                                  "message": f'Back-off pulling image "{c.get("image")}"'}}}
            for c in bad]
        self._write_status(pod_rt, pod, status)
        for c in bad:
            self._event_once((md["uid"], f"pull:{c.get('name')}"),
                             scheduling.image_pull_events(pod, c.get("name", ""), c.get("image", ""), host))
        return True

    @staticmethod
    def _pod_ip(pod: dict[str, Any]) -> str:
        h = hashlib.sha256(pod["metadata"]["uid"].encode()).digest()
        return f"10.244.{h[0]}.{h[1] % 250 + 2}"

    # ------------------------------------------------------------------ Deployments / ReplicaSets
    def deployments(self) -> None:
        dep_rt, rs_rt = self.rt("apps/v1", "Deployment"), self.rt("apps/v1", "ReplicaSet")
        for dep in self._list("apps/v1", "Deployment"):
            md, spec = dep["metadata"], dep.get("spec") or {}
            if md.get("deletionTimestamp"):
                continue
            ns, name = md["namespace"], md["name"]
            replicas = spec.get("replicas", 1)
            template = spec.get("template") or {}
            pth = self._template_hash(md["uid"], md.get("generation", 1), template)
            new_name = f"{name}-{pth}"
            owned = [rs for rs in self._owned(md["uid"], "replicasets")
                     if any(r.get("uid") == md["uid"] and r.get("controller")
                            for r in rs["metadata"].get("ownerReferences") or [])]
            new_rs = next((rs for rs in owned if rs["metadata"]["name"] == new_name), None)
            old = [rs for rs in owned if rs["metadata"]["name"] != new_name]
            if new_rs is None:
                labels = {**((template.get("metadata") or {}).get("labels") or {}), "pod-template-hash": pth}
                sel = copy.deepcopy(spec.get("selector") or {"matchLabels": {}})
                sel.setdefault("matchLabels", {})["pod-template-hash"] = pth
                tmpl = copy.deepcopy(template)
                tmpl.setdefault("metadata", {})["labels"] = labels
                self._create(rs_rt, {
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": new_name, "namespace": ns, "labels": labels,
                                 "annotations": {"deployment.kubernetes.io/revision": str(len(owned) + 1)},
                                 "ownerReferences": [owner_ref(dep)]},
                    "spec": {"replicas": replicas, "selector": sel, "template": tmpl},
                })
                new_rs = self.store.get(("apps", "replicasets"), ns, new_name)
                if new_rs is None:
                    continue
            self._scale_rs(rs_rt, new_rs, replicas)
            held = self._held("Deployment", dep)
            new_ready = 0 if held else (new_rs.get("status") or {}).get("readyReplicas", 0)
            rollout_done = new_ready >= replicas
            for rs in old:
                if rollout_done:
                    self._scale_rs(rs_rt, rs, 0)
            old_ready = 0 if held else sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in old)
            total = replicas + sum((rs.get("spec") or {}).get("replicas", 0) for rs in old)
            ready = new_ready + old_ready
            available = min(ready, max(replicas, ready))
            status = copy.deepcopy(dep.get("status") or {})
            status.update({
                "observedGeneration": md.get("generation", 1),
                "replicas": total if not rollout_done else replicas,
                "updatedReplicas": replicas if rollout_done else new_ready,
                "readyReplicas": ready if not rollout_done else replicas,
                "availableReplicas": available if not rollout_done else replicas,
            })
            unavailable = max(replicas - status["availableReplicas"], 0)
            if unavailable:
                status["unavailableReplicas"] = unavailable
            else:
                status.pop("unavailableReplicas", None)
            for k in ("readyReplicas", "availableReplicas", "updatedReplicas"):
                if not status[k]:
                    status.pop(k)
            is_available = status.get("availableReplicas", 0) >= replicas or (
                old_ready >= replicas and replicas > 0)
            if replicas == 0:
                is_available = True
            if is_available:
                set_condition(status, "Available", "True", "MinimumReplicasAvailable",
                              "Deployment has minimum availability.")
            else:
                set_condition(status, "Available", "False", "MinimumReplicasUnavailable",
                              "Deployment does not have minimum availability.")
            if rollout_done:
                set_condition(status, "Progressing", "True", "NewReplicaSetAvailable",
                              f'ReplicaSet "{new_name}" has successfully progressed.')
            else:
                set_condition(status, "Progressing", "True", "ReplicaSetUpdated",
                              f'ReplicaSet "{new_name}" is progressing.')
            status["conditions"].sort(key=lambda c: c["type"])
            self._write_status(dep_rt, dep, status)

    def _template_hash(self, uid: str, generation: int, template: dict[str, Any]) -> str:
        key = (uid, generation)
        if key not in self._hash_cache:
            if len(self._hash_cache) > 10000:
                self._hash_cache.clear()
            self._hash_cache[key] = short_hash(template)
        return self._hash_cache[key]

    def _scale_rs(self, rs_rt: ResourceType, rs: dict[str, Any], replicas: int) -> None:
        if (rs.get("spec") or {}).get("replicas") == replicas:
            return
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = replicas
        with contextlib.suppress(ApiError):
            self.api.replace(rs_rt, rs["metadata"]["namespace"], rs["metadata"]["name"], new,
                             WriteOptions())

    def replicasets(self) -> None:
        rs_rt = self.rt("apps/v1", "ReplicaSet")
        for rs in self._list("apps/v1", "ReplicaSet"):
            md, spec = rs["metadata"], rs.get("spec") or {}
            if md.get("deletionTimestamp"):
                continue
            replicas = spec.get("replicas", 1)
            names = [f"{md['name']}-{short_hash([md['uid'], i], 5)}" for i in range(replicas)]
            pods = self._sync_pods(rs, names, spec.get("template") or {}, {})
            ready = self._count_ready(pods)
            status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                      "availableReplicas": ready, "observedGeneration": md.get("generation", 1)}
            status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
            self._write_status(rs_rt, rs, status)

    # ------------------------------------------------------------------ StatefulSets / DaemonSets
    def statefulsets(self) -> None:
        sts_rt = self.rt("apps/v1", "StatefulSet")
        for sts in self._list("apps/v1", "StatefulSet"):
            md, spec = sts["metadata"], sts.get("spec") or {}
            if md.get("deletionTimestamp"):
                continue
            replicas = spec.get("replicas", 1)
            revision = f"{md['name']}-{short_hash(spec.get('template') or {})}"
            names = [f"{md['name']}-{i}" for i in range(replicas)]
            pods = self._sync_pods(sts, names, spec.get("template") or {},
                                   {"controller-revision-hash": revision,
                                    "apps.kubernetes.io/pod-index": "0"})
            ready = 0 if self._held("StatefulSet", sts) else self._count_ready(pods)
            old = sts.get("status") or {}
            done = ready >= replicas
            status = {
                "observedGeneration": md.get("generation", 1),
                "replicas": len(pods),
                "readyReplicas": ready,
                "currentReplicas": len(pods) if done else old.get("currentReplicas", 0),
                "updatedReplicas": len(pods),
                "availableReplicas": ready,
                "currentRevision": revision if done else old.get("currentRevision", revision),
                "updateRevision": revision,
                "collisionCount": 0,
            }
            if not ready:
                status.pop("readyReplicas")
                status["availableReplicas"] = 0
            self._write_status(sts_rt, sts, status)

    def daemonsets(self) -> None:
        ds_rt = self.rt("apps/v1", "DaemonSet")
        nodes = self._list("v1", "Node")
        for ds in self._list("apps/v1", "DaemonSet"):
            md, spec = ds["metadata"], ds.get("spec") or {}
            if md.get("deletionTimestamp"):
                continue
            template = spec.get("template") or {}
            pod_spec = template.get("spec") or {}
            matching = [n["metadata"]["name"] for n in nodes if scheduling.why_not(pod_spec, n, daemon=True) is None]
            revision = short_hash(template)
            names = [f"{md['name']}-{short_hash([md['uid'], n], 5)}" for n in matching]
            pods = self._sync_pods(ds, names, template, {"controller-revision-hash": revision}, matching)
            ready = 0 if self._held("DaemonSet", ds) else self._count_ready(pods)
            status = {
                "observedGeneration": md.get("generation", 1),
                "desiredNumberScheduled": len(matching),
                "currentNumberScheduled": len(pods),
                "numberMisscheduled": 0,
                "numberReady": ready,
                "updatedNumberScheduled": len(pods),
                "numberAvailable": ready,
            }
            if len(matching) - ready:
                status["numberUnavailable"] = len(matching) - ready
            if not ready:
                status.pop("numberAvailable")
            self._write_status(ds_rt, ds, status)

    # ------------------------------------------------------------------ Jobs
    def jobs(self) -> None:
        job_rt, pod_rt = self.rt("batch/v1", "Job"), self.rt("v1", "Pod")
        for job in self._list("batch/v1", "Job"):
            md, spec = job["metadata"], job.get("spec") or {}
            if md.get("deletionTimestamp") or spec.get("suspend"):
                continue
            status = copy.deepcopy(job.get("status") or {})
            if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                   for c in status.get("conditions") or []):
                continue
            ns, uid = md["namespace"], md["uid"]
            labels = {"job-name": md["name"], "batch.kubernetes.io/job-name": md["name"],
                      "controller-uid": uid, "batch.kubernetes.io/controller-uid": uid}
            pods = self._owned(uid, "pods")
            if not pods:
                tmpl = copy.deepcopy(spec.get("template") or {})
                pod_labels = {**((tmpl.get("metadata") or {}).get("labels") or {}), **labels}
                self._create(pod_rt, {
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"{md['name']}-{short_hash([uid], 5)}", "namespace": ns,
                                 "labels": pod_labels, "ownerReferences": [owner_ref(job)]},
                    "spec": {**(tmpl.get("spec") or {}),
                             **({"nodeName": n} if (n := self._place(tmpl.get("spec") or {})) else {})},
                })
                status.setdefault("startTime", now_iso())
                status["active"] = 1
                status.setdefault("ready", 0)
                status.setdefault("terminating", 0)
                self._write_status(job_rt, job, status)
                continue
            phase = (pods[0].get("status") or {}).get("phase")
            if phase == "Succeeded":
                status.pop("active", None)
                status["succeeded"] = 1
                status["ready"] = 0
                status["completionTime"] = now_iso()
                set_condition(status, "SuccessCriteriaMet", "True", "CompletionsReached",
                              "Reached expected number of succeeded pods")
                set_condition(status, "Complete", "True", "CompletionsReached",
                              "Reached expected number of succeeded pods")
                status["uncountedTerminatedPods"] = {}
                self._write_status(job_rt, job, status)
            elif phase == "Failed":
                status.pop("active", None)
                status["failed"] = 1
                status["ready"] = 0
                set_condition(status, "FailureTarget", "True", "BackoffLimitExceeded",
                              "Job has reached the specified backoff limit")
                set_condition(status, "Failed", "True", "BackoffLimitExceeded",
                              "Job has reached the specified backoff limit")
                status["uncountedTerminatedPods"] = {}
                self._write_status(job_rt, job, status)

    # ------------------------------------------------------------------ PVCs
    def pvcs(self) -> None:
        pvc_rt = self.rt("v1", "PersistentVolumeClaim")
        for pvc in self._list("v1", "PersistentVolumeClaim"):
            if pvc["metadata"].get("deletionTimestamp") or (pvc.get("status") or {}).get("phase") == "Bound":
                continue
            if self._held("PersistentVolumeClaim", pvc) or not self._is_ready_now(pvc):
                continue
            req = ((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}
            self._write_status(pvc_rt, pvc, {
                "phase": "Bound",
                "accessModes": (pvc.get("spec") or {}).get("accessModes") or ["ReadWriteOnce"],
                "capacity": {"storage": req.get("storage", "1Gi")},
            })

    # ------------------------------------------------------------------ APIServices
    def apiservices(self) -> None:
        """Aggregated APIs report Available once their backing Service has ready endpoints."""
        rt = self.rt("apiregistration.k8s.io/v1", "APIService")
        for svc in self._list("apiregistration.k8s.io/v1", "APIService"):
            if svc["metadata"].get("deletionTimestamp"):
                continue
            ref = (svc.get("spec") or {}).get("service")
            ok, reason, msg = True, "Local", "Local APIServices are always available"
            if ref:
                ep = self._snap_get(("", "endpoints"), ref.get("namespace", ""), ref.get("name", ""))
                ready = bool(ep and any(s.get("addresses") for s in ep.get("subsets") or []))
                ok = ready and not self._held("APIService", svc)
                reason, msg = ("Passed", "all checks passed") if ok else (
                    "MissingEndpoints", f"endpoints for service/{ref.get('name')} in \"{ref.get('namespace')}\" "
                    "have no addresses with port name \"https\"")
            status = copy.deepcopy(svc.get("status") or {})
            set_condition(status, "Available", "True" if ok else "False", reason, msg)
            self._write_status(rt, svc, status)

    # ------------------------------------------------------------------ Services -> EndpointSlices
    def services(self) -> None:
        es_rt, ep_rt = self.rt("discovery.k8s.io/v1", "EndpointSlice"), self.rt("v1", "Endpoints")
        for svc in self._list("v1", "Service"):
            md, spec = svc["metadata"], svc.get("spec") or {}
            selector = spec.get("selector")
            if md.get("deletionTimestamp") or not selector:
                continue
            ns, name = md["namespace"], md["name"]
            match = selector_from_match({"matchLabels": selector})
            pods = [p for p in self._list("v1", "Pod", ns)
                    if match(p["metadata"].get("labels") or {}) and not p["metadata"].get("deletionTimestamp")
                    and (get_condition(p, "Ready") or {}).get("status") == "True"
                    and (p.get("status") or {}).get("podIP")]
            pods.sort(key=lambda p: p["metadata"]["name"])
            ports = [{"name": p.get("name", ""), "port": self._target_port(p, pods),
                      "protocol": p.get("protocol", "TCP")} for p in spec.get("ports") or []]
            owner = owner_ref(svc)
            slice_name = f"{name}-{short_hash([md['uid']], 5)}"
            desired_slice = {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": slice_name, "namespace": ns, "ownerReferences": [owner],
                             "labels": {"kubernetes.io/service-name": name,
                                        "endpointslice.kubernetes.io/managed-by":
                                            "endpointslice-controller.k8s.io"}},
                "addressType": "IPv4",
                "endpoints": [
                    {"addresses": [p["status"]["podIP"]],
                     "conditions": {"ready": True, "serving": True, "terminating": False},
                     "nodeName": (p.get("spec") or {}).get("nodeName", "fake-node"),
                     "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns,
                                   "uid": p["metadata"]["uid"]}}
                    for p in pods],
                "ports": ports,
            }
            desired_ep = {
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns,
                             "labels": {"endpoints.kubernetes.io/managed-by": "endpoint-controller"}},
                "subsets": [{
                    "addresses": [{"ip": p["status"]["podIP"], "nodeName": (p.get("spec") or {}).get("nodeName"),
                                   "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns,
                                                 "uid": p["metadata"]["uid"]}} for p in pods],
                    "ports": ports,
                }] if pods else [],
            }
            if not desired_ep["subsets"]:
                desired_ep.pop("subsets")
            self._upsert(es_rt, desired_slice, ("endpoints", "ports", "addressType"))
            self._upsert(ep_rt, desired_ep, ("subsets",))

    @staticmethod
    def _target_port(port: dict[str, Any], pods: list[dict[str, Any]]) -> int:
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, int):
            return target
        for p in pods:
            for c in (p.get("spec") or {}).get("containers") or []:
                for cp in c.get("ports") or []:
                    if cp.get("name") == target:
                        return cp.get("containerPort", 0)
        return port.get("port", 0)

    def _upsert(self, rt: ResourceType, desired: dict[str, Any], fields: tuple[str, ...]) -> None:
        md = desired["metadata"]
        current = self.store.get(self.fake.registry.storage_key(rt), md["namespace"], md["name"])
        if current is None:
            self._create(rt, desired)
            return
        new = copy.deepcopy(current)
        for f in fields:
            if f in desired:
                new[f] = desired[f]
            else:
                new.pop(f, None)
        if new == current:
            return
        new["metadata"].pop("resourceVersion", None)
        with contextlib.suppress(ApiError):
            self.api.replace(rt, md["namespace"], md["name"], new, WriteOptions())

    # ------------------------------------------------------------------ test hooks
    def hooks(self) -> None:
        hooks: dict[str, list[Callable[..., Any]]] = self.fake._hooks
        if not hooks:
            return
        for rt in self.fake.registry.all():
            fns = hooks.get(rt.kind)
            if not fns:
                continue
            for obj in list(self._snap.get(self.fake.registry.storage_key(rt), {}).values()):
                uid = obj["metadata"]["uid"]
                if uid in self._hooked or obj["metadata"].get("deletionTimestamp"):
                    continue
                if self._held(rt.kind, obj) or not self._is_ready_now(obj):
                    continue
                self._hooked.add(uid)
                for fn in fns:
                    result = fn(self.fake, self.api._for_version(rt, copy.deepcopy(obj)))
                    if isinstance(result, dict):
                        current = self.store.get(self.fake.registry.storage_key(rt),
                                                 obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                        if current is not None:
                            self._write_status(rt, current, {**(current.get("status") or {}), **result})
