"""`kfboot doctor`: the ten-minute triage of a GPU + Kubeflow cluster as findings with fixes (read-only)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from kfboot.cli.context import get_options, open_session, print_json, stderr_console
from kfboot.cli.errors import handles_errors

ICONS = {"ok": "✔", "warn": "!", "fail": "✘", "skip": "–"}
SUBJECT_WIDTH = 36


def render_text(report: Any, verbose: int) -> str:
    """The grouped report: failures and warnings with their fix; ok and skipped folded unless -v."""
    from kfboot.doctor.findings import GROUPS, Status, counts

    facts, lines = report.facts, []
    c = counts(report.findings)
    where = f"context {facts.context}" + (f" (Kubernetes {facts.server_version})" if facts.server_version else "")
    lines.append(f"kfboot doctor: {where}, {len(facts.nodes)} nodes, {len(facts.pods)} pods — {c['fail']} failed, "
                 f"{c['warn']} warning{'' if c['warn'] == 1 else 's'}, {c['ok']} ok, {c['skip']} skipped ({report.seconds:.1f}s, "
                 f"{report.requests} API requests, no writes)")
    for group in GROUPS:
        found = [f for f in report.findings if f.group == group]
        if not found:
            continue
        lines.append("")
        lines.append(group)
        shown = found if verbose else [f for f in found if f.status in (Status.fail, Status.warn)]
        width = min(max((len(f.subject) for f in shown), default=0), SUBJECT_WIDTH)
        pad = " " * (len("  ✘ FAIL  ") + width + 2)
        for f in shown:
            head = f"  {ICONS[f.status.value]} {f.status.value.upper():<4}  "
            if len(f.subject) > width:  # a long subject gets a line of its own; the columns stay aligned
                lines += [head + f.subject, pad + f.message]
            else:
                lines.append(f"{head}{f.subject:<{width}}  {f.message}")
            if f.fix:
                lines.append(f"{pad}fix: {f.fix}")
        folded = [f for f in found if f not in shown]
        if folded:
            n_ok = sum(1 for f in folded if f.status is Status.ok)
            n_skip = len(folded) - n_ok
            parts = ([f"{n_ok} ok"] if n_ok else []) + ([f"{n_skip} skipped"] if n_skip else [])
            lines.append(f"  {ICONS['ok']} {', '.join(parts)} (-v lists them)")
    verdict = "FAILED: fix the ✘ lines above, then run doctor again" if report.exit_code else \
        ("healthy, with warnings" if c["warn"] else "healthy")
    lines += ["", verdict]
    return "\n".join(lines) + "\n"


def junit_cases(report: Any) -> list[Any]:
    from kfboot.junit import Case

    cases = []
    for f in report.findings:
        text = f.message + (f"\nfix: {f.fix}" if f.fix else "")
        cases.append(Case(name=f"{f.id} {f.subject}", classname=f"doctor.{f.group.replace(' ', '-')}",
                          failure=text if f.status.value == "fail" else None,
                          skipped=f.message if f.status.value == "skip" else None,
                          output=f"warn: {text}" if f.status.value == "warn" else ""))
    return cases


def register(app: typer.Typer) -> None:
    app.command()(doctor)


@handles_errors
def doctor(
    ctx: typer.Context,
    file: Path = typer.Option(None, "--file", "-f", dir_okay=False,
                              help="Platform config (kfboot.yaml): which components and GPU pools to expect "
                                   "(default: the embedded default platform)."),
    collect: Path = typer.Option(None, "--collect", file_okay=False,
                                 help="Also write a redacted support archive (events, failing pods' logs, kfboot "
                                      "state, GPU node labels, ClusterPolicy, webhooks) under DIR."),
    junit: Path = typer.Option(None, "--junit", dir_okay=False, help="Also write the findings as JUnit XML."),
) -> None:
    """Diagnose a GPU + Kubeflow cluster: findings with what they mean and the command that fixes them.

    Read-only (never writes to the cluster) and quick: one LIST per kind, so a 100-node cluster
    takes seconds. It checks, in the order a platform engineer triages:

    \b
      tools and cluster  kubectl/helm/kind, API server version, kfboot's recorded phases
                         (failed, interrupted, drifted) and its lock
      capacity           nodes vs the enabled stack's footprint, default StorageClass,
                         Pending PVCs, inotify limits (kind nodes, through docker)
      GPU stack          allocatable vs capacity vs GFD labels, device plugin/GFD/DCGM/
                         validator per node, ClusterPolicy, MIG state, GPU pools applied,
                         Fabric Manager on NVSwitch systems
      platform           webhooks without endpoints or CA, CRDs, Istio, Dex/oauth2-proxy,
                         KServe/Knative, Profiles without namespaces
      workloads          Pending pods (scheduler's reason), CrashLoopBackOff/ImagePull with
                         the last message, OOMKilled, recent Warning events
      known signatures   "Insufficient nvidia.com/gpu", "NCCL error … unhandled cuda error",
                         "CUDA out of memory", CUDA error 802, "too many open files",
                         "failed calling webhook", Job pods kept alive by an Istio sidecar

    Exit code 1 when a finding fails, 0 otherwise (warnings do not fail).

    \b
    Examples:
      kfboot doctor --context kind-kfboot               # failures and warnings, with fixes
      kfboot doctor -v                                  # every finding, ok ones too
      kfboot doctor -f kfboot.yaml                      # judge against your config's components and GPU pools
      kfboot -o json doctor | jq 'select(.status=="fail")'   # one `finding` event per line, `summary` last
      kfboot doctor --junit doctor.xml                  # CI test report
      kfboot doctor --collect ./support                 # redacted archive to attach to an issue
    """
    from kfboot.doctor.run import diagnose

    opts = get_options(ctx)
    session = open_session(ctx, file=file)
    platform = session.platform  # a config error is reported before the cluster is contacted
    kube = session.unchecked_kube()  # no preflight: an unreachable API server is one of doctor's findings
    try:
        report = diagnose(kube, platform)
    finally:
        kube.close()
    archive = None
    if collect is not None:
        from kfboot.doctor.collect import write_archive

        archive = write_archive(collect, report.facts, report.findings)
    if junit is not None:
        from kfboot import junit as junit_xml

        junit_xml.write(junit, "kfboot doctor", junit_cases(report))
    if opts.json:
        for f in report.findings:
            print_json({"event": "finding", **f.to_dict()})
        if archive is not None:
            print_json({"event": "collect", "path": str(archive)})
        print_json(report.summary())
    else:
        sys.stdout.write(render_text(report, opts.verbose))
        sys.stdout.flush()
        if archive is not None:
            stderr_console().print(f"support archive (secrets redacted): {archive}")
    if report.exit_code:
        raise typer.Exit(report.exit_code)
