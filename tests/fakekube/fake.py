"""``FakeKube``: the public face of the fake API server (start/stop, seeding, knobs, request log)."""

from __future__ import annotations

import copy
import pathlib
import random
import threading
from collections.abc import Callable
from typing import Any

import yaml

from .api import Api, WriteOptions
from .authz import Authorizer, Denial
from .controllers import Controllers
from .errors import ApiError
from .faults import WRITE_VERBS, Fault, FaultHandle, FaultInjector
from .objects import now_iso
from .resources import Registry, ResourceType, has_generation
from .server import KubeHTTPServer, RequestRecord
from .store import Store


class FakeKube:
    """An in-process Kubernetes API server on 127.0.0.1 that real clients can talk to."""

    def __init__(self, seed: int = 0, ready_delay: float = 0.0, kube_version: str = "v1.34.0") -> None:
        self.seed = seed
        self.kube_version = kube_version
        self.latency = 0.0
        # Like the real namespace controller, start emptying a deleted namespace only after a beat,
        # so `kubectl delete -f` of a namespace plus its contents does not race into 404s.
        self.namespace_delete_delay = 0.25
        # Every namespace gets kube-root-ca.crt and the default ServiceAccount, as in a real cluster.
        self.namespace_defaults = True
        self._ready_delay = ready_delay
        # seconds from a CRD's creation to Established (None: ready_delay); real clusters take a moment
        self.crd_establish_delay: float | None = None
        # seconds cainjector takes to notice a new CA Secret and patch caBundle (a watch and a patch)
        self.cainjector_delay = 0.0
        # seconds a finalizer-owning controller (Kubeflow's profiles controller) takes to clean up
        # after a deletion before it removes its finalizer; while it is not running, it never does
        self.finalizer_delay = 0.0
        # images no registry serves: their pods stay Pending in ImagePullBackOff, with kubelet's Events
        self.unpullable_images: set[str] = set()
        self.registry = Registry()
        self.store = Store()
        self.api = Api(self.store, self.registry, random.Random(seed), kube_version=kube_version)
        self.faults = FaultInjector(seed)
        self.authz = Authorizer()
        self._requests: list[RequestRecord] = []
        self._req_lock = threading.Lock()
        self._held: set[tuple[str, str, str]] = set()
        self._job_results: dict[tuple[str, str], tuple[str, bool]] = {}
        self._pod_logs: dict[tuple[str, str], str] = {}
        self._job_pod_status: dict[tuple[str, str], dict[str, Any]] = {}
        self._hooks: dict[str, list[Callable[..., Any]]] = {}
        self._server: KubeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.controllers = Controllers(self)
        self._seed_defaults()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeKube:
        if self._server is not None:
            return self
        self._server = KubeHTTPServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fakekube-http", daemon=True)
        self._thread.start()
        self.controllers.start()
        return self

    def stop(self) -> None:
        self.controllers.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_all()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeKube is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: str | pathlib.Path, context: str = "kind-fake") -> pathlib.Path:
        """A kubeconfig whose current context points at this server with a bearer token user."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": f"{context}-user", "user": {"token": "fakekube-token"}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-user"}}],
            "current-context": context,
            "preferences": {},
        }
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    def _seed_defaults(self) -> None:
        """The namespaces every cluster has, plus the default ServiceAccount."""
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.put({"apiVersion": "v1", "kind": "ServiceAccount",
                  "metadata": {"name": "default", "namespace": "default"}})
        self.put({"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "kubernetes", "namespace": "default",
                               "labels": {"component": "apiserver", "provider": "kubernetes"}},
                  "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1",
                           "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}})

    # ------------------------------------------------------------------ knobs
    @property
    def ready_delay(self) -> float:
        return self._ready_delay

    @ready_delay.setter
    def ready_delay(self, value: float) -> None:
        self._ready_delay = float(value)
        self.controllers.poke()

    def hold_unready(self, kind: str, namespace: str | None, name: str) -> None:
        self._held.add((kind, namespace or "", name))
        self.controllers.poke()

    def release(self, kind: str, namespace: str | None, name: str) -> None:
        self._held.discard((kind, namespace or "", name))
        self.controllers.poke()

    def set_job_result(self, namespace: str, job_name: str, logs: str, succeeded: bool = True) -> None:
        self._job_results[(namespace, job_name)] = (logs, succeeded)
        self.controllers.poke()

    def set_job_pod_status(self, namespace: str, job_name: str, status: dict[str, Any]) -> None:
        """Pods of this Job get ``status`` instead of running (Pending + Unschedulable, ImagePullBackOff,
        a Failed pod OOMKilled…); a Failed phase fails the Job as a real controller would."""
        self._job_pod_status[(namespace, job_name)] = status
        self.controllers.poke()

    def set_pod_logs(self, namespace: str, pod_name: str, logs: str) -> None:
        self._pod_logs[(namespace, pod_name)] = logs

    def on_create(self, kind: str, fn: Callable[[FakeKube, dict[str, Any]], dict[str, Any] | None]) -> None:
        """Run ``fn(fk, obj)`` once per new object of ``kind`` (after ready_delay, not while held).

        A dict returned is merged into the object's status (e.g. a Ready condition).
        """
        self._hooks.setdefault(kind, []).append(fn)
        self.controllers.poke()

    def patch_status(
        self, api_version: str, kind: str, name: str, namespace: str | None, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge ``status`` into an object's status as a controller would (bumps resourceVersion, emits a
        watch event; no request is logged). Handy for playing an operator, e.g. a Certificate's Ready."""
        rt = self._rt(api_version, kind)
        ns = namespace or "" if rt.namespaced else ""
        current = self.store.get(self.registry.storage_key(rt), ns, name)
        if current is None:
            raise KeyError(f"{kind} {namespace}/{name} not found")
        new = copy.deepcopy(current)
        new["status"] = {**(current.get("status") or {}), **status}
        new["metadata"].pop("resourceVersion", None)
        return self.api.replace(rt, ns, name, new, WriteOptions(subresource="status"))

    def _pod_log(self, namespace: str, pod: str) -> str:
        if (namespace, pod) in self._pod_logs:
            return self._pod_logs[(namespace, pod)]
        obj = self.store.get(("", "pods"), namespace, pod)
        if obj is None:
            raise ApiError(404, f'pods "{pod}" not found', "NotFound",
                           {"name": pod, "kind": "pods"})
        job = (obj["metadata"].get("labels") or {}).get("batch.kubernetes.io/job-name")
        if job and (namespace, job) in self._job_results:
            return self._job_results[(namespace, job)][0]
        return ""

    # ------------------------------------------------------------------ authorization
    def deny(self, verbs: tuple[str, ...], resource: str, group: str | None = "",
             namespace: str | None = None) -> Denial:
        """Forbid ``verbs`` (get/list/watch/create/update/patch/delete/deletecollection; () = all) on
        ``resource`` (plural, "*" for all) in ``group`` (None = any) and ``namespace`` (None = any):
        real-looking 403s, also reflected by SelfSubjectAccessReview. Undo with ``allow_all()``."""
        return self.authz.deny(verbs, resource, group, namespace)

    def allow_all(self) -> None:
        self.authz.clear()

    # ------------------------------------------------------------------ faults
    def inject(self, fault: Fault) -> FaultHandle:
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    # ------------------------------------------------------------------ request log
    def _record(self, rec: RequestRecord) -> None:
        with self._req_lock:
            self._requests.append(rec)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._req_lock:
            return list(self._requests)

    def write_count(self) -> int:
        with self._req_lock:
            return sum(1 for r in self._requests if r.method in WRITE_VERBS)

    def reset_requests(self) -> None:
        with self._req_lock:
            self._requests.clear()

    # ------------------------------------------------------------------ direct store access
    def _rt(self, api_version: str, kind: str) -> ResourceType:
        rt = self.registry.by_kind(api_version, kind)
        if rt is None:
            raise KeyError(f"unknown kind {api_version}/{kind}")
        return rt

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        rt = self.registry.by_kind(api_version, kind)
        if rt is None:
            return None
        obj = self.store.get(self.registry.storage_key(rt), namespace if rt.namespaced else "", name)
        return self.api._for_version(rt, obj) if obj is not None else None

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        rt = self.registry.by_kind(api_version, kind)
        if rt is None:
            return []
        return [self.api._for_version(rt, o)
                for o in self.store.list(self.registry.storage_key(rt), namespace if rt.namespaced else None)]

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Seed or overwrite an object directly (metadata filled, status kept, no faults/requests)."""
        rt = self._rt(obj["apiVersion"], obj["kind"])
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        ns = (md.get("namespace") or "default") if rt.namespaced else ""
        if rt.namespaced:
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        key = self.registry.storage_key(rt)
        with self.store.lock:
            current = self.store.get(key, ns, md["name"])
            if current is None:
                status = obj.get("status")
                obj = self.api._prepare_create(rt, obj, WriteOptions(subresource="seed"), set(), "Update")
                if status is not None:
                    obj["status"] = status
                return self.api._for_version(rt, self.store.insert(key, obj))
            cur_md = current["metadata"]
            for k in ("uid", "creationTimestamp"):
                md.setdefault(k, cur_md[k])
            spec_changed = {k: v for k, v in obj.items() if k not in ("metadata", "status")} != {
                k: v for k, v in current.items() if k not in ("metadata", "status")}
            if has_generation(rt):
                md.setdefault("generation", cur_md.get("generation", 1) + (1 if spec_changed else 0))
            md.setdefault("creationTimestamp", now_iso())
            return self.api._for_version(rt, self.store.replace(key, obj, spec_changed=spec_changed))

    def remove(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        rt = self._rt(api_version, kind)
        self.store.delete(self.registry.storage_key(rt), namespace if rt.namespaced else "", name)
