"""The install record, kept in the cluster so any machine can resume or inspect a run.

ConfigMap `kfboot-state` in `kfboot-system`, one data key per phase holding JSON. Each phase writes
only its own key with a JSON merge patch, so concurrent phases never overwrite each other.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from kfboot import __version__
from kfboot.k8s.refs import ObjectRef

STATE_NAMESPACE = "kfboot-system"
STATE_NAME = "kfboot-state"


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class PhaseRecord:
    phase: str
    status: str
    version: str = ""
    digest: str = ""
    inventory: list[ObjectRef] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    error: str = ""
    kfboot_version: str = __version__

    def to_json(self) -> str:
        data = asdict(self)
        data["inventory"] = [ref.to_dict() for ref in self.inventory]
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PhaseRecord:
        data = json.loads(text)
        data["inventory"] = [ObjectRef.from_dict(r) for r in data.get("inventory", [])]
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class StateStore(Protocol):
    def load(self) -> dict[str, PhaseRecord]: ...
    def save(self, record: PhaseRecord) -> None: ...


class MemoryStateStore:
    """For offline plans and tests of the pure engine."""

    def __init__(self, records: dict[str, PhaseRecord] | None = None) -> None:
        self.records = dict(records or {})
        self.saves = 0
        self._lock = threading.Lock()

    def load(self) -> dict[str, PhaseRecord]:
        with self._lock:
            return {k: PhaseRecord.from_json(v.to_json()) for k, v in self.records.items()}

    def save(self, record: PhaseRecord) -> None:
        with self._lock:
            self.saves += 1
            self.records[record.phase] = PhaseRecord.from_json(record.to_json())


class ConfigMapStateStore:
    """State in the cluster. Reading never writes; the namespace and ConfigMap appear on first save."""

    def __init__(self, kube: Any, namespace: str = STATE_NAMESPACE, name: str = STATE_NAME) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self._ensured = False
        self._lock = threading.Lock()

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("v1", "ConfigMap", self.name, self.namespace)

    def load(self) -> dict[str, PhaseRecord]:
        cm = self.kube.get_ref(self.ref)
        records: dict[str, PhaseRecord] = {}
        for key, value in ((cm or {}).get("data") or {}).items():
            try:
                records[key] = PhaseRecord.from_json(value)
            except (ValueError, TypeError, KeyError):
                continue  # a hand-edited or foreign key: ignore rather than refuse to run
        return records

    def ensure(self) -> None:
        """Create namespace and ConfigMap if missing (idempotent server-side apply)."""
        with self._lock:
            if self._ensured:
                return
            if self.kube.get_ref(self.ref) is None:
                labels = {"app.kubernetes.io/managed-by": "kfboot"}
                self.kube.apply({"apiVersion": "v1", "kind": "Namespace",
                                 "metadata": {"name": self.namespace, "labels": labels}})
                self.kube.apply({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": self.name, "namespace": self.namespace, "labels": labels}},
                                field_manager="kfboot-state")
            self._ensured = True

    def save(self, record: PhaseRecord) -> None:
        self.ensure()
        record.kfboot_version = __version__
        self.kube.merge_patch(self.ref, {"data": {record.phase: record.to_json()}})
