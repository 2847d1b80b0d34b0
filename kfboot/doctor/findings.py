"""A finding: one judged fact, with what it means and what fixes it. Data only, so rules stay pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Status(str, Enum):
    ok = "ok"
    warn = "warn"
    fail = "fail"
    skip = "skip"


# Groups in the order the report shows them (the order a platform engineer triages in)
GROUPS = ("tools and cluster", "capacity", "GPU stack", "platform", "workloads", "known signatures")


@dataclass(frozen=True)
class Finding:
    id: str  # stable, e.g. "gpu.allocatable": what was checked (CI and scripts key on it)
    status: Status
    subject: str  # what it is about: "node gpu-1", "pod kubeflow/ml-pipeline-…", "phase istio"
    message: str  # what it means, one sentence
    fix: str = ""  # the command or change that fixes it ("" when nothing needs fixing)
    group: str = "tools and cluster"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


def ok(id: str, subject: str, message: str, group: str) -> Finding:
    return Finding(id, Status.ok, subject, message, "", group)


def warn(id: str, subject: str, message: str, fix: str, group: str) -> Finding:
    return Finding(id, Status.warn, subject, message, fix, group)


def fail(id: str, subject: str, message: str, fix: str, group: str) -> Finding:
    return Finding(id, Status.fail, subject, message, fix, group)


def skip(id: str, subject: str, why: str, group: str) -> Finding:
    return Finding(id, Status.skip, subject, why, "", group)


def counts(findings: list[Finding]) -> dict[str, int]:
    out = {s.value: 0 for s in Status}
    for f in findings:
        out[f.status.value] += 1
    return out


def exit_code(findings: list[Finding]) -> int:
    """1 when anything fails, else 0 (warnings never fail a CI step)."""
    return 1 if any(f.status is Status.fail for f in findings) else 0
