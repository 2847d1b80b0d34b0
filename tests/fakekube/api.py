"""The REST semantics of kube-apiserver for stored resources (no HTTP here).

``Api`` is used both by the HTTP layer and by the simulated controllers, so that controller
writes go through the same metadata, finalizer and event machinery as client writes.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import paging
from . import patch as patchlib
from . import schema as crd_schema
from .admission import Admission
from .defaults import apply_defaults
from .errors import ApiError, already_exists, bad_request, conflict, invalid, not_found
from .immutable import check_immutable
from .names import check_name
from .objects import comparable, now_iso, spec_part
from .resources import Registry, ResourceType, has_generation
from .selectors import parse_field_selector, parse_label_selector
from .store import Store
from .validation import validate_strict

CONTROLLER_MANAGER = "kube-controller-manager"
FOREGROUND = "foregroundDeletion"

JSON = "application/json"
MERGE = "application/merge-patch+json"
JSONPATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"


# Status fields without omitempty in the Go types: a real server always returns them (and the
# python client's models reject their absence).
_INITIAL_STATUS: dict[str, dict[str, Any]] = {
    "StatefulSet": {"replicas": 0, "availableReplicas": 0},
    "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                  "numberReady": 0},
    "ReplicaSet": {"replicas": 0},
    "PodDisruptionBudget": {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0},
    "HorizontalPodAutoscaler": {"currentReplicas": 0, "desiredReplicas": 0},
    "Ingress": {"loadBalancer": {}},
    "PersistentVolume": {"phase": "Pending"},
}


@dataclass
class WriteOptions:
    manager: str = ""
    field_validation: str = ""  # "Strict" rejects unknown fields (built-in kinds)
    dry_run: bool = False
    force: bool = False
    subresource: str = ""
    admit: bool = False  # a client request: admission webhooks apply (controller writes skip them)


@dataclass
class Api:
    store: Store
    registry: Registry
    rng: random.Random
    kube_version: str = "v1.34.0"
    _ip_lock: threading.Lock = field(default_factory=threading.Lock)
    _next_ip: int = 10

    def __post_init__(self) -> None:
        self.admission = Admission(self.store)

    # ------------------------------------------------------------------ helpers
    def new_uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _allocate_ip(self) -> str:
        with self._ip_lock:
            self._next_ip += 1
            n = self._next_ip
        return f"10.96.{n // 250}.{n % 250 + 1}"

    def _check_namespace(self, rt: ResourceType, namespace: str, creating: bool) -> None:
        if not rt.namespaced:
            return
        ns = self.store.get(("", "namespaces"), "", namespace)
        if ns is None:
            raise not_found("", "namespaces", namespace)
        if creating and ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                f"{rt.plural} is forbidden: unable to create new content in namespace {namespace} "
                "because it is being terminated",
                "Forbidden",
                {"kind": rt.plural, "group": rt.group,
                 "causes": [{"reason": "NamespaceTerminating",
                             "message": f"namespace {namespace} is being terminated",
                             "field": "metadata.namespace"}]},
            )

    def _validate(self, rt: ResourceType, obj: Any, namespace: str, url_name: str | None) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was not a JSON object")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        name = (obj.get("metadata") or {}).get("name") or url_name or ""
        if api_version is None and kind is None:
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        elif kind != rt.kind or api_version is None or api_version.rpartition("/")[0] != rt.group:
            raise invalid(
                rt.group, rt.kind, name,
                f"apiVersion/kind {api_version}/{kind} does not match the request ({rt.api_version}, {rt.kind})",
                "kind",
            )
        obj["apiVersion"] = rt.api_version
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise bad_request("metadata must be an object")
        if url_name is not None and md.get("name") and md["name"] != url_name:
            raise bad_request(
                f"the name of the object ({md['name']}) does not match the name on the URL ({url_name})"
            )
        if url_name is not None:
            md["name"] = url_name
        if not md.get("name"):
            if md.get("generateName"):
                suffix = "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
                md["name"] = md["generateName"] + suffix
            else:
                raise invalid(rt.group, rt.kind, "", "name or generateName is required", "metadata.name")
        name = md["name"]
        check_name(rt.group, rt.kind, name)
        if rt.namespaced:
            if md.get("namespace") and md["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        if rt.kind == "CustomResourceDefinition":
            self._validate_crd(obj)
        return obj

    def _validate_crd(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        name = obj["metadata"]["name"]
        group = "apiextensions.k8s.io"
        for f in ("group", "scope", "versions"):
            if not spec.get(f):
                raise invalid(group, "CustomResourceDefinition", name, "Required value", f"spec.{f}")
        if not names.get("plural") or not names.get("kind"):
            raise invalid(group, "CustomResourceDefinition", name, "Required value", "spec.names")
        if name != f"{names['plural']}.{spec['group']}":
            raise invalid(group, "CustomResourceDefinition", name,
                          "must be spec.names.plural+\".\"+spec.group", "metadata.name")
        if spec["scope"] not in ("Namespaced", "Cluster"):
            raise invalid(group, "CustomResourceDefinition", name, "must be Namespaced or Cluster", "spec.scope")
        if sum(1 for v in spec["versions"] if v.get("storage")) != 1:
            raise invalid(group, "CustomResourceDefinition", name,
                          "must have exactly one version marked as storage version", "spec.versions")

    def _for_version(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Objects are stored once per kind; serve them with the requested version."""
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        return obj

    @staticmethod
    def owners_of(obj: dict[str, Any]) -> dict[str, set[patchlib.Path]]:
        out: dict[str, set[patchlib.Path]] = {}
        for entry in obj.get("metadata", {}).get("managedFields") or []:
            out.setdefault(entry.get("manager", ""), set()).update(
                patchlib.decode_fields(entry.get("fieldsV1") or {})
            )
        return out

    @staticmethod
    def _render_owners(
        old: dict[str, Any] | None, owners: dict[str, set[patchlib.Path]], manager: str, operation: str,
        api_version: str, subresource: str,
    ) -> list[dict[str, Any]]:
        previous = {e.get("manager"): e for e in ((old or {}).get("metadata", {}).get("managedFields") or [])}
        entries = []
        for m, paths in sorted(owners.items()):
            prev = previous.get(m, {})
            fields_v1 = patchlib.encode_fields(paths)
            entry = {
                "manager": m,
                "operation": operation if m == manager else prev.get("operation", "Update"),
                "apiVersion": api_version if m == manager else prev.get("apiVersion", api_version),
                "time": prev.get("time", now_iso()),
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1,
            }
            if m == manager and (prev.get("fieldsV1") != fields_v1 or prev.get("operation") != operation):
                entry["time"] = now_iso()
            sub = subresource if m == manager else prev.get("subresource")
            if sub:
                entry["subresource"] = sub
            entries.append(entry)
        return entries

    # ------------------------------------------------------------------ reads
    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(self.registry.storage_key(rt), namespace if rt.namespaced else "", name)
        if obj is None:
            raise not_found(rt.group, rt.plural, name)
        return self._for_version(rt, obj)

    def list(
        self, rt: ResourceType, namespace: str | None, label_selector: str | None = None,
        field_selector: str | None = None, limit: int = 0, continue_token: str = "",
    ) -> dict[str, Any]:
        """A list in key order (namespace/name); with ``limit``, one page and a ``continue`` token."""
        label_match = parse_label_selector(label_selector)
        field_match = parse_field_selector(field_selector)
        start = ""
        if continue_token:
            start, token_rv = paging.decode_continue(continue_token)
        with self.store.lock:
            rv = self.store.resource_version
            items = self.store.list(self.registry.storage_key(rt), namespace if rt.namespaced else None)
        if continue_token:
            rv = token_rv  # every page is served at the first page's resourceVersion
        items = sorted(
            (o for o in items if label_match(o["metadata"].get("labels") or {}) and field_match(o)),
            key=paging.key_of,
        )
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if start:
            items = [o for o in items if paging.key_of(o) >= start]
        if limit > 0 and len(items) > limit:
            meta["continue"] = paging.encode_continue(paging.key_of(items[limit - 1]) + "\x00", rv)
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {
            "kind": rt.list_kind or f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": meta,
            "items": [self._for_version(rt, o) for o in items],
        }

    # ------------------------------------------------------------------ create
    def create(self, rt: ResourceType, namespace: str, body: Any, opts: WriteOptions) -> dict[str, Any]:
        ns = namespace if rt.namespaced else ""
        obj = self._validate(rt, copy.deepcopy(body), ns, None)
        self._strict(rt, obj, opts)
        with self.store.lock:
            self._check_namespace(rt, ns, creating=True)
            key = self.registry.storage_key(rt)
            if self.store.peek(key, ns, obj["metadata"]["name"]) is not None:
                raise already_exists(rt.group, rt.plural, obj["metadata"]["name"])
            obj = self._prepare_create(rt, obj, opts, patchlib.field_set(obj), "Update")
            if opts.dry_run:
                return obj
            return self._for_version(rt, self.store.insert(key, obj))

    def _prepare_create(
        self, rt: ResourceType, obj: dict[str, Any], opts: WriteOptions, fields: set[patchlib.Path],
        operation: str,
    ) -> dict[str, Any]:
        md = obj["metadata"]
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            md.pop(k, None)
        md["uid"] = self.new_uid()
        md["creationTimestamp"] = now_iso()
        if has_generation(rt):
            md["generation"] = 1
        else:
            md.pop("generation", None)
        if rt.status and not opts.subresource:
            obj.pop("status", None)
            if not rt.crd:  # built-in kinds come back with their zero status, like the real server
                obj["status"] = copy.deepcopy(_INITIAL_STATUS.get(rt.kind, {}))
        self._defaults(rt, obj)
        self._normalize(rt, obj)
        self._custom_schema(rt, obj, None, opts)
        if opts.admit:
            self.admission.admit(rt, "CREATE", obj, None)
        if opts.manager:
            md["managedFields"] = self._render_owners(
                None, {opts.manager: fields}, opts.manager, operation, rt.api_version, ""
            )
        return obj

    def _custom_schema(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, opts: WriteOptions
    ) -> None:
        """Custom resources: prune, default and validate against the CRD's schema (schema.py)."""
        if not rt.crd or opts.subresource == "seed":
            return
        crd = self.store.peek(("apiextensions.k8s.io", "customresourcedefinitions"), "", rt.crd)
        if crd is None:
            return
        crd_schema.check(crd, rt.version, rt.group, obj, old, opts.field_validation == "Strict",
                         opts.subresource)

    def _strict(self, rt: ResourceType, obj: dict[str, Any], opts: WriteOptions) -> None:
        if opts.field_validation == "Strict" and not opts.subresource:
            validate_strict(obj, self.kube_version, rt.crd is not None)

    @staticmethod
    def _normalize(rt: ResourceType, obj: dict[str, Any]) -> None:
        """Conversions the real server applies on every write (Secret stringData -> data)."""
        if rt.kind == "Secret":
            string_data = obj.pop("stringData", None) or {}
            if string_data:
                data = obj.setdefault("data", {}) or {}
                for k, v in string_data.items():
                    data[k] = base64.b64encode(str(v).encode()).decode()
                obj["data"] = data
            obj.setdefault("type", "Opaque")

    def _defaults(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """The handful of server-side defaults installers and waiters depend on."""
        spec = obj.get("spec")
        if rt.kind == "Namespace":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif rt.kind == "Service" and isinstance(spec, dict):
            if spec.get("type", "ClusterIP") != "ExternalName" and not spec.get("clusterIP"):
                spec["clusterIP"] = self._allocate_ip()
            if spec.get("clusterIP"):
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
            obj.setdefault("status", {"loadBalancer": {}})
        elif rt.kind == "Job" and isinstance(spec, dict):
            if not spec.get("manualSelector"):  # the job controller's selector + pod labels
                uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
                spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
                labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
                labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                               "controller-uid": uid, "job-name": name})
        elif rt.kind == "PersistentVolumeClaim" or rt.kind == "Pod":
            obj.setdefault("status", {"phase": "Pending"})
        apply_defaults(rt.kind, obj)

    # ------------------------------------------------------------------ update (PUT and patch results)
    def replace(
        self, rt: ResourceType, namespace: str, name: str, body: Any, opts: WriteOptions
    ) -> dict[str, Any]:
        ns = namespace if rt.namespaced else ""
        obj = self._validate(rt, copy.deepcopy(body), ns, name)
        self._strict(rt, obj, opts)
        with self.store.lock:
            self._check_namespace(rt, ns, creating=False)
            current = self.store.get(self.registry.storage_key(rt), ns, name)
            if current is None:
                raise not_found(rt.group, rt.plural, name)
            rv = obj["metadata"].get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise conflict(rt.group, rt.plural, name)
            owners = patchlib.update_owners(current, obj, opts.manager, self.owners_of(current)) \
                if opts.manager else {}
            return self._commit(rt, current, obj, owners, opts, "Update")

    def _commit(
        self, rt: ResourceType, current: dict[str, Any], new: dict[str, Any],
        owners: dict[str, set[patchlib.Path]], opts: WriteOptions, operation: str,
    ) -> dict[str, Any]:
        """Finish any update: keep server-owned metadata, status rules, generation, no-op detection."""
        key = self.registry.storage_key(rt)
        cur_md, md = current["metadata"], new.setdefault("metadata", {})
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace"):
            if k in cur_md:
                md[k] = cur_md[k]
            else:
                md.pop(k, None)
        md["resourceVersion"] = cur_md["resourceVersion"]
        if opts.subresource == "status":
            merged = copy.deepcopy(current)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new, md = merged, merged["metadata"]
        elif rt.status:
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
            else:
                new.pop("status", None)
        if rt.kind == "Namespace" and not opts.subresource:
            new["spec"] = copy.deepcopy(current.get("spec", {}))
        if not opts.subresource:
            apply_defaults(rt.kind, new, current)
            check_immutable(rt, current, new)
        self._custom_schema(rt, new, current, opts)
        if opts.admit and opts.subresource in ("", "status"):  # even a no-op update is admitted first
            self.admission.admit(rt, "UPDATE", new, current, opts.subresource)
        spec_changed = spec_part(new) != spec_part(current)
        if has_generation(rt):
            md["generation"] = cur_md.get("generation", 1) + (1 if spec_changed else 0)
        else:
            md.pop("generation", None)
        if opts.manager:
            md["managedFields"] = self._render_owners(
                current, owners, opts.manager, operation, rt.api_version, opts.subresource
            )
        elif cur_md.get("managedFields"):  # internal writes (controllers) leave ownership alone
            md["managedFields"] = copy.deepcopy(cur_md["managedFields"])
        if not md.get("managedFields"):
            md.pop("managedFields", None)
        new["apiVersion"], new["kind"] = current.get("apiVersion", rt.api_version), rt.kind
        self._normalize(rt, new)
        if comparable(new) == comparable(current):
            return self._for_version(rt, current)  # a no-op write does not bump resourceVersion
        if opts.dry_run:
            return self._for_version(rt, new)
        ns, name = md.get("namespace", ""), md["name"]
        if md.get("deletionTimestamp") and not md.get("finalizers") and not (
            rt.kind == "Namespace" and (new.get("spec") or {}).get("finalizers")
        ):
            self.store.delete(key, ns, name)
            return self._for_version(rt, new)
        stored = self.store.replace(key, new, spec_changed=spec_changed)
        return self._for_version(rt, stored)

    # ------------------------------------------------------------------ patch
    def patch(
        self, rt: ResourceType, namespace: str, name: str, body: bytes, content_type: str, opts: WriteOptions
    ) -> tuple[dict[str, Any], bool]:
        """Returns (object, created)."""
        ns = namespace if rt.namespaced else ""
        ctype = content_type.split(";")[0].strip().lower()
        if ctype == APPLY_CBOR:
            raise ApiError(415, f"the body of the request was in an unsupported media type: {ctype}")
        if ctype == APPLY:
            return self._apply(rt, ns, name, body, opts)
        try:
            doc = json.loads(body or b"null")
        except ValueError as exc:
            raise bad_request(f"error decoding patch: {exc}") from exc
        with self.store.lock:
            self._check_namespace(rt, ns, creating=False)
            current = self.store.get(self.registry.storage_key(rt), ns, name)
            if current is None:
                raise not_found(rt.group, rt.plural, name)
            current = self._for_version(rt, current)
            if ctype == MERGE:
                new = patchlib.merge_patch(current, doc)
            elif ctype == JSONPATCH:
                new = patchlib.json_patch(current, doc)
            elif ctype == STRATEGIC:
                if rt.crd:
                    raise ApiError(415, "strategic merge patch is not supported for custom resources",
                                   "UnsupportedMediaType")
                new = patchlib.strategic_merge(current, doc)
            else:
                raise ApiError(415, f"the body of the request was in an unknown format - accepted media "
                               f"types include: {JSONPATCH}, {MERGE}, {APPLY}, {STRATEGIC}")
            if not isinstance(new, dict):
                raise bad_request("patch produced a non-object")
            rv = (new.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise conflict(rt.group, rt.plural, name)
            new = self._validate(rt, new, ns, name)
            self._strict(rt, new, opts)
            owners = patchlib.update_owners(current, new, opts.manager, self.owners_of(current)) \
                if opts.manager else {}
            return self._commit(rt, current, new, owners, opts, "Update"), False

    def _apply(
        self, rt: ResourceType, ns: str, name: str, body: bytes, opts: WriteOptions
    ) -> tuple[dict[str, Any], bool]:
        if not opts.manager:
            raise bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                              "is required for apply patch")
        try:
            applied = _load_apply_body(body) if body else None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise bad_request(f"error decoding YAML: {exc}") from exc
        if not isinstance(applied, dict):
            raise bad_request("apply patch must be an object")
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise bad_request("apiVersion and kind must be set in an apply patch")
        applied = self._validate(rt, applied, ns, name)
        self._strict(rt, applied, opts)
        if opts.subresource == "status":
            applied = {k: v for k, v in applied.items() if k in ("apiVersion", "kind", "metadata", "status")}
        elif rt.status:
            applied.pop("status", None)
        with self.store.lock:
            self._check_namespace(rt, ns, creating=False)
            key = self.registry.storage_key(rt)
            current = self.store.get(key, ns, name)
            if current is None and opts.subresource:
                raise not_found(rt.group, rt.plural, name)
            if current is None:
                self._check_namespace(rt, ns, creating=True)
                fields = patchlib.field_set(applied)
                obj = self._prepare_create(rt, copy.deepcopy(applied), opts, fields, "Apply")
                if opts.dry_run:
                    return obj, True
                return self._for_version(rt, self.store.insert(key, obj)), True
            current = self._for_version(rt, current)
            rv = applied["metadata"].get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise conflict(rt.group, rt.plural, name)
            try:
                new, owners = patchlib.server_side_apply(
                    current, applied, opts.manager, self.owners_of(current), opts.force
                )
            except patchlib.ApplyConflict as exc:
                raise self._apply_conflict(rt, name, exc) from exc
            return self._commit(rt, current, new, owners, opts, "Apply"), False

    @staticmethod
    def _apply_conflict(rt: ResourceType, name: str, exc: patchlib.ApplyConflict) -> ApiError:
        def dotted(path: patchlib.Path) -> str:
            out = ""
            for p in path:
                out += f"[{p[1]}={p[2]}]" if isinstance(p, tuple) else f".{p}"
            return out

        causes = [
            {"reason": "FieldManagerConflict", "message": f'conflict with "{m}"', "field": dotted(p)}
            for m, p in exc.conflicts
        ]
        lines = "\n".join(f'- conflict with "{m}": {dotted(p)}' for m, p in exc.conflicts)
        n = len(exc.conflicts)
        return ApiError(
            409, f"Apply failed with {n} conflict{'s' if n > 1 else ''}:\n{lines}", "Conflict",
            {"name": name, "group": rt.group, "kind": rt.plural, "causes": causes},
        )

    # ------------------------------------------------------------------ delete
    def delete(
        self, rt: ResourceType, namespace: str, name: str, options: dict[str, Any] | None,
        dry_run: bool = False, propagation: str | None = None, admit: bool = False,
    ) -> dict[str, Any]:
        ns = namespace if rt.namespaced else ""
        options = options or {}
        key = self.registry.storage_key(rt)
        with self.store.lock:
            current = self.store.get(key, ns, name)
            if current is None:
                raise not_found(rt.group, rt.plural, name)
            pre = options.get("preconditions") or {}
            if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
                raise conflict(rt.group, rt.plural, name, "the ResourceVersion in the precondition does not match")
            if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
                raise conflict(rt.group, rt.plural, name, "the UID in the precondition does not match")
            current = self._for_version(rt, current)
            if admit and not md_deleting(current):
                self.admission.admit(rt, "DELETE", current, None)
            if dry_run:
                return current
            propagation = propagation or options.get("propagationPolicy")
            if propagation == "Orphan" or options.get("orphanDependents") is True:
                self._orphan(current["metadata"]["uid"])
            md = current["metadata"]
            if propagation == "Foreground" and FOREGROUND not in (md.get("finalizers") or []):
                # the garbage collector deletes the dependents, then drops this finalizer
                md["finalizers"] = [*(md.get("finalizers") or []), FOREGROUND]
                current["metadata"]["deletionTimestamp"] = md.get("deletionTimestamp") or now_iso()
                current["metadata"]["deletionGracePeriodSeconds"] = 0
                return self._for_version(rt, self.store.replace(key, current))
            pending = bool(md.get("finalizers")) or (
                rt.kind == "Namespace" and (current.get("spec") or {}).get("finalizers")
            )
            if pending:
                if md.get("deletionTimestamp"):
                    return current
                updated = copy.deepcopy(current)
                updated["metadata"]["deletionTimestamp"] = now_iso()
                updated["metadata"]["deletionGracePeriodSeconds"] = 0
                if rt.kind == "Namespace":
                    updated.setdefault("status", {})["phase"] = "Terminating"
                return self._for_version(rt, self.store.replace(key, updated))
            deleted = self.store.delete(key, ns, name)
            return self._for_version(rt, deleted or current)

    def _orphan(self, uid: str) -> None:
        for key in self.store.kinds():
            for obj in self.store.list(key):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    obj["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    self.store.replace(key, obj)


def md_deleting(obj: dict[str, Any]) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def _load_apply_body(body: bytes) -> Any:
    """Apply patches are YAML, but clients mostly send JSON (a YAML subset): parse that fast."""
    text = body.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
