"""`kfboot init|schema|version|versions`: the config file and the pinned catalog; no cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from kfboot import __version__
from kfboot.cli.context import get_options, print_json, stderr_console
from kfboot.cli.errors import handles_errors


def register(app: typer.Typer) -> None:
    for command in (init, schema, version, versions):
        app.command()(command)


@handles_errors
def init(
    ctx: typer.Context,
    path: Path = typer.Argument(Path("kfboot.yaml"), help="Where to write the starter config (`-` for stdout)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter kfboot.yaml (all components, pinned versions, GPU sharing examples).

    \b
    Examples:
      kfboot init                      # ./kfboot.yaml
      kfboot init - | less             # to stdout
    """
    from kfboot.config.starter import starter_config
    from kfboot.errors import UsageError

    opts = get_options(ctx)
    text = starter_config()
    if str(path) == "-":
        if opts.json:
            print_json({"event": "init", "path": "-", "config": text})
        else:
            sys.stdout.write(text)
        return
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="pass --force to overwrite it")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: directory {path.parent} does not exist",
                         hint=f"create it first (mkdir -p {path.parent}) or choose another path")
    path.write_text(text, encoding="utf-8")
    if opts.json:
        print_json({"event": "init", "path": str(path)})
    else:
        stderr_console().print(f"wrote {path}; check it with `kfboot plan --offline -f {path}`", markup=False)


def schema(ctx: typer.Context, events: bool = typer.Option(
        False, "--events", help="The schema of `-o json` output lines instead (one object per line, `event` key).")) -> None:
    """Print the JSON Schema of kfboot.yaml (for editors: yaml-language-server, VS Code), or of `-o json` events."""
    import json

    from kfboot.cli.events_schema import events_schema
    from kfboot.config.platform import platform_schema

    document = events_schema() if events else platform_schema()
    if get_options(ctx).json:
        print_json({"event": "schema", "schema": document})
        return
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def version(ctx: typer.Context) -> None:
    """Print kfboot's version and the pinned component versions."""
    from kfboot.config.catalog import load_catalog

    opts = get_options(ctx)
    catalog = load_catalog()
    pins = {name: entry.default_version for name, entry in catalog.components.items()}
    src = catalog.sources["kubeflow-manifests"]
    if opts.json:
        print_json({"event": "version", "kfboot": __version__, "components": pins, "kubeflowManifests": src.model_dump()})
        return
    sys.stdout.write(f"kfboot {__version__}\nkubeflow/manifests {src.version} ({src.commit})\n")
    for name, ver in pins.items():
        sys.stdout.write(f"  {name:<14} {ver}\n")


def versions(ctx: typer.Context) -> None:
    """Print the component catalog: every pinned upstream source (URL, version, chart or paths)."""
    from kfboot.config.catalog import load_catalog

    opts = get_options(ctx)
    catalog = load_catalog()
    if opts.json:
        print_json({"event": "catalog", **catalog.model_dump(by_alias=True)})
        return
    out = sys.stdout.write
    for name, src in catalog.sources.items():
        out(f"source {name}: {src.repo} {src.version} (commit {src.commit})\n  archive {src.archive}\n")
    out(f"kind {catalog.kind.version}, node image {catalog.kind.node_image} (`kfboot cluster create`)\n")
    for name, entry in catalog.components.items():
        needs = f" (needs {', '.join(entry.needs)})" if entry.needs else ""
        out(f"\n{name} {entry.default_version}: {entry.title}{needs}\n")
        if entry.helm:
            h = entry.helm
            out(f"  helm chart {h.chart} from {h.repo}; release {h.namespace}/{h.release}; "
                f"selectable: {', '.join(h.versions)}\n")
        if entry.manifests:
            m = entry.manifests
            for path in m.paths:
                out(f"  {m.source}/{path}\n")
            for app_name, paths in m.apps.items():
                out(f"  [{app_name}] " + ", ".join(paths) + "\n")
            for path in m.serverless_paths:
                out(f"  [Serverless] {path}\n")
    if catalog.not_included:
        out("\nnot included (upstream has them; kfboot does not install them):\n")
        for name, item in catalog.not_included.items():
            out(f"  {name}: {item.title} ({item.path}): {item.reason}\n")
