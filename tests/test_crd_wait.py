"""Waiting for new CRDs reads discovery (a few KB per group version), not the CRDs themselves (up to
megabytes of schema each), and still ends the moment every one is Established."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kfboot.k8s.apply import Applier
from kfboot.k8s.waits import Waiter
from tests.bed import connect


def _crd(group: str, kind: str, versions: tuple[str, ...] = ("v1",)) -> dict[str, Any]:
    plural = kind.lower() + "s"
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
                     "versions": [{"name": v, "served": True, "storage": i == 0,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}
                                  for i, v in enumerate(versions)]}}


def test_new_crds_are_waited_for_through_discovery(fake_kube: Any, tmp_path: Path) -> None:
    fake_kube.crd_establish_delay = 0.6
    crds = [_crd("a.example.com", "Alpha"), _crd("a.example.com", "Beta", ("v1", "v2")),
            _crd("b.example.com", "Gamma")]
    widget = {"apiVersion": "b.example.com/v1", "kind": "Gamma", "metadata": {"name": "g", "namespace": "default"}}
    kube = connect(fake_kube, tmp_path)
    started = time.monotonic()
    Applier(kube, Waiter(kube)).apply([*crds, widget], time.monotonic() + 30)
    assert time.monotonic() - started < 5  # ends soon after the 0.6 s it takes (polls <= 0.2 s apart)

    crd_reads = [r for r in fake_kube.requests if r.method == "GET" and "/customresourcedefinitions" in r.path]
    assert len(crd_reads) <= len(crds)  # at most one look at each CRD itself, every 8th poll
    assert any(r.path == "/apis/a.example.com/v2" for r in fake_kube.requests)  # every served version
    assert fake_kube.get("b.example.com/v1", "Gamma", "g", "default") is not None  # applied once served


def test_a_crd_never_established_times_out_naming_it(fake_kube: Any, tmp_path: Path) -> None:
    import pytest

    from kfboot.errors import WaitTimeout

    stuck = _crd("c.example.com", "Delta")
    fake_kube.hold_unready("CustomResourceDefinition", None, stuck["metadata"]["name"])
    kube = connect(fake_kube, tmp_path)
    kube.apply(stuck)
    with pytest.raises(WaitTimeout) as err:
        Waiter(kube).crds_established([stuck], time.monotonic() + 2)
    assert "deltas.c.example.com" in err.value.message and "not Established yet" in err.value.message
