#!/usr/bin/env bash
# Run every kfboot benchmark from the repo root (15-20 minutes on 2 cores). Extra args are ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.
py=.venv/bin/python
for bench in bench_help bench_apply bench_noop bench_doctor bench_realrender_noop bench_realrender_install; do
  echo "== $bench"
  "$py" "benchmarks/$bench.py"
  echo
done
