"""Gathering what preflight judges: tools (through kfboot.tools), `docker info`, /proc and /etc files.

Nothing here decides anything; preflight.py does. `root` lets the host's files be read from another
directory (a chroot, or a test's tmp_path).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from kfboot import tools
from kfboot.kind.preflight import HostFacts


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def mem_available(meminfo: str | None) -> int | None:
    """MemAvailable from /proc/meminfo, in bytes."""
    for line in (meminfo or "").splitlines():
        if line.startswith("MemAvailable:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024
    return None


def docker_info() -> tuple[dict[str, Any], str | None]:
    """`docker info` as JSON, or the reason the daemon could not be reached."""
    result = tools.run("docker", ["info", "--format", "{{json .}}"], timeout=30, check=False)
    text = result.stdout.strip()
    info: dict[str, Any] = {}
    if text:
        try:
            parsed = json.loads(text)
            info = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            info = {}
    if result.returncode != 0 or not info.get("ServerVersion"):
        errors = info.get("ServerErrors") if isinstance(info.get("ServerErrors"), list) else []
        detail = "; ".join(map(str, errors)) or result.stderr.strip() or f"`docker info` exited {result.returncode}"
        return info, detail.splitlines()[0] if detail else detail
    return info, None


def gather(*, gpus: bool = False, root: Path = Path("/")) -> HostFacts:
    kind_path = docker_path = None
    kind_version = None
    try:
        kind_path = tools.find("kind")
        kind_version = tools.version("kind")
    except tools.ToolMissing:
        pass
    info: dict[str, Any] = {}
    docker_error: str | None = None
    try:
        docker_path = tools.find("docker")
        info, docker_error = docker_info()
    except tools.ToolMissing:
        pass
    except tools.ToolFailed as exc:
        docker_error = exc.message
    inotify = {}
    for key in ("max_user_watches", "max_user_instances"):
        value = _int(_read(root / "proc/sys/fs/inotify" / key))
        if value is not None:
            inotify[key] = value
    mem = mem_available(_read(root / "proc/meminfo"))
    docker_mem = info.get("MemTotal") if docker_error is None else None
    if isinstance(docker_mem, int) and docker_mem > 0:
        # Docker Desktop runs containers in a VM: its memory is all kind can use
        mem = docker_mem if mem is None else min(mem, docker_mem)
    disk = None
    docker_root = info.get("DockerRootDir") if docker_error is None else None
    if isinstance(docker_root, str) and docker_root:
        local = root / docker_root.lstrip("/")
        probe = local if local.exists() else local.parent
        if probe.exists():
            try:
                disk = shutil.disk_usage(probe).free
            except OSError:
                disk = None
    driver = gpu_count = toolkit = None
    if gpus:
        version = _read(root / "proc/driver/nvidia/version")
        driver = version.splitlines()[0].strip() if version and version.strip() else None
        gpu_dir = root / "proc/driver/nvidia/gpus"
        gpu_count = len(list(gpu_dir.iterdir())) if gpu_dir.is_dir() else (0 if driver else None)
        toolkit = _read(root / "etc/nvidia-container-runtime/config.toml")
    return HostFacts(kind_path=kind_path, kind_version=kind_version, docker_path=docker_path,
                     docker_error=docker_error, docker_info=info, inotify=inotify, mem_available=mem,
                     disk_free=disk, nvidia_driver=driver, host_gpus=gpu_count, toolkit_config=toolkit)
