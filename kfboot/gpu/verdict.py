"""Verdicts on NCCL all_reduce results: the same rules for live runs and saved logs.

- Judge the peak bus bandwidth over sizes ≥ 1 GiB, out-of-place and in-place. Never nccl-tests'
  `# Avg bus bandwidth`: it averages every size of the sweep (a `-b 8` sweep drags it far down).
  A log without a row ≥ 1 GiB is inconclusive, and says why.
- Any `#wrong` > 0, any pre-2.13 `error` > 0, `# Out of bounds values : N FAILED`, an NCCL/CUDA
  error, or a log that ends before the trailer fails, with a sentence saying why; never a guess.
- Pass at ≥ 90 % of the expected figure; a node below 90 % of the fleet's median is an outlier.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from kfboot.gpu.expected import PASS_FRACTION, Expectation
from kfboot.gpu.nccl import GIB, NcclRun, Row, human_bytes
from kfboot.gpu.transport import parse_transport, transport_problem

PASSED, FAILED, INCONCLUSIVE, SKIPPED = "passed", "failed", "inconclusive", "skipped"

# What to do about an error line, by NVIDIA's / torch's / the kernel's own wording.
_ADVICE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Duplicate GPU detected", re.I),
     "two ranks share one GPU (time-slicing or MPS hands one physical GPU to several ranks): NCCL needs "
     "whole GPUs, one rank each"),
    (re.compile(r"system not yet initialized|\b802\b", re.I),
     "CUDA error 802: Fabric Manager is not running on this NVSwitch system (nvidia-smi still looks fine); "
     "start nvidia-fabricmanager or enable it in the GPU Operator's driver"),
    (re.compile(r"posix_fallocate|No space left on device|\bBus error\b", re.I),
     "/dev/shm is too small (64 MiB in a pod by default): mount an emptyDir with medium: Memory and a "
     "sizeLimit at /dev/shm"),
    (re.compile(r"out of memory", re.I), "GPU memory ran out: lower -e (the largest size) or free the GPUs"),
    (re.compile(r"Watchdog caught collective operation timeout|timeout", re.I),
     "a collective timed out: a rank hung or the network between ranks dropped packets"),
    (re.compile(r"Invalid number of GPUs", re.I), "the container sees fewer GPUs than -g asks for"),
    (re.compile(r"unhandled cuda error|Cuda failure|CUDA failure", re.I),
     "CUDA failed inside NCCL: look for Xid errors in the node's kernel log (dmesg) and rerun with NCCL_DEBUG=INFO"),
    (re.compile(r"unhandled system error|ncclSystemError|ncclRemoteError", re.I),
     "a system call or the network failed: rerun with NCCL_DEBUG=INFO to see which"),
]


def advice_for(lines: list[str]) -> str | None:
    """The most specific advice any of `lines` calls for (the list above runs specific → generic)."""
    return next((text for pattern, text in _ADVICE if any(pattern.search(line) for line in lines)), None)


@dataclass
class NcclVerdict:
    """One all_reduce test judged: a node (single-node) or a set of nodes (multi-node)."""

    name: str
    nodes: list[str]
    status: str
    reason: str
    ranks: int = 0
    peak_busbw: float | None = None
    peak_size: int | None = None
    avg_busbw: float | None = None
    max_bytes: int = 0
    wrong: float | None = None
    out_of_bounds: int | None = None
    expected: Expectation = field(default_factory=lambda: Expectation(None, "not judged"))
    transport: str | None = None
    rows: list[Row] = field(default_factory=list)
    outlier: bool = False
    kind: str = ""  # single-node | multi-node | pair (default: from the number of nodes)
    seconds: float = 0.0
    log: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "nccl",
            "node": self.nodes[0] if len(self.nodes) == 1 else None,
            "nodes": self.nodes,
            "name": self.name,
            "kind": self.kind or ("multi-node" if len(self.nodes) > 1 else "single-node"),
            "status": self.status,
            "passed": self.passed,
            "peak_busbw_gbps": self.peak_busbw,
            "peak_bytes": self.peak_size,
            "avg_busbw_gbps": self.avg_busbw,
            "max_bytes": self.max_bytes,
            "ranks": self.ranks,
            "wrong": int(self.wrong) if self.wrong is not None and float(self.wrong).is_integer() else self.wrong,
            "out_of_bounds": self.out_of_bounds,
            "expected_gbps": self.expected.gbps,
            "expected_source": self.expected.source,
            "transport": self.transport,
            "outlier": self.outlier,
            "seconds": round(self.seconds, 3),
            "reason": self.reason,
        }


def peak(rows: list[Row], min_size: int = GIB) -> tuple[float, int] | None:
    """Best busbw (either half) over rows of at least `min_size` bytes, with the size it came at."""
    judged = [r for r in rows if r.size >= min_size]
    if not judged:
        return None
    best = max(judged, key=lambda r: r.busbw)
    return best.busbw, best.size


def _quote(line: str, limit: int = 240) -> str:
    line = line.strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def judge(
    run: NcclRun,
    expectation: Expectation,
    *,
    name: str | None = None,
    nodes: list[str] | None = None,
    interconnect: str | None = None,
) -> NcclVerdict:
    """Apply the verdict rules (module docstring) to one run."""
    nodes = nodes or run.hosts or ([name] if name else [])
    transport = parse_transport(run.nccl_info)
    best = peak(run.rows)
    v = NcclVerdict(
        name=name or "+".join(nodes) or run.source or "all_reduce",
        nodes=nodes,
        status=PASSED,
        reason="",
        ranks=run.n_ranks,
        peak_busbw=round(best[0], 2) if best else None,
        peak_size=best[1] if best else None,
        avg_busbw=run.avg_busbw,
        max_bytes=run.max_bytes,
        wrong=run.wrong_total if run.checked else None,
        out_of_bounds=run.out_of_bounds,
        expected=expectation,
        transport=transport.label(),
        rows=list(run.rows),
    )
    gpus = run.n_ranks // max(len(nodes), 1) if nodes else run.n_ranks
    diagnosis = transport_problem(transport, nodes=len(nodes) or 1, gpus=gpus, interconnect=interconnect)
    problems = _correctness_problems(run)
    if problems:
        v.status, v.reason = FAILED, "; ".join(problems)
        return v
    if best is None:
        largest = human_bytes(run.max_bytes)
        v.status = INCONCLUSIVE
        v.reason = (f"the largest message is {largest}: bus bandwidth peaks only at sizes ≥ 1 GiB, so this "
                    "log cannot be judged; rerun with -e 8G")
        return v
    busbw, size = best
    at = f"{busbw:.1f} GB/s at {human_bytes(size)}"
    if expectation.gbps is None:
        v.reason = f"results correct; peak busbw {at}; bandwidth not judged: {expectation.source}"
        return v
    share = busbw / expectation.gbps
    if busbw < expectation.gbps * PASS_FRACTION:
        v.status = FAILED
        v.reason = (f"peak busbw {at} is {share:.0%} of the expected {expectation.gbps:g} GB/s "
                    f"({expectation.source}); a pass needs ≥ {expectation.gbps * PASS_FRACTION:.1f} GB/s")
        if diagnosis:
            v.reason += f"; {diagnosis}"
        return v
    v.reason = f"peak busbw {at} is {share:.0%} of the expected {expectation.gbps:g} GB/s ({expectation.source})"
    if not run.checked:
        v.reason += "; results were not checked (-c 0)"
    return v


def _correctness_problems(run: NcclRun) -> list[str]:
    out: list[str] = []
    if run.failures:
        first = run.failures[0]
        sentence = f'NCCL error: "{_quote(first)}"'
        advice = advice_for(run.failures)
        if advice:
            sentence += f": {advice}"
        if len(run.failures) > 1:
            sentence += f" ({len(run.failures) - 1} more error lines in the log)"
        out.append(sentence)
    bad = run.wrong_rows()
    if bad:
        sizes = ", ".join(human_bytes(r.size) for r in bad[:4]) + (" …" if len(bad) > 4 else "")
        if run.correctness_column == "error":
            out.append(f"the error column is above 0 at {sizes}: results differ from the expected values "
                       "(a GPU, NVLink or NIC corrupts data)")
        else:
            total = int(run.wrong_total)
            out.append(f"{total} wrong values at {sizes}: the all_reduce returned corrupted data "
                       "(a GPU, NVLink or NIC corrupts data)")
    if run.out_of_bounds:
        out.append(f"# Out of bounds values : {run.out_of_bounds} FAILED: {run.out_of_bounds} tests returned "
                   "corrupted data")
    if not run.finished:
        if run.rows:
            out.append(f"the log ends at {human_bytes(run.max_bytes)}: the test did not finish")
        elif not out:
            out.append("the log holds no results: the test did not start or its output was cut off")
    return out


def skipped(name: str, reason: str, nodes: list[str] | None = None) -> NcclVerdict:
    return NcclVerdict(name=name, nodes=nodes or [name], status=SKIPPED, reason=reason)


def flag_outliers(verdicts: list[NcclVerdict], fraction: float = PASS_FRACTION) -> list[str]:
    """Name tests whose peak is below `fraction` of the median of comparable tests (same rank count),
    failing them; returns their names. Needs at least two comparable results."""
    groups: dict[int, list[NcclVerdict]] = {}
    for v in verdicts:
        if v.peak_busbw is not None and v.status in (PASSED, FAILED):
            groups.setdefault(v.ranks, []).append(v)
    named = []
    for group in groups.values():
        if len(group) < 2:
            continue
        median = statistics.median(v.peak_busbw or 0.0 for v in group)
        for v in group:
            if median > 0 and (v.peak_busbw or 0.0) < median * fraction:
                v.outlier = True
                note = (f"{v.peak_busbw:.1f} GB/s is {(v.peak_busbw or 0.0) / median:.0%} of the fleet median "
                        f"{median:.1f} GB/s: outlier")
                v.reason = f"{v.reason}; {note}" if v.status == FAILED else note + f" ({v.reason})"
                v.status = FAILED
                named.append(v.name)
    return named
