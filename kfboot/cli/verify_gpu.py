"""`kfboot verify-gpu`: nvidia-smi and NCCL all_reduce on every GPU node, or `--analyze` saved logs.

Rendering only: judging lives in kfboot.gpu (pure), the cluster flow in kfboot.verify. Heavy modules
(kubernetes, pydantic, matplotlib) are imported inside the command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from kfboot.cli.context import get_options, print_json
from kfboot.cli.errors import handles_errors

STATUS_STYLE = {"passed": "green", "failed": "red", "inconclusive": "yellow", "skipped": "dim"}


def register(app: typer.Typer) -> None:
    app.command("verify-gpu")(verify_gpu)


@handles_errors
def verify_gpu(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(None, metavar="[FILE]...", help="With --analyze: saved outputs to judge."),
    analyze: bool = typer.Option(False, "--analyze", help="Judge saved all_reduce_perf logs (text or -J JSON) and "
                                 "nvidia-smi output instead of running on a cluster."),
    profile: str = typer.Option(None, "--profile", help="Hardware profile (default: from the GPU names)."),
    min_busbw: float = typer.Option(None, "--min-busbw", min=0.001, help="Expected peak busbw in GB/s (overrides the profile)."),
    nics: str = typer.Option(None, "--nics", help="NICs per node for the multi-node expectation, e.g. 8x400G."),
    plot: Path = typer.Option(None, "--plot", help="Also draw busbw against message size into FILE.png or FILE.svg.",
                              dir_okay=False),
    junit: Path = typer.Option(None, "--junit", help="Write a JUnit XML report (one case per check).", dir_okay=False),
    chart: bool = typer.Option(True, "--chart/--no-chart", help="Draw the terminal chart (text output)."),
    node: str = typer.Option(None, "--node", help="With --analyze: the node the nvidia-smi output came from."),
    profiles_dir: Path = typer.Option(None, "--profiles-dir", help="Extra directory of hardware profiles.", file_okay=False),
    nodes: list[str] = typer.Option(None, "--nodes", help="Only these GPU nodes (repeat or comma-separate)."),
    multi_node: bool = typer.Option(False, "--multi-node", help="Also run one all_reduce across the nodes (torchrun)."),
    bisect: bool = typer.Option(False, "--bisect", help="With --multi-node: when it is low, test node pairs to name the slow one."),
    image: str = typer.Option(None, "--image", help="Container image with nccl-tests (and torch for --multi-node)."),
    smi_image: str = typer.Option(None, "--smi-image", help="Container image for nvidia-smi (default: CUDA base)."),
    max_bytes: str = typer.Option("8G", "--max-bytes", help="Largest message (all_reduce_perf -e), at least 1G."),
    parallel: int = typer.Option(4, "--parallel", min=1, max=64, help="Nodes tested at once."),
    keep: bool = typer.Option(False, "--keep", help="Keep the namespace and pods afterwards (to inspect them)."),
    skip_nccl: bool = typer.Option(False, "--skip-nccl", help="Only run nvidia-smi."),
    file: Path = typer.Option(None, "--file", "-f", dir_okay=False,
                              help="kfboot.yaml: check each node's MIG layout against its GPU pool."),
    rdma_resource: str = typer.Option(None, "--rdma-resource", help="With --multi-node: RDMA device resource to "
                                      "request, e.g. rdma/ib (adds IPC_LOCK; the namespace becomes privileged)."),
) -> None:
    """Check every GPU node: nvidia-smi against its labels and profile, NCCL all_reduce against the hardware.

    Verdicts: the peak bus bandwidth over sizes ≥ 1 GiB (never nccl-tests' average) must reach 90 % of
    the expected figure (profile, --nics, or --min-busbw); any wrong value, NCCL error or unfinished log
    fails. Exit 0 only when every check passed.

    \b
    Examples:
      kfboot verify-gpu --context prod                         # every GPU node
      kfboot verify-gpu --context prod --nodes gpu-1,gpu-2 --multi-node --bisect
      kfboot verify-gpu --analyze all_reduce.log --plot busbw.png
      kfboot -o json verify-gpu --analyze a.log b.json --junit report.xml
    """
    from kfboot.errors import UsageError
    from kfboot.gpu.profiles import load_profiles

    opts = get_options(ctx)
    profiles = load_profiles([profiles_dir] if profiles_dir else [])
    if profile:
        profiles.get(profile)  # unknown names fail before any work
    if analyze:
        if not files:
            raise UsageError("--analyze needs at least one FILE", hint="kfboot verify-gpu --analyze all_reduce.log")
        from kfboot.gpu.report import analyze_files

        report, _runs = analyze_files(list(files), profiles, profile_name=profile, min_busbw=min_busbw,
                                      nics=nics, node=node)
    else:
        if files:
            raise UsageError("FILE arguments need --analyze", hint=f"kfboot verify-gpu --analyze {files[0]}")
        report = _live(ctx, opts, profiles, profiles_dir, profile=profile, min_busbw=min_busbw, nics=nics, nodes=nodes,
                       multi_node=multi_node, bisect=bisect, image=image, smi_image=smi_image, max_bytes=max_bytes,
                       parallel=parallel, keep=keep, skip_nccl=skip_nccl, file=file, rdma_resource=rdma_resource)
    if plot is not None:
        from kfboot.cli.gpu_chart import save_chart

        save_chart(plot, report.nccl)
    if junit is not None:
        _write_junit(junit, report)
    if opts.json:
        for event in report.events():
            print_json(event)
    else:
        show_report(report, chart=chart and analyze)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _live(ctx: typer.Context, opts: Any, profiles: Any, profiles_dir: Path | None, **kw: Any) -> Any:
    from kfboot.cli.context import open_session, stderr_console
    from kfboot.verify.gpu_run import LiveOptions, run_verify_gpu

    extra = (profiles_dir,) if profiles_dir else ()
    session = open_session(ctx, file=kw["file"], extra_profile_dirs=extra)
    pools = []
    if kw["file"] is not None:
        platform = session.platform  # a config error is reported before the cluster is contacted
        pools = platform.gpu_plan(extra).pools if platform.gpu.pools else []
    kube = session.kube
    console = stderr_console()
    progress = (lambda _msg: None) if opts.json else (lambda msg: console.print(f"[dim]{msg}[/]"))
    options = LiveOptions(
        profile=kw["profile"], min_busbw=kw["min_busbw"], nics=kw["nics"], nodes=_split(kw["nodes"]),
        multi_node=kw["multi_node"], bisect=kw["bisect"], image=kw["image"], smi_image=kw["smi_image"],
        max_bytes=kw["max_bytes"],
        parallel=kw["parallel"], keep=kw["keep"], skip_nccl=kw["skip_nccl"], timeout=opts.timeout,
        pools=pools, rdma_resource=kw["rdma_resource"],
    )
    return run_verify_gpu(kube, profiles, options, progress=progress)


def _write_junit(path: Path, report: Any) -> None:
    from kfboot import junit

    cases = []
    for s in report.smi:
        cases.append(junit.Case(f"nvidia-smi {s.node}", "verify-gpu.nvidia-smi",
                                failure=None if s.passed else s.reason,
                                output="\n".join(f"{'ok  ' if c.passed else 'FAIL'} {c.name}: {c.reason}" for c in s.checks)))
    for v in report.nccl:
        failure = v.reason if v.status in ("failed", "inconclusive") else None
        cases.append(junit.Case(f"nccl {v.name}", "verify-gpu.nccl", v.seconds, failure=failure,
                                skipped=v.reason if v.status == "skipped" else None, output=v.log))
    junit.write(path, "kfboot verify-gpu", cases)


def show_report(report: Any, *, chart: bool) -> None:
    """Tables (nvidia-smi per node, NCCL per test), optional charts and a one-line summary on stdout."""
    from rich.console import Console
    from rich.table import Table

    from kfboot.cli.context import console_width

    console = Console(highlight=False, width=console_width())
    if report.smi:
        table = Table(title="nvidia-smi", show_edge=False, box=None, title_justify="left")
        for col in ("node", "result", "GPUs", "driver", "detail"):
            table.add_column(col, overflow="fold")
        for s in report.smi:
            status = "passed" if s.passed else "failed"
            table.add_row(s.node, f"[{STATUS_STYLE[status]}]{status}[/]", str(s.gpus), s.driver or "", s.reason)
        console.print(table)
    if report.nccl:
        table = Table(title="NCCL all_reduce (peak busbw at ≥ 1 GiB)", show_edge=False, box=None, title_justify="left")
        for col in ("test", "result", "ranks", "peak GB/s", "expected", "transport", "reason"):
            table.add_column(col, overflow="fold")
        for v in sorted(report.nccl, key=lambda v: (v.status == "skipped", -(v.peak_busbw or 0))):
            table.add_row(
                v.name, f"[{STATUS_STYLE.get(v.status, '')}]{v.status}[/]", str(v.ranks or ""),
                f"{v.peak_busbw:.1f}" if v.peak_busbw is not None else "-",
                f"{v.expected.gbps:g}" if v.expected.gbps else "-", v.transport or "-", v.reason,
            )
        console.print(table)
    if chart:
        from kfboot.cli.gpu_chart import terminal_chart

        for v in report.nccl:
            if v.rows:
                console.print(terminal_chart(v))
    for note in report.notes:
        console.print(f"note: {note}")
    counts = report.counts()
    words = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    verdict = "[green]all checks passed[/]" if report.ok else "[red]not passed[/]"
    console.print(f"{verdict}: {words or 'nothing checked'}"
                  + (f"; outliers: {', '.join(report.outliers)}" if report.outliers else ""))
    sys.stdout.flush()
