"""Preflight for kind clusters: pure rules over facts gathered from the host (facts.py).

Each check has a kubeadm-style name, a verdict and the exact fix. An error stops `cluster create`
unless named in `--ignore-preflight-errors=NAME,…|all` (kubeadm's convention; names are
case-insensitive), and is then reported as ignored. Warnings (resources below the enabled stack's
footprint) never stop anything; they say what a smaller platform would need.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kfboot.config.catalog import Footprint
from kfboot.errors import EXIT_USAGE, KfbootError, UsageError

GIB = 1024**3
# kubeflow/manifests' documented node limits; without Kubeflow, kind's own known-issues values
KUBEFLOW_INOTIFY = {"max_user_watches": 1255360, "max_user_instances": 2280}
KIND_INOTIFY = {"max_user_watches": 524288, "max_user_instances": 512}
TOOLS_KIND_FLOOR = (0, 27)  # kfboot.tools' floor for kind; the pinned node image needs the pinned release
VOLUME_MOUNTS_KEY = "accept-nvidia-visible-devices-as-volume-mounts"

CHECKS = ("Kind", "KindVersion", "Docker", "DockerDaemon", "InotifyWatches", "InotifyInstances",
          "NumCPU", "Mem", "DiskSpace", "NvidiaDriver", "NvidiaRuntime", "NvidiaVolumeMounts")
# components that nothing else needs, heaviest first: what to drop when the host is too small
DROPPABLE = ("kubeflow", "kserve", "kuberay", "gpu-operator")


class PreflightFailed(KfbootError):
    """A preflight check failed and was not ignored (an environment problem: exit 2)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None, results: list[CheckResult]) -> None:
        super().__init__(message, hint=hint)
        self.results = results


@dataclass(frozen=True)
class HostFacts:
    """What preflight looks at; None means "could not be found out" (the check is skipped)."""

    kind_path: str | None = None
    kind_version: tuple[int, ...] | None = None
    docker_path: str | None = None
    docker_error: str | None = None  # `docker info` failed: the daemon is not reachable
    docker_info: dict[str, Any] = field(default_factory=dict)
    inotify: dict[str, int] = field(default_factory=dict)  # max_user_watches, max_user_instances
    mem_available: int | None = None  # bytes the host can still give (MemAvailable), else Docker's MemTotal
    disk_free: int | None = None  # bytes free where Docker keeps images and containers
    nvidia_driver: str | None = None  # /proc/driver/nvidia/version first line
    host_gpus: int | None = None
    toolkit_config: str | None = None  # /etc/nvidia-container-runtime/config.toml


@dataclass(frozen=True)
class Requirements:
    footprint: Footprint
    components: tuple[str, ...]  # enabled, for the suggestion
    component_footprints: dict[str, Footprint]
    base: Footprint
    kubeflow: bool
    min_kind: tuple[int, ...]
    kind_release: str
    gpus: int | None = None  # GPUs wanted (0 = `all`), None = no GPUs


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # ok | warning | error | ignored | skipped
    message: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"event": "preflight", "check": self.name, "status": self.status, "message": self.message}
        if self.fix:
            out["fix"] = self.fix
        return out


def parse_ignored(value: str | None) -> frozenset[str]:
    """`--ignore-preflight-errors` as canonical names; `all` ignores every check."""
    if not value:
        return frozenset()
    names = [n.strip() for n in value.split(",") if n.strip()]
    lowered = {c.lower(): c for c in CHECKS}
    if any(n.lower() == "all" for n in names):
        if len(names) > 1:
            raise UsageError("--ignore-preflight-errors: don't name checks together with `all`")
        return frozenset(CHECKS)
    unknown = [n for n in names if n.lower() not in lowered]
    if unknown:
        raise UsageError(f"--ignore-preflight-errors: unknown check(s) {', '.join(unknown)}",
                         hint="known checks: " + ", ".join(CHECKS) + " (or all)")
    return frozenset(lowered[n.lower()] for n in names)


def _version(v: Sequence[int]) -> str:
    return "v" + ".".join(map(str, v))


def _tools(facts: HostFacts, req: Requirements) -> list[CheckResult]:
    out: list[CheckResult] = []
    install_kind = (f"install kind {req.kind_release}: curl -fsSLo kind https://kind.sigs.k8s.io/dl/{req.kind_release}/"
                    "kind-linux-amd64 && chmod +x kind && sudo mv kind /usr/local/bin/ (or set KFBOOT_KIND)")
    if facts.kind_path is None:
        out.append(CheckResult("Kind", "error", "kind is not installed (not found on PATH or $KFBOOT_KIND)", install_kind))
    else:
        out.append(CheckResult("Kind", "ok", f"kind at {facts.kind_path}"))
        if facts.kind_version is None:
            out.append(CheckResult("KindVersion", "warning", "`kind version` printed no version; assuming it is recent"))
        elif facts.kind_version[: len(req.min_kind)] < req.min_kind:
            out.append(CheckResult(
                "KindVersion", "error",
                f"kind {_version(facts.kind_version)} is older than {_version(req.min_kind)}, the oldest that runs "
                "this node image", install_kind))
        else:
            out.append(CheckResult("KindVersion", "ok", f"kind {_version(facts.kind_version)} (pinned: {req.kind_release})"))
    if facts.docker_path is None:
        out.append(CheckResult("Docker", "error", "docker is not installed (not found on PATH or $KFBOOT_DOCKER)",
                               "install Docker Engine: https://docs.docker.com/engine/install/"))
        return out
    out.append(CheckResult("Docker", "ok", f"docker at {facts.docker_path}"))
    if facts.docker_error is not None:
        out.append(CheckResult(
            "DockerDaemon", "error", f"cannot reach the Docker daemon: {facts.docker_error}",
            "start it (`sudo systemctl start docker`) and make sure you may use it "
            "(`sudo usermod -aG docker $USER`, then log in again); `docker info` must work"))
    else:
        version = facts.docker_info.get("ServerVersion", "?")
        out.append(CheckResult("DockerDaemon", "ok", f"Docker {version} is reachable"))
    return out


def _inotify(facts: HostFacts, req: Requirements) -> list[CheckResult]:
    want = KUBEFLOW_INOTIFY if req.kubeflow else KIND_INOTIFY
    why = "Kubeflow needs" if req.kubeflow else "kind nodes need"
    out = []
    for key, name in (("max_user_watches", "InotifyWatches"), ("max_user_instances", "InotifyInstances")):
        have = facts.inotify.get(key)
        if have is None:
            out.append(CheckResult(name, "skipped", f"fs.inotify.{key} is unknown on this host"))
        elif have < want[key]:
            fix = (f"sudo sysctl -w fs.inotify.{key}={want[key]}  # and, to keep it after reboots: "
                   f"echo 'fs.inotify.{key}={want[key]}' | sudo tee /etc/sysctl.d/99-kfboot.conf -a")
            out.append(CheckResult(
                name, "error", f"fs.inotify.{key} is {have}; {why} at least {want[key]} "
                "(otherwise pods crash-loop with \"too many open files\")", fix))
        else:
            out.append(CheckResult(name, "ok", f"fs.inotify.{key} is {have}"))
    return out


def _fits(total: Footprint, cpus: float | None, mem: float | None, disk: float | None) -> bool:
    return ((cpus is None or total.cpus <= cpus) and (mem is None or total.memory_gib <= mem)
            and (disk is None or total.disk_gib <= disk))


def suggest_smaller(req: Requirements, cpus: float | None, mem: float | None, disk: float | None) -> str:
    """Which leaf components to disable so the stack fits (or what the smallest stack needs)."""
    kept = list(req.components)
    dropped: list[str] = []
    for name in DROPPABLE:
        if name not in kept:
            continue
        kept.remove(name)
        dropped.append(name)
        total = req.base
        for k in kept:
            total = total + req.component_footprints.get(k, Footprint())
        if _fits(total, cpus, mem, disk):
            return (f"a smaller platform fits: disable {', '.join(dropped)} in kfboot.yaml "
                    f"(`components.<name>.enabled: false`; then it needs about {total.cpus:g} CPUs, "
                    f"{total.memory_gib:g} GiB memory, {total.disk_gib:g} GiB disk)")
    return "use a bigger machine (or give Docker Desktop more CPUs/memory); even the smallest platform will not fit"


def _resources(facts: HostFacts, req: Requirements) -> list[CheckResult]:
    need = req.footprint
    info = facts.docker_info
    reachable = facts.docker_error is None
    cpus = float(info["NCPU"]) if reachable and isinstance(info.get("NCPU"), int) and info["NCPU"] > 0 else None
    mem = facts.mem_available / GIB if facts.mem_available is not None else None
    disk = facts.disk_free / GIB if facts.disk_free is not None else None
    suggestion = suggest_smaller(req, cpus, mem, disk)
    out = []
    for name, have, want, unit, what in (
        ("NumCPU", cpus, need.cpus, "", "CPUs"),
        ("Mem", mem, need.memory_gib, " GiB", "memory available"),
        ("DiskSpace", disk, need.disk_gib, " GiB", "disk free for Docker"),
    ):
        if have is None:
            out.append(CheckResult(name, "skipped", f"{what} is unknown (the Docker daemon was not reachable "
                                   "or keeps its data elsewhere)"))
        elif have < want:
            out.append(CheckResult(name, "warning", f"{what}: {have:.1f}{unit}; the enabled stack needs about "
                                   f"{want:g}{unit}", suggestion))
        else:
            out.append(CheckResult(name, "ok", f"{what}: {have:.1f}{unit} (needs about {want:g}{unit})"))
    return out


def _gpus(facts: HostFacts, req: Requirements) -> list[CheckResult]:
    if req.gpus is None:
        return []
    out = []
    if facts.nvidia_driver is None:
        out.append(CheckResult("NvidiaDriver", "error", "no NVIDIA driver is loaded on this host "
                               "(/proc/driver/nvidia/version does not exist)",
                               "install the NVIDIA driver (e.g. `sudo ubuntu-drivers install`), reboot, "
                               "and check `nvidia-smi -L` lists the GPUs"))
    elif facts.host_gpus is not None and req.gpus > facts.host_gpus:
        out.append(CheckResult("NvidiaDriver", "error", f"{req.gpus} GPU(s) requested, the host has "
                               f"{facts.host_gpus}", f"pass --gpus {facts.host_gpus} or --gpus all"))
    else:
        gpus = f", {facts.host_gpus} GPU(s)" if facts.host_gpus is not None else ""
        out.append(CheckResult("NvidiaDriver", "ok", f"NVIDIA driver loaded ({facts.nvidia_driver}){gpus}"))
    runtimes = facts.docker_info.get("Runtimes") or {}
    default = facts.docker_info.get("DefaultRuntime")
    configure = ("sudo nvidia-ctk runtime configure --runtime=docker --set-as-default && "
                 "sudo systemctl restart docker")
    if facts.docker_error is not None or not facts.docker_info:
        out.append(CheckResult("NvidiaRuntime", "skipped", "Docker's runtimes are unknown (daemon not reachable)"))
    elif "nvidia" not in runtimes:
        out.append(CheckResult("NvidiaRuntime", "error", "Docker has no `nvidia` runtime: the NVIDIA Container "
                               "Toolkit is not installed or not configured for Docker",
                               "install nvidia-container-toolkit (https://docs.nvidia.com/datacenter/cloud-native/"
                               f"container-toolkit/latest/install-guide.html), then {configure}"))
    elif default != "nvidia":
        out.append(CheckResult("NvidiaRuntime", "error", f"Docker's default runtime is {default!r}, not `nvidia`: "
                               "kind cannot ask for a runtime, so its nodes would get no GPUs", configure))
    else:
        out.append(CheckResult("NvidiaRuntime", "ok", "Docker's default runtime is nvidia"))
    set_flag = (f"sudo nvidia-ctk config --set {VOLUME_MOUNTS_KEY}=true --in-place && sudo systemctl restart docker")
    if facts.toolkit_config is None:
        out.append(CheckResult("NvidiaVolumeMounts", "error", "/etc/nvidia-container-runtime/config.toml does not "
                               "exist: the NVIDIA Container Toolkit is not installed", f"install it, then {set_flag}"))
    elif toolkit_flag(facts.toolkit_config, VOLUME_MOUNTS_KEY) is not True:
        out.append(CheckResult("NvidiaVolumeMounts", "error", f"the toolkit does not accept GPUs as volume mounts "
                               f"({VOLUME_MOUNTS_KEY} is not true), so /dev/null mounts cannot give kind nodes GPUs",
                               set_flag))
    else:
        out.append(CheckResult("NvidiaVolumeMounts", "ok", f"{VOLUME_MOUNTS_KEY} = true"))
    return out


def toolkit_flag(config_toml: str, key: str) -> bool | None:
    """A top-level boolean of the toolkit's config.toml (commented lines don't count)."""
    for line in config_toml.splitlines():
        text = line.split("#", 1)[0].strip()
        if text.startswith("["):
            break  # top-level keys come before the first table
        name, sep, value = text.partition("=")
        if sep and name.strip() == key:
            return value.strip().lower() == "true"
    return None


def evaluate(facts: HostFacts, req: Requirements, ignored: Iterable[str] = ()) -> list[CheckResult]:
    """Every check's verdict; ignored errors become `ignored` (kept, so they are reported)."""
    skip = set(ignored)
    results = _tools(facts, req) + _inotify(facts, req) + _resources(facts, req) + _gpus(facts, req)
    return [replace(r, status="ignored") if r.status == "error" and r.name in skip else r for r in results]


def raise_on_errors(results: list[CheckResult]) -> None:
    errors = [r for r in results if r.status == "error"]
    if not errors:
        return
    lines = [f"preflight: {len(errors)} check(s) failed"] + [f"[{r.name}] {r.message}" for r in errors]
    fixes = [f"[{r.name}] {r.fix}" for r in errors if r.fix]
    hint = "\n".join([*fixes, "to go ahead anyway: --ignore-preflight-errors=" + ",".join(r.name for r in errors)])
    raise PreflightFailed("\n".join(lines), hint=hint, results=results)


def requirements_for(platform: Any, catalog: Any, *, gpus: int | None, node_image: str) -> Requirements:
    """What the enabled stack needs, from the catalog's footprints (pure: Platform + Catalog in)."""
    pins = catalog.kind
    enabled = tuple(name for name in catalog.components
                    if (c := platform.components.get(name)) is not None and c.enabled)
    total = pins.footprint.base
    for name in enabled:
        total = total + pins.footprint.components.get(name, Footprint())
    pinned_image = node_image == pins.node_image
    parsed = tuple(int(p) for p in pins.version.lstrip("v").split("."))
    return Requirements(footprint=total, components=enabled, component_footprints=dict(pins.footprint.components),
                        base=pins.footprint.base, kubeflow="kubeflow" in enabled,
                        min_kind=parsed if pinned_image else TOOLS_KIND_FLOOR, kind_release=pins.version, gpus=gpus)
