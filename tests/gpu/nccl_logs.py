"""nccl-tests logs for tests: the real fixture logs, and variants built from them or from nccl-tests'
own print formats (src/common.cu, src/util.cu) for every format and failure the parser must handle."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
H100_TWO_NODES = (FIXTURES / "nccl" / "all_reduce_perf-16xH100-80GB-two-nodes-mpirun.log").read_text()
A100_SINGLE = (FIXTURES / "nccl" / "all_reduce_perf-8xA100-SXM4-80GB-single-node.log").read_text()
GIB = 1 << 30


def sweep_rows(peak: float, *, min_size: int = 8, max_size: int = 8 * GIB, wrong: str = "0",
               wrong_at: int | None = None, ranks: int = 8) -> list[str]:
    """all_reduce rows from `min_size` to `max_size` (factor 2) whose busbw climbs to `peak` at the top,
    in 2.13+ layout; `wrong_at` puts `wrong` in the #wrong columns of that size only."""
    rows = []
    size = min_size
    factor = 2 * (ranks - 1) / ranks
    while size <= max_size:
        share = 0.97 + 0.03 * size / max_size if size >= GIB else 0.9 * (size / GIB) ** 0.3
        busbw = peak * share
        algbw = busbw / factor
        time_us = size / 1e3 / max(algbw, 1e-9)
        w = wrong if wrong_at is None or wrong_at == size else "0"
        rows.append(f"{size:12d}  {size // 4:12d}     float     sum      -1  {_f(time_us, 7)}  {_f(algbw, 6)}  "
                    f"{_f(busbw, 6)}  {w:>6}  {_f(time_us, 7)}  {_f(algbw, 6)}  {_f(busbw, 6)}  {w:>6}")
        size *= 2
    return rows


def _f(value: float, width: int) -> str:
    """nccl-tests' getFloatStr: fewer decimals as numbers grow, `%.1e` when they do not fit."""
    power = 0
    v = 1
    while value >= v:
        power += 1
        v *= 10
    if power < width - 2:
        return f"{value:{width}.2f}"
    if power < width - 1:
        return f"{value:{width}.1f}"
    if power < width + 1:
        return f"{value:{width}.0f}"
    return f"{value:{width}.1e}"


def single_node_log(host: str = "gpu-node-1", *, gpus: int = 8, peak: float = 470.0, gpu: str = "NVIDIA H100 80GB HBM3",
                    max_size: int = 8 * GIB, wrong: str = "0", wrong_at: int | None = None, oob: int = 0,
                    info: list[str] | None = None, tail: list[str] | None = None, truncate_after: int | None = None) -> str:
    """A 2.19-style single-node log (version and starting lines, unalign, trailer, concluded)."""
    lines = [
        "# nccl-tests version 2.19.4 nccl-headers=22703 nccl-library=22703",
        "# Collective test starting: all_reduce_perf",
        f"# nThread 1 nGpus {gpus} minBytes 8 maxBytes {max_size} step: 2(factor) warmup iters: 1 iters: 20 "
        "agg iters: 1 validation: 1 graph: 0 unalign: 0",
        "#",
        "# Using devices",
    ]
    lines += [f"#  Rank {i:2d} Group  0 Pid   4242 on {host:>10} device {i:2d} [0000:{0x18 + i:02x}:00] {gpu}"
              for i in range(gpus)]
    lines += info or []
    lines += [
        "#",
        "#                                                              out-of-place                       in-place          ",
        "#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw   busbw  #wrong ",
        "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)             (us)  (GB/s)  (GB/s)         ",
    ]
    rows = sweep_rows(peak, max_size=max_size, wrong=wrong, wrong_at=wrong_at, ranks=gpus)
    if truncate_after is not None:
        rows = [r for r in rows if int(r.split()[0]) <= truncate_after]
        return "\n".join(lines + rows + (tail or [])) + "\n"
    lines += rows
    lines += [
        f"# Out of bounds values : {oob} {'FAILED' if oob else 'OK'}",
        "# Avg bus bandwidth    : 95.3312 ",
        "#",
        "# Collective test concluded: all_reduce_perf",
        "#",
    ]
    return "\n".join(lines + (tail or [])) + "\n"


# nccl-tests before 2.13 (2.11, 2021): `error` float column, no Group, bus ids as [0x18], no version line
PRE_213 = """\
# nThread 1 nGpus 4 minBytes 1073741824 maxBytes 4294967296 step: 2(factor) warmup iters: 5 iters: 20 validation: 1
#
# Using devices
#   Rank  0 Pid  31337 on    dgx-old device  0 [0x07] Tesla V100-SXM2-32GB
#   Rank  1 Pid  31337 on    dgx-old device  1 [0x0a] Tesla V100-SXM2-32GB
#   Rank  2 Pid  31337 on    dgx-old device  2 [0x47] Tesla V100-SXM2-32GB
#   Rank  3 Pid  31337 on    dgx-old device  3 [0x4d] Tesla V100-SXM2-32GB
#
#                                                       out-of-place                       in-place
#       size         count      type   redop     time   algbw   busbw  error     time   algbw   busbw  error
#        (B)    (elements)                       (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
  1073741824     268435456     float     sum    11893   90.28  135.42  {e1}    11874   90.43  135.64  0e+00
  2147483648     536870912     float     sum    23620   90.92  136.38  0e+00    23615   90.94  136.41  0e+00
  4294967296    1073741824     float     sum    47136   91.12  136.68  0e+00    47119   91.15  136.73  0e+00
# Out of bounds values : 0 OK
# Avg bus bandwidth    : 136.21
#
"""


def tag_output(text: str, rank: int = 0) -> str:
    """mpirun --tag-output: every line prefixed with `[jobid,rank]<stdout>:`."""
    return "".join(f"[1,{rank}]<stdout>:{line}\n" for line in text.splitlines())


def json_report(log: str, *, errors: list[str] | None = None, finished: bool = True) -> str:
    """nccl-tests' `-J FILE` report (JSON format version 2) for the rows of a text log."""
    from kfboot.gpu.nccl import parse_nccl_log

    run = parse_nccl_log(log)[0]
    doc: dict = {
        "version": 2, "start_time": "2026-11-30 10:00:00", "args": ["all_reduce_perf", "-b", "8", "-e", "8G"],
        "env": ["NCCL_DEBUG=WARN"], "nccl_version": 22703,
        "config": {"nthreads": 1, "ngpus": run.n_gpus, "minimum_bytes": run.min_bytes,
                   "maximum_bytes": run.max_bytes_requested, "step_factor": 2, "warmup_iters": 1, "iterations": 20,
                   "aggregated_iterations": 1, "validation": 1, "graph": 0, "blocking_collectives": "false",
                   "per_iter_timing": "false", "parallel_init": "false",
                   "devices": [{"rank": r.rank, "group": 0, "pid": 4242, "hostname": r.host, "device": r.device,
                                "device_hex": r.bus_id, "device_info": r.gpu} for r in run.ranks]},
        "results": [
            {"size": row.size, "count": row.count, "type": row.dtype, "redop": row.redop, "root": "    -1",
             "out_of_place": {"time": row.out_of_place.time_us, "alg_bw": row.out_of_place.algbw,
                              "bus_bw": row.out_of_place.busbw, "nwrong": row.out_of_place.wrong},
             "in_place": {"time": row.in_place.time_us, "alg_bw": row.in_place.algbw,
                          "bus_bw": row.in_place.busbw, "nwrong": row.in_place.wrong},
             "actual_iterations": 20, "experiment_name": "all_reduce_perf"}
            for row in run.rows if row.out_of_place and row.in_place
        ],
    }
    if finished:
        doc["out_of_bounds"] = {"count": run.out_of_bounds or 0, "okay": "true"}
        doc["average_bus_bandwidth"] = {"bandwidth": run.avg_busbw, "okay": "unchecked"}
        doc["errors"] = errors or []
        doc["end_time"] = "2026-11-30 10:01:00"
    text = json.dumps(doc)
    return text if finished else text[: len(text) // 2]
