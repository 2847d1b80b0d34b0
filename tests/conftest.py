"""Shared fixtures: the in-process fake API server and helpers to build kfboot against it."""

from pathlib import Path

import pytest

from tests.bed import HELMS

pytest_plugins = ["tests.fakekube.pytest_plugin"]


@pytest.fixture(params=sorted(HELMS))
def helm_bin(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each real Helm binary in turn, with its cache/config/data in the test's own directory."""
    path = HELMS[request.param]
    if not path.exists():
        pytest.skip(f"{path} missing: run scripts/setup --dev")
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    return path
