"""JUnit XML for CI systems: one writer shared by every command that judges something
(verify-gpu, doctor, verify), so they all look the same in a CI test report."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# XML 1.0 forbids most C0 controls; pod logs carry them (ANSI colour escapes, \r progress bars)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True)
class Case:
    """One judged check. `failure` or `skipped` holds the reason; neither means it passed."""

    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None
    skipped: str | None = None
    output: str = ""


def render(suite: str, cases: Iterable[Case]) -> str:
    """The XML document (a <testsuites> with one <testsuite>), as CI servers parse it."""
    cases = list(cases)
    failures = sum(1 for c in cases if c.failure is not None)
    skipped = sum(1 for c in cases if c.failure is None and c.skipped is not None)
    total = sum(c.seconds for c in cases)
    root = ET.Element("testsuites", name=suite, tests=str(len(cases)), failures=str(failures),
                      errors="0", skipped=str(skipped), time=f"{total:.3f}")
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
                         errors="0", skipped=str(skipped), time=f"{total:.3f}")
    for case in cases:
        el = ET.SubElement(node, "testcase", name=case.name, classname=case.classname, time=f"{case.seconds:.3f}")
        if case.failure is not None:
            first = case.failure.splitlines()[0] if case.failure else ""
            ET.SubElement(el, "failure", message=_clean(first)).text = _clean(case.failure)
        elif case.skipped is not None:
            ET.SubElement(el, "skipped", message=_clean(case.skipped))
        if case.output:
            ET.SubElement(el, "system-out").text = _clean(case.output)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(path: Path, suite: str, cases: Iterable[Case]) -> None:
    """Write the report atomically (a CI step never reads half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(suite, cases), encoding="utf-8")
    tmp.replace(path)
