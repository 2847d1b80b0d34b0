"""Property-based runs of tests/fuzz_targets.py in CI: a few hundred examples per target (more:
`benchmarks/fuzz.py`). A failure prints the smallest input hypothesis found."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz_targets import targets

EXAMPLES = int(os.environ.get("KFBOOT_FUZZ_EXAMPLES", "200"))
MAX_RSS_GROWTH_MB = 300


@pytest.mark.parametrize("target", targets(), ids=lambda t: t.name)
def test_no_input_gets_a_traceback_or_an_unpositioned_message(target, tmp_path: Path) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(target.strategy)
    def run(example) -> None:
        target.check(example, tmp_path)

    run()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < MAX_RSS_GROWTH_MB, f"{target.name}: memory grew {grown_mb:.0f} MB"
