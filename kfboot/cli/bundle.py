"""`kfboot bundle pull|build|images|verify`: air-gapped installs.

A bundle is made once where the sources are reachable and copied across the air gap; install,
plan and render then read only verified files from it. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from kfboot.cli.context import get_options, open_session, print_json, progress_printer, stderr_console
from kfboot.cli.errors import handles_errors

bundle_app = typer.Typer(
    help=("Bundles for air-gapped installs: rendered manifests, packaged charts, an index with the sha256 of "
          "every file and every image. Make one with `pull` (network) or `build` (local sources), copy it, "
          "then `kfboot install --bundle DIR`."),
    no_args_is_help=True,
)

BundleDirArgument = typer.Argument(..., help="Bundle directory.", file_okay=False)
ForceOption = typer.Option(False, "--force", help="Replace an existing, non-empty directory.")


def register(app: typer.Typer) -> None:
    app.add_typer(bundle_app, name="bundle")


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    from kfboot.errors import UsageError

    out: dict[str, str] = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise UsageError(f"{option} {value!r}: expected NAME=VALUE")
        out[name] = rest
    return out


def _report(ctx: typer.Context, out: Path, index: Any) -> None:
    opts = get_options(ctx)
    summary = {"event": "bundle", "path": str(out), "files": len(index.files), "images": len(index.images),
               "charts": {c.component: c.version for c in index.charts}, "paths": len(index.manifests)}
    if opts.json:
        print_json(summary)
        return
    stderr_console().print(f"wrote {out}: {len(index.manifests)} rendered paths, {len(index.charts)} charts, "
                           f"{len(index.images)} images, {len(index.files)} files (index: {out}/bundle.yaml)",
                           markup=False, highlight=False)


@bundle_app.command("pull")
@handles_errors
def bundle_pull(
    ctx: typer.Context,
    directory: Path = BundleDirArgument,
    archive_url: str = typer.Option(None, "--archive-url",
                                    help="Mirror of the kubeflow/manifests tag archive (https:// or file://)."),
    chart_repo: list[str] = typer.Option(None, "--chart-repo", metavar="COMPONENT=URL",
                                         help="Mirror of a chart repository (repeatable), e.g. kuberay=https://…"),
    force: bool = ForceOption,
) -> None:
    """Download the pinned manifests archive and charts, render everything, write the bundle (needs network)."""
    from kfboot.sources.pull import pull_bundle

    urls = {"kubeflow-manifests": archive_url} if archive_url else {}
    index = pull_bundle(directory, archive_urls=urls, chart_repos=_pairs(chart_repo, "--chart-repo"), force=force,
                        progress=progress_printer(ctx))
    _report(ctx, directory, index)


@bundle_app.command("build")
@handles_errors
def bundle_build(
    ctx: typer.Context,
    directory: Path = BundleDirArgument,
    manifests: Path = typer.Option(..., "--manifests", file_okay=False,
                                   help="A kubeflow/manifests checkout at the pinned tag."),
    chart: list[str] = typer.Option(None, "--chart", metavar="NAME=PATH",
                                    help="Chart of a Helm component (repeatable): unpacked directory or .tgz."),
    force: bool = ForceOption,
    file: Path = typer.Option(None, "--file", "-f", dir_okay=False,
                              help="Bundle only what this kfboot.yaml installs (its components and apps)."),
) -> None:
    """Make a bundle from local sources (mirrors, tests); remote kustomize bases must be reachable or vendored.

    With -f kfboot.yaml only what that platform installs is rendered and packed (and only its charts
    are needed): a tree whose unused apps have remote bases still makes a bundle offline.
    """
    from kfboot.sources.build import build_bundle

    charts = {name: Path(path) for name, path in _pairs(chart, "--chart").items()}
    session = open_session(ctx, file=file, manifests=manifests, charts=charts, offline=True)
    trees, charts = session.local_sources()
    index = build_bundle(directory, trees, charts, force=force, platform=session.platform if file else None,
                         progress=progress_printer(ctx))
    _report(ctx, directory, index)


@bundle_app.command("images")
@handles_errors
def bundle_images(ctx: typer.Context, directory: Path = BundleDirArgument) -> None:
    """Print every container image the bundle's stack uses, one per line (for mirroring)."""
    from kfboot.sources.bundle import Bundle

    bundle = Bundle.open(directory)
    if get_options(ctx).json:
        print_json({"event": "images", "images": bundle.index.images})
        return
    sys.stdout.write("".join(image + "\n" for image in bundle.index.images))


@bundle_app.command("verify")
@handles_errors
def bundle_verify(ctx: typer.Context, directory: Path = BundleDirArgument) -> None:
    """Check every file against the index (sha256) and that the bundle matches this kfboot's pins."""
    from kfboot.config.catalog import load_catalog
    from kfboot.errors import KfbootError
    from kfboot.sources.bundle import Bundle

    bundle = Bundle.open(directory, load_catalog())
    problems = bundle.verify()
    if problems:
        raise KfbootError("\n".join(problems), hint="copy the bundle again or rebuild it")
    if get_options(ctx).json:
        print_json({"event": "verified", "path": str(directory), "files": len(bundle.index.files)})
    else:
        stderr_console().print(f"{directory}: all {len(bundle.index.files)} files match the index", markup=False)
