"""GPU stack: GPU nodes (allocatable vs capacity vs GFD labels), operands per node, ClusterPolicy, MIG
state, the config's pools actually applied, Fabric Manager on NVSwitch systems (facts: gpu.md §4, §7)."""

from __future__ import annotations

import re
from typing import Any

from kfboot.doctor.facts import Facts
from kfboot.doctor.findings import Finding, fail, ok, skip, warn
from kfboot.doctor.podview import is_ready, name
from kfboot.doctor.rules._common import labels, present, quantity
from kfboot.gpu.plan import base_product
from kfboot.k8s.readiness import pod_problem
from kfboot.phases.gpu_sharing import MIG_MANAGER_LOGS_HINT, MIG_STATE_LABEL, NodeView

GROUP = "GPU stack"
NS = "gpu-operator"
GPU = "nvidia.com/gpu"
PRESENT_LABEL = "nvidia.com/gpu.present"
COUNT_LABEL = "nvidia.com/gpu.count"
PRODUCT_LABEL = "nvidia.com/gpu.product"
REPLICAS_LABEL = "nvidia.com/gpu.replicas"
# operand (pod label app=…) → (ClusterPolicy spec key that can disable it, must it run on every GPU node)
OPERANDS = {"nvidia-device-plugin-daemonset": ("devicePlugin", True),
            "nvidia-operator-validator": ("validator", True),
            "gpu-feature-discovery": ("gfd", False),
            "nvidia-dcgm-exporter": ("dcgmExporter", False)}
# 8-GPU HGX boards (A100 SXM4, H100/H200 SXM, B200) route GPU-to-GPU traffic through NVSwitch
NVSWITCH_PRODUCT = re.compile(r"SXM|HBM3|H200|B200", re.IGNORECASE)
DEVICE_PLUGIN_LOGS = f"kubectl logs -n {NS} -l app=nvidia-device-plugin-daemonset --all-containers --prefix"


def gpu_nodes_of(facts: Facts) -> list[dict[str, Any]]:
    out = []
    for node in facts.nodes:
        lab, cap = labels(node), (node.get("status") or {}).get("capacity") or {}
        if lab.get(PRESENT_LABEL) == "true" or COUNT_LABEL in lab or quantity(cap.get(GPU)) > 0:
            out.append(node)
    return out


def _alloc(node: dict[str, Any]) -> dict[str, Any]:
    return (node.get("status") or {}).get("allocatable") or {}


def _mig_total(node: dict[str, Any]) -> int:
    return int(sum(quantity(v) for k, v in _alloc(node).items() if k.startswith("nvidia.com/mig-")))


def gpu_nodes(facts: Facts) -> list[Finding]:
    nodes = gpu_nodes_of(facts)
    if not nodes:
        return [skip("gpu.nodes", "GPU nodes", f"no node is labelled {PRESENT_LABEL}=true or offers {GPU}", GROUP)]
    out = []
    for node in nodes:
        lab, node_name = labels(node), name(node)
        subject = f"node {node_name}"
        count = int(quantity(lab.get(COUNT_LABEL)))
        replicas = int(quantity(lab.get(REPLICAS_LABEL))) or 1
        product = lab.get(PRODUCT_LABEL, "unknown GPU")
        cap = int(quantity(((node.get("status") or {}).get("capacity") or {}).get(GPU)))
        alloc = int(quantity(_alloc(node).get(GPU)))
        mig = _mig_total(node)
        describe = f"`kubectl describe node {node_name}`; device plugin: `{DEVICE_PLUGIN_LOGS}`"
        if product.endswith("-MIG-INVALID"):
            out.append(fail("gpu.allocatable", subject, f"GFD labels the product {product}: migStrategy single "
                            "needs every GPU of the node in one MIG profile", "use one profile on every GPU of the "
                            "node, or strategy mixed (pool `mig.strategy`), then `kfboot install`", GROUP))
        elif alloc == 0 and mig == 0:
            out.append(fail("gpu.allocatable", subject, f"labelled GPU ({product}, count {count or '?'}) but 0 "
                            f"{GPU} allocatable: pods requesting GPUs will never schedule here",
                            f"check the device plugin and validator pods on it: {describe}", GROUP))
        elif cap > alloc:
            out.append(warn("gpu.allocatable", subject, f"{cap - alloc} of {cap} {GPU} are not allocatable: the "
                            "device plugin marked them unhealthy (Xid errors, fallen off the bus)",
                            f"{describe}; `nvidia-smi -q` on the node", GROUP))
        elif count and mig == 0 and cap != count * replicas:
            out.append(warn("gpu.allocatable", subject, f"GFD counts {count} GPUs × {replicas} replicas but the node "
                            f"offers {cap} {GPU}: labels and device plugin disagree", describe, GROUP))
        else:
            offer = f"{alloc} {GPU}" + (f" and {mig} MIG devices" if mig else "")
            out.append(ok("gpu.allocatable", subject, f"{count or '?'}× {product}, {offer} allocatable", GROUP))
    return out


def _enabled_in_policy(facts: Facts, key: str) -> bool:
    return all(((cp.get("spec") or {}).get(key) or {}).get("enabled") is not False for cp in facts.cluster_policies)


def operands(facts: Facts) -> list[Finding]:
    nodes = gpu_nodes_of(facts)
    if not nodes or not present(facts, "gpu-operator"):
        return [skip("gpu.operands", "GPU operands", "no GPU nodes" if not nodes else
                     "the GPU Operator is not installed", GROUP)]
    by_node: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for pod in facts.pods:
        app = labels(pod).get("app", "")
        if app in OPERANDS:
            by_node.setdefault((app, (pod.get("spec") or {}).get("nodeName", "")), []).append(pod)
    out = []
    for node in nodes:
        node_name, problems, missing_required = name(node), [], False
        for app, (key, required) in OPERANDS.items():
            if not _enabled_in_policy(facts, key):
                continue
            pods = by_node.get((app, node_name), [])
            if not pods:
                problems.append(f"no {app} pod")
                missing_required |= required
            elif not any(is_ready(p) for p in pods):
                problems.append(f"{app} pod {name(pods[0])} not ready: {pod_problem(pods[0]) or 'not ready'}")
                missing_required |= required
        subject = f"node {node_name}"
        if problems:
            make = fail if missing_required else warn
            out.append(make("gpu.operands", subject, "GPU Operator operands are not running: " + "; ".join(problems),
                            f"`kubectl get pods -n {NS} -o wide --field-selector spec.nodeName={node_name}` and the "
                            "failing pod's logs; the validator's init containers say which layer (driver, toolkit, "
                            "CUDA, plugin) fails", GROUP))
        else:
            out.append(ok("gpu.operands", subject, "device plugin, validator, GFD and DCGM exporter pods are ready",
                          GROUP))
    return out


def cluster_policy(facts: Facts) -> list[Finding]:
    if not present(facts, "gpu-operator"):
        return [skip("gpu.cluster-policy", "ClusterPolicy", "the GPU Operator is not installed", GROUP)]
    if not facts.cluster_policies:
        why = facts.unreadable.get("cluster_policies", "no ClusterPolicy exists")
        return [fail("gpu.cluster-policy", "ClusterPolicy", f"the GPU Operator is installed but {why}: no operand "
                     "will be deployed", "`kfboot install` (the gpu-operator chart creates cluster-policy)", GROUP)]
    out = []
    for cp in facts.cluster_policies:
        state = (cp.get("status") or {}).get("state", "")
        subject = f"ClusterPolicy {name(cp)}"
        if state == "ready":
            out.append(ok("gpu.cluster-policy", subject, "state is ready", GROUP))
            continue
        conds = [c.get("message") or c.get("reason", "") for c in (cp.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Error" and c.get("status") == "True"]
        detail = f" ({conds[0]})" if conds and conds[0] else ""
        out.append(fail("gpu.cluster-policy", subject, f"state is {state or 'unset'}{detail}: some operand is not "
                        "ready on some node", f"`kubectl get pods -n {NS}` for the failing operand, and "
                        f"`kubectl logs -n {NS} deploy/gpu-operator`", GROUP))
    return out


def mig_state(facts: Facts) -> list[Finding]:
    out = []
    for node in gpu_nodes_of(facts):
        lab = labels(node)
        state, config = lab.get(MIG_STATE_LABEL), lab.get("nvidia.com/mig.config", "?")
        if state is None:
            continue
        subject = f"node {name(node)}"
        if state == "failed":
            out.append(fail("gpu.mig-state", subject, f"mig-manager failed to apply MIG config {config} "
                            f"({MIG_STATE_LABEL}=failed): the geometry does not fit this GPU, or GPUs were busy",
                            f"read why: `{MIG_MANAGER_LOGS_HINT}`; fix the pool's geometry, then `kfboot install`",
                            GROUP))
        elif state in ("pending", "rebooting"):
            out.append(warn("gpu.mig-state", subject, f"MIG config {config} is still {state}; mig-manager can wedge "
                            "in pending (gpu-operator#2833)", f"if it stays: `{MIG_MANAGER_LOGS_HINT}`; stop GPU pods "
                            "on the node so mig-manager can repartition", GROUP))
        else:
            out.append(ok("gpu.mig-state", subject, f"MIG config {config} applied ({state})", GROUP))
    return out


def pools(facts: Facts) -> list[Finding]:
    if not facts.pools:
        return [skip("gpu.pools", "GPU pools", "the platform config defines no GPU pools (MIG/time-slicing)", GROUP)]
    out, matched = [], set()
    for node in facts.nodes:
        lab, node_name = labels(node), name(node)
        pool = next((p for p in facts.pools if p.matches_node(node_name, lab)), None)
        if pool is None:
            continue
        matched.add(pool.name)
        view = NodeView(node_name, lab, dict(_alloc(node)), pool, dict(node["metadata"].get("annotations") or {}))
        subject = f"node {node_name}"
        diff = view.label_diff()
        gaps = view.allocatable_gaps()
        mig_busy = view.is_mig and lab.get(MIG_STATE_LABEL) in (None, "pending", "rebooting")
        if diff:
            shown = ", ".join(f"{k}={lab.get(k, 'unset')} (want {v})" for k, v in diff.items())
            out.append(fail("gpu.pools", subject, f"pool {pool.name}'s labels are not applied: {shown}",
                            "`kfboot install` (its gpu-sharing phase labels the pool's nodes)", GROUP))
        elif gaps:
            make = warn if mig_busy else fail
            out.append(make("gpu.pools", subject, f"pool {pool.name} promises what the node does not offer "
                            f"(have/want): {', '.join(gaps)}" + (" while MIG is still being applied" if mig_busy else ""),
                            f"check the device plugin picked up config {pool.name}: `{DEVICE_PLUGIN_LOGS}`"
                            + (f"; MIG: `{MIG_MANAGER_LOGS_HINT}`" if view.is_mig else ""), GROUP))
        else:
            out.append(ok("gpu.pools", subject, f"pool {pool.name} ({pool.mode}) applied: "
                          + ", ".join(f"{k} {v}" for k, v in sorted(pool.allocatable_per_node().items())), GROUP))
    for pool in facts.pools:
        if pool.name not in matched:
            out.append(warn("gpu.pools", f"pool {pool.name}", "no node matches the pool's selector, so its sharing "
                            "applies nowhere", "check the pool's nodes/nodeSelector against "
                            f"`kubectl get nodes -L {PRODUCT_LABEL}`", GROUP))
    return out


def fabric_manager(facts: Facts) -> list[Finding]:
    nvswitch = [n for n in gpu_nodes_of(facts) if int(quantity(labels(n).get(COUNT_LABEL))) >= 8
                and NVSWITCH_PRODUCT.search(base_product(labels(n).get(PRODUCT_LABEL, "")))]
    if not nvswitch:
        return [skip("gpu.fabric-manager", "Fabric Manager", "no 8-GPU NVSwitch (SXM) node", GROUP)]
    validators = {(p.get("spec") or {}).get("nodeName"): p for p in facts.pods
                  if labels(p).get("app") == "nvidia-operator-validator"}
    out = []
    for node in nvswitch:
        node_name = name(node)
        validator = validators.get(node_name)
        subject = f"node {node_name}"
        product = labels(node).get(PRODUCT_LABEL, "")
        if validator is not None and is_ready(validator):
            out.append(ok("gpu.fabric-manager", subject, f"{product}: the CUDA validator passed, so Fabric Manager "
                          "has initialised the NVSwitch fabric", GROUP))
        else:
            out.append(warn("gpu.fabric-manager", subject, f"{product} is an NVSwitch system: without Fabric Manager "
                            "CUDA fails with error 802 \"system not yet initialized\" while nvidia-smi looks fine, and "
                            "the CUDA validator has not passed here", "on the node: `nvidia-smi -q | grep -A2 Fabric` "
                            "(State: Completed); start it: `systemctl enable --now nvidia-fabricmanager` (same version "
                            "as the driver), or let the GPU Operator's driver container run it", GROUP))
    return out
