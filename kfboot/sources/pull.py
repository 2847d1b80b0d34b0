"""Fill a bundle from the network: the pinned kubeflow/manifests archive and the pinned charts.

Everything downloaded is hashed; the archive's sha256 goes into the index (GitHub publishes no
checksum for tag archives, so the index is where it gets pinned for later copies). Afterwards the
same code as `bundle build` renders and indexes, so a pulled bundle and a built one look alike.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from pathlib import Path

from kfboot.config.catalog import Catalog, load_catalog
from kfboot.errors import KfbootError
from kfboot.sources.build import Progress, SourceTree, build_bundle
from kfboot.sources.bundle import BundleIndex

MIRROR_HINT = ("without network, make the bundle elsewhere and copy it, or build one from mirrored sources: "
               "`kfboot bundle build DIR --manifests CHECKOUT --chart NAME=PATH …`")


def download(url: str, target: Path, timeout: float = 60) -> str:
    """Stream `url` to `target`; return its sha256. file:// URLs work (mirrors on a share, tests)."""
    import urllib.error
    import urllib.request

    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, target.open("wb") as out:
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except (OSError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", exc)
        raise KfbootError(f"cannot download {url}: {reason}", hint=MIRROR_HINT) from None
    return digest.hexdigest()


def unpack_archive(archive: Path, dest: Path, expect_top: tuple[str, ...] = ()) -> Path:
    """Unpack a GitHub tag archive and return its single top directory (checked against `expect_top`)."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise KfbootError(f"{archive}: not a readable tar archive: {exc}") from None
    tops = [p for p in dest.iterdir() if not p.name.startswith("pax_global_header")]
    if len(tops) != 1 or not tops[0].is_dir():
        raise KfbootError(f"{archive}: expected one top directory, found {', '.join(p.name for p in tops) or 'none'}")
    if expect_top and tops[0].name not in expect_top:
        raise KfbootError(f"{archive}: top directory is {tops[0].name}, expected {' or '.join(expect_top)} "
                          "(is this the archive of the pinned tag?)")
    return tops[0]


def helm_pull(chart: str, version: str, repo: str, dest: Path) -> Path:
    """`helm pull` one chart version (HTTP repo or oci://) into dest; returns the .tgz."""
    from kfboot import tools

    ref = f"{repo.rstrip('/')}/{chart}" if repo.startswith("oci://") else chart
    args = ["pull", ref, "--version", version, "-d", str(dest)]
    if not repo.startswith("oci://"):
        args += ["--repo", repo]
    try:
        tools.run("helm", args, timeout=300)
    except tools.ToolFailed as exc:
        detail = exc.stderr.strip() or exc.message
        raise KfbootError(f"cannot pull chart {chart} {version} from {repo}: {detail}", hint=MIRROR_HINT) from None
    found = sorted(dest.glob(f"{chart}-*.tgz"))
    if not found:
        raise KfbootError(f"helm pull {chart} {version} wrote no .tgz into {dest}")
    return found[0]


def pull_bundle(out: Path, *, catalog: Catalog | None = None, archive_urls: dict[str, str] | None = None,
                chart_repos: dict[str, str] | None = None, force: bool = False,
                progress: Progress = lambda _m: None) -> BundleIndex:
    """Download the pinned sources (URLs overridable for mirrors) and build the bundle from them."""
    catalog = catalog or load_catalog()
    archive_urls = archive_urls or {}
    chart_repos = chart_repos or {}
    with tempfile.TemporaryDirectory(prefix="kfboot-pull-") as tmp_str:
        tmp = Path(tmp_str)
        sources: dict[str, SourceTree] = {}
        for name, src in catalog.sources.items():
            url = archive_urls.get(name, src.archive)
            progress(f"downloading {name} {src.version} from {url}")
            archive = tmp / f"{name}.tar.gz"
            sha = download(url, archive)
            repo_name = src.repo.rstrip("/").rsplit("/", 1)[-1]
            # GitHub names the top directory <repo>-<tag>, dropping a leading "v" from the tag
            tops = (f"{repo_name}-{src.version}", f"{repo_name}-{src.version.removeprefix('v')}")
            root = unpack_archive(archive, tmp / f"{name}-tree", tops)
            sources[name] = SourceTree(root, archive_sha256=sha)
        charts: dict[str, Path] = {}
        for component, entry in catalog.components.items():
            if entry.helm is None:
                continue
            repo = chart_repos.get(component, entry.helm.repo)
            progress(f"pulling chart {entry.helm.chart} {entry.helm.version} from {repo}")
            dest = tmp / "charts" / component
            dest.mkdir(parents=True)
            charts[component] = helm_pull(entry.helm.chart, entry.helm.version, repo, dest)
        return build_bundle(out, sources, charts, catalog=catalog, force=force, progress=progress)
