"""Platform: webhooks (endpoints, CA injection), CRDs Established, Istio, Dex/oauth2-proxy, KServe/Knative,
Profiles. A webhook whose Service has no ready endpoint breaks every write it intercepts."""

from __future__ import annotations

from typing import Any

from kfboot.doctor.facts import Facts
from kfboot.doctor.findings import Finding, fail, ok, skip, warn
from kfboot.doctor.podview import name
from kfboot.doctor.rules._common import annotations, deployment, labels, namespace_names, plural, present
from kfboot.k8s import readiness as rd

GROUP = "platform"
INJECT_CA = ("cert-manager.io/inject-ca-from", "cert-manager.io/inject-ca-from-secret")
KNATIVE_NS = "knative-serving"


def _slices_by_service(facts: Facts) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in facts.endpoint_slices:
        svc = labels(s).get("kubernetes.io/service-name")
        if svc:
            out.setdefault((s["metadata"].get("namespace", ""), svc), []).append(s)
    return out


def webhooks(facts: Facts) -> list[Finding]:
    services = {(s["metadata"].get("namespace", ""), s["metadata"]["name"]) for s in facts.services}
    slices = _slices_by_service(facts)
    out = []
    configs = [("MutatingWebhookConfiguration", c) for c in facts.mutating_webhooks] + \
              [("ValidatingWebhookConfiguration", c) for c in facts.validating_webhooks]
    for kind, config in configs:
        subject = f"{kind} {name(config)}"
        hooks = config.get("webhooks") or []
        seen: set[tuple[str, str]] = set()
        problems = []
        for hook in hooks:
            svc = (hook.get("clientConfig") or {}).get("service")
            if not svc:
                continue
            key = (svc.get("namespace", ""), svc.get("name", ""))
            if key in seen:
                continue
            seen.add(key)
            policy = hook.get("failurePolicy", "Fail")
            if key not in services:
                problems.append((policy, f"its Service {key[0]}/{key[1]} does not exist", key))
                continue
            state = rd.endpoints_ready(slices.get(key, []))
            if not state.ready:
                problems.append((policy, f"its Service {key[0]}/{key[1]} has {state.detail}", key))
        for policy, detail, key in problems:
            blocks = "every create/update it intercepts is refused" if policy == "Fail" else \
                "its checks are skipped (failurePolicy Ignore)"
            make = fail if policy == "Fail" else warn
            out.append(make("platform.webhook-endpoints", subject, f"{detail}: {blocks} (\"failed calling webhook\")",
                            f"get its pods serving: `kubectl get pods -n {key[0]}` and `kubectl describe service -n "
                            f"{key[0]} {key[1]}`; if the component was removed, delete this configuration", GROUP))
        inject = next((annotations(config)[a] for a in INJECT_CA if a in annotations(config)), None)
        missing_ca = [h.get("name", "?") for h in hooks if (h.get("clientConfig") or {}).get("service")
                      and not (h.get("clientConfig") or {}).get("caBundle")]
        if inject and missing_ca:
            out.append(fail("platform.webhook-ca", subject, f"cert-manager has not injected the CA of {inject} into "
                            f"{plural(len(missing_ca), 'webhook')} ({', '.join(missing_ca[:3])}): calls fail with "
                            "\"x509: certificate signed by unknown authority\"",
                            "check cert-manager's cainjector is running (`kubectl get pods -n cert-manager`) and the "
                            f"Certificate is Ready: `kubectl get certificate -n {inject.split('/')[0]}`", GROUP))
        if not problems and not (inject and missing_ca):
            out.append(ok("platform.webhooks", subject, f"{plural(len(seen), 'webhook Service')} serving"
                          + (", CA injected" if inject else ""), GROUP))
    return out


def crds(facts: Facts) -> list[Finding]:
    if not facts.readable("crds"):
        return [skip("platform.crds", "CRDs", facts.unreadable.get("crds", ""), GROUP)]
    out = []
    for crd in facts.crds:
        state = rd.crd_established(crd)
        if not state.ready:
            out.append(fail("platform.crds", f"CRD {name(crd)}", f"not Established ({state.detail}): its custom "
                            "resources cannot be created (\"no matches for kind\")",
                            f"`kubectl describe crd {name(crd)}` (NamesAccepted conflicts, a broken conversion "
                            "webhook)", GROUP))
    if not out:
        out.append(ok("platform.crds", "CRDs", f"{plural(len(facts.crds), 'CRD')} Established", GROUP))
    return out


def _deployment_finding(facts: Facts, fid: str, namespace: str, dep_name: str, what: str) -> Finding:
    dep = deployment(facts, namespace, dep_name)
    subject = f"deployment {namespace}/{dep_name}"
    if dep is None:
        return fail(fid, subject, f"{what} is missing", "`kfboot install` (it repairs missing objects)", GROUP)
    state = rd.deployment_available(dep)
    if not state.ready:
        return fail(fid, subject, f"{what} is not available ({state.detail})",
                    f"`kubectl get pods -n {namespace}` and `kubectl describe deployment -n {namespace} {dep_name}`",
                    GROUP)
    return ok(fid, subject, f"{what} is available", GROUP)


def istio(facts: Facts) -> list[Finding]:
    if not present(facts, "istio"):
        return [skip("platform.istio", "Istio", "Istio is not installed", GROUP)]
    out = [_deployment_finding(facts, "platform.istio", "istio-system", "istiod", "the Istio control plane (istiod)")]
    namespaces = {n["metadata"]["name"]: n for n in facts.namespaces}
    for profile in facts.profiles:
        ns = namespaces.get(name(profile))
        if ns is not None and labels(ns).get("istio-injection") != "enabled":
            out.append(warn("platform.sidecar-injection", f"namespace {name(ns)}", "the profile namespace has no "
                            "istio-injection=enabled label: notebooks and pipelines there get no sidecar and are "
                            "refused by Kubeflow's AuthorizationPolicies",
                            f"`kubectl label namespace {name(ns)} istio-injection=enabled --overwrite` and restart its "
                            "pods", GROUP))
    return out


def auth(facts: Facts) -> list[Finding]:
    if not present(facts, "dex"):
        return [skip("platform.auth", "Dex and oauth2-proxy", "Dex is not installed", GROUP)]
    return [_deployment_finding(facts, "platform.auth", "auth", "dex", "Dex (login)"),
            _deployment_finding(facts, "platform.auth", "oauth2-proxy", "oauth2-proxy",
                                "oauth2-proxy (every request to the dashboard passes it)")]


def serving(facts: Facts) -> list[Finding]:
    if not present(facts, "kserve"):
        return [skip("platform.kserve", "KServe", "KServe is not installed", GROUP)]
    out = [_deployment_finding(facts, "platform.kserve", "kubeflow", "kserve-controller-manager",
                               "the KServe controller (and its webhook)")]
    if KNATIVE_NS in namespace_names(facts):
        for dep in facts.deployments:
            if dep["metadata"].get("namespace") == KNATIVE_NS:
                out.append(_deployment_finding(facts, "platform.knative", KNATIVE_NS, dep["metadata"]["name"],
                                               f"Knative Serving's {dep['metadata']['name']}"))
    return out


def profiles(facts: Facts) -> list[Finding]:
    if not facts.readable("profiles"):
        return [skip("platform.profiles", "Profiles", facts.unreadable.get("profiles", "Kubeflow is not installed"),
                     GROUP)]
    existing = namespace_names(facts)
    out = []
    for profile in facts.profiles:
        if name(profile) not in existing:
            out.append(fail("platform.profiles", f"profile {name(profile)}", "the Profile has no namespace: its "
                            "owner cannot use notebooks or pipelines", "the profile controller creates it: "
                            "`kubectl logs -n kubeflow deploy/profiles-deployment -c manager`", GROUP))
    if not out:
        out.append(ok("platform.profiles", "Profiles", f"{plural(len(facts.profiles), 'Profile')}, each with its "
                      "namespace", GROUP))
    return out
