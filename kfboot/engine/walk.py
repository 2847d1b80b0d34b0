"""Walking a DAG concurrently: start each node once its prerequisites succeeded, cancel what a failure blocks.

The runner walks phases with it (forwards to install, backwards to uninstall); anything else with
`needs` between its steps (checks of a verification run, say) can be scheduled the same way.
Nothing here knows what a node is: `run` does the work and says whether it succeeded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from kfboot.errors import Interrupted

POLL_SECONDS = 0.2  # how often a walk notices `cancel` while nodes run


def walk(
    order: Sequence[str],
    todo: Iterable[str],
    *,
    run: Callable[[str], bool],
    prerequisites: Callable[[str], Iterable[str]],
    blocked_by: Callable[[str], Iterable[str]],
    on_cancelled: Callable[[str, str | None], None],
    parallel: int,
    cancel: threading.Event,
) -> None:
    """Run every node of `todo` (in `order` where several are ready) on up to `parallel` threads.

    A node starts when all its `prerequisites` (which must be nodes of `todo`) ran and succeeded. When `run`
    returns False, each not-yet-started node of `blocked_by(node)` is cancelled:
    `on_cancelled(blocked, node)`. Nodes left when the walk stops (blocked, or `cancel` set) get
    `on_cancelled(node, None)`. Ctrl-C sets `cancel`, waits for running nodes (they see `cancel`)
    and raises Interrupted.
    """
    pending = set(todo)
    succeeded: dict[str, bool] = {}
    running: dict[Future[bool], str] = {}

    def ordered(names: set[str]) -> list[str]:
        return [n for n in order if n in names]

    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="walk") as pool:
        try:
            while pending or running:
                for name in ordered(pending):
                    if len(running) >= parallel:
                        break
                    if all(succeeded.get(d) is True for d in prerequisites(name)):
                        pending.discard(name)
                        running[pool.submit(run, name)] = name
                if not running:
                    break  # the rest is blocked by failures and was cancelled
                done, _ = wait(list(running), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    succeeded[name] = future.result()  # `run` records its own errors; this re-raises bugs
                    if not succeeded[name]:
                        for blocked in ordered(set(blocked_by(name)) & pending):
                            pending.discard(blocked)
                            on_cancelled(blocked, name)
                if cancel.is_set():
                    break
            for name in ordered(pending):  # never started: say why instead of leaving them pending
                on_cancelled(name, None)
        except KeyboardInterrupt:
            cancel.set()
            for name in ordered(pending):
                on_cancelled(name, None)
            wait(list(running))  # running nodes notice `cancel` and record themselves as interrupted
            raise Interrupted("interrupted: state was recorded; run the same command again to resume") from None
