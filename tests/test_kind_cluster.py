"""`kfboot cluster create|delete` with fake `kind` and `docker` executables on PATH (they log their argv)
and the fake API server standing in for the cluster kind would have created."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.config.catalog import load_catalog
from kfboot.kind import config as kc
from kfboot.kind import preflight as pf
from kfboot.kind.cluster import CreateRequest, create
from kfboot.kind.gpu_nodes import GpuNodeError

PINNED = load_catalog().kind.node_image
IGNORE_HOST_INOTIFY = "--ignore-preflight-errors=InotifyWatches,InotifyInstances"  # this host's /proc is not ours
DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"

FAKE_KIND = r'''
args = sys.argv[1:]
def opt(name):
    return args[args.index(name) + 1] if name in args else None
def clusters():
    p = state / "clusters"
    return p.read_text().split() if p.exists() else []
def export_kubeconfig():
    target = opt("--kubeconfig") or os.environ["KUBECONFIG"]
    shutil.copy(state / "kubeconfig", target)
if args == ["version"]:
    print((state / "kind-version").read_text().strip() if (state / "kind-version").exists()
          else "kind v0.31.0 go1.25.5 linux/amd64")
elif args == ["get", "clusters"]:
    if clusters():
        print("\n".join(clusters()))
    else:
        print("No kind clusters found.", file=sys.stderr)
elif args[:2] == ["get", "nodes"]:
    print((state / "nodes").read_text())
elif args[:2] == ["create", "cluster"]:
    shutil.copy(opt("--config"), state / "created-config.yaml")
    (state / "clusters").write_text("\n".join(clusters() + [opt("--name")]))
    export_kubeconfig()
    print("Creating cluster ...", file=sys.stderr)
elif args[:2] == ["export", "kubeconfig"]:
    export_kubeconfig()
elif args[:2] == ["delete", "cluster"]:
    (state / "clusters").write_text("\n".join(c for c in clusters() if c != opt("--name")))
    print(f'Deleting cluster "{opt("--name")}" ...', file=sys.stderr)
else:
    sys.exit(f"fake kind: unexpected {args}")
'''
FAKE_DOCKER = r'''
args = sys.argv[1:]
if args[:1] == ["info"]:
    info = state / "docker-info.json"
    if not info.exists():
        print(json.dumps({"ServerErrors": [DAEMON_DOWN], "NCPU": 0}))
        sys.exit(1)
    print(info.read_text())
elif args[:1] == ["inspect"]:
    status = json.loads((state / "node-status.json").read_text()) if (state / "node-status.json").exists() else {}
    for node in args[3:]:
        print(f"/{node} {status.get(node, 'running')}")
elif args[:1] == ["exec"]:
    command = args[2:]
    if command[0] == "cat":
        source = state / ("params" if command[1].endswith("params") else "mounts")
        if not source.exists():
            print(f"cat: {command[1]}: No such file or directory", file=sys.stderr)
            sys.exit(1)
        print(source.read_text(), end="")
    elif "nvidia-ctk --version" in command[-1]:
        print("NVIDIA Container Toolkit CLI version 1.18.1")
else:
    sys.exit(f"fake docker: unexpected {args}")
'''


def _write_fake(path: Path, body: str, state: Path) -> None:
    head = (f"#!{sys.executable}\nimport json, os, shutil, sys\nfrom pathlib import Path\n"
            f"state = Path({str(state)!r})\nDAEMON_DOWN = {DAEMON_DOWN!r}\n"
            "with open(state / 'calls.jsonl', 'a') as log:\n"
            f"    log.write(json.dumps([{path.name!r}, *sys.argv[1:]]) + '\\n')\n")
    path.write_text(head + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class Host:
    """The fake host: kind/docker on PATH, their state, and the kubeconfig kind would write."""

    def __init__(self, tmp_path: Path, fake_kube: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.state = tmp_path / "state"
        self.bin = tmp_path / "bin"
        self.state.mkdir()
        self.bin.mkdir()
        self.fk = fake_kube
        self.kubeconfig = tmp_path / "home-kubeconfig"
        _write_fake(self.bin / "kind", FAKE_KIND, self.state)
        _write_fake(self.bin / "docker", FAKE_DOCKER, self.state)
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}/usr/bin{os.pathsep}/bin")
        monkeypatch.setenv("KUBECONFIG", str(self.kubeconfig))
        monkeypatch.setenv("KFBOOT_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.delenv("KIND_CLUSTER_NAME", raising=False)
        for tool in ("KIND", "DOCKER"):
            monkeypatch.delenv(f"KFBOOT_{tool}", raising=False)
        (self.state / "docker-info.json").write_text(json.dumps(
            {"ServerVersion": "28.1.1", "NCPU": 16, "MemTotal": 64 * 1024**3, "DockerRootDir": str(tmp_path),
             "DefaultRuntime": "runc", "Runtimes": {"runc": {"path": "runc"}}}))
        self.cluster("kfboot")

    def cluster(self, name: str, nodes: int = 3, ready: bool = True) -> list[str]:
        self.fk.write_kubeconfig(self.state / "kubeconfig", context=f"kind-{name}")
        names = [f"{name}-control-plane"] + [f"{name}-worker" + (str(i + 1) if i else "") for i in range(nodes - 1)]
        for node in names:
            status = "True" if ready else "False"
            message = "kubelet is posting ready status" if ready else "container runtime network not ready: cni plugin not initialized"
            self.fk.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node},
                         "status": {"conditions": [{"type": "Ready", "status": status, "reason": "KubeletReady",
                                                    "message": message}]}})
        (self.state / "nodes").write_text("\n".join(names))
        return names

    def exists(self, name: str) -> None:
        (self.state / "clusters").write_text(name)

    def calls(self, tool: str | None = None) -> list[list[str]]:
        log = self.state / "calls.jsonl"
        rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return [r[1:] for r in rows if tool is None or r[0] == tool]


@pytest.fixture
def host(tmp_path: Path, fake_kube: Any, monkeypatch: pytest.MonkeyPatch) -> Host:
    return Host(tmp_path, fake_kube, monkeypatch)


def kfboot(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def events(stdout: str) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert all("event" in e for e in parsed)
    return parsed


def test_create_runs_exactly_these_commands_and_waits_for_nodes(host: Host) -> None:
    result = kfboot("-o", "json", "cluster", "create", IGNORE_HOST_INOTIFY)
    assert result.exit_code == 0, result.output
    kind_calls = host.calls("kind")
    assert kind_calls[:2] == [["version"], ["get", "clusters"]]
    create_call = kind_calls[2]
    assert create_call[:5] == ["create", "cluster", "--name", "kfboot", "--config"] and len(kind_calls) == 3
    assert create_call[6:] == ["--kubeconfig", str(host.kubeconfig)]  # $KUBECONFIG, as kfboot's --kubeconfig
    assert host.calls("docker") == [["info", "--format", "{{json .}}"]]
    created = (host.state / "created-config.yaml").read_text()
    spec = kc.build_spec(name="kfboot", node_image=PINNED, workers=2, gpu_devices=[])
    assert created == kc.render_config(spec)
    stream = events(result.stdout)
    checks = {e["check"]: e["status"] for e in stream if e["event"] == "preflight"}
    assert checks["Kind"] == checks["DockerDaemon"] == checks["KindVersion"] == "ok"
    assert checks["InotifyWatches"] in {"ok", "ignored"} and "NvidiaDriver" not in checks
    assert any(e["event"] == "progress" and e["message"] == "3/3 nodes Ready" for e in stream)
    summary = stream[-1]
    assert summary["event"] == "summary" and summary["ok"] and not summary["reused"]
    assert summary["context"] == "kind-kfboot" and summary["nodes"] == host.cluster("kfboot")
    assert yaml.safe_load(host.kubeconfig.read_text())["current-context"] == "kind-kfboot"


def test_create_passes_kubeconfig_and_options_through(host: Host, tmp_path: Path) -> None:
    other = tmp_path / "other-kubeconfig"
    host.cluster("ci", nodes=2)
    result = kfboot("--kubeconfig", str(other), "cluster", "create", "--name", "ci", "--workers", "1",
                    "--node-image", "kindest/node:v1.34.0", "--registry-mirror", "http://mirror.local:5000",
                    IGNORE_HOST_INOTIFY)
    assert result.exit_code == 0, result.output
    create_call = host.calls("kind")[-1]
    assert create_call[-2:] == ["--kubeconfig", str(other)] and create_call[:4] == ["create", "cluster", "--name", "ci"]
    doc = yaml.safe_load((host.state / "created-config.yaml").read_text())
    assert [n["image"] for n in doc["nodes"]] == ["kindest/node:v1.34.0"] * 2
    certs = tmp_path / "cache" / "kind" / "ci" / "certs.d"
    assert (certs / "docker.io" / "hosts.toml").read_text().startswith('server = "https://registry-1.docker.io"')
    assert "kind cluster ci created: 2 nodes Ready, context kind-ci" in result.stderr


def test_an_existing_cluster_is_checked_and_reused_not_recreated(host: Host) -> None:
    host.exists("kfboot")
    result = kfboot("-o", "json", "cluster", "create", IGNORE_HOST_INOTIFY)
    assert result.exit_code == 0, result.output
    nodes = ["kfboot-control-plane", "kfboot-worker", "kfboot-worker2"]
    assert host.calls("kind")[1:] == [["get", "clusters"], ["get", "nodes", "--name", "kfboot"],
                                      ["export", "kubeconfig", "--name", "kfboot", "--kubeconfig", str(host.kubeconfig)]]
    assert host.calls("docker")[1] == ["inspect", "--format", "{{.Name}} {{.State.Status}}", *nodes]
    summary = events(result.stdout)[-1]
    assert summary["reused"] is True and summary["nodes"] == nodes
    assert not [e for e in events(result.stdout) if e["event"] == "warning"]


def test_reusing_a_cluster_of_another_size_says_it_is_not_resized(host: Host) -> None:
    host.exists("kfboot")
    result = kfboot("cluster", "create", "--workers", "4", IGNORE_HOST_INOTIFY)
    assert result.exit_code == 0, result.output
    assert "warning: kind cluster kfboot has 3 nodes, the options ask for 5; kind clusters cannot be resized" \
        in result.stderr


def test_an_existing_cluster_with_a_stopped_node_is_not_used(host: Host) -> None:
    host.exists("kfboot")
    (host.state / "node-status.json").write_text(json.dumps({"kfboot-worker": "exited"}))
    result = kfboot("cluster", "create", IGNORE_HOST_INOTIFY)
    assert result.exit_code == 1
    assert "not all of its nodes are running: kfboot-worker (exited)" in result.stderr
    assert "docker start kfboot-control-plane kfboot-worker kfboot-worker2" in result.stderr
    assert ["create", "cluster"] not in [c[:2] for c in host.calls("kind")]


def test_nodes_that_never_get_ready_time_out_naming_the_node(host: Host) -> None:
    host.cluster("kfboot", ready=False)
    result = kfboot("cluster", "create", "--wait", "1s", IGNORE_HOST_INOTIFY)
    assert result.exit_code == 3
    assert "timed out waiting for every node to be Ready: 0/3 nodes Ready; kfboot-control-plane: container " \
           "runtime network not ready" in result.stderr


@pytest.mark.parametrize(("prepare", "check", "message"), [
    (lambda h: (h.bin / "kind").unlink(), "Kind", "kind is not installed"),
    (lambda h: (h.state / "kind-version").write_text("kind v0.29.0 go1.24.2 linux/amd64"), "KindVersion",
     "kind v0.29.0 is older than v0.31.0"),
    (lambda h: (h.bin / "docker").unlink(), "Docker", "docker is not installed"),
    (lambda h: (h.state / "docker-info.json").unlink(), "DockerDaemon", f"cannot reach the Docker daemon: {DAEMON_DOWN}"),
])
def test_preflight_failures_stop_before_kind_runs(host: Host, prepare: Any, check: str, message: str) -> None:
    prepare(host)
    result = kfboot("-o", "json", "cluster", "create", IGNORE_HOST_INOTIFY)
    assert result.exit_code == 2
    error = events(result.stdout)[-1]
    assert error["event"] == "error" and error["exitCode"] == 2
    assert f"[{check}] {message}" in error["message"]
    assert f"--ignore-preflight-errors={check}" in error["hint"]
    assert f"error: preflight: 1 check(s) failed\n  [{check}] {message}" in result.stderr
    assert ["create", "cluster"] not in [c[:2] for c in host.calls("kind")]


def test_ignored_failures_are_reported_and_creation_goes_on(host: Host) -> None:
    (host.state / "kind-version").write_text("kind v0.29.0 go1.24.2 linux/amd64")
    result = kfboot("cluster", "create", "--ignore-preflight-errors=KindVersion,InotifyWatches,InotifyInstances")
    assert result.exit_code == 0, result.output
    assert "KindVersion        kind v0.29.0 is older than v0.31.0, the oldest that runs this node image (ignored)" \
        in result.stderr


def test_unknown_ignored_check_is_a_usage_error(host: Host) -> None:
    result = kfboot("cluster", "create", "--ignore-preflight-errors=Swap")
    assert result.exit_code == 2 and "unknown check(s) Swap" in result.stderr and host.calls() == []


def test_dry_run_checks_and_prints_config_but_creates_nothing(host: Host) -> None:
    result = kfboot("cluster", "create", "--dry-run", IGNORE_HOST_INOTIFY)
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["kind"] == "Cluster"
    assert host.calls("kind") == [["version"]]


def test_config_prints_the_document_and_runs_nothing(host: Host) -> None:
    result = kfboot("cluster", "config", "--name", "ci", "--gpus", "2")
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.stdout)
    assert doc["name"] == "ci" and doc["nodes"][1]["extraMounts"][1]["containerPath"] == "/var/run/nvidia-container-devices/1"
    assert host.calls() == []
    as_json = events(kfboot("-o", "json", "cluster", "config").stdout)
    assert [e["event"] for e in as_json] == ["config", "summary"] and as_json[0]["context"] == "kind-kfboot"


def test_delete_is_idempotent(host: Host) -> None:
    host.exists("kfboot")
    first = kfboot("-o", "json", "cluster", "delete")
    assert first.exit_code == 0 and events(first.stdout)[-1]["deleted"] is True
    assert host.calls("kind") == [["get", "clusters"],
                                  ["delete", "cluster", "--name", "kfboot", "--kubeconfig", str(host.kubeconfig)]]
    second = kfboot("cluster", "delete")
    assert second.exit_code == 0 and "no kind cluster named kfboot: nothing to delete" in second.stderr
    assert host.calls("kind")[2:] == [["get", "clusters"]]


# -- GPUs: host facts from a directory standing in for / -------------------------------------------
def gpu_root(tmp_path: Path, gpus: int = 2) -> Path:
    root = tmp_path / "root"
    (root / "proc/driver/nvidia/gpus").mkdir(parents=True)
    (root / "proc/driver/nvidia/version").write_text(
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.126.20  Release Build\n")
    for i in range(gpus):
        (root / f"proc/driver/nvidia/gpus/0000:{i + 1:02x}:00.0").mkdir()
    (root / "proc/sys/fs/inotify").mkdir(parents=True)
    (root / "proc/sys/fs/inotify/max_user_watches").write_text("1255360\n")
    (root / "proc/sys/fs/inotify/max_user_instances").write_text("2280\n")
    (root / "etc/nvidia-container-runtime").mkdir(parents=True)
    (root / "etc/nvidia-container-runtime/config.toml").write_text(
        "accept-nvidia-visible-devices-as-volume-mounts = true\n\n[nvidia-container-cli]\nload-kmods = true\n")
    return root


def gpu_request(host_root: Path, gpus: str, per_worker: int | None = None) -> CreateRequest:
    catalog = load_catalog()
    request = kc.parse_gpus(gpus, per_worker)
    wanted = request.count or 0
    from kfboot.config.platform import Platform

    return CreateRequest(name="kfboot", node_image=PINNED, workers=2, gpus=request, mirrors=(), certs_dir=None,
                         requirements=pf.requirements_for(Platform(), catalog, gpus=wanted, node_image=PINNED),
                         ignored=frozenset(), wait=30, host_root=host_root)


def nvidia_docker(host: Host) -> None:
    info = json.loads((host.state / "docker-info.json").read_text())
    info.update(DefaultRuntime="nvidia", Runtimes={"runc": {"path": "runc"}, "nvidia": {"path": "nvidia-container-runtime"}})
    (host.state / "docker-info.json").write_text(json.dumps(info))


def test_gpu_nodes_get_toolkit_containerd_masking_and_a_runtime_class(host: Host, tmp_path: Path) -> None:
    nvidia_docker(host)
    (host.state / "params").write_text("ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\n")
    (host.state / "mounts").write_text("overlay / overlay rw 0 0\nproc /proc proc rw 0 0\n")
    seen: list[dict[str, Any]] = []
    summary = create(gpu_request(gpu_root(tmp_path, gpus=2), "2", per_worker=1), seen.append)
    assert summary["gpuNodes"] == {"kfboot-worker": {"gpus": ["0"], "procDriverNvidia": "mask"},
                                   "kfboot-worker2": {"gpus": ["1"], "procDriverNvidia": "mask"}}
    execs = [c for c in host.calls("docker") if c[0] == "exec"]
    per_node = [[c[1], *c[2:4]] for c in execs]
    assert per_node[:5] == [["kfboot-worker", "bash", "-c"], ["kfboot-worker", "bash", "-c"],
                            ["kfboot-worker", "cat", "/proc/driver/nvidia/params"],
                            ["kfboot-worker", "cat", "/proc/mounts"], ["kfboot-worker", "bash", "-c"]]
    scripts = [c[4] for c in execs if c[1] == "kfboot-worker" and c[2] == "bash"]
    assert "apt-get install -y -q nvidia-container-toolkit" in scripts[0]
    assert "nvidia-ctk runtime configure --runtime=containerd --config-source=command" in scripts[1]
    assert "umount" not in scripts[2] and "mount --bind /root/gpu-params /proc/driver/nvidia/params" in scripts[2]
    assert scripts[3].splitlines()[1].endswith("rm -f /dev/nvidia1")  # worker has GPU 0 only
    assert host.fk.get("node.k8s.io/v1", "RuntimeClass", "nvidia")["handler"] == "nvidia"
    assert any("host toolkit 1.18 changed this" in e.get("message", "") for e in seen)


def test_gpu_node_without_injected_gpus_is_explained(host: Host, tmp_path: Path) -> None:
    nvidia_docker(host)
    (host.state / "mounts").write_text("overlay / overlay rw 0 0\n")
    with pytest.raises(GpuNodeError, match="the host runtime injected no GPU into it"):
        create(gpu_request(gpu_root(tmp_path), "all"), lambda _e: None)
    assert host.fk.get("node.k8s.io/v1", "RuntimeClass", "nvidia") is None


def test_gpu_host_without_nvidia_runtime_stops_in_preflight(host: Host, tmp_path: Path) -> None:
    with pytest.raises(pf.PreflightFailed) as err:
        create(gpu_request(gpu_root(tmp_path), "all"), lambda _e: None)
    assert "[NvidiaRuntime] Docker has no `nvidia` runtime" in err.value.message
    assert "nvidia-ctk runtime configure --runtime=docker --set-as-default" in (err.value.hint or "")
    assert ["create", "cluster"] not in [c[:2] for c in host.calls("kind")]


def test_gpu_host_without_driver_stops_in_preflight(host: Host, tmp_path: Path) -> None:
    nvidia_docker(host)
    root = gpu_root(tmp_path)
    (root / "proc/driver/nvidia/version").unlink()
    with pytest.raises(pf.PreflightFailed, match=r"\[NvidiaDriver\] no NVIDIA driver is loaded"):
        create(gpu_request(root, "all"), lambda _e: None)


def test_reused_gpu_cluster_with_runtime_class_is_not_set_up_again(host: Host, tmp_path: Path) -> None:
    nvidia_docker(host)
    host.exists("kfboot")
    host.fk.put({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"},
                 "handler": "nvidia"})
    summary = create(gpu_request(gpu_root(tmp_path), "all"), lambda _e: None)
    assert summary["reused"] and summary["gpuNodes"] == {}
    assert not [c for c in host.calls("docker") if c[0] == "exec"]
