"""Bundles as manifest sources: manifests read from verified rendered files, charts from verified .tgz.

`BundleManifests` serves an explicit `--bundle DIR`: its fingerprint is the index digests of its
files (reading only bundle.yaml), so a changed bundle means an upgrade and an unchanged one a no-op.
`CachedUpstream` is the default without `--bundle`/`--manifests`: a bundle in the cache, pulled on
first render. Its fingerprint comes from the pins alone, so `plan --offline` never downloads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfboot.config.catalog import Catalog, load_catalog
from kfboot.errors import EnvironmentProblem, KfbootError
from kfboot.sources.manifests import pin_fingerprint

_PULL_LOCK = threading.Lock()


def _open(root: Path) -> Any:
    from kfboot.sources.bundle import Bundle

    return Bundle.open(root, load_catalog())


@dataclass(frozen=True)
class BundleManifests:
    """Pre-rendered kustomize output of `paths` from a bundle directory."""

    root: Path
    source: str
    paths: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.source} from bundle {self.root}: " + ", ".join(self.paths)

    def fingerprint(self) -> str:
        bundle = _open(self.root)
        digest = hashlib.sha256(self.source.encode())
        for rel in self.paths:
            entry = bundle.manifest_entry(self.source, rel)
            digest.update(f"|{rel}={bundle.digest_of(entry.file)}".encode())
        return digest.hexdigest()

    def render(self) -> list[dict[str, Any]]:
        from kfboot.k8s.manifests import parse_manifests

        bundle = _open(self.root)
        objects: list[dict[str, Any]] = []
        for rel in self.paths:
            objects.extend(parse_manifests(bundle.manifest_text(self.source, rel), f"{self.source}/{rel}"))
        return objects


def pin_digest(catalog: Catalog) -> str:
    """Identifies what a cache bundle was made from: source commits and chart versions."""
    parts = [f"{n}@{s.commit}" for n, s in sorted(catalog.sources.items())]
    parts += [f"{n}={c.helm.chart}:{c.helm.version}" for n, c in sorted(catalog.components.items()) if c.helm]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def cache_dir() -> Path:
    """$KFBOOT_CACHE_DIR, else $XDG_CACHE_HOME/kfboot, else ~/.cache/kfboot."""
    base = os.environ.get("KFBOOT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kfboot")
    return Path(base)


def cache_bundle_dir(catalog: Catalog | None = None) -> Path:
    return cache_dir() / "bundles" / pin_digest(catalog or load_catalog())


def ensure_cache_bundle(catalog: Catalog | None = None) -> Path:
    """The cache bundle for the current pins, pulled on first use (once per process)."""
    from kfboot.sources.bundle import INDEX_FILE
    from kfboot.sources.pull import pull_bundle

    catalog = catalog or load_catalog()
    root = cache_bundle_dir(catalog)
    with _PULL_LOCK:
        if root in _PULL_FAILURES:  # said once; every phase that needs the bundle gets the same words
            raise _PULL_FAILURES[root]
        try:
            with _file_lock(root.parent / f".{root.name}.lock"):
                if not (root / INDEX_FILE).is_file():
                    pull_bundle(root, catalog=catalog, force=True)
        except OSError as exc:
            _PULL_FAILURES[root] = SourcesUnavailable(
                f"cannot write the cache bundle under {root.parent}: {exc.strerror or exc}",
                hint="set KFBOOT_CACHE_DIR to a writable directory, or install from a bundle: --bundle DIR")
            raise _PULL_FAILURES[root] from None
        except KfbootError as exc:
            _PULL_FAILURES[root] = SourcesUnavailable(
                f"no cache bundle at {root} and the pinned sources cannot be downloaded: {exc.message}",
                hint="without network, make a bundle where the sources are reachable (`kfboot bundle pull DIR`, "
                     "or `kfboot bundle build DIR --manifests …`), copy it here and pass --bundle DIR")
            raise _PULL_FAILURES[root] from None
    return root


def cache_bundle_present(catalog: Catalog | None = None) -> bool:
    from kfboot.sources.bundle import INDEX_FILE

    return (cache_bundle_dir(catalog) / INDEX_FILE).is_file()


class SourcesUnavailable(EnvironmentProblem):
    """Neither a bundle nor the network can provide the pinned sources (an environment error)."""


_PULL_FAILURES: dict[Path, SourcesUnavailable] = {}  # per cache bundle, for this process


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Two kfboot processes (install and render, say) must not pull the same cache bundle at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): the in-process lock still holds
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class CachedUpstream:
    """Pinned upstream paths served from the cache bundle (downloaded and rendered on first render)."""

    name: str
    version: str
    commit: str
    paths: tuple[str, ...]

    def describe(self) -> str:
        where = (f"cache bundle {cache_bundle_dir()}" if cache_bundle_present()
                 else "no cache bundle yet: downloaded on first install, or pass --bundle DIR")
        return f"{self.name} {self.version} ({self.commit[:12]}, {where}): " + ", ".join(self.paths)

    def fingerprint(self) -> str:
        """From content, the same as the same bundle given as `--bundle`, once the cache holds it; before
        that (a plan that must not download) the pin identifies the content."""
        from kfboot.sources.bundle import INDEX_FILE

        cached = cache_bundle_dir()
        if (cached / INDEX_FILE).is_file():
            return BundleManifests(cached, self.name, self.paths).fingerprint()
        return pin_fingerprint(self.name, self.commit, self.paths)  # UpstreamTree's: no download to plan

    def render(self) -> list[dict[str, Any]]:
        return BundleManifests(ensure_cache_bundle(), self.name, self.paths).render()


def bundle_chart_path(root: Path, component: str, version: str) -> Path:
    """The verified chart .tgz a Helm phase installs from a bundle."""
    return _open(root).chart(component, version)


def bundle_root(value: Path | str) -> Path:
    return Path(os.path.abspath(value))


@dataclass(frozen=True)
class CachedChart:
    """A resolver for the verified .tgz of `chart` in the cache bundle (pulled on first call)."""

    component: str
    chart: Any

    def __call__(self) -> Any:
        from kfboot.helm import ChartRef

        path = bundle_chart_path(ensure_cache_bundle(), self.component, self.chart.version)
        return ChartRef(self.chart.name, self.chart.version, path=path)

    def peek(self) -> Path | None:
        """The cached, verified .tgz if the cache already holds it (never downloads: for digests)."""
        from kfboot.sources.bundle import INDEX_FILE

        root = cache_bundle_dir()
        if not (root / INDEX_FILE).is_file():
            return None
        bundle = _open(root)
        found = [c for c in bundle.index.charts if c.component == self.component and c.version == self.chart.version]
        return bundle.verify_file(found[0].file) if found else None  # a tampered chart fails here, by name
