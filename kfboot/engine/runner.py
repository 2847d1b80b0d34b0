"""The runner: the only place with control flow. Plans, locks, walks the DAG, records state.

Phases whose needs are satisfied run concurrently (bounded by `parallel`); a failure stops only the
phases that need the failed one, and says so. Nothing is written when nothing needs to change.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from kfboot.engine import events as ev
from kfboot.engine.dag import dependencies, dependents, topological, validate_graph
from kfboot.engine.phase import Phase, PhaseContext, Problem
from kfboot.engine.plan import Action, ActionKind, decide_install, decide_uninstall
from kfboot.engine.state import MemoryStateStore, PhaseRecord, StateStore, now_iso
from kfboot.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TIMEOUT,
    Interrupted,
    KfbootError,
    UsageError,
    WaitTimeout,
)


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
        kube: Any = None,
        store: StateStore | None = None,
        emit: ev.Emit | None = None,
        parallel: int = 4,
        timeout: float = 600.0,
        lock_factory: Callable[[], Any] | None = None,
        services: dict[str, Any] | None = None,
        purge_crds: bool = False,
        force: bool = False,
    ) -> None:
        self.phases = {p.name: p for p in phases}
        self.needs = {p.name: tuple(p.needs) for p in phases}
        validate_graph(self.needs)
        self.order = topological(self.needs)
        self.kube = kube
        self.store: StateStore = store if store is not None else MemoryStateStore()
        self._emit = emit or (lambda _e: None)
        self._emit_lock = threading.Lock()
        self.parallel = max(1, parallel)
        self.timeout = timeout
        self.lock_factory = lock_factory
        self.services = services if services is not None else {}
        self.cancel = threading.Event()
        self.lost_lock = ""
        self.purge_crds = purge_crds
        self.force = force

    # -- events ---------------------------------------------------------------------------------
    def emit(self, event: ev.Event) -> None:
        with self._emit_lock:
            self._emit(event)

    def _context(self, phase: Phase, record: PhaseRecord | None, dry_run: bool = False) -> PhaseContext:
        return PhaseContext(
            kube=self.kube,
            dry_run=dry_run,
            timeout=self.timeout,
            parallel=16,
            cancel=self.cancel,
            progress=lambda msg, name=phase.name: self.emit(ev.Event("progress", name, message=msg)),
            record=record,
            services=self.services,
            purge_crds=self.purge_crds,
            force=self.force,
        )

    # -- planning -------------------------------------------------------------------------------
    def plan(self, *, offline: bool = False, announce: bool = True) -> list[PlannedPhase]:
        """Read-only: what install would do for every phase, and why."""
        records = {} if offline else self.store.load()

        def one(name: str) -> PlannedPhase:
            phase = self.phases[name]
            record = records.get(name)
            digest = phase.digest()
            problems: list[Problem] | None = None
            if (not offline and phase.enabled and record is not None and record.status == "ready"
                    and record.digest == digest):
                problems = phase.check(self._context(phase, record), record.inventory)
            action = decide_install(enabled=phase.enabled, version=phase.version, digest=digest,
                                    record=record, problems=problems, offline=offline)
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
        started = time.monotonic()
        locking = self.lock_factory is not None and not dry_run
        planned = self.plan(announce=not locking)  # announced below, once re-planned under the lock
        todo = {p.phase.name for p in planned if p.action.kind.changes}
        outcomes = {p.phase.name: self._initial_outcome(p) for p in planned}
        if not todo:
            if locking:
                self._announce(planned)
            return self._summary("install", outcomes, started, "nothing to do: every phase is up to date")
        if dry_run:
            for name in self.order:
                if name in todo:
                    self._dry_run_phase(self.phases[name], outcomes[name])
            return self._summary("install --dry-run", outcomes, started, "dry run: nothing was changed")

        lock = self._lock()
        if lock is not None:
            ensure = getattr(self.store, "ensure", None)
            if ensure:
                ensure()
            lock.acquire()
        try:
            planned = self.plan()  # again, under the lock: another run may have finished meanwhile
            todo = {p.phase.name for p in planned if p.action.kind.changes}
            outcomes = {p.phase.name: self._initial_outcome(p) for p in planned}
            records = {p.phase.name: p.record for p in planned}
            self._walk(
                todo,
                outcomes,
                run=lambda name: self._install_phase(self.phases[name], records.get(name), outcomes[name]),
                prerequisites=lambda name: [d for d in self.needs[name] if d in todo],
                blocked_by=lambda name: dependents(self.needs, name),
            )
        finally:
            if lock is not None:
                lock.release()
        return self._summary("install", outcomes, started)

    def _lock(self) -> Any:
        """The cluster lock, wired so that losing it stops this run before it writes any more."""
        lock = self.lock_factory() if self.lock_factory else None
        if lock is not None and hasattr(lock, "on_lost"):
            lock.on_lost = self._lost_lock
        return lock

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
        """Run `todo` respecting prerequisites; on failure cancel what depends on it."""
        pending = set(todo)
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="phase") as pool:
            try:
                while pending or running:
                    for name in [n for n in self._ordered(pending)
                                 if all(outcomes[d].state in ev.GOOD for d in prerequisites(n))]:
                        if len(running) >= self.parallel:
                            break
                        pending.discard(name)
                        running[pool.submit(run, name)] = name
                    if not running:
                        break  # the rest is blocked by failures and was cancelled
                    done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                    for fut in done:
                        name = running.pop(fut)
                        fut.result()  # phase runners record their own errors; this re-raises bugs
                        if outcomes[name].state not in ev.GOOD:
                            for dep in self._ordered(blocked_by(name) & pending):
                                pending.discard(dep)
                                out = outcomes[dep]
                                out.state = ev.CANCELLED
                                out.message = f"not started: needs {name}, which {outcomes[name].state}: " \
                                              f"{outcomes[name].message}"
                                self.emit(ev.Event("phase", dep, ev.CANCELLED, out.message))
                    if self.cancel.is_set():
                        break
                for name in self._ordered(pending):  # never started: say why instead of leaving them pending
                    outcomes[name].state = ev.CANCELLED
                    outcomes[name].message = "not started: interrupted" if self.cancel.is_set() else \
                        "not started: what it needs did not become ready"
                    self.emit(ev.Event("phase", name, ev.CANCELLED, outcomes[name].message))
            except KeyboardInterrupt:
                self.cancel.set()
                for name in pending:
                    outcomes[name].state = ev.CANCELLED
                    outcomes[name].message = "not started: interrupted"
                wait(list(running))  # phases notice `cancel` and record themselves as interrupted
                raise Interrupted("interrupted: state was recorded; run the same command again to resume") from None

    def _ordered(self, names: set[str]) -> list[str]:
        return [n for n in self.order if n in names]

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
        except Interrupted as exc:
            record.error = exc.message
            self._record_failure(transition, ev.INTERRUPTED, "interrupted", exc.message)
        except WaitTimeout as exc:
            record.error = exc.message
            self._record_failure(transition, ev.TIMED_OUT, "failed", exc.message)
        except KfbootError as exc:
            record.error = exc.message
            self._record_failure(transition, ev.FAILED, "failed", exc.message)
        except Exception as exc:  # a bug or an unexpected library error: record it, don't lose state
            record.error = f"{type(exc).__name__}: {exc}"
            self._record_failure(transition, ev.FAILED, "failed", record.error)

    def _record_failure(self, transition: Callable[..., None], state: str, status: str, message: str) -> None:
        try:
            transition(state, status, message)
        except KfbootError as exc:  # the cluster is gone too: still tell the user what happened
            transition(state, None, f"{message} (and the state could not be recorded: {exc.message})")

    def _dry_run_phase(self, phase: Phase, out: ev.PhaseOutcome) -> None:
        started = time.monotonic()
        try:
            phase.apply(self._context(phase, None, dry_run=True))
            out.state, out.message = ev.DRY_RUN, f"would {out.action}: {out.reason}"
        except KfbootError as exc:
            out.state, out.message = ev.FAILED, exc.message
        out.duration = time.monotonic() - started
        self.emit(ev.Event("phase", phase.name, out.state, out.message, out.duration))

    # -- uninstall ------------------------------------------------------------------------------
    def uninstall(self, names: list[str] | None = None, *, with_dependents: bool = False) -> ev.RunSummary:
        """Remove phases in reverse dependency order. A named phase that installed phases still need is
        refused (naming them), unless `with_dependents`: then those are removed too, first."""
        started = time.monotonic()
        unknown = [n for n in names or [] if n not in self.phases]
        if unknown:
            raise UsageError(f"unknown phase(s): {', '.join(unknown)}; known: {', '.join(self.order)}")
        selected = set(names) if names else set(self.order)
        records = self.store.load()
        left_behind = {d for n in selected for d in dependents(self.needs, n)
                       if d not in selected and decide_uninstall(records.get(d)).kind.changes}
        if left_behind and not with_dependents:
            needed = [n for n in self._ordered(selected) if dependents(self.needs, n) & left_behind]
            raise UsageError(
                f"{', '.join(needed)} {'is' if len(needed) == 1 else 'are'} needed by "
                f"{', '.join(self._ordered(left_behind))}, still installed: removing "
                f"{'it' if len(needed) == 1 else 'them'} would break those",
                hint="uninstall those first, or pass --with-dependents to remove them too (dependents first)")
        selected |= left_behind
        outcomes: dict[str, ev.PhaseOutcome] = {}
        todo: set[str] = set()
        for name in reversed(self.order):
            if name not in selected:
                continue
            action = decide_uninstall(records.get(name))
            phase = self.phases[name]
            state = ev.PENDING if action.kind.changes else ev.SKIPPED
            outcomes[name] = ev.PhaseOutcome(name, phase.title, state, action.kind.value, action.reason)
            self.emit(ev.Event("plan", name, message=action.reason, data=action.to_dict()))
            if action.kind.changes:
                todo.add(name)
        if not todo:
            return self._summary("uninstall", outcomes, started, "nothing to remove")
        lock = self._lock()
        if lock is not None:
            lock.acquire()
        try:
            self._walk(
                todo,
                outcomes,
                run=lambda name: self._uninstall_phase(self.phases[name], records[name], outcomes[name]),
                # reverse DAG: remove a phase only after everything that needs it is removed
                prerequisites=lambda name: [n for n in todo if name in dependencies(self.needs, n)],
                blocked_by=lambda name: dependencies(self.needs, name) & todo,
            )
        finally:
            if lock is not None:
                lock.release()
        return self._summary("uninstall", outcomes, started)

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
        except Interrupted as exc:
            out.state, out.message = ev.INTERRUPTED, exc.message
            self._save_quietly(record, "interrupted", exc.message)
        except KfbootError as exc:
            out.state, out.message = ev.FAILED, exc.message
            self._save_quietly(record, "failed", exc.message)
        except Exception as exc:
            out.state, out.message = ev.FAILED, f"{type(exc).__name__}: {exc}"
            self._save_quietly(record, "failed", out.message)
        out.duration = time.monotonic() - started
        self.emit(ev.Event("phase", phase.name, out.state, out.message, out.duration))

    def _save_quietly(self, record: PhaseRecord, status: str, error: str) -> None:
        """Record a failed uninstall; if even that fails, the summary still tells the user."""
        record.status, record.error = status, error
        with contextlib.suppress(KfbootError):
            self.store.save(record)

    # -- summary --------------------------------------------------------------------------------
    def _summary(self, operation: str, outcomes: dict[str, ev.PhaseOutcome], started: float,
                 message: str = "") -> ev.RunSummary:
        states = {o.state for o in outcomes.values()}
        if ev.INTERRUPTED in states or self.cancel.is_set():
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
        if self.kube is not None:
            target = {"context": self.kube.target.context, "server": self.kube.target.server}
        return ev.RunSummary(operation, ordered, time.monotonic() - started,
                             requests=getattr(self.kube, "requests", 0), writes=getattr(self.kube, "writes", 0),
                             exit_code=code, target=target, message=message)
