"""`kfboot verify-gpu --analyze`: the same verdicts on saved logs, charts, JSON events against the schema, JUnit."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.gpu.report import EVENTS_SCHEMA, classify
from tests.gpu.nccl_logs import FIXTURES, PRE_213, json_report, single_node_log, tag_output
from tests.gpu.smi_outputs import QUERY_8XH100, query_details, topo

SCHEMA = json.loads(EVENTS_SCHEMA.read_text())
H100_LOG = FIXTURES / "nccl" / "all_reduce_perf-16xH100-80GB-two-nodes-mpirun.log"
A100_LOG = FIXTURES / "nccl" / "all_reduce_perf-8xA100-SXM4-80GB-single-node.log"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def events(result) -> list[dict]:
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    for event in out:
        jsonschema.validate(event, SCHEMA)
    assert out[-1]["event"] == "summary"
    return out


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_real_logs_text_report_and_exit_code():
    result = run("verify-gpu", "--analyze", str(H100_LOG), str(A100_LOG))
    assert result.exit_code == 1
    out = result.stdout
    assert "ztan-mig-235z+ztan-mig-gq73" in out and "338.8" in out and "87% of the expected 390 GB/s" in out
    assert "inconclusive" in out and "largest message is 128 MiB" in out
    assert "8 GiB │" in out and "┊" in out  # the terminal chart with the pass line
    assert "not passed: 1 failed, 1 inconclusive" in out


def test_json_events_follow_the_schema():
    result = run("-o", "json", "verify-gpu", "--analyze", str(H100_LOG), str(A100_LOG))
    assert result.exit_code == 1
    ev = events(result)
    nccl = {e["name"]: e for e in ev if e["event"] == "nccl"}
    two = nccl["ztan-mig-235z+ztan-mig-gq73"]
    assert two["node"] is None and two["nodes"] == ["ztan-mig-235z", "ztan-mig-gq73"] and two["kind"] == "multi-node"
    assert (two["peak_busbw_gbps"], two["avg_busbw_gbps"], two["max_bytes"], two["ranks"]) == (338.82, 70.742, 8 << 30, 16)
    assert two["wrong"] == 0 and two["out_of_bounds"] == 0 and two["expected_gbps"] == 390 and not two["passed"]
    assert nccl["dkh"]["status"] == "inconclusive" and nccl["dkh"]["node"] == "dkh"
    summary = ev[-1]
    assert summary["ok"] is False and summary["exitCode"] == 1 and summary["counts"]["inconclusive"] == 1


def test_min_busbw_overrides_and_passing_exits_zero():
    result = run("-o", "json", "verify-gpu", "--analyze", str(H100_LOG), "--min-busbw", "330")
    assert result.exit_code == 0, result.output
    (test,) = [e for e in events(result) if e["event"] == "nccl"]
    assert test["passed"] and test["expected_gbps"] == 330 and test["expected_source"] == "--min-busbw"


def test_profile_option_and_nics(tmp_path):
    log = write(tmp_path, "pcie.log", single_node_log(peak=21.0, gpu="NVIDIA L4", gpus=4))
    ok = events(run("-o", "json", "verify-gpu", "--analyze", log, "--profile", "L4"))
    assert ok[0]["passed"] and ok[0]["expected_gbps"] == 20
    bad = run("verify-gpu", "--analyze", log, "--profile", "no-such-gpu")
    assert bad.exit_code == 2 and "unknown hardware profile 'no-such-gpu'" in bad.output


def test_every_log_format_through_the_cli(tmp_path):
    files = [
        write(tmp_path, "pre213.log", PRE_213.format(e1="0e+00")),
        write(tmp_path, "tagged.log", tag_output(single_node_log(host="tagged", peak=470.0))),
        write(tmp_path, "report.json", json_report(single_node_log(host="json-node", peak=460.0))),
        write(tmp_path, "wrong.log", single_node_log(host="wrong-node", wrong="5", wrong_at=1 << 30)),
        write(tmp_path, "cut.log", single_node_log(host="cut-node", truncate_after=128 << 20)),
    ]
    ev = events(run("-o", "json", "verify-gpu", "--analyze", *files, "--profile", "H100-80GB-SXM"))
    by = {e["name"]: e for e in ev if e["event"] == "nccl"}
    assert by["tagged"]["passed"] and by["json-node"]["passed"]
    assert "10 wrong values at 1 GiB" in by["wrong-node"]["reason"]
    assert by["cut-node"]["reason"] == "the log ends at 128 MiB: the test did not finish"
    assert by["dgx-old"]["status"] == "failed"  # V100 numbers judged against the forced H100 profile


def test_outlier_among_saved_logs(tmp_path):
    files = [write(tmp_path, f"n{i}.log", single_node_log(host=f"gpu-{i}", peak=p))
             for i, p in enumerate([471, 469, 470, 415])]
    ev = events(run("-o", "json", "verify-gpu", "--analyze", *files))
    slow = next(e for e in ev if e["event"] == "nccl" and e["name"] == "gpu-3")
    assert slow["outlier"] and not slow["passed"] and "fleet median" in slow["reason"]
    assert ev[-1]["outliers"] == ["gpu-3"]


def test_nvidia_smi_outputs(tmp_path):
    files = [write(tmp_path, "query.csv", QUERY_8XH100), write(tmp_path, "topo.txt", topo(odd={(0, 7): "SYS"})),
             write(tmp_path, "q.txt", query_details([("In Progress", "N/A")] * 8))]
    assert [classify((tmp_path / n).read_text()) for n in ("query.csv", "topo.txt", "q.txt")] == ["query", "topo", "details"]
    result = run("-o", "json", "verify-gpu", "--analyze", *files, "--node", "hgx-7")
    (smi,) = [e for e in events(result) if e["event"] == "nvidia-smi"]
    assert smi["node"] == "hgx-7" and not smi["passed"] and result.exit_code == 1
    failed = {c["name"] for c in smi["checks"] if not c["passed"]}
    assert failed == {"nvlink", "fabric-manager"}


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_plot_image(tmp_path, suffix):
    out = tmp_path / f"busbw.{suffix}"
    result = run("verify-gpu", "--analyze", str(H100_LOG), "--plot", str(out), "--no-chart")
    assert result.exit_code == 1 and out.stat().st_size > 10_000
    head = out.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in out.read_bytes()[:1000]
    assert "8 GiB │" not in result.stdout


def test_plot_needs_png_or_svg(tmp_path):
    result = run("verify-gpu", "--analyze", str(H100_LOG), "--plot", str(tmp_path / "x.jpg"))
    assert result.exit_code == 2 and "must end in .png or .svg" in result.output


def test_junit_report(tmp_path):
    report = tmp_path / "junit.xml"
    run("verify-gpu", "--analyze", str(H100_LOG), str(A100_LOG), "--junit", str(report))
    cases = {c.get("name"): c for c in ET.parse(report).getroot().iter("testcase")}
    assert set(cases) == {"nccl ztan-mig-235z+ztan-mig-gq73", "nccl dkh"}
    assert cases["nccl dkh"].find("failure").get("message").startswith("the largest message is 128 MiB")


def test_usage_errors(tmp_path):
    assert run("verify-gpu", "--analyze").exit_code == 2
    assert "need --analyze" in run("verify-gpu", str(H100_LOG)).output
    junk = write(tmp_path, "notes.txt", "hello world\n")
    result = run("verify-gpu", "--analyze", junk)
    assert result.exit_code == 2 and "neither nccl-tests nor nvidia-smi output" in result.output


@pytest.mark.parametrize(("args", "heavy"), [(["--help"], ("matplotlib", "kubernetes", "pydantic")),
                                             (["verify-gpu", "--help"], ("matplotlib", "kubernetes"))])
def test_help_does_not_import_plotting_or_kubernetes(args, heavy):
    code = ("import sys; from typer.testing import CliRunner; from kfboot.cli.app import app; "
            f"r = CliRunner().invoke(app, {args!r}); assert r.exit_code == 0, r.output; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
