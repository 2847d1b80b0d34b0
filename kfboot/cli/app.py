"""kfboot's command line. Heavy modules (kubernetes, pyhelm3, jinja2, pydantic) load inside commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from kfboot import __version__
from kfboot.cli.context import GlobalOptions, OutputFormat, get_options, print_json, stderr_console
from kfboot.cli.errors import handles_errors

GLOBAL_WITH_VALUE = ("--kubeconfig", "--context", "--output", "-o", "--timeout")
GLOBAL_FLAGS = ("--yes", "-y")


def _is_verbose(arg: str) -> bool:
    return arg == "--verbose" or (arg.startswith("-v") and set(arg[1:]) == {"v"})


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options that follow the command name in front of it (pure, for the root group)."""
    command_at = next((i for i, a in enumerate(args)
                       if not a.startswith("-") and (i == 0 or args[i - 1] not in GLOBAL_WITH_VALUE)), None)
    if command_at is None:
        return args
    front, rest = list(args[:command_at]), []
    tail = iter(args[command_at:])
    for arg in tail:
        if arg == "--":  # everything after it is the command's own
            rest += [arg, *tail]
            break
        if arg.split("=", 1)[0] in GLOBAL_WITH_VALUE:
            front.append(arg)
            if "=" not in arg:
                value = next(tail, None)
                if value is not None:
                    front.append(value)
        elif arg in GLOBAL_FLAGS or _is_verbose(arg):
            front.append(arg)
        else:
            rest.append(arg)
    return front + rest


class _GlobalOptionsAnywhere(TyperGroup):
    """kubectl habit: `kfboot install --context prod` works like `kfboot --context prod install`.

    Global options found after the command are moved in front of it before parsing.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))


app = typer.Typer(
    cls=_GlobalOptionsAnywhere,
    name="kfboot",
    help=(
        "Bring a Kubernetes cluster from empty to a working AI/ML platform: NVIDIA GPU Operator, "
        "cert-manager, Istio, Dex + oauth2-proxy, Kubeflow, KubeRay and KServe, installed as ordered, "
        "idempotent phases.\n\n"
        "Start with `kfboot plan --offline` (no cluster needed), then `kfboot install --context NAME`."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,  # rich help formatting costs ~0.25 s of start-up (benchmarks/bench_help.py)
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

FileOption = typer.Option(None, "--file", "-f", help="Platform config (kfboot.yaml); default: the embedded default platform.",
                          exists=False, dir_okay=False)
ManifestsOption = typer.Option(None, "--manifests", help="Local kubeflow/manifests checkout (pinned tag) instead of downloading it.",
                               file_okay=False)
BundleOption = typer.Option(None, "--bundle", help="Install from a verified bundle (`kfboot bundle pull|build`): no network.",
                            file_okay=False)


@app.callback()
def main_options(
    ctx: typer.Context,
    kubeconfig: Path = typer.Option(None, "--kubeconfig", envvar="KUBECONFIG", help="Path to the kubeconfig file."),
    context: str = typer.Option(None, "--context", help="Kubeconfig context (cluster) to use."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", "-o",
                                        help="text for humans (stderr), json for machines (NDJSON on stdout)."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More detail (repeat for more)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Change the cluster without asking for confirmation."),
    timeout: float = typer.Option(None, "--timeout", min=1, help="Seconds each phase may take to become ready."),
) -> None:
    kubeconfig_path = None
    if kubeconfig:
        first = str(kubeconfig).split(":")[0]  # KUBECONFIG may be a list; the client reads the first
        kubeconfig_path = Path(first)
    ctx.obj = GlobalOptions(kubeconfig_path, context, output, verbose, yes, timeout)


# -- shared helpers ----------------------------------------------------------------------------------
def _load(file: Path | None) -> Any:
    from kfboot.config.platform import load_platform

    return load_platform(file)


def _connect(opts: GlobalOptions) -> Any:
    from kfboot.k8s.client import Kube

    kube = Kube.connect(opts.kubeconfig, opts.context)
    kube.preflight()
    return kube


def _phases(platform: Any, kube: Any, manifests: Path | None, bundle: Path | None = None) -> list[Any]:
    from kfboot.errors import UsageError
    from kfboot.phases.build import BuildOptions, build_phases

    if bundle is not None and manifests is not None:
        raise UsageError("--bundle and --manifests are exclusive", hint="a bundle already holds the rendered manifests")
    is_kind = bool(kube is not None and kube.target.is_kind)
    return build_phases(platform, BuildOptions(kind_cluster=is_kind, manifests_root=manifests, bundle=bundle))


def _setup(ctx: typer.Context, file: Path | None, manifests: Path | None, bundle: Path | None,
           *, connect: bool = True) -> tuple[GlobalOptions, Any, Any, list[Any]]:
    """What every cluster command starts with: options, the Platform, the cluster, the phases."""
    opts = get_options(ctx)
    platform = _load(file)
    kube = _connect(opts) if connect else None
    return opts, platform, kube, _phases(platform, kube, manifests, bundle)


def _runner(opts: GlobalOptions, platform: Any, phases: list[Any], kube: Any, reporter: Any,
            parallel: int | None = None, purge_crds: bool = False, force: bool = False) -> Any:
    from kfboot.engine.lock import LeaseLock
    from kfboot.engine.runner import Runner
    from kfboot.engine.state import STATE_NAMESPACE, ConfigMapStateStore, MemoryStateStore
    from kfboot.helm import Helm

    store = ConfigMapStateStore(kube) if kube is not None else MemoryStateStore()
    return Runner(
        phases,
        kube=kube,
        store=store,
        emit=reporter,
        parallel=parallel or platform.install.parallel,
        timeout=opts.timeout or platform.install.timeout,
        lock_factory=(lambda: LeaseLock(kube, STATE_NAMESPACE, warn=reporter.warn)) if kube is not None else None,
        services={"helm_factory": lambda: Helm(opts.kubeconfig, opts.context)},
        purge_crds=purge_crds,
        force=force,
    )


def _rows(phases: list[Any], *, reverse: bool = False) -> list[tuple[str, str]]:
    """Live-table rows in the order phases run (dependency order; reversed for uninstall)."""
    from kfboot.engine.dag import topological

    titles = {p.name: p.title for p in phases}
    order = topological({p.name: p.needs for p in phases})
    return [(name, titles[name]) for name in (reversed(order) if reverse else order)]


def _confirm(opts: GlobalOptions, kube: Any, what: str) -> None:
    """Show the target; require --yes (or a typed yes) unless it is a kind cluster."""
    from kfboot.errors import UsageError

    target = kube.target
    if not opts.json:
        version = kube.git_version
        stderr_console().print(f"target: context [bold]{target.context}[/], API server {target.server}"
                               + (f" (Kubernetes {version})" if version else ""))
    if opts.yes or target.is_kind:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {what} context {target.context} without confirmation",
                         hint="pass --yes to confirm (kind-* contexts need no confirmation)")
    if not typer.confirm(f"{what.capitalize()} context {target.context} ({target.server})?", err=True):
        raise typer.Exit(1)


def _finish(opts: GlobalOptions, summary: Any) -> None:
    from kfboot.cli.ui import print_summary

    print_summary(opts, summary)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


# -- commands ----------------------------------------------------------------------------------------
@app.command()
@handles_errors
def plan(
    ctx: typer.Context,
    file: Path = FileOption,
    offline: bool = typer.Option(False, "--offline", help="Do not contact a cluster: show the phase graph and what install would do."),
    manifests: Path = ManifestsOption,
    bundle: Path = BundleOption,
) -> None:
    """Show the phase graph, pinned versions and what `install` would do (and why). Changes nothing.

    \b
    Examples:
      kfboot plan --offline                     # the embedded default platform, no cluster
      kfboot plan --offline -f kfboot.yaml      # check a config file
      kfboot plan -f kfboot.yaml --context prod # against a cluster: drift, upgrades, resumes
    """
    from kfboot.cli.plan_view import show_plan
    from kfboot.phases.ownership import check_phase_ownership

    opts, platform, kube, phases = _setup(ctx, file, manifests, bundle, connect=not offline)
    check_phase_ownership(phases)
    runner = _runner(opts, platform, phases, kube, lambda _e: None)
    planned = runner.plan(offline=offline)
    show_plan(opts, runner, planned, kube)


@app.command()
@handles_errors
def install(
    ctx: typer.Context,
    file: Path = FileOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan, then validate with server-side dry run; change nothing."),
    parallel: int = typer.Option(None, "--parallel", min=1, max=32, help="Phases to run at once (default: config, 4)."),
    manifests: Path = ManifestsOption,
    bundle: Path = BundleOption,
) -> None:
    """Install or upgrade every enabled phase, in dependency order; re-running converges, never duplicates.

    Only phases whose config changed, that failed or were interrupted, or whose objects drifted are
    touched. Progress is recorded in ConfigMap kfboot-system/kfboot-state; a Lease prevents two runs.

    \b
    Examples:
      kfboot install --context kind-kfboot                 # kind: no confirmation needed
      kfboot install -f kfboot.yaml --context prod --yes   # any other cluster: --yes (or answer yes)
      kfboot install -f kfboot.yaml --context prod --dry-run
      kfboot -o json install --context kind-ci --yes       # CI: NDJSON events, summary last
      kfboot install --bundle ./kf-bundle --context prod --yes   # air-gapped
    """
    from kfboot.cli.ui import Reporter
    from kfboot.phases.external import preflight_external

    opts, platform, kube, phases = _setup(ctx, file, manifests, bundle)
    preflight_external(kube, platform)  # before anything is written
    from kfboot.sources.phase_sources import prefetch_cache_bundle

    prefetch_cache_bundle(phases)
    if not dry_run:
        _confirm(opts, kube, "install into")
    with Reporter(opts, _rows(phases)) as reporter:
        runner = _runner(opts, platform, phases, kube, reporter, parallel)
        summary = runner.install(dry_run=dry_run)
    _finish(opts, summary)


@app.command()
@handles_errors
def status(ctx: typer.Context, file: Path = FileOption, manifests: Path = ManifestsOption,
           bundle: Path = BundleOption) -> None:
    """What is installed (from the recorded state) and whether it is still ready (live check)."""
    from kfboot.cli.plan_view import show_status

    opts, platform, kube, phases = _setup(ctx, file, manifests, bundle)
    runner = _runner(opts, platform, phases, kube, lambda _e: None)
    show_status(opts, runner, runner.plan(), runner.store.load())


@app.command()
@handles_errors
def uninstall(
    ctx: typer.Context,
    phases_to_remove: list[str] = typer.Argument(None, metavar="[PHASE]", help="Phases to remove (default: all)."),
    file: Path = FileOption,
    purge_crds: bool = typer.Option(False, "--purge-crds", help="Also delete CRDs (and every custom resource of them)."),
    force: bool = typer.Option(False, "--force", help="Strip finalizers of objects still stuck when --timeout runs out."),
    with_dependents: bool = typer.Option(False, "--with-dependents",
                                         help="Also remove installed phases that need the named ones (first)."),
    manifests: Path = ManifestsOption,
    bundle: Path = BundleOption,
) -> None:
    """Remove installed phases in reverse dependency order and wait until their objects are gone.

    A named phase that installed phases still need (e.g. istio while dex, kserve or kubeflow are
    installed) is refused unless --with-dependents.

    Webhook configurations go first so they cannot block other deletions; CRDs stay unless
    --purge-crds; objects stuck on finalizers are reported (with the finalizers) and left alone
    unless --force.

    \b
    Examples:
      kfboot uninstall kserve --context prod --yes      # one phase (and nothing it needs)
      kfboot uninstall istio --with-dependents --yes    # istio and dex, kserve, kubeflow
      kfboot uninstall --context kind-kfboot --purge-crds
    """
    from kfboot.cli.ui import Reporter

    opts, platform, kube, phases = _setup(ctx, file, manifests, bundle)
    _confirm(opts, kube, "uninstall from")
    with Reporter(opts, _rows(phases, reverse=True)) as reporter:
        runner = _runner(opts, platform, phases, kube, reporter, purge_crds=purge_crds, force=force)
        summary = runner.uninstall(phases_to_remove or None, with_dependents=with_dependents)
    _finish(opts, summary)


@app.command()
@handles_errors
def credentials(
    ctx: typer.Context,
    show: bool = typer.Option(False, "--show", help="Print the password itself (stdout), not how to read it."),
) -> None:
    """Dex's login: the email and how to get the password (kfboot generates one; upstream's 12341234 is never used)."""
    from kfboot.phases.credentials import login_info, login_text

    opts = get_options(ctx)
    info = login_info(_connect(opts), show=show)
    if opts.json:
        print_json({k: v for k, v in info.items() if k != "command"})
        return
    sys.stdout.write("\n".join(login_text(info, show)) + "\n")


@app.command()
@handles_errors
def init(
    path: Path = typer.Argument(Path("kfboot.yaml"), help="Where to write the starter config."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter kfboot.yaml (all components, pinned versions, GPU sharing examples)."""
    from kfboot.config.starter import starter_config
    from kfboot.errors import UsageError

    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="pass --force to overwrite it")
    path.write_text(starter_config(), encoding="utf-8")
    stderr_console().print(f"wrote {path}; check it with `kfboot plan --offline -f {path}`")


@app.command()
def schema() -> None:
    """Print the JSON Schema of kfboot.yaml (for editors: yaml-language-server, VS Code)."""
    import json

    from kfboot.config.platform import platform_schema

    sys.stdout.write(json.dumps(platform_schema(), indent=2) + "\n")


@app.command()
def version(ctx: typer.Context) -> None:
    """Print kfboot's version and the pinned component versions."""
    from kfboot.config.catalog import load_catalog

    opts = get_options(ctx)
    catalog = load_catalog()
    pins = {name: entry.default_version for name, entry in catalog.components.items()}
    src = catalog.sources["kubeflow-manifests"]
    if opts.json:
        print_json({"kfboot": __version__, "components": pins, "kubeflowManifests": src.model_dump()})
        return
    sys.stdout.write(f"kfboot {__version__}\nkubeflow/manifests {src.version} ({src.commit})\n")
    for name, ver in pins.items():
        sys.stdout.write(f"  {name:<14} {ver}\n")


@app.command()
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


def _register_subcommands() -> None:
    """Command groups defined in their own modules (each imports only typer at module level)."""
    from kfboot.cli.bundle_commands import bundle_app, render_phases
    from kfboot.cli.gpu_commands import profiles_app, render_app

    render_app.command("phases")(render_phases)
    app.add_typer(profiles_app, name="profiles")
    app.add_typer(render_app, name="render")
    app.add_typer(bundle_app, name="bundle")


_register_subcommands()


def main() -> None:
    app()
