"""`kfboot doctor` on a 100-GPU-node cluster at 20 ms per request: is it bounded (goal < 30 s)?

    PYTHONPATH=. .venv/bin/python benchmarks/bench_doctor.py [--gpu-nodes 100] [--latency 0.020] [--runs 3]

Seeds the fake API server (in this process, controllers stopped) with tests/doctor_world.py's settled
GPU + Kubeflow cluster: N GPU nodes (8× H100 each, the four GPU Operator operand pods per node and
--pods-per-node training pods), 3 CPU nodes, the platform's deployments, webhooks and kfboot state,
plus --crashing pods with logs (doctor reads at most 20 log tails). Then runs the real CLI,
`kfboot -o json doctor`, as a subprocess (its own interpreter: start-up and tool version checks
included, no shared GIL with the fake) and reports wall time, doctor's own elapsed time and the
requests the server saw. Prints a table and then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, VENV_BIN, emit_json, fix_fake_nagle, median, table

from tests import doctor_world as world
from tests.fakekube import FakeKube

GOAL_SECONDS = 30.0


def seed(fk: FakeKube, gpu_nodes: int, pods_per_node: int, crashing: int) -> None:
    world.healthy(fk, gpu_nodes=gpu_nodes, cpu_nodes=3, workload_pods_per_node=pods_per_node,
                  provider="aws:///us-east-1a/i-")  # not kind nodes: no `docker exec`
    for i in range(crashing):
        name = f"ddp-worker-{i}"
        fk.put(world.pod(world.PROFILE, name, node=f"gpu-{i % gpu_nodes + 1}", gpus=8, status={
            "phase": "Running", "conditions": [], "containerStatuses": [{
                "name": "main", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}))
        fk.set_pod_logs(world.PROFILE, name, "RuntimeError: NCCL error: unhandled cuda error (run with "
                        "NCCL_DEBUG=INFO for details)\n")


def measure(fk: FakeKube, kubeconfig: Path) -> dict[str, Any]:
    fk.reset_requests()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.run([str(VENV_BIN / "kfboot"), "--kubeconfig", str(kubeconfig), "--context", "bench",
                           "-o", "json", "doctor"], capture_output=True, text=True, env=env, timeout=300)
    wall = time.perf_counter() - t0
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if not events or events[-1].get("event") != "summary":
        raise SystemExit(f"doctor did not finish: rc={proc.returncode}\n{proc.stderr[-2000:]}")
    reqs = fk.requests
    return {"wall": wall, "doctor_elapsed": events[-1]["elapsed"], "requests": len(reqs),
            "writes": fk.write_count(), "by_verb": dict(Counter(r.verb for r in reqs)),
            "findings": len(events) - 1, "counts": events[-1]["counts"], "exit": proc.returncode}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gpu-nodes", type=int, default=100)
    ap.add_argument("--pods-per-node", type=int, default=4, help="training pods per GPU node (default 4)")
    ap.add_argument("--crashing", type=int, default=25, help="crash-looping pods with logs (default 25)")
    ap.add_argument("--latency", type=float, default=0.020, help="seconds added per request (default 0.020)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    fix_fake_nagle(True)
    with tempfile.TemporaryDirectory(prefix="kfboot-bench-doctor-") as tmp, FakeKube(seed=0) as fk:
        seed(fk, args.gpu_nodes, args.pods_per_node, args.crashing)
        kubeconfig = fk.write_kubeconfig(Path(tmp) / "kubeconfig", context="bench")
        fk.latency = args.latency
        runs = [measure(fk, kubeconfig) for _ in range(args.runs)]
        nodes, pods = len(fk.list("v1", "Node")), len(fk.list("v1", "Pod"))
    wall = median([r["wall"] for r in runs])
    inner = median([r["doctor_elapsed"] for r in runs])
    last = runs[-1]
    print(f"doctor on {nodes} nodes ({args.gpu_nodes} with GPUs), {pods} pods, latency "
          f"{args.latency * 1000:.0f} ms/request, median of {args.runs}")
    print(table(["measure", "value"], [
        ["wall time, CLI process (s)", wall], ["doctor's own elapsed (s)", inner],
        ["requests", last["requests"]], ["writes", last["writes"]], ["findings", last["findings"]]]))
    print(f"\nrequests by verb: {last['by_verb']}; findings: {last['counts']}")
    verdict = "meets" if wall < GOAL_SECONDS else "MISSES"
    print(f"goal < {GOAL_SECONDS:.0f} s: {verdict}")
    emit_json("doctor", {"latency_s": args.latency, "nodes": nodes, "gpu_nodes": args.gpu_nodes, "pods": pods,
                         "runs": args.runs, "wall_s": round(wall, 3), "doctor_elapsed_s": round(inner, 3),
                         "requests": last["requests"], "writes": last["writes"], "by_verb": last["by_verb"],
                         "findings": last["findings"], "goal_s": GOAL_SECONDS})


if __name__ == "__main__":
    main()
