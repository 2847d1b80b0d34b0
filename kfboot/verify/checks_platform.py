"""Checks of the platform's plumbing: cert-manager issues, Istio injects and routes, Dex logs in,
the GPU Operator validated every GPU node."""

from __future__ import annotations

import secrets
import time
from typing import Any

from kfboot.k8s import readiness as rd
from kfboot.k8s.refs import ObjectRef
from kfboot.verify import evidence, steps
from kfboot.verify.check import Check, CheckFailed, CheckSkipped, Probe
from kfboot.verify.http import HttpError, HttpSession
from kfboot.verify.login import LoginFailed, is_login_redirect, login, refused, unauthenticated_entry
from kfboot.verify.pod_security import restricted

MESH_NAMESPACE = "kfboot-verify-mesh"
ECHO = "kfboot-verify-echo"
GATEWAY_PRINCIPAL = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
VALIDATOR_LABEL = "app=nvidia-operator-validator"
GPU_NODE_LABEL = "nvidia.com/gpu.present=true"
SIDECAR_GRACE = 3.0


# -- cert-manager --------------------------------------------------------------------------------
def certificate_objects(ns: str) -> tuple[dict[str, Any], dict[str, Any]]:
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
              "metadata": {"name": "kfboot-verify-selfsigned", "namespace": ns}, "spec": {"selfSigned": {}}}
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": "kfboot-verify-cert", "namespace": ns},
            "spec": {"secretName": "kfboot-verify-cert-tls", "commonName": "kfboot-verify.example.com",
                     "dnsNames": ["kfboot-verify.example.com"],
                     "issuerRef": {"name": "kfboot-verify-selfsigned", "kind": "Issuer"}}}
    return issuer, cert


def certificate(probe: Probe) -> str:
    ns = steps.namespace(probe, probe.settings.namespace)
    issuer, cert = certificate_objects(ns)
    probe.create(issuer)
    steps.wait_for(probe, ObjectRef.of(issuer), steps.condition("Ready"),
                   next_step="kubectl -n cert-manager logs deploy/cert-manager; " + steps.DOCTOR)
    probe.create(cert)
    probe.cleanup.add(ObjectRef("v1", "Secret", "kfboot-verify-cert-tls", ns))
    steps.wait_for(probe, ObjectRef.of(cert), steps.condition("Ready", ("Failed", "Issuing-Failed")),
                   next_step="kubectl -n cert-manager logs deploy/cert-manager; " + steps.DOCTOR)
    secret = probe.kube.get("v1", "Secret", "kfboot-verify-cert-tls", ns)
    data = (secret or {}).get("data") or {}
    if not data.get("tls.crt") or not data.get("tls.key"):
        raise CheckFailed(f"Certificate {ns}/kfboot-verify-cert is Ready but Secret kfboot-verify-cert-tls "
                          f"{'has no tls.crt/tls.key' if secret else 'does not exist'}",
                          next_step="kubectl -n cert-manager logs deploy/cert-manager")
    return "self-signed Issuer issued Certificate kfboot-verify-cert (Secret with tls.crt and tls.key)"


# -- Istio ---------------------------------------------------------------------------------------
def echo_objects(ns: str, image: str) -> list[dict[str, Any]]:
    labels = {"app": ECHO}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": ECHO, "namespace": ns, "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": restricted({"containers": [{"name": "echo", "image": image,
                                                                   "args": ["netexec", "--http-port=8080"],
                                                                   "ports": [{"containerPort": 8080}]}]})}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": ECHO, "namespace": ns, "labels": labels},
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
         "metadata": {"name": ECHO, "namespace": ns},
         "spec": {"action": "ALLOW", "selector": {"matchLabels": labels},
                  "rules": [{"from": [{"source": {"principals": [GATEWAY_PRINCIPAL]}}]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": ECHO, "namespace": ns},
         "spec": {"gateways": ["kubeflow/kubeflow-gateway"], "hosts": ["*"],
                  "http": [{"match": [{"uri": {"prefix": f"/{ECHO}/"}}], "rewrite": {"uri": "/"},
                            "route": [{"destination": {"host": f"{ECHO}.{ns}.svc.cluster.local",
                                                       "port": {"number": 80}}}]}]}},
    ]


def has_sidecar(pod: dict[str, Any]) -> bool:
    """An istio-proxy container (classic, or a native sidecar init container), or ambient redirection."""
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])]
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return "istio-proxy" in names or annotations.get("ambient.istio.io/redirection") == "enabled"


def _echo_ready(probe: Probe) -> str:
    ns = steps.namespace(probe, MESH_NAMESPACE, {"istio-injection": "enabled"})

    def build() -> str:
        for obj in echo_objects(ns, probe.settings.image("agnhost")):
            probe.create(obj)
        steps.wait_for(probe, ObjectRef("apps/v1", "Deployment", ECHO, ns), rd.deployment_available,
                       pods=f"app={ECHO}")
        return ns

    return str(probe.shared.get("echo", build))


def sidecar(probe: Probe) -> str:
    ns = _echo_ready(probe)
    until = min(probe.deadline, time.monotonic() + SIDECAR_GRACE)
    while True:  # a pod being replaced may still be the old one for a moment
        pods = probe.kube.list("v1", "Pod", ns, label_selector=f"app={ECHO}")
        running = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
        if any(has_sidecar(p) for p in running) or time.monotonic() >= until:
            break
        probe.cancel.wait(0.2)
        steps.checkpoint(probe)
    running.sort(key=lambda p: not has_sidecar(p))
    if not running:
        raise steps.failure(probe, f"no pod of Deployment {ns}/{ECHO}", ObjectRef("apps/v1", "Deployment", ECHO, ns))
    pod = running[0]
    if not has_sidecar(pod):
        containers = ", ".join(c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or [])
        raise CheckFailed(f"pod {ns}/{pod['metadata']['name']} in a namespace labelled istio-injection=enabled has "
                          f"no istio-proxy sidecar (containers: {containers})",
                          next_step="check istiod's injection webhook: kubectl -n istio-system logs deploy/istiod; "
                                    + steps.DOCTOR)
    return f"pod {pod['metadata']['name']} runs the istio-proxy sidecar"


def _signed_in(probe: Probe, ns: str) -> tuple[HttpSession, dict[str, str], str]:
    """Every request through the Kubeflow gateway needs an identity: the initial user's Dex session
    (works on every cluster) when kfboot knows the password, else a ServiceAccount token (m2m)."""
    session = steps.gateway(probe)
    try:
        email, password = steps.initial_login(probe, need_password=True)
        login(session, email, password)
        return session, {}, f"signed in as {email}"
    except (CheckFailed, CheckSkipped, LoginFailed, HttpError):
        session = steps.gateway(probe)
        token = steps.service_account_token(probe, ns, "default")
        return session, {"Authorization": f"Bearer {token}"}, f"token of ServiceAccount {ns}/default"


def gateway_route(probe: Probe) -> str:
    ns = _echo_ready(probe)
    session, headers, who = _signed_in(probe, ns)
    message = f"kfboot-verify-{secrets.token_hex(4)}"
    path = f"/{ECHO}/echo?msg={message}"
    last, pause = "", 0.25
    while True:  # a new VirtualService takes a few seconds to reach the gateway
        try:
            resp = session.get(path, headers=headers, follow=False)
        except HttpError as exc:
            raise CheckFailed(exc.message, next_step=exc.hint or steps.DOCTOR) from None
        if resp.status == 200 and resp.text.strip() == message:
            return f"GET {path.split('?')[0]} through the ingress gateway answered 200 with the echo ({who})"
        last = f"HTTP {resp.status}" + (f" {resp.text.strip()[:120]!r}" if resp.text.strip() else "")
        if probe.remaining() <= 2:
            refused = resp.status in (401, 403) and headers
            raise steps.failure(
                probe, f"the ingress gateway did not route {path.split('?')[0]} to the echo service: last {last} "
                       f"({who})",
                ObjectRef("networking.istio.io/v1", "VirtualService", ECHO, ns), pods=f"app={ECHO}",
                next_step=steps.M2M_HINT if refused else
                "kubectl -n istio-system logs deploy/istio-ingressgateway; " + steps.DOCTOR)
        probe.cancel.wait(pause)
        pause = min(pause * 2, 3.0)
        steps.checkpoint(probe)


# -- Dex + oauth2-proxy --------------------------------------------------------------------------
def login_redirect(probe: Probe) -> str:
    session = steps.gateway(probe)
    try:
        resp = unauthenticated_entry(session)
    except HttpError as exc:
        raise CheckFailed(exc.message, next_step="kubectl -n istio-system get pods; " + steps.DOCTOR) from None
    if not is_login_redirect(resp):
        where = resp.headers.get("location", "")
        raise CheckFailed(f"an unauthenticated GET / answered HTTP {resp.status}"
                          + (f" (Location {where})" if where else "") + ", not a redirect to the login",
                          next_step="kubectl -n oauth2-proxy logs deploy/oauth2-proxy; " + steps.DOCTOR)
    target = resp.headers.get("location") or "oauth2-proxy's sign-in page"
    return f"unauthenticated GET / → HTTP {resp.status} {target.split('?')[0]}"


def dex_login(probe: Probe) -> str:
    email, password = steps.initial_login(probe, need_password=True)
    session = steps.gateway(probe)
    try:
        result = login(session, email, password)
        detail = f"logged in as {email} ({result.response.chain()})"
        if "central-dashboard" in probe.settings.kubeflow_apps:
            env = session.get("/api/workgroup/env-info", follow=False)
            user = env.json().get("user") if env.status == 200 else None
            if user != email:
                raise LoginFailed(f"the central dashboard's /api/workgroup/env-info answered HTTP {env.status}"
                                  f" with user {user!r}, not {email!r}")
            detail += "; the central dashboard knows the user"
    except (LoginFailed, HttpError) as exc:
        raise CheckFailed(str(exc), next_step="kubectl -n auth logs deploy/dex; kubectl -n oauth2-proxy logs "
                                              "deploy/oauth2-proxy; kfboot credentials") from None
    return detail


def wrong_password(probe: Probe) -> str:
    email, _ = steps.initial_login(probe, need_password=False)
    session = steps.gateway(probe)
    try:
        resp = refused(session, email, f"wrong-{secrets.token_urlsafe(12)}")
    except (LoginFailed, HttpError) as exc:
        raise CheckFailed(str(exc), next_step="kubectl -n auth get configmap dex -o yaml; kfboot credentials") from None
    return f"Dex refused a wrong password for {email} (HTTP {resp.status} on the login form, no redirect)"


# -- GPU Operator --------------------------------------------------------------------------------
def gpu_nodes(probe: Probe) -> list[str]:
    return [n["metadata"]["name"] for n in probe.kube.list("v1", "Node", label_selector=GPU_NODE_LABEL)]


def validator(probe: Probe) -> str:
    if probe.settings.no_gpu:
        raise CheckSkipped("--no-gpu")
    nodes = gpu_nodes(probe)
    if not nodes:
        raise CheckSkipped(f"no node is labelled {GPU_NODE_LABEL}")
    pods = probe.kube.list("v1", "Pod", "gpu-operator", label_selector=VALIDATOR_LABEL)
    by_node = {(p.get("spec") or {}).get("nodeName"): p for p in pods}
    problems: list[str] = []
    found: list[str] = []
    for node in nodes:
        pod = by_node.get(node)
        if pod is None:
            problems.append(f"node {node}: no nvidia-operator-validator pod")
            continue
        state = rd.pod_ready(pod)
        if not state.ready:
            name = pod["metadata"]["name"]
            problems.append(f"node {node}: pod {name}: {state.detail}")
            bad = _failing_init(pod)
            found.append(f"pod gpu-operator/{name}: {state.detail}")
            found += [f"  {ln}" for ln in evidence.last_log_lines(probe.kube, "gpu-operator", name, bad)]
    if problems:
        raise CheckFailed("the GPU Operator validator has not passed on every GPU node: " + "; ".join(problems),
                          next_step="kubectl -n gpu-operator logs POD -c driver-validation (or the failing "
                                    "init container); kfboot verify-gpu",
                          evidence=found)
    return f"validator passed on {len(nodes)} GPU node(s): {', '.join(nodes)}"


def nvidia_smi(probe: Probe) -> str:
    """verify-gpu's nvidia-smi step (no NCCL) on every GPU node: driver, GPUs, ECC, fabric, topology."""
    from kfboot.errors import KfbootError
    from kfboot.gpu.profiles import load_profiles
    from kfboot.verify.gpu_run import LiveOptions, run_verify_gpu

    if probe.settings.no_gpu:
        raise CheckSkipped("--no-gpu")
    if not gpu_nodes(probe):
        raise CheckSkipped(f"no node is labelled {GPU_NODE_LABEL}")
    options = LiveOptions(skip_nccl=True, keep=probe.settings.keep, timeout=max(30.0, probe.remaining()))
    try:
        report = run_verify_gpu(probe.kube, load_profiles([]), options, probe.progress)
    except KfbootError as exc:
        raise CheckFailed(exc.message, next_step=exc.hint or "kfboot verify-gpu -v") from None
    bad = [s for s in report.smi if not s.passed]
    if bad:
        raise CheckFailed("nvidia-smi failed on " + "; ".join(f"{s.node}: {s.reason}" for s in bad),
                          next_step="kfboot verify-gpu for the full report (and NCCL); kfboot doctor")
    return "nvidia-smi passed on " + ", ".join(f"{s.node} ({s.gpus}× {s.model or 'GPU'})" for s in report.smi)


def _failing_init(pod: dict[str, Any]) -> str | None:
    for cs in (pod.get("status") or {}).get("initContainerStatuses") or []:
        if (cs.get("state") or {}).get("terminated", {}).get("exitCode", 1) != 0:
            return str(cs.get("name"))
    return None


CHECKS = [
    Check("cert-manager/certificate", "cert-manager", "self-signed Issuer issues a Certificate", certificate,
          timeout=120),
    Check("istio/sidecar", "istio", "a test workload gets its sidecar", sidecar, timeout=180),
    Check("istio/gateway", "istio", "a request is routed through the ingress gateway", gateway_route,
          needs=("istio/sidecar",), timeout=120),
    Check("dex/login-redirect", "dex", "an unauthenticated request is redirected to the login", login_redirect,
          timeout=60),
    Check("dex/login", "dex", "the initial user logs in (oauth2-proxy → Dex → session cookie)", dex_login,
          timeout=90),
    Check("dex/wrong-password", "dex", "a wrong password is refused", wrong_password, timeout=60),
    Check("gpu-operator/validator", "gpu-operator", "the validator passed on every GPU node", validator,
          timeout=60),
    Check("gpu-operator/nvidia-smi", "gpu-operator", "nvidia-smi on every GPU node (verify-gpu)", nvidia_smi,
          needs=("gpu-operator/validator",), timeout=300),
]
