#!/usr/bin/env bash
# Run every kfboot benchmark from the repo root (about 30 minutes on 2 cores; bench_faults ~8,
# bench_realrender_install ~10-15). Extra args are ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.
py=.venv/bin/python
for bench in bench_help bench_apply bench_noop bench_doctor bench_critical_path bench_scale bench_faults \
    bench_realrender_noop bench_realrender_install; do
  echo "== $bench"
  "$py" "benchmarks/$bench.py"
  echo
done
