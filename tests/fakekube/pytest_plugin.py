"""pytest plugin: ``fake_kube`` yields a started FakeKube (function scope) and stops it afterwards.

Register with ``pytest_plugins = ["tests.fakekube.pytest_plugin"]`` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import FakeKube


@pytest.fixture
def fake_kube() -> Iterator[FakeKube]:
    fk = FakeKube(seed=0, ready_delay=0.0)
    fk.start()
    try:
        yield fk
    finally:
        fk.stop()
