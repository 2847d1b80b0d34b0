"""The outcome of `kfboot verify-gpu`, live or from saved logs: every check, its JSON events, the exit code.

`analyze_files` is the whole of `--analyze`: classify each saved file (nccl-tests text or `-J` JSON,
nvidia-smi query/-L/topo/-q, or kfboot's own nvidia-smi pod log with section markers), parse it and
judge it with the same rules a live run uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfboot.errors import EXIT_FAILED, EXIT_OK, UsageError
from kfboot.gpu.expected import expected_busbw, profile_for_gpu
from kfboot.gpu.nccl import NcclRun, parse_any
from kfboot.gpu.nvsmi import product_label
from kfboot.gpu.profile_model import HardwareProfile
from kfboot.gpu.profiles import ProfileSet
from kfboot.gpu.smi_checks import NodeSmi, check_node, split_sections
from kfboot.gpu.verdict import INCONCLUSIVE, SKIPPED, NcclVerdict, flag_outliers, judge

EVENTS_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "schemas" / "verify-gpu-events.schema.json"


@dataclass
class GpuReport:
    nccl: list[NcclVerdict] = field(default_factory=list)
    smi: list[NodeSmi] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outliers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Exit 0 only when every check passed (skipped NCCL tests on MIG/shared nodes are not checks)."""
        judged = [v for v in self.nccl if v.status != SKIPPED]
        return bool(judged or self.smi) and all(v.passed for v in judged) and all(s.passed for s in self.smi)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_FAILED

    def counts(self) -> dict[str, int]:
        statuses = [v.status for v in self.nccl] + ["passed" if s.passed else "failed" for s in self.smi]
        return {k: statuses.count(k) for k in ("passed", "failed", "inconclusive", "skipped")}

    def events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [s.to_json() for s in self.smi]
        out += [v.to_json() for v in self.nccl]
        out.append(self.summary())
        return out

    def summary(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "event": "summary", "operation": "verify-gpu", "ok": self.ok, "exitCode": self.exit_code,
            "passed": self.ok, "checks": sum(counts.values()), "counts": counts,
            "outliers": list(self.outliers), "notes": list(self.notes),
        }


# -- --analyze -------------------------------------------------------------------------------------------
SMI_KINDS = ("query", "list", "topo", "details")


def classify(text: str) -> str:
    """`nccl`, one of SMI_KINDS, `smi-log` (kfboot's sectioned pod log) or `unknown`."""
    head = text.lstrip()[:4000]
    if split_sections(text):
        return "smi-log"
    if head.startswith("{"):
        return "nccl"
    first = head.splitlines()[0] if head else ""
    if first.startswith("index,") or (", name" in first and "memory.total" in first):
        return "query"
    if "NVSMI LOG" in head or "Attached GPUs" in head:
        return "details"
    if re.search(r"^GPU \d+: .+\(UUID: GPU-", head, re.M):
        return "list"
    if re.search(r"^\s*(\x1b\[[0-9;]*m)?GPU0\t", head, re.M) or "Legend:" in head:
        return "topo"
    if "nThread" in head or re.search(r"^\s*\d+\s+\d+\s+\w+\s+\w+", head, re.M) or "NCCL" in head:
        return "nccl"
    return "unknown"


def analyze_files(
    paths: list[Path],
    profiles: ProfileSet,
    *,
    profile_name: str | None = None,
    min_busbw: float | None = None,
    nics: str | None = None,
    node: str | None = None,
) -> tuple[GpuReport, list[NcclRun]]:
    """Judge saved outputs; returns the report and the parsed NCCL runs (for charts)."""
    forced = profiles.get(profile_name) if profile_name else None
    report = GpuReport()
    runs: list[tuple[NcclRun, NcclVerdict]] = []
    smi_parts: dict[str, str] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}", hint="pass saved nccl-tests or nvidia-smi output") from None
        kind = classify(text)
        if kind == "unknown":
            raise UsageError(f"{path}: neither nccl-tests nor nvidia-smi output",
                             hint="pass all_reduce_perf logs (text or -J JSON) or nvidia-smi query/-L/topo -m/-q output")
        if kind == "smi-log":
            smi_parts.update(split_sections(text))
        elif kind in SMI_KINDS:
            smi_parts[kind] = text
        else:
            for run in parse_any(text, source=path.name):
                profile = forced or profile_for_gpu(profiles, run.gpu_names)
                nodes = run.hosts or ([node] if node else [])
                gpus = run.n_ranks // max(len(nodes), 1)
                exp = expected_busbw(profile, nodes=max(len(nodes), 1), gpus_per_node=gpus, override=min_busbw, nics=nics)
                name = "+".join(nodes) if nodes else path.name
                verdict = judge(run, exp, name=name, nodes=nodes or [path.name],
                                interconnect=profile.interconnect if profile else None)
                runs.append((run, verdict))
    names = [v.name for _, v in runs]
    for i, (run, v) in enumerate(runs):
        if names.count(v.name) > 1:  # the same node in several logs: say which log
            v.name = f"{v.name} [{run.source} #{i + 1}]"
    report.nccl = [v for _, v in runs]
    report.outliers = flag_outliers([v for v in report.nccl if v.status != INCONCLUSIVE])
    if smi_parts:
        report.smi.append(check_smi_parts(node or "saved output", smi_parts, profiles, forced))
    return report, [r for r, _ in runs]


def check_smi_parts(node: str, parts: dict[str, str], profiles: ProfileSet, profile: HardwareProfile | None,
                    labels: dict[str, str] | None = None,
                    mig_geometries: list[dict[str, int] | None] | None = None) -> NodeSmi:
    """nvidia-smi checks over whatever sections were captured; the profile follows the GPU's name."""
    query = parts.get("query")
    if profile is None and query:
        first = next((ln for ln in query.splitlines()[1:] if ln.strip()), "")
        name = first.split(", ")[1] if first.count(", ") >= 1 else ""
        profile = profiles.by_product(product_label(name)) if name else None
    return check_node(node, query=query, listing=parts.get("list", ""), topo=parts.get("topo", ""),
                      details=parts.get("details", ""), labels=labels, profile=profile, mig_geometries=mig_geometries)
