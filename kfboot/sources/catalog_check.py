"""The catalog's phases as rendered, for the ownership check at `bundle build` and in `plan`.

A bundle holds every path any platform can select, so the check there covers the largest platform:
every Kubeflow app, KServe's serverless paths, every Helm chart (with kfboot's default values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfboot.config.catalog import Catalog
from kfboot.errors import ConfigError
from kfboot.k8s.ownership import PhaseObjects, check_ownership

RenderPath = Callable[[str, str], list[dict[str, Any]]]


def component_paths(catalog: Catalog, name: str) -> list[str]:
    """Every kustomize path the component can install (all apps, serverless paths), in apply order."""
    spec = catalog.components[name].manifests
    if spec is None:
        return []
    return [*spec.serverless_paths, *spec.paths, *(p for app in spec.apps.values() for p in app)]


def catalog_phases(catalog: Catalog, render: RenderPath,
                   chart_objects: dict[str, list[dict[str, Any]]]) -> list[PhaseObjects]:
    phases = []
    for name, entry in catalog.components.items():
        if entry.helm is not None:
            phases.append(PhaseObjects(name, tuple(entry.needs), chart_objects.get(name, []),
                                       frozenset({entry.helm.namespace})))
        elif entry.manifests is not None:
            objects = [o for p in component_paths(catalog, name) for o in render(entry.manifests.source, p)]
            phases.append(PhaseObjects(name, tuple(entry.needs), objects))
    return phases


def require_ownership(phases: list[PhaseObjects], where: str, *, unowned: bool = True) -> None:
    """Raise a ConfigError naming each object whose phase does not own what it relies on."""
    problems = check_ownership(phases, unowned=unowned)
    if problems:
        raise ConfigError([f"{where}: {p}" for p in problems],
                          hint="a phase must create what its objects rely on, or `needs` the phase that does "
                               "(kfboot/data/catalog.yaml)")
