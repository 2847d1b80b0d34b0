"""`kfboot doctor --collect DIR`: a support archive of what a maintainer needs to diagnose from afar.

Written from the facts doctor already read (nothing more is fetched): events, log tails of failing
pods, failing pods' status, kfboot's state and lock, GPU nodes' labels/capacity, ClusterPolicy, webhook
configurations, versions and the findings. Secrets are never read; every value is redacted
(kfboot.doctor.redact) before it is written, and the archive is a .tar.gz of the same files.
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kfboot import __version__
from kfboot.doctor.facts import Facts
from kfboot.doctor.findings import Finding
from kfboot.doctor.podview import failing_containers, unschedulable, waiting
from kfboot.doctor.redact import redact_obj, redact_text
from kfboot.doctor.rules.gpu import gpu_nodes_of

README = """kfboot doctor support archive (kfboot {version}, context {context}, collected {when}).

findings.json     what doctor concluded (id, status, subject, message, fix)
versions.json     API server and local tools
kfboot-state.json kfboot's per-phase records (ConfigMap kfboot-system/kfboot-state) and lock Lease
events.json       every Event (Warning and Normal)
pods-failing.json status of pods that are Pending, crash-looping or failed
logs/             log tails of failing containers
gpu-nodes.json    GPU nodes: nvidia.com/* labels, capacity, allocatable, conditions
clusterpolicy.json  NVIDIA ClusterPolicy objects
webhooks.json     Mutating/ValidatingWebhookConfigurations

Secrets were not read. Tokens, passwords, keys and secret-named values are replaced by <redacted>.
"""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _problem_pods(facts: Facts) -> list[dict[str, Any]]:
    return [p for p in facts.pods if unschedulable(p) or waiting(p) or failing_containers(p)
            or (p.get("status") or {}).get("phase") == "Failed"]


def _gpu_node(node: dict[str, Any]) -> dict[str, Any]:
    md, status = node["metadata"], node.get("status") or {}
    return {"name": md["name"],
            "labels": {k: v for k, v in (md.get("labels") or {}).items() if k.startswith("nvidia.com/")},
            "capacity": status.get("capacity") or {}, "allocatable": status.get("allocatable") or {},
            "conditions": status.get("conditions") or []}


def archive_contents(facts: Facts, findings: list[Finding]) -> dict[str, str]:
    """Relative path → file text, already redacted (pure: the tests read this too)."""
    def js(value: Any) -> str:
        return json.dumps(redact_obj(value), indent=2, sort_keys=True, default=str) + "\n"

    files = {
        "README.txt": README.format(version=__version__, context=facts.context, when=facts.now.isoformat()),
        "findings.json": js([f.to_dict() for f in findings]),
        "versions.json": js({"kfboot": __version__, "context": facts.context, "server": facts.server,
                             "kubernetes": facts.server_version, "serverError": facts.server_error,
                             "tools": {n: asdict(t) for n, t in facts.tools.items()},
                             "unreadable": facts.unreadable}),
        "kfboot-state.json": js({"phases": {n: {**asdict(r), "inventory": [x.to_dict() for x in r.inventory]}
                                            for n, r in facts.state.items()}, "lock": facts.lock}),
        "events.json": js(facts.events),
        "pods-failing.json": js(_problem_pods(facts)),
        "gpu-nodes.json": js([_gpu_node(n) for n in gpu_nodes_of(facts)]),
        "clusterpolicy.json": js(facts.cluster_policies),
        "webhooks.json": js({"mutating": facts.mutating_webhooks, "validating": facts.validating_webhooks}),
    }
    for key, log in sorted(facts.logs.items()):
        files[f"logs/{_safe(key.replace('/', '_'))}.log"] = redact_text(log)
    return files


def write_archive(directory: Path, facts: Facts, findings: list[Finding]) -> Path:
    """Write the files under `directory` and a .tar.gz of them beside; returns the archive's path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = facts.now.strftime("%Y%m%dT%H%M%SZ")
    root = f"kfboot-support-{stamp}"
    files = archive_contents(facts, findings)
    for rel, text in files.items():
        path = directory / root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    archive = directory / f"{root}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory / root, arcname=root)
    return archive
