"""The engine's record store kept in the cluster, so any machine can resume or inspect a run.

ConfigMap `kfboot-state` in `kfboot-system`, one data key per phase holding JSON. Each phase writes
only its own key with a JSON merge patch, so concurrent phases never overwrite each other.
"""

from __future__ import annotations

import threading

from kfboot import __version__
from kfboot.engine.state import PhaseRecord
from kfboot.k8s.client import Kube
from kfboot.k8s.refs import ObjectRef

STATE_NAMESPACE = "kfboot-system"
STATE_NAME = "kfboot-state"


class ConfigMapStateStore:
    """State in the cluster. Reading never writes; the namespace and ConfigMap appear on first save."""

    def __init__(self, kube: Kube, namespace: str = STATE_NAMESPACE, name: str = STATE_NAME) -> None:
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
                records[key] = PhaseRecord.from_json(value, ObjectRef.from_dict)
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
