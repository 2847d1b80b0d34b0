"""`kfboot plan|install|status|uninstall|credentials`: the platform on a cluster.

Each command opens a session (options → platform, cluster, phases, runner) and renders what the
runner reports. Heavy modules load inside the commands.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kfboot.cli.context import GlobalOptions, get_options, open_session, print_json, stderr_console
from kfboot.cli.errors import handles_errors
from kfboot.cli.options import BundleOption, ChartOption, FileOption, ManifestsOption, chart_paths

if TYPE_CHECKING:
    from kfboot.engine.events import RunSummary
    from kfboot.engine.phase import Phase
    from kfboot.k8s.client import Kube


DetailedExitcodeOption = typer.Option(
    False, "--detailed-exitcode",
    help="Exit 0 when nothing would change, 2 when install would change something (drift, upgrade, missing phase); "
         "1 on errors (terraform/helmfile convention).")


def register(app: typer.Typer) -> None:
    for command in (plan, install, status, uninstall, credentials):
        app.command()(command)


def _rows(phases: list[Phase], *, reverse: bool = False) -> list[tuple[str, str]]:
    """Live-table rows in the order phases run (dependency order; reversed for uninstall)."""
    from kfboot.engine.dag import topological

    titles = {p.name: p.title for p in phases}
    order = topological({p.name: p.needs for p in phases})
    return [(name, titles[name]) for name in (reversed(order) if reverse else order)]


def _confirm(opts: GlobalOptions, kube: Kube, what: str) -> None:
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


def _finish(opts: GlobalOptions, summary: RunSummary) -> None:
    from kfboot.cli.ui import print_summary

    print_summary(opts, summary)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


@handles_errors
def plan(
    ctx: typer.Context,
    file: Path = FileOption,
    offline: bool = typer.Option(False, "--offline", help="Do not contact a cluster: show the phase graph and what install would do."),
    manifests: Path = ManifestsOption,
    bundle: Path = BundleOption,
    chart: list[str] = ChartOption,
    detailed_exitcode: bool = DetailedExitcodeOption,
    objects: bool = typer.Option(False, "--objects", help="List the objects each changing phase would create, "
                                 "re-apply or prune (from its rendering and the recorded inventory)."),
    diff: bool = typer.Option(False, "--diff", help="Compare every object with the live one, field by field "
                              "(implies --objects; needs the cluster)."),
) -> None:
    """Show the phase graph, pinned versions and what `install` would do (and why). Changes nothing.

    \b
    Examples:
      kfboot plan --offline                     # the embedded default platform, no cluster
      kfboot plan --offline -f kfboot.yaml      # check a config file
      kfboot plan -f kfboot.yaml --context prod # against a cluster: drift, upgrades, resumes
      kfboot plan --context prod --detailed-exitcode   # CI gate: exit 2 when install would change something
      kfboot plan --context prod --diff --bundle ./kf-bundle   # field-level diff of every object
    """
    from kfboot.cli.plan_view import show_plan
    from kfboot.errors import UsageError
    from kfboot.phases.ownership import check_phase_ownership

    if diff and offline:
        raise UsageError("--diff compares with the live objects: it needs the cluster", hint="drop --offline")
    session = open_session(ctx, file=file, manifests=manifests, bundle=bundle, offline=offline,
                           charts=chart_paths(chart))
    check_phase_ownership(session.phases)  # every phase owns what its objects rely on
    runner = session.runner()
    planned = runner.plan(offline=offline)
    changes = None
    if objects or diff:
        from kfboot.phases.object_plan import object_changes

        services = session.services()
        changes = {p.phase.name: object_changes(p.phase, p.record, services, session.kube if diff else None)
                   for p in planned if p.phase.enabled and (p.action.kind.changes or diff)}
    show_plan(get_options(ctx), runner, planned, None if offline else session.kube, session.notes, changes)
    _detailed_exit(detailed_exitcode, planned)


def _detailed_exit(wanted: bool, planned: list[Any]) -> None:
    from kfboot.errors import EXIT_USAGE

    if wanted and any(p.action.kind.changes for p in planned):
        raise typer.Exit(EXIT_USAGE)


@handles_errors
def install(
    ctx: typer.Context,
    file: Path = FileOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan, then validate with server-side dry run; change nothing."),
    parallel: int = typer.Option(None, "--parallel", min=1, max=32, help="Phases to run at once (default: config, 4)."),
    manifests: Path = ManifestsOption,
    bundle: Path = BundleOption,
    chart: list[str] = ChartOption,
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
      kfboot install --manifests ~/src/manifests --chart kuberay=./kuberay-operator-1.3.2.tgz --context prod --yes
    """
    from kfboot.cli.ui import Reporter
    from kfboot.errors import KfbootError
    from kfboot.phases.build import prefetch_cache_bundle
    from kfboot.phases.external import preflight_external

    opts = get_options(ctx)
    session = open_session(ctx, file=file, manifests=manifests, bundle=bundle, charts=chart_paths(chart))
    phases = session.phases
    try:
        preflight_external(session.kube, session.platform)  # `external: true` components: there? (writes nothing)
        prefetch_cache_bundle(phases)  # digests from content from the first install on
    except KfbootError as exc:  # still a summary of every phase: none started, and why
        operation = "install --dry-run" if dry_run else "install"
        _finish(opts, session.runner().stopped(operation, {}, time.monotonic(), exc))
        return
    if not dry_run:
        _confirm(opts, session.kube, "install into")
    for note in session.notes:  # what kfboot chose by itself (kind clusters)
        if opts.json:
            print_json({"event": "note", "message": note})
        else:
            stderr_console().print(f"note: {note}", markup=False, highlight=False)
    with Reporter(opts, _rows(phases)) as reporter:
        summary = session.runner(reporter, parallel=parallel).install(dry_run=dry_run)
    _finish(opts, summary)


@handles_errors
def status(ctx: typer.Context, file: Path = FileOption, manifests: Path = ManifestsOption,
           bundle: Path = BundleOption, chart: list[str] = ChartOption,
           detailed_exitcode: bool = DetailedExitcodeOption) -> None:
    """What is installed (from the recorded state) and whether it is still ready (live check).

    With --detailed-exitcode: 0 when every enabled phase is installed and ready, 2 on drift.
    """
    from kfboot.cli.plan_view import show_status

    runner = open_session(ctx, file=file, manifests=manifests, bundle=bundle, charts=chart_paths(chart)).runner()
    planned = runner.plan()
    show_status(get_options(ctx), planned, runner.store.load())
    _detailed_exit(detailed_exitcode, planned)


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

    opts = get_options(ctx)
    session = open_session(ctx, file=file, manifests=manifests, bundle=bundle)
    phases = session.phases
    _confirm(opts, session.kube, "uninstall from")
    with Reporter(opts, _rows(phases, reverse=True)) as reporter:
        summary = session.runner(reporter, purge_crds=purge_crds, force=force).uninstall(
            phases_to_remove or None, with_dependents=with_dependents)
    _finish(opts, summary)


@handles_errors
def credentials(
    ctx: typer.Context,
    show: bool = typer.Option(False, "--show", help="Print the password itself (stdout), not how to read it."),
) -> None:
    """Dex's login: the email and how to get the password (kfboot generates one; upstream's 12341234 is never used)."""
    from kfboot.phases.credentials import login_info, login_text

    opts = get_options(ctx)
    info: dict[str, Any] = login_info(open_session(ctx).kube, show=show)
    if opts.json:
        print_json({"event": "credentials", **{k: v for k, v in info.items() if k != "command"}})
        return
    sys.stdout.write("\n".join(login_text(info, show)) + "\n")
