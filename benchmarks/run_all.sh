#!/usr/bin/env bash
# Run every kfboot benchmark from the repo root (about 12 minutes on 2 cores; bench_faults alone ~8).
# Extra args are ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.
py=.venv/bin/python
for bench in bench_help bench_apply bench_noop bench_doctor bench_critical_path bench_scale bench_faults; do
  echo "== $bench"
  "$py" "benchmarks/$bench.py"
  echo
done
