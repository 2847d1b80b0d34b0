"""The real 26.03 render as a bundle, the fake API server in its own process, and kfboot as a subprocess:
what the real-render benchmarks share. Not part of kfboot or its tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import ROOT, VENV_BIN

from tests import realrender

HELM3 = ROOT / ".venv" / "tools" / "helm-v3.19.0" / "helm"
CONTEXT = "lab"  # not kind-*: the GPU Operator chart is installed too, as in tests/test_real_render.py


def build_bundle(work: Path) -> Path:
    if not realrender.available():
        raise SystemExit("the upstream render is not beside the repo (../shared/upstream)")
    if not HELM3.is_file():
        raise SystemExit("Helm 3.19 is not installed: run scripts/setup --dev")
    return realrender.real_bundle(work / "bundle", str(HELM3))


class FakeProc:
    """benchmarks/_fakeproc.py --real-render, driven over its stdin/stdout."""

    def __init__(self, work: Path, latency: float = 0.0, *, real_render: bool = True) -> None:
        self.kubeconfig = work / "kubeconfig"
        cmd = [sys.executable, str(ROOT / "benchmarks" / "_fakeproc.py"), "--kubeconfig", str(self.kubeconfig),
               "--latency", str(latency), "--context", CONTEXT]
        if real_render:
            cmd.append("--real-render")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            raise SystemExit(f"fake server did not start: {line!r}")

    def command(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)

    def __enter__(self) -> FakeProc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def kfboot_env(work: Path) -> dict[str, str]:
    home = work / "home"
    env = {**os.environ, "KFBOOT_CACHE_DIR": str(home / "cache"), "KFBOOT_HELM": str(HELM3)}
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(home / var.lower())
    return env


def run_kfboot(fake: FakeProc, bundle: Path, work: Path, *args: str, timeout: int = 600,
               prefix: list[str] | None = None) -> dict[str, Any]:
    """`kfboot -o json ARGS --bundle B` as a fresh process; wall time, exit code, server-side counts."""
    fake.command("reset")
    cmd = [*(prefix or [str(VENV_BIN / "kfboot")]), "--kubeconfig", str(fake.kubeconfig), "--context", CONTEXT,
           "--yes", "-o", "json", "--timeout", "300", *args, "--bundle", str(bundle)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=kfboot_env(work), timeout=timeout)
    seconds = time.perf_counter() - t0
    stats = fake.command("stats")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    summary = json.loads(lines[-1]) if lines else {}
    states = sorted({str(p.get("state") or p.get("action")) for p in summary.get("phases") or []})
    return {"seconds": round(seconds, 3), "exit": proc.returncode, "requests": stats["requests"],
            "writes": stats["writes"], "by_method": stats["by_method"], "states": states,
            "stderr": proc.stderr[-2000:]}
