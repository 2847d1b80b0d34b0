"""What a kind cluster looks like (pure): options in, a `kind.x-k8s.io/v1alpha4` Cluster document out.

The document comes from templates/kind-cluster.yaml.j2 so people can read the shape in one place;
this module decides the values: pinned node image, worker layout, GPUs per worker, registry mirrors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kfboot.errors import UsageError

TEMPLATE = Path(__file__).resolve().parents[1] / "data" / "templates" / "kind-cluster.yaml.j2"
DEFAULT_NAME = "kfboot"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_IMAGE = re.compile(r"^[^@\s]+(:[^@\s/]+)?(@sha256:[0-9a-f]{64})?$")
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


@dataclass(frozen=True)
class Mirror:
    """Pull `registry` images through `url` (a pull-through cache or an air-gap mirror)."""

    registry: str
    url: str

    def hosts_toml(self) -> str:
        """containerd's hosts.toml for the registry: try the mirror first, then the registry itself."""
        upstream = "https://registry-1.docker.io" if self.registry == "docker.io" else f"https://{self.registry}"
        return (f'server = "{upstream}"\n\n[host."{self.url}"]\n  capabilities = ["pull", "resolve"]\n'
                + ('  skip_verify = true\n' if self.url.startswith("http://") else ""))


@dataclass(frozen=True)
class Worker:
    devices: tuple[str, ...] = ()  # GPU indexes ("0", "1") or ("all",)


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    node_image: str
    workers: tuple[Worker, ...]
    mirrors: tuple[Mirror, ...] = ()
    certs_dir: Path | None = None

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def gpu_workers(self) -> int:
        return sum(1 for w in self.workers if w.devices)

    def node_names(self) -> list[str]:
        """kind's container names, in config order: <name>-control-plane, <name>-worker, <name>-worker2, …"""
        return [f"{self.name}-control-plane"] + [
            f"{self.name}-worker" + (str(i + 1) if i else "") for i in range(len(self.workers))]

    def gpu_nodes(self) -> dict[str, tuple[str, ...]]:
        """Node container name -> the GPUs it was given."""
        names = self.node_names()[1:]
        return {names[i]: w.devices for i, w in enumerate(self.workers) if w.devices}


@dataclass(frozen=True)
class GpuRequest:
    """`--gpus all|N` (None: no GPUs) and how many GPUs each GPU worker gets (None: all on one)."""

    count: int | None = None  # None with wanted=True means "all"
    wanted: bool = False
    per_worker: int | None = None


def parse_gpus(value: str | None, per_worker: int | None = None) -> GpuRequest:
    if value is None or value == "":
        if per_worker is not None:
            raise UsageError("--gpus-per-worker needs --gpus", hint="e.g. --gpus 4 --gpus-per-worker 2")
        return GpuRequest()
    if value == "all":
        return GpuRequest(None, True, per_worker)
    if value.isdigit() and int(value) > 0:
        return GpuRequest(int(value), True, per_worker)
    raise UsageError(f"--gpus {value!r}: expected `all` or a number of GPUs (1, 2, …)",
                     hint="e.g. --gpus all (every GPU of this host) or --gpus 2 (GPUs 0 and 1)")


def gpu_layout(request: GpuRequest, host_gpus: int | None) -> list[tuple[str, ...]]:
    """Devices of each GPU worker. `all` without a split mounts `all` (the runtime injects every GPU)."""
    if not request.wanted:
        return []
    if request.per_worker is None and request.count is None:
        return [("all",)]
    total = request.count if request.count is not None else host_gpus
    if total is None:
        raise UsageError("cannot split `--gpus all` across workers: the number of GPUs on this host is unknown",
                         hint="pass --gpus N with the number of GPUs")
    if host_gpus is not None and total > host_gpus:
        raise UsageError(f"--gpus {total}: this host has {host_gpus} GPU(s)", hint=f"pass --gpus {host_gpus} or --gpus all")
    step = request.per_worker or total
    if step < 1:
        raise UsageError("--gpus-per-worker must be at least 1")
    indexes = [str(i) for i in range(total)]
    return [tuple(indexes[i:i + step]) for i in range(0, total, step)]


def parse_mirror(value: str) -> Mirror:
    """`URL` mirrors docker.io; `REGISTRY=URL` mirrors another registry (ghcr.io=https://…)."""
    registry, sep, url = value.partition("=")
    if not sep:
        registry, url = "docker.io", value
    if not re.match(r"^https?://[^\s/]+", url) or not registry or "/" in registry:
        raise UsageError(f"--registry-mirror {value!r}: expected URL or REGISTRY=URL with an http(s) URL",
                         hint="e.g. --registry-mirror http://mirror.local:5000 or --registry-mirror ghcr.io=https://ghcr.example.com")
    return Mirror(registry, url.rstrip("/"))


def parse_duration(value: str) -> float:
    """kind's `--wait` style durations: 90, 90s, 5m, 1h30m -> seconds."""
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    match = _DURATION.fullmatch(text)
    if not text or not match or not any(match.groups()):
        raise UsageError(f"--wait {value!r}: expected a duration such as 90s, 5m or 1h", hint="e.g. --wait 5m")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def build_spec(*, name: str, node_image: str, workers: int, gpu_devices: list[tuple[str, ...]],
               mirrors: tuple[Mirror, ...] = (), certs_dir: Path | None = None) -> ClusterSpec:
    """Validated spec: GPU workers first (they take `<name>-worker`, `-worker2`, …), then CPU workers."""
    if not _NAME.match(name) or len(name) > 50:
        raise UsageError(f"--name {name!r}: a kind cluster name is lower-case letters, digits and '-'",
                         hint="e.g. --name kfboot-ci")
    if not _IMAGE.match(node_image):
        raise UsageError(f"--node-image {node_image!r} is not an image reference",
                         hint="e.g. kindest/node:v1.35.0@sha256:<digest>")
    if workers < 0:
        raise UsageError("--workers must be 0 or more")
    gpu = [Worker(devices) for devices in gpu_devices]
    cpu = [Worker() for _ in range(max(0, workers - len(gpu)))]
    if mirrors and certs_dir is None:
        raise UsageError("registry mirrors need a directory for containerd's hosts.toml files")
    return ClusterSpec(name, node_image, tuple(gpu + cpu), tuple(mirrors), certs_dir)


def render_config(spec: ClusterSpec) -> str:
    """The kind Cluster document (YAML) for `kind create cluster --config`."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)), trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                             autoescape=False)
    return env.get_template(TEMPLATE.name).render(
        name=spec.name, node_image=spec.node_image, workers=spec.workers, gpu_workers=spec.gpu_workers,
        mirrors=spec.mirrors, certs_dir=str(spec.certs_dir) if spec.certs_dir else "").rstrip("\n") + "\n"


def write_mirror_hosts(spec: ClusterSpec) -> list[Path]:
    """containerd's per-registry hosts.toml files in spec.certs_dir (mounted by every node)."""
    written = []
    for mirror in spec.mirrors:
        assert spec.certs_dir is not None
        path = spec.certs_dir / mirror.registry / "hosts.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(mirror.hosts_toml(), encoding="utf-8")
        written.append(path)
    return written
