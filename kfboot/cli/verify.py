"""`kfboot verify`: run a real workload through every installed component and say what works.

Output: a live table (component, check, result, duration, reason) on a terminal, plain lines in
CI, NDJSON with `-o json` (one `check` event per change, a `summary` last), JUnit with --junit.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import typer

from kfboot.cli.context import get_options, interactive_stderr, open_session, print_json
from kfboot.cli.errors import handles_errors

ICONS = {"passed": "✔", "failed": "✘", "timed-out": "⏱", "skipped": "–", "cancelled": "⊘", "running": "…",
         "pending": "·"}
STYLES = {"passed": "green", "failed": "red", "timed-out": "red", "skipped": "dim", "cancelled": "yellow"}
FINAL = ("passed", "failed", "timed-out", "skipped", "cancelled")


class CheckTable:
    """Renders check outcomes as they change (called from worker threads)."""

    def __init__(self, options: Any, checks: list[Any]) -> None:
        self.options = options
        self.rows = {c.name: {"component": c.component, "state": "pending", "reason": "", "duration": 0.0,
                              "started": None} for c in checks}
        self.lock = threading.Lock()
        self.mode = "json" if options.json else ("live" if interactive_stderr() else "plain")
        self.live: Any = None

    def __enter__(self) -> CheckTable:
        if self.mode == "live":
            from rich.console import Console
            from rich.live import Live

            # rebuilt on every refresh, so running checks' durations tick between events
            self.live = Live(console=Console(stderr=True), refresh_per_second=4, get_renderable=self._table)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.__exit__(None, None, None)
            self.live = None

    def __call__(self, out: Any) -> None:
        with self.lock:
            row = self.rows.get(out.check)
            if row is None:
                return
            changed = out.state != row["state"]
            if out.state == "running" and row["started"] is None:
                row["started"] = time.monotonic()
            row.update(state=out.state, reason=out.reason, duration=out.duration)
            if self.mode == "json" and (changed or out.state in FINAL):
                print_json({"event": "check", "time": round(time.time(), 3), **out.to_dict()})
            elif self.mode == "plain" and changed:
                extra = f" ({out.duration:.1f}s)" if out.state in FINAL and out.duration else ""
                sys.stderr.write(f"{out.component:<13} {out.check:<34} {out.state:<10} {out.reason}{extra}\n")
                sys.stderr.flush()

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(show_edge=False, box=None, pad_edge=False)
        for col in ("", "component", "check", "result", "duration", "reason"):
            table.add_column(col, no_wrap=col != "reason", overflow="fold")
        now = time.monotonic()
        for name, row in self.rows.items():
            state = row["state"]
            took = row["duration"] or (now - row["started"] if state == "running" and row["started"] else 0.0)
            style = STYLES.get(state, "")
            table.add_row(ICONS.get(state, " "), row["component"], name,
                          f"[{style}]{state}[/]" if style else state, f"{took:.1f}s" if took else "",
                          str(row["reason"])[:160])
        return table


def print_report(options: Any, report: Any) -> None:
    if options.json:
        print_json(report.to_dict())
        return
    from rich.console import Console

    from kfboot.cli.context import console_width

    console = Console(stderr=True, highlight=False, width=console_width())
    for o in report.outcomes:
        if o.state in ("failed", "timed-out", "cancelled") and o.reason:
            console.print(f"[red]{o.state}[/] {o.check}: {o.reason}", markup=True)
            for line in o.evidence:
                console.print(f"    {line}", markup=False)
            if o.next_step:
                console.print(f"    next: {o.next_step}", markup=False)
    counts = report.to_dict()["counts"]
    verdict = "[green]all selected checks passed[/]" if report.ok else f"[red]verify failed[/] (exit {report.exit_code})"
    console.print(f"{verdict}: {counts['passed']} passed, {counts['failed'] + counts['timed-out']} failed, "
                  f"{counts['cancelled']} not run, {counts['skipped']} skipped in {report.elapsed:.1f}s; "
                  + (report.message or f"cleaned up {report.cleaned} test objects"))


def junit_cases(report: Any) -> list[Any]:
    from kfboot.junit import Case

    cases = []
    for o in report.outcomes:
        detail = "\n".join([o.reason, *o.evidence, *([f"next: {o.next_step}"] if o.next_step else [])])
        failed = o.state in ("failed", "timed-out", "cancelled")
        cases.append(Case(o.check, f"kfboot.verify.{o.component}", o.duration,
                          failure=detail if failed else None,
                          skipped=o.reason if o.state == "skipped" else None,
                          output=o.reason if o.state == "passed" else ""))
    return cases


def register(app: typer.Typer) -> None:
    app.command()(verify)


@handles_errors
def verify(
    ctx: typer.Context,
    components: list[str] = typer.Argument(None, metavar="[COMPONENT|CHECK]...",
                                           help="Components (e.g. kserve) or checks (e.g. dex/login); default: all."),
    file: Path = typer.Option(None, "--file", "-f", dir_okay=False,
                              help="Platform config (kfboot.yaml) for KServe's mode and Kubeflow's apps; default: ask the cluster."),
    keep: bool = typer.Option(False, "--keep", help="Leave the test objects in the cluster (to inspect them)."),
    no_gpu: bool = typer.Option(False, "--no-gpu", help="Skip GPU checks and GPU Ray workers."),
    junit: Path = typer.Option(None, "--junit", dir_okay=False, help="Also write a JUnit XML report here."),
    image: list[str] = typer.Option(None, "--image", metavar="KEY=IMAGE",
                                    help="Use another image (keys: busybox, agnhost, notebook, ray); repeatable."),
    model_uri: str = typer.Option(None, "--model-uri",
                                  help="sklearn iris model for KServe: pvc://CLAIM/PATH or oci://IMAGE offline."),
    parallel: int = typer.Option(4, "--parallel", min=1, max=16, help="Checks to run at once."),
) -> None:
    """Prove each installed component works by running a real workload through it.

    cert-manager issues a certificate; Istio injects a sidecar and routes through the gateway; Dex
    logs the initial user in (and refuses a wrong password); Kubeflow creates a profile, a notebook,
    a Katib experiment, a Pipelines run (ServiceAccount token) and a TrainJob; KubeRay runs a
    cluster and a job; KServe serves an sklearn model; the GPU Operator validated every GPU node.
    Test objects are deleted afterwards unless --keep. Exit 0 only if every selected check passed.

    \b
    Examples:
      kfboot verify --context kind-kfboot
      kfboot verify kserve dex --junit verify.xml
      kfboot verify --no-gpu --model-uri pvc://models/sklearn/iris -o json
    """
    from kfboot.config.catalog import load_catalog
    from kfboot.junit import write
    from kfboot.verify import detect, portforward
    from kfboot.verify.run import Verifier, select
    from kfboot.verify.settings import VerifySettings, check_model_uri, default_images, parse_image_overrides

    opts = get_options(ctx)
    checks = select(components or [])
    images = parse_image_overrides(image or [], default_images())
    model = check_model_uri(model_uri) if model_uri else load_catalog().verify.sklearn_model
    session = open_session(ctx, file=file)
    platform = session.platform if file is not None else None  # a config error before the cluster is asked
    kube = session.kube
    if platform is not None:  # the user's choices; without -f, what the cluster shows
        mode, apps = platform.components.kserve.deployment_mode, tuple(platform.components.kubeflow.apps)
    else:
        mode, apps = detect.kserve_mode(kube), detect.kubeflow_apps(kube)
    settings = VerifySettings(images=images, model_uri=model, keep=keep, no_gpu=no_gpu, kserve_mode=mode,
                              kubeflow_apps=apps)
    needs = {name: tuple(entry.needs) for name, entry in load_catalog().components.items()}
    services = {"port_forward": lambda ns, target, port: portforward.forward(
        ns, target, port, kubeconfig=opts.kubeconfig, context=opts.context)}
    with CheckTable(opts, checks) as table:
        verifier = Verifier(kube, settings, records=session.store().load(), component_needs=needs,
                            services=services, emit=table, parallel=parallel, timeout=opts.timeout)
        report = verifier.run(components or [])
    if junit is not None:
        write(junit, "kfboot verify", junit_cases(report))
    print_report(opts, report)
    if report.exit_code:
        raise typer.Exit(report.exit_code)
