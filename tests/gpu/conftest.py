from __future__ import annotations

from pathlib import Path

import pytest

from kfboot.gpu.profiles import ProfileSet, load_profiles

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def profiles() -> ProfileSet:
    return load_profiles()
