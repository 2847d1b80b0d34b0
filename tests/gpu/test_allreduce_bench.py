"""kfboot's torch.distributed benchmark prints what the nccl-tests parser reads (no torch or GPU needed:
the printing helpers are pure; the measuring part needs a GPU and runs only on a cluster)."""

from __future__ import annotations

import importlib.util

from kfboot.gpu.expected import Expectation
from kfboot.gpu.nccl import parse_nccl_log, parse_size
from kfboot.gpu.verdict import judge
from kfboot.verify.gpu_run import BENCH_SCRIPT


def bench():
    spec = importlib.util.spec_from_file_location("allreduce_bench", BENCH_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_ships_as_package_data_and_imports_without_torch():
    b = bench()
    assert b.parse_size("8G") == 8 << 30 == parse_size("8G") and b.parse_size("512M") == parse_size("512M")
    assert b.sizes(8, 64) == [8, 16, 32, 64]


def test_its_output_is_judged_like_all_reduce_perf():
    b = bench()
    world, nodes = 16, ["gpu-a", "gpu-b"]
    lines = b.header(world, 8, 8 << 30, 5, 20, "torch 2.9.0, nccl 2.27.7")
    lines += [b.rank_line(8 * i + d, 100 + d, n, d, f"0000:{0x18 + d:02x}:00", "NVIDIA H100 80GB HBM3")
              for i, n in enumerate(nodes) for d in range(8)]
    lines += b.COLUMNS
    busbws = []
    for size in b.sizes(8, 8 << 30):
        seconds = 25e-6 + size / (190e9)  # latency + ≈190 GB/s algbw at large sizes
        line, busbw = b.row(size, size // 4, seconds, world, 0)
        lines.append(line)
        busbws.append(busbw)
    lines += b.trailer(sum(busbws) / len(busbws), 0)
    (run,) = parse_nccl_log("\n".join(lines))
    assert run.hosts == nodes and run.n_ranks == 16 and len(run.rows) == 31 and run.finished and run.concluded
    assert run.rows[-1].out_of_place.busbw == run.rows[-1].in_place.busbw == round(busbws[-1], 2)
    v = judge(run, Expectation(300.0, "test"))
    assert v.passed and v.peak_size == 8 << 30 and 350 < v.peak_busbw < 360


def test_wrong_values_reach_the_trailer():
    b = bench()
    line, _ = b.row(1 << 30, (1 << 30) // 4, 0.01, 8, 12)
    text = "\n".join([*b.COLUMNS, line, *b.trailer(50.0, 12)])
    (run,) = parse_nccl_log(text)
    assert run.wrong_total == 24 and run.out_of_bounds == 1
    assert judge(run, Expectation(None, "none")).status == "failed"
