"""A kfboot run SIGKILLed at a seeded point leaves state that says where it stopped, and a re-run converges
(install and uninstall); two runs never write at once: the second fails fast naming the holder.

The kill is real: `kfboot` runs as a subprocess against the in-process fake, and the fake sends it
SIGKILL the moment it records the run's N-th write (N drawn from the seed), so the run dies between two
requests exactly where a crash, an OOM kill or a closed laptop would stop it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.phases.state_store import STATE_NAME, STATE_NAMESPACE
from tests.bed import FOUR_PHASES, MANIFESTS
from tests.fakekube import FakeKube

ROOT = Path(__file__).resolve().parents[1]
LEASE = ("coordination.k8s.io/v1", "Lease", "kfboot-lock", STATE_NAMESPACE)
PLATFORM = FOUR_PHASES
ENABLED = {"cert-manager", "kubeflow-namespace", "istio", "dex"}
RECORDED = {"applying", "waiting", "ready", "failed", "uninstalling", "uninstalled"}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class KillingFake(FakeKube):
    """The fake API server, which SIGKILLs `victim` when it records the victim's `kill_at`-th write."""

    victim: subprocess.Popen[str] | None = None
    kill_at = 0
    seen = 0
    killed_after: str = ""

    def _record(self, rec: Any) -> None:
        super()._record(rec)
        if self.victim is None or rec.method not in WRITES:
            return
        self.seen += 1
        if self.seen == self.kill_at:
            self.killed_after = f"{rec.method} {rec.path}"
            os.kill(self.victim.pid, signal.SIGKILL)


def _args(fk: FakeKube, tmp_path: Path, command: str) -> list[str]:
    kubeconfig = fk.write_kubeconfig(tmp_path / "kubeconfig")
    config = tmp_path / "kfboot.yaml"
    config.write_text(PLATFORM)
    args = ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "-o", "json", command, "-f", str(config)]
    return [*args, "--manifests", str(MANIFESTS)] if command == "install" else args


def _spawn(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "kfboot", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _cli(args: list[str]) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(app, args)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("{")]
    return result.exit_code, json.loads(lines[-1]) if lines else {}, result.output


def _states(summary: dict[str, Any]) -> dict[str, str]:
    return {p["phase"]: p["state"] for p in summary.get("phases") or []}


def _records(fk: FakeKube) -> dict[str, dict[str, Any]]:
    cm = fk.get("v1", "ConfigMap", STATE_NAME, STATE_NAMESPACE)
    return {k: json.loads(v) for k, v in ((cm or {}).get("data") or {}).items()}


def _kill_at(fk: KillingFake, args: list[str], tmp_path: Path, kill_at: int) -> None:
    fk.seen, fk.kill_at = 0, kill_at
    fk.victim = proc = _spawn(args, tmp_path)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        fk.victim = None
    assert proc.returncode == -signal.SIGKILL, f"the run ended before its write {kill_at}: {err[-2000:]}"


@pytest.mark.parametrize("seed", [1, 2])  # killed at write 9 and 55 of ~62
def test_install_killed_at_a_seeded_write_resumes_and_converges(seed: int, tmp_path: Path) -> None:
    kill_at = random.Random(seed).randint(1, 55)  # a clean install of these phases makes ~62 writes
    with KillingFake(seed=seed) as fk:
        args = _args(fk, tmp_path, "install")
        _kill_at(fk, args, tmp_path, kill_at)

        records = _records(fk)  # what the dead run recorded says where it stopped
        assert set(records) <= ENABLED and {r["status"] for r in records.values()} <= RECORDED, records
        code, summary, output = _cli(args)
        assert code == 0, f"killed after {fk.killed_after}: {output[-3000:]}"
        assert {n for n, s in _states(summary).items() if s in ("ready", "up-to-date")} == ENABLED
        for name, record in records.items():
            if record["status"] != "ready":  # what the killed run left unfinished was redone
                assert _states(summary)[name] == "ready", (name, record)
        assert {r["status"] for r in _records(fk).values()} == {"ready"}
        assert fk.get(*LEASE) is None  # the dead run's lock was taken over and released

        fk.reset_requests()
        code, summary, _ = _cli(args)
        assert code == 0 and set(_states(summary).values()) <= {"up-to-date", "skipped"}
        assert fk.write_count() == 0


@pytest.mark.parametrize("seed", [2, 6])  # killed at write 4 and 37 of ~48
def test_uninstall_killed_at_a_seeded_write_resumes_and_removes_everything(seed: int, tmp_path: Path) -> None:
    kill_at = random.Random(seed).randint(1, 40)  # a clean uninstall of these phases makes ~48 writes
    with KillingFake(seed=seed) as fk:
        code, _, output = _cli(_args(fk, tmp_path, "install"))
        assert code == 0, output
        args = _args(fk, tmp_path, "uninstall")
        _kill_at(fk, args, tmp_path, kill_at)

        records = _records(fk)
        assert set(records) == ENABLED and {r["status"] for r in records.values()} <= RECORDED, records
        code, summary, output = _cli(args)
        assert code == 0, f"killed after {fk.killed_after}: {output[-3000:]}"
        assert {n for n, s in _states(summary).items() if s == "removed"} == {
            n for n, r in records.items() if r["status"] != "uninstalled"}
        assert {r["status"] for r in _records(fk).values()} == {"uninstalled"}
        for ns in ("cert-manager", "istio-system", "auth"):
            assert fk.get("v1", "Namespace", ns) is None, ns
        assert fk.get(*LEASE) is None


def _wait_for(predicate: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _stray_writes(fk: FakeKube) -> list[str]:
    """Writes other than the lock holder renewing its Lease."""
    return [f"{r.method} {r.path}" for r in fk.requests if r.method in WRITES and not r.path.endswith("/leases/kfboot-lock")]


def _until_only_the_lease_is_written(fk: FakeKube) -> None:
    """Wait until the holder sits in a wait (nothing but Lease renewals for half a second)."""
    for _ in range(60):
        fk.reset_requests()
        time.sleep(0.5)
        if not _stray_writes(fk):
            return
    raise AssertionError("the first run never settled into a wait")


def _second_run_is_refused(fk: FakeKube, args: list[str], holder_pid: int) -> None:
    """A second run while the first holds the lock: fails fast, names the holder, writes nothing."""
    _until_only_the_lease_is_written(fk)
    holder = fk.get(*LEASE)["spec"]["holderIdentity"]
    assert f"pid-{holder_pid}" in holder or str(holder_pid) in holder, holder
    fk.reset_requests()
    started = time.monotonic()
    result = CliRunner().invoke(app, args)
    assert time.monotonic() - started < 10  # fails fast instead of queueing behind an install
    assert result.exit_code != 0
    assert "another kfboot run holds the lock" in result.output and holder in result.output, result.output
    assert _stray_writes(fk) == []  # only the holder renewed its Lease meanwhile: the second run wrote nothing
    assert fk.get(*LEASE)["spec"]["holderIdentity"] == holder


def test_two_installs_at_once_the_second_fails_fast_naming_the_holder(fake_kube: FakeKube, tmp_path: Path) -> None:
    args = _args(fake_kube, tmp_path, "install")
    fake_kube.hold_unready("Deployment", "cert-manager", "cert-manager-webhook")  # the first run waits there
    first = _spawn(args, tmp_path)
    try:
        # cert-manager's later objects wait for its webhook: the first run stays in the phase, holding the lock
        _wait_for(lambda: _records(fake_kube).get("cert-manager", {}).get("status") == "applying"
                  and fake_kube.get(*LEASE) is not None, "the first install to work on cert-manager")
        _second_run_is_refused(fake_kube, args, first.pid)
        fake_kube.release("Deployment", "cert-manager", "cert-manager-webhook")
        out, err = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 0, err[-2000:]
    assert set(_states(json.loads(out.splitlines()[-1])).values()) <= {"ready", "skipped"}


def test_install_during_uninstall_is_refused_and_the_uninstall_finishes(fake_kube: FakeKube, tmp_path: Path) -> None:
    code, _, output = _cli(_args(fake_kube, tmp_path, "install"))
    assert code == 0, output
    # something in cert-manager's namespace that a controller is still finalizing keeps the uninstall busy
    fake_kube.put({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "held", "namespace": "cert-manager", "finalizers": ["example.com/hold"]}})
    uninstall = _spawn(_args(fake_kube, tmp_path, "uninstall"), tmp_path)
    try:
        _wait_for(lambda: _records(fake_kube).get("cert-manager", {}).get("status") == "uninstalling",
                  "the uninstall to reach cert-manager")
        _second_run_is_refused(fake_kube, _args(fake_kube, tmp_path, "install"), uninstall.pid)
        fake_kube.remove("v1", "ConfigMap", "held", "cert-manager")  # its controller finishes
        out, err = uninstall.communicate(timeout=60)
    finally:
        uninstall.kill()
    assert uninstall.returncode == 0, out[-2000:] + err[-2000:]
    assert {r["status"] for r in _records(fake_kube).values()} == {"uninstalled"}
