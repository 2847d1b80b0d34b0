"""Bulk server-side apply: kfboot's Applier vs `kubectl apply --server-side`, against the fake API server.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_apply.py [--objects 1000] [--latency 0.010]

Generates N objects (1 Namespace, ~50% ConfigMaps, ~30% Secrets, ~15% ServiceAccounts, the rest
Services: nothing a controller must make ready) into one multi-document YAML file, then applies it
to a fresh fake API server (`tests.fakekube`, `latency` seconds added to every request):

  * kfboot: parse the file (kfboot.k8s.manifests.parse_manifests), Kube.connect, Applier.apply,
    at parallel = 1, 4, 16 (kfboot's default), 32;
  * kubectl: `kubectl apply --server-side -f FILE` (default, server-side Strict validation like kfboot's) (fresh HOME/KUBECACHEDIR, so it
    does its full discovery, as on a first run).

Goal (issue): kfboot at its default parallelism >= 5x faster than kubectl. Timing is reported, never
asserted. Prints a table and then one JSON line.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import yaml  # noqa: E402
from _common import ROOT, VENV_BIN, emit_json, table  # noqa: E402

from kfboot.k8s.apply import Applier  # noqa: E402
from kfboot.k8s.client import Kube  # noqa: E402
from kfboot.k8s.manifests import parse_manifests  # noqa: E402
from kfboot.k8s.waits import Waiter  # noqa: E402

NAMESPACE = "bench"
DEFAULT_PARALLEL = 16


def generate(n: int) -> list[dict[str, Any]]:
    """1 Namespace + ConfigMaps/Secrets/ServiceAccounts/Services in a 50/30/15/rest split."""
    if n < 5:
        raise SystemExit("--objects must be at least 5")
    rest = n - 1
    cms, secrets, sas = round(rest * 0.50), round(rest * 0.30), round(rest * 0.15)
    svcs = rest - cms - secrets - sas
    labels = {"app.kubernetes.io/part-of": "kfboot-bench"}
    objs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": NAMESPACE, "labels": labels}}]
    for i in range(cms):
        objs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": f"cm-{i:04d}", "namespace": NAMESPACE, "labels": labels},
                     "data": {"config.yaml": f"index: {i}\nname: cm-{i:04d}\nenabled: true\n",
                              "LOG_LEVEL": "info"}})
    for i in range(secrets):
        objs.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"name": f"secret-{i:04d}", "namespace": NAMESPACE, "labels": labels},
                     "data": {"password": base64.b64encode(f"pw-{i:04d}".encode()).decode()}})
    for i in range(sas):
        objs.append({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": f"sa-{i:04d}", "namespace": NAMESPACE, "labels": labels}})
    for i in range(svcs):
        objs.append({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": f"svc-{i:04d}", "namespace": NAMESPACE, "labels": labels},
                     "spec": {"type": "ClusterIP", "selector": {"app": f"svc-{i:04d}"},
                              "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
    return objs


def count_kinds(objs: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in objs:
        counts[o["kind"]] = counts.get(o["kind"], 0) + 1
    return counts


class FakeProcess:
    """A fresh fake API server in a child process (see _fakeproc.py)."""

    def __init__(self, kubeconfig: Path, args: argparse.Namespace) -> None:
        cmd = [sys.executable, str(HERE / "_fakeproc.py"), "--kubeconfig", str(kubeconfig),
               "--latency", str(args.latency), "--namespace", NAMESPACE]
        if args.controllers:
            cmd.append("--controllers")
        if args.keep_nagle:
            cmd.append("--keep-nagle")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.kubeconfig = kubeconfig
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("READY"):
            self.close()
            raise SystemExit(f"fake API server did not start: {line!r}")

    def ask(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> FakeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_kfboot(path: Path, parallel: int, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    with FakeProcess(tmp / f"kubeconfig-kfboot-{parallel}", args) as fake:
        t0 = time.perf_counter()
        objects = parse_manifests(path.read_text(), str(path))
        t_parse = time.perf_counter()
        kube = Kube.connect(fake.kubeconfig, "kind-fake")
        t1 = time.perf_counter()
        Applier(kube, Waiter(kube), parallel=parallel).apply(objects, time.monotonic() + 600)
        t2 = time.perf_counter()
        kube.close()
        stats = fake.ask("stats")
        return {"tool": f"kfboot parallel={parallel}", "parallel": parallel, "seconds": t2 - t0,
                "parse_s": t_parse - t0, "apply_s": t2 - t1, "requests": stats["requests"],
                "writes": stats["writes"], "client_requests": kube.requests, "retries": kube.retries,
                "stored": stats["stored"]}


def run_kubectl(path: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    kubectl = VENV_BIN / "kubectl"
    home = tmp / "kubectl-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "KUBECACHEDIR": str(home / "cache")}
    env.pop("KUBECONFIG", None)
    with FakeProcess(tmp / "kubeconfig-kubectl", args) as fake:
        # kubectl's default validation (Strict, done by the server), as kfboot's apply requests it
        cmd = [str(kubectl), "--kubeconfig", str(fake.kubeconfig), "apply", "--server-side", "-f", str(path)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        t1 = time.perf_counter()
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-2000:])
            raise SystemExit(f"kubectl apply failed with exit code {proc.returncode}")
        stats = fake.ask("stats")
        return {"tool": "kubectl apply --server-side", "parallel": 1, "seconds": t1 - t0,
                "requests": stats["requests"], "writes": stats["writes"], "stored": stats["stored"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=1000, help="objects to generate (default 1000)")
    ap.add_argument("--latency", type=float, default=0.010, help="seconds added per request (default 0.010)")
    ap.add_argument("--parallel", default="1,4,16,32", help="kfboot parallelism levels (default 1,4,16,32)")
    ap.add_argument("--skip-kubectl", action="store_true", help="only run kfboot")
    ap.add_argument("--keep-nagle", action="store_true",
                    help="leave the fake server's ~40 ms Nagle/delayed-ACK stall per request in place")
    ap.add_argument("--controllers", action="store_true",
                    help="keep the fake's controller loop running (it deep-copies every object each tick)")
    args = ap.parse_args()
    levels = [int(p) for p in args.parallel.split(",") if p]

    objects = generate(args.objects)
    with tempfile.TemporaryDirectory(prefix="kfboot-bench-apply-") as tmpdir:
        tmp = Path(tmpdir)
        path = tmp / "objects.yaml"
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        print(f"{len(objects)} objects {count_kinds(objects)}, {path.stat().st_size // 1024} KiB of YAML, "
              f"latency {args.latency * 1000:.1f} ms/request"
              f"{' (fake server Nagle stall kept)' if args.keep_nagle else ''}"
              f"{', fake controllers on' if args.controllers else ''}")
        rows: list[dict[str, Any]] = []
        for level in levels:
            rows.append(run_kfboot(path, level, tmp, args))
        if not args.skip_kubectl:
            rows.append(run_kubectl(path, tmp, args))

    for r in rows:
        r["objects_per_s"] = len(objects) / r["seconds"]
        if r["stored"] != len(objects):
            print(f"WARNING: {r['tool']} left {r['stored']} of {len(objects)} objects in the fake", file=sys.stderr)
    kubectl = next((r for r in rows if r["tool"].startswith("kubectl")), None)
    default = next((r for r in rows if r.get("parallel") == DEFAULT_PARALLEL and r["tool"].startswith("kfboot")), None)
    print()
    print(table(["tool", "seconds", "requests", "writes", "objects/s", "vs kubectl"],
                [[r["tool"], r["seconds"], r["requests"], r["writes"], r["objects_per_s"],
                  (f"{kubectl['seconds'] / r['seconds']:.1f}x" if kubectl else "n/a")] for r in rows]))
    parse_s = rows[0].get("parse_s", float("nan"))
    print(f"\n(kfboot seconds include parsing the YAML file: {parse_s:.3f} s with parse_manifests)")
    speedup = kubectl["seconds"] / default["seconds"] if kubectl and default else None
    if speedup is not None:
        verdict = "meets" if speedup >= 5 else "MISSES"
        print(f"speedup kfboot(parallel={DEFAULT_PARALLEL}) vs kubectl: {speedup:.1f}x "
              f"(goal >= 5x: {verdict})")
    emit_json("apply", {"objects": len(objects), "latency_s": args.latency, "keep_nagle": args.keep_nagle,
                        "controllers": args.controllers,
                        "runs": rows,
                        "speedup_default_vs_kubectl": speedup, "goal_speedup": 5.0})


if __name__ == "__main__":
    main()
