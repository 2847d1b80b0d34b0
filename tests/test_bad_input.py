"""Bad input never hurts: bounded parsing, positioned messages, documented exit codes, no traceback.

Each case is one a security-minded new user tried (issue 12): YAML bombs, huge numbers, odd names,
broken files and paths. They run in-process through the real CLI app and must answer in well under a
second with `error:` + the position + exit 2.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app

BOMB = "\n".join(
    [f"a0: &a0 [{', '.join(['x'] * 9)}]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
) + "\n"
POSITIONED = re.compile(r"^error: (?:\S+):(\d+):(\d+): ", re.MULTILINE)


def kfboot(*args: str, input: str | None = None) -> tuple[int, str, str, float]:
    started = time.monotonic()
    result = CliRunner().invoke(app, list(args), input=input)
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr, elapsed


def config_error(tmp_path: Path, text: str, *args: str) -> str:
    path = tmp_path / "kfboot.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err, elapsed = kfboot("plan", "--offline", "-f", str(path), *args)
    assert code == 2, err
    assert elapsed < 1.0
    assert POSITIONED.search(err), err
    return err


# -- bounded YAML ---------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["top", "values", "profile", "profiles-dir"])
def test_billion_laughs_is_refused_at_the_alias_in_well_under_a_second(tmp_path: Path, where: str) -> None:
    if where in ("top", "values"):
        text = BOMB if where == "top" else "components:\n  kuberay:\n    values:\n" + "".join(
            "      " + line + "\n" for line in BOMB.splitlines())
        (tmp_path / "bomb.yaml").write_text(text)
        code, _, err, elapsed = kfboot("plan", "--offline", "-f", str(tmp_path / "bomb.yaml"))
    elif where == "profile":
        (tmp_path / "bomb.yaml").write_text(BOMB)
        code, _, err, elapsed = kfboot("profiles", "validate", str(tmp_path / "bomb.yaml"))
    else:
        (tmp_path / "bomb.yaml").write_text(BOMB)
        code, _, err, elapsed = kfboot("profiles", "list", "--profiles-dir", str(tmp_path))
    assert code == 2
    assert elapsed < 1.0
    assert "expands to more than 100,000 nodes" in err
    assert POSITIONED.search(err) and "bomb.yaml:" in err


@pytest.mark.parametrize(("text", "message"), [
    ("a: " + "[" * 200 + "]" * 200 + "\n", "nested deeper than 64 levels"),
    ("a: &x 1\n" + "".join(f"k{i}: *x\n" for i in range(101)), "more than 100 aliases"),
    ("a: 1\n" + "b: " + "x" * (1 << 20) + "\n", "larger than 1024 KiB"),
    ("a: 1\nb: x\x07y\n", "2:5: invalid YAML: character 0x7 is not allowed here"),
])
def test_depth_aliases_size_and_control_characters_are_bounded_with_a_position(
        tmp_path: Path, text: str, message: str) -> None:
    assert message in config_error(tmp_path, text)


def test_non_utf8_file_gets_file_line_col(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"metadata:\n  name: caf\xe9\n")
    code, _, err, _ = kfboot("plan", "--offline", "-f", str(path))
    assert code == 2
    assert f"{path}:2:12: not UTF-8 text (byte 0xe9)" in err


def test_key_names_with_newlines_and_control_characters_are_quoted_escaped(tmp_path: Path) -> None:
    err = config_error(tmp_path, 'install:\n  "para\\nllel\\u001b[31m": 3\n')
    line = next(ln for ln in err.splitlines() if "para" in ln)
    assert "para\\nllel\\x1b[31m" in line and "\x1b" not in err
    assert line.startswith("error: ") and ":2:3: install.para" in line


# -- upper bounds -----------------------------------------------------------------------------------
POOL = """\
gpu:
  pools:
  - name: p
    profile: A100-80GB
{extra}"""


@pytest.mark.parametrize(("text", "where", "message"), [
    (POOL.format(extra="    sharing: {mode: mig, mig: {geometry: {'0-99999999999': 1g.10gb=7}}}\n"), ":5:",
     "GPU selector"),
    (POOL.format(extra="    sharing: {mode: mig, mig: {geometry: {'0-99': 1g.10gb=7}}}\n"), ":5:", "out of range"),
    (POOL.format(extra="    gpusPerNode: 100000\n"), ":5:5: gpu.pools[0].gpusPerNode", "less than or equal to 64"),
    (POOL.format(extra="    nodeCount: 1000000000\n"), ":5:5: gpu.pools[0].nodeCount", "less than or equal to 100000"),
    (POOL.format(extra="    sharing: {mode: time-slicing, timeSlicing: {replicas: 100000000000000000000000}}\n"),
     ":5:", "less than or equal to 1024"),
    (POOL.format(extra="    sharing: {mode: time-slicing, timeSlicing: {replicas: true}}\n"), ":5:",
     "valid integer"),
    (POOL.format(extra="    nodes: [Bad_Node!]\n"), ":5:13: gpu.pools[0].nodes[0]", "pattern"),
    (POOL.format(extra="    nodes: [" + "a" * 300 + "]\n"), ":5:13: gpu.pools[0].nodes[0]", "at most 253"),
    (POOL.format(extra="    nodeSelector: {'bad key!': x}\n"), ":5:5: gpu.pools[0].nodeSelector", "not a label key"),
    (POOL.format(extra="    nodeSelector: {pool: 'white space'}\n"), ":5:5", "not a label value"),
    ("install: {parallel: true}\n", ":1:11: install.parallel", "valid integer"),
    ("install: {timeout: .inf}\n", ":1:11: install.timeout", "finite number"),
    ("install: {timeout: 1e10}\n", ":1:11: install.timeout", "less than or equal to 86400"),
    ("install: {timeout: 0.0001}\n", ":1:11: install.timeout", "greater than or equal to 1"),
    ("metadata: {name: " + "a" * 100_000 + "}\n", ":1:12: metadata.name", "pattern"),
    ("components: {dex: {initialUser: {passwordSecret: {name: s, namespace: Bad_NS!!}}}}\n",
     "components.dex.initialUser.passwordSecret.namespace", "pattern"),
])
def test_numbers_and_names_past_their_bounds_are_config_errors(
        tmp_path: Path, text: str, where: str, message: str) -> None:
    err = config_error(tmp_path, text)
    assert where in err and message in err, err


@pytest.mark.parametrize("args", [
    ["render", "mig", "--gpu", "A100-80GB", "--geometry", "all-1g.10gb", "--gpus", "9223372036854775808"],
    ["render", "mig", "--gpu", "A100-80GB", "--geometry", "all-7g.80gb", "--gpus", "100000000"],
    ["render", "time-slicing", "--gpu", "L4", "--replicas", "100000000000000000000000"],
    ["render", "time-slicing", "--gpu", "L4", "--replicas", "4", "--namespace", "Bad_NS!!"],
    ["--timeout", "inf", "plan", "--offline"],
    ["--timeout", "1e10", "plan", "--offline"],
    ["--timeout", "0.0001", "plan", "--offline"],
    ["install", "--parallel", "1000", "--context", "x"],
])
def test_cli_numbers_follow_the_same_bounds_as_the_config(args: list[str]) -> None:
    code, _, err, elapsed = kfboot(*args)
    assert code == 2, err
    assert elapsed < 1.0


def test_disabled_everywhere_is_the_same_error_as_all_disabled() -> None:
    _, _, named, _ = kfboot("render", "mig", "--gpu", "A100-80GB", "--geometry", "all-disabled")
    _, _, spelled, _ = kfboot("render", "mig", "--gpu", "A100-80GB", "--geometry", "disabled")
    assert "turns MIG off; use `mode: none`" in named
    assert named == spelled


def test_zero_counts_are_dropped_and_all_zero_is_refused() -> None:
    code, _, err, _ = kfboot("render", "mig", "--gpu", "A100-80GB", "--geometry", "1g.10gb=0")
    assert code == 2 and "creates no MIG instance" in err and "`disabled`" in err
    _, with_zero, _, _ = kfboot("-o", "json", "render", "mig", "--gpu", "A100-80GB", "--geometry",
                                "1g.10gb=0,2g.20gb=3")
    _, without, _, _ = kfboot("-o", "json", "render", "mig", "--gpu", "A100-80GB", "--geometry", "2g.20gb=3")
    assert with_zero == without


# -- kubectl habits: stdin and stdout -----------------------------------------------------------------
def test_f_dash_reads_the_config_from_stdin_with_positions() -> None:
    code, out, _, _ = kfboot("-o", "json", "plan", "--offline", "-f", "-",
                             input="components:\n  kuberay: {enabled: false}\n")
    assert code == 0 and '"kuberay"' in out
    code, _, err, _ = kfboot("plan", "--offline", "-f", "-", input="install:\n  parallel: 0\n")
    assert code == 2 and "<stdin>:2:3: install.parallel" in err


def test_init_dash_writes_the_starter_to_stdout(tmp_path: Path) -> None:
    code, out, _, _ = kfboot("init", "-")
    assert code == 0 and out.startswith("# kfboot Platform config")
    assert not (Path.cwd() / "-").exists()
    (tmp_path / "k.yaml").write_text(out)
    assert kfboot("plan", "--offline", "-f", str(tmp_path / "k.yaml"))[0] == 0


# -- OSError: never a traceback, always the path and what to do ----------------------------------------
def test_init_into_a_missing_directory_or_a_full_disk(tmp_path: Path) -> None:
    code, _, err, _ = kfboot("init", str(tmp_path / "nope" / "kfboot.yaml"))
    assert code == 2 and "does not exist" in err and "mkdir -p" in err
    code, _, err, _ = kfboot("init", "/dev/full", "--force")
    assert code == 2 and "No space left on device" in err and "hint:" in err


def test_unwritable_output_dir_says_which_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err, _ = kfboot("render", "mig", "--gpu", "A100-80GB", "--geometry", "all-balanced",
                             "--output-dir", str(blocker / "out"))
    assert code == 2
    assert f"cannot use {blocker / 'out'}" in err and "hint:" in err


def test_stdout_to_dev_full_is_an_error_not_a_traceback() -> None:
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "kfboot", "version"], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


# -- kubeconfigs ---------------------------------------------------------------------------------------
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: {server}}}}}]
users: [{{name: u, user: {user}}}]
contexts: [{{name: ctx, context: {{cluster: c, user: u}}}}]
current-context: ctx
"""


@pytest.mark.parametrize(("server", "message"), [
    ('"not a url"', "is not an https:// URL: 'not a url'"),
    ("ftp://example.com:21", "is not an https:// URL: 'ftp://example.com:21'"),
    ('""', "is not an https:// URL: ''"),
    ("https://host:notaport", "is not an https:// URL"),
])
def test_kubeconfig_with_a_bad_server_is_a_usage_error(tmp_path: Path, server: str, message: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server=server, user="{token: t}"))
    code, _, err, _ = kfboot("--kubeconfig", str(path), "status")
    assert code == 2 and message in err and "hint: fix `clusters[].cluster.server`" in err


def test_binary_kubeconfig_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(bytes(range(256)) * 8)
    code, _, err, _ = kfboot("--kubeconfig", str(path), "status")
    assert code == 2 and err.startswith(f"error: cannot load Kubernetes configuration {path}")


def test_exec_credential_plugin_failure_stops_with_the_plugins_message(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    user = ('{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, interactiveMode: Never, '
            'args: ["-c", "echo token expired, run my-login >&2; exit 3"]}}')
    path.write_text(KUBECONFIG.format(server="https://127.0.0.1:1", user=user))
    code, _, err, _ = kfboot("--kubeconfig", str(path), "status")
    assert code == 2
    assert "credential plugin" in err and "token expired, run my-login" in err
    assert "ERROR:root" not in err and "cannot reach" not in err


def test_rejected_credentials_say_so(fake_kube, tmp_path: Path) -> None:
    from tests.fakekube.faults import Fault

    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    fake_kube.inject(Fault(error_rate=1.0, status=401))
    code, _, err, _ = kfboot("--kubeconfig", str(kubeconfig), "status")
    assert code == 1
    assert "rejected the credentials (401 Unauthorized)" in err and "check the cluster is up" not in err


# -- saved verification logs ---------------------------------------------------------------------------
def test_saved_nccl_log_with_an_infinite_number_is_judged_not_crashed(tmp_path: Path) -> None:
    """Found by benchmarks/fuzz.py: `1e309` in the #wrong column raised OverflowError in the verdict."""
    source = Path(__file__).parent / "gpu" / "fixtures" / "nccl" / "all_reduce_perf-8xA100-SXM4-80GB-single-node.log"
    lines = source.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.split()[:2] == ["8", "2"])
    lines[row] = lines[row].rsplit(None, 1)[0] + " 1e309"
    log = tmp_path / "all_reduce.log"
    log.write_text("\n".join(lines) + "\n")
    code, out, err, _ = kfboot("-o", "json", "verify-gpu", "--analyze", str(log))
    assert code in (0, 1), err
    assert '"event": "nccl"' in out


def test_render_takes_the_chart_from_where_install_would() -> None:
    """Install resolves default chart versions to the verified cache bundle; render must use the same chart
    (it used the repository, so an offline render failed where install worked)."""
    from dataclasses import replace

    from kfboot.config.platform import default_platform
    from kfboot.engine.services import Services
    from kfboot.helm import ChartRef, Helm
    from kfboot.phases.build import BuildOptions, build_phases
    from kfboot.phases.helm_phase import HELM
    from tests.bed import CHARTS

    operator = next(p for p in build_phases(default_platform(), BuildOptions()) if p.name == "gpu-operator")
    assert operator.resolve_chart is not None and operator.chart.path is None  # install: the cache bundle
    local = ChartRef(operator.chart.name, operator.chart.version, path=CHARTS["gpu-operator"])
    operator = replace(operator, resolve_chart=lambda: local)  # as if the cache bundle held this chart

    rendering = operator.render(Services({HELM: lambda: Helm(None, None)}))

    assert rendering.objects, "helm template of the resolved (local) chart rendered nothing"
