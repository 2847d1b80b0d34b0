"""The runner: the only place with control flow. Plans, locks, walks the DAG, records state.

Phases whose needs are satisfied run concurrently (bounded by `parallel`); a failure stops only the
phases that need the failed one, and says so. Nothing is written when nothing needs to change.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from kfboot.engine import events as ev
from kfboot.engine.dag import dependencies, dependents, topological, validate_graph
from kfboot.engine.phase import Phase, PhaseContext, Problem
from kfboot.engine.plan import Action, ActionKind, decide_install, decide_uninstall
from kfboot.engine.reads import Reads
from kfboot.engine.services import Services
from kfboot.engine.state import MemoryStateStore, PhaseRecord, StateStore, now_iso
from kfboot.engine.walk import walk
from kfboot.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TIMEOUT,
    EnvironmentProblem,
    Interrupted,
    KfbootError,
    UsageError,
    WaitTimeout,
)

# What an exception in a phase means, for install and uninstall alike: (user-facing state, recorded status).
FAILURES: tuple[tuple[type[BaseException], str, str], ...] = (
    (Interrupted, ev.INTERRUPTED, "interrupted"),
    (WaitTimeout, ev.TIMED_OUT, "failed"),
    (KfbootError, ev.FAILED, "failed"),
    (Exception, ev.FAILED, "failed"),  # a bug or an unexpected library error: record it, don't lose state
)


def failure_of(exc: BaseException) -> tuple[str, str, str]:
    """(state, recorded status, message) of a phase that raised `exc`."""
    state, status = next((s, st) for kind, s, st in FAILURES if isinstance(exc, kind))
    message = exc.message if isinstance(exc, KfbootError) else f"{type(exc).__name__}: {exc}"
    return state, status, message


class Lock(Protocol):
    """The cluster lock a run holds while it writes (kfboot.k8s.lease.LeaseLock)."""

    warn: Callable[[str], None]  # the runner routes these into the event stream
    on_lost: Callable[[str], None]  # the runner stops writing when this fires

    def acquire(self) -> None: ...
    def release(self) -> None: ...


class Cluster(Protocol):
    """What the runner itself reads of the cluster client (for the summary); phases use the rest."""

    requests: int
    writes: int

    @property
    def target(self) -> Any: ...


@dataclass
class PlannedPhase:
    phase: Phase
    action: Action
    record: PhaseRecord | None


class Runner:
    def __init__(
        self,
        phases: list[Phase],
        *,
        kube: Cluster | None = None,
        store: StateStore | None = None,
        emit: ev.Emit | None = None,
        parallel: int = 4,
        object_parallel: int = 16,
        timeout: float = 600.0,
        lock_factory: Callable[[], Lock] | None = None,
        services: Services | None = None,
        purge_crds: bool = False,
        force: bool = False,
        skip_reasons: Mapping[str, str] | None = None,
    ) -> None:
        self.phases = {p.name: p for p in phases}
        self.needs = {p.name: tuple(p.needs) for p in phases}
        validate_graph(self.needs)
        self.order = topological(self.needs)
        self.kube = kube
        self.store: StateStore = store if store is not None else MemoryStateStore()
        self._emit = emit or (lambda _e: None)
        self._emit_lock = threading.Lock()
        self.parallel = max(1, parallel)  # phases at once
        self.object_parallel = max(1, object_parallel)  # requests one phase may have in flight
        self.timeout = timeout
        self.lock_factory = lock_factory
        self.services = services if services is not None else Services()
        self.cancel = threading.Event()
        self.lost_lock = ""
        self.stopped_by: EnvironmentProblem | None = None  # said once in the summary, not once per phase
        self.purge_crds = purge_crds
        self.force = force
        self.skip_reasons = dict(skip_reasons or {})  # why a disabled phase is off, when not the config's doing

    # -- events ---------------------------------------------------------------------------------
    def emit(self, event: ev.Event) -> None:
        with self._emit_lock:
            self._emit(event)

    def warn(self, message: str) -> None:
        self.emit(ev.Event("warning", message=message))

    def _context(self, phase: Phase, record: PhaseRecord | None, dry_run: bool = False,
                 reads: Reads | None = None) -> PhaseContext:
        return PhaseContext(
            kube=self.kube,
            dry_run=dry_run,
            timeout=self.timeout,
            parallel=self.object_parallel,
            cancel=self.cancel,
            progress=lambda msg, name=phase.name: self.emit(ev.Event("progress", name, message=msg)),
            record=record,
            services=self.services,
            purge_crds=self.purge_crds,
            force=self.force,
            reads=reads if reads is not None else Reads(),
        )

    # -- planning -------------------------------------------------------------------------------
    def plan(self, *, offline: bool = False, announce: bool = True,
             earlier: list[PlannedPhase] | None = None) -> list[PlannedPhase]:
        """Read-only: what install would do for every phase, and why.

        `earlier`: a plan made moments ago (install's, before it waited for the lock); a phase whose
        recorded state has not changed since keeps its verdict instead of being checked again."""
        records = {} if offline else self.store.load()
        reads = Reads()  # phases listing the same kind share one LIST, for this plan only
        known = {p.phase.name: p for p in earlier or []}

        def one(name: str) -> PlannedPhase:
            phase = self.phases[name]
            record = records.get(name)
            before = known.get(name)
            if before is not None and before.record == record:
                return before
            digest = phase.digest()
            problems: list[Problem] | None = None
            if (not offline and phase.enabled and record is not None and record.status == "ready"
                    and record.digest == digest):
                problems = phase.check(self._context(phase, record, reads=reads), record.inventory)
            action = decide_install(enabled=phase.enabled, version=phase.version, digest=digest,
                                    record=record, problems=problems, offline=offline,
                                    disabled_reason=self.skip_reasons.get(name))
            return PlannedPhase(phase, action, record)

        with ThreadPoolExecutor(max_workers=self.parallel * 2, thread_name_prefix="plan") as pool:
            planned = list(pool.map(one, self.order))
        if announce:
            self._announce(planned)
        return planned

    def _announce(self, planned: list[PlannedPhase]) -> None:
        for item in planned:
            self.emit(ev.Event("plan", item.phase.name, message=item.action.reason, data={
                **item.action.to_dict(), "version": item.phase.version, "needs": list(item.phase.needs),
                "title": item.phase.title}))

    # -- install --------------------------------------------------------------------------------
    def install(self, *, dry_run: bool = False) -> ev.RunSummary:
        """Install or dry-run; always a summary of every phase, also when the lock is held, the API
        fails mid-run or Ctrl-C stops it (the error becomes the summary's message and exit code)."""
        started = time.monotonic()
        outcomes: dict[str, ev.PhaseOutcome] = {}
        try:
            return self._install(dry_run, started, outcomes)
        except (KfbootError, KeyboardInterrupt) as exc:
            return self.stopped("install --dry-run" if dry_run else "install", outcomes, started, exc)

    def stopped(self, operation: str, outcomes: dict[str, ev.PhaseOutcome], started: float,
                exc: BaseException) -> ev.RunSummary:
        """The summary of a run an error stopped: phases it never reached say why."""
        if isinstance(exc, KfbootError):
            message, hint, code = exc.message, exc.hint or "", exc.exit_code
        else:  # Ctrl-C outside the walk (planning, taking the lock)
            message, hint, code = "interrupted: state was recorded; run the same command again to resume", "", \
                EXIT_INTERRUPTED
        for name in self.order:
            out = outcomes.get(name)
            if out is None:
                phase = self.phases[name]
                out = outcomes[name] = (ev.PhaseOutcome(name, phase.title, ev.PENDING, "", "not planned")
                                        if phase.enabled else
                                        ev.PhaseOutcome(name, phase.title, ev.SKIPPED, "skip", "disabled in config"))
            if out.state in (ev.PENDING, ev.APPLYING, ev.WAITING, ev.REMOVING):
                out.state, out.message = ev.CANCELLED, f"not started: {message.splitlines()[0] if message else ''}"
        summary = self._summary(operation, outcomes, started, message)
        summary.exit_code = code
        summary.hint = hint
        return summary

    def _install(self, dry_run: bool, started: float, outcomes: dict[str, ev.PhaseOutcome]) -> ev.RunSummary:
        locking = self.lock_factory is not None and not dry_run
        planned = self.plan(announce=not locking)  # announced below, once re-planned under the lock
        todo = {p.phase.name for p in planned if p.action.kind.changes}
        outcomes.update({p.phase.name: self._initial_outcome(p) for p in planned})
        if not todo:
            if locking:
                self._announce(planned)
            return self._summary("install", outcomes, started, "nothing to do: every phase is up to date")
        if dry_run:
            for name in self.order:
                if name in todo and self.stopped_by is None:
                    self._dry_run_phase(self.phases[name], outcomes[name])
                elif name in todo:
                    outcomes[name].state, outcomes[name].message = ev.CANCELLED, "not started: the run stopped"
            return self._summary("install --dry-run", outcomes, started, "dry run: nothing was changed")

        with self._locked():
            # again, under the lock: another run may have finished meanwhile (its records then differ)
            planned = self.plan(earlier=planned)
            todo = {p.phase.name for p in planned if p.action.kind.changes}
            outcomes.update({p.phase.name: self._initial_outcome(p) for p in planned})
            records = {p.phase.name: p.record for p in planned}
            self._walk(
                todo,
                outcomes,
                run=lambda name: self._install_phase(self.phases[name], records.get(name), outcomes[name]),
                prerequisites=lambda name: [d for d in self.needs[name] if d in todo],
                blocked_by=lambda name: dependents(self.needs, name),
            )
        return self._summary("install", outcomes, started)

    @contextlib.contextmanager
    def _locked(self) -> Any:
        """Hold the cluster lock (if any), wired so that losing it stops this run before it writes more."""
        lock = self.lock_factory() if self.lock_factory else None
        if lock is None:
            yield
            return
        lock.on_lost = self._lost_lock
        lock.warn = self.warn
        self.store.ensure()  # the lock lives in the state's namespace
        lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def _check_lock(self) -> None:
        """Fail (LockHeld) when another live run holds the lock; takes nothing, writes nothing."""
        lock = self.lock_factory() if self.lock_factory else None
        check = getattr(lock, "check", None)
        if check is not None:
            check()

    def _stop(self, problem: EnvironmentProblem) -> None:
        """Stop the run: what is missing would fail every other phase the same way."""
        if self.stopped_by is None:
            self.stopped_by = problem
        self.cancel.set()

    def _lost_lock(self, why: str) -> None:
        self.lost_lock = why
        self.cancel.set()

    def _initial_outcome(self, planned: PlannedPhase) -> ev.PhaseOutcome:
        kind = planned.action.kind
        state = {ActionKind.UP_TO_DATE: ev.UP_TO_DATE, ActionKind.SKIP: ev.SKIPPED}.get(kind, ev.PENDING)
        return ev.PhaseOutcome(planned.phase.name, planned.phase.title, state, kind.value, planned.action.reason)

    def _walk(
        self,
        todo: set[str],
        outcomes: dict[str, ev.PhaseOutcome],
        *,
        run: Callable[[str], None],
        prerequisites: Callable[[str], list[str]],
        blocked_by: Callable[[str], set[str]],
    ) -> None:
        """Run `todo` through the DAG walk; a phase that did not end well cancels what it blocks."""

        def run_phase(name: str) -> bool:
            run(name)
            return outcomes[name].state in ev.GOOD

        def cancelled(name: str, because: str | None) -> None:
            out = outcomes[name]
            out.state = ev.CANCELLED
            if because is not None:
                cause = outcomes[because]
                out.message = f"not started: needs {because}, which {cause.state}: {cause.message}"
            elif self.stopped_by is not None:
                out.message = "not started: the run stopped (see the summary)"
            elif self.cancel.is_set():
                out.message = "not started: interrupted"
            else:
                out.message = "not started: what it needs did not become ready"
            self.emit(ev.Event("phase", name, ev.CANCELLED, out.message))

        walk(self.order, todo, run=run_phase, prerequisites=prerequisites, blocked_by=blocked_by,
             on_cancelled=cancelled, parallel=self.parallel, cancel=self.cancel)

    def _install_phase(self, phase: Phase, previous: PhaseRecord | None, out: ev.PhaseOutcome) -> None:
        started = time.monotonic()
        ctx = self._context(phase, previous)
        record = PhaseRecord(phase.name, "applying", phase.version, phase.digest(),
                             list(previous.inventory) if previous else [], started_at=now_iso())

        def transition(state: str, status: str | None = None, message: str = "") -> None:
            out.state = state
            out.message = message or out.message
            out.duration = time.monotonic() - started
            if status is not None:
                record.status = status
                self.store.save(record)
            self.emit(ev.Event("phase", phase.name, state, message, out.duration,
                               {"action": out.action, "reason": out.reason}))

        try:
            transition(ev.APPLYING, "applying", out.reason)
            inventory = phase.apply(ctx)
            record.inventory = list(inventory)
            transition(ev.WAITING, "waiting", f"applied {len(inventory)} objects")
            phase.wait(ctx, record.inventory)
            record.finished_at, record.error = now_iso(), ""
            transition(ev.READY, "ready", f"ready ({len(record.inventory)} objects)")
        except Exception as exc:
            state, status, message = failure_of(exc)
            if isinstance(exc, EnvironmentProblem):
                self._stop(exc)
            record.error = message
            try:
                transition(state, status, message)
            except KfbootError as save_error:  # the cluster is gone too: still tell the user what happened
                transition(state, None, f"{message} (and the state could not be recorded: {save_error.message})")

    def _dry_run_phase(self, phase: Phase, out: ev.PhaseOutcome) -> None:
        started = time.monotonic()
        try:
            phase.apply(self._context(phase, None, dry_run=True))
            out.state, out.message = ev.DRY_RUN, f"would {out.action}: {out.reason}"
        except KfbootError as exc:
            out.state, out.message = ev.FAILED, exc.message
            if isinstance(exc, EnvironmentProblem):
                self._stop(exc)
        out.duration = time.monotonic() - started
        self.emit(ev.Event("phase", phase.name, out.state, out.message, out.duration))

    # -- uninstall ------------------------------------------------------------------------------
    def uninstall(self, names: list[str] | None = None, *, with_dependents: bool = False) -> ev.RunSummary:
        """Remove phases in reverse dependency order. A named phase that installed phases still need is
        refused (naming them), unless `with_dependents`: then those are removed too, first. Like install,
        always a summary once it starts (lock held, API failure, Ctrl-C)."""
        started = time.monotonic()
        unknown = [n for n in names or [] if n not in self.phases]
        if unknown:
            raise UsageError(f"unknown phase(s): {', '.join(unknown)}; known: {', '.join(self.order)}")
        selected = set(names) if names else set(self.order)
        outside = {d for n in selected for d in dependents(self.needs, n)} - selected
        recorded = self.store.load() if outside else {}
        left_behind = {d for d in outside if decide_uninstall(recorded.get(d)).kind.changes}
        if left_behind and not with_dependents:
            needed = [n for n in self.order if n in selected and dependents(self.needs, n) & left_behind]
            raise UsageError(
                f"{', '.join(needed)} {'is' if len(needed) == 1 else 'are'} needed by "
                f"{', '.join(n for n in self.order if n in left_behind)}, still installed: removing "
                f"{'it' if len(needed) == 1 else 'them'} would break those",
                hint="uninstall those first, or pass --with-dependents to remove them too (dependents first)")
        selected |= left_behind
        outcomes: dict[str, ev.PhaseOutcome] = {}
        try:
            return self._uninstall(selected, started, outcomes)
        except (KfbootError, KeyboardInterrupt) as exc:
            kept = {n: o for n, o in outcomes.items() if n in selected}
            summary = self.stopped("uninstall", kept, started, exc)
            summary.outcomes = [o for o in summary.outcomes if o.phase in selected]
            return summary

    def _uninstall(self, selected: set[str], started: float, outcomes: dict[str, ev.PhaseOutcome]) -> ev.RunSummary:
        locking = self.lock_factory is not None
        records, planned, todo = self._plan_uninstall(selected, announce=not locking)
        outcomes.update(planned)
        if not todo:
            if locking:  # nothing recorded, but another run may be installing right now: say so
                self._check_lock()
                self._plan_uninstall(selected, announce=True, records=records)
            return self._summary("uninstall", outcomes, started, "nothing to remove")
        with self._locked():
            # again, under the lock: another run may have installed or removed phases meanwhile
            records, planned, todo = self._plan_uninstall(selected, announce=True)
            outcomes.clear()
            outcomes.update(planned)
            self._walk(
                todo,
                outcomes,
                run=lambda name: self._uninstall_phase(self.phases[name], records[name], outcomes[name]),
                # reverse DAG: remove a phase only after everything that needs it is removed
                prerequisites=lambda name: [n for n in todo if name in dependencies(self.needs, n)],
                blocked_by=lambda name: dependencies(self.needs, name) & todo,
            )
        if not todo:
            return self._summary("uninstall", outcomes, started, "nothing to remove")
        return self._summary("uninstall", outcomes, started)

    def _plan_uninstall(self, selected: set[str], *, announce: bool, records: dict[str, PhaseRecord] | None = None,
                        ) -> tuple[dict[str, PhaseRecord], dict[str, ev.PhaseOutcome], set[str]]:
        records = self.store.load() if records is None else records
        outcomes: dict[str, ev.PhaseOutcome] = {}
        todo: set[str] = set()
        for name in reversed(self.order):
            if name not in selected:
                continue
            action = decide_uninstall(records.get(name))
            phase = self.phases[name]
            state = ev.PENDING if action.kind.changes else ev.SKIPPED
            outcomes[name] = ev.PhaseOutcome(name, phase.title, state, action.kind.value, action.reason)
            if announce:
                self.emit(ev.Event("plan", name, message=action.reason, data=action.to_dict()))
            if action.kind.changes:
                todo.add(name)
        return records, outcomes, todo

    def _uninstall_phase(self, phase: Phase, record: PhaseRecord, out: ev.PhaseOutcome) -> None:
        started = time.monotonic()
        ctx = self._context(phase, record)
        out.state = ev.REMOVING
        self.emit(ev.Event("phase", phase.name, ev.REMOVING, out.reason))
        try:
            record.status = "uninstalling"
            self.store.save(record)
            stuck = phase.uninstall(ctx, record.inventory)
            if stuck:
                record.status, record.error = "failed", "; ".join(stuck)
                out.state, out.message = ev.FAILED, "stuck: " + "; ".join(stuck)
            else:
                record.status, record.error, record.inventory = "uninstalled", "", []
                record.finished_at = now_iso()
                out.state, out.message = ev.REMOVED, "removed"
            self.store.save(record)
        except Exception as exc:
            out.state, status, out.message = failure_of(exc)
            if isinstance(exc, EnvironmentProblem):
                self._stop(exc)
            record.status, record.error = status, out.message
            with contextlib.suppress(KfbootError):  # if even recording fails, the summary still tells the user
                self.store.save(record)
        out.duration = time.monotonic() - started
        self.emit(ev.Event("phase", phase.name, out.state, out.message, out.duration))

    # -- summary --------------------------------------------------------------------------------
    def _summary(self, operation: str, outcomes: dict[str, ev.PhaseOutcome], started: float,
                 message: str = "") -> ev.RunSummary:
        states = {o.state for o in outcomes.values()}
        if self.stopped_by is not None:
            code = self.stopped_by.exit_code
        elif ev.INTERRUPTED in states or self.cancel.is_set():
            code = EXIT_INTERRUPTED
        elif ev.FAILED in states:
            code = EXIT_FAILED
        elif ev.TIMED_OUT in states:  # phases cancelled because of a timeout keep the timeout's code
            code = EXIT_TIMEOUT
        elif ev.CANCELLED in states:
            code = EXIT_FAILED
        else:
            code = EXIT_OK
        ordered = [outcomes[n] for n in self.order if n in outcomes]
        if operation == "uninstall":
            ordered.reverse()
        if self.lost_lock:
            message = f"stopped: {self.lost_lock}; run the command again once the other run is done"
        target = {}
        requests = writes = 0
        if self.kube is not None:
            target = {"context": self.kube.target.context, "server": self.kube.target.server}
            requests, writes = self.kube.requests, self.kube.writes
        hint = ""
        if self.stopped_by is not None:
            message, hint = f"stopped: {self.stopped_by.message}", self.stopped_by.hint or ""
        return ev.RunSummary(operation, ordered, time.monotonic() - started, requests=requests, writes=writes,
                             exit_code=code, target=target, message=message, hint=hint)
