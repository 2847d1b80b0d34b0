"""Bus bandwidth against message size, with the expected line: in the terminal (rich) and as PNG/SVG
(matplotlib, imported only when an image is asked for, so `kfboot --help` stays fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kfboot.errors import UsageError

BAR_WIDTH = 48
MIN_SIZE = 1 << 20  # below 1 MiB all_reduce is latency-bound: the bars say nothing
GIB = 1 << 30
_EIGHTHS = " ▏▎▍▌▋▊▉"


def _bar(value: float, scale: float, width: int) -> str:
    cells = max(0.0, value / scale * width) if scale > 0 else 0.0
    full, part = int(cells), int((cells - int(cells)) * 8)
    return ("█" * full + (_EIGHTHS[part] if part and full < width else ""))[:width]


def terminal_chart(verdict: Any) -> Any:
    """A rich renderable: one bar per message size ≥ 1 MiB, the pass threshold as a dotted rule."""
    from rich.text import Text

    rows = [r for r in verdict.rows if r.size >= MIN_SIZE] or list(verdict.rows)
    expected = verdict.expected.gbps
    threshold = verdict.expected.threshold
    top = max([r.busbw for r in rows] + [expected or 0.0]) * 1.05 or 1.0
    mark = int(threshold / top * BAR_WIDTH) if threshold else None
    title = f"{verdict.name}: all_reduce busbw (GB/s) by message size"
    if expected:
        title += f"; expected {expected:g} GB/s, ┊ = pass at {threshold:.1f}"
    text = Text(title + "\n", style="bold")
    from kfboot.gpu.nccl import human_bytes

    for r in rows:
        bar = list(_bar(r.busbw, top, BAR_WIDTH).ljust(BAR_WIDTH))
        if mark is not None and 0 <= mark < BAR_WIDTH and bar[mark] == " ":
            bar[mark] = "┊"
        if r.size < GIB:
            style = "dim"
        elif threshold is None or r.busbw >= threshold:
            style = "green"
        else:
            style = "red"
        text.append(f"{human_bytes(r.size):>9} │")
        text.append("".join(bar), style=style)
        text.append(f" {r.busbw:7.1f}\n")
    if len(rows) < len(verdict.rows):
        text.append(f"{'':>9}   (sizes below 1 MiB left out; judged: sizes ≥ 1 GiB)\n", style="dim")
    return text


def save_chart(path: Path, verdicts: list[Any]) -> None:
    """PNG or SVG (by suffix) of every result's busbw curve with its expected line."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise UsageError(f"--plot {path}: the file name must end in .png or .svg")
    with_rows = [v for v in verdicts if v.rows]
    if not with_rows:
        raise UsageError("--plot: no results with bandwidth rows to draw")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from kfboot.gpu.nccl import human_bytes

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    try:
        for v in with_rows:
            ax.plot([r.size for r in v.rows], [r.busbw for r in v.rows], marker="o", markersize=3, label=v.name)
        for gbps in sorted({v.expected.gbps for v in with_rows if v.expected.gbps}):
            ax.axhline(gbps, linestyle="--", color="tab:gray", linewidth=1)
            ax.axhline(gbps * 0.9, linestyle=":", color="tab:red", linewidth=1)
            right = max(r.size for v in with_rows for r in v.rows)
            ax.annotate(f"expected {gbps:g} GB/s (pass ≥ {gbps * 0.9:.0f})", (right, gbps), ha="right",
                        textcoords="offset points", xytext=(0, 4), fontsize=8, color="tab:gray")
        ax.axvline(GIB, color="tab:green", linewidth=0.8, alpha=0.6)
        ax.annotate("judged from 1 GiB", (GIB, 0), textcoords="offset points", xytext=(3, 3), fontsize=8,
                    color="tab:green")
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: human_bytes(int(x)) if x >= 1 else ""))
        ax.set_xlabel("message size")
        ax.set_ylabel("bus bandwidth (GB/s)")
        ax.set_title("NCCL all_reduce bus bandwidth")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, loc="upper left")
        fig.tight_layout()
        fig.savefig(path, format=suffix[1:])
    finally:
        plt.close(fig)
