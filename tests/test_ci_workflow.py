"""The e2e-kind GitHub workflow: the committed file is the rendered default, both pass actionlint and the
github-workflows schema check-jsonschema vendors, and its no-op check really tells a no-op apart."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kfboot import __version__
from kfboot.cli.app import app, hoist_global_options
from kfboot.config.catalog import load_catalog
from kfboot.kind.workflow import PROJECT_WORKFLOW, WorkflowOptions, render_workflow

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / PROJECT_WORKFLOW
KIND_VERSION = load_catalog().kind.version


def tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    path = str(found) if found.is_file() else shutil.which(name)
    assert path, f"{name} is missing: install the dev extras (pip install -e '.[dev]')"
    return path


def actionlint(workflow: Path, labels: list[str]) -> subprocess.CompletedProcess[str]:
    config = workflow.parent / "actionlint.yaml"
    config.write_text(yaml.safe_dump({"self-hosted-runner": {"labels": labels}}))
    return subprocess.run([tool("actionlint"), "-no-color", "-config-file", str(config), str(workflow)],
                          capture_output=True, text=True, timeout=60)


def schema_check(workflow: Path, schema: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("check-jsonschema"), "--builtin-schema", schema, str(workflow)],
                          capture_output=True, text=True, timeout=60)


def user_workflow(tmp_path: Path) -> Path:
    options = WorkflowOptions(config="deploy/kfboot.yaml", gpu_runner="a100", install="kfboot==0.1.0")
    path = tmp_path / "wf" / "e2e-kind.yml"
    path.parent.mkdir()
    path.write_text(render_workflow(options, KIND_VERSION))
    return path


def test_committed_workflow_is_the_rendered_default() -> None:
    expected = render_workflow(WorkflowOptions(install=".", output=PROJECT_WORKFLOW), KIND_VERSION)
    assert COMMITTED.read_text() == expected, "regenerate: kfboot ci github --install . --output " + PROJECT_WORKFLOW


def test_the_projects_actionlint_config_knows_the_gpu_label() -> None:
    assert yaml.safe_load((ROOT / ".github" / "actionlint.yaml").read_text()) == {"self-hosted-runner": {"labels": ["gpu"]}}


@pytest.mark.parametrize("which", ["committed", "user"])
def test_actionlint_and_the_github_workflows_schema_accept_it(which: str, tmp_path: Path) -> None:
    if which == "committed":
        path, labels = tmp_path / "e2e-kind.yml", ["gpu"]
        shutil.copy(COMMITTED, path)
    else:
        path, labels = user_workflow(tmp_path), ["a100"]
    lint = actionlint(path, labels)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout"):
        checked = schema_check(path, schema)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_checkers_catch_mistakes(tmp_path: Path) -> None:
    broken = tmp_path / "e2e-kind.yml"
    broken.write_text(COMMITTED.read_text().replace("${{ github.ref }}", "${{ github.reff }}"))
    assert actionlint(broken, ["gpu"]).returncode != 0
    no_timeout = tmp_path / "no-timeout.yml"
    no_timeout.write_text(re.sub(r"\n    timeout-minutes: \d+", "", COMMITTED.read_text()))
    assert schema_check(no_timeout, "custom.github-workflows-require-timeout").returncode != 0
    wrong_type = tmp_path / "wrong.yml"
    wrong_type.write_text(COMMITTED.read_text().replace("contents: read", "contents: readonly"))
    assert schema_check(wrong_type, "vendor.github-workflows").returncode != 0


def _workflow() -> dict[Any, Any]:
    return yaml.safe_load(COMMITTED.read_text())


def test_hardening_pinned_actions_least_privilege_concurrency_timeouts() -> None:
    wf = _workflow()
    assert wf["permissions"] == {"contents": "read"}
    assert wf["concurrency"] == {"group": "e2e-kind-${{ github.ref }}", "cancel-in-progress": True}
    assert wf["defaults"] == {"run": {"shell": "bash"}}
    assert wf["env"]["KIND_VERSION"] == KIND_VERSION
    for job in wf["jobs"].values():
        assert 0 < job["timeout-minutes"] <= 120
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"actions/[a-z-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    text = COMMITTED.read_text()
    assert "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0" in text
    assert "actions/setup-python@e797f83bcb11b83ae66e0230d6156d7c80228e7c # v6.0.0" in text
    assert "actions/upload-artifact@330a01c490aca151604b8cf639adc76d48f6c5d4 # v5.0.0" in text


def test_cpu_job_runs_the_whole_lifecycle_in_order() -> None:
    job = _workflow()["jobs"]["kind"]
    assert job["runs-on"] == "ubuntu-latest"
    names = [s["name"] for s in job["steps"]]
    assert names == ["Check out", "Set up Python", "Free disk space", "Raise inotify limits",
                     "Install kind ${{ env.KIND_VERSION }}", "Install kfboot", "Preflight", "Create kind cluster",
                     "Install the platform", "Status", "Doctor", "Verify the platform", "Install again (must change nothing)",
                     "Uninstall",
                     "Collect diagnostics", "Upload diagnostics", "Delete kind cluster"]
    steps = {s["name"]: s for s in job["steps"]}
    assert steps["Install kfboot"]["run"] == "python -m pip install ."
    assert steps["Preflight"]["run"] == 'kfboot cluster create --name "$CLUSTER" --dry-run'
    assert steps["Doctor"]["run"] == 'kfboot doctor --context "kind-$CLUSTER" --junit doctor.xml'
    assert steps["Verify the platform"]["run"] == 'kfboot verify --context "kind-$CLUSTER" --no-gpu --junit verify.xml'
    assert steps["Collect diagnostics"]["if"] == steps["Upload diagnostics"]["if"] == "failure()"
    assert steps["Upload diagnostics"]["with"]["path"] == "diagnostics/"
    assert steps["Delete kind cluster"]["if"] == "always()"
    assert "sha256sum --check" in steps["Install kind ${{ env.KIND_VERSION }}"]["run"]
    assert "fs.inotify.max_user_instances=2280" in steps["Raise inotify limits"]["run"]


def test_gpu_job_is_opt_in_on_the_self_hosted_label() -> None:
    job = _workflow()["jobs"]["kind-gpu"]
    assert job["runs-on"] == ["self-hosted", "linux", "gpu"]
    assert job["if"] == "${{ inputs.gpu || vars.KFBOOT_GPU_E2E == 'true' }}"
    runs = [s.get("run", "") for s in job["steps"]]
    assert 'kfboot cluster create --name "$CLUSTER" --gpus all --wait 5m' in runs
    assert 'kfboot verify-gpu --context "kind-$CLUSTER"' in runs
    assert 'kfboot verify --context "kind-$CLUSTER" --junit verify.xml' in runs  # GPU checks included
    assert _workflow()[True]["workflow_dispatch"]["inputs"]["gpu"]["type"] == "boolean"  # YAML 1.1: on -> True


def test_user_render_uses_their_config_runner_and_install(tmp_path: Path) -> None:
    wf = yaml.safe_load(user_workflow(tmp_path).read_text())
    runs = [s.get("run", "") for job in wf["jobs"].values() for s in job["steps"]]
    assert 'kfboot -o json install -f deploy/kfboot.yaml --context "kind-$CLUSTER" --yes | tee install-1.ndjson' in runs
    assert 'kfboot uninstall -f deploy/kfboot.yaml --context "kind-$CLUSTER" --yes' in runs
    assert 'kfboot verify -f deploy/kfboot.yaml --context "kind-$CLUSTER" --no-gpu --junit verify.xml' in runs
    assert 'kfboot cluster create --name "$CLUSTER" -f deploy/kfboot.yaml --wait 5m' in runs
    assert "python -m pip install kfboot==0.1.0" in runs
    assert wf["jobs"]["kind-gpu"]["runs-on"] == ["self-hosted", "linux", "a100"]


def _noop_check(tmp_path: Path, summary: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    step = next(s for s in _workflow()["jobs"]["kind"]["steps"] if s["name"] == "Install again (must change nothing)")
    script = step["run"].split("<<'PY'\n", 1)[1].rsplit("PY\n", 1)[0]
    events = tmp_path / "install-2.ndjson"
    events.write_text(json.dumps({"event": "plan", "phase": "istio"}) + "\n" + json.dumps(summary) + "\n")
    return subprocess.run([sys.executable, "-", str(events)], input=script, capture_output=True, text=True, timeout=30)


def test_the_second_install_check_passes_a_noop_and_fails_a_change(tmp_path: Path) -> None:
    noop = {"event": "summary", "ok": True, "writes": 0, "requests": 42,
            "phases": [{"phase": "istio", "state": "up-to-date"}, {"phase": "gpu-operator", "state": "skipped"}]}
    passed = _noop_check(tmp_path, noop)
    assert passed.returncode == 0 and "second install changed nothing (42 API requests, 0 writes)" in passed.stdout
    changed = {**noop, "writes": 3, "phases": [{"phase": "istio", "state": "ready"}]}
    failed = _noop_check(tmp_path, changed)
    assert failed.returncode == 1 and "writes=3, phases=['istio']" in failed.stderr


def test_kfboot_ci_github_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / ".github" / "workflows" / "e2e-kind.yml"
    result = CliRunner().invoke(app, ["ci", "github", "--config", "kfboot.yaml", "--output", str(out)])
    assert result.exit_code == 0, result.output
    expected = render_workflow(WorkflowOptions(config="kfboot.yaml", install=f"kfboot=={__version__}",
                                               output=str(out)), KIND_VERSION)
    assert out.read_text() == expected
    assert f"# Written by `kfboot ci github --config kfboot.yaml --install kfboot=={__version__} --output {out}`" \
        in expected
    as_json = CliRunner().invoke(app, ["-o", "json", "ci", "github"])
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [e["event"] for e in events] == ["workflow", "summary"] and events[0]["yaml"].startswith("# End-to-end")


def test_a_commands_own_output_file_is_not_taken_for_the_global_format() -> None:
    assert hoist_global_options(["ci", "github", "--output", "x.yml", "-o", "json"]) == \
        ["-o", "json", "ci", "github", "--output", "x.yml"]
    assert hoist_global_options(["install", "--output", "json"]) == ["--output", "json", "install"]


@pytest.mark.parametrize(("options", "message"), [
    (WorkflowOptions(gpu_runner="a b"), "runner label"),
    (WorkflowOptions(config="/etc/kfboot.yaml"), "relative to the repository root"),
    (WorkflowOptions(config="../kfboot.yaml"), "relative to the repository root"),
])
def test_bad_workflow_options(options: WorkflowOptions, message: str) -> None:
    from kfboot.errors import UsageError

    with pytest.raises(UsageError, match=message):
        render_workflow(options, KIND_VERSION)
