"""Container images referenced by rendered objects, for mirroring into an air-gapped registry.

Generic on purpose (no per-kind tables): pod specs sit at different depths in Deployments,
CronJobs, Knative Services, InferenceServices, ServingRuntimes…, but always as lists named
`containers`/`initContainers`/`ephemeralContainers` whose items have an `image`. Operators also keep
images in ConfigMaps (Knative `queue-sidecar-image`, KServe JSON and Katib YAML config, the notebook
spawner's image options, KFP's `cacheImage`), in controllers' env (`V2_DRIVER_IMAGE`) and in CR fields
(`image:`, or GPU Operator style `repository`/`image`/`version`); those are picked up too. Placeholders
(`$VOLUME_VIEWER_IMAGE`) are not images.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

# Images `kfboot verify-gpu` runs (not in any rendered manifest): NVIDIA's CUDA base image for
# nvidia-smi, NVIDIA's PyTorch container for NCCL (it ships nccl-tests as all_reduce_perf_mpi, and
# torch for the multi-node benchmark). Listed in every bundle so air-gapped clusters can mirror them.
VERIFY_GPU_SMI_IMAGE = "nvcr.io/nvidia/cuda:12.8.0-base-ubuntu24.04"
VERIFY_GPU_NCCL_IMAGE = "nvcr.io/nvidia/pytorch:25.05-py3"
VERIFY_IMAGES = (VERIFY_GPU_SMI_IMAGE, VERIFY_GPU_NCCL_IMAGE)

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
# registry/path:tag or @digest; no spaces, no templating leftovers
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._\-/:]*[a-z0-9](:[\w][\w.\-]{0,127})?(@sha256:[a-f0-9]{64})?$")


def looks_like_image(value: str, *, untagged: bool = False) -> bool:
    """A plausible image reference with a tag or digest (bare words like 'nginx' are ambiguous). With
    `untagged` (where the field says it is an image), also a registry path without tag
    (`ghcr.io/containerd/busybox`, pulled as :latest)."""
    value = value.strip()
    if not value or " " in value or "{" in value or "$" in value:
        return False
    if ":" not in value and "@" not in value:
        first = value.split("/", 1)[0]
        if not (untagged and "/" in value and "." in first):
            return False
    return bool(_IMAGE.match(value)) and not value.startswith(("http:", "https:"))


def _is_placeholder(value: str) -> bool:
    """Templating left for someone else to fill (`$VOLUME_VIEWER_IMAGE`, `{{ .ProxyImage }}`)."""
    return "$" in value or "{" in value or " " in value


def _walk(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key in _CONTAINER_LISTS:
            items = node.get(key)
            if isinstance(items, list):
                for item in items:
                    if not isinstance(item, dict):
                        continue
                    image = item.get("image")
                    if isinstance(image, str) and image.strip() and not _is_placeholder(image):
                        yield image.strip()
                    yield from _flag_images(item)
                    yield from _env_images(item)
        image, repo, version = node.get("image"), node.get("repository"), node.get("version")
        if isinstance(image, str) and isinstance(repo, str) and isinstance(version, str) and "/" not in image:
            yield f"{repo.rstrip('/')}/{image}:{version}"  # GPU Operator ClusterPolicy style
        elif isinstance(image, str) and looks_like_image(image):
            yield image.strip()
        for key, value in node.items():
            if key == "metadata" or key in _CONTAINER_LISTS:
                continue
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


_IMAGE_FLAG = re.compile(r"^--?[\w-]*image[\w-]*(?:=(?P<value>.+))?$", re.IGNORECASE)


def _flag_images(container: dict[str, Any]) -> Iterator[str]:
    """Images a controller is told to launch via its flags (argo `--executor-image=…`, `--image X`)."""
    argv = [a for key in ("command", "args") for a in container.get(key) or [] if isinstance(a, str)]
    for i, arg in enumerate(argv):
        m = _IMAGE_FLAG.match(arg)
        if not m:
            continue
        value = m.group("value") if m.group("value") is not None else (argv[i + 1] if i + 1 < len(argv) else "")
        if looks_like_image(value):
            yield value.strip()


def _env_images(container: dict[str, Any]) -> Iterator[str]:
    """Images a controller launches, named in its env (`V2_DRIVER_IMAGE`, `VOLUME_VIEWER_IMAGE`)."""
    for env in container.get("env") or []:
        if not isinstance(env, dict) or not isinstance(env.get("value"), str):
            continue
        if str(env.get("name", "")).upper().endswith("IMAGE") and looks_like_image(env["value"], untagged=True):
            yield env["value"].strip()


def _config_values(obj: dict[str, Any]) -> Iterator[str]:
    """Images inside ConfigMap data: `*image` keys, and JSON documents with `image` fields."""
    data = obj.get("data")
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        if not isinstance(value, str):
            continue
        if key.lower().endswith("image") and looks_like_image(value, untagged=True):
            yield value.strip()
        elif value.lstrip().startswith(("{", "[")):
            try:
                yield from _walk(json.loads(value))
            except ValueError:
                continue
        elif "image:" in value or "image\":" in value:  # embedded YAML config (katib, jupyter spawner)
            yield from _yaml_images(value)


def _yaml_images(text: str) -> Iterator[str]:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return
    yield from _walk(doc)
    yield from _values_under_image_keys(doc)


def _values_under_image_keys(node: Any) -> Iterator[str]:
    """`image: {value: ref, options: [ref, …]}` shapes (the notebook spawner's `image`,
    `imageGroupOne`, … : every option is an image a user can start) and `image: ref` anywhere."""
    if isinstance(node, dict):
        for key, value in node.items():
            if "image" in str(key).lower() and isinstance(value, dict):
                choices = [value.get("value"), *(value.get("options") or [])]
                yield from (c.strip() for c in choices if isinstance(c, str) and looks_like_image(c))
            yield from _values_under_image_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _values_under_image_keys(item)


def images_of(objects: Iterable[dict[str, Any]]) -> list[str]:
    """Sorted, unique image references used by `objects`."""
    found: set[str] = set()
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        if obj.get("kind") == "ConfigMap":
            found.update(_config_values(obj))
        elif obj.get("kind") != "CustomResourceDefinition":  # schemas mention `image`, not images
            found.update(_walk({k: v for k, v in obj.items() if k != "metadata"}))
    return sorted(found)
