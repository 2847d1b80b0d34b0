"""Goal 1 (issue 15): no-op re-run, plan and status of the default platform on the real 26.03 render.

    .venv/bin/python benchmarks/bench_realrender_noop.py [--latency 0.005] [--runs 3]

Builds the real-render bundle (tests/realrender.py: the upstream render beside the repo, charts packed
with Helm 3.19), starts the fake API server in its own process with the real-render test's cluster
(controllers on, CRDs Established after 1 s, cainjector 0.5 s), installs the default platform once at
0 ms, then sets the injected latency and times `kfboot install` (the no-op re-run), `kfboot plan` and
`kfboot status` as fresh processes (start-up included), each --runs times. Reports the median wall
time, the requests and writes the server saw. Goal: 0 writes and <= 2 s each at 5 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit_json, median, table
from _realrender import FakeProc, build_bundle, run_kfboot

STEPS = (("re-run install", ["install"]), ("plan", ["plan"]), ("status", ["status"]))
GOAL_SECONDS = 2.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.005, help="seconds added per request (default 0.005)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kfboot-bench-rr-noop-") as tmpdir:
        work = Path(tmpdir)
        bundle = build_bundle(work)
        with FakeProc(work) as fake:
            first = run_kfboot(fake, bundle, work, "install")
            if first["exit"] != 0:
                raise SystemExit(f"the first install failed:\n{first['stderr']}")
            fake.command(f"latency {args.latency}")
            results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in STEPS}
            for _ in range(args.runs):
                for name, argv in STEPS:
                    run = run_kfboot(fake, bundle, work, *argv)
                    if run["exit"] != 0:
                        raise SystemExit(f"{name} failed:\n{run['stderr']}")
                    results[name].append(run)
    rows = []
    payload: dict[str, Any] = {"latency_s": args.latency, "runs": args.runs,
                               "first_install": {k: first[k] for k in ("seconds", "requests", "writes")}}
    for name, runs in results.items():
        seconds = median([r["seconds"] for r in runs])
        requests = max(r["requests"] for r in runs)
        writes = max(r["writes"] for r in runs)
        met = writes == 0 and seconds <= GOAL_SECONDS
        rows.append([name, seconds, requests, writes, "met" if met else "missed"])
        payload[name.replace(" ", "_").replace("-", "")] = {"seconds": seconds, "requests": requests,
                                                            "writes": writes, "goal_met": met}
    print(f"default platform, real 26.03 render, latency {args.latency * 1000:.0f} ms, median of {args.runs} "
          f"(first install at 0 ms: {first['seconds']:.1f} s, {first['requests']} requests, {first['writes']} writes)")
    print(table(["run", "seconds", "requests", "writes", f"goal <= {GOAL_SECONDS:.0f} s, 0 writes"], rows))
    emit_json("realrender_noop", payload)


if __name__ == "__main__":
    main()
