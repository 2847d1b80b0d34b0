"""The ownership check over the enabled phases of a platform, as `plan` shows them.

Manifest phases are checked over their render where it is on this machine (a bundle, the cache
bundle, a local tree); `plan` never downloads for it. A Helm phase counts with its release namespace
(Helm creates it); its chart's own objects are checked at `bundle build`.

Rendering every phase is most of what `plan` costs, so a passed check is remembered in the cache
directory, keyed by what the verdict depends on: each phase's name, needs and source content digest
(a bundle's index digests) and the rules' own code. A failed check is never remembered.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
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

    marker = _verdict_marker(phases)
    if marker is not None and marker.is_file():
        return True
    rendered = enabled_phase_objects(phases)
    if rendered is None:
        return False
    require_ownership(rendered, "phase ownership", unowned=False)
    if marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("ok\n", encoding="utf-8")
        except OSError:  # a read-only cache: check again next time
            pass
    return True


def _verdict_marker(phases: list[Any]) -> Path | None:
    """Where a passed check of exactly these phases is remembered; None when a source's fingerprint
    is not a digest of its content (a local tree pinned by commit alone) or it cannot be rendered here."""
    import kfboot.k8s.ownership as rules
    import kfboot.sources.catalog_check as where
    from kfboot import __version__
    from kfboot.sources.manifests import LocalManifests
    from kfboot.sources.phase_sources import BundleManifests, CachedUpstream, cache_dir

    key = hashlib.sha256(__version__.encode())
    for module in (rules, where):
        key.update(Path(str(module.__file__)).read_bytes())
    for phase in phases:
        if not phase.enabled:
            continue
        key.update(f"|{type(phase).__name__}:{phase.name}<{','.join(phase.needs)}".encode())
        if isinstance(phase, HelmPhase):
            key.update(f"@{phase.namespace}".encode())
        elif isinstance(phase, ManifestPhase):
            if not isinstance(phase.source, (BundleManifests, CachedUpstream, LocalManifests)) or not _renderable_here(phase.source):
                return None
            key.update(f"={phase.source.fingerprint()}".encode())
    return cache_dir() / "verdicts" / f"ownership-{key.hexdigest()}"
