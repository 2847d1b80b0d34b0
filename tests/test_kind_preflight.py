"""Preflight rules for kind clusters: every failure says what is wrong and the exact fix; ignoring works
the kubeadm way; resources below the enabled stack's footprint warn and suggest a smaller platform."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from kfboot.config.catalog import load_catalog
from kfboot.config.platform import Platform
from kfboot.errors import EXIT_USAGE, UsageError
from kfboot.kind import preflight as pf
from kfboot.kind.gpu_nodes import proc_driver_action, prune_devices_script

CATALOG = load_catalog()
GIB = 1024**3
DOCKER_INFO = {"ServerVersion": "28.1.1", "NCPU": 16, "MemTotal": 64 * GIB, "DockerRootDir": "/var/lib/docker",
               "DefaultRuntime": "nvidia", "Runtimes": {"io.containerd.runc.v2": {"path": "runc"},
                                                        "nvidia": {"path": "nvidia-container-runtime"},
                                                        "runc": {"path": "runc"}}}
# /etc/nvidia-container-runtime/config.toml after `nvidia-ctk config --set …=true --in-place`
TOOLKIT_CONFIG = """accept-nvidia-visible-devices-as-volume-mounts = true
#accept-nvidia-visible-devices-envvar-when-unprivileged = true
disable-require = false
supported-driver-capabilities = "compat32,compute,display,graphics,ngx,utility,video"

[nvidia-container-cli]
environment = []
ldconfig = "@/sbin/ldconfig"
load-kmods = true

[nvidia-container-runtime]
log-level = "info"
mode = "auto"
runtimes = ["runc", "crun"]
"""
GOOD = pf.HostFacts(kind_path="/usr/local/bin/kind", kind_version=(0, 31, 0), docker_path="/usr/bin/docker",
                    docker_info=DOCKER_INFO, inotify={"max_user_watches": 1255360, "max_user_instances": 2280},
                    mem_available=60 * GIB, disk_free=200 * GIB,
                    nvidia_driver="NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.126.20", host_gpus=8,
                    toolkit_config=TOOLKIT_CONFIG)


def requirements(platform: Platform | None = None, *, gpus: int | None = None, image: str | None = None) -> pf.Requirements:
    return pf.requirements_for(platform or Platform(), CATALOG, gpus=gpus, node_image=image or CATALOG.kind.node_image)


def by_name(results: list[pf.CheckResult]) -> dict[str, pf.CheckResult]:
    return {r.name: r for r in results}


def failing(facts: pf.HostFacts, req: pf.Requirements | None = None, ignored: Any = ()) -> pf.PreflightFailed:
    with pytest.raises(pf.PreflightFailed) as err:
        pf.raise_on_errors(pf.evaluate(facts, req or requirements(), ignored))
    assert err.value.exit_code == EXIT_USAGE
    return err.value


def test_a_good_host_passes_every_check() -> None:
    results = pf.evaluate(GOOD, requirements(gpus=0))
    assert {r.status for r in results} == {"ok"}
    assert set(by_name(results)) == set(pf.CHECKS)
    pf.raise_on_errors(results)


def test_full_platform_footprint_is_upstreams_16gb_8cpus() -> None:
    req = requirements()
    assert (req.footprint.cpus, req.footprint.memory_gib) == (8, 16)
    assert req.kubeflow and req.min_kind == (0, 31, 0)


@pytest.mark.parametrize(("facts", "check", "message", "fix"), [
    (replace(GOOD, kind_path=None, kind_version=None), "Kind", "kind is not installed",
     "https://kind.sigs.k8s.io/dl/v0.31.0/kind-linux-amd64"),
    (replace(GOOD, kind_version=(0, 29, 0)), "KindVersion", "kind v0.29.0 is older than v0.31.0",
     "install kind v0.31.0"),
    (replace(GOOD, docker_path=None, docker_info={}), "Docker", "docker is not installed",
     "https://docs.docker.com/engine/install/"),
    (replace(GOOD, docker_error="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
             "Is the docker daemon running?", docker_info={}), "DockerDaemon",
     "cannot reach the Docker daemon: Cannot connect to the Docker daemon", "sudo systemctl start docker"),
    (replace(GOOD, inotify={"max_user_watches": 65536, "max_user_instances": 2280}), "InotifyWatches",
     "fs.inotify.max_user_watches is 65536; Kubeflow needs at least 1255360",
     "sudo sysctl -w fs.inotify.max_user_watches=1255360"),
    (replace(GOOD, inotify={"max_user_watches": 1255360, "max_user_instances": 128}), "InotifyInstances",
     "too many open files", "sudo sysctl -w fs.inotify.max_user_instances=2280"),
])
def test_each_failure_names_the_check_and_its_fix(facts: pf.HostFacts, check: str, message: str, fix: str) -> None:
    err = failing(facts)
    assert f"[{check}] " in err.message and message in err.message
    assert fix in (err.hint or "")
    assert f"--ignore-preflight-errors={check}" in (err.hint or "")
    assert by_name(err.results)[check].status == "error"


def test_a_custom_node_image_only_needs_kfboots_kind_floor() -> None:
    results = by_name(pf.evaluate(replace(GOOD, kind_version=(0, 29, 0)), requirements(image="kindest/node:v1.33.1")))
    assert results["KindVersion"].status == "ok"


def test_without_kubeflow_kinds_own_inotify_limits_apply() -> None:
    small = Platform.model_validate({"components": {"kubeflow": {"enabled": False}}})
    facts = replace(GOOD, inotify={"max_user_watches": 524288, "max_user_instances": 512})
    assert by_name(pf.evaluate(facts, requirements(small)))["InotifyWatches"].status == "ok"
    assert by_name(pf.evaluate(facts, requirements()))["InotifyWatches"].status == "error"


def test_small_host_warns_and_suggests_a_smaller_platform() -> None:
    facts = replace(GOOD, docker_info={**DOCKER_INFO, "NCPU": 4}, mem_available=14 * GIB, disk_free=20 * GIB)
    results = by_name(pf.evaluate(facts, requirements()))
    for name in ("NumCPU", "Mem", "DiskSpace"):
        assert results[name].status == "warning"
    assert results["NumCPU"].message == "CPUs: 4.0; the enabled stack needs about 8"
    assert results["Mem"].fix == ("a smaller platform fits: disable kubeflow, kserve in kfboot.yaml "
                                  "(`components.<name>.enabled: false`; then it needs about 3.5 CPUs, "
                                  "6 GiB memory, 18 GiB disk)")
    pf.raise_on_errors(list(results.values()))  # warnings never stop anything


def test_a_tiny_host_is_told_to_grow() -> None:
    facts = replace(GOOD, docker_info={**DOCKER_INFO, "NCPU": 1}, mem_available=1 * GIB)
    assert "use a bigger machine" in by_name(pf.evaluate(facts, requirements()))["Mem"].fix


def test_unknown_resources_are_skipped_not_guessed() -> None:
    facts = replace(GOOD, docker_error="daemon down", docker_info={"NCPU": 0}, mem_available=None, disk_free=None)
    results = by_name(pf.evaluate(facts, requirements(), {"DockerDaemon"}))
    assert [results[n].status for n in ("NumCPU", "Mem", "DiskSpace")] == ["skipped"] * 3


@pytest.mark.parametrize(("facts", "gpus", "check", "message", "fix"), [
    (replace(GOOD, nvidia_driver=None, host_gpus=None), 0, "NvidiaDriver", "no NVIDIA driver is loaded", "nvidia-smi -L"),
    (replace(GOOD, host_gpus=2), 4, "NvidiaDriver", "4 GPU(s) requested, the host has 2", "--gpus 2"),
    (replace(GOOD, docker_info={**DOCKER_INFO, "Runtimes": {"runc": {}}, "DefaultRuntime": "runc"}), 0,
     "NvidiaRuntime", "Docker has no `nvidia` runtime",
     "sudo nvidia-ctk runtime configure --runtime=docker --set-as-default && sudo systemctl restart docker"),
    (replace(GOOD, docker_info={**DOCKER_INFO, "DefaultRuntime": "runc"}), 0, "NvidiaRuntime",
     "Docker's default runtime is 'runc', not `nvidia`", "--set-as-default"),
    (replace(GOOD, toolkit_config=TOOLKIT_CONFIG.replace("= true", "= false", 1)), 0, "NvidiaVolumeMounts",
     "accept-nvidia-visible-devices-as-volume-mounts is not true",
     "sudo nvidia-ctk config --set accept-nvidia-visible-devices-as-volume-mounts=true --in-place"),
    (replace(GOOD, toolkit_config="#accept-nvidia-visible-devices-as-volume-mounts = true\n"), 0,
     "NvidiaVolumeMounts", "is not true", "nvidia-ctk config --set"),
    (replace(GOOD, toolkit_config=None), 0, "NvidiaVolumeMounts", "the NVIDIA Container Toolkit is not installed",
     "--in-place"),
])
def test_gpu_host_checks(facts: pf.HostFacts, gpus: int, check: str, message: str, fix: str) -> None:
    err = failing(facts, requirements(gpus=gpus))
    assert f"[{check}] " in err.message and message in err.message
    assert fix in (err.hint or "")


def test_gpu_checks_only_with_gpus() -> None:
    names = set(by_name(pf.evaluate(replace(GOOD, nvidia_driver=None), requirements())))
    assert not names & {"NvidiaDriver", "NvidiaRuntime", "NvidiaVolumeMounts"}


def test_ignored_errors_are_reported_as_ignored_and_do_not_stop() -> None:
    facts = replace(GOOD, inotify={"max_user_watches": 8192, "max_user_instances": 128})
    results = pf.evaluate(facts, requirements(), pf.parse_ignored("inotifywatches,InotifyInstances"))
    assert by_name(results)["InotifyWatches"].status == "ignored"
    assert by_name(results)["InotifyWatches"].to_dict()["fix"].startswith("sudo sysctl -w")
    pf.raise_on_errors(results)
    everything = pf.evaluate(replace(facts, kind_path=None), requirements(), pf.parse_ignored("all"))
    assert {r.status for r in everything} >= {"ignored"} and "error" not in {r.status for r in everything}


def test_only_named_checks_are_ignored() -> None:
    facts = replace(GOOD, kind_path=None, inotify={"max_user_watches": 8192, "max_user_instances": 128})
    err = failing(facts, ignored=pf.parse_ignored("Kind"))
    assert "[Kind]" not in err.message and "[InotifyWatches]" in err.message
    assert by_name(err.results)["Kind"].status == "ignored"


@pytest.mark.parametrize(("value", "message"), [("Kind,Nope", "unknown check(s) Nope"),
                                                ("all,Kind", "don't name checks together with `all`")])
def test_bad_ignore_lists(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        pf.parse_ignored(value)


def test_toolkit_flag_reads_top_level_keys_only() -> None:
    assert pf.toolkit_flag(TOOLKIT_CONFIG, pf.VOLUME_MOUNTS_KEY) is True
    assert pf.toolkit_flag("[nvidia-container-cli]\naccept-nvidia-visible-devices-as-volume-mounts = true\n",
                           pf.VOLUME_MOUNTS_KEY) is None


# -- inside the GPU nodes: /proc/driver/nvidia ----------------------------------------------------
PARAMS_DEFAULT = "ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 1\nDeviceFileUID: 0\nDeviceFileGID: 0\n"
TMPFS_MOUNT = "tmpfs /proc/driver/nvidia tmpfs rw,nosuid,nodev,noexec,relatime,mode=555 0 0\n"
OTHER_MOUNTS = "overlay / overlay rw,relatime 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"


def test_toolkit_1_19_already_masks_params() -> None:
    action = proc_driver_action(PARAMS_DEFAULT.replace("ModifyDeviceFiles: 1", "ModifyDeviceFiles: 0"), OTHER_MOUNTS)
    assert action.kind == "none" and action.script == ""


def test_old_toolkits_tmpfs_is_unmounted_first() -> None:
    action = proc_driver_action(PARAMS_DEFAULT, OTHER_MOUNTS + TMPFS_MOUNT)
    assert action.kind == "unmount-and-mask"
    assert action.script.splitlines()[:2] == ["set -eu", "umount -R /proc/driver/nvidia"]
    assert "mount --bind /root/gpu-params /proc/driver/nvidia/params" in action.script


def test_toolkit_1_18_breakage_is_detected_and_worked_around() -> None:
    """With 1.18 nothing is mounted over /proc/driver/nvidia: `umount` would fail with "not mounted"."""
    action = proc_driver_action(PARAMS_DEFAULT, OTHER_MOUNTS)
    assert action.kind == "mask" and "not mounted" in action.explanation
    assert "umount" not in action.script and "ModifyDeviceFiles: 0" in action.script


def test_a_node_without_injected_gpus_is_explained() -> None:
    action = proc_driver_action(None, OTHER_MOUNTS)
    assert action.kind == "error" and "accept-nvidia-visible-devices-as-volume-mounts" in action.explanation


def test_device_nodes_of_other_gpus_are_removed() -> None:
    script = prune_devices_script(("2", "3"), host_gpus=4)
    assert "rm -f /dev/nvidia0" in script and "rm -f /dev/nvidia1" in script and "nvidia2" not in script
    assert prune_devices_script(("all",), 8) == "" and prune_devices_script(("0",), 1) == ""


def test_cli_help_names_every_check() -> None:
    from typer.testing import CliRunner

    from kfboot.cli.app import app

    text = " ".join(CliRunner().invoke(app, ["cluster", "create", "--help"], terminal_width=400).stdout.split())
    for check in pf.CHECKS:
        assert check in text
