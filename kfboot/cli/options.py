"""Command options several families share (`-f`, `--manifests`, `--bundle`), defined once."""

from __future__ import annotations

from pathlib import Path

import typer

FileOption = typer.Option(None, "--file", "-f", help="Platform config (kfboot.yaml); default: the embedded default platform.",
                          exists=False, dir_okay=False)
ManifestsOption = typer.Option(None, "--manifests", help="Local kubeflow/manifests checkout (pinned tag) instead of downloading it.",
                               file_okay=False)
BundleOption = typer.Option(None, "--bundle", help="Install from a verified bundle (`kfboot bundle pull|build`): no network.",
                            file_okay=False)
ChartOption = typer.Option(None, "--chart", metavar="NAME=PATH",
                           help="Local chart of a Helm component (repeatable; unpacked directory or .tgz) instead of its repository.")


def chart_paths(values: list[str] | None) -> dict[str, Path]:
    """`--chart NAME=PATH` values as {component: path}."""
    from kfboot.errors import UsageError

    out: dict[str, Path] = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise UsageError(f"--chart {value!r}: expected NAME=PATH")
        out[name] = Path(rest)
    return out
