"""The bundle index (`bundle.yaml`) and a reader that never serves a file it has not verified.

A bundle is a directory made by `kfboot bundle build|pull`: the kustomize output of every catalog
path, the pinned charts as .tgz, and an index with the sha256 of each file and every image the
stack uses. Installs from a bundle need no network; any file whose digest differs from the index
is refused, so a bundle copied across an air gap is either intact or rejected with the file named.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from kfboot.config.catalog import Catalog
from kfboot.errors import ConfigError, KfbootError
from kfboot.yaml_positions import StrictModel

INDEX_FILE = "bundle.yaml"
API_VERSION = "kfboot.io/v1alpha1"


class SourcePin(StrictModel):
    """The upstream tree the manifests were rendered from."""

    repo: str
    version: str
    commit: str
    archive: str | None = None
    archive_sha256: str | None = Field(default=None, alias="archiveSha256")  # known when `pull` downloaded it
    # what the tree really was: the pinned archive (pull), a git checkout at some commit, or unknown
    tree: str | None = None
    tree_verified: bool | None = Field(default=None, alias="treeVerified")  # known to be the pinned commit

    def unverified(self) -> str | None:
        """Why this bundle's manifests may not be the pinned upstream (None when they are, or unknown
        because the bundle predates the record)."""
        if self.tree_verified is False:
            return f"its {self.version} manifests were rendered from {self.tree}, not verified as commit {self.commit[:12]}"
        return None


class ChartPin(StrictModel):
    name: str  # the chart's name (Chart.yaml), e.g. gpu-operator
    component: str  # the catalog component it installs, e.g. gpu-operator
    version: str
    file: str  # relative path of the .tgz


class RenderedPath(StrictModel):
    source: str  # catalog source name, e.g. kubeflow-manifests
    path: str  # kustomize path inside that source
    file: str  # relative path of the rendered YAML


class FileEntry(StrictModel):
    path: str
    sha256: str
    size: int


class BundleIndex(StrictModel):
    api_version: Literal["kfboot.io/v1alpha1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: Literal["Bundle"] = "Bundle"
    kfboot_version: str = Field(alias="kfbootVersion")
    created: datetime
    tools: dict[str, str] = Field(default_factory=dict)  # kustomize/helm that rendered it
    sources: dict[str, SourcePin]
    charts: list[ChartPin] = Field(default_factory=list)
    manifests: list[RenderedPath] = Field(default_factory=list)
    files: list[FileEntry]
    images: list[str] = Field(default_factory=list)

    def dump(self) -> str:
        import yaml

        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return yaml.safe_dump(data, sort_keys=False, width=200)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_file(source: str, path: str) -> str:
    """Where the kustomize output of `source`/`path` lives inside a bundle."""
    return f"manifests/{source}/{path.strip('/')}.yaml"


def chart_file(name: str, version: str) -> str:
    return f"charts/{name}-{version}.tgz"


class TamperedFile(KfbootError):
    """A bundle file is missing or its sha256 differs from the index."""


class Bundle:
    """A bundle directory with a parsed index; every read is checked against the index digest."""

    def __init__(self, root: Path, index: BundleIndex) -> None:
        self.root = root
        self.index = index
        self._files = {f.path: f for f in index.files}

    @classmethod
    def open(cls, root: Path, catalog: Catalog | None = None) -> Bundle:
        """Read and validate `root/bundle.yaml`; with a catalog, refuse a bundle made for other pins."""
        import yaml

        index_path = root / INDEX_FILE
        if not root.is_dir():
            raise ConfigError([f"{root}: bundle directory does not exist"])
        if not index_path.is_file():
            raise ConfigError([f"{index_path}: no bundle index here"],
                              hint="make one with `kfboot bundle pull DIR` or `kfboot bundle build DIR --manifests …`")
        try:
            data: Any = yaml.safe_load(index_path.read_text(encoding="utf-8"))
            index = BundleIndex.model_validate(data)
        except yaml.YAMLError as exc:
            raise ConfigError([f"{index_path}: not valid YAML: {exc}"]) from None
        except ValidationError as exc:
            raise ConfigError([f"{index_path}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                               for err in exc.errors()], hint="not a kfboot bundle index; rebuild the bundle") from None
        bundle = cls(root, index)
        if catalog is not None:
            bundle.check_pins(catalog)
        return bundle

    def check_pins(self, catalog: Catalog) -> None:
        problems = []
        for name, pin in self.index.sources.items():
            want = catalog.sources.get(name)
            if want is not None and want.commit != pin.commit:
                problems.append(f"{self.root}: made for {name} {pin.version} ({pin.commit[:12]}), "
                                f"this kfboot pins {want.version} ({want.commit[:12]})")
        if problems:
            raise ConfigError(problems, hint="make a bundle with this kfboot version (`kfboot bundle pull|build`)")

    # -- verified access ------------------------------------------------------------------------
    def digest_of(self, rel: str) -> str:
        """The index digest of `rel` (no file access: for fingerprints)."""
        entry = self._files.get(rel)
        if entry is None:
            raise KfbootError(f"{self.root}: the bundle index has no entry for {rel}")
        return entry.sha256

    def verify_file(self, rel: str) -> Path:
        """The path of `rel` after checking its sha256 against the index."""
        expected = self.digest_of(rel)
        path = self.root / rel
        if not path.is_file():
            raise TamperedFile(f"bundle file {path} is missing (index sha256 {expected})",
                               hint="the bundle is incomplete; copy it again or rebuild it")
        actual = sha256_file(path)
        if actual != expected:
            raise TamperedFile(f"bundle file {path} does not match the index: expected sha256 {expected}, got {actual}",
                               hint="the file was changed or corrupted after the bundle was made; "
                                    "copy the bundle again or rebuild it")
        return path

    def read_text(self, rel: str) -> str:
        """Read `rel` once and check the bytes read (no window between check and use)."""
        expected = self.digest_of(rel)
        path = self.root / rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise TamperedFile(f"bundle file {path} is missing (index sha256 {expected})",
                               hint="the bundle is incomplete; copy it again or rebuild it") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise TamperedFile(f"bundle file {path} does not match the index: expected sha256 {expected}, got {actual}",
                               hint="the file was changed or corrupted after the bundle was made; "
                                    "copy the bundle again or rebuild it")
        return data.decode("utf-8")

    def verify(self) -> list[str]:
        """Every problem with the bundle: missing or changed files, and files the index does not list."""
        problems = []
        for entry in self.index.files:
            try:
                self.verify_file(entry.path)
            except TamperedFile as exc:
                problems.append(exc.message)
        listed = set(self._files) | {INDEX_FILE}
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            rel = path.relative_to(self.root).as_posix()
            if rel not in listed:
                problems.append(f"bundle file {path} is not in the index")
        return problems

    # -- lookups --------------------------------------------------------------------------------
    def manifest_entry(self, source: str, path: str) -> RenderedPath:
        for m in self.index.manifests:
            if m.source == source and m.path == path.strip("/"):
                return m
        raise KfbootError(f"bundle {self.root} has no rendered {source} path {path}",
                          hint="the bundle was made for another catalog, or with `bundle build -f` for a platform "
                               "that does not install this; rebuild it with this kfboot and config")

    def manifest_text(self, source: str, path: str) -> str:
        return self.read_text(self.manifest_entry(source, path).file)

    def chart(self, component: str, version: str) -> Path:
        """The verified .tgz of `component`'s chart at `version`."""
        found = [c for c in self.index.charts if c.component == component]
        for c in found:
            if c.version == version:
                return self.verify_file(c.file)
        have = ", ".join(c.version for c in found) or "none"
        raise KfbootError(f"bundle {self.root} has no chart for {component} {version} (it has: {have})",
                          hint=f"use the bundled version or rebuild the bundle with --chart {component}=PATH")
