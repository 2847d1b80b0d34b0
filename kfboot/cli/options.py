"""Command options several families share (`-f`, `--manifests`, `--bundle`), defined once."""

from __future__ import annotations

import typer

FileOption = typer.Option(None, "--file", "-f", help="Platform config (kfboot.yaml); default: the embedded default platform.",
                          exists=False, dir_okay=False)
ManifestsOption = typer.Option(None, "--manifests", help="Local kubeflow/manifests checkout (pinned tag) instead of downloading it.",
                               file_okay=False)
BundleOption = typer.Option(None, "--bundle", help="Install from a verified bundle (`kfboot bundle pull|build`): no network.",
                            file_okay=False)
