"""The runner's DAG walk with small in-memory phases: order, concurrency, failures, state and resume."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from kfboot.engine import events as ev
from kfboot.engine.phase import Phase, PhaseContext, Problem
from kfboot.engine.runner import Runner
from kfboot.engine.state import MemoryStateStore, PhaseRecord
from kfboot.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TIMEOUT,
    ConfigError,
    Interrupted,
    KfbootError,
    WaitTimeout,
)
from kfboot.k8s.refs import ObjectRef

Hook = Callable[[PhaseContext], None]


class Log:
    """A thread-safe record of what every phase did, in the order it happened."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def add(self, what: str, name: str) -> None:
        with self._lock:
            self.entries.append((what, name))
            if what == "apply":
                self.active += 1
                self.max_active = max(self.max_active, self.active)
            elif what == "done":
                self.active -= 1

    def index(self, what: str, name: str) -> int:
        return self.entries.index((what, name))

    def names(self, what: str) -> list[str]:
        return [n for w, n in self.entries if w == what]


@dataclass
class FakePhase:
    name: str
    log: Log
    needs: tuple[str, ...] = ()
    enabled: bool = True
    version: str = "1.0"
    values: str = ""
    problems: list[Problem] = field(default_factory=list)
    on_apply: Hook | None = None
    on_wait: Hook | None = None
    stuck: list[str] = field(default_factory=list)
    on_uninstall: Hook | None = None

    @property
    def title(self) -> str:
        return f"Fake {self.name}"

    def digest(self) -> str:
        return f"{self.name}:{self.version}:{self.values}"

    def describe(self) -> list[str]:
        return [f"apply {self.name}"]

    def check(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> list[Problem]:
        self.log.add("check", self.name)
        return list(self.problems)

    def apply(self, ctx: PhaseContext) -> list[ObjectRef]:
        self.log.add("apply", self.name)
        try:
            if self.on_apply:
                self.on_apply(ctx)
        except BaseException:
            self.log.add("done", self.name)
            raise
        return [ObjectRef("v1", "ConfigMap", self.name, "ns")]

    def wait(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> None:
        try:
            if self.on_wait:
                self.on_wait(ctx)
        finally:
            self.log.add("done", self.name)

    def uninstall(self, ctx: PhaseContext, inventory: list[ObjectRef]) -> list[str]:
        self.log.add("uninstall", self.name)
        if self.on_uninstall:
            self.on_uninstall(ctx)
        return list(self.stuck)


def make(log: Log, spec: dict[str, tuple[str, ...]], **extra: dict[str, object]) -> dict[str, FakePhase]:
    phases = {name: FakePhase(name, log, needs=needs) for name, needs in spec.items()}
    for name, attrs in extra.items():
        for key, value in attrs.items():
            setattr(phases[name], key, value)
    return phases


def runner(phases: dict[str, FakePhase], store: MemoryStateStore | None = None, parallel: int = 4,
           events: list[ev.Event] | None = None) -> Runner:
    plist: list[Phase] = list(phases.values())
    return Runner(plist, kube=None, store=store if store is not None else MemoryStateStore(),
                  emit=(events.append if events is not None else None), parallel=parallel)


def outcomes(summary: ev.RunSummary) -> dict[str, ev.PhaseOutcome]:
    return {o.phase: o for o in summary.outcomes}


def ready_record(phase: FakePhase, status: str = "ready", **kw: str) -> PhaseRecord:
    return PhaseRecord(phase.name, status, kw.pop("version", phase.version), kw.pop("digest", phase.digest()),
                       [ObjectRef("v1", "ConfigMap", phase.name, "ns")], **kw)


def fail(exc: BaseException) -> Hook:
    def hook(_ctx: PhaseContext) -> None:
        raise exc

    return hook


def test_fake_phase_satisfies_protocol() -> None:
    assert isinstance(FakePhase("a", Log()), Phase)


# -- order and concurrency ---------------------------------------------------------------------------------
def test_phase_starts_only_after_its_needs_are_ready() -> None:
    log = Log()
    spec = {"certs": (), "mesh": ("certs",), "auth": ("mesh",), "serving": ("mesh", "certs"), "gpu": ()}
    phases = make(log, spec)
    summary = runner(phases, parallel=4).install()

    assert summary.exit_code == EXIT_OK
    assert {o.state for o in summary.outcomes} == {ev.READY}
    for name, needs in spec.items():
        for dep in needs:
            assert log.index("done", dep) < log.index("apply", name), f"{name} started before {dep} was ready"


def test_independent_phases_overlap_when_parallel() -> None:
    log = Log()
    barrier = threading.Barrier(3, timeout=5)  # only passes if all three are inside apply at once

    def meet(_ctx: PhaseContext) -> None:
        barrier.wait()

    phases = make(log, {"a": (), "b": (), "c": ()}, a={"on_apply": meet}, b={"on_apply": meet}, c={"on_apply": meet})
    summary = runner(phases, parallel=3).install()

    assert summary.exit_code == EXIT_OK, [o.message for o in summary.outcomes]
    assert log.max_active == 3


def test_parallel_one_runs_one_phase_at_a_time() -> None:
    log = Log()
    b_started = threading.Event()
    seen: dict[str, bool] = {}

    def a_waits_for_b(_ctx: PhaseContext) -> None:
        seen["b during a"] = b_started.wait(0.3)

    def b_starts(_ctx: PhaseContext) -> None:
        b_started.set()

    phases = make(log, {"a": (), "b": ()}, a={"on_apply": a_waits_for_b}, b={"on_apply": b_starts})
    summary = runner(phases, parallel=1).install()

    assert summary.exit_code == EXIT_OK
    assert seen == {"b during a": False}
    assert log.max_active == 1
    assert log.names("apply") == ["a", "b"]  # topological, then name order


def test_parallel_bound_is_respected() -> None:
    log = Log()
    gate = threading.Event()
    two_in = threading.Barrier(2, timeout=5)  # pairs meet: proves two run at once

    def hold(_ctx: PhaseContext) -> None:
        two_in.wait()
        gate.wait(0.2)  # stay inside apply long enough for an unbounded runner to start the others

    phases = make(log, {n: () for n in "abcd"}, **{n: {"on_apply": hold} for n in "abcd"})
    summary = runner(phases, parallel=2).install()

    assert summary.exit_code == EXIT_OK
    assert log.max_active == 2


# -- failures ----------------------------------------------------------------------------------------------
def test_failure_cancels_transitive_dependents_and_independent_phases_finish() -> None:
    log = Log()
    phases = make(log, {"certs": (), "mesh": ("certs",), "auth": ("mesh",), "gpu": (), "ray": ("gpu",)},
                  certs={"on_apply": fail(KfbootError("webhook never served"))})
    store = MemoryStateStore()
    summary = runner(phases, store=store).install()
    out = outcomes(summary)

    assert summary.exit_code == EXIT_FAILED
    assert out["certs"].state == ev.FAILED
    assert "webhook never served" in out["certs"].message
    for name in ("mesh", "auth"):
        assert out[name].state == ev.CANCELLED
        assert "needs certs" in out[name].message and "webhook never served" in out[name].message
    assert out["gpu"].state == ev.READY and out["ray"].state == ev.READY
    assert "mesh" not in log.names("apply") and "auth" not in log.names("apply")
    assert store.records["certs"].status == "failed"
    assert store.records["certs"].error == "webhook never served"
    assert "mesh" not in store.records  # never started: nothing recorded


def test_unexpected_exception_is_recorded_as_failure_with_its_type() -> None:
    log = Log()
    phases = make(log, {"a": ()}, a={"on_apply": fail(ValueError("bad chart"))})
    store = MemoryStateStore()
    summary = runner(phases, store=store).install()

    assert summary.exit_code == EXIT_FAILED
    assert outcomes(summary)["a"].message == "ValueError: bad chart"
    assert store.records["a"].status == "failed"


def test_wait_timeout_exits_3_and_state_is_timed_out() -> None:
    log = Log()
    phases = make(log, {"a": (), "b": ()}, a={"on_wait": fail(WaitTimeout("Deployment x/y: 0/1 available"))})
    store = MemoryStateStore()
    summary = runner(phases, store=store).install()
    out = outcomes(summary)

    assert summary.exit_code == EXIT_TIMEOUT
    assert out["a"].state == ev.TIMED_OUT
    assert "0/1 available" in out["a"].message
    assert out["b"].state == ev.READY
    assert store.records["a"].status == "failed"
    # the next run resumes it
    assert runner(phases, store=store).plan()[0].action.reason.startswith("resume: last run failed")


def test_summary_lists_every_phase_in_dag_order_and_serialises() -> None:
    log = Log()
    phases = make(log, {"z": (), "y": ("z",), "x": ("y",)}, y={"enabled": False})
    summary = runner(phases).install()

    assert [o.phase for o in summary.outcomes] == ["z", "y", "x"]
    data = summary.to_dict()
    assert data["exitCode"] == 0 and data["ok"] is True
    assert [p["state"] for p in data["phases"]] == [ev.READY, ev.SKIPPED, ev.READY]
    assert summary.target == {}


# -- idempotence, drift, upgrade, resume ---------------------------------------------------------------------
def test_noop_rerun_writes_nothing_and_reports_up_to_date() -> None:
    log = Log()
    phases = make(log, {"a": (), "b": ("a",)})
    store = MemoryStateStore()
    first = runner(phases, store=store).install()
    assert first.exit_code == EXIT_OK
    assert {r.status for r in store.records.values()} == {"ready"}
    saves_after_first = store.saves
    assert saves_after_first > 0

    second = runner(phases, store=store).install()

    assert second.exit_code == EXIT_OK
    assert store.saves == saves_after_first
    assert {o.state for o in second.outcomes} == {ev.UP_TO_DATE}
    assert "nothing to do" in second.message
    assert log.names("apply") == ["a", "b"]  # only from the first run
    assert sorted(log.names("check")) == ["a", "b"]  # the second run checked live state


def test_drift_repairs_and_reapplies() -> None:
    log = Log()
    problem = Problem("Deployment cert-manager/cert-manager-webhook", "0/1 replicas available")
    phases = make(log, {"a": (), "b": ()}, a={"problems": [problem]})
    store = MemoryStateStore({n: ready_record(p) for n, p in phases.items()})
    r = runner(phases, store=store)

    planned = {p.phase.name: p.action for p in r.plan()}
    assert planned["a"].kind.value == "repair"
    assert "drift: 1 object(s)" in planned["a"].reason
    assert planned["a"].details == (str(problem),)
    assert planned["b"].kind.value == "up-to-date"

    summary = r.install()
    assert outcomes(summary)["a"].state == ev.READY
    assert outcomes(summary)["a"].action == "repair"
    assert log.names("apply") == ["a"]


def test_changed_digest_upgrades_naming_the_version_change() -> None:
    log = Log()
    phases = make(log, {"a": ()})
    old = ready_record(phases["a"], version="0.9", digest="a:0.9:")
    store = MemoryStateStore({"a": old})
    summary = runner(phases, store=store).install()
    out = outcomes(summary)["a"]

    assert out.action == "upgrade"
    assert "0.9" in out.reason and "1.0" in out.reason
    assert out.state == ev.READY
    assert store.records["a"].version == "1.0" and store.records["a"].digest == "a:1.0:"
    assert "check" not in [w for w, _ in log.entries]  # no drift check when the digest differs


def test_changed_values_upgrade_says_configuration_changed() -> None:
    log = Log()
    phases = make(log, {"a": ()}, a={"values": "replicas=3"})
    store = MemoryStateStore({"a": ready_record(phases["a"], digest="a:1.0:")})
    planned = runner(phases, store=store).plan()
    assert (planned[0].action.kind.value, planned[0].action.reason) == ("upgrade", "configuration changed")


def test_record_left_applying_is_resumed_and_keeps_previous_inventory() -> None:
    log = Log()
    phases = make(log, {"a": ()})
    killed = ready_record(phases["a"], status="applying")
    store = MemoryStateStore({"a": killed})
    r = runner(phases, store=store)

    action = r.plan()[0].action
    assert action.kind.value == "install"
    assert action.reason.startswith("resume")
    assert "applying" in action.reason

    summary = r.install()
    assert summary.exit_code == EXIT_OK
    assert store.records["a"].status == "ready"


def test_records_walk_through_applying_waiting_ready() -> None:
    log = Log()
    statuses: list[str] = []

    class Spy(MemoryStateStore):
        def save(self, record: PhaseRecord) -> None:
            statuses.append(record.status)
            super().save(record)

    events: list[ev.Event] = []
    phases = make(log, {"a": ()})
    summary = runner(phases, store=Spy(), events=events).install()

    assert summary.exit_code == EXIT_OK
    assert statuses == ["applying", "waiting", "ready"]
    phase_states = [e.state for e in events if e.kind == "phase" and e.phase == "a"]
    assert phase_states == [ev.APPLYING, ev.WAITING, ev.READY]
    assert [e.phase for e in events if e.kind == "plan"] == ["a", "a"]  # planned before and under the lock


def test_dry_run_calls_apply_in_dry_run_mode_and_records_nothing() -> None:
    log = Log()
    seen: list[bool] = []
    phases = make(log, {"a": ()}, a={"on_apply": lambda ctx: seen.append(ctx.dry_run)})
    store = MemoryStateStore()
    summary = runner(phases, store=store).install(dry_run=True)

    assert seen == [True]
    assert store.saves == 0
    assert outcomes(summary)["a"].state == ev.DRY_RUN
    assert summary.exit_code == EXIT_OK


# -- interrupts --------------------------------------------------------------------------------------------
def test_phase_raising_interrupted_records_interrupted_and_exits_130() -> None:
    log = Log()
    phases = make(log, {"a": (), "b": ("a",)}, a={"on_wait": fail(Interrupted("interrupted while waiting"))})
    store = MemoryStateStore()
    summary = runner(phases, store=store).install()
    out = outcomes(summary)

    assert summary.exit_code == EXIT_INTERRUPTED
    assert out["a"].state == ev.INTERRUPTED
    assert store.records["a"].status == "interrupted"
    assert out["b"].state == ev.CANCELLED
    assert "b" not in log.names("apply")
    assert runner(phases, store=store).plan()[0].action.reason.startswith("resume: last run was interrupted")


def test_cancel_event_stops_the_walk_and_exits_130() -> None:
    log = Log()
    holder: list[Runner] = []

    def ctrl_c_then_notice(ctx: PhaseContext) -> None:
        holder[0].cancel.set()  # what the signal handler does
        assert ctx.cancel.is_set()  # phases see the runner's cancel event
        raise Interrupted("cancelled while waiting")

    phases = make(log, {"a": (), "b": ("a",)}, a={"on_wait": ctrl_c_then_notice})
    r = runner(phases, parallel=1)
    holder.append(r)
    summary = r.install()

    assert summary.exit_code == EXIT_INTERRUPTED
    assert log.names("apply") == ["a"]
    assert outcomes(summary)["b"].state == ev.CANCELLED


def test_cancel_event_marks_unstarted_independent_phases() -> None:
    log = Log()
    holder: list[Runner] = []
    phases = make(log, {"a": (), "b": ()}, a={"on_apply": lambda _ctx: holder[0].cancel.set()})
    r = runner(phases, parallel=1)
    holder.append(r)
    summary = r.install()

    assert log.names("apply") == ["a"]
    assert outcomes(summary)["b"].state != ev.PENDING
    assert summary.exit_code == EXIT_INTERRUPTED


def test_keyboard_interrupt_inside_a_phase_ends_in_a_summary_and_run_can_resume() -> None:
    log = Log()
    phases = make(log, {"a": (), "b": ("a",)}, a={"on_apply": fail(KeyboardInterrupt())})
    store = MemoryStateStore()
    summary = runner(phases, store=store).install()

    assert summary.exit_code == EXIT_INTERRUPTED
    assert "interrupted" in summary.message
    assert {o.phase: o.state for o in summary.outcomes}["b"] == ev.CANCELLED  # every phase has its outcome
    assert store.records["a"].status == "applying"
    assert "b" not in log.names("apply")
    phases["a"].on_apply = None
    again = runner(phases, store=store)
    assert again.plan()[0].action.reason.startswith("resume")
    assert again.install().exit_code == EXIT_OK


# -- uninstall ---------------------------------------------------------------------------------------------
def test_uninstall_runs_in_reverse_dag_order_only_for_recorded_phases() -> None:
    log = Log()
    phases = make(log, {"certs": (), "mesh": ("certs",), "auth": ("mesh",), "gpu": ()})
    store = MemoryStateStore({n: ready_record(phases[n]) for n in ("certs", "mesh", "auth")})
    summary = runner(phases, store=store, parallel=4).uninstall()
    out = outcomes(summary)

    assert summary.exit_code == EXIT_OK
    assert log.names("uninstall") == ["auth", "mesh", "certs"]
    assert out["gpu"].state == ev.SKIPPED and "not installed" in out["gpu"].reason
    assert [o.phase for o in summary.outcomes] == ["auth", "mesh", "gpu", "certs"]  # reverse DAG order
    for name in ("certs", "mesh", "auth"):
        assert out[name].state == ev.REMOVED
        assert store.records[name].status == "uninstalled"
        assert store.records[name].inventory == []


def test_uninstall_selected_phase_only() -> None:
    log = Log()
    phases = make(log, {"a": (), "b": ("a",)})
    store = MemoryStateStore({n: ready_record(p) for n, p in phases.items()})
    summary = runner(phases, store=store).uninstall(["b"])

    assert log.names("uninstall") == ["b"]
    assert [o.phase for o in summary.outcomes] == ["b"]
    assert store.records["a"].status == "ready"


def test_uninstall_nothing_recorded_is_a_noop() -> None:
    log = Log()
    phases = make(log, {"a": ()})
    store = MemoryStateStore()
    summary = runner(phases, store=store).uninstall()
    assert summary.exit_code == EXIT_OK and "nothing to remove" in summary.message
    assert store.saves == 0 and log.names("uninstall") == []


def test_uninstall_stuck_fails_and_keeps_what_it_needs() -> None:
    log = Log()
    phases = make(log, {"a": (), "b": ("a",)}, b={"stuck": ["Namespace kubeflow: finalizer"]})
    store = MemoryStateStore({n: ready_record(p) for n, p in phases.items()})
    summary = runner(phases, store=store).uninstall()
    out = outcomes(summary)

    assert summary.exit_code == EXIT_FAILED
    assert out["b"].state == ev.FAILED and "finalizer" in out["b"].message
    assert out["a"].state == ev.CANCELLED and "needs b" in out["a"].message
    assert log.names("uninstall") == ["b"]
    assert store.records["b"].status == "failed"


def test_uninstall_failure_cancels_transitive_needs() -> None:
    log = Log()
    phases = make(log, {"a": (), "b": ("a",), "c": ("b",)}, c={"on_uninstall": fail(KfbootError("stuck"))})
    store = MemoryStateStore({n: ready_record(p) for n, p in phases.items()})
    summary = runner(phases, store=store).uninstall()
    out = outcomes(summary)

    assert out["b"].state == ev.CANCELLED
    assert out["a"].state == ev.CANCELLED


def test_uninstall_unknown_phase_is_an_error_naming_known_phases() -> None:
    log = Log()
    phases = make(log, {"a": ()})
    with pytest.raises(KfbootError) as info:
        runner(phases).uninstall(["nope"])
    assert "unknown phase(s): nope" in info.value.message
    assert "known: a" in info.value.message


# -- disabled and graph errors ---------------------------------------------------------------------------------
def test_disabled_phase_is_skipped_and_does_not_block_dependents() -> None:
    log = Log()
    phases = make(log, {"a": (), "b": ("a",)}, a={"enabled": False})
    store = MemoryStateStore()
    summary = runner(phases, store=store).install()
    out = outcomes(summary)

    assert summary.exit_code == EXIT_OK
    assert out["a"].state == ev.SKIPPED and out["a"].reason == "disabled in config"
    assert out["b"].state == ev.READY
    assert log.names("apply") == ["b"]
    assert "a" not in store.records


def test_disabled_but_installed_phase_says_how_to_remove_it() -> None:
    log = Log()
    phases = make(log, {"a": ()}, a={"enabled": False})
    store = MemoryStateStore({"a": ready_record(phases["a"])})
    action = runner(phases, store=store).plan()[0].action
    assert action.kind.value == "skip"
    assert "kfboot uninstall" in action.reason


def test_cycle_is_a_config_error() -> None:
    log = Log()
    with pytest.raises(ConfigError) as info:
        runner(make(log, {"a": ("b",), "b": ("a",), "c": ()}))
    assert "cycle" in info.value.message
    assert "a" in info.value.message and "b" in info.value.message


def test_unknown_need_is_a_config_error() -> None:
    log = Log()
    with pytest.raises(ConfigError) as info:
        runner(make(log, {"a": ("missing",)}))
    assert info.value.problems == ["phase a needs unknown phase missing"]
    assert info.value.exit_code == 2


def test_timeout_of_a_needed_phase_keeps_exit_code_3() -> None:
    log = Log()
    phases = make(log, {"a": (), "b": ("a",)}, a={"on_wait": fail(WaitTimeout("Deployment x/y: 0/1 available"))})
    summary = runner(phases).install()

    assert outcomes(summary)["b"].state == ev.CANCELLED
    assert summary.exit_code == EXIT_TIMEOUT


def test_uninstall_of_an_unknown_phase_is_a_usage_error() -> None:
    from kfboot.errors import EXIT_USAGE

    log = Log()
    with pytest.raises(KfbootError) as info:
        runner(make(log, {"a": ()})).uninstall(["nope"])
    assert info.value.exit_code == EXIT_USAGE


def test_uninstall_waits_for_transitive_dependents_even_if_middle_is_not_recorded() -> None:
    log = Log()
    a_started_early: list[bool] = []

    def slow_c(_ctx: PhaseContext) -> None:
        time.sleep(0.3)  # room for a wrongly concurrent `a` to start
        a_started_early.append("a" in log.names("uninstall"))

    phases = make(log, {"a": (), "b": ("a",), "c": ("b",)}, c={"on_uninstall": slow_c})
    store = MemoryStateStore({n: ready_record(phases[n]) for n in ("a", "c")})
    summary = runner(phases, store=store, parallel=4).uninstall()

    assert summary.exit_code == EXIT_OK
    assert a_started_early == [False]
    assert log.names("uninstall") == ["c", "a"]


# -- one failure table, locks through protocols ------------------------------------------------------------
def _raise(exc: BaseException) -> Hook:
    def hook(_ctx: PhaseContext) -> None:
        raise exc

    return hook


def test_uninstall_that_times_out_exits_3_like_install() -> None:
    log = Log()
    phases = make(log, {"a": ()}, a={"on_uninstall": _raise(WaitTimeout("Deployment ns/a still terminating"))})
    store = MemoryStateStore({"a": ready_record(phases["a"])})
    summary = runner(phases, store=store).uninstall()

    assert summary.exit_code == EXIT_TIMEOUT
    assert outcomes(summary)["a"].state == ev.TIMED_OUT
    assert store.records["a"].status == "failed" and "still terminating" in store.records["a"].error


class FakeLock:
    """A lock that records what happened and can simulate a takeover warning or another run's work."""

    def __init__(self, log: list[str], on_acquire: Callable[[], None] = lambda: None) -> None:
        self.log = log
        self.on_acquire = on_acquire
        self.warn: Callable[[str], None] = lambda _m: None
        self.on_lost: Callable[[str], None] = lambda _m: None

    def acquire(self) -> None:
        self.log.append("acquire")
        self.warn("taking over a stale lock from bob")
        self.on_acquire()

    def release(self) -> None:
        self.log.append("release")


def test_uninstall_replans_under_the_lock() -> None:
    """Another run removed `b` while we waited for the lock: we must not remove it again."""
    log = Log()
    phases = make(log, {"a": (), "b": ()})
    store = MemoryStateStore({n: ready_record(p) for n, p in phases.items()})
    lock_log: list[str] = []

    def other_run_removed_b() -> None:
        store.records["b"].status = "uninstalled"

    events: list[ev.Event] = []
    r = Runner(list(phases.values()), store=store, emit=events.append,
               lock_factory=lambda: FakeLock(lock_log, other_run_removed_b))
    summary = r.uninstall()

    assert lock_log == ["acquire", "release"]
    assert log.names("uninstall") == ["a"]
    assert outcomes(summary)["b"].state == ev.SKIPPED
    warnings = [e.message for e in events if e.kind == "warning"]
    assert warnings == ["taking over a stale lock from bob"]  # lock warnings are events, not side output
    assert [e.phase for e in events if e.kind == "plan"] == ["b", "a"]  # announced once, as re-planned


def test_phases_get_the_runners_request_parallelism() -> None:
    log = Log()
    seen: list[int] = []
    phases = make(log, {"a": ()}, a={"on_apply": lambda ctx: seen.append(ctx.parallel)})
    Runner(list(phases.values()), object_parallel=5).install()
    assert seen == [5]
