"""A cluster-wide lock (coordination.k8s.io Lease) so two kfboot runs never interleave writes.

The holder renews the lease while it works; a lease not renewed within its TTL is considered
abandoned (a killed run) and is taken over with a warning. Every takeover uses the lease's
resourceVersion, so two runs racing for an expired lease cannot both win.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from kfboot.errors import ClusterError, LockHeld
from kfboot.k8s.refs import ObjectRef

LOCK_NAME = "kfboot-lock"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _fmt(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(ts, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def _holder_is_dead(holder: str) -> bool:
    """A holder on this very machine whose process is gone (killed run) need not wait out the TTL."""
    try:
        _, _, rest = holder.partition("@")
        host, pid_part = rest.split("/")[0], rest.split("/")[1]
        pid = int(pid_part.removeprefix("pid-"))
    except (IndexError, ValueError):
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def default_identity() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}/pid-{os.getpid()}/{uuid.uuid4().hex[:8]}"


class LeaseLock:
    def __init__(
        self,
        kube: Any,
        namespace: str,
        *,
        name: str = LOCK_NAME,
        ttl: int = 60,
        renew_every: float = 15.0,
        identity: str | None = None,
        warn: Callable[[str], None] | None = None,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        self.kube = kube
        self.ref = ObjectRef("coordination.k8s.io/v1", "Lease", name, namespace)
        self.ttl = ttl
        self.renew_every = renew_every
        self.identity = identity or default_identity()
        self.warn = warn or (lambda _m: None)
        self.on_lost = on_lost or (lambda _m: None)  # the runner stops writing when this fires
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: str | None = None

    def _body(self, resource_version: str | None, acquire_time: str | None = None) -> dict[str, Any]:
        now = _fmt(_now())
        meta: dict[str, Any] = {"name": self.ref.name, "namespace": self.ref.namespace,
                                "labels": {"app.kubernetes.io/managed-by": "kfboot"}}
        if resource_version:
            meta["resourceVersion"] = resource_version
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.ttl,
                     "acquireTime": acquire_time or now, "renewTime": now},
        }

    def check(self) -> None:
        """Read-only: fail (LockHeld) when another live run holds the lock."""
        current = self.kube.get_ref(self.ref)
        if current is not None and self._live_holder(current):
            self._held_by_other(current)

    def _live_holder(self, current: dict[str, Any]) -> bool:
        spec = current.get("spec") or {}
        holder = spec.get("holderIdentity")
        renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
        duration = spec.get("leaseDurationSeconds") or self.ttl
        expired = (holder is None or renewed is None or (_now() - renewed).total_seconds() > duration
                   or _holder_is_dead(holder))
        return bool(holder) and holder != self.identity and not expired

    def acquire(self) -> None:
        """Take the lock or fail fast naming who holds it."""
        current = self.kube.get_ref(self.ref)
        if current is None:
            try:
                self.kube.create(self._body(None))
            except ClusterError as exc:
                if exc.status == 409:
                    return self._held_by_other(self.kube.get_ref(self.ref) or {})
                raise
        else:
            spec = current.get("spec") or {}
            holder = spec.get("holderIdentity")
            renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
            duration = spec.get("leaseDurationSeconds") or self.ttl
            expired = (
                holder is None
                or renewed is None
                or (_now() - renewed).total_seconds() > duration
                or _holder_is_dead(holder)
            )
            if holder and holder != self.identity and not expired:
                return self._held_by_other(current)
            if holder and holder != self.identity:
                self.warn(f"taking over a stale lock from {holder} (last renewed {spec.get('renewTime')}, ttl {duration}s)")
            try:
                self.kube.replace(self._body(current["metadata"].get("resourceVersion")))
            except ClusterError as exc:
                if exc.status == 409:
                    return self._held_by_other(self.kube.get_ref(self.ref) or {})
                raise
        self._start_renewing()
        return None

    def _held_by_other(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        raise LockHeld(
            f"another kfboot run holds the lock: {spec.get('holderIdentity', 'unknown')} "
            f"(since {spec.get('acquireTime', '?')}, renewed {spec.get('renewTime', '?')})",
            hint=f"wait for it to finish; a lock not renewed for {spec.get('leaseDurationSeconds', self.ttl)}s "
            "is taken over automatically",
        )

    def _start_renewing(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="kfboot-lease", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_every):
            try:
                self.renew()
            except ClusterError as exc:  # keep trying until TTL; the run itself reports cluster trouble
                self.warn(f"could not renew the lock: {exc.message}")

    def renew(self) -> None:
        current = self.kube.get_ref(self.ref)
        if current is None or (current.get("spec") or {}).get("holderIdentity") != self.identity:
            self.lost = "the lock was taken over by another run"
            self.warn(self.lost)
            self._stop.set()
            self.on_lost(self.lost)
            return
        spec = current["spec"]
        self.kube.replace(self._body(current["metadata"].get("resourceVersion"), spec.get("acquireTime")))

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        current = self.kube.get_ref(self.ref)
        if current is not None and (current.get("spec") or {}).get("holderIdentity") == self.identity:
            self.kube.delete(self.ref)

    def __enter__(self) -> LeaseLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
