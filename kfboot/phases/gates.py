"""Component readiness beyond workloads, declared as data in the catalog (see catalog.Gate)."""

from __future__ import annotations

from typing import Any

from kfboot.config.catalog import ConditionGate, Gate
from kfboot.engine.phase import PhaseContext, Problem
from kfboot.k8s import readiness as rd
from kfboot.k8s.refs import ObjectRef
from kfboot.phases.inventory import wait_inventory, waiter


def _field(obj: dict[str, Any], dotted: str) -> Any:
    node: Any = obj
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def condition_check(gate: ConditionGate):  # type: ignore[no-untyped-def]
    def check(obj: dict[str, Any]) -> rd.Readiness:
        if gate.type:
            return rd.condition_true(obj, gate.type)
        if gate.field is None:
            return rd.readiness_of(obj)
        value = _field(obj, gate.field)
        if str(value) == gate.equals:
            return rd.READY
        return rd.Readiness(False, f"{gate.field} is {value!r}, want {gate.equals!r}")

    return check


def _ref(gate: ConditionGate) -> ObjectRef:
    return ObjectRef(gate.api_version, gate.kind, gate.name, gate.namespace)


def applies(ctx: PhaseContext, gate: Gate) -> bool:
    """Gates like the GPU validator only make sense when GPU nodes exist."""
    selector = gate.condition.when_nodes if gate.condition else None
    if not selector:
        return True
    return bool(ctx.require_kube().list("v1", "Node", label_selector=selector))


def wait_ready(ctx: PhaseContext, inventory: list[ObjectRef], gates: list[Gate]) -> None:
    """A phase is ready when its objects are (typed readiness) and then its catalog gates are."""
    wait_inventory(ctx, inventory)
    wait_gates(ctx, gates)


def wait_gates(ctx: PhaseContext, gates: list[Gate]) -> None:
    wait = waiter(ctx)
    for gate in gates:
        if not applies(ctx, gate):
            ctx.progress(f"skipping {gate.condition.kind if gate.condition else 'gate'}: no matching nodes")
            continue
        if gate.endpoints:
            wait.service_endpoints(gate.endpoints.namespace, gate.endpoints.name, ctx.deadline)
        if gate.condition:
            wait.object_ready(_ref(gate.condition), ctx.deadline, condition_check(gate.condition))


def check_gates(ctx: PhaseContext, gates: list[Gate]) -> list[Problem]:
    kube = ctx.require_kube()
    problems = []
    for gate in gates:
        if not applies(ctx, gate):
            continue
        if gate.endpoints:
            e = gate.endpoints
            slices = kube.list("discovery.k8s.io/v1", "EndpointSlice", e.namespace,
                               label_selector=f"kubernetes.io/service-name={e.name}")
            state = rd.endpoints_ready(slices)
            if not state.ready:
                problems.append(Problem(f"Service {e.namespace}/{e.name}", state.detail))
        if gate.condition:
            from kfboot.k8s.client import NotFound

            ref = _ref(gate.condition)
            try:
                obj = kube.get_ref(ref)
            except NotFound:
                obj = None
            state = rd.Readiness(False, "missing") if obj is None else condition_check(gate.condition)(obj)
            if not state.ready:
                problems.append(Problem(str(ref), state.detail))
    return problems


def describe_gate(gate: Gate) -> str:
    if gate.endpoints:
        return f"endpoints of Service {gate.endpoints.namespace}/{gate.endpoints.name}"
    if gate.condition:
        c = gate.condition
        where = f"{c.namespace}/" if c.namespace else ""
        want = f"{c.type}=True" if c.type else (f"{c.field}={c.equals}" if c.field else "ready")
        when = f" (if nodes match {c.when_nodes})" if c.when_nodes else ""
        return f"{c.kind} {where}{c.name} {want}{when}"
    return "nothing"
