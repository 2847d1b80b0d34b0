"""`kfboot verify`'s core: pick the checks, schedule them over the component graph, clean up.

The graph has one node per component (it passes when kfboot's recorded state says the phase is
ready) and one per check, which needs its component and any check whose objects it uses. So a
component that is not installed stops its checks — and those of every component that needs it —
with that reason, and independent checks run side by side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kfboot.engine.dag import dependents, topological
from kfboot.engine.walk import walk
from kfboot.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_TIMEOUT,
    ClusterError,
    Interrupted,
    KfbootError,
    UsageError,
    WaitTimeout,
)
from kfboot.verify import check as ck
from kfboot.verify.check import Check, Cleanup, Outcome, Probe, Shared
from kfboot.verify.checks_kubeflow import CHECKS as KUBEFLOW_CHECKS
from kfboot.verify.checks_platform import CHECKS as PLATFORM_CHECKS
from kfboot.verify.checks_serving import CHECKS as SERVING_CHECKS
from kfboot.verify.settings import VerifySettings

ALL_CHECKS: list[Check] = [*PLATFORM_CHECKS, *KUBEFLOW_CHECKS, *SERVING_CHECKS]
COMPONENT_PREFIX = "component:"


@dataclass
class VerifyReport:
    outcomes: list[Outcome]
    elapsed: float
    exit_code: int
    cleaned: int = 0
    message: str = ""
    target: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        counts = {state: sum(1 for o in self.outcomes if o.state == state)
                  for state in (ck.PASSED, ck.FAILED, ck.TIMED_OUT, ck.SKIPPED, ck.CANCELLED)}
        return {"event": "summary", "operation": "verify", "ok": self.ok, "exitCode": self.exit_code,
                "elapsed": round(self.elapsed, 3), "counts": counts, "cleanedUp": self.cleaned,
                "target": self.target, "message": self.message, "checks": [o.to_dict() for o in self.outcomes]}


def components_of(checks: Sequence[Check] = ALL_CHECKS) -> list[str]:
    out: list[str] = []
    for c in checks:
        if c.component not in out:
            out.append(c.component)
    return out


def select(names: Sequence[str], checks: Sequence[Check] = ALL_CHECKS) -> list[Check]:
    """The checks of the named components or checks (all of them when none is named)."""
    if not names:
        return list(checks)
    known = set(components_of(checks)) | {c.name for c in checks}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown component or check: {', '.join(unknown)}",
                         hint=f"components: {', '.join(components_of(checks))}")
    return [c for c in checks if c.component in names or c.name in names]


def graph(checks: Sequence[Check], component_needs: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Component nodes (with the catalog's needs among them) and check nodes (their component, and the
    checks they use when those are selected too)."""
    components = set(components_of(checks))
    frontier = set(components)
    while frontier:  # a component's prerequisites are in the graph too, so their absence stops it
        frontier = {d for c in frontier for d in component_needs.get(c, ())} - components
        components |= frontier
    names = {c.name for c in checks}
    needs: dict[str, tuple[str, ...]] = {
        COMPONENT_PREFIX + c: tuple(COMPONENT_PREFIX + d for d in component_needs.get(c, ()) if d in components)
        for c in sorted(components)}
    for c in checks:
        needs[c.name] = (COMPONENT_PREFIX + c.component, *(n for n in c.needs if n in names))
    return needs


class Verifier:
    def __init__(self, kube: Any, settings: VerifySettings, *, records: Mapping[str, Any],
                 component_needs: Mapping[str, Sequence[str]], services: dict[str, Any],
                 emit: Callable[[Outcome], None] = lambda _o: None, parallel: int = 4,
                 timeout: float | None = None) -> None:
        self.kube = kube
        self.settings = settings
        self.records = records
        self.component_needs = component_needs
        self.services = services
        self.emit = emit
        self.parallel = parallel
        self.timeout = timeout
        self.cancel = threading.Event()
        self.shared = Shared()
        self.cleanup = Cleanup()
        self.absent: set[str] = set()  # component nodes with nothing installed (vs. installed and broken)

    def installed(self, component: str) -> tuple[bool, str]:
        record = self.records.get(component)
        if record is None or record.status == "uninstalled":
            self.absent.add(COMPONENT_PREFIX + component)
            return False, f"{component} is not installed (kfboot has no record of it)"
        if record.status != "ready":
            why = f": {record.error}" if record.error else ""
            return False, f"{component} is not ready (kfboot recorded {record.status}{why})"
        return True, ""

    def run(self, names: Sequence[str] = ()) -> VerifyReport:
        started = time.monotonic()
        checks = select(names)
        by_name = {c.name: c for c in checks}
        named_components = {c.component for c in checks} if names else set()
        outcomes = {c.name: Outcome(c.name, c.component, c.title) for c in checks}

        def run_node(node: str) -> bool:
            if node.startswith(COMPONENT_PREFIX):
                return self.installed(node[len(COMPONENT_PREFIX):])[0]
            return self._run_check(by_name[node], outcomes[node])

        def cancelled(node: str, cause: str | None) -> None:
            if node.startswith(COMPONENT_PREFIX):
                return
            out = outcomes[node]
            own_ok, own_why = self.installed(out.component)
            if cause is None:
                out.state, out.reason = ck.CANCELLED, "not started: interrupted"
            elif not own_ok:  # its own component is missing or broken: that is the reason
                self._blocked_by_component(out, COMPONENT_PREFIX + out.component, own_why, named_components)
            elif cause.startswith(COMPONENT_PREFIX):
                why = self.installed(cause[len(COMPONENT_PREFIX):])[1]
                self._blocked_by_component(out, cause, why, named_components)
            else:
                out.state = ck.CANCELLED
                out.reason = f"not started: needs {cause}, which {outcomes[cause].state}"
            self.emit(out)

        needs = graph(checks, self.component_needs)
        interrupted = False
        try:
            walk(topological(needs), list(needs), run=run_node, prerequisites=lambda n: needs[n],
                 blocked_by=lambda n: dependents(needs, n), on_cancelled=cancelled, parallel=self.parallel,
                 cancel=self.cancel)
        except Interrupted:
            interrupted = True
        finally:
            self.shared.close()
            cleaned = 0 if self.settings.keep else self._clean_up()
        if interrupted:
            raise Interrupted("interrupted" + ("" if self.settings.keep else f"; deleted {cleaned} test objects"))
        ordered = [outcomes[c.name] for c in checks]
        message = ""
        states = {o.state for o in ordered}
        code = EXIT_OK
        if ck.FAILED in states or ck.CANCELLED in states:
            code = EXIT_FAILED
        elif ck.TIMED_OUT in states:
            code = EXIT_TIMEOUT
        if ordered and states == {ck.SKIPPED}:  # proving nothing is not a pass
            code, message = EXIT_FAILED, "nothing was verified: every selected check was skipped (see `kfboot status`)"
        if self.settings.keep:
            message = "kept the test objects (--keep)"
        return VerifyReport(ordered, time.monotonic() - started, code, cleaned, message,
                            {"context": self.kube.target.context, "server": self.kube.target.server})

    def _blocked_by_component(self, out: Outcome, node: str, why: str, named: set[str]) -> None:
        """Checks of a component that is not installed are skipped unless asked for; of a broken one, not."""
        if node in self.absent and out.component not in named:
            out.state, out.reason = ck.SKIPPED, why
        else:
            out.state, out.reason, out.next_step = ck.CANCELLED, f"not started: {why}", "kfboot status; kfboot install"

    def _run_check(self, c: Check, out: Outcome) -> bool:
        started = time.monotonic()
        timeout = self.timeout or c.timeout * self.settings.timeout_scale
        probe = Probe(self.kube, self.settings, self.shared, self.cleanup, started + timeout, self.cancel,
                      progress=lambda msg: self._progress(out, msg), services=self.services)
        out.state = ck.RUNNING
        self.emit(out)
        try:
            out.reason = c.run(probe)
            out.state = ck.PASSED
        except ck.CheckSkipped as exc:
            out.state, out.reason = ck.SKIPPED, exc.message
        except ck.CheckFailed as exc:
            timed_out = exc.message.startswith("timed out")
            out.state = ck.TIMED_OUT if timed_out else ck.FAILED
            out.reason, out.next_step, out.evidence = exc.message, exc.hint or "", exc.evidence
        except Interrupted:
            out.state, out.reason = ck.CANCELLED, "interrupted"
        except WaitTimeout as exc:
            out.state, out.reason, out.next_step = ck.TIMED_OUT, exc.message, "kfboot doctor"
        except KfbootError as exc:
            out.state, out.reason, out.next_step = ck.FAILED, exc.message, exc.hint or "kfboot doctor"
        except Exception as exc:  # a bug, or a library error: say so rather than lose the other checks
            out.state, out.reason = ck.FAILED, f"{type(exc).__name__}: {exc}"
        out.duration = time.monotonic() - started
        self.emit(out)
        return out.good

    def _progress(self, out: Outcome, message: str) -> None:
        out.reason = message
        self.emit(out)

    def _clean_up(self) -> int:
        count = 0
        for ref in self.cleanup.drain():
            try:
                if self.kube.delete(ref):
                    count += 1
            except ClusterError:
                continue
        return count

