"""Run checks over the engine's dependency graph, independent ones in parallel (bounded).

The adapter between verify and the engine's DAG: today `kfboot.engine.dag` gives the graph
(validation, order, dependents); the walk itself is small and lives here until the engine
exposes its own, then this module becomes a call to it. A node whose need did not pass is not
started and is reported as cancelled, naming the need.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from kfboot.engine.dag import topological, validate_graph


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
    order = topological(needs)
    passed: set[str] = set()
    dead: dict[str, str] = {}
    pending = list(order)
    running: dict[Future[bool], str] = {}
    stop = stop or threading.Event()
    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="verify") as pool:
        while pending or running:
            for name in list(pending):
                blocker = next((d for d in needs[name] if d in dead), None)
                if blocker is not None:
                    pending.remove(name)
                    dead[name] = blocker
                    cancelled(name, blocker)
                elif stop.is_set():
                    pending.remove(name)
                    dead[name] = "interrupted"
                    cancelled(name, "interrupted")
                elif all(d in passed for d in needs[name]) and len(running) < max(1, parallel):
                    pending.remove(name)
                    running[pool.submit(run, name)] = name
            if not running:
                continue  # what is left is cancelled on the next pass
            done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                name = running.pop(fut)
                if fut.result():
                    passed.add(name)
                else:
                    dead[name] = name
