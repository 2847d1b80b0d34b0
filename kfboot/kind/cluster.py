"""`kfboot cluster create|delete`: preflight, kind, node readiness, GPU node setup, context switch.

Everything is reported through `emit` as plain event dicts (each with an `event` key), so the CLI
decides how they look. kind and docker run only through kfboot.tools.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfboot import tools
from kfboot.errors import ClusterError, KfbootError, UsageError
from kfboot.kind import config as kc
from kfboot.kind import preflight as pf
from kfboot.kind.facts import gather
from kfboot.kind.gpu_nodes import RUNTIME_CLASS, setup_gpu_node

Emit = Callable[[dict[str, Any]], None]
KIND_CREATE_TIMEOUT = 900.0


class ClusterBroken(KfbootError):
    """An existing kind cluster of that name cannot be reused as it is."""


@dataclass(frozen=True)
class CreateRequest:
    name: str
    node_image: str
    workers: int
    gpus: kc.GpuRequest
    mirrors: tuple[kc.Mirror, ...]
    certs_dir: Path | None
    requirements: pf.Requirements
    ignored: frozenset[str]
    wait: float
    kubeconfig: Path | None = None
    dry_run: bool = False
    host_root: Path = Path("/")


def _kubeconfig_args(kubeconfig: Path | None) -> list[str]:
    return ["--kubeconfig", str(kubeconfig)] if kubeconfig else []


def existing_clusters() -> list[str]:
    """`kind get clusters` (it prints "No kind clusters found." on stderr when there are none)."""
    out = tools.run("kind", ["get", "clusters"], timeout=60).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def run_preflight(req: CreateRequest, emit: Emit) -> pf.HostFacts:
    facts = gather(gpus=req.gpus.wanted, root=req.host_root)
    results = pf.evaluate(facts, req.requirements, req.ignored)
    for result in results:
        emit(result.to_dict())
    pf.raise_on_errors(results)
    return facts


def plan_spec(req: CreateRequest, host_gpus: int | None) -> kc.ClusterSpec:
    devices = kc.gpu_layout(req.gpus, host_gpus)
    return kc.build_spec(name=req.name, node_image=req.node_image, workers=req.workers, gpu_devices=devices,
                         mirrors=req.mirrors, certs_dir=req.certs_dir)


def _check_existing(name: str) -> list[str]:
    """The node containers of an existing cluster, all running (else ClusterBroken says what to do)."""
    nodes = [n for n in tools.run("kind", ["get", "nodes", "--name", name], timeout=60).stdout.split() if n]
    if not nodes:
        raise ClusterBroken(f"kind cluster {name} exists but has no nodes",
                            hint=f"delete and recreate it: kfboot cluster delete --name {name} && "
                                 f"kfboot cluster create --name {name}")
    states = tools.run("docker", ["inspect", "--format", "{{.Name}} {{.State.Status}}", *nodes],
                       timeout=60, check=False)
    stopped = []
    for line in states.stdout.splitlines():
        node, _, state = line.strip().lstrip("/").partition(" ")
        if state != "running":
            stopped.append(f"{node} ({state or 'unknown'})")
    if states.returncode != 0 or stopped:
        what = ", ".join(stopped) or states.stderr.strip() or "docker inspect failed"
        raise ClusterBroken(f"kind cluster {name} exists but not all of its nodes are running: {what}",
                            hint=f"start them (`docker start {' '.join(nodes)}`) or recreate the cluster: "
                                 f"kfboot cluster delete --name {name}")
    return nodes


def _node_readiness(nodes: list[dict[str, Any]], expected: list[str]) -> tuple[int, str]:
    """How many expected nodes are Ready, and what the first one that is not says."""
    by_name = {n.get("metadata", {}).get("name"): n for n in nodes}
    ready, waiting = 0, ""
    for name in expected:
        node = by_name.get(name)
        conditions = {c.get("type"): c for c in ((node or {}).get("status") or {}).get("conditions") or []}
        cond = conditions.get("Ready")
        if cond is not None and cond.get("status") == "True":
            ready += 1
        elif not waiting:
            why = "not registered yet" if node is None else (
                (cond or {}).get("message") or (cond or {}).get("reason") or "no Ready condition yet")
            waiting = f"{name}: {why}"
    return ready, waiting


def wait_nodes_ready(kube: Any, expected: list[str], deadline: float, emit: Emit) -> None:
    from kfboot.k8s.readiness import Readiness
    from kfboot.k8s.waits import Waiter

    def probe() -> Readiness:
        try:
            nodes = kube.list("v1", "Node")
        except ClusterError as exc:
            return Readiness(False, f"API server not answering yet ({exc.message})")
        ready, waiting = _node_readiness(nodes, expected)
        if ready == len(expected):
            return Readiness(True, "ready")
        return Readiness(False, f"{ready}/{len(expected)} nodes Ready; {waiting}")

    def progress(message: str) -> None:
        emit({"event": "progress", "step": "nodes", "message": message})

    Waiter(kube, progress=progress, max_interval=2.0).until("every node to be Ready", probe, deadline)
    emit({"event": "progress", "step": "nodes", "message": f"{len(expected)}/{len(expected)} nodes Ready"})


def kind_kubeconfig(kubeconfig: Path | None) -> Path:
    """The file kind writes the context to: --kubeconfig, else the first of $KUBECONFIG, else ~/.kube/config."""
    if kubeconfig is not None:
        return kubeconfig
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first) if first else Path.home() / ".kube" / "config"


def _connect(kubeconfig: Path | None, context: str) -> Any:
    from kfboot.k8s.client import Kube

    return Kube.connect(kind_kubeconfig(kubeconfig), context)


def create(req: CreateRequest, emit: Emit) -> dict[str, Any]:
    """Create (or reuse) the cluster; returns the summary event."""
    started = time.monotonic()
    facts = run_preflight(req, emit)
    spec = plan_spec(req, facts.host_gpus)
    if req.dry_run:
        emit({"event": "config", "name": spec.name, "yaml": kc.render_config(spec)})
        return {"event": "summary", "operation": "cluster-create", "ok": True, "exitCode": 0, "dryRun": True,
                "name": spec.name, "context": spec.context, "elapsed": round(time.monotonic() - started, 3)}
    deadline = time.monotonic() + req.wait
    reused = spec.name in existing_clusters()
    if reused:
        nodes = _check_existing(spec.name)
        emit({"event": "progress", "step": "reuse", "message": f"kind cluster {spec.name} already exists "
              f"({len(nodes)} nodes running); reusing it, not recreating it"})
        if len(nodes) != len(spec.node_names()):
            emit({"event": "warning", "message": f"kind cluster {spec.name} has {len(nodes)} nodes, the options ask "
                  f"for {len(spec.node_names())}; kind clusters cannot be resized: to change it, "
                  f"`kfboot cluster delete --name {spec.name}` and create it again"})
        tools.run("kind", ["export", "kubeconfig", "--name", spec.name, *_kubeconfig_args(req.kubeconfig)], timeout=60)
    else:
        nodes = spec.node_names()
        for path in kc.write_mirror_hosts(spec):
            emit({"event": "progress", "step": "mirrors", "message": f"wrote {path}"})
        emit({"event": "progress", "step": "create", "message": f"creating kind cluster {spec.name}: 1 control "
              f"plane, {len(spec.workers)} worker(s), image {spec.node_image}"})
        with tempfile.TemporaryDirectory(prefix="kfboot-kind-") as tmp:
            config_file = Path(tmp) / "kind-config.yaml"
            config_file.write_text(kc.render_config(spec), encoding="utf-8")
            tools.run("kind", ["create", "cluster", "--name", spec.name, "--config", str(config_file),
                               *_kubeconfig_args(req.kubeconfig)],
                      timeout=max(KIND_CREATE_TIMEOUT, req.wait), what=f"kind create cluster {spec.name}")
    emit({"event": "progress", "step": "context", "message": f"kube context is now {spec.context}"})
    kube = _connect(req.kubeconfig, spec.context)
    wait_nodes_ready(kube, nodes, deadline, emit)
    gpu_nodes: dict[str, Any] = {}
    if req.gpus.wanted:
        gpu_nodes = _setup_gpus(kube, spec, facts.host_gpus, reused, [n for n in nodes if n in spec.gpu_nodes()], emit)
        if gpu_nodes:  # containerd restarted on those nodes: see them Ready again
            wait_nodes_ready(kube, nodes, time.monotonic() + req.wait, emit)
    return {"event": "summary", "operation": "cluster-create", "ok": True, "exitCode": 0, "name": spec.name,
            "context": spec.context, "reused": reused, "nodes": nodes, "gpuNodes": gpu_nodes,
            "elapsed": round(time.monotonic() - started, 3)}


def _setup_gpus(kube: Any, spec: kc.ClusterSpec, host_gpus: int | None, reused: bool, present: list[str],
                emit: Emit) -> dict[str, Any]:
    from kfboot.k8s.refs import ObjectRef

    def say(message: str) -> None:
        emit({"event": "progress", "step": "gpu", "message": message})

    if reused and kube.get_ref(ObjectRef.of(RUNTIME_CLASS)) is not None:
        say("RuntimeClass nvidia exists: GPU nodes were set up when the cluster was created")
        return {}
    if not present:
        raise UsageError(f"kind cluster {spec.name} has no GPU workers to set up",
                         hint=f"it was created without --gpus; recreate it: kfboot cluster delete --name {spec.name}")
    done: dict[str, Any] = {}
    for node in present:
        action = setup_gpu_node(node, spec.gpu_nodes()[node], host_gpus, say)
        done[node] = {"gpus": list(spec.gpu_nodes()[node]), "procDriverNvidia": action.kind}
    kube.apply(RUNTIME_CLASS)
    say("RuntimeClass nvidia created (handler nvidia)")
    return done


def delete(name: str, kubeconfig: Path | None, emit: Emit) -> dict[str, Any]:
    """Delete the cluster; deleting one that does not exist is success (nothing to do)."""
    started = time.monotonic()
    if name not in existing_clusters():
        emit({"event": "progress", "step": "delete", "message": f"no kind cluster named {name}: nothing to delete"})
        deleted = False
    else:
        emit({"event": "progress", "step": "delete", "message": f"deleting kind cluster {name}"})
        tools.run("kind", ["delete", "cluster", "--name", name, *_kubeconfig_args(kubeconfig)], timeout=300)
        deleted = True
    return {"event": "summary", "operation": "cluster-delete", "ok": True, "exitCode": 0, "name": name,
            "deleted": deleted, "elapsed": round(time.monotonic() - started, 3)}
