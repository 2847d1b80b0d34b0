"""JUnit reports parse as CI servers read them: counts, failure text, skipped reasons."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from kfboot import junit


def test_counts_and_texts(tmp_path: Path) -> None:
    out = tmp_path / "report.xml"
    junit.write(out, "kfboot verify-gpu", [
        junit.Case("nccl node-a", "verify-gpu.nccl", 12.5),
        junit.Case("nccl node-b", "verify-gpu.nccl", 11.0, failure="peak 98.1 GB/s < 90% of 230 GB/s\nfull log"),
        junit.Case("nccl node-c", "verify-gpu.nccl", skipped="MIG-partitioned: NCCL needs whole GPUs"),
    ])
    root = ET.parse(out).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["nccl node-b"].find("failure")
    assert failure is not None and failure.get("message") == "peak 98.1 GB/s < 90% of 230 GB/s"
    assert "full log" in (failure.text or "")
    skipped = cases["nccl node-c"].find("skipped")
    assert skipped is not None and "MIG" in (skipped.get("message") or "")
    assert cases["nccl node-a"].find("failure") is None and cases["nccl node-a"].get("time") == "12.500"


def test_control_characters_from_logs_do_not_break_the_xml(tmp_path: Path) -> None:
    out = tmp_path / "r.xml"
    junit.write(out, "s", [junit.Case("c", "k", failure="NCCL WARN <&> \"quoted\"", output="a & b < c\x1b[31m red\x00")])
    case = ET.parse(out).getroot().find("testsuite/testcase")
    assert case is not None and case.findtext("system-out") == "a & b < c\ufffd[31m red\ufffd"
