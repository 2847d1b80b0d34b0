"""The `-o json` contract on every command: each stdout line is one JSON object that validates against
the published event schema (`kfboot schema --events`); install and uninstall always end in a summary.

The commands are discovered from the typer app, so a command added later is run here too; it needs
only sample values for required parameters this file has not seen (the test says which).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.cli.events_schema import ContractError, check_event, events_schema
from tests.bed import MANIFESTS, ONLY_CERT_MANAGER

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "kfboot" / "data" / "profiles" / "A100-80GB.yaml"


def registered_commands() -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf command of the app, as (path, click command)."""
    out: list[tuple[tuple[str, ...], Any]] = []

    def walk(group: Any, prefix: tuple[str, ...]) -> None:
        for name, command in sorted(group.commands.items()):
            if hasattr(command, "commands"):
                walk(command, (*prefix, name))
            else:
                out.append(((*prefix, name), command))

    walk(typer.main.get_command(app), ())
    return out


def samples(tmp: Path) -> dict[str, list[str] | str]:
    """Values for parameters by name: a list is passed as-is (options), a string as an argument."""
    config = tmp / "kfboot.yaml"
    config.write_text(ONLY_CERT_MANAGER)
    return {
        # arguments
        "path": str(tmp / "init" / "kfboot.yaml"),
        "directory": str(tmp / "bundle"),
        "files": str(PROFILE),
        "name": "A100-80GB",
        "phases_to_remove": "cert-manager",
        # options (required ones, and those that keep a command offline and fast)
        "file": ["-f", str(config)],
        "manifests": ["--manifests", str(MANIFESTS)],
        "output_dir": ["--output-dir", str(tmp / "out")],
        "archive_url": ["--archive-url", f"file://{tmp}/missing.tar.gz"],
    }


COMMANDS = registered_commands()


def test_the_app_has_the_commands_of_main() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"plan", "install", "uninstall", "status", "credentials", "init", "schema", "version", "versions",
            "render mig", "render time-slicing", "render phases", "profiles list", "profiles show",
            "profiles validate", "bundle pull", "bundle build", "bundle images", "bundle verify", "doctor"} <= names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_prints_only_schema_valid_events_with_o_json(fake_kube, tmp_path: Path,
                                                                   path: tuple[str, ...]) -> None:
    command = dict(COMMANDS)[path]
    values = samples(tmp_path)
    (tmp_path / "init").mkdir()
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    args: list[str] = []
    for param in command.params:
        value = values.get(param.name or "")
        if param.param_type_name == "argument":
            if value is not None:
                args.append(value if isinstance(value, str) else value[-1])
            elif param.required:
                pytest.fail(f"`kfboot {' '.join(path)}`: add a sample for argument {param.name!r} in samples()")
        elif isinstance(value, list):
            args += value
        elif param.required:
            pytest.fail(f"`kfboot {' '.join(path)}`: add a sample for option {param.name!r} in samples()")

    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "-o", "json",
                                      *path, *args])

    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert result.exit_code in (0, 1, 2, 3, 130), result.stderr
    lines = result.stdout.splitlines()
    assert lines, f"`kfboot -o json {' '.join(path)}` printed nothing on stdout (stderr: {result.stderr})"
    validator = Draft202012Validator(events_schema())
    events = [json.loads(line) for line in lines]  # one object per line, never pretty-printed
    for event in events:
        validator.validate(event)
    if result.exit_code and not result.exception:
        assert events[-1]["event"] in ("error", "summary"), events[-1]
    if path in (("install",), ("uninstall",), ("doctor",)):
        assert events[-1]["event"] == "summary"


def test_printer_refuses_objects_that_break_the_contract() -> None:
    for bad in ({"kfboot": "0.1"}, {"event": "no-such-event"}, {"event": "phase", "phase": "x"}, ["event"]):
        with pytest.raises(ContractError):
            check_event(bad)


def test_schema_events_is_published_as_one_line_with_o_json() -> None:
    result = CliRunner().invoke(app, ["-o", "json", "schema", "--events"])
    assert result.exit_code == 0
    (line,) = result.stdout.splitlines()
    published = json.loads(line)
    assert published["event"] == "schema" and published["schema"] == events_schema()
    Draft202012Validator.check_schema(published["schema"])
    text = CliRunner().invoke(app, ["schema", "--events"])
    assert json.loads(text.stdout) == events_schema()


# -- summaries on every path ----------------------------------------------------------------------------
def _install(fake_kube, tmp_path: Path, *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    config = tmp_path / "kfboot.yaml"
    config.write_text(ONLY_CERT_MANAGER)
    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "-o", "json",
                                      "install", "-f", str(config), *extra])
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def test_api_failure_before_the_run_still_ends_in_a_summary_of_every_phase(fake_kube, tmp_path: Path) -> None:
    from tests.fakekube.faults import Fault

    fake_kube.inject(Fault(verbs=("GET",), error_rate=1.0, status=403, path_contains="kfboot-state"))
    code, events, _ = _install(fake_kube, tmp_path, "--manifests", str(MANIFESTS))
    summary = events[-1]
    assert code == 1 and summary["event"] == "summary" and summary["exitCode"] == 1
    assert "403" in summary["message"]
    assert {p["phase"] for p in summary["phases"]} >= {"cert-manager", "istio", "kubeflow"}


def test_no_cache_bundle_and_no_way_to_make_one_is_said_once(fake_kube, tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("KFBOOT_CACHE_DIR", str(blocker / "cache"))
    code, events, _ = _install(fake_kube, tmp_path)
    summary = events[-1]
    assert code == 2 and summary["event"] == "summary"
    assert "cannot write the cache bundle under" in summary["message"]
    assert "KFBOOT_CACHE_DIR" in summary["hint"] and "--bundle" in summary["hint"]
    # said once, in the summary: no phase started (or failed the same way); each says why
    enabled = [p for p in summary["phases"] if p["state"] != "skipped"]
    assert enabled and all(p["state"] == "cancelled" and "cache bundle" in p["message"] for p in enabled)


def test_dry_run_with_an_unwritable_cache_stops_once_with_the_cache_hint(fake_kube, tmp_path: Path,
                                                                         monkeypatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("KFBOOT_CACHE_DIR", str(blocker / "cache"))
    code, events, err = _install(fake_kube, tmp_path, "--dry-run")
    summary = events[-1]
    assert code == 2 and summary["operation"] == "install --dry-run", err
    assert "KFBOOT_CACHE_DIR" in summary["hint"]
    assert "failed" not in [p["state"] for p in summary["phases"]]


def test_plan_does_not_claim_a_cache_bundle_that_does_not_exist(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KFBOOT_CACHE_DIR", str(tmp_path / "empty-cache"))
    result = CliRunner().invoke(app, ["plan", "--offline"])
    assert result.exit_code == 0
    assert "cached bundle" not in result.stdout
    assert "no cache bundle yet: downloaded on first install, or pass --bundle DIR" in result.stdout


def test_detailed_exitcode_is_2_on_changes_and_drift_0_when_converged(fake_kube, tmp_path: Path) -> None:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    config = tmp_path / "kfboot.yaml"
    config.write_text(ONLY_CERT_MANAGER)
    base = ["--kubeconfig", str(kubeconfig), "--context", "kind-fake"]
    source = ["-f", str(config), "--manifests", str(MANIFESTS)]

    def run(*args: str) -> int:
        return CliRunner().invoke(app, [*base, *args]).exit_code

    assert run("plan", *source, "--detailed-exitcode") == 2  # nothing installed: install would change things
    assert run("plan", *source) == 0  # without the flag: plan succeeded
    assert run("install", *source) == 0
    assert run("plan", *source, "--detailed-exitcode") == 0
    assert run("status", *source, "--detailed-exitcode") == 0
    fake_kube.remove("apps/v1", "Deployment", "cert-manager-webhook", "cert-manager")  # drift
    assert run("status", *source, "--detailed-exitcode") == 2
    assert run("plan", *source, "--detailed-exitcode") == 2


# -- helm children die with kfboot ----------------------------------------------------------------------
SLOW_HELM = """#!/bin/sh
case "$1" in
  version) printf v3.19.0; exit 0 ;;
esac
echo $$ >> "{pids}"
exec sleep 60
"""


def test_sigkill_of_kfboot_kills_its_helm_child(tmp_path: Path) -> None:
    pids = tmp_path / "helm.pids"
    helm = tmp_path / "helm"
    helm.write_text(SLOW_HELM.format(pids=pids))
    helm.chmod(0o755)
    config = tmp_path / "kfboot.yaml"  # a non-default chart version: Helm fetches it (our slow fake)
    config.write_text(ONLY_CERT_MANAGER.replace("cert-manager:", "cert-manager: {enabled: false}\n  x:")
                      .replace("  x:\n", "").replace("gpu-operator: {enabled: false}",
                                                     "gpu-operator: {version: v26.3.3}"))
    env = {**os.environ, "KFBOOT_HELM": str(helm), "PYTHONPATH": str(ROOT), "KFBOOT_CACHE_DIR": str(tmp_path / "c")}
    proc = subprocess.Popen([sys.executable, "-m", "kfboot", "render", "gpu-operator", "-f", str(config),
                             "--output-dir", str(tmp_path / "out")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        helm_pid = int(pids.read_text().split()[0])
        os.kill(helm_pid, 0)  # the slow helm is running
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _alive(helm_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(helm_pid), "helm outlived the kfboot that started it"
    finally:
        proc.kill()
        if pids.exists():
            for pid in pids.read_text().split():
                if _alive(int(pid)):
                    os.kill(int(pid), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].split()[0] != "Z"  # a zombie is dead, just not reaped
    except (FileNotFoundError, IndexError):
        return False


# -- plan --objects / --diff ----------------------------------------------------------------------------
def test_plan_lists_objects_and_diffs_fields_against_the_live_cluster(fake_kube, tmp_path: Path) -> None:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    config = tmp_path / "kfboot.yaml"
    config.write_text(ONLY_CERT_MANAGER)
    base = ["--kubeconfig", str(kubeconfig), "--context", "kind-fake"]
    source = ["-f", str(config), "--manifests", str(MANIFESTS)]

    before = CliRunner().invoke(app, [*base, "plan", *source, "--objects"])
    assert before.exit_code == 0, before.stderr
    assert "      + Deployment cert-manager/cert-manager-webhook" in before.stdout
    assert CliRunner().invoke(app, [*base, "install", *source]).exit_code == 0

    webhook = fake_kube.get("apps/v1", "Deployment", "cert-manager-webhook", "cert-manager")
    webhook["spec"]["template"]["spec"]["containers"][0]["image"] = "example.com/edited:by-hand"
    fake_kube.put(webhook)
    result = CliRunner().invoke(app, [*base, "-o", "json", "plan", *source, "--diff"])

    assert result.exit_code == 0, result.stderr
    phase = next(p for p in json.loads(result.stdout)["phases"] if p["phase"] == "cert-manager")
    objects = phase["objects"]
    assert objects["change"] == ["Deployment cert-manager/cert-manager-webhook"]
    assert objects["create"] == [] and objects["prune"] == [] and objects["unchanged"] >= 5
    assert objects["diff"]["Deployment cert-manager/cert-manager-webhook"] == [
        'spec.template.spec.containers[0].image: "example.com/edited:by-hand" → '
        '"quay.io/jetstack/cert-manager-webhook:v1.19.4"']
    offline = CliRunner().invoke(app, ["plan", "--offline", "--diff"])
    assert offline.exit_code == 2 and "needs the cluster" in offline.stderr


def test_field_diff_compares_only_what_kfboot_sets() -> None:
    from kfboot.phases.object_plan import field_diff

    wanted = {"metadata": {"name": "a", "labels": {"x": "1"}}, "status": {"ready": True},
              "spec": {"replicas": 2, "ports": [{"port": 80}], "args": ["a", "b"]}}
    live = {"metadata": {"name": "a", "labels": {"x": "1", "added": "by-server"}, "uid": "u"},
            "spec": {"replicas": 3, "ports": [{"port": 80, "protocol": "TCP"}], "args": ["a"], "defaulted": True},
            "status": {"ready": False}}
    assert field_diff(wanted, live) == ["spec.replicas: 3 → 2", 'spec.args: ["a"] → ["a", "b"]']
