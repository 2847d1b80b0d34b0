"""A local port forwarded to a Service, with `kubectl port-forward` (run through kfboot.tools).

Why kubectl and not the API's pods/portforward directly: that subresource speaks SPDY/WebSocket
streams that the Python client only half-supports, while kubectl's forwarder is the one every user
already trusts. kfboot asks for a random local port (`:80`) and reads the one kubectl chose from
its first line, `Forwarding from 127.0.0.1:43567 -> 8080`. Tests put a fake kubectl on PATH that
prints that line for a local HTTP server, so the parsing and the process handling are tested; the
forwarding itself is kubectl's.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kfboot import tools
from kfboot.errors import KfbootError

FORWARDING = re.compile(r"^Forwarding from (127\.0\.0\.1|\[::1\]):(\d+) -> (\d+)")
START_TIMEOUT = 30.0


class PortForwardFailed(KfbootError):
    """kubectl port-forward exited or printed no port in time."""


@dataclass
class PortForward:
    process: subprocess.Popen[str]
    local_port: int
    target: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def parse_forwarding(line: str) -> int | None:
    """The local port in kubectl's `Forwarding from 127.0.0.1:PORT -> TARGET` line."""
    match = FORWARDING.match(line.strip())
    return int(match.group(2)) if match else None


def forward(namespace: str, target: str, port: int, *, kubeconfig: Path | None = None,
            context: str | None = None, timeout: float = START_TIMEOUT) -> PortForward:
    """`kubectl port-forward -n NS TARGET :PORT` on 127.0.0.1; returns once kubectl says where."""
    args = ["port-forward", "-n", namespace, target, f":{port}", "--address", "127.0.0.1"]
    if kubeconfig is not None:
        args += ["--kubeconfig", str(kubeconfig)]
    if context:
        args += ["--context", context]
    proc = tools.start("kubectl", args)
    found: list[int] = []
    ready = threading.Event()

    def read() -> None:  # keep draining stdout so kubectl never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            port_found = parse_forwarding(line)
            if port_found is not None and not found:
                found.append(port_found)
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True, name="port-forward").start()
    ready.wait(timeout)
    if not found:
        stderr = ""
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
            _, stderr = proc.communicate(timeout=5)
        detail = (stderr or "").strip().splitlines()[-1:] or [f"no port within {timeout:g}s"]
        raise PortForwardFailed(f"kubectl port-forward -n {namespace} {target} :{port} failed: {detail[0]}",
                                hint=f"check the Service and its pods: kubectl -n {namespace} get {target} -o wide")
    time.sleep(0.05)
    return PortForward(proc, found[0], f"{namespace}/{target}")
