"""The ownership check over the enabled phases of a platform, as `plan` shows them.

Manifest phases are checked over their render where it is on this machine (a bundle, the cache
bundle, a local tree); `plan` never downloads for it. A Helm phase counts with its release namespace
(Helm creates it); its chart's own objects are checked at `bundle build`.
"""

from __future__ import annotations

from typing import Any

from kfboot.k8s.ownership import PhaseObjects
from kfboot.phases.helm_phase import HelmPhase
from kfboot.phases.manifest_phase import ManifestPhase


def _renderable_here(source: Any) -> bool:
    from kfboot.sources.bundle import INDEX_FILE
    from kfboot.sources.phase_sources import CachedUpstream, cache_bundle_dir

    if isinstance(source, CachedUpstream):
        return (cache_bundle_dir() / INDEX_FILE).is_file()
    return getattr(source, "root", True) is not None


def enabled_phase_objects(phases: list[Any]) -> list[PhaseObjects] | None:
    """The enabled phases as rendered, or None when a manifest phase cannot be rendered offline."""
    out = []
    for phase in phases:
        if not phase.enabled:
            continue
        if isinstance(phase, HelmPhase):
            out.append(PhaseObjects(phase.name, tuple(phase.needs), [], frozenset({phase.namespace})))
        elif isinstance(phase, ManifestPhase):
            if not _renderable_here(phase.source):
                return None
            out.append(PhaseObjects(phase.name, tuple(phase.needs), phase.source.render()))
        else:
            out.append(PhaseObjects(phase.name, tuple(phase.needs), []))
    return out


def check_phase_ownership(phases: list[Any]) -> bool:
    """Raise ConfigError naming each object whose phase does not own what it relies on; False when the
    render was not available here (nothing checked)."""
    from kfboot.sources.catalog_check import require_ownership

    rendered = enabled_phase_objects(phases)
    if rendered is None:
        return False
    require_ownership(rendered, "phase ownership", unowned=False)
    return True
