"""Clients the phases of one run share (a Helm client, the dry-run world), each built once.

A `Service[T]` is a typed key: `ctx.services.get(HELM)` is a `Helm`, never a string lookup that
returns Any. Phases run in threads, so building is guarded: two phases asking at once get the
same client, built once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Service(Generic[T]):
    """A typed key for one shared client; `default` builds it when the run provided no factory."""

    def __init__(self, name: str, default: Callable[[], T] | None = None) -> None:
        self.name = name
        self.default = default

    def __repr__(self) -> str:
        return f"Service({self.name!r})"


class Services:
    """Factories given by whoever starts the run (the session), instances built on first use."""

    def __init__(self, factories: Mapping[Service[Any], Callable[[], Any]] | None = None) -> None:
        self._factories: dict[Service[Any], Callable[[], Any]] = dict(factories or {})
        self._built: dict[Service[Any], Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Service[T]) -> T:
        with self._lock:
            if key not in self._built:
                factory = self._factories.get(key) or key.default
                if factory is None:
                    raise RuntimeError(f"no {key.name} service was configured for this run")
                self._built[key] = factory()
            value: T = self._built[key]
            return value
