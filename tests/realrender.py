"""The real upstream render as a kfboot bundle, made at test time (read in place, never copied).

``shared/upstream/kubeflow-manifests-26.03`` is the kustomize output of every catalog path at the
pinned tag, laid out as a bundle's ``manifests/kubeflow-manifests/<path>.yaml``; the charts are
``helm template --include-crds`` output. ``real_bundle`` links the manifests into a bundle
directory, packs a throwaway chart per Helm component holding the real CRDs (``crds/``) and the
real rendered objects (served verbatim through ``.Files.Get``, so ``{{`` in upstream strings stays
text), and writes the index with every file's sha256, as ``kfboot bundle build`` would.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from kfboot import __version__
from kfboot.config.catalog import load_catalog
from kfboot.sources.build import catalog_paths
from kfboot.sources.bundle import (
    INDEX_FILE,
    BundleIndex,
    ChartPin,
    FileEntry,
    RenderedPath,
    SourcePin,
    chart_file,
    manifest_file,
    sha256_file,
)

REPO = Path(__file__).resolve().parent.parent
UPSTREAM = REPO.parent / "shared" / "upstream"
MANIFESTS = UPSTREAM / "kubeflow-manifests-26.03"
RENDERED_CHARTS = UPSTREAM / "charts"
SOURCE = "kubeflow-manifests"


def available() -> bool:
    return MANIFESTS.is_dir() and RENDERED_CHARTS.is_dir()


def _chart_dir(component: str, chart: str, version: str, rendered: Path, work: Path) -> Path:
    """An unpacked chart: real CRDs in crds/, every other rendered object verbatim in the template."""
    docs = [d for d in yaml.safe_load_all(rendered.read_text(encoding="utf-8")) if isinstance(d, dict) and d]
    crds = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
    objects = [d for d in docs if d.get("kind") != "CustomResourceDefinition"]
    root = work / component
    (root / "crds").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": chart, "version": version, "appVersion": version,
        "description": f"{chart} {version}: the upstream render, repacked for tests"}, sort_keys=False))
    (root / "values.yaml").write_text("{}\n")
    (root / "crds" / "crds.yaml").write_text(yaml.safe_dump_all(crds, sort_keys=False))
    (root / "objects.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    (root / "templates" / "objects.yaml").write_text('{{ .Files.Get "objects.yaml" }}\n')
    return root


def _helm_package(chart_dir: Path, dest: Path, helm: str) -> None:
    proc = subprocess.run([helm, "package", str(chart_dir), "-d", str(dest)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


def real_bundle(out: Path, helm: str) -> Path:
    """A verified bundle of the real render at ``out`` (manifests linked in place, charts packed)."""
    catalog = load_catalog()
    out.mkdir(parents=True)
    (out / "manifests").mkdir()
    (out / "manifests" / SOURCE).symlink_to(MANIFESTS, target_is_directory=True)
    pins: list[ChartPin] = []
    work = out.parent / f".{out.name}-charts"
    for component, entry in catalog.components.items():
        if entry.helm is None:
            continue
        version = entry.helm.version
        rendered = RENDERED_CHARTS / f"{entry.helm.chart}-{version}.rendered.yaml"
        chart_dir = _chart_dir(component, entry.helm.chart, version, rendered, work)
        target = out / chart_file(entry.helm.chart, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        _helm_package(chart_dir, target.parent, helm)
        pins.append(ChartPin(name=entry.helm.chart, component=component, version=version,
                             file=chart_file(entry.helm.chart, version)))
    shutil.rmtree(work)
    rendered_paths = [RenderedPath(source=s, path=p.strip("/"), file=manifest_file(s, p))
                      for s, p in catalog_paths(catalog)]
    files = [FileEntry(path=rel, sha256=sha256_file(out / rel), size=(out / rel).stat().st_size)
             for rel in sorted({r.file for r in rendered_paths} | {c.file for c in pins})]
    src = catalog.sources[SOURCE]
    index = BundleIndex(
        kfboot_version=__version__, created=datetime.now(timezone.utc).replace(microsecond=0),
        sources={SOURCE: SourcePin(repo=src.repo, version=src.version, commit=src.commit)},
        charts=pins, manifests=rendered_paths, files=files,
    )
    (out / INDEX_FILE).write_text(index.dump(), encoding="utf-8")
    return out


def kind_nodes() -> list[dict[str, Any]]:
    """The one Node of a default kind cluster (control plane, schedulable, no GPU)."""
    return [{"apiVersion": "v1", "kind": "Node",
             "metadata": {"name": "kind-control-plane",
                          "labels": {"kubernetes.io/hostname": "kind-control-plane", "kubernetes.io/os": "linux",
                                     "kubernetes.io/arch": "amd64",
                                     "node-role.kubernetes.io/control-plane": ""}},
             "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                        "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"}}}]
