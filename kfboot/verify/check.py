"""What a verify check is (data plus one function) and what it may use while it runs.

A check proves one thing about one component by doing it: it creates its test objects through
`Probe.create` (so they are cleaned up unless --keep), waits within its own deadline, and either
returns what it saw or raises `CheckFailed` with what was observed and the next step to take.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kfboot.errors import KfbootError

if TYPE_CHECKING:
    from kfboot.k8s.client import Kube
    from kfboot.k8s.refs import ObjectRef
    from kfboot.k8s.waits import Waiter
    from kfboot.verify.settings import VerifySettings

PASSED = "passed"
FAILED = "failed"
TIMED_OUT = "timed-out"
SKIPPED = "skipped"
CANCELLED = "cancelled"
RUNNING = "running"
PENDING = "pending"


class CheckFailed(KfbootError):
    """The component did not do what the check asked; `evidence` holds what was collected."""

    def __init__(self, observed: str, *, next_step: str = "", evidence: list[str] | None = None) -> None:
        super().__init__(observed, hint=next_step or None)
        self.evidence = list(evidence or [])


class CheckSkipped(KfbootError):
    """The check does not apply here (no GPUs, --no-gpu, a login kfboot cannot know)."""


@dataclass(frozen=True)
class Check:
    """One named proof. `needs` are other checks whose objects this one uses (e.g. the profile)."""

    name: str  # unique: "<component>/<what>"
    component: str  # the kfboot phase it tests
    title: str
    run: Callable[[Probe], str]  # returns what it saw when it passed
    needs: tuple[str, ...] = ()
    timeout: float = 300.0  # seconds, its own deadline


@dataclass
class Outcome:
    check: str
    component: str
    title: str
    state: str = PENDING
    reason: str = ""
    duration: float = 0.0
    next_step: str = ""
    evidence: list[str] = field(default_factory=list)

    @property
    def good(self) -> bool:
        return self.state in (PASSED, SKIPPED)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.check, "component": self.component, "title": self.title,
                               "result": self.state, "reason": self.reason, "duration": round(self.duration, 3)}
        if self.next_step:
            out["nextStep"] = self.next_step
        if self.evidence:
            out["evidence"] = self.evidence
        return out


class Cleanup:
    """Objects the checks created, deleted in reverse order at the end (unless --keep)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.refs: list[ObjectRef] = []

    def add(self, ref: ObjectRef) -> None:
        with self._lock:
            if ref not in self.refs:
                self.refs.append(ref)

    def drain(self) -> list[ObjectRef]:
        with self._lock:
            refs, self.refs = list(reversed(self.refs)), []
        return refs


class Shared:
    """Values several checks use, built once (the gateway port-forward, the profile namespace)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {}
        self._building: dict[str, threading.Lock] = {}
        self.closers: list[Callable[[], None]] = []

    def get(self, key: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._values:
                return self._values[key]
            lock = self._building.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = build()
            with self._lock:
                self._values[key] = value
            return value

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._values[key] = value

    def peek(self, key: str) -> Any:
        with self._lock:
            return self._values.get(key)

    def close(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):  # closing a port-forward must not hide the results
                close()
        self.closers.clear()


@dataclass
class Probe:
    """Everything one running check may use."""

    kube: Kube
    settings: VerifySettings
    shared: Shared
    cleanup: Cleanup
    deadline: float
    cancel: threading.Event
    progress: Callable[[str], None] = lambda _m: None
    services: dict[str, Any] = field(default_factory=dict)  # port-forward factory, http factory

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def waiter(self) -> Waiter:
        from kfboot.k8s.waits import Waiter

        return Waiter(self.kube, cancel=self.cancel, progress=self.progress, max_interval=2.0)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create a fresh test object (one left by an earlier run, e.g. with --keep, is deleted first:
        a finished job must not pass for this run) and remember it for cleanup."""
        from kfboot.k8s import readiness as rd
        from kfboot.k8s.refs import ObjectRef

        ref = ObjectRef.of(obj)
        self.cleanup.add(ref)
        if ref.kind != "Namespace":
            old = self.kube.get_ref(ref)
            if old is not None:
                if not (old.get("metadata") or {}).get("deletionTimestamp"):
                    self.kube.delete(ref)
                self.waiter().until(f"{ref} of an earlier run to be deleted",
                                    lambda: rd.Readiness(self.kube.get_ref(ref) is None, "still terminating"),
                                    self.deadline)
        return self.kube.apply(obj)
