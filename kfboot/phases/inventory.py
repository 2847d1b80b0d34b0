"""Shared checks over a phase's inventory (does everything it installed still exist and serve?) and the
cluster helpers every phase kind uses: a Waiter for the run, the shared dry-run world."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from kfboot.engine.phase import PhaseContext, Problem
from kfboot.engine.services import Service
from kfboot.k8s.apply import DryRunWorld
from kfboot.k8s.readiness import has_readiness_check, readiness_of
from kfboot.k8s.refs import ObjectRef
from kfboot.k8s.waits import Waiter

# One DryRunWorld per run, shared by its phases (a dry run applies phases in dependency order, so
# later phases learn what earlier ones would create).
DRY_RUN_WORLD: Service[DryRunWorld] = Service("dry-run world", default=DryRunWorld)


def waiter(ctx: PhaseContext) -> Waiter:
    """A Waiter bound to the run's cluster, cancel flag and the phase's progress line."""
    return Waiter(ctx.require_kube(), cancel=ctx.cancel, progress=ctx.progress)


def check_inventory(ctx: PhaseContext, inventory: list[ObjectRef]) -> list[Problem]:
    """Read-only drift check: one LIST per (kind, namespace) instead of one GET per object, shared with
    the other phases of the same plan (`ctx.reads`)."""
    kube = ctx.require_kube()
    groups: dict[tuple[str, str, str | None], list[ObjectRef]] = defaultdict(list)
    for ref in inventory:
        groups[(ref.api_version, ref.kind, ref.namespace)].append(ref)

    def one(key: tuple[str, str, str | None]) -> list[Problem]:
        api_version, kind, namespace = key
        from kfboot.k8s.client import NotFound

        try:
            live = ctx.reads.get(("list", *key), lambda: {o["metadata"]["name"]: o
                                                          for o in kube.list(api_version, kind, namespace)})
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
    wait = waiter(ctx)
    targets = [ref for ref in inventory if has_readiness_check(ref.api_version, ref.kind)]
    if not targets:
        return
    ctx.progress(f"waiting for {len(targets)} objects to be ready")
    with ThreadPoolExecutor(max_workers=ctx.parallel, thread_name_prefix="wait") as pool:
        list(pool.map(lambda ref: wait.object_ready(ref, ctx.deadline), targets))


def dry_run_world(ctx: PhaseContext) -> DryRunWorld:
    return ctx.services.get(DRY_RUN_WORLD)


def remove_inventory(ctx: PhaseContext, inventory: list[ObjectRef]) -> list[str]:
    """Delete what a phase installed and wait until it is gone; CRDs stay unless --purge-crds.

    Returns what is stuck (on finalizers, say), empty when everything is gone.
    """
    from kfboot.k8s.apply import delete_objects

    refs = [r for r in inventory if ctx.purge_crds or r.kind != "CustomResourceDefinition"]
    return delete_objects(ctx.require_kube(), waiter(ctx), refs, ctx.deadline, parallel=ctx.parallel,
                          progress=ctx.progress, force=ctx.force)
