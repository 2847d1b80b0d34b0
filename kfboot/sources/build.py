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
from typing import TYPE_CHECKING, Any

from kfboot.config.catalog import Catalog, load_catalog
from kfboot.errors import ConfigError, KfbootError, UsageError
from kfboot.k8s.waits import Progress

if TYPE_CHECKING:
    from kfboot.config.platform import Platform
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


def catalog_paths(catalog: Catalog, platform: Platform | None = None) -> list[tuple[str, str]]:
    """Every (source, kustomize path) any platform config could select, in catalog order, once each;
    with a platform, only what it installs (its apps, Serverless paths if chosen, kind variants)."""
    from kfboot.config.platform import KServeComponent, KubeflowComponent, installs

    seen: dict[tuple[str, str], None] = {}
    for name, entry in catalog.components.items():
        spec = entry.manifests
        if spec is None or (platform is not None and not installs(platform, catalog, name)):
            continue
        comp = platform.components.get(name) if platform is not None else None
        apps = [a for a in spec.apps if not isinstance(comp, KubeflowComponent) or a in comp.apps]
        serverless = spec.serverless_paths if not isinstance(comp, KServeComponent) or \
            comp.deployment_mode == "Serverless" else []
        paths = [*serverless, *spec.paths, *(p for app in apps for p in spec.apps[app])]
        paths += [spec.kind_paths[p] for p in paths if p in spec.kind_paths]
        for p in paths:
            seen.setdefault((spec.source, p.strip("/")), None)
    return list(seen)


def helm_components(catalog: Catalog, platform: Platform | None = None) -> list[str]:
    """The Helm components a bundle packs a chart for (with a platform: those it installs)."""
    from kfboot.config.platform import installs

    return [n for n, c in catalog.components.items()
            if c.helm is not None and (platform is None or installs(platform, catalog, n))]


def git_head(root: Path) -> str | None:
    """The commit a git checkout is at (reads .git; no git needed), or None when not a checkout."""
    git = root / ".git"
    if git.is_file():  # a worktree or submodule: "gitdir: PATH"
        target = git.read_text(encoding="utf-8").partition("gitdir:")[2].strip()
        git = (root / target) if target else git
    head = git / "HEAD"
    if not head.is_file():
        return None
    value = head.read_text(encoding="utf-8").strip()
    if not value.startswith("ref:"):
        return value or None
    ref = value.partition("ref:")[2].strip()
    bases = [git]
    if (git / "commondir").is_file():  # a worktree: branches live in the main repository's .git
        bases.append((git / (git / "commondir").read_text(encoding="utf-8").strip()).resolve())
    for base in bases:
        loose = base / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip()
        packed = base / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name.strip() == ref:
                    return sha
    return None


def tree_identity(tree: SourceTree, pinned: str) -> dict[str, Any]:
    """What a source tree honestly is, for the bundle index: the pinned archive `pull` downloaded and
    hashed, a git checkout (at the pinned commit or not), or a tree of unknown commit."""
    if tree.archive_sha256:
        return {"tree": f"the pinned archive (sha256 {tree.archive_sha256})", "tree_verified": True}
    head = git_head(tree.root)
    if head is None:
        return {"tree": "a local tree of unknown commit (not a git checkout)", "tree_verified": False}
    if head == pinned:
        return {"tree": f"a git checkout at {head}", "tree_verified": True}
    return {"tree": f"a git checkout at {head} (not the pinned commit)", "tree_verified": False}


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
            raise KfbootError(f"{source}/{rel}: remote kustomize bases cannot be resolved offline: "
                              f"{', '.join(remote)} ({kustomize_error(exc.message)[:300]})") from None
        raise


def kustomize_error(message: str) -> str:
    """The line of kustomize's output that says what failed, not a deprecation warning before it
    (kubeflow/manifests' pipeline tree prints "# Warning: 'vars' is deprecated" first)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    meaningful = [ln for ln in lines if not ln.lstrip("# ").lower().startswith("warning")]
    errors = [ln for ln in meaningful if "error" in ln.lower()]
    return (errors or meaningful or lines or [""])[0]


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


def check_chart(path: Path, component: str, catalog: Catalog) -> tuple[str, str]:
    """(name, version) of a `--chart` if it is the chart and a version the catalog pins; checked for
    every chart before anything is rendered, so a wrong chart fails in seconds, not after kustomize."""
    helm = catalog.components[component].helm
    assert helm is not None
    if not path.exists():
        raise ConfigError([f"--chart {component}={path}: no such file or directory"])
    meta = chart_metadata(path)
    name, version = str(meta.get("name", "")), str(meta.get("version", ""))
    if name != helm.chart:
        raise ConfigError([f"--chart {component}={path}: chart is {name!r}, the catalog pins {helm.chart!r}"])
    if version not in helm.versions:
        devel = "-" in version.lstrip("v")  # semver pre-release: what `helm pull --devel` fetches
        raise ConfigError(
            [f"--chart {component}={path}: {name} version {version!r} is not pinned (pinned: {', '.join(helm.versions)})"
             + (" and is a pre-release (-devel) chart" if devel else "")],
            hint=(f"kfboot pins released charts only: fetch one with `helm pull {helm.chart} --repo {helm.repo} "
                  f"--version {helm.version}` (without --devel)") if devel else
                 f"fetch a pinned version: `helm pull {helm.chart} --repo {helm.repo} --version {helm.version}`")
    return name, version


def package_chart(path: Path, component: str, catalog: Catalog, dest: Path) -> ChartPin:
    """Copy a .tgz or `helm package` a directory into dest/charts, checking it is the pinned chart."""
    from kfboot import tools

    name, version = check_chart(path, component, catalog)
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


def chart_objects(dest: Path, pins: list[ChartPin], catalog: Catalog) -> dict[str, list[dict[str, Any]]]:
    """Each chart's objects as kfboot would install it (helm template with kfboot's default values)."""
    from kfboot.helm import ChartRef, Helm

    if not pins:
        return {}
    defaults = default_helm_values(catalog)
    helm = Helm(None, None)
    out: dict[str, list[dict[str, Any]]] = {}
    for pin in pins:
        values, release, namespace = defaults.get(pin.component, ({}, pin.component, pin.component))
        out[pin.component] = helm.template(ChartRef(pin.name, pin.version, path=dest / pin.file), values,
                                           release=release, namespace=namespace)
    return out


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


def _check_inputs(catalog: Catalog, sources: dict[str, SourceTree], charts: dict[str, Path],
                  platform: Platform | None = None) -> list[str]:
    """Refuse (before writing anything) charts that are not Helm components, and missing charts or trees.

    Returns the Helm components to pack, in catalog order."""
    everything = helm_components(catalog)
    wanted = helm_components(catalog, platform)
    unknown = sorted(set(charts) - set(everything))
    if unknown:
        raise UsageError(f"--chart: {', '.join(unknown)} is not a Helm component "
                         f"(Helm components: {', '.join(everything)})")
    missing = [n for n in wanted if n not in charts]
    if missing:
        raise UsageError(f"no chart given for {', '.join(missing)}",
                         hint="pass --chart NAME=PATH (an unpacked chart directory or a .tgz) for each"
                              + ("" if platform is not None else ", or -f kfboot.yaml to pack only what it enables"))
    for name in sorted({s for s, _ in catalog_paths(catalog, platform)}):
        if name not in sources:
            raise UsageError(f"no tree given for source {name}", hint="pass --manifests PATH")
        if not sources[name].root.is_dir():
            raise ConfigError([f"{sources[name].root}: the {name} tree does not exist"])
    return wanted


def _write_manifests(tmp: Path, sources: dict[str, SourceTree], catalog: Catalog, progress: Progress,
                     platform: Platform | None = None,
                     ) -> tuple[list[RenderedPath], set[str], dict[tuple[str, str], list[dict[str, Any]]]]:
    """Render every catalog path into tmp/manifests; returns the index entries, the images they use and
    the objects of each path."""
    from kfboot.k8s.manifests import parse_manifests
    from kfboot.sources.images import images_of
    from kfboot.sources.known_password import scrub

    paths = catalog_paths(catalog, platform)
    rendered: list[RenderedPath] = []
    images: set[str] = set()
    parsed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name in sorted({s for s, _ in paths}):
        texts = render_all(sources[name].root, [p for p in paths if p[0] == name], progress)
        for (source, rel), text in texts.items():
            text = scrub(text)  # upstream's well-known Dex password hash never enters a bundle
            parsed[(source, rel)] = parse_manifests(text, f"{source}/{rel}")
            images.update(images_of(parsed[(source, rel)]))
            target = tmp / manifest_file(source, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            rendered.append(RenderedPath(source=source, path=rel, file=manifest_file(source, rel)))
    return rendered, images, parsed


def build_bundle(out: Path, sources: dict[str, SourceTree], charts: dict[str, Path], *,
                 catalog: Catalog | None = None, force: bool = False, platform: Platform | None = None,
                 progress: Progress = lambda _m: None) -> BundleIndex:
    """Render every catalog path and pack every chart into `out`, then write the index last. With a
    platform (`bundle build -f kfboot.yaml`) only what it installs: a tree whose other paths cannot
    be rendered here (remote bases of apps it does not use) still makes its bundle."""
    from kfboot import __version__
    from kfboot.sources.catalog_check import catalog_phases, require_ownership
    from kfboot.sources.images import VERIFY_IMAGES, images_of

    catalog = catalog or load_catalog()
    _prepare_target(out, force)
    packed = _check_inputs(catalog, sources, charts, platform)
    for component in packed:  # chart versions first: seconds, before minutes of kustomize
        check_chart(charts[component], component, catalog)
    needed = sorted({s for s, _ in catalog_paths(catalog, platform)})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        rendered, images, parsed = _write_manifests(tmp, sources, catalog, progress, platform)
        pins = []
        for component in packed:
            pins.append(package_chart(charts[component], component, catalog, tmp))
            progress(f"packed chart {pins[-1].name} {pins[-1].version}")
        charted = chart_objects(tmp, pins, catalog)
        images.update(i for objects in charted.values() for i in images_of(objects))
        phases = catalog_phases(catalog, lambda src, rel: parsed.get((src, rel.strip("/")), []), charted)
        if platform is not None:  # its own components only; what it takes as external is not here
            from kfboot.config.platform import installs

            phases = [p for p in phases if installs(platform, catalog, p.name)]
        require_ownership(phases, "bundle build", unowned=platform is None)
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
                                  archive_sha256=sources[n].archive_sha256,
                                  **tree_identity(sources[n], catalog.sources[n].commit)) for n in needed},
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
