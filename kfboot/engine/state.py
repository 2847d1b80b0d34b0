"""The install record: one `PhaseRecord` per phase, and the store protocol that keeps them.

The engine only reads and writes records through `StateStore`; where they live is the caller's
choice (`kfboot.phases.state_store.ConfigMapStateStore` keeps them in the cluster so any machine
can resume or inspect a run; `MemoryStateStore` serves offline plans and tests). An inventory
entry is whatever the phases put there (Kubernetes object references): the engine stores it
through its `to_dict()` and the store decodes it.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from kfboot import __version__


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class PhaseRecord:
    phase: str
    status: str
    version: str = ""
    digest: str = ""
    inventory: list[Any] = field(default_factory=list)  # kfboot.k8s.refs.ObjectRef, stored via to_dict()
    started_at: str = ""
    finished_at: str = ""
    error: str = ""
    kfboot_version: str = __version__

    def to_json(self) -> str:
        data = asdict(self)
        data["inventory"] = [ref.to_dict() for ref in self.inventory]
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, decode_ref: Callable[[dict[str, Any]], Any]) -> PhaseRecord:
        data = json.loads(text)
        data["inventory"] = [decode_ref(r) for r in data.get("inventory", [])]
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class StateStore(Protocol):
    def load(self) -> dict[str, PhaseRecord]:
        """Every recorded phase (read-only: never writes)."""

    def ensure(self) -> None:
        """Make sure saving can work (create what holds the records); called before taking the lock."""

    def save(self, record: PhaseRecord) -> None:
        """Write one phase's record without touching the others (phases save concurrently)."""


class MemoryStateStore:
    """For offline plans and tests of the pure engine."""

    def __init__(self, records: dict[str, PhaseRecord] | None = None) -> None:
        self.records = dict(records or {})
        self.saves = 0
        self._lock = threading.Lock()

    def load(self) -> dict[str, PhaseRecord]:
        with self._lock:
            return copy.deepcopy(self.records)

    def ensure(self) -> None:
        return None

    def save(self, record: PhaseRecord) -> None:
        with self._lock:
            self.saves += 1
            self.records[record.phase] = copy.deepcopy(record)
