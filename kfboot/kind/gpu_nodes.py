"""GPUs inside kind nodes, the way NVIDIA's nvkind does it, with the decisions kept pure.

The host's nvidia runtime injects each GPU worker's GPUs (the /dev/null volume mounts in the kind
config). Inside each such node kfboot then installs the NVIDIA Container Toolkit, configures
containerd for it, and stops the driver from recreating device nodes the node should not see
(ModifyDeviceFiles: 0 in /proc/driver/nvidia/params). How that last step is done depends on the
host's toolkit: older ones hide /proc/driver/nvidia behind a tmpfs (unmount it first), 1.19+ already
mask the file, and 1.18 does neither, which is why the classic `umount /proc/driver/nvidia` fails
there with "not mounted". A `nvidia` RuntimeClass lets pods ask for the runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kfboot import tools
from kfboot.errors import KfbootError

PARAMS = "/proc/driver/nvidia/params"
RUNTIME_CLASS = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                 "metadata": {"name": "nvidia", "labels": {"app.kubernetes.io/managed-by": "kfboot"}},
                 "handler": "nvidia"}

INSTALL_TOOLKIT = """set -eu
export DEBIAN_FRONTEND=noninteractive
if ! command -v nvidia-ctk >/dev/null 2>&1; then
  apt-get update -q
  apt-get install -y -q gpg curl ca-certificates
  keyring=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
  curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --batch --yes --dearmor -o "$keyring"
  curl -fsSL https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list \\
    | sed "s#deb https://#deb [signed-by=$keyring] https://#" > /etc/apt/sources.list.d/nvidia-container-toolkit.list
  apt-get update -q
  apt-get install -y -q nvidia-container-toolkit
fi
nvidia-ctk --version | head -n1
"""

CONFIGURE_CONTAINERD = """set -eu
nvidia-ctk runtime configure --runtime=containerd --config-source=command
systemctl restart containerd
"""


class GpuNodeError(KfbootError):
    """A GPU node could not be set up; the message says which step and why."""


@dataclass(frozen=True)
class ProcAction:
    """What to do about /proc/driver/nvidia/params inside a node."""

    kind: str  # "none" | "unmount-and-mask" | "mask" | "error"
    explanation: str

    @property
    def script(self) -> str:
        copy_and_mask = (f"cp {PARAMS} /root/gpu-params\n"
                         "sed -i 's/^ModifyDeviceFiles: 1$/ModifyDeviceFiles: 0/' /root/gpu-params\n"
                         f"mount --bind /root/gpu-params {PARAMS}\n")
        if self.kind == "unmount-and-mask":
            return "set -eu\numount -R /proc/driver/nvidia\n" + copy_and_mask
        if self.kind == "mask":
            return "set -eu\n" + copy_and_mask
        return ""


def _modify_device_files(params: str) -> str | None:
    for line in params.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "ModifyDeviceFiles":
            return value.strip()
    return None


def proc_driver_action(params: str | None, mounts: str | None) -> ProcAction:
    """Decide from the node's /proc/driver/nvidia/params and /proc/mounts (either may be unreadable)."""
    nvidia_proc_mounted = any(len(f) > 1 and f[1] == "/proc/driver/nvidia"
                              for f in (line.split() for line in (mounts or "").splitlines()))
    if params is None:
        if nvidia_proc_mounted:
            return ProcAction("unmount-and-mask", "the host toolkit hid /proc/driver/nvidia behind a tmpfs "
                              "(toolkit < 1.18): unmounting it, then masking ModifyDeviceFiles")
        return ProcAction("error", f"the node cannot read {PARAMS}: the host runtime injected no GPU into it. "
                          "Check that Docker's default runtime is nvidia and accept-nvidia-visible-devices-as-"
                          "volume-mounts = true in /etc/nvidia-container-runtime/config.toml, then recreate "
                          "the cluster (`kfboot cluster delete` and `create`)")
    value = _modify_device_files(params)
    if value == "0":
        return ProcAction("none", "device-node modification is already disabled (host toolkit 1.19+ masks it)")
    if value is None:
        return ProcAction("error", f"{PARAMS} has no ModifyDeviceFiles line; this driver is not supported")
    if nvidia_proc_mounted:
        return ProcAction("unmount-and-mask", "the host toolkit hid /proc/driver/nvidia behind a tmpfs "
                          "(toolkit < 1.18): unmounting it, then masking ModifyDeviceFiles")
    return ProcAction("mask", "/proc/driver/nvidia is not mounted over (host toolkit 1.18 changed this; the "
                      "classic `umount /proc/driver/nvidia` would fail with \"not mounted\"): masking "
                      "ModifyDeviceFiles without unmounting")


def prune_devices_script(devices: tuple[str, ...], host_gpus: int | None) -> str:
    """Remove /dev/nvidiaN nodes of GPUs this node was not given (nothing to do for `all`)."""
    if "all" in devices or host_gpus is None:
        return ""
    others = [i for i in range(host_gpus) if str(i) not in devices]
    if not others:
        return ""
    lines = ["set -u"] + [f"while umount /dev/nvidia{i} 2>/dev/null; do :; done; rm -f /dev/nvidia{i}" for i in others]
    return "\n".join(lines) + "\n"


def _exec(node: str, script: str, step: str, timeout: float = 600) -> str:
    try:
        return tools.run("docker", ["exec", node, "bash", "-c", script], timeout=timeout,
                         what=f"{step} on {node}").stdout
    except tools.ToolFailed as exc:
        raise GpuNodeError(f"{step} on node {node} failed: {exc.message.split(': ', 1)[-1]}",
                           hint=f"look inside: docker exec -it {node} bash") from None


def _read_in_node(node: str, path: str) -> str | None:
    result = tools.run("docker", ["exec", node, "cat", path], timeout=30, check=False)
    return result.stdout if result.returncode == 0 else None


def setup_gpu_node(node: str, devices: tuple[str, ...], host_gpus: int | None,
                   say: Callable[[str], None]) -> ProcAction:
    """Toolkit, containerd runtime and /proc masking for one GPU node (idempotent)."""
    say(f"{node}: installing the NVIDIA Container Toolkit")
    version = _exec(node, INSTALL_TOOLKIT, "installing the NVIDIA Container Toolkit").strip()
    if version:
        say(f"{node}: {version.splitlines()[-1]}")
    say(f"{node}: configuring containerd for the nvidia runtime")
    _exec(node, CONFIGURE_CONTAINERD, "configuring containerd")
    action = proc_driver_action(_read_in_node(node, PARAMS), _read_in_node(node, "/proc/mounts"))
    say(f"{node}: {action.explanation}")
    if action.kind == "error":
        raise GpuNodeError(f"node {node}: {action.explanation}")
    if action.script:
        _exec(node, action.script, "masking /proc/driver/nvidia/params", timeout=60)
    prune = prune_devices_script(devices, host_gpus)
    if prune:
        _exec(node, prune, "removing device nodes of other GPUs", timeout=60)
    return action
