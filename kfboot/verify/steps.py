"""Steps several checks share: a test namespace, bounded waits that fail with evidence, SA tokens,
and a session through the ingress gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from kfboot.errors import ClusterError, Interrupted, WaitTimeout
from kfboot.k8s import readiness as rd
from kfboot.k8s.refs import ObjectRef
from kfboot.k8s.waits import WaitFailed
from kfboot.verify import evidence
from kfboot.verify.check import CheckFailed, CheckSkipped, Probe
from kfboot.verify.http import HttpSession

GATEWAY_NAMESPACE = "istio-system"
GATEWAY_SERVICE = "istio-ingressgateway"
TOKEN_SECONDS = 600
DOCTOR = "run `kfboot doctor` for the component's health"
M2M_HINT = ("the gateway takes a ServiceAccount token only if it trusts the cluster's service-account issuer: "
            "kfboot installs oauth2-proxy's m2m-dex-and-kind overlay on kind; on other clusters add a "
            "RequestAuthentication for your issuer (kubectl get --raw /.well-known/openid-configuration)")


def namespace(probe: Probe, name: str, labels: dict[str, str] | None = None) -> str:
    """A test namespace (created once per run, deleted at the end unless --keep)."""
    def build() -> str:
        old = probe.kube.get("v1", "Namespace", name)
        if old is not None and (old.get("metadata") or {}).get("deletionTimestamp"):  # an earlier run's, going
            probe.waiter().until(f"namespace {name} of an earlier run to be deleted",
                                 lambda: rd.Readiness(probe.kube.get("v1", "Namespace", name) is None,
                                                      "still terminating"), probe.deadline)
        probe.create({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kfboot-verify",
                                                            **(labels or {})}}})
        return name

    return str(probe.shared.get(f"namespace:{name}", build))


def wait_for(probe: Probe, ref: ObjectRef, check: Callable[[dict[str, Any]], rd.Readiness], *,
             pods: str | None = None, next_step: str = "") -> dict[str, Any]:
    """Wait (within the check's deadline) until `check` says ready; on failure or timeout raise
    CheckFailed with the object's conditions and events, and its pods' state and last log lines."""
    seen: dict[str, Any] = {}

    def probe_once() -> rd.Readiness:
        obj = probe.kube.get_ref(ref)
        if obj is None:
            return rd.Readiness(False, "does not exist")
        seen["obj"] = obj
        return check(obj)

    try:
        probe.waiter().until(str(ref), probe_once, probe.deadline)
    except (WaitFailed, WaitTimeout) as exc:
        raise failure(probe, exc.message, ref, seen.get("obj"), pods=pods, next_step=next_step) from None
    return seen["obj"]


def failure(probe: Probe, observed: str, ref: ObjectRef | None = None, obj: dict[str, Any] | None = None, *,
            pods: str | None = None, next_step: str = "") -> CheckFailed:
    found: list[str] = []
    if ref is not None:
        found += evidence.object_evidence(probe.kube, ref, obj)
    if pods and ref is not None and ref.namespace:
        found += evidence.pods_evidence(probe.kube, ref.namespace, pods)
    first_pod = next((line.split()[1].rstrip(":") for line in found if line.startswith("pod ")), "")
    read_pod = f"read the pod: kubectl logs -n {first_pod.replace('/', ' ', 1)}; " if first_pod else ""
    next_step = read_pod + (next_step or DOCTOR)
    return CheckFailed(observed, next_step=next_step, evidence=found)


def condition(cond_type: str, failed_types: tuple[str, ...] = ("Failed",)) -> Callable[[dict[str, Any]], rd.Readiness]:
    """Ready when condition `cond_type` is True; failed when one of `failed_types` is True."""
    def check(obj: dict[str, Any]) -> rd.Readiness:
        conds = {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}
        for bad in failed_types:
            if conds.get(bad, {}).get("status") == "True":
                c = conds[bad]
                return rd.Readiness(False, f"{bad}: {c.get('reason', '')} {c.get('message', '')}".strip(), failed=True)
        if conds.get(cond_type, {}).get("status") == "True":
            return rd.READY
        now = evidence.conditions_text(obj)
        return rd.Readiness(False, now or "no conditions yet")
    return check


def service_account_token(probe: Probe, namespace_name: str, account: str, audience: str | None = None) -> str:
    """A short-lived token (TokenRequest API, as `kubectl create token` does)."""
    spec: dict[str, Any] = {"expirationSeconds": TOKEN_SECONDS}
    if audience:
        spec["audiences"] = [audience]
    path = (f"/api/v1/namespaces/{quote(namespace_name, safe='')}/serviceaccounts/"
            f"{quote(account, safe='')}/token")
    try:
        result = probe.kube.request("POST", path, body={"apiVersion": "authentication.k8s.io/v1",
                                                        "kind": "TokenRequest", "spec": spec})
    except ClusterError as exc:
        raise CheckFailed(f"cannot get a token for ServiceAccount {namespace_name}/{account}: {exc.message}",
                          next_step=f"kubectl -n {namespace_name} create token {account}") from None
    return str(((result or {}).get("status") or {}).get("token") or "")


def wait_service_account(probe: Probe, namespace_name: str, account: str) -> None:
    ref = ObjectRef("v1", "ServiceAccount", account, namespace_name)
    wait_for(probe, ref, lambda _obj: rd.READY,
             next_step=f"the profile controller creates it: kubectl -n kubeflow logs deploy/profiles-deployment; {DOCTOR}")


def initial_login(probe: Probe, need_password: bool) -> tuple[str, str]:
    """Dex's initial user as kfboot installed it (`kfboot credentials`): (email, password or '')."""
    from kfboot.errors import KfbootError
    from kfboot.phases.credentials import login_info

    try:
        info = probe.shared.get("login", lambda: login_info(probe.kube, show=True))
    except KfbootError as exc:
        raise CheckFailed(exc.message, next_step=exc.hint or "kfboot credentials") from None
    if need_password and "password" not in info:
        raise CheckSkipped(f"kfboot does not know the password of {info['email']} (it was given only a hash)")
    return str(info["email"]), str(info.get("password", ""))


def gateway(probe: Probe) -> HttpSession:
    """A fresh cookie session through one shared port-forward to the Istio ingress gateway."""
    forward = probe.shared.get("gateway", lambda: _open_gateway(probe))
    return HttpSession(forward.url, timeout=min(30.0, max(1.0, probe.remaining())))


def _open_gateway(probe: Probe) -> Any:
    opener = probe.services["port_forward"]
    forward = opener(GATEWAY_NAMESPACE, f"svc/{GATEWAY_SERVICE}", 80)
    probe.shared.closers.append(forward.close)
    return forward


def checkpoint(probe: Probe) -> None:
    if probe.cancel.is_set():
        raise Interrupted("interrupted")
