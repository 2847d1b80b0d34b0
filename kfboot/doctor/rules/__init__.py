"""Doctor's rules: pure functions Facts → findings, one module per group of the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from kfboot.doctor.facts import Facts
from kfboot.doctor.findings import GROUPS, Finding, skip
from kfboot.doctor.redact import redact_text
from kfboot.doctor.rules import capacity, cluster, gpu, platform, signatures, workloads

Rule = Callable[[Facts], list[Finding]]

# every rule, in report order; each needs the API server except the tool checks
RULES: tuple[Rule, ...] = (
    cluster.tools, cluster.api_server, cluster.unreadable, cluster.recorded_state, cluster.lock,
    capacity.footprint, capacity.default_storage_class, capacity.pending_pvcs, capacity.inotify,
    gpu.gpu_nodes, gpu.operands, gpu.cluster_policy, gpu.mig_state, gpu.pools, gpu.fabric_manager,
    platform.webhooks, platform.crds, platform.istio, platform.auth, platform.serving, platform.profiles,
    workloads.pending, workloads.broken_containers, workloads.warning_events,
    signatures.signatures,
)
OFFLINE_RULES = (cluster.tools, cluster.api_server)


def evaluate(facts: Facts) -> list[Finding]:
    """All findings, grouped in report order (stable within a group). Messages quote logs, events and
    errors, so they are redacted like the support archive: a report can be pasted into an issue."""
    if not facts.reachable:
        found = [f for rule in OFFLINE_RULES for f in rule(facts)]
        found.append(skip("cluster.checks", "cluster", "the API server is unreachable, so nothing in the cluster "
                          "was checked", GROUPS[0]))
        return found
    found = [f for rule in RULES for f in rule(facts)]
    order = {g: i for i, g in enumerate(GROUPS)}
    found = [replace(f, message=redact_text(f.message)) for f in found]
    return sorted(found, key=lambda f: order.get(f.group, len(order)))
