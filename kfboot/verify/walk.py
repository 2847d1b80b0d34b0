"""Run checks over the engine's dependency graph, independent ones in parallel (bounded).

The adapter between verify and the engine's DAG: today `kfboot.engine.dag` gives the graph
(validation, order); the walk itself is small and lives here until the engine exposes its own,
then this module becomes a call to it. A node whose need did not pass is not started and is
reported as cancelled, naming the need. Ctrl-C sets `stop`, which running checks watch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from kfboot.engine.dag import topological, validate_graph

INTERRUPTED = "interrupted"


class _Walk:
    def __init__(self, needs: Mapping[str, Sequence[str]], run: Callable[[str], bool], parallel: int,
                 cancelled: Callable[[str, str], None], stop: threading.Event) -> None:
        self.needs, self.run, self.cancelled, self.stop = needs, run, cancelled, stop
        self.parallel = max(1, parallel)
        self.pending = topological(needs)
        self.passed: set[str] = set()
        self.dead: set[str] = set()
        self.running: dict[Future[bool], str] = {}

    def start_ready(self, pool: ThreadPoolExecutor) -> None:
        for name in list(self.pending):
            blocker = next((d for d in self.needs[name] if d in self.dead), None)
            if blocker is None and self.stop.is_set():
                blocker = INTERRUPTED
            if blocker is not None:
                self.pending.remove(name)
                self.dead.add(name)
                self.cancelled(name, blocker)
            elif all(d in self.passed for d in self.needs[name]) and len(self.running) < self.parallel:
                self.pending.remove(name)
                self.running[pool.submit(self.run, name)] = name

    def collect(self) -> None:
        done, _ = wait(list(self.running), timeout=0.2, return_when=FIRST_COMPLETED)
        for fut in done:
            name = self.running.pop(fut)
            (self.passed if fut.result() else self.dead).add(name)

    def __call__(self) -> None:
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="verify") as pool:
            try:
                while self.pending or self.running:
                    self.start_ready(pool)
                    if self.running:
                        self.collect()
            except KeyboardInterrupt:
                self.stop.set()  # running checks see it and end; the pool's exit waits only for that
                raise


def walk(
    needs: Mapping[str, Sequence[str]],
    run: Callable[[str], bool],
    *,
    parallel: int,
    cancelled: Callable[[str, str], None],
    stop: threading.Event | None = None,
) -> None:
    """Call `run(name)` for every node once its needs passed (run returned True), at most `parallel`
    at a time; `cancelled(name, need)` for every node a failed (or cancelled) need keeps from running."""
    validate_graph(needs)
    _Walk(needs, run, parallel, cancelled, stop or threading.Event())()
