"""Fuzz every input target of tests/fuzz_targets.py with many more examples than CI runs.

Unlike the test, a failing example does not stop the run: each distinct failure (exception type and
first line of its message) is counted once, with the smallest example that showed it. Prints a
table, then one JSON line: {"benchmark": "fuzz", "targets": {name: {examples, failures, seconds}}, ...}.

    .venv/bin/python benchmarks/fuzz.py --examples 2000 [--seed N] [--target config]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any

from _common import machine, table  # also puts the repo root on sys.path
from hypothesis import HealthCheck, given, seed, settings

from tests.fuzz_targets import scratch, targets


def signature(exc: BaseException) -> str:
    """One failure, whatever the input: the exception type and its first line without the quoted parts."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: " + re.sub(r"'[^']*'|\"[^\"]*\"|#x[0-9a-fA-F]+|\d+", "…", first)[:120]


def fuzz(target: Any, examples: int, run_seed: int) -> dict[str, Any]:
    failures: dict[str, str] = {}
    count = 0
    started = time.monotonic()
    with scratch() as tmp:
        from pathlib import Path

        @seed(run_seed)
        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(target.strategy)
        def run(example: Any) -> None:
            nonlocal count
            count += 1
            try:
                target.check(example, Path(tmp))
            except Exception as exc:  # record and go on: every distinct failure, not just the first
                key = signature(exc)
                shown = repr(example)
                if key not in failures or len(shown) < len(failures[key]):
                    failures[key] = shown[:300]

        run()
    return {"examples": count, "failures": len(failures), "seconds": round(time.monotonic() - started, 1),
            "distinct": failures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per target (CI runs 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", action="append", help="only these targets (repeatable)")
    args = parser.parse_args()
    chosen = [t for t in targets() if not args.target or t.name in args.target]
    results = {t.name: fuzz(t, args.examples, args.seed) for t in chosen}
    print(table(["target", "examples", "failures", "seconds"],
                [[name, r["examples"], r["failures"], r["seconds"]] for name, r in results.items()]),
          file=sys.stderr)
    for name, r in results.items():
        for key, example in r["distinct"].items():
            print(f"{name}: {key}\n    e.g. {example}", file=sys.stderr)
    print(json.dumps({"benchmark": "fuzz", "seed": args.seed, "examples_per_target": args.examples,
                      "targets": results, "machine": machine()}))
    return 1 if any(r["failures"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
