"""Reads shared by the phases of one plan: the same LIST is sent once, not once per phase.

Every phase checks its inventory with one LIST per (kind, namespace); cluster-scoped kinds
(CustomResourceDefinitions above all, megabytes of schema) are the same request for each phase. A
`Reads` belongs to one `Runner.plan` call, so a re-plan (under the lock, after another run) reads the
cluster afresh. Concurrent askers of the same key wait for the one read in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any


class Reads:
    """A memo of read results keyed by what was read; a failed read is not kept (the next asker retries)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[Hashable, Future[Any]] = {}

    def get(self, key: Hashable, read: Callable[[], Any]) -> Any:
        with self._lock:
            future = self._results.get(key)
            mine = future is None
            if future is None:
                future = self._results[key] = Future()
        if not mine:
            return future.result()
        try:
            value = read()
        except BaseException as exc:
            with self._lock:
                del self._results[key]
            future.set_exception(exc)
            raise
        future.set_result(value)
        return value
