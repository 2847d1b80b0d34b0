"""The DAG walk on its own (engine/walk.py): what `verify` can schedule its checks with."""

from __future__ import annotations

import threading
import time

import pytest

from kfboot.engine.walk import walk
from kfboot.errors import Interrupted

NEEDS = {"net": (), "dns": ("net",), "gpu": (), "nccl": ("gpu", "net"), "report": ("dns", "nccl")}
ORDER = ["gpu", "net", "dns", "nccl", "report"]


def run_walk(fail: set[str], parallel: int = 4, cancel: threading.Event | None = None,
             slow: float = 0.0) -> tuple[list[str], dict[str, str | None]]:
    ran: list[str] = []
    cancelled: dict[str, str | None] = {}
    lock = threading.Lock()

    def run(name: str) -> bool:
        time.sleep(slow)
        with lock:
            ran.append(name)
        return name not in fail

    def blocked_by(name: str) -> set[str]:
        out, frontier = set(), {name}
        while frontier:
            frontier = {n for n, deps in NEEDS.items() if set(deps) & frontier} - out
            out |= frontier
        return out

    walk(ORDER, set(NEEDS), run=run, prerequisites=lambda n: NEEDS[n], blocked_by=blocked_by,
         on_cancelled=lambda n, why: cancelled.__setitem__(n, why), parallel=parallel,
         cancel=cancel or threading.Event())
    return ran, cancelled


def test_every_node_runs_after_what_it_needs() -> None:
    ran, cancelled = run_walk(set())
    assert sorted(ran) == sorted(NEEDS) and cancelled == {}
    for name, deps in NEEDS.items():
        assert all(ran.index(d) < ran.index(name) for d in deps)


def test_a_failure_cancels_only_what_needs_it_and_names_the_cause() -> None:
    ran, cancelled = run_walk({"gpu"})
    assert sorted(ran) == ["dns", "gpu", "net"]
    assert cancelled == {"nccl": "gpu", "report": "gpu"}


def test_parallel_one_runs_in_the_given_order() -> None:
    ran, _ = run_walk(set(), parallel=1)
    assert ran == ["gpu", "net", "dns", "nccl", "report"]


def test_cancel_stops_the_walk_and_reports_what_never_started() -> None:
    cancel = threading.Event()
    cancel.set()
    ran, cancelled = run_walk(set(), parallel=2, cancel=cancel, slow=0.05)
    assert sorted(ran) == ["gpu", "net"]  # already started when the walk saw `cancel`
    assert cancelled == {"dns": None, "nccl": None, "report": None}


def test_ctrl_c_waits_for_running_nodes_and_raises_interrupted() -> None:
    finished: list[str] = []

    def run(name: str) -> bool:
        time.sleep(0.05)
        finished.append(name)
        return True

    def interrupting_prereqs(name: str) -> tuple[str, ...]:
        if name == "c":  # Ctrl-C arrives in the walk's own thread while `a` runs
            raise KeyboardInterrupt
        return ()

    cancel = threading.Event()
    with pytest.raises(Interrupted):
        walk(["a", "c"], {"a", "c"}, run=run, prerequisites=interrupting_prereqs, blocked_by=lambda _n: set(),
             on_cancelled=lambda _n, _w: None, parallel=2, cancel=cancel)
    assert cancel.is_set() and finished == ["a"]
