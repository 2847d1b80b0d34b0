"""CA injection waits over the real cert-manager render of kubeflow/manifests 26.03.

cert-manager's own webhooks take their CA from a Secret (`cert-manager.io/inject-ca-from-secret`),
the others from a Certificate (`…/inject-ca-from`). What those webhooks intercept (the ClusterIssuer
applied right after) must wait for either kind, or it reaches a webhook the API server cannot trust:
the fake API server answers such a write as kube-apiserver does (500, `x509: certificate signed by
unknown authority`) while the webhook's caBundle is empty, and its cainjector fills caBundle only a
moment after the CA Secret appears, as the real one does.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kfboot.k8s.apply import Applier
from kfboot.k8s.manifests import parse_manifests
from kfboot.k8s.waits import Waiter
from tests.bed import connect

UPSTREAM = Path(__file__).resolve().parents[1].parent / "shared" / "upstream" / "kubeflow-manifests-26.03"
CERT_MANAGER = UPSTREAM / "common" / "cert-manager" / "overlays" / "kubeflow.yaml"
HOOK_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


@pytest.mark.skipif(not CERT_MANAGER.is_file(), reason="the real upstream render is not beside the repo")
def test_cert_manager_issuer_waits_for_ca_from_secret_injection(fake_kube: Any, tmp_path: Path) -> None:
    objects = parse_manifests(CERT_MANAGER.read_text(encoding="utf-8"), str(CERT_MANAGER))
    from_secret = [o for o in objects if o["kind"] in HOOK_KINDS and
                   "cert-manager.io/inject-ca-from-secret" in (o["metadata"].get("annotations") or {})]
    assert from_secret, "cert-manager's own webhooks take their CA from a Secret"
    assert any(o["kind"] == "ClusterIssuer" for o in objects)
    fake_kube.cainjector_delay = 0.5  # a real cainjector needs a watch event and a patch
    kube = connect(fake_kube, tmp_path)
    Applier(kube, Waiter(kube)).apply(objects, time.monotonic() + 60)

    issuer_writes = [r for r in fake_kube.requests
                     if r.method in ("PATCH", "POST", "PUT") and "/clusterissuers" in r.path]
    assert issuer_writes, "the ClusterIssuer was applied"
    refused = [f"{r.method} {r.path} -> {r.status}" for r in issuer_writes if r.status >= 500]
    assert refused == [], "the ClusterIssuer reached cert-manager's webhook before its CA was injected"
    for hook in from_secret:
        live = fake_kube.get("admissionregistration.k8s.io/v1", hook["kind"], hook["metadata"]["name"])
        assert live is not None and all(w["clientConfig"].get("caBundle") for w in live["webhooks"])
