"""The kfboot command line against the fake API server: real kustomize, real HTTP, real signals."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.phases.state_store import STATE_NAME, STATE_NAMESPACE
from tests.bed import MANIFESTS, ONLY_CERT_MANAGER

ROOT = Path(__file__).resolve().parents[1]


def _setup(fake_kube, tmp_path: Path, context: str = "kind-fake") -> tuple[list[str], Path]:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context=context)
    config = tmp_path / "kfboot.yaml"
    config.write_text(ONLY_CERT_MANAGER)
    base = ["--kubeconfig", str(kubeconfig), "--context", context]
    return base, config


def _events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _phase_states(stdout: str) -> dict[str, str]:
    return {p["phase"]: p["state"] for p in _events(stdout)[-1]["phases"]}


def test_install_json_events_then_noop_rerun(fake_kube, tmp_path: Path) -> None:
    base, config = _setup(fake_kube, tmp_path)
    args = [*base, "-o", "json", "install", "-f", str(config), "--manifests", str(MANIFESTS)]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    events = _events(result.stdout)
    summary = events[-1]
    assert summary["event"] == "summary" and summary["ok"] is True
    states = {p["phase"]: p["state"] for p in summary["phases"]}
    assert states["cert-manager"] == "ready" and states["istio"] == "skipped"
    assert any(e["event"] == "phase" and e.get("state") == "applying" for e in events)
    assert fake_kube.get("cert-manager.io/v1", "ClusterIssuer", "kubeflow-self-signing-issuer") is not None

    fake_kube.reset_requests()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0
    assert _events(again.stdout)[-1]["writes"] == 0
    assert fake_kube.write_count() == 0


def test_plan_against_cluster_and_status(fake_kube, tmp_path: Path) -> None:
    base, config = _setup(fake_kube, tmp_path)
    CliRunner().invoke(app, [*base, "install", "-f", str(config), "--manifests", str(MANIFESTS)])
    fake_kube.remove("apps/v1", "Deployment", "cert-manager-webhook", "cert-manager")

    plan = CliRunner().invoke(app, [*base, "-o", "json", "plan", "-f", str(config), "--manifests", str(MANIFESTS)])
    status = CliRunner().invoke(app, [*base, "-o", "json", "status", "-f", str(config)])

    assert plan.exit_code == 0, plan.output
    phases = {p["phase"]: p for p in json.loads(plan.stdout)["phases"]}
    assert phases["cert-manager"]["action"] == "repair"
    assert any("Deployment cert-manager/cert-manager-webhook: missing" in d for d in phases["cert-manager"]["details"])
    rows = {r["phase"]: r for r in json.loads(status.stdout)["phases"]}
    assert rows["cert-manager"]["recorded"] == "ready" and rows["cert-manager"]["live"] == "repair"


def test_non_kind_context_requires_yes(fake_kube, tmp_path: Path) -> None:
    base, config = _setup(fake_kube, tmp_path, context="prod-east")

    refused = CliRunner().invoke(app, [*base, "install", "-f", str(config), "--manifests", str(MANIFESTS)])
    assert refused.exit_code == 2
    assert "--yes" in refused.output
    assert fake_kube.write_count() == 0

    accepted = CliRunner().invoke(app, [*base, "--yes", "install", "-f", str(config), "--manifests", str(MANIFESTS)])
    assert accepted.exit_code == 0, accepted.output


def test_dry_run_changes_nothing(fake_kube, tmp_path: Path) -> None:
    base, config = _setup(fake_kube, tmp_path, context="prod-east")
    result = CliRunner().invoke(app, [*base, "-o", "json", "install", "--dry-run", "-f", str(config),
                                      "--manifests", str(MANIFESTS)])
    assert result.exit_code == 0, result.output
    assert _phase_states(result.stdout)["cert-manager"] == "dry-run"
    assert _events(result.stdout)[-1]["writes"] == 0
    writes = [r for r in fake_kube.requests if r.method != "GET"]
    assert writes and all(r.query.get("dryRun") == "All" for r in writes)
    assert fake_kube.get("v1", "Namespace", "cert-manager") is None


def _spawn_install(base: list[str], config: Path, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "kfboot", *base, *extra, "install", "-f", str(config), "--manifests", str(MANIFESTS)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_status(fake_kube, phase: str, status: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cm = fake_kube.get("v1", "ConfigMap", STATE_NAME, STATE_NAMESPACE)
        if cm and json.loads((cm.get("data") or {}).get(phase, "{}")).get("status") == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{phase} never reached {status}")


def _signal_mid_install(fake_kube, base: list[str], config: Path, tmp_path: Path, sig: int,
                        *extra: str) -> tuple[int, str, str]:
    """Start `kfboot install` in a subprocess, signal it while it waits, return (exit code, stderr, stdout)."""
    fake_kube.hold_unready("Deployment", "cert-manager", "cert-manager-webhook")
    proc = _spawn_install(base, config, tmp_path, *extra)
    try:
        _wait_for_status(fake_kube, "cert-manager", "applying")
        time.sleep(0.3)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    return proc.returncode, err, out


def test_ctrl_c_records_state_and_exits_130(fake_kube, tmp_path: Path) -> None:
    base, config = _setup(fake_kube, tmp_path)
    returncode, err, out = _signal_mid_install(fake_kube, base, config, tmp_path, signal.SIGINT, "-o", "json")
    assert returncode == 130, err
    summary = _events(out)[-1]  # -o json: the summary still comes last, with every phase's outcome
    assert summary["event"] == "summary" and summary["exitCode"] == 130
    assert {p["phase"]: p["state"] for p in summary["phases"]}["cert-manager"] == "interrupted"
    record = json.loads(fake_kube.get("v1", "ConfigMap", STATE_NAME, STATE_NAMESPACE)["data"]["cert-manager"])
    assert record["status"] == "interrupted"
    assert fake_kube.get("coordination.k8s.io/v1", "Lease", "kfboot-lock", STATE_NAMESPACE) is None


def test_killed_run_resumes_and_converges(fake_kube, tmp_path: Path) -> None:
    base, config = _setup(fake_kube, tmp_path)
    _signal_mid_install(fake_kube, base, config, tmp_path, signal.SIGKILL)
    assert fake_kube.get("coordination.k8s.io/v1", "Lease", "kfboot-lock", STATE_NAMESPACE) is not None
    fake_kube.release("Deployment", "cert-manager", "cert-manager-webhook")

    result = CliRunner().invoke(app, [*base, "-o", "json", "install", "-f", str(config), "--manifests", str(MANIFESTS)])

    assert result.exit_code == 0, result.output
    events = _events(result.stdout)
    assert any(e["event"] == "warning" and "stale lock" in e["message"] for e in events)
    plan = next(e for e in events if e["event"] == "plan" and e["phase"] == "cert-manager")
    assert plan["reason"].startswith("resume: last run stopped while applying")
    assert _phase_states(result.stdout)["cert-manager"] == "ready"


def test_text_output_in_ci_is_plain_lines_and_a_recap(fake_kube, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    base, config = _setup(fake_kube, tmp_path)
    fake_kube.ready_delay = 0.3

    result = CliRunner().invoke(app, [*base, "-v", "install", "-f", str(config), "--manifests", str(MANIFESTS)])

    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # humans get stderr; stdout stays clean for data
    request = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) /\S* (\d{3}|no response) in \d+ ms$")
    requests = [ln for ln in result.stderr.splitlines() if request.match(ln)]
    lines = [ln for ln in result.stderr.splitlines() if not request.match(ln)]
    # -v: every API request, like kubectl -v=6 (method, path, status, milliseconds)
    assert requests[0].startswith("GET /version 200 in ")
    assert any(ln.startswith("PATCH /api") and "fieldManager=kfboot" in ln for ln in requests)
    assert lines[0].startswith("target: context kind-fake")
    assert any("cert-manager" in ln and "applying" in ln for ln in lines)
    assert any("kuberay" in ln and "plan" in ln and "skip: disabled in config" in ln for ln in lines)
    assert any("waiting for" in ln for ln in lines)  # -v: progress of the waits
    assert any(ln.startswith("done in") for ln in lines)
    assert "\x1b[" not in result.stderr  # no terminal control codes in CI logs


def test_unreachable_cluster_fails_fast_with_a_hint(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: gone, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: kind-gone, context: {{cluster: gone, user: u}}}}]
current-context: kind-gone
""")
    started = time.monotonic()
    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "status"])
    assert time.monotonic() - started < 20
    assert result.exit_code == 1
    assert "cannot reach the API server of context kind-gone" in result.stderr
    assert "kubectl --context kind-gone cluster-info" in result.stderr
    assert "Traceback" not in result.output


def test_readme_style_option_order_against_a_cluster(fake_kube, tmp_path: Path) -> None:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    result = CliRunner().invoke(app, ["status", "--kubeconfig", str(kubeconfig), "--context", "kind-fake", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["event"] == "status"
