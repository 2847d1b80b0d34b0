"""Everything doctor judges, read from the cluster WITHOUT writing, into one plain snapshot.

One LIST per kind for the whole cluster (never one request per object), a few at a time, so a
100-node cluster costs the same ~20 requests as a kind cluster. The only per-object reads are
bounded: the state ConfigMap and lock Lease (two GETs), and log tails of at most MAX_LOG_PODS
failing pods. Anything unreadable (kind not installed, RBAC) is recorded, never fatal: a rule
that needs it reports `skip` with the reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kfboot import tools
from kfboot.engine.state import PhaseRecord
from kfboot.errors import ClusterError, KfbootError
from kfboot.k8s.lease import LOCK_NAME
from kfboot.phases.state_store import STATE_NAMESPACE, ConfigMapStateStore

# attribute of Facts → (apiVersion, kind) listed cluster-wide, once
LISTS: dict[str, tuple[str, str]] = {
    "nodes": ("v1", "Node"),
    "pods": ("v1", "Pod"),
    "events": ("v1", "Event"),
    "namespaces": ("v1", "Namespace"),
    "services": ("v1", "Service"),
    "pvcs": ("v1", "PersistentVolumeClaim"),
    "endpoint_slices": ("discovery.k8s.io/v1", "EndpointSlice"),
    "storage_classes": ("storage.k8s.io/v1", "StorageClass"),
    "deployments": ("apps/v1", "Deployment"),
    "daemonsets": ("apps/v1", "DaemonSet"),
    "jobs": ("batch/v1", "Job"),
    "crds": ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    "mutating_webhooks": ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    "validating_webhooks": ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    "cluster_policies": ("nvidia.com/v1", "ClusterPolicy"),
    "profiles": ("kubeflow.org/v1", "Profile"),
}
CONCURRENCY = 8
MAX_LOG_PODS = 20
LOG_TAIL_LINES = 200
INOTIFY_FILES = ("/proc/sys/fs/inotify/max_user_instances", "/proc/sys/fs/inotify/max_user_watches")


@dataclass(frozen=True)
class ToolFact:
    name: str
    path: str = ""
    version: tuple[int, ...] | None = None
    error: str = ""  # "not found …" / "failed …"; empty when found


@dataclass(frozen=True)
class Inotify:
    max_user_instances: int
    max_user_watches: int


@dataclass
class Facts:
    """A read-only snapshot of one cluster plus what the platform config expects of it."""

    context: str = ""
    server: str = ""
    server_version: str = ""  # gitVersion, e.g. v1.34.0
    server_error: str = ""  # set when the API server could not be reached (every other fact is empty)
    is_kind: bool = False
    tools: dict[str, ToolFact] = field(default_factory=dict)
    enabled: tuple[str, ...] = ()  # components the platform config enables
    pools: list[Any] = field(default_factory=list)  # kfboot.gpu.plan.PoolPlan of the config's GPU pools
    nodes: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    namespaces: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    pvcs: list[dict[str, Any]] = field(default_factory=list)
    endpoint_slices: list[dict[str, Any]] = field(default_factory=list)
    storage_classes: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    daemonsets: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    crds: list[dict[str, Any]] = field(default_factory=list)
    mutating_webhooks: list[dict[str, Any]] = field(default_factory=list)
    validating_webhooks: list[dict[str, Any]] = field(default_factory=list)
    cluster_policies: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, PhaseRecord] = field(default_factory=dict)
    lock: dict[str, Any] | None = None
    logs: dict[str, str] = field(default_factory=dict)  # "namespace/pod/container" → log tail
    inotify: dict[str, Inotify] = field(default_factory=dict)  # kind node → its limits
    inotify_skipped: str = ""  # why inotify limits were not read
    unreadable: dict[str, str] = field(default_factory=dict)  # facts attribute → why it is empty
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def reachable(self) -> bool:
        return not self.server_error

    def readable(self, what: str) -> bool:
        return self.reachable and what not in self.unreadable


# -- the platform's expectations --------------------------------------------------------------------
def expectations(platform: Any) -> tuple[tuple[str, ...], list[Any]]:
    """Enabled components (implicit ones included) and the resolved GPU pools of a Platform."""
    from kfboot.config.catalog import load_catalog

    catalog = load_catalog()
    enabled = []
    for name, entry in catalog.components.items():
        comp = platform.components.get(name)
        on = bool(comp.enabled) if comp is not None else any(
            getattr(platform.components.get(o), "enabled", False) for o in entry.enabled_with)
        if on:
            enabled.append(name)
    pools: list[Any] = []
    if platform.gpu.pools:
        from kfboot.gpu.plan import build_plan
        from kfboot.gpu.profiles import load_profiles

        profiles = load_profiles([platform.gpu.profiles_dir] if platform.gpu.profiles_dir else [])
        pools = list(build_plan(platform.gpu, profiles).pools)
    return tuple(enabled), pools


# -- reading ----------------------------------------------------------------------------------------
def read_tools(names: tuple[str, ...]) -> dict[str, ToolFact]:
    out = {}
    for name in names:
        try:
            path = tools.find(name)
            out[name] = ToolFact(name, path, tools.version(name))
        except KfbootError as exc:
            out[name] = ToolFact(name, error=exc.message)
    return out


def _discover(kube: Any, api_version: str, kind: str) -> None:
    with contextlib.suppress(ClusterError):  # NotFound included: the list of that kind reports it
        kube.resource(api_version, kind)


def _list(kube: Any, api_version: str, kind: str) -> list[dict[str, Any]]:
    """All objects of a kind in every namespace: one request, whatever the cluster's size."""
    res = kube.resource(api_version, kind)
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    data = kube.request("GET", f"{base}/{res.plural}")
    items = (data or {}).get("items", [])
    for item in items:  # lists omit apiVersion/kind on items
        item.setdefault("apiVersion", api_version)
        item.setdefault("kind", kind)
    return items


def read_facts(kube: Any, platform: Any, *, docker: bool = True) -> Facts:
    """The whole snapshot. `kube` has not been preflighted: an unreachable server is a fact too."""
    from kfboot.k8s.client import NotFound

    facts = Facts(context=kube.target.context, server=kube.target.server, is_kind=kube.target.is_kind)
    facts.enabled, facts.pools = expectations(platform)
    tool_names = ("kubectl", "helm", "kind") if facts.is_kind else ("kubectl", "helm")
    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="doctor") as pool:
        tools_future = pool.submit(read_tools, tool_names)
        try:
            facts.server_version = kube.preflight()
        except ClusterError as exc:
            facts.server_error = exc.message
            facts.tools = tools_future.result()
            return facts

        def read(what: str) -> Callable[[], Any]:
            api_version, kind = LISTS[what]
            return lambda: _list(kube, api_version, kind)

        # discovery first, once per group version (threads racing to discover the same group would
        # each fetch it), then every list at once
        first_kind = {api_version: kind for api_version, kind in reversed(LISTS.values())}
        for done in [pool.submit(_discover, kube, av, kind) for av, kind in first_kind.items()]:
            done.result()
        jobs = {what: pool.submit(read(what)) for what in LISTS}
        state_future = pool.submit(ConfigMapStateStore(kube).load)
        lock_future = pool.submit(kube.get, "coordination.k8s.io/v1", "Lease", LOCK_NAME, STATE_NAMESPACE)
        for what, future in jobs.items():
            try:
                setattr(facts, what, future.result())
            except NotFound:
                facts.unreadable[what] = f"the cluster has no {LISTS[what][1]} kind ({LISTS[what][0]} not installed)"
            except ClusterError as exc:
                facts.unreadable[what] = exc.message
        for what, future, default in (("state", state_future, {}), ("lock", lock_future, None)):
            try:
                setattr(facts, what, future.result())
            except ClusterError as exc:
                setattr(facts, what, default)
                facts.unreadable[what] = exc.message
        facts.tools = tools_future.result()
        facts.is_kind = facts.is_kind or any(
            str((n.get("spec") or {}).get("providerID", "")).startswith("kind://") for n in facts.nodes)
        logs_future = pool.submit(read_logs, kube, facts.pods)
        if docker and facts.is_kind:
            facts.inotify, facts.inotify_skipped = read_inotify([n["metadata"]["name"] for n in facts.nodes])
        elif not facts.is_kind:
            facts.inotify_skipped = ("not a kind cluster: inotify limits are node sysctls the API does not show "
                                     "(on a node: `sysctl fs.inotify.max_user_instances fs.inotify.max_user_watches`)")
        else:
            facts.inotify_skipped = "docker was not consulted"
        facts.logs = logs_future.result()
    return facts


def read_logs(kube: Any, pods: list[dict[str, Any]]) -> dict[str, str]:
    """Log tails of failing containers (at most MAX_LOG_PODS pods): where NCCL/CUDA errors are."""
    from kfboot.doctor.podview import failing_containers, gpu_request

    failing = [(pod, names) for pod in pods if (names := failing_containers(pod))]
    failing.sort(key=lambda item: gpu_request(item[0]) == 0)  # GPU pods first: NCCL/CUDA errors live there
    wanted = [(pod["metadata"].get("namespace", ""), pod["metadata"]["name"], names[0])
              for pod, names in failing[:MAX_LOG_PODS]]

    def tail(item: tuple[str, str, str]) -> tuple[str, str]:
        ns, name, container = item
        try:
            return f"{ns}/{name}/{container}", kube.request(
                "GET", f"/api/v1/namespaces/{ns}/pods/{name}/log",
                query={"container": container, "tailLines": LOG_TAIL_LINES}, raw=True, attempts=2)
        except ClusterError:
            return f"{ns}/{name}/{container}", ""

    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="doctor-logs") as own:
        return dict(own.map(tail, wanted))


def read_inotify(node_names: list[str]) -> tuple[dict[str, Inotify], str]:
    """kind nodes are containers sharing the host kernel: read their sysctls with `docker exec`."""
    try:
        tools.find("docker")
    except KfbootError as exc:
        return {}, f"docker is not available ({exc.message}), so kind nodes' inotify limits cannot be read"
    def one(name: str) -> tuple[str, Inotify | None, str]:
        try:
            result = tools.run("docker", ["exec", name, "cat", *INOTIFY_FILES], timeout=15,
                               what=f"docker exec {name} cat inotify limits")
            values = [int(v) for v in result.stdout.split()[:2]]
            return name, Inotify(values[0], values[1]), ""
        except (KfbootError, ValueError, IndexError) as exc:
            return name, None, f"{name}: {getattr(exc, 'message', exc)}"

    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="doctor-docker") as pool:
        results = list(pool.map(one, node_names[:CONCURRENCY]))  # one kernel for all kind nodes: a few suffice
    out = {name: limits for name, limits, _ in results if limits is not None}
    problems = [why for _, limits, why in results if limits is None]
    return out, ("; ".join(problems) if not out else "")
