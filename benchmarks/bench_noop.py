"""No-op re-run: install the two local test phases, then measure what a second install and a plan cost.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_noop.py [--latency 0.010] [--runs 3]

Uses the real engine exactly as tests/bed.py builds it (Runner + ConfigMapStateStore + LeaseLock,
phases from `local_phases()`: a widget operator with CRD/RBAC/Deployment/webhook/CR and an app) against
the in-process fake API server with `latency` seconds added per request. Reports, for the re-run on
the converged cluster: requests and writes seen by the server (goal: 0 writes) and wall time; and the
same for `plan`. Median over --runs repetitions (each on the same converged cluster, fresh Kube client).
Prints a table and then one JSON line.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit_json, fix_fake_nagle, median, table

from tests.bed import connect, local_phases, runner
from tests.fakekube import FakeKube
from tests.fakekube.faults import WRITE_VERBS


def measure(fk: FakeKube, tmp: Path, what: str) -> dict[str, Any]:
    kube = connect(fk, tmp)  # a fresh client, like a new CLI invocation (cold discovery cache)
    fk.reset_requests()
    t0 = time.perf_counter()
    if what == "install":
        summary = runner(kube, local_phases()).install()
        states = [o.state for o in summary.outcomes]
        ok = summary.exit_code == 0
    else:
        planned = runner(kube, local_phases()).plan()
        states = [p.action.kind.value for p in planned]
        ok = True
    seconds = time.perf_counter() - t0
    reqs = fk.requests
    kube.close()
    return {"seconds": seconds, "requests": len(reqs), "writes": sum(1 for r in reqs if r.method in WRITE_VERBS),
            "by_verb": dict(Counter(f"{r.method} {r.verb}" if r.verb != r.method else r.method for r in reqs)),
            "states": states, "ok": ok}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.010, help="seconds added per request (default 0.010)")
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (default 3)")
    ap.add_argument("--keep-nagle", action="store_true",
                    help="leave the fake server's ~40 ms Nagle/delayed-ACK stall per request in place")
    args = ap.parse_args()
    fix_fake_nagle(not args.keep_nagle)

    with tempfile.TemporaryDirectory(prefix="kfboot-bench-noop-") as tmpdir, \
            FakeKube(seed=0, ready_delay=0.0) as fk:
        tmp = Path(tmpdir)
        fk.latency = args.latency
        first = measure(fk, tmp, "install")
        if not first["ok"]:
            raise SystemExit(f"first install failed: {first['states']}")
        reruns = [measure(fk, tmp, "install") for _ in range(args.runs)]
        plans = [measure(fk, tmp, "plan") for _ in range(args.runs)]

    def summarise(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"name": name, "seconds": median([r["seconds"] for r in runs]),
                "requests": max(r["requests"] for r in runs), "writes": max(r["writes"] for r in runs),
                "by_verb": runs[-1]["by_verb"], "states": runs[-1]["states"]}

    rows = [summarise("first install", [first]), summarise("re-run install (no-op)", reruns),
            summarise("plan (converged)", plans)]
    print(f"local_phases() (operator + app), latency {args.latency * 1000:.1f} ms/request, "
          f"median of {args.runs} for re-run and plan")
    print(table(["run", "seconds", "requests", "writes", "outcome"],
                [[r["name"], r["seconds"], r["requests"], r["writes"], ",".join(r["states"])] for r in rows]))
    noop = rows[1]
    print(f"\nno-op re-run requests by verb: {noop['by_verb']}")
    verdict = "meets" if noop["writes"] == 0 else "MISSES"
    print(f"no-op re-run writes: {noop['writes']} (goal 0: {verdict})")
    emit_json("noop", {"latency_s": args.latency, "runs": args.runs, "keep_nagle": args.keep_nagle,
                       "first_install": rows[0], "noop_install": rows[1], "plan": rows[2], "goal_writes": 0})


if __name__ == "__main__":
    main()
