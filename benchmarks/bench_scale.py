"""Scale: plan/status/doctor on a 100-GPU-node cluster at 20 ms per request, and verify-gpu fan-out.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_scale.py [--gpu-nodes 100] [--latency 0.020]
        [--verify-nodes 16] [--job-seconds 2] [--runs 3]

1. The cluster: N GPU nodes (8× H100, the four GPU Operator operand pods each, --pods-per-node training
   pods; tests/doctor_world.py's node and pod objects) plus kfboot's fixture platform (cert-manager,
   Kubeflow namespace, Istio, Dex from the fixture tree) installed by kfboot itself. Then, at
   --latency per request, the real CLI (a subprocess) runs `plan`, `status` and `doctor`: wall time
   (process start to exit, median of --runs), requests and writes (0 expected) of each.
2. verify-gpu fan-out: `kfboot verify-gpu` (real CLI, subprocess) on 1 GPU node and on --verify-nodes
   GPU nodes, each node's nvidia-smi and NCCL Jobs taking --job-seconds to finish (the fake completes a
   Job's pod after that delay, with canned real-format output). Goal (issue 15): the 16-node run's wall
   ≤ 1.3× the one-node run's, with --parallel equal to the node count (and, for reference, at the
   default --parallel 4).
Prints one JSON line per measure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, emit_json, fix_fake_nagle, median

from tests import doctor_world as world
from tests.bed import MANIFESTS
from tests.fakekube import FakeKube
from tests.gpu.nccl_logs import single_node_log
from tests.gpu.test_verify_gpu_live import NS as GPU_NS
from tests.gpu.test_verify_gpu_live import node as h100_node
from tests.gpu.test_verify_gpu_live import smi_log

PLATFORM = """\
apiVersion: kfboot.io/v1alpha1
kind: Platform
components:
  gpu-operator: {enabled: false}
  kubeflow: {enabled: false}
  kuberay: {enabled: false}
  kserve: {enabled: false}
install: {timeout: 120}
"""


def cli(kubeconfig: Path, *args: str) -> tuple[float, dict[str, Any], int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CI": "true"}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "kfboot", "--kubeconfig", str(kubeconfig), "--context", "bench",
                           "--yes", "-o", "json", *args], capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"kfboot {' '.join(args)}: rc={proc.returncode}\n{proc.stderr[-2000:]}")
    return wall, json.loads(lines[-1]), proc.returncode


def seed_gpu_cluster(fk: FakeKube, gpu_nodes: int, pods_per_node: int) -> None:
    for i in range(gpu_nodes):
        name = f"gpu-{i + 1}"
        fk.put(world.gpu_node(name, provider="aws:///us-east-1a/i-"))
        for app in world.OPERANDS:
            fk.put(world.pod("gpu-operator", f"{app}-{name}", node=name, labels={"app": app}))
        for j in range(pods_per_node):
            fk.put(world.pod("team-a", f"train-{name}-{j}", node=name, gpus=1, labels={"app": "train"}))


def read_commands(args: argparse.Namespace, tmp: Path) -> None:
    config = tmp / "kfboot.yaml"
    config.write_text(PLATFORM)
    with FakeKube(seed=0) as fk:
        for ns in ("gpu-operator", "team-a"):
            fk.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        seed_gpu_cluster(fk, args.gpu_nodes, args.pods_per_node)
        kubeconfig = fk.write_kubeconfig(tmp / "kubeconfig", context="bench")
        _, summary, code = cli(kubeconfig, "install", "-f", str(config), "--manifests", str(MANIFESTS))
        if code != 0:
            raise SystemExit(f"install failed: {summary}")
        fk.latency = args.latency
        nodes, pods = len(fk.list("v1", "Node")), len(fk.list("v1", "Pod"))
        for name, command in (("plan", ["plan", "-f", str(config), "--manifests", str(MANIFESTS)]),
                              ("status", ["status", "-f", str(config)]), ("doctor", ["doctor"])):
            runs = []
            for _ in range(args.runs):
                fk.reset_requests()
                wall, summary, code = cli(kubeconfig, *command)
                runs.append((wall, len(fk.requests), fk.write_count(), code))
            emit_json(f"scale_{name}", {"nodes": nodes, "gpu_nodes": args.gpu_nodes, "pods": pods,
                                        "latency_s": args.latency, "runs": args.runs,
                                        "wall_s": round(median([r[0] for r in runs]), 3),
                                        "requests": runs[-1][1], "writes": runs[-1][2], "exit": runs[-1][3]})


def verify_gpu(n: int, parallel: int, job_seconds: float, tmp: Path) -> tuple[float, int, int]:
    with FakeKube(seed=0, ready_delay=job_seconds) as fk:
        for i in range(n):
            name = f"gpu-{i + 1:02d}"
            fk.put(h100_node(name))
            fk.set_job_result(GPU_NS, _name("smi", name), smi_log())
            fk.set_job_result(GPU_NS, _name("nccl", name), single_node_log(host=f"{name}-pod"))
        kubeconfig = fk.write_kubeconfig(tmp / f"kubeconfig-{n}-{parallel}", context="bench")
        wall, _, code = cli(kubeconfig, "verify-gpu", "--parallel", str(parallel), "--timeout", "120")
        return wall, code, len(fk.requests)


def _name(prefix: str, node: str) -> str:
    from kfboot.verify.gpu_pods import object_name

    return object_name(prefix, node)


def fan_out(args: argparse.Namespace, tmp: Path) -> None:
    one = median([verify_gpu(1, 1, args.job_seconds, tmp)[0] for _ in range(args.runs)])
    for parallel in (args.verify_nodes, 4):
        results = [verify_gpu(args.verify_nodes, parallel, args.job_seconds, tmp) for _ in range(args.runs)]
        wall = median([r[0] for r in results])
        emit_json("scale_verify_gpu", {"nodes": args.verify_nodes, "parallel": parallel,
                                       "job_seconds": args.job_seconds, "one_node_wall_s": round(one, 3),
                                       "wall_s": round(wall, 3), "ratio": round(wall / one, 3),
                                       "exit": results[-1][1], "requests": results[-1][2],
                                       "goal": "ratio <= 1.3 (parallel = nodes)"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gpu-nodes", type=int, default=100)
    ap.add_argument("--pods-per-node", type=int, default=4)
    ap.add_argument("--latency", type=float, default=0.020)
    ap.add_argument("--verify-nodes", type=int, default=16)
    ap.add_argument("--job-seconds", type=float, default=2.0, help="how long each nvidia-smi/NCCL Job runs")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=("read", "verify-gpu"), default=None)
    args = ap.parse_args()
    fix_fake_nagle(True)
    with tempfile.TemporaryDirectory(prefix="kfboot-bench-scale-") as tmp:
        if args.only != "verify-gpu":
            read_commands(args, Path(tmp))
        if args.only != "read":
            fan_out(args, Path(tmp))


if __name__ == "__main__":
    main()
