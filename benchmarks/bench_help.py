"""CLI start-up: wall time of `kfboot --help` vs `helm --help`, plus kfboot's slowest imports, and
`kfboot verify-gpu --analyze` of a saved all_reduce_perf log.

    .venv/bin/python benchmarks/bench_help.py [--runs 10]

Median of N runs each after one warm-up. Goals (issue 15): kfboot <= 2.0x helm (the Helm 4 binary in
.venv/bin/helm; Helm 3.19 from .venv/tools is shown for reference), and `verify-gpu --analyze` of the
saved 8x A100 log in tests/gpu/fixtures <= 0.5 s (it exits 1: the log's bandwidth fails its verdict,
which is the judgement being timed). Then one
`python -X importtime` run of `kfboot --help`: top 5 imports by cumulative time (top-level only,
so nested modules are not double counted) and top 5 by self time. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, VENV_BIN, emit_json, median, table

HELM3 = ROOT / ".venv" / "tools" / "helm-v3.19.0" / "helm"
GOAL = 2.0
ANALYZE_GOAL = 0.5
NCCL_LOG = ROOT / "tests" / "gpu" / "fixtures" / "nccl" / "all_reduce_perf-8xA100-SXM4-80GB-single-node.log"


def wall(cmd: list[str], runs: int, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> list[float]:
    def once() -> None:
        rc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        if rc not in ok:
            raise SystemExit(f"{' '.join(cmd)} exited {rc}")

    once()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    return times


def importtime(env: dict[str, str]) -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) for every import of `kfboot --help`."""
    proc = subprocess.run([str(VENV_BIN / "python"), "-X", "importtime", str(VENV_BIN / "kfboot"), "--help"],
                          env=env, capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line.split(":", 1)[1].split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((name.strip(), int(self_us), int(cum_us), depth))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="timed runs per command (default 10)")
    args = ap.parse_args()
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}

    commands = {"kfboot --help": [str(VENV_BIN / "kfboot"), "--help"],
                "helm --help (4.1)": [str(VENV_BIN / "helm"), "--help"]}
    if HELM3.exists():
        commands["helm --help (3.19)"] = [str(HELM3), "--help"]
    results = {name: wall(cmd, args.runs, env) for name, cmd in commands.items()}
    med = {name: median(t) for name, t in results.items()}
    kf, helm = med["kfboot --help"], med["helm --help (4.1)"]
    ratio = kf / helm

    print(f"median of {args.runs} runs after 1 warm-up")
    print(table(["command", "median s", "min s", "max s", "kfboot / this"],
                [[n, med[n], min(t), max(t), f"{kf / med[n]:.2f}x"] for n, t in results.items()]))
    verdict = "meets" if ratio <= GOAL else "MISSES"
    print(f"\nkfboot / helm 4.1 = {ratio:.2f}x (goal <= {GOAL}x: {verdict})")

    analyze = wall([str(VENV_BIN / "kfboot"), "verify-gpu", "--analyze", str(NCCL_LOG)], args.runs, env, ok=(0, 1))
    analyze_med = median(analyze)
    verdict = "meets" if analyze_med <= ANALYZE_GOAL else "MISSES"
    print(f"kfboot verify-gpu --analyze {NCCL_LOG.name}: median {analyze_med:.3f} s "
          f"(min {min(analyze):.3f}, max {max(analyze):.3f}; goal <= {ANALYZE_GOAL} s: {verdict})")

    imports = importtime(env)
    top_cum = sorted((r for r in imports if r[3] == 0), key=lambda r: -r[2])[:5]
    top_self = sorted(imports, key=lambda r: -r[1])[:5]
    total_ms = sum(r[2] for r in imports if r[3] == 0) / 1000
    print(f"\npython -X importtime kfboot --help: {len(imports)} modules, {total_ms:.0f} ms importing")
    print(table(["top-level import", "cumulative ms"], [[r[0], r[2] / 1000] for r in top_cum]))
    print()
    print(table(["module", "self ms"], [[r[0], r[1] / 1000] for r in top_self]))

    emit_json("help", {
        "runs": args.runs, "median_s": med, "ratio_vs_helm4": ratio, "goal_ratio": GOAL,
        "goal_met": ratio <= GOAL, "analyze_median_s": analyze_med, "analyze_goal_s": ANALYZE_GOAL,
        "analyze_goal_met": analyze_med <= ANALYZE_GOAL,
        "ratio_vs_helm3": kf / med["helm --help (3.19)"] if "helm --help (3.19)" in med else None,
        "import_modules": len(imports), "import_ms": total_ms,
        "top_cumulative_ms": {r[0]: r[2] / 1000 for r in top_cum},
        "top_self_ms": {r[0]: r[1] / 1000 for r in top_self},
    })


if __name__ == "__main__":
    main()
