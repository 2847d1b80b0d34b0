"""The object store: objects by (group, plural), a global resourceVersion and an event log.

One lock guards everything; a Condition wakes watchers and the controller loop on change.
The event log is bounded; a watch from a resourceVersion older than it gets 410 Expired.
"""

from __future__ import annotations

import bisect
import copy
import threading
import time
from dataclasses import dataclass
from typing import Any

StoreKey = tuple[str, str]  # (group, plural)
ObjKey = tuple[str, str]  # (namespace or "", name)


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED / MODIFIED / DELETED
    key: StoreKey
    obj: dict[str, Any]


class Store:
    def __init__(self, max_events: int = 50000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects: dict[StoreKey, dict[ObjKey, dict[str, Any]]] = {}
        self._rv = 1000
        self._events: list[Event] = []  # ordered by rv; trimmed by half when over max_events
        self._max_events = max_events
        self._oldest_rv = self._rv
        # uid -> monotonic time of the last spec change (what "ready after a delay" counts from)
        self.spec_changed_at: dict[str, float] = {}

    # ----------------------------------------------------------------- reads
    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def get(self, key: StoreKey, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self._objects.get(key, {}).get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def peek(self, key: StoreKey, namespace: str, name: str) -> dict[str, Any] | None:
        """Like get but without copying; callers must hold ``lock`` and not mutate."""
        return self._objects.get(key, {}).get((namespace, name))

    def list(self, key: StoreKey, namespace: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            items = self._objects.get(key, {})
            out = [
                copy.deepcopy(o)
                for (ns, _), o in sorted(items.items())
                if namespace is None or ns == namespace
            ]
            return out

    def kinds(self) -> list[StoreKey]:
        with self.lock:
            return list(self._objects)

    def snapshot(self) -> dict[StoreKey, dict[ObjKey, dict[str, Any]]]:
        """A consistent, uncopied view for the controllers: stored dicts are never mutated in place,
        so readers may hold references as long as they treat them as read-only."""
        with self.lock:
            return {key: dict(objs) for key, objs in self._objects.items()}

    def namespace_is_empty(self, namespace: str) -> bool:
        with self.lock:
            return not any(ns == namespace for objs in self._objects.values() for (ns, _) in objs)

    def in_namespace(self, namespace: str) -> list[tuple[StoreKey, dict[str, Any]]]:
        with self.lock:
            return [
                (key, copy.deepcopy(o))
                for key, objs in self._objects.items()
                for (ns, _), o in objs.items()
                if ns == namespace
            ]

    # ----------------------------------------------------------------- writes
    def _bump(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _emit(self, etype: str, key: StoreKey, obj: dict[str, Any]) -> None:
        if len(self._events) >= self._max_events:
            half = len(self._events) // 2
            self._oldest_rv = self._events[half - 1].rv
            del self._events[:half]
        self._events.append(Event(self._rv, etype, key, obj))  # stored dicts are never mutated in place
        self.changed.notify_all()

    def insert(self, key: StoreKey, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object, stamping a fresh resourceVersion; returns a copy."""
        with self.lock:
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = self._bump()
            meta = obj["metadata"]
            self._objects.setdefault(key, {})[(meta.get("namespace", ""), meta["name"])] = obj
            self.spec_changed_at.setdefault(meta["uid"], time.monotonic())
            self._emit("ADDED", key, obj)
            return copy.deepcopy(obj)

    def replace(self, key: StoreKey, obj: dict[str, Any], spec_changed: bool = False) -> dict[str, Any]:
        with self.lock:
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = self._bump()
            meta = obj["metadata"]
            self._objects.setdefault(key, {})[(meta.get("namespace", ""), meta["name"])] = obj
            if spec_changed:
                self.spec_changed_at[meta["uid"]] = time.monotonic()
            self._emit("MODIFIED", key, obj)
            return copy.deepcopy(obj)

    def delete(self, key: StoreKey, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self._objects.get(key, {}).pop((namespace, name), None)
            if obj is None:
                return None
            # never mutate a stored dict in place: controller snapshots may still reference it
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": self._bump()}}
            self.spec_changed_at.pop(obj["metadata"].get("uid", ""), None)
            self._emit("DELETED", key, obj)
            return copy.deepcopy(obj)

    # ----------------------------------------------------------------- watch support
    def events_after(self, rv: int) -> list[Event] | None:
        """Events newer than ``rv``; None when ``rv`` is older than the retained log."""
        with self.lock:
            if rv < self._oldest_rv:
                return None
            return self._events[bisect.bisect_right(self._events, rv, key=lambda e: e.rv):]

    def wait_for_change(self, after_rv: int, timeout: float) -> None:
        with self.lock:
            if self._rv > after_rv:
                return
            self.changed.wait(timeout)
