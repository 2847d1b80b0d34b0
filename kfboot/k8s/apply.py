"""Apply a set of objects in dependency waves with server-side apply, concurrently within a wave."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kfboot.errors import ClusterError
from kfboot.k8s.client import Kube
from kfboot.k8s.manifests import CA_INJECT_ANNOTATIONS, order_waves, webhook_backends
from kfboot.k8s.refs import ObjectRef
from kfboot.k8s.waits import Progress, Waiter


@dataclass
class DryRunWorld:
    """What the phases before this one would have created, in a dry run where nothing is created:
    objects in those namespaces, or of those CRD kinds, cannot be checked by the server yet."""

    namespaces: set[str] = field(default_factory=set)
    kinds: set[tuple[str, str]] = field(default_factory=set)  # (group, kind) served by new CRDs


@dataclass
class ApplyResult:
    applied: list[ObjectRef] = field(default_factory=list)
    # dry-run only: objects the server could not check because what they need is new in this set
    unchecked: list[tuple[ObjectRef, str]] = field(default_factory=list)


class Applier:
    def __init__(
        self,
        kube: Kube,
        waiter: Waiter,
        *,
        parallel: int = 16,
        dry_run: bool = False,
        progress: Progress | None = None,
        world: DryRunWorld | None = None,
    ) -> None:
        self.kube = kube
        self.waiter = waiter
        self.parallel = max(1, parallel)
        self.dry_run = dry_run
        self.progress = progress or (lambda _m: None)
        self.world = world if world is not None else DryRunWorld()

    def apply(self, objects: list[dict[str, Any]], deadline: float) -> ApplyResult:
        result = ApplyResult()
        new_namespaces = self.world.namespaces  # shared with later phases of the same dry run
        new_groups = self.world.kinds
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="apply") as pool:
            for wave in order_waves(objects):
                self.progress(f"applying {len(wave.objects)} {wave.name}")
                if self.dry_run:
                    new_namespaces |= self._missing_namespaces(wave.objects) if wave.name == "namespaces" else set()
                    new_groups |= self._missing_crds(wave.objects) if wave.name == "crds" else set()
                checked = []
                for obj in wave.objects:
                    why = self._unchecked_reason(obj, new_namespaces, new_groups)
                    if why:
                        result.unchecked.append((ObjectRef.of(obj), why))
                    else:
                        checked.append(obj)
                if wave.name == "webhooks" and not self.dry_run:
                    self._wait_backends(checked, deadline, pool)
                errors = self._apply_all(checked, pool)
                if errors:
                    shown = "\n  ".join(errors[:10])
                    more = f"\n  … and {len(errors) - 10} more" if len(errors) > 10 else ""
                    raise ClusterError(f"{len(errors)} objects were rejected:\n  {shown}{more}")
                result.applied.extend(ObjectRef.of(o) for o in wave.objects)
                if self.dry_run:
                    continue
                if wave.name == "crds":
                    self._wait_crds(wave.objects, deadline, pool)
                if wave.name == "webhooks":
                    self._wait_ca_injected(wave.objects, deadline, pool)
        return result

    # -- steps ------------------------------------------------------------------------------------
    def _apply_all(self, objects: list[dict[str, Any]], pool: ThreadPoolExecutor) -> list[str]:
        def one(obj: dict[str, Any]) -> str | None:
            try:
                self.kube.apply(obj, dry_run=self.dry_run)
            except ClusterError as exc:
                return f"{ObjectRef.of(obj)}: {exc.message}"
            return None

        return [err for err in pool.map(one, objects) if err]

    def _wait_crds(self, crds: list[dict[str, Any]], deadline: float, pool: ThreadPoolExecutor) -> None:
        self.progress(f"waiting for {len(crds)} CRDs to be Established")
        list(pool.map(lambda crd: self.waiter.crd_established(crd["metadata"]["name"], deadline), crds))
        self.kube.forget_discovery()

    def _wait_backends(self, hooks: list[dict[str, Any]], deadline: float, pool: ThreadPoolExecutor) -> None:
        backends = sorted({b for hook in hooks for b in webhook_backends(hook)})
        if backends:
            self.progress(f"waiting for {len(backends)} webhook services to serve")
        list(pool.map(lambda b: self.waiter.service_endpoints(b[0], b[1], deadline), backends))

    def _wait_ca_injected(self, hooks: list[dict[str, Any]], deadline: float, pool: ThreadPoolExecutor) -> None:
        """cert-manager's cainjector fills caBundle asynchronously; calls fail with x509 errors until then."""
        injected = [h for h in hooks
                    if set(CA_INJECT_ANNOTATIONS) & set((h.get("metadata") or {}).get("annotations") or {})]

        def wait_one(hook: dict[str, Any]) -> None:
            ref = ObjectRef.of(hook)

            def probe():  # type: ignore[no-untyped-def]
                from kfboot.k8s.readiness import Readiness

                live = self.kube.get_ref(ref) or {}
                items = live.get("webhooks") or [live.get("spec") or {}]
                missing = [w.get("name", ref.name) for w in items
                           if not ((w.get("clientConfig") or w).get("caBundle"))]
                if missing:
                    return Readiness(False, f"CA bundle not injected yet into {', '.join(missing)}")
                return Readiness(True, "ready")

            self.waiter.until(f"CA injection into {ref}", probe, deadline)

        list(pool.map(wait_one, injected))

    # -- dry-run helpers ----------------------------------------------------------------------------
    def _missing_namespaces(self, namespaces: list[dict[str, Any]]) -> set[str]:
        return {ns["metadata"]["name"] for ns in namespaces if self.kube.get("v1", "Namespace", ns["metadata"]["name"]) is None}

    def _missing_crds(self, crds: list[dict[str, Any]]) -> set[tuple[str, str]]:
        missing = set()
        for crd in crds:
            name = crd["metadata"]["name"]
            if self.kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name) is None:
                spec = crd.get("spec") or {}
                missing.add((spec.get("group", ""), (spec.get("names") or {}).get("kind", "")))
        return missing

    def _unchecked_reason(self, obj: dict[str, Any], new_ns: set[str], new_kinds: set[tuple[str, str]]) -> str:
        if not self.dry_run:
            return ""
        ns = (obj.get("metadata") or {}).get("namespace")
        if ns and ns in new_ns:
            return f"namespace {ns} would be created first"
        if ((obj.get("apiVersion") or "").rpartition("/")[0], obj.get("kind", "")) in new_kinds:
            return "its CRD would be created first"
        return ""


def delete_objects(
    kube: Kube,
    waiter: Waiter,
    refs: list[ObjectRef],
    deadline: float,
    *,
    parallel: int = 16,
    progress: Progress | None = None,
    force: bool = False,
) -> list[str]:
    """Delete in safe order and wait until gone; returns what is stuck (with its finalizers).

    Each deletion group is waited for before the next is deleted: a custom resource's finalizer is run
    by its controller (a Profile's by the profile controller), so the controllers' group may go only
    once the resources are gone. A group still not gone at the deadline does not hold the rest back.
    With `force`, objects still stuck at the deadline get their finalizers removed (the controller
    that should have run them is usually gone) and are waited for once more, briefly.
    """
    from kfboot.k8s.manifests import deletion_order

    say = progress or (lambda _m: None)
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="delete") as pool:
        groups = deletion_order(refs)
        for index, group in enumerate(groups):
            say(f"deleting {len(group)} {group[0].kind}{'s' if len(group) > 1 else ''}…")
            list(pool.map(kube.delete, group))
            if index < len(groups) - 1:
                _wait_gone(kube, waiter, pool, group, deadline, say)
        alive = _wait_gone(kube, waiter, pool, list(refs), deadline, say)
        if alive and force and not waiter.cancel.is_set():
            say(f"--force: removing finalizers of {len(alive)} stuck objects")
            for ref, obj in alive:
                if (obj.get("metadata") or {}).get("finalizers"):
                    kube.merge_patch(ref, {"metadata": {"finalizers": None}})
            alive = _wait_gone(kube, waiter, pool, [ref for ref, _ in alive], time.monotonic() + 10, say)
    return [_stuck(ref, obj) for ref, obj in alive]


def _wait_gone(kube: Kube, waiter: Waiter, pool: ThreadPoolExecutor, refs: list[ObjectRef], deadline: float,
               say: Progress) -> list[tuple[ObjectRef, dict[str, Any]]]:
    """Poll until every ref is gone; what is still there at the deadline (or on cancel)."""
    remaining = list(refs)
    interval = 0.05
    while True:
        alive = [(ref, obj) for ref, obj in zip(remaining, pool.map(kube.get_ref, remaining), strict=True)
                 if obj is not None]
        if not alive or time.monotonic() >= deadline or waiter.cancel.is_set():
            return alive
        remaining = [ref for ref, _ in alive]
        say(f"waiting for {len(remaining)} objects to be deleted (e.g. {remaining[0]})")
        waiter.cancel.wait(interval)
        interval = min(interval * 1.5, 1.0)


def _stuck(ref: ObjectRef, obj: dict[str, Any]) -> str:
    """What holds a terminating object: its finalizers, and for a namespace what it still contains."""
    finalizers = list((obj.get("metadata") or {}).get("finalizers") or [])
    finalizers += [f for f in (obj.get("spec") or {}).get("finalizers") or [] if f not in finalizers]
    extra = f" (finalizers: {', '.join(finalizers)})" if finalizers else ""
    conditions = [c.get("message") for c in (obj.get("status") or {}).get("conditions") or []
                  if c.get("type") in ("NamespaceContentRemaining", "NamespaceFinalizersRemaining")
                  and c.get("status") == "True" and c.get("message")]
    return f"{ref} is still terminating{extra}" + (f": {'; '.join(conditions)}" if conditions else "")
