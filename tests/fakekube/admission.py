"""Admission webhooks as kube-apiserver calls them: which writes they intercept, and when the call fails.

A client create/update that matches a webhook of a Validating- or MutatingWebhookConfiguration
(rules, scope, namespaceSelector, objectSelector) is refused, when its ``failurePolicy`` is Fail
(the default), with kube-apiserver's own 500 ``InternalError``:

* ``service "…" not found`` while the webhook's Service does not exist,
* ``dial tcp <clusterIP>:<port>: connect: connection refused`` while it has no ready endpoint,
* ``tls: failed to verify certificate: x509: certificate signed by unknown authority`` while the
  webhook's ``caBundle`` is empty.

CREATE, UPDATE and client DELETE requests are admitted (deletions by the fake's own controllers,
such as namespace cleanup and garbage collection, are not). Once reachable, the webhook is taken to
allow the request unchanged (this fake runs no webhook server: mutations are not applied). Not
replicated: ``matchConditions``, CONNECT, ``url`` webhooks (taken as reachable), and the
sideEffects rules for dry-run requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .resources import ResourceType
from .selectors import selector_from_match

if TYPE_CHECKING:
    from .store import Store

_CONFIG_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
# kube-apiserver never sends these to webhooks, so a broken webhook cannot lock itself in
_EXEMPT = {("admissionregistration.k8s.io", k) for k in (
    *_CONFIG_KINDS, "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding")}


def _matches_rule(rule: dict[str, Any], rt: ResourceType, subresource: str, operation: str) -> bool:
    def has(values: list[str] | None, value: str) -> bool:
        return bool(values) and ("*" in values or value in values)

    if not has(rule.get("operations"), operation):
        return False
    if not has(rule.get("apiGroups"), rt.group) or not has(rule.get("apiVersions"), rt.version):
        return False
    scope = rule.get("scope", "*")
    if (scope == "Cluster" and rt.namespaced) or (scope == "Namespaced" and not rt.namespaced):
        return False
    # as k8s.io/apiserver's rules.Matcher: `*` is every resource (no subresources), `*/*` and `pods/*`
    # also match the resource itself (an empty subresource matches `*`)
    for res in rule.get("resources") or []:
        plural, _, sub = res.partition("/")
        if plural in ("*", rt.plural) and sub in ("*", subresource):
            return True
    return False


class Admission:
    """Webhook admission for client writes; ``store`` holds the configurations, Services and Endpoints."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _webhooks(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for kind in _CONFIG_KINDS:
            plural = kind.lower() + "s"
            for cfg in self.store.list(("admissionregistration.k8s.io", plural)):
                for hook in cfg.get("webhooks") or []:
                    out.append((kind, hook))
        return out

    def _namespace_labels(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, str] | None:
        if rt.kind == "Namespace" and rt.group == "":
            return obj["metadata"].get("labels") or {}
        if not rt.namespaced:
            return None  # namespaceSelector does not apply to cluster-scoped objects
        ns = self.store.peek(("", "namespaces"), "", obj["metadata"].get("namespace", ""))
        return (ns or {}).get("metadata", {}).get("labels") or {}

    def _selected(self, hook: dict[str, Any], rt: ResourceType, obj: dict[str, Any],
                  old: dict[str, Any] | None) -> bool:
        ns_labels = self._namespace_labels(rt, obj)
        ns_sel = hook.get("namespaceSelector")
        if ns_sel and ns_labels is not None and not selector_from_match(ns_sel)(ns_labels):
            return False
        obj_sel = hook.get("objectSelector")
        if obj_sel:
            match = selector_from_match(obj_sel)
            labels = [obj["metadata"].get("labels") or {}]
            if old is not None:
                labels.append(old["metadata"].get("labels") or {})
            if not any(match(lbl) for lbl in labels):
                return False
        return True

    def _call_error(self, hook: dict[str, Any]) -> str | None:
        """Why calling the webhook fails right now, in the apiserver's words (None: it answers)."""
        cc = hook.get("clientConfig") or {}
        svc_ref = cc.get("service")
        timeout = hook.get("timeoutSeconds", 10)
        if not svc_ref:
            return None
        ns, name = svc_ref.get("namespace", ""), svc_ref.get("name", "")
        port = svc_ref.get("port", 443)
        url = f'Post "https://{name}.{ns}.svc:{port}{svc_ref.get("path") or ""}?timeout={timeout}s"'
        svc = self.store.peek(("", "services"), ns, name)
        if svc is None:
            return f'failed to call webhook: {url}: service "{name}" not found'
        ep = self.store.peek(("", "endpoints"), ns, name)
        ready = bool(ep and any(s.get("addresses") for s in ep.get("subsets") or []))
        if not ready:
            ip = (svc.get("spec") or {}).get("clusterIP", "")
            return f"failed to call webhook: {url}: dial tcp {ip}:{port}: connect: connection refused"
        if not cc.get("caBundle"):
            return (f"failed to call webhook: {url}: tls: failed to verify certificate: "
                    "x509: certificate signed by unknown authority")
        return None

    def admit(self, rt: ResourceType, operation: str, obj: dict[str, Any], old: dict[str, Any] | None,
              subresource: str = "") -> None:
        """Raise the apiserver's error if a matching Fail-policy webhook cannot be called."""
        if (rt.group, rt.kind) in _EXEMPT:
            return
        # mutating webhooks run first, as in the real admission chain
        for _kind, hook in sorted(self._webhooks(), key=lambda kh: kh[0] != "MutatingWebhookConfiguration"):
            if not any(_matches_rule(r, rt, subresource, operation) for r in hook.get("rules") or []):
                continue
            if not self._selected(hook, rt, obj, old):
                continue
            why = self._call_error(hook)
            if why is None or hook.get("failurePolicy", "Fail") == "Ignore":
                continue
            message = f'failed calling webhook "{hook.get("name", "")}": {why}'
            raise ApiError(500, f"Internal error occurred: {message}", "InternalError",
                           {"causes": [{"message": message}]})
