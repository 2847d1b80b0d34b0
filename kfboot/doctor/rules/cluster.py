"""Tools and cluster: kubectl/helm/kind, the API server and its version, kfboot's recorded state and lock."""

from __future__ import annotations

from typing import Any

from kfboot import tools as toolspec
from kfboot.doctor.facts import Facts
from kfboot.doctor.findings import Finding, fail, ok, skip, warn
from kfboot.doctor.rules._common import parse_time, plural
from kfboot.k8s import readiness as rd
from kfboot.tools import parse_version

GROUP = "tools and cluster"
# The pinned stack (kubeflow/manifests 26.03 tests on kindest/node v1.34–1.35, GPU Operator v26.x):
# older than MIN_KUBE is unsupported by its components; outside TESTED it may work but was not tested
MIN_KUBE = (1, 29)
TESTED_KUBE = ((1, 32), (1, 35))
HELM_COMPONENTS = ("gpu-operator", "kuberay")
LIVE_KINDS = {"Deployment": "deployments", "DaemonSet": "daemonsets", "StatefulSet": None,
              "CustomResourceDefinition": "crds", "Service": "services", "Namespace": "namespaces",
              "MutatingWebhookConfiguration": "mutating_webhooks",
              "ValidatingWebhookConfiguration": "validating_webhooks"}


def _dotted(version: tuple[int, ...] | None) -> str:
    return ".".join(map(str, version)) if version else "unknown"


def tools(facts: Facts) -> list[Finding]:
    out = []
    for name, fact in facts.tools.items():
        spec = toolspec.spec(name)
        needed = name != "helm" or any(c in facts.enabled for c in HELM_COMPONENTS)
        subject = f"tool {name}"
        if fact.error:
            why = f"{name} is not usable: {fact.error}"
            if needed and name != "kind":
                out.append(fail(f"tools.{name}", subject, why + "; kfboot install needs it", spec.install_hint, GROUP))
            else:
                out.append(warn(f"tools.{name}", subject, why, spec.install_hint, GROUP))
        elif spec.minimum and fact.version and fact.version[: len(spec.minimum)] < spec.minimum:
            out.append(fail(f"tools.{name}", subject, f"{name} {_dotted(fact.version)} at {fact.path} is older than "
                            f"the {_dotted(spec.minimum)} kfboot needs", spec.install_hint, GROUP))
        else:
            out.append(ok(f"tools.{name}", subject, f"{name} {_dotted(fact.version)} at {fact.path}", GROUP))
    return out


def api_server(facts: Facts) -> list[Finding]:
    subject = f"context {facts.context}"
    if not facts.reachable:
        return [fail("cluster.api-server", subject, f"the API server at {facts.server} does not answer: "
                     f"{facts.server_error}", f"check the cluster is up and the context is right: "
                     f"`kubectl --context {facts.context} cluster-info`", GROUP)]
    version = parse_version(facts.server_version)
    where = f"Kubernetes {facts.server_version} at {facts.server}"
    if version is None:
        return [warn("cluster.api-server", subject, f"{where}: the version could not be read",
                     f"`kubectl --context {facts.context} version`", GROUP)]
    if version[:2] < MIN_KUBE:
        return [fail("cluster.api-server", subject, f"{where} is older than {_dotted(MIN_KUBE)}, which the pinned "
                     "components need", f"upgrade the cluster to Kubernetes {_dotted(TESTED_KUBE[1])}", GROUP)]
    if not TESTED_KUBE[0] <= version[:2] <= TESTED_KUBE[1]:
        return [warn("cluster.api-server", subject, f"{where} is outside the versions the pinned stack is tested "
                     f"on ({_dotted(TESTED_KUBE[0])}–{_dotted(TESTED_KUBE[1])})",
                     f"prefer Kubernetes {_dotted(TESTED_KUBE[1])} (kind: `--image kindest/node:v1.35.0`)", GROUP)]
    return [ok("cluster.api-server", subject, f"{where} is reachable and supported", GROUP)]


def unreadable(facts: Facts) -> list[Finding]:
    """Lists the API refused (RBAC, errors): every finding that needs them is incomplete."""
    out = []
    for what, why in sorted(facts.unreadable.items()):
        if why.startswith("the cluster has no"):
            continue  # a CRD that is not installed: the rules that need it say so
        out.append(warn("cluster.read", what.replace("_", " "), f"could not be read, so findings about it are "
                        f"incomplete: {why}", "run doctor with a user allowed to get/list it cluster-wide (read-only "
                        "access suffices: `kubectl auth can-i list pods -A`)", GROUP))
    return out


def _live_index(facts: Facts) -> dict[tuple[str, str, str], dict[str, Any]]:
    index = {}
    for kind, attr in LIVE_KINDS.items():
        if attr is None or not facts.readable(attr):
            continue
        for obj in getattr(facts, attr):
            md = obj["metadata"]
            index[(kind, md.get("namespace") or "", md["name"])] = obj
    return index


def drift(facts: Facts, inventory: list[Any]) -> list[str]:
    """Objects of a phase's inventory that are missing or not ready, among the kinds doctor lists."""
    index = _live_index(facts)
    checked = {kind for kind, attr in LIVE_KINDS.items() if attr and facts.readable(attr)}
    problems = []
    for ref in inventory:
        if ref.kind not in checked:
            continue
        obj = index.get((ref.kind, ref.namespace or "", ref.name))
        if obj is None:
            problems.append(f"{ref}: missing")
            continue
        state = rd.readiness_of(obj)
        if not state.ready:
            problems.append(f"{ref}: {state.detail}")
    return problems


def recorded_state(facts: Facts) -> list[Finding]:
    if "state" in facts.unreadable:
        return [skip("state.phase", "kfboot state", f"kfboot's state could not be read: {facts.unreadable['state']}",
                     GROUP)]
    if not facts.state:
        return [skip("state.phase", "kfboot state", "kfboot has not installed anything here (no ConfigMap "
                     "kfboot-system/kfboot-state)", GROUP)]
    running = _lock_live(facts)
    out = []
    for name, rec in sorted(facts.state.items()):
        subject = f"phase {name}"
        if rec.status == "failed":
            out.append(fail("state.phase", subject, f"the last run of {name} failed: {rec.error or 'no error recorded'}",
                            "fix the cause above, then `kfboot install` (it resumes this phase)", GROUP))
        elif rec.status in ("interrupted", "applying", "waiting", "uninstalling") and not running:
            out.append(fail("state.phase", subject, f"the last run of {name} stopped while {rec.status} "
                            "(interrupted or killed), so it may be half applied",
                            "`kfboot install` (it resumes the phase)", GROUP))
        elif rec.status in ("applying", "waiting", "uninstalling"):
            out.append(warn("state.phase", subject, f"{name} is {rec.status} in a run in progress",
                            "wait for that run to finish, then run `kfboot doctor` again", GROUP))
        elif rec.status == "uninstalled":
            continue
        else:
            problems = drift(facts, rec.inventory)
            if problems:
                more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
                out.append(fail("state.phase", subject, f"{name} drifted since it was installed: "
                                f"{'; '.join(problems[:3])}{more}", "`kfboot install` (it repairs drifted objects); "
                                "`kfboot plan` shows what it would change", GROUP))
            else:
                out.append(ok("state.phase", subject, f"{name} {rec.version} {rec.status}, "
                              f"{plural(len(rec.inventory), 'object')} present", GROUP))
    return out


def _lock_live(facts: Facts) -> bool:
    spec = (facts.lock or {}).get("spec") or {}
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    if not spec.get("holderIdentity") or renewed is None:
        return False
    return (facts.now - renewed).total_seconds() <= float(spec.get("leaseDurationSeconds") or 60)


def lock(facts: Facts) -> list[Finding]:
    if facts.lock is None:
        return [ok("state.lock", "lock kfboot-system/kfboot-lock", "no kfboot run holds the lock", GROUP)]
    spec = facts.lock.get("spec") or {}
    holder = spec.get("holderIdentity", "unknown")
    if _lock_live(facts):
        return [warn("state.lock", "lock kfboot-system/kfboot-lock", f"a kfboot run is in progress: {holder} "
                     f"(renewed {spec.get('renewTime')}); findings may change as it works",
                     "wait for that run to finish before installing or uninstalling", GROUP)]
    return [warn("state.lock", "lock kfboot-system/kfboot-lock", f"stale lock of {holder}, last renewed "
                 f"{spec.get('renewTime') or spec.get('acquireTime')}: that run died without releasing it",
                 "nothing to do: the next `kfboot install` takes it over (with a warning)", GROUP)]
