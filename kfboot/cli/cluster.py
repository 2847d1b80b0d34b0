"""`kfboot cluster create|delete|config` (kind clusters) and `kfboot ci github` (the e2e workflow).

Only typer is imported at module level; the kind package loads inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from kfboot.cli.context import GlobalOptions, get_options, print_json, stderr_console
from kfboot.cli.errors import handles_errors

cluster_app = typer.Typer(
    help=("Local kind clusters for CI and laptops, pinned like kubeflow/manifests' own CI (kind release, node "
          "image by digest), with the API-server settings Kubeflow needs and, with --gpus, NVIDIA GPUs inside "
          "the nodes.\n\n"
          "Typical use: `kfboot cluster create && kfboot install --context kind-kfboot`."),
    no_args_is_help=True,
)
ci_app = typer.Typer(help="Continuous-integration files for your repository.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")
    app.add_typer(ci_app, name="ci")

NameOption = typer.Option("kfboot", "--name", "-n", envvar="KIND_CLUSTER_NAME",
                          help="kind cluster name; the kube context is kind-NAME.")
WorkersOption = typer.Option(None, "--workers", min=0, max=32, help="Worker nodes (default: the pinned 2).")
ImageOption = typer.Option(None, "--node-image", metavar="IMAGE@sha256:…",
                           help="kind node image (default: the pinned kindest/node, by digest; see `kfboot versions`).")
GpusOption = typer.Option(None, "--gpus", metavar="all|N",
                          help="Give worker nodes NVIDIA GPUs of this host: all of them, or the first N.")
PerWorkerOption = typer.Option(None, "--gpus-per-worker", min=1,
                               help="Spread the GPUs over several workers, this many each (default: all on one).")
MirrorOption = typer.Option(None, "--registry-mirror", metavar="[REGISTRY=]URL",
                            help="Pull through a mirror (repeatable); a bare URL mirrors docker.io.")
FileOption = typer.Option(None, "--file", "-f", dir_okay=False,
                          help="Platform config (kfboot.yaml): preflight sizes the host for what it enables.")


def _emitter(opts: GlobalOptions) -> Any:
    """Events as NDJSON (-o json) or as lines on stderr for people."""
    if opts.json:
        return print_json
    console = stderr_console()
    marks = {"ok": "✔", "warning": "!", "error": "✘", "ignored": "–", "skipped": "·"}

    def show(event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "preflight":
            status = event["status"]
            suffix = " (ignored)" if status == "ignored" else ""
            line = f"{marks.get(status, ' ')} {event['check']:<18} {event['message']}{suffix}"
            console.print(line, markup=False, highlight=False)
            if event.get("fix") and status in {"warning", "error", "ignored"}:
                console.print(f"  fix: {event['fix']}", markup=False, highlight=False)
        elif kind == "progress":
            console.print(f"• {event['message']}", markup=False, highlight=False)
        elif kind == "warning":
            console.print(f"warning: {event['message']}", markup=False, highlight=False)
        elif kind == "config":
            sys.stdout.write(event["yaml"])

    return show


def _certs_dir(name: str) -> Path:
    from kfboot.sources.phase_sources import cache_dir

    return cache_dir() / "kind" / name / "certs.d"


def _request(ctx: typer.Context, *, name: str, workers: int | None, node_image: str | None, gpus: str | None,
             per_worker: int | None, mirrors: list[str] | None, file: Path | None, wait: str = "5m",
             ignore: str | None = None, dry_run: bool = False) -> Any:
    from kfboot.config.catalog import load_catalog
    from kfboot.config.platform import load_platform
    from kfboot.kind import config as kc
    from kfboot.kind import preflight as pf
    from kfboot.kind.cluster import CreateRequest

    catalog = load_catalog()
    image = node_image or catalog.kind.node_image
    request = kc.parse_gpus(gpus, per_worker)
    parsed_mirrors = tuple(kc.parse_mirror(m) for m in mirrors or [])
    wanted = None if not request.wanted else (request.count or 0)
    requirements = pf.requirements_for(load_platform(file), catalog, gpus=wanted, node_image=image)
    return CreateRequest(
        name=name, node_image=image, workers=catalog.kind.workers if workers is None else workers, gpus=request,
        mirrors=parsed_mirrors, certs_dir=_certs_dir(name) if parsed_mirrors else None, requirements=requirements,
        ignored=pf.parse_ignored(ignore), wait=kc.parse_duration(wait), kubeconfig=get_options(ctx).kubeconfig,
        dry_run=dry_run)


def _finish(opts: GlobalOptions, summary: dict[str, Any], text: str) -> None:
    if opts.json:
        print_json(summary)
    else:
        stderr_console().print(text, markup=False, highlight=False)


@cluster_app.command("create")
@handles_errors
def create(
    ctx: typer.Context,
    name: str = NameOption,
    workers: int = WorkersOption,
    node_image: str = ImageOption,
    gpus: str = GpusOption,
    gpus_per_worker: int = PerWorkerOption,
    registry_mirror: list[str] = MirrorOption,
    wait: str = typer.Option("5m", "--wait", help="How long to wait for every node to be Ready (90s, 5m, 1h)."),
    ignore_preflight_errors: str = typer.Option(
        None, "--ignore-preflight-errors", metavar="CHECK,…|all",
        help=("Go ahead despite these failed checks (reported as ignored), as kubeadm does. Checks: Kind, "
              "KindVersion, Docker, DockerDaemon, InotifyWatches, InotifyInstances, NumCPU, Mem, DiskSpace, "
              "NvidiaDriver, NvidiaRuntime, NvidiaVolumeMounts.")),
    file: Path = FileOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Run the preflight and print the kind config; create nothing."),
) -> None:
    """Create a kind cluster (or reuse the one of that name), wait until every node is Ready, switch context.

    Preflight runs first and stops on a failed check, naming the fix: kind and docker installed and the
    daemon reachable, kind new enough for the node image, inotify limits, and (warnings) CPUs, memory
    and disk against what the enabled platform needs. With --gpus it also checks the NVIDIA driver and
    the Container Toolkit's Docker setup, then installs the toolkit in each GPU node (docker exec),
    configures containerd and creates the `nvidia` RuntimeClass.

    \b
    Examples:
      kfboot cluster create                                  # kfboot: 1 control plane + 2 workers
      kfboot cluster create --name ci --workers 1 --wait 10m
      kfboot cluster create -f kfboot.yaml --dry-run         # preflight sized for your platform, config shown
      kfboot cluster create --gpus all                       # every GPU of this host on one worker
      kfboot cluster create --gpus 4 --gpus-per-worker 2     # GPUs 0,1 and 2,3 on two workers
      kfboot cluster create --registry-mirror http://mirror.local:5000
      kfboot cluster create --ignore-preflight-errors=InotifyWatches,InotifyInstances
    """
    from kfboot.kind.cluster import create as create_cluster

    opts = get_options(ctx)
    req = _request(ctx, name=name, workers=workers, node_image=node_image, gpus=gpus, per_worker=gpus_per_worker,
                   mirrors=registry_mirror, file=file, wait=wait, ignore=ignore_preflight_errors, dry_run=dry_run)
    summary = create_cluster(req, _emitter(opts))
    if dry_run:
        text = f"preflight passed; nothing created (dry run). Create it with: kfboot cluster create --name {name}"
    else:
        how = "reused" if summary["reused"] else "created"
        text = (f"kind cluster {name} {how}: {len(summary['nodes'])} nodes Ready, context {summary['context']} "
                f"in {summary['elapsed']:.0f}s. Next: kfboot install --context {summary['context']}")
    _finish(opts, summary, text)


@cluster_app.command("delete")
@handles_errors
def delete(ctx: typer.Context, name: str = NameOption) -> None:
    """Delete the kind cluster (its containers and its kube context). Deleting nothing is success.

    \b
    Examples:
      kfboot cluster delete
      kfboot cluster delete --name ci
    """
    from kfboot.kind.cluster import delete as delete_cluster

    opts = get_options(ctx)
    summary = delete_cluster(name, opts.kubeconfig, _emitter(opts))
    _finish(opts, summary, f"kind cluster {name} deleted" if summary["deleted"] else "nothing to delete")


@cluster_app.command("config")
@handles_errors
def config(
    ctx: typer.Context,
    name: str = NameOption,
    workers: int = WorkersOption,
    node_image: str = ImageOption,
    gpus: str = GpusOption,
    gpus_per_worker: int = PerWorkerOption,
    registry_mirror: list[str] = MirrorOption,
) -> None:
    """Print the kind Cluster config `cluster create` would use (kind.x-k8s.io/v1alpha4); creates nothing.

    \b
    Examples:
      kfboot cluster config > kind.yaml && kind create cluster --config kind.yaml
      kfboot cluster config --gpus 2 --workers 3
    """
    from kfboot.kind import config as kc
    from kfboot.kind.cluster import plan_spec

    opts = get_options(ctx)
    req = _request(ctx, name=name, workers=workers, node_image=node_image, gpus=gpus, per_worker=gpus_per_worker,
                   mirrors=registry_mirror, file=None)
    spec = plan_spec(req, None)
    text = kc.render_config(spec)
    if opts.json:
        print_json({"event": "config", "name": spec.name, "context": spec.context, "yaml": text})
        print_json({"event": "summary", "operation": "cluster-config", "ok": True, "exitCode": 0})
        return
    sys.stdout.write(text)


@ci_app.command("github")
@handles_errors
def github(
    ctx: typer.Context,
    config_path: str = typer.Option(None, "--config", metavar="PATH",
                                    help="Your kfboot.yaml, relative to the repository root (default: kfboot's default platform)."),
    gpu_runner: str = typer.Option("gpu", "--gpu-runner", metavar="LABEL",
                                   help="Label of the self-hosted GPU runner for the opt-in GPU job."),
    output: Path = typer.Option(None, "--output", metavar="FILE", dir_okay=False,
                                help="Write the workflow here (e.g. .github/workflows/e2e-kind.yml); default: stdout."),
    install: str = typer.Option(None, "--install", metavar="PIP-SPEC",
                                help="What the workflow pip-installs as kfboot (default: kfboot==<this version>)."),
) -> None:
    """Write a GitHub Actions workflow that tests your platform end to end on a throwaway kind cluster.

    Jobs: a CPU job on ubuntu-latest (free disk, inotify limits, kind, preflight, cluster create, install,
    status, doctor, verify, a second install that must change nothing, uninstall, cluster delete; diagnostics uploaded on
    failure) and an opt-in GPU job for a self-hosted runner (--gpus all, then verify-gpu). Actions are pinned
    by commit SHA; permissions are read-only. Check it with actionlint (give it your runner label in
    .github/actionlint.yaml: `self-hosted-runner: {labels: [LABEL]}`).

    \b
    Examples:
      kfboot ci github --config deploy/kfboot.yaml --output .github/workflows/e2e-kind.yml
      kfboot ci github --gpu-runner a100 > e2e-kind.yml
    """
    from kfboot import __version__
    from kfboot.config.catalog import load_catalog
    from kfboot.kind.workflow import WorkflowOptions, render_workflow

    opts = get_options(ctx)
    options = WorkflowOptions(config=config_path, gpu_runner=gpu_runner, install=install or f"kfboot=={__version__}",
                              output=str(output) if output else None)
    text = render_workflow(options, load_catalog().kind.version)
    if output is None:
        if opts.json:
            print_json({"event": "workflow", "yaml": text})
            print_json({"event": "summary", "operation": "ci-github", "ok": True, "exitCode": 0, "path": None})
        else:
            sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    if opts.json:
        print_json({"event": "summary", "operation": "ci-github", "ok": True, "exitCode": 0, "path": str(output)})
    else:
        stderr_console().print(f"wrote {output}", markup=False, highlight=False)
