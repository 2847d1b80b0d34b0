"""External tools: found in the documented order, version-checked, and explained when missing or failing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kfboot import tools
from kfboot.errors import EXIT_USAGE


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only our fake tools (plus /bin for sh)."""
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", f"{d}{os.pathsep}/bin{os.pathsep}/usr/bin")
    monkeypatch.delenv("KFBOOT_KIND", raising=False)
    return d


def test_missing_tool_is_an_environment_error_with_the_fix(bin_dir: Path) -> None:
    with pytest.raises(tools.ToolMissing) as err:
        tools.find("kind")
    assert err.value.exit_code == EXIT_USAGE
    assert "kind was not found" in err.value.message and "KFBOOT_KIND" in err.value.message
    assert "kind.sigs.k8s.io" in (err.value.hint or "")


def test_env_override_wins_and_must_exist(bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _script(bin_dir / "kind", "echo path")
    override = _script(tmp_path / "my-kind", "echo override")
    monkeypatch.setenv("KFBOOT_KIND", str(override))
    assert tools.find("kind") == str(override)
    monkeypatch.setenv("KFBOOT_KIND", str(tmp_path / "nope"))
    with pytest.raises(tools.ToolMissing, match=r"KFBOOT_KIND=.*nope is not an executable"):
        tools.find("kind")


def test_path_lookup_and_run_returns_output(bin_dir: Path) -> None:
    _script(bin_dir / "kind", 'echo "out:$*"; echo "err" >&2')
    result = tools.run("kind", ["get", "clusters"])
    assert result.returncode == 0 and result.stdout == "out:get clusters\n" and result.stderr == "err\n"


def test_failure_quotes_stderr(bin_dir: Path) -> None:
    _script(bin_dir / "kind", 'echo "ERROR: failed to create cluster: node(s) already exist" >&2; exit 1')
    with pytest.raises(tools.ToolFailed) as err:
        tools.run("kind", ["create", "cluster"])
    assert err.value.returncode == 1
    assert "node(s) already exist" in err.value.message
    assert tools.run("kind", ["create"], check=False).returncode == 1


def test_deadline_is_enforced(bin_dir: Path) -> None:
    _script(bin_dir / "kind", "sleep 5")
    with pytest.raises(tools.ToolFailed, match=r"did not finish within 0\.3s"):
        tools.run("kind", ["create", "cluster"], timeout=0.3)


@pytest.mark.parametrize(("output", "parsed"), [
    ("kind v0.31.0 go1.25.5 linux/amd64", (0, 31, 0)),
    ("Client Version: v1.37.1\nKustomize Version: v5.7.1", (1, 37, 1)),
    ("v4.1.4+g05fa379", (4, 1, 4)),
    ("28.1", (28, 1)),
    ("no version here", None),
])
def test_version_parsing_of_real_outputs(output: str, parsed: tuple[int, ...] | None) -> None:
    assert tools.parse_version(output) == parsed


def test_too_old_names_both_versions(bin_dir: Path) -> None:
    _script(bin_dir / "kind", "echo kind v0.20.0 go1.20 linux/amd64")
    with pytest.raises(tools.ToolTooOld) as err:
        tools.require("kind")
    assert "kind 0.20.0" in err.value.message and "0.27 or newer" in err.value.message
    _script(bin_dir / "kind", "echo kind v0.31.0 go1.25.5 linux/amd64")
    assert tools.require("kind") == str(bin_dir / "kind")
