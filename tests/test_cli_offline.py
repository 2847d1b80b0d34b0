"""The CLI without a cluster: plan --offline, init, schema, version, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from kfboot import __version__
from kfboot.cli.app import app

FIXTURES = Path(__file__).parent / "fixtures" / "config"
PHASES = ["cert-manager", "gpu-operator", "kubeflow-namespace", "kuberay", "istio", "dex", "kserve", "kubeflow",
          "kuberay-roles"]
PINS = {"gpu-operator": "v26.7.0", "cert-manager": "1.19.4", "istio": "1.28.0", "dex": "v2.45.0",
        "kubeflow": "26.03", "kuberay": "1.3.2", "kserve": "v0.16.0", "kubeflow-namespace": "26.03"}
PLANNED = {**PINS, "kuberay-roles": "1.3.2"}  # + Kubeflow users' Ray roles (kfboot's own, not a catalog entry)


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner(env={"KUBECONFIG": None, "CI": "1", **(env or {})}).invoke(app, list(args))


def no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr


# -- plan ----------------------------------------------------------------------------------------------
def test_plan_offline_shows_every_phase_with_pinned_version_and_graph() -> None:
    result = run("plan", "--offline")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "offline" in out
    for name, version in PLANNED.items():
        line = next(ln for ln in out.splitlines() if ln.lstrip(" +").startswith(name + " "))
        assert version in line and "install" in line, line
    assert "  1. cert-manager; gpu-operator; kubeflow-namespace; kuberay\n" in out
    assert "  2. istio ← cert-manager, kubeflow-namespace\n" in out
    assert "  3. dex ← istio; kserve ← istio, cert-manager, kubeflow-namespace\n" in out
    assert "  4. kubeflow ← dex, kubeflow-namespace\n" in out
    assert "  5. kuberay-roles ← kubeflow, kuberay\n" in out
    assert "9 to install" in out


def test_plan_offline_json_is_one_object() -> None:
    result = run("-o", "json", "plan", "--offline")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    plan = json.loads(lines[0])
    assert plan["event"] == "plan" and plan["offline"] is True and plan["target"] is None
    assert plan["layers"] == [["cert-manager", "gpu-operator", "kubeflow-namespace", "kuberay"], ["istio"],
                              ["dex", "kserve"], ["kubeflow"], ["kuberay-roles"]]
    assert [p["phase"] for p in plan["phases"]] == PHASES
    assert {p["phase"]: p["version"] for p in plan["phases"]} == PLANNED
    assert {p["action"] for p in plan["phases"]} == {"install"}
    assert all(p["steps"] for p in plan["phases"])
    assert plan["counts"] == {"install": 9}


def test_plan_reflects_the_config_file() -> None:
    result = run("-o", "json", "plan", "--offline", "-f", str(FIXTURES / "valid.yaml"))
    assert result.exit_code == 0, result.stderr
    phases = {p["phase"]: p for p in json.loads(result.stdout)["phases"]}
    assert phases["kuberay"]["action"] == "skip" and phases["kuberay"]["enabled"] is False
    assert phases["gpu-operator"]["version"] == "v26.3.3"
    kserve_steps = " ".join(phases["kserve"]["steps"])
    assert "knative" not in kserve_steps  # RawDeployment needs no Knative
    kubeflow_steps = " ".join(phases["kubeflow"]["steps"])
    assert "applications/pipeline" in kubeflow_steps and "katib" not in kubeflow_steps


def test_serverless_kserve_plans_knative() -> None:
    result = run("-o", "json", "plan", "--offline")
    kserve = next(p for p in json.loads(result.stdout)["phases"] if p["phase"] == "kserve")
    assert "knative" in " ".join(kserve["steps"])


# -- init ----------------------------------------------------------------------------------------------
def test_init_writes_a_config_that_plan_accepts(tmp_path: Path) -> None:
    target = tmp_path / "kfboot.yaml"
    result = run("init", str(target))
    assert result.exit_code == 0, result.stderr
    assert target.exists()
    assert str(target) in result.stderr

    planned = run("-o", "json", "plan", "--offline", "-f", str(target))
    assert planned.exit_code == 0, planned.stderr
    assert [p["phase"] for p in json.loads(planned.stdout)["phases"]] == PHASES


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "kfboot.yaml"
    target.write_text("# mine\n", encoding="utf-8")
    result = run("init", str(target))
    assert result.exit_code == 2
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert target.read_text(encoding="utf-8") == "# mine\n"
    no_traceback(result)

    forced = run("init", str(target), "--force")
    assert forced.exit_code == 0
    assert "apiVersion: kfboot.io/v1alpha1" in target.read_text(encoding="utf-8")


# -- schema and version ----------------------------------------------------------------------------------
def test_schema_is_valid_json_forbidding_unknown_keys() -> None:
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert "components" in schema["properties"]


def test_version() -> None:
    result = run("version")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"kfboot {__version__}\n")
    assert "kubeflow/manifests 26.03" in result.stdout
    for name, version in PINS.items():
        assert any(ln.split() == [name, version] for ln in result.stdout.splitlines()), name


def test_version_json() -> None:
    result = run("-o", "json", "version")
    data = json.loads(result.stdout)
    assert data["kfboot"] == __version__
    assert data["components"] == PINS


# -- errors ------------------------------------------------------------------------------------------
def test_bad_config_exits_2_with_position_and_no_traceback() -> None:
    path = FIXTURES / "unknown-key.yaml"
    result = run("plan", "--offline", "-f", str(path))
    assert result.exit_code == 2
    assert f"{path}:9:5: components.gpu-operator.enabeld: unknown key" in result.stderr
    assert result.stdout == ""
    no_traceback(result)


def test_bad_config_json_mode_reports_an_error_event() -> None:
    path = FIXTURES / "unpinned.yaml"
    result = run("-o", "json", "plan", "--offline", "-f", str(path))
    assert result.exit_code == 2
    event = json.loads(result.stdout.strip().splitlines()[-1])
    assert event["event"] == "error" and event["exitCode"] == 2
    assert f"{path}:4:5:" in event["message"]


def test_missing_config_file() -> None:
    result = run("plan", "--offline", "-f", "/nonexistent/kfboot.yaml")
    assert result.exit_code == 2
    assert "/nonexistent/kfboot.yaml: file not found" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("command", [["install"], ["status"], ["uninstall"], ["plan"]])
def test_cluster_commands_with_a_missing_kubeconfig_exit_2_with_a_hint(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    result = run("--kubeconfig", str(missing), *command)
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert "error:" in result.stderr
    assert "hint:" in result.stderr
    no_traceback(result)


def test_missing_kubeconfig_from_environment(tmp_path: Path) -> None:
    result = run("install", env={"KUBECONFIG": str(tmp_path / "gone")})
    assert result.exit_code == 2
    assert "hint:" in result.stderr
    no_traceback(result)


def test_unknown_command_is_a_usage_error() -> None:
    result = run("instal")
    assert result.exit_code == 2


# -- help ----------------------------------------------------------------------------------------------
COMMANDS = [c.name or c.callback.__name__ for c in app.registered_commands]  # type: ignore[union-attr]
GROUPS = [g.name for g in app.registered_groups if g.name]


def test_every_expected_command_exists() -> None:
    assert {"plan", "install", "status", "uninstall", "init", "schema", "version"} <= set(COMMANDS)


@pytest.mark.parametrize("command", ["", *COMMANDS, *GROUPS])
def test_help(command: str) -> None:
    result = run(*([command] if command else []), "--help")
    assert result.exit_code == 0, result.stderr
    assert "Usage" in result.stdout
    no_traceback(result)


def test_no_arguments_shows_help() -> None:
    result = run()
    assert "plan" in result.stdout + result.stderr and "install" in result.stdout + result.stderr


# -- import cost -----------------------------------------------------------------------------------------
def test_importing_the_cli_does_not_import_heavy_modules() -> None:
    code = ("import sys, kfboot.cli.app; "
            "print(','.join(m for m in ('kubernetes', 'pyhelm3', 'jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_no_kubeconfig_at_all_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = run("install")
    assert result.exit_code == 2
    assert "no Kubernetes configuration: ~/.kube/config does not exist and KUBECONFIG is not set" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize(("argv", "expected"), [
    (["install", "--context", "prod", "--yes", "-f", "x.yaml"], ["--context", "prod", "--yes", "install", "-f", "x.yaml"]),
    (["--kubeconfig", "k", "install", "-o=json", "-vv"], ["--kubeconfig", "k", "-o=json", "-vv", "install"]),
    (["render", "mig", "--gpu", "L4", "-o", "json"], ["-o", "json", "render", "mig", "--gpu", "L4"]),
    (["uninstall", "kserve", "--context=prod", "--", "--context"], ["--context=prod", "uninstall", "kserve", "--", "--context"]),
    (["--context", "prod"], ["--context", "prod"]),
])
def test_global_options_may_follow_the_command(argv: list[str], expected: list[str]) -> None:
    from kfboot.cli.app import hoist_global_options

    assert hoist_global_options(argv) == expected


def test_kubectl_style_option_order_works_end_to_end() -> None:
    result = run("plan", "--offline", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["event"] == "plan"
