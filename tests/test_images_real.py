"""The air-gap image list over the real kubeflow/manifests 26.03 render and chart renders: every image a
pod of the stack can run (pod specs, controllers' env, ConfigMap options, injection values), nothing
that is not an image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kfboot.k8s.manifests import parse_manifests
from kfboot.sources.images import images_of, looks_like_image

UPSTREAM = Path(__file__).resolve().parents[1].parent / "shared" / "upstream"
pytestmark = pytest.mark.skipif(not UPSTREAM.is_dir(), reason="the real upstream render is not beside the repo")

# named outside pod specs' `image:` fields, each one pulled by a running stack
LAUNCHED_LATER = {
    "ghcr.io/kubeflow/kfp-driver:2.16.0",  # KFP api-server env V2_DRIVER_IMAGE
    "ghcr.io/kubeflow/kfp-launcher:2.16.0",  # … V2_LAUNCHER_IMAGE
    "filebrowser/filebrowser:v2.25.0",  # volumes web app env VOLUME_VIEWER_IMAGE
    "ghcr.io/containerd/busybox",  # KFP cache server, ConfigMap pipeline-install-config cacheImage
    *(f"ghcr.io/kubeflow/kubeflow/notebook-servers/{name}:v1.10.0" for name in (  # spawner options
        "codeserver-python", "rstudio-tidyverse", "jupyter-pytorch-full", "jupyter-pytorch-cuda-full",
        "jupyter-pytorch-gaudi-full", "jupyter-tensorflow-full", "jupyter-tensorflow-cuda-full")),
    "gcr.io/istio-release/proxyv2:1.28.0",  # the sidecar the injection template adds to every pod
}


def _objects() -> list[dict[str, Any]]:
    files = sorted((UPSTREAM / "kubeflow-manifests-26.03").rglob("*.yaml")) + sorted((UPSTREAM / "charts").glob("*.rendered.yaml"))
    return [o for f in files for o in parse_manifests(f.read_text(encoding="utf-8"), str(f))]


def _pod_spec_images(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key in ("containers", "initContainers"):
            for c in node.get(key) or []:
                if isinstance(c, dict) and isinstance(c.get("image"), str):
                    found.add(c["image"])
        for value in node.values():
            found |= _pod_spec_images(value)
    elif isinstance(node, list):
        for item in node:
            found |= _pod_spec_images(item)
    return found


def test_every_image_the_real_stack_runs_and_nothing_else() -> None:
    objects = _objects()
    images = set(images_of(objects))

    assert images >= LAUNCHED_LATER, sorted(LAUNCHED_LATER - images)
    in_pod_specs = {i for o in objects if o["kind"] != "CustomResourceDefinition" for i in _pod_spec_images(o)}
    assert {i for i in in_pod_specs if "$" not in i and "{" not in i} <= images
    assert [i for i in images if not looks_like_image(i, untagged=True)] == []
    assert not [i for i in images if "$" in i or "{" in i]  # `$VOLUME_VIEWER_IMAGE` is a placeholder
    assert len(images) >= 115
