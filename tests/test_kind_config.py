"""kind cluster configs: valid `kind.x-k8s.io/v1alpha4` documents for every option (checked structurally)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kfboot.config.catalog import load_catalog
from kfboot.errors import UsageError
from kfboot.kind import config as kc

PINNED = load_catalog().kind.node_image

# The v1alpha4 Cluster fields kind accepts (sigs.k8s.io/kind/pkg/apis/config/v1alpha4 types.go);
# kind rejects unknown fields, so a typo here must fail the test.
_MOUNT = {"type": "object", "additionalProperties": False, "required": ["hostPath", "containerPath"],
          "properties": {"hostPath": {"type": "string"}, "containerPath": {"type": "string"},
                         "readOnly": {"type": "boolean"}, "selinuxRelabel": {"type": "boolean"},
                         "propagation": {"enum": ["None", "HostToContainer", "Bidirectional"]}}}
KIND_V1ALPHA4 = {
    "type": "object", "additionalProperties": False, "required": ["kind", "apiVersion", "nodes"],
    "properties": {
        "kind": {"const": "Cluster"}, "apiVersion": {"const": "kind.x-k8s.io/v1alpha4"},
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "featureGates": {"type": "object"}, "runtimeConfig": {"type": "object"}, "networking": {"type": "object"},
        "kubeadmConfigPatches": {"type": "array", "items": {"type": "string"}},
        "kubeadmConfigPatchesJSON6902": {"type": "array"},
        "containerdConfigPatches": {"type": "array", "items": {"type": "string"}},
        "containerdConfigPatchesJSON6902": {"type": "array"},
        "nodes": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["role"],
            "properties": {"role": {"enum": ["control-plane", "worker"]}, "image": {"type": "string"},
                           "labels": {"type": "object"}, "extraMounts": {"type": "array", "items": _MOUNT},
                           "extraPortMappings": {"type": "array"},
                           "kubeadmConfigPatches": {"type": "array", "items": {"type": "string"}},
                           "kubeadmConfigPatchesJSON6902": {"type": "array"}}}},
    },
}


def render(**kwargs: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"name": "kfboot", "node_image": PINNED, "workers": 2, "gpu_devices": []}
    spec = kc.build_spec(**{**defaults, **kwargs})
    doc = yaml.safe_load(kc.render_config(spec))
    jsonschema.validate(doc, KIND_V1ALPHA4)
    return doc


def mounts(node: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["hostPath"], m["containerPath"]) for m in node.get("extraMounts", [])]


def test_default_is_upstream_ci_shape_pinned_by_digest_with_the_issuer_patch() -> None:
    doc = render()
    assert doc["name"] == "kfboot"
    assert [n["role"] for n in doc["nodes"]] == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in doc["nodes"]} == {PINNED}
    assert PINNED.startswith("kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f")
    [patch_text] = doc["kubeadmConfigPatches"]
    patch = yaml.safe_load(patch_text)
    assert patch["kind"] == "ClusterConfiguration" and "apiVersion" not in patch  # applies to any kubeadm API
    assert patch["apiServer"]["extraArgs"] == {"service-account-issuer": "https://kubernetes.default.svc",
                                               "service-account-signing-key-file": "/etc/kubernetes/pki/sa.key"}
    assert "containerdConfigPatches" not in doc
    assert all("extraMounts" not in n for n in doc["nodes"])


@pytest.mark.parametrize("workers", [0, 1, 5])
def test_worker_count(workers: int) -> None:
    roles = [n["role"] for n in render(workers=workers)["nodes"]]
    assert roles == ["control-plane"] + ["worker"] * workers


def test_gpus_all_mounts_every_gpu_into_one_worker() -> None:
    devices = kc.gpu_layout(kc.parse_gpus("all"), host_gpus=8)
    doc = render(gpu_devices=devices)
    assert mounts(doc["nodes"][1]) == [("/dev/null", "/var/run/nvidia-container-devices/all")]
    assert "extraMounts" not in doc["nodes"][0] and "extraMounts" not in doc["nodes"][2]


def test_gpus_split_by_index_over_workers_and_node_names_follow_kind() -> None:
    devices = kc.gpu_layout(kc.parse_gpus("4", per_worker=2), host_gpus=8)
    assert devices == [("0", "1"), ("2", "3")]
    spec = kc.build_spec(name="ci", node_image=PINNED, workers=3, gpu_devices=devices)
    doc = yaml.safe_load(kc.render_config(spec))
    jsonschema.validate(doc, KIND_V1ALPHA4)
    assert mounts(doc["nodes"][1]) == [("/dev/null", "/var/run/nvidia-container-devices/0"),
                                       ("/dev/null", "/var/run/nvidia-container-devices/1")]
    assert mounts(doc["nodes"][2])[-1] == ("/dev/null", "/var/run/nvidia-container-devices/3")
    assert "extraMounts" not in doc["nodes"][3]
    assert spec.node_names() == ["ci-control-plane", "ci-worker", "ci-worker2", "ci-worker3"]
    assert spec.gpu_nodes() == {"ci-worker": ("0", "1"), "ci-worker2": ("2", "3")}


def test_gpu_workers_are_added_when_there_are_fewer_workers_than_gpu_groups() -> None:
    devices = kc.gpu_layout(kc.parse_gpus("3", per_worker=1), host_gpus=4)
    roles = [n["role"] for n in render(workers=1, gpu_devices=devices)["nodes"]]
    assert roles == ["control-plane", "worker", "worker", "worker"]


def test_registry_mirror_uses_containerd_hosts_dir_on_every_node(tmp_path: Path) -> None:
    certs = tmp_path / "certs.d"
    mirrors = (kc.parse_mirror("http://mirror.local:5000"), kc.parse_mirror("ghcr.io=https://ghcr.example.com/"))
    doc = render(mirrors=mirrors, certs_dir=certs, gpu_devices=[("all",)])
    [patch] = doc["containerdConfigPatches"]
    assert '[plugins."io.containerd.grpc.v1.cri".registry]' in patch
    assert 'config_path = "/etc/containerd/certs.d"' in patch
    for node in doc["nodes"]:
        assert (str(certs), "/etc/containerd/certs.d") in mounts(node)
    assert ("/dev/null", "/var/run/nvidia-container-devices/all") in mounts(doc["nodes"][1])
    spec = kc.build_spec(name="kfboot", node_image=PINNED, workers=1, gpu_devices=[], mirrors=mirrors, certs_dir=certs)
    written = kc.write_mirror_hosts(spec)
    assert written == [certs / "docker.io" / "hosts.toml", certs / "ghcr.io" / "hosts.toml"]
    assert written[0].read_text() == ('server = "https://registry-1.docker.io"\n\n[host."http://mirror.local:5000"]\n'
                                      '  capabilities = ["pull", "resolve"]\n  skip_verify = true\n')
    assert written[1].read_text().startswith('server = "https://ghcr.io"\n\n[host."https://ghcr.example.com"]')


def test_custom_node_image_everywhere() -> None:
    image = "registry.local/kindest/node:v1.34.0"
    assert {n["image"] for n in render(node_image=image)["nodes"]} == {image}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "Bad_Name"}, "a kind cluster name"),
    ({"node_image": "kindest/node:v1 @sha256:x"}, "is not an image reference"),
    ({"workers": -1}, "--workers"),
])
def test_bad_options_are_usage_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        render(**kwargs)


@pytest.mark.parametrize(("value", "message"), [("0", "expected `all` or a number"), ("two", "expected `all`")])
def test_bad_gpus(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        kc.parse_gpus(value)


def test_gpu_layout_limits() -> None:
    with pytest.raises(UsageError, match="this host has 2 GPU"):
        kc.gpu_layout(kc.parse_gpus("4"), host_gpus=2)
    with pytest.raises(UsageError, match="number of GPUs on this host is unknown"):
        kc.gpu_layout(kc.parse_gpus("all", per_worker=1), host_gpus=None)
    with pytest.raises(UsageError, match="--gpus-per-worker needs --gpus"):
        kc.parse_gpus(None, per_worker=2)
    assert kc.gpu_layout(kc.parse_gpus(None), host_gpus=4) == []
    assert kc.gpu_layout(kc.parse_gpus("2"), host_gpus=None) == [("0", "1")]


@pytest.mark.parametrize("value", ["ftp://x", "docker.io/library=http://m", ""])
def test_bad_mirrors(value: str) -> None:
    with pytest.raises(UsageError, match="--registry-mirror"):
        kc.parse_mirror(value)


@pytest.mark.parametrize(("text", "seconds"), [("120", 120), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2.5m", 150)])
def test_durations(text: str, seconds: float) -> None:
    assert kc.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "m", "-1s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError, match="--wait"):
        kc.parse_duration(text)


def test_versions_shows_the_kind_pins() -> None:
    import json

    from typer.testing import CliRunner

    from kfboot.cli.app import app

    text = CliRunner().invoke(app, ["versions"])
    assert f"kind v0.31.0, node image {PINNED}" in text.stdout
    catalog = json.loads(CliRunner().invoke(app, ["-o", "json", "versions"]).stdout)
    assert catalog["kind"]["version"] == "v0.31.0" and catalog["kind"]["nodeImage"] == PINNED
