"""Critical path: does kfboot's DAG walk finish a full install close to the longest dependency chain?

Every phase of the default platform (names and `needs` from kfboot's own catalog, plus kuberay-roles)
is played by a phase that takes, scaled down, the time its apply and readiness take on a real
cluster; kfboot's real `Runner` walks them (real DAG walk, real state records, events, threads).
Three figures: the DAG-parallel install (the platform's default `install.parallel`), the same
phases one at a time (`parallel=1`, what a script of `kubectl apply && kubectl wait` steps does),
and the lower bound: the longest chain of `needs`, summed. Goal (issue 15): parallel ≤ 1.1× the bound.

Where the readiness times come from (seconds on a real cluster; `--scale` shrinks them):
* cert-manager 45 s: kubeflow/manifests `tests/cert_manager_install.sh` waits for the webhook pod
  Ready, then for its Endpoints to carry a Pod address (each wait budgeted 180 s); three Deployments
  whose images pull and start in well under a minute on kind.
* istio 60 s: istio CRDs + istiod + ingress gateway; upstream CI waits for the pods Ready (180 s budget).
* dex 30 s: Dex and oauth2-proxy Available (two small Deployments, oauth2-proxy waits for Dex).
* kubeflow 300 s: upstream `tests/gh-actions/install_pipelines.sh` applies Pipelines, sleeps 60 s,
  then waits up to 600 s for every pod Ready; MySQL, SeaweedFS and ml-pipeline restart until their
  dependencies answer. Five minutes is the middle of that budget.
* kserve 90 s: upstream waits for `certificate/serving-cert` Ready and the CRDs Established before
  re-applying, then for the controller.
* gpu-operator 240 s: the driver container builds and loads the kernel module on each GPU node, then
  the toolkit, device plugin and validator run in sequence (minutes; less with preinstalled drivers).
* kuberay 30 s: one operator Deployment. kubeflow-namespace and kuberay-roles 1 s: plain objects.
Apply times are kfboot's measured ones on the real render (≈1–3 s per phase; issue 15's figures).
Override any of them with `--seconds PHASE=S`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kfboot.config.catalog import load_catalog
from kfboot.engine.dag import dependencies
from kfboot.engine.phase import PhaseContext, Problem
from kfboot.engine.runner import Runner

READY_S = {"cert-manager": 45.0, "istio": 60.0, "dex": 30.0, "kubeflow-namespace": 1.0, "kubeflow": 300.0,
           "kserve": 90.0, "gpu-operator": 240.0, "kuberay": 30.0, "kuberay-roles": 1.0}
APPLY_S = {"cert-manager": 1.0, "istio": 2.0, "dex": 1.0, "kubeflow-namespace": 0.1, "kubeflow": 3.0,
           "kserve": 2.0, "gpu-operator": 2.0, "kuberay": 1.0, "kuberay-roles": 0.2}


@dataclass
class SimulatedPhase:
    """A phase whose apply and readiness take the time a real cluster takes (scaled), nothing else."""

    name: str
    needs: tuple[str, ...]
    apply_s: float
    ready_s: float
    title: str = ""
    enabled: bool = True
    version: str = "1"

    def digest(self) -> str:
        return "sim"

    def describe(self) -> list[str]:
        return []

    def check(self, ctx: PhaseContext, inventory: list[object]) -> list[Problem]:
        return []

    def apply(self, ctx: PhaseContext) -> list[object]:
        time.sleep(self.apply_s)
        return [self.name]

    def wait(self, ctx: PhaseContext, inventory: list[object]) -> None:
        ctx.cancel.wait(self.ready_s)

    def uninstall(self, ctx: PhaseContext, inventory: list[object]) -> list[str]:
        return []


def default_graph() -> dict[str, tuple[str, ...]]:
    """The default platform's phases and their needs, from the catalog kfboot installs from."""
    catalog = load_catalog()
    graph = {name: tuple(entry.needs) for name, entry in catalog.components.items()}
    graph["kuberay-roles"] = ("kubeflow", "kuberay")  # added by kfboot.phases.build when both are on
    return graph


def longest_chain(graph: dict[str, tuple[str, ...]], cost: dict[str, float]) -> tuple[float, list[str]]:
    best: dict[str, tuple[float, list[str]]] = {}

    def chain(name: str) -> tuple[float, list[str]]:
        if name not in best:
            before = max((chain(d) for d in graph[name]), default=(0.0, []), key=lambda c: c[0])
            best[name] = (before[0] + cost[name], [*before[1], name])
        return best[name]

    return max((chain(n) for n in graph), key=lambda c: c[0])


def run_install(graph: dict[str, tuple[str, ...]], scale: float, parallel: int) -> tuple[float, dict[str, float]]:
    phases = [SimulatedPhase(n, needs, APPLY_S[n] * scale, READY_S[n] * scale, title=n) for n, needs in graph.items()]
    starts: dict[str, float] = {}
    origin = time.monotonic()
    lock = threading.Lock()

    def on_event(event: object) -> None:
        if getattr(event, "kind", "") == "phase" and getattr(event, "state", "") == "applying":
            with lock:
                starts[event.phase] = time.monotonic() - origin  # type: ignore[attr-defined]

    summary = Runner(phases, emit=on_event, parallel=parallel).install()
    wall = time.monotonic() - origin
    assert summary.exit_code == 0, summary.to_dict()
    return wall, starts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01, help="simulated seconds per real second")
    parser.add_argument("--parallel", type=int, default=4, help="phases at once (the platform's default: 4)")
    parser.add_argument("--seconds", action="append", default=[], metavar="PHASE=S",
                        help="override one phase's readiness time (real seconds)")
    args = parser.parse_args()
    for item in args.seconds:
        name, _, value = item.partition("=")
        READY_S[name] = float(value)
    graph = default_graph()
    cost = {n: APPLY_S[n] + READY_S[n] for n in graph}
    bound, chain = longest_chain(graph, cost)
    total = sum(cost.values())
    dag_wall, starts = run_install(graph, args.scale, args.parallel)
    seq_wall, _ = run_install(graph, args.scale, 1)
    # walls back in real-cluster seconds
    dag, seq = dag_wall / args.scale, seq_wall / args.scale
    print(f"phases: {len(graph)}; longest chain: {' -> '.join(chain)} = {bound:.0f} s; sum of all phases {total:.0f} s")
    print(f"{'schedule':<22}{'simulated s':>12}{'real-cluster s':>16}{'vs bound':>10}")
    for label, wall, real in ((f"DAG, parallel={args.parallel}", dag_wall, dag), ("one phase at a time", seq_wall, seq)):
        print(f"{label:<22}{wall:>12.2f}{real:>16.0f}{real / bound:>9.3f}x")
    lateness = {}
    for n in graph:
        deps = dependencies(graph, n)
        earliest = longest_chain({k: graph[k] for k in deps}, cost)[0] if deps else 0.0
        lateness[n] = round(starts[n] / args.scale - earliest, 1)
    print("start delay vs earliest possible (real s):", lateness)
    print(json.dumps({"benchmark": "critical_path", "phases": len(graph), "chain": chain,
                      "lower_bound_s": round(bound, 1), "sequential_sum_s": round(total, 1),
                      "dag_parallel_s": round(dag, 1), "one_at_a_time_s": round(seq, 1),
                      "dag_vs_bound": round(dag / bound, 3), "one_at_a_time_vs_bound": round(seq / bound, 3),
                      "speedup_vs_one_at_a_time": round(seq / dag, 2), "scale": args.scale,
                      "parallel": args.parallel, "goal": "dag_vs_bound <= 1.1",
                      "met": dag / bound <= 1.1}))


if __name__ == "__main__":
    main()
