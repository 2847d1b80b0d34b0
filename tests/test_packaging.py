"""What a wheel ships: data the package finds at run time must live under kfboot/ (package data)."""

from __future__ import annotations

from pathlib import Path

import kfboot

PACKAGE = Path(kfboot.__file__).resolve().parent
ROOT = PACKAGE.parent


def test_profiles_and_templates_are_package_data() -> None:
    """profiles/ and templates/ stay top-level for people; kfboot/data links them in for wheels."""
    for name in ("profiles", "templates"):
        shipped = sorted(p.name for p in (PACKAGE / "data" / name).iterdir())
        assert shipped == sorted(p.name for p in (ROOT / name).iterdir()), name
    assert 'kfboot = ["data/*.yaml", "data/**/*"]' in (ROOT / "pyproject.toml").read_text()


def test_catalog_is_package_data() -> None:
    assert (PACKAGE / "data" / "catalog.yaml").is_file()
