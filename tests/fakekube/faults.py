"""Fault injection: deterministic (seeded) errors, latency, dropped connections and conflicts.

A fault is decided before the request reaches the API layer, so an injected failure never
has a side effect on the store.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Fault:
    """What to inject and where.

    verbs: GET, LIST (GET on a collection), WATCH, POST, PUT, PATCH, DELETE; empty = all.
    error_rate: chance of answering ``status`` instead (429 gets ``Retry-After`` if retry_after set).
    latency: extra seconds before answering matching requests.
    drop_rate: chance of closing the connection without any response.
    conflict_rate: chance of a 409 Conflict on matching writes.
    path_contains: only requests whose path contains this substring.
    times: only the first N matching requests are considered (None = unlimited).
    """

    verbs: tuple[str, ...] = ()
    error_rate: float = 0.0
    status: int = 503
    retry_after: int | None = None
    latency: float = 0.0
    drop_rate: float = 0.0
    conflict_rate: float = 0.0
    path_contains: str | None = None
    times: int | None = None


@dataclass
class Decision:
    latency: float = 0.0
    drop: bool = False
    status: int | None = None
    retry_after: int | None = None
    conflict: bool = False


@dataclass
class FaultHandle:
    """Returned by ``FakeKube.inject``; counts matches and fires, can be removed."""

    fault: Fault
    matched: int = 0
    fired: int = 0
    _owner: FaultInjector | None = field(default=None, repr=False)

    def remove(self) -> None:
        if self._owner is not None:
            self._owner.remove(self)


class FaultInjector:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._handles: list[FaultHandle] = []

    def add(self, fault: Fault) -> FaultHandle:
        handle = FaultHandle(fault, _owner=self)
        with self._lock:
            self._handles.append(handle)
        return handle

    def remove(self, handle: FaultHandle) -> None:
        with self._lock:
            if handle in self._handles:
                self._handles.remove(handle)

    def clear(self) -> None:
        with self._lock:
            self._handles.clear()

    def decide(self, verb: str, path: str, resource_request: bool) -> Decision:
        """Roll the dice for one request (verb is the logical verb: LIST/WATCH/GET/...)."""
        out = Decision()
        with self._lock:
            for h in self._handles:
                f = h.fault
                if f.verbs and verb not in {v.upper() for v in f.verbs}:
                    continue
                if f.path_contains is not None:
                    if f.path_contains not in path:
                        continue
                elif not resource_request:
                    continue  # discovery/OpenAPI are only hit when explicitly targeted
                if f.times is not None and h.matched >= f.times:
                    continue
                h.matched += 1
                fired = False
                if f.latency:
                    out.latency += f.latency
                    fired = True
                if f.drop_rate and self._rng.random() < f.drop_rate:
                    out.drop = fired = True
                elif f.error_rate and self._rng.random() < f.error_rate and out.status is None:
                    out.status, out.retry_after, fired = f.status, f.retry_after, True
                elif (f.conflict_rate and verb in WRITE_VERBS and self._rng.random() < f.conflict_rate):
                    out.conflict = fired = True
                if fired:
                    h.fired += 1
        return out
