"""Small helpers shared by the benchmarks (table printing, paths). Not part of kfboot or its tests."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"

if str(ROOT) not in sys.path:  # so `tests.fakekube` and `kfboot` import without PYTHONPATH too
    sys.path.insert(0, str(ROOT))


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: list[str], raw: list[Any] | None = None) -> str:
        out = []
        for i, v in enumerate(values):
            numeric = raw is not None and isinstance(raw[i], (int, float))
            out.append(v.rjust(widths[i]) if numeric else v.ljust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(c, r) for c, r in zip(cells, rows, strict=True))])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "n/a"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def emit_json(name: str, payload: dict[str, Any]) -> None:
    """The one machine-readable line each benchmark prints last."""
    print(json.dumps({"benchmark": name, **machine(), **payload}, sort_keys=False))


def fix_fake_nagle(enabled: bool = True) -> None:
    """Turn off Nagle's algorithm on the fake API server's sockets (runtime attribute, no file edited).

    tests.fakekube's Handler writes the status line + headers and then the body in two separate
    send() calls on an unbuffered socket; with Nagle on, the body waits for the client's delayed ACK
    (~40 ms on Linux), so every request costs ~45 ms on top of any injected latency, whichever client
    is used. That swamps the 10 ms latency the benchmarks mean to model; `--keep-nagle` shows it.
    """
    from tests.fakekube import server

    server.Handler.disable_nagle_algorithm = enabled
