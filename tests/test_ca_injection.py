"""CA injection waits over the real cert-manager render of kubeflow/manifests 26.03.

cert-manager's own webhooks take their CA from a Secret (`cert-manager.io/inject-ca-from-secret`),
the others from a Certificate (`…/inject-ca-from`). What those webhooks intercept (the ClusterIssuer
applied right after) must wait for either kind, or it reaches a webhook the API server cannot trust.
"""

from __future__ import annotations

import threading
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


class SlowCainjector:
    """Fills caBundle of webhooks annotated for injection (either kind), `delay` seconds after they
    appear, and remembers how many API requests had been made at that moment."""

    def __init__(self, fk: Any, delay: float) -> None:
        self.fk, self.delay = fk, delay
        self.requests_before: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.seen: dict[str, float] = {}

    def _loop(self) -> None:
        while not self.stop.wait(0.02):
            for kind in HOOK_KINDS:
                for hook in self.fk.list("admissionregistration.k8s.io/v1", kind):
                    annotations = hook["metadata"].get("annotations") or {}
                    if not any(a.startswith("cert-manager.io/inject-ca-from") for a in annotations):
                        continue
                    name = f"{kind}/{hook['metadata']['name']}"
                    first = self.seen.setdefault(name, time.monotonic())
                    if name in self.requests_before or time.monotonic() - first < self.delay:
                        continue
                    self.requests_before[name] = len(self.fk.requests)
                    for w in hook.get("webhooks") or []:
                        w.setdefault("clientConfig", {})["caBundle"] = "Y2EtYnVuZGxl"
                    self.fk.put(hook)


@pytest.mark.skipif(not CERT_MANAGER.is_file(), reason="the real upstream render is not beside the repo")
def test_cert_manager_issuer_waits_for_ca_from_secret_injection(fake_kube: Any, tmp_path: Path) -> None:
    objects = parse_manifests(CERT_MANAGER.read_text(encoding="utf-8"), str(CERT_MANAGER))
    # RBAC objects named with ':' play no part in CA injection (and the fake may not decode %3A yet)
    objects = [o for o in objects if ":" not in o["metadata"]["name"]]
    from_secret = [o for o in objects if o["kind"] in HOOK_KINDS and
                   "cert-manager.io/inject-ca-from-secret" in (o["metadata"].get("annotations") or {})]
    assert from_secret, "cert-manager's own webhooks take their CA from a Secret"
    kube = connect(fake_kube, tmp_path)
    fake_kube.cainjector_delay = 60  # the fake's own cainjector (it runs once the Deployment is up) stays out of it
    injector = SlowCainjector(fake_kube, delay=0.5)
    injector.thread.start()
    try:
        Applier(kube, Waiter(kube)).apply(objects, time.monotonic() + 30)
    finally:
        injector.stop.set()
        injector.thread.join(timeout=2)

    issuer_writes = [i for i, r in enumerate(fake_kube.requests)
                     if r.method in ("PATCH", "POST", "PUT") and "/clusterissuers/" in r.path + "/"]
    assert issuer_writes, "the ClusterIssuer was applied"
    for hook in from_secret:
        injected_at = injector.requests_before.get(f"{hook['kind']}/{hook['metadata']['name']}")
        assert injected_at is not None and issuer_writes[0] >= injected_at, \
            f"ClusterIssuer applied before the CA of {hook['metadata']['name']}"
