"""Bounded waits that explain themselves: each knows what it waits for and reports what it last saw.

Polling (not watches) keeps this simple and robust through API hiccups; the interval starts small so
fast objects cost little and grows so slow ones don't hammer the server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kfboot.errors import ClusterError, Interrupted, WaitTimeout
from kfboot.k8s import readiness as rd
from kfboot.k8s.client import Kube
from kfboot.k8s.refs import ObjectRef

Progress = Callable[[str], None]  # where long operations report what they are doing (one line each)


class WaitFailed(ClusterError):
    """What we waited for reached a terminal failure (e.g. a Job failed)."""


class Waiter:
    def __init__(
        self,
        kube: Kube,
        *,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
        min_interval: float = 0.05,
        max_interval: float = 2.0,
    ) -> None:
        self.kube = kube
        self.cancel = cancel or threading.Event()
        self.progress = progress or (lambda _msg: None)
        self.min_interval = min_interval
        self.max_interval = max_interval

    def until(
        self,
        what: str,
        probe: Callable[[], rd.Readiness],
        deadline: float,
        explain: Callable[[], str] | None = None,
    ) -> None:
        """Poll `probe` until ready; raise WaitTimeout naming `what` and the last state seen."""
        interval = self.min_interval
        last = rd.Readiness(False, "not checked yet")
        announced = ""
        while True:
            if self.cancel.is_set():
                raise Interrupted(f"interrupted while waiting for {what}")
            last = probe()
            if last.ready:
                return
            if last.failed:
                raise WaitFailed(f"{what}: {last.detail}")
            if last.detail != announced:
                self.progress(f"waiting for {what}: {last.detail}")
                announced = last.detail
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                extra = ""
                if explain is not None:
                    try:
                        extra = explain()
                    except ClusterError:
                        extra = ""
                raise WaitTimeout(
                    f"timed out waiting for {what}: {last.detail}" + (f"; {extra}" if extra else ""),
                    hint="raise --timeout, or inspect with `kubectl describe` and `kubectl get events`",
                )
            self.cancel.wait(min(interval, remaining))
            interval = min(interval * 1.5, self.max_interval)

    # -- typed waits -----------------------------------------------------------------------------
    def object_ready(
        self,
        ref: ObjectRef,
        deadline: float,
        check: Callable[[dict[str, Any]], rd.Readiness] = rd.readiness_of,
    ) -> None:
        def probe() -> rd.Readiness:
            obj = self.kube.get_ref(ref)
            return rd.Readiness(False, "does not exist") if obj is None else check(obj)

        self.until(str(ref), probe, deadline, explain=lambda: self.pod_summary(ref))

    def crd_established(self, name: str, deadline: float) -> None:
        ref = ObjectRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        self.object_ready(ref, deadline, rd.crd_established)

    def service_endpoints(self, namespace: str, service: str, deadline: float) -> None:
        def probe() -> rd.Readiness:
            slices = self.kube.list(
                "discovery.k8s.io/v1", "EndpointSlice", namespace,
                label_selector=f"kubernetes.io/service-name={service}",
            )
            return rd.endpoints_ready(slices)

        self.until(f"endpoints of Service {namespace}/{service}", probe, deadline,
                   explain=lambda: self.service_pod_summary(namespace, service))

    # -- explanations on timeout -----------------------------------------------------------------
    def pod_summary(self, ref: ObjectRef) -> str:
        """For workloads: why their pods are not ready (the part of a timeout users act on)."""
        if ref.kind not in {"Deployment", "StatefulSet", "DaemonSet", "Job"} or not ref.namespace:
            return ""
        obj = self.kube.get_ref(ref)
        labels = ((((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
        if not labels:
            return ""
        return self._pods_problems(ref.namespace, labels)

    def service_pod_summary(self, namespace: str, service: str) -> str:
        svc = self.kube.get("v1", "Service", service, namespace)
        selector = ((svc or {}).get("spec") or {}).get("selector") or {}
        if svc is None:
            return "the Service does not exist"
        if not selector:
            return "the Service has no selector"
        return self._pods_problems(namespace, selector)

    def _pods_problems(self, namespace: str, labels: dict[str, str]) -> str:
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        pods = self.kube.list("v1", "Pod", namespace, label_selector=selector)
        if not pods:
            return f"no pods match {selector}"
        problems = []
        for pod in pods[:5]:
            why = rd.pod_problem(pod)
            if why:
                problems.append(f"pod {pod['metadata']['name']}: {why}")
        return "; ".join(problems) or f"{len(pods)} pods, none reporting a problem"


def deadline_in(seconds: float) -> float:
    """The monotonic deadline `seconds` from now (what Waiter.until and run_job take)."""
    return time.monotonic() + seconds
