"""Make a bundle from local sources: a kubeflow/manifests tree and chart directories or .tgz files.

Every manifest path the catalog can select (all Kubeflow apps, serverless and kind overlays) is
rendered with kustomize once, here, so installs never run kustomize or reach GitHub. The bundle is
written to a temporary sibling directory and renamed into place, so a failed build leaves nothing.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kfboot.config.catalog import Catalog, load_catalog
from kfboot.errors import ConfigError, KfbootError, UsageError
from kfboot.k8s.waits import Progress
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

REMOTE_HINT = ("render it where GitHub is reachable (`kfboot bundle pull`, or `kfboot bundle build` on a "
               "machine with network), or vendor the remote bases into the tree")


@dataclass(frozen=True)
class SourceTree:
    """A local checkout of a catalog source (e.g. kubeflow/manifests at the pinned tag)."""

    root: Path
    archive_sha256: str | None = None  # set by `pull`, which downloaded and hashed the archive


def catalog_paths(catalog: Catalog) -> list[tuple[str, str]]:
    """Every (source, kustomize path) any platform config could select, in catalog order, once each."""
    seen: dict[tuple[str, str], None] = {}
    for entry in catalog.components.values():
        spec = entry.manifests
        if spec is None:
            continue
        paths = [*spec.serverless_paths, *spec.paths, *(p for app in spec.apps.values() for p in app),
                 *spec.kind_paths.values()]
        for p in paths:
            seen.setdefault((spec.source, p.strip("/")), None)
    return list(seen)


# -- kustomize ---------------------------------------------------------------------------------------
def _is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(("github.com/", "gitlab.com/", "git@", "bitbucket.org/"))


def remote_bases(directory: Path, _seen: set[Path] | None = None) -> list[str]:
    """Remote resources/bases/components reachable from a kustomization (to explain offline failures)."""
    import yaml

    seen = _seen if _seen is not None else set()
    directory = directory.resolve()
    if directory in seen:
        return []
    seen.add(directory)
    found: list[str] = []
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (directory / name).is_file():
            try:
                doc = yaml.safe_load((directory / name).read_text(encoding="utf-8")) or {}
            except yaml.YAMLError:
                return found
            break
    else:
        return found
    for key in ("resources", "bases", "components"):
        for ref in doc.get(key) or []:
            if not isinstance(ref, str):
                continue
            if _is_remote(ref):
                found.append(ref)
            elif (directory / ref).is_dir():
                found.extend(remote_bases(directory / ref, seen))
    return found


def render_path(root: Path, source: str, rel: str) -> str:
    """kustomize output of one catalog path, with a clear message when it cannot be built here."""
    from kfboot.sources.manifests import is_kustomization, kustomize_build

    path = root / rel
    if not is_kustomization(path):
        raise ConfigError([f"{source}/{rel}: not a kustomize directory in {root}"])
    try:
        return kustomize_build(path)
    except KfbootError as exc:
        remote = remote_bases(path)
        if remote:
            first = exc.message.splitlines()[0][:300]
            raise KfbootError(f"{source}/{rel}: remote kustomize bases cannot be resolved offline: "
                              f"{', '.join(remote)} ({first})") from None
        raise


def render_all(root: Path, paths: list[tuple[str, str]], progress: Progress) -> dict[tuple[str, str], str]:
    """Render every path (in parallel: kustomize is CPU-bound per path); report all failures at once."""
    def one(item: tuple[str, str]) -> tuple[tuple[str, str], str | KfbootError]:
        try:
            return item, render_path(root, *item)
        except KfbootError as exc:
            return item, exc

    out: dict[tuple[str, str], str] = {}
    errors: list[str] = []
    hint = None
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(paths)))) as pool:
        for item, result in pool.map(one, paths):
            if isinstance(result, KfbootError):
                errors.append(result.message)
                if "remote kustomize bases" in result.message:
                    hint = REMOTE_HINT
            else:
                out[item] = result
                progress(f"rendered {item[0]}/{item[1]}")
    if errors:
        raise KfbootError("\n".join(errors), hint=hint)
    return out


# -- charts ------------------------------------------------------------------------------------------
def chart_metadata(path: Path) -> dict[str, Any]:
    """Chart.yaml of an unpacked chart directory or a packaged .tgz."""
    import yaml

    try:
        if path.is_dir():
            text = (path / "Chart.yaml").read_text(encoding="utf-8")
        else:
            with tarfile.open(path) as tar:
                member = next((m for m in tar.getmembers() if m.name.count("/") == 1
                               and m.name.endswith("/Chart.yaml")), None)
                if member is None:
                    raise ConfigError([f"{path}: no Chart.yaml at the top of the archive"])
                handle = tar.extractfile(member)
                assert handle is not None
                text = handle.read().decode("utf-8")
    except (OSError, tarfile.TarError) as exc:
        raise ConfigError([f"{path}: not a chart directory or .tgz: {exc}"]) from None
    meta = yaml.safe_load(text) or {}
    return meta if isinstance(meta, dict) else {}


def package_chart(path: Path, component: str, catalog: Catalog, dest: Path) -> ChartPin:
    """Copy a .tgz or `helm package` a directory into dest/charts, checking it is the pinned chart."""
    from kfboot import tools

    helm = catalog.components[component].helm
    assert helm is not None
    if not path.exists():
        raise ConfigError([f"--chart {component}={path}: no such file or directory"])
    meta = chart_metadata(path)
    name, version = str(meta.get("name", "")), str(meta.get("version", ""))
    if name != helm.chart:
        raise ConfigError([f"--chart {component}={path}: chart is {name!r}, the catalog pins {helm.chart!r}"])
    if version not in helm.versions:
        raise ConfigError([f"--chart {component}={path}: {name} version {version!r} is not pinned "
                           f"(pinned: {', '.join(helm.versions)})"])
    rel = chart_file(name, version)
    target = dest / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            try:
                tools.run("helm", ["package", str(path), "-d", tmp], timeout=300)
            except tools.ToolFailed as exc:
                raise KfbootError(f"helm package {path} failed: {exc.stderr.strip() or exc.message}") from None
            made = list(Path(tmp).glob("*.tgz"))
            shutil.move(str(made[0]), target)
    else:
        shutil.copyfile(path, target)
    return ChartPin(name=name, component=component, version=version, file=rel)


def default_helm_values(catalog: Catalog) -> dict[str, tuple[dict[str, Any], str, str]]:
    """(values, release, namespace) kfboot passes for each Helm component with the default platform.

    The default platform sets no values and no GPU pools, so the values are empty; the release and
    namespace are the catalog's.
    """
    return {name: ({}, entry.helm.release, entry.helm.namespace)
            for name, entry in catalog.components.items() if entry.helm is not None}


def chart_images(dest: Path, pins: list[ChartPin], catalog: Catalog) -> list[str]:
    """Images of each chart as kfboot would install it (helm template with kfboot's default values)."""
    from kfboot.helm import ChartRef, Helm
    from kfboot.sources.images import images_of

    if not pins:
        return []
    defaults = default_helm_values(catalog)
    helm = Helm(None, None)
    images: set[str] = set()
    for pin in pins:
        values, release, namespace = defaults.get(pin.component, ({}, pin.component, pin.component))
        objects = helm.template(ChartRef(pin.name, pin.version, path=dest / pin.file), values,
                                release=release, namespace=namespace)
        images.update(images_of(objects))
    return sorted(images)


def _tool_versions() -> dict[str, str]:
    """The kubectl/kustomize and Helm that rendered the bundle (recorded in its index)."""
    from kfboot import tools

    found = {}
    for name, args in (("kubectl", ["version", "--client", "-o", "yaml"]), ("helm", ["version", "--short"])):
        try:
            out = tools.run(name, args, timeout=30, check=False).stdout
        except KfbootError:  # ToolMissing / ToolFailed (deadline): the index simply leaves it out
            continue
        line = next((ln for ln in out.splitlines() if "gitVersion" in ln or ln.startswith("v")), "").strip()
        found[name] = line.split(":", 1)[-1].strip() if "gitVersion" in line else line
    return found


# -- the bundle --------------------------------------------------------------------------------------
def _prepare_target(out: Path, force: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UsageError(f"{out} already exists and is not empty", hint="pass --force to replace it")


def _check_inputs(catalog: Catalog, sources: dict[str, SourceTree], charts: dict[str, Path]) -> list[str]:
    """Refuse (before writing anything) charts that are not Helm components, and missing charts or trees.

    Returns the Helm components, in catalog order."""
    helm_components = [n for n, c in catalog.components.items() if c.helm is not None]
    unknown = sorted(set(charts) - set(helm_components))
    if unknown:
        raise UsageError(f"--chart: {', '.join(unknown)} is not a Helm component "
                         f"(Helm components: {', '.join(helm_components)})")
    missing = [n for n in helm_components if n not in charts]
    if missing:
        raise UsageError(f"no chart given for {', '.join(missing)}",
                         hint="pass --chart NAME=PATH (an unpacked chart directory or a .tgz) for each")
    for name in sorted({s for s, _ in catalog_paths(catalog)}):
        if name not in sources:
            raise UsageError(f"no tree given for source {name}", hint="pass --manifests PATH")
        if not sources[name].root.is_dir():
            raise ConfigError([f"{sources[name].root}: the {name} tree does not exist"])
    return helm_components


def _write_manifests(tmp: Path, sources: dict[str, SourceTree], catalog: Catalog,
                     progress: Progress) -> tuple[list[RenderedPath], set[str]]:
    """Render every catalog path into tmp/manifests; returns the index entries and the images they use."""
    from kfboot.k8s.manifests import parse_manifests
    from kfboot.sources.images import images_of

    paths = catalog_paths(catalog)
    rendered: list[RenderedPath] = []
    images: set[str] = set()
    for name in sorted({s for s, _ in paths}):
        texts = render_all(sources[name].root, [p for p in paths if p[0] == name], progress)
        for (source, rel), text in texts.items():
            images.update(images_of(parse_manifests(text, f"{source}/{rel}")))
            target = tmp / manifest_file(source, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            rendered.append(RenderedPath(source=source, path=rel, file=manifest_file(source, rel)))
    return rendered, images


def build_bundle(out: Path, sources: dict[str, SourceTree], charts: dict[str, Path], *,
                 catalog: Catalog | None = None, force: bool = False,
                 progress: Progress = lambda _m: None) -> BundleIndex:
    """Render every catalog path and pack every chart into `out`, then write the index last."""
    from kfboot import __version__
    from kfboot.sources.images import VERIFY_IMAGES

    catalog = catalog or load_catalog()
    _prepare_target(out, force)
    helm_components = _check_inputs(catalog, sources, charts)
    needed = sorted({s for s, _ in catalog_paths(catalog)})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        rendered, images = _write_manifests(tmp, sources, catalog, progress)
        pins = []
        for component in helm_components:
            pins.append(package_chart(charts[component], component, catalog, tmp))
            progress(f"packed chart {pins[-1].name} {pins[-1].version}")
        images.update(chart_images(tmp, pins, catalog))
        images.update(VERIFY_IMAGES)  # run by `kfboot verify-gpu`, not by any manifest
        images.update(catalog.verify.images.values())  # and what `kfboot verify` runs
        files = [FileEntry(path=p.relative_to(tmp).as_posix(), sha256=sha256_file(p), size=p.stat().st_size)
                 for p in sorted(tmp.rglob("*")) if p.is_file()]
        index = BundleIndex(
            kfboot_version=__version__,
            created=datetime.now(timezone.utc).replace(microsecond=0),
            tools=_tool_versions(),
            sources={n: SourcePin(repo=catalog.sources[n].repo, version=catalog.sources[n].version,
                                  commit=catalog.sources[n].commit, archive=catalog.sources[n].archive,
                                  archive_sha256=sources[n].archive_sha256) for n in needed},
            charts=pins, manifests=rendered, files=files, images=sorted(images),
        )
        (tmp / INDEX_FILE).write_text(index.dump(), encoding="utf-8")
        os.chmod(tmp, 0o755)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        os.replace(tmp, out)
        return index
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
