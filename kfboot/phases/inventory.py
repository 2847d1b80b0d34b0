"""Shared checks over a phase's inventory: does everything it installed still exist and serve?"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kfboot.engine.phase import PhaseContext, Problem
from kfboot.k8s.readiness import has_readiness_check, readiness_of
from kfboot.k8s.refs import ObjectRef


def check_inventory(ctx: PhaseContext, inventory: list[ObjectRef]) -> list[Problem]:
    """Read-only drift check: one LIST per (kind, namespace) instead of one GET per object."""
    kube = ctx.require_kube()
    groups: dict[tuple[str, str, str | None], list[ObjectRef]] = defaultdict(list)
    for ref in inventory:
        groups[(ref.api_version, ref.kind, ref.namespace)].append(ref)

    def one(key: tuple[str, str, str | None]) -> list[Problem]:
        api_version, kind, namespace = key
        from kfboot.k8s.client import NotFound

        try:
            live = {o["metadata"]["name"]: o for o in kube.list(api_version, kind, namespace)}
        except NotFound:
            live = {}
        problems = []
        for ref in groups[key]:
            obj = live.get(ref.name)
            if obj is None:
                problems.append(Problem(str(ref), "missing"))
            elif has_readiness_check(ref.api_version, ref.kind):
                state = readiness_of(obj)
                if not state.ready:
                    problems.append(Problem(str(ref), f"not ready: {state.detail}"))
        return problems

    with ThreadPoolExecutor(max_workers=ctx.parallel, thread_name_prefix="check") as pool:
        return [p for chunk in pool.map(one, sorted(groups, key=str)) for p in chunk]


def wait_inventory(ctx: PhaseContext, inventory: list[ObjectRef]) -> None:
    """Wait (bounded by the phase deadline) for every object with a typed readiness check."""
    waiter = ctx.waiter()
    targets = [ref for ref in inventory if has_readiness_check(ref.api_version, ref.kind)]
    if not targets:
        return
    ctx.progress(f"waiting for {len(targets)} objects to be ready")
    with ThreadPoolExecutor(max_workers=ctx.parallel, thread_name_prefix="wait") as pool:
        list(pool.map(lambda ref: waiter.object_ready(ref, ctx.deadline), targets))


def dry_run_world(ctx: PhaseContext) -> Any:
    """One DryRunWorld per run, shared by its phases through the context's services (a dry run
    applies phases in dependency order, so later phases learn what earlier ones would create)."""
    from kfboot.k8s.apply import DryRunWorld

    return ctx.services.setdefault("dry_run_world", DryRunWorld())
