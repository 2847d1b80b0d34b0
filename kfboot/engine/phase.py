"""The phase interface: a phase is data (name, needs, version, digest) plus a few operations.

Modelled on k0sctl's phase manager: the interface is small, the runner owns all control flow,
and a phase never talks to the terminal (it reports through `PhaseContext.progress`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kfboot.engine.reads import Reads
from kfboot.engine.services import Services
from kfboot.engine.state import PhaseRecord

# What phases own and the engine only records: Kubernetes object references (kfboot.k8s.refs.ObjectRef).
# The engine knows no Kubernetes type, so to it they are opaque, hashable and sortable values.
Ref = Any


@dataclass
class PhaseContext:
    """Everything a phase may use while it runs; built by the runner for each phase."""

    kube: Any  # the cluster client (kfboot.k8s.client.Kube) or None offline; only phases call it
    dry_run: bool = False
    timeout: float = 600.0
    parallel: int = 16  # requests a phase may have in flight at once (the runner's `object_parallel`)
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: Callable[[str], None] = lambda _msg: None
    record: PhaseRecord | None = None
    services: Services = field(default_factory=Services)  # clients the run's phases share (helm, …)
    purge_crds: bool = False  # uninstall: also delete CRDs (and with them every custom resource)
    force: bool = False  # uninstall: strip finalizers of objects still stuck at the deadline
    reads: Reads = field(default_factory=Reads)  # reads shared with the other phases of the same plan
    started: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float:
        return self.started + self.timeout

    def require_kube(self) -> Any:
        if self.kube is None:
            raise RuntimeError("this operation needs a cluster connection")
        return self.kube


@dataclass(frozen=True)
class Problem:
    """Why a phase that was installed is not converged any more (drift)."""

    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.detail}"


@runtime_checkable
class Phase(Protocol):
    """What the engine needs from a component. Implementations live in kfboot.phases."""

    name: str
    title: str
    needs: tuple[str, ...]
    enabled: bool
    version: str

    def digest(self) -> str:
        """Hash of everything that decides what apply would do (version, values, sources)."""

    def describe(self) -> list[str]:
        """What install would do, in words, without touching anything (for offline plans)."""

    def check(self, ctx: PhaseContext, inventory: list[Ref]) -> list[Problem]:
        """Read-only: what is missing or unready among what this phase installed."""

    def apply(self, ctx: PhaseContext) -> list[Ref]:
        """Make the cluster match; return the inventory of objects this phase owns."""

    def wait(self, ctx: PhaseContext, inventory: list[Ref]) -> None:
        """Block (bounded by ctx.deadline) until what apply created is ready."""

    def uninstall(self, ctx: PhaseContext, inventory: list[Ref]) -> list[str]:
        """Remove what this phase installed; return what is stuck (empty when clean)."""
