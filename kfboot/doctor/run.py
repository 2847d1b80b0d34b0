"""One doctor run: read the facts, apply every rule, time it (what the CLI and the benchmark call)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kfboot.doctor.facts import Facts, read_facts
from kfboot.doctor.findings import Finding, counts, exit_code
from kfboot.doctor.rules import evaluate


@dataclass
class Report:
    facts: Facts
    findings: list[Finding]
    seconds: float
    requests: int
    writes: int = 0

    @property
    def exit_code(self) -> int:
        return exit_code(self.findings)

    def summary(self) -> dict[str, Any]:
        return {"event": "summary", "operation": "doctor", "ok": self.exit_code == 0, "exitCode": self.exit_code,
                "counts": counts(self.findings), "context": self.facts.context,
                "kubernetes": self.facts.server_version, "nodes": len(self.facts.nodes),
                "pods": len(self.facts.pods), "requests": self.requests, "writes": self.writes,
                "elapsed": round(self.seconds, 3)}


def diagnose(kube: Any, platform: Any, *, docker: bool = True) -> Report:
    started = time.monotonic()
    before, writes_before = kube.requests, kube.writes
    facts = read_facts(kube, platform, docker=docker)
    findings = evaluate(facts)
    return Report(facts, findings, time.monotonic() - started, kube.requests - before, kube.writes - writes_before)
