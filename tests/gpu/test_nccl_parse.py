"""nccl-tests output parsing on the real logs and on variants for every version and launcher quirk."""

from __future__ import annotations

import math

import pytest

from kfboot.gpu.nccl import human_bytes, parse_any, parse_nccl_json, parse_nccl_log, strip_prefix
from tests.gpu.nccl_logs import (
    A100_SINGLE,
    GIB,
    H100_TWO_NODES,
    PRE_213,
    json_report,
    single_node_log,
    tag_output,
)


def test_real_two_node_h100_log():
    (run,) = parse_nccl_log(H100_TWO_NODES)
    assert run.n_ranks == 16 and run.hosts == ["ztan-mig-235z", "ztan-mig-gq73"]
    assert run.gpu_names == ["NVIDIA H100 80GB HBM3"]
    assert len(run.rows) == 31 and run.rows[0].size == 8 and run.max_bytes == 8 * GIB
    last = run.rows[-1]
    assert (last.out_of_place.busbw, last.in_place.busbw, last.out_of_place.time_us) == (338.82, 337.35, 47535.0)
    assert run.out_of_bounds == 0 and run.finished and run.avg_busbw == 70.742
    assert run.wrong_total == 0 and run.checked and not run.failures
    assert run.max_bytes_requested == 8 * GIB and run.n_gpus == 1


def test_real_single_node_a100_log_with_217_header_and_trailer():
    (run,) = parse_nccl_log(A100_SINGLE)
    assert run.version == "2.19.4" and run.program == "all_reduce_perf" and run.concluded
    assert run.n_ranks == 8 and run.hosts == ["dkh"] and run.ranks[7].bus_id == "0000:d4:00"
    assert run.max_bytes == 128 << 20 and run.rows[-1].busbw == 182.90
    assert run.avg_busbw == 34.9024


def test_pre_213_error_column_no_group_old_bus_ids():
    (run,) = parse_nccl_log(PRE_213.format(e1="0e+00"))
    assert run.correctness_column == "error"
    assert [r.rank for r in run.ranks] == [0, 1, 2, 3] and run.ranks[0].group is None
    assert run.ranks[0].bus_id == "0x07" and run.ranks[0].gpu == "Tesla V100-SXM2-32GB"
    assert run.rows[0].redop == "sum" and run.rows[0].out_of_place.busbw == 135.42
    assert run.wrong_total == 0 and run.finished
    (bad,) = parse_nccl_log(PRE_213.format(e1="2e-01"))
    assert bad.wrong_total == 1 and bad.wrong_rows()[0].size == GIB


def test_wrong_values_and_not_checked():
    (run,) = parse_nccl_log(single_node_log(wrong="12", wrong_at=2 * GIB))
    assert run.wrong_total == 24 and [r.size for r in run.wrong_rows()] == [2 * GIB]
    (unchecked,) = parse_nccl_log(single_node_log(wrong="N/A"))
    assert not unchecked.checked and unchecked.rows[-1].in_place.wrong is None and unchecked.wrong_total == 0


def test_mpirun_tag_output_and_interleaved_noise():
    noisy_lines = []
    for i, line in enumerate(H100_TWO_NODES.splitlines()):
        noisy_lines.append(line)
        if i % 7 == 3:
            noisy_lines.append(f"ztan-mig-235z:6899:6950 [{i % 8}] NCCL INFO Channel 0{i % 4}/0 : 7[7] -> 8[0] [send] "
                               "via NET/IB/0/GDRDMA")
        if i == 10:
            noisy_lines.append("Warning: Permanently added 'ztan-mig-gq73' (ED25519) to the list of known hosts.")
    text = tag_output("\n".join(noisy_lines))
    assert text.startswith("[1,0]<stdout>:# nThread")
    (run,) = parse_nccl_log(text)
    assert len(run.rows) == 31 and run.n_ranks == 16 and run.finished
    assert any("GDRDMA" in line for line in run.nccl_info) and not run.failures


def test_prefixes_are_stripped():
    assert strip_prefix("[1,12]<stderr>:# Out of bounds values : 0 OK") == "# Out of bounds values : 0 OK"
    assert strip_prefix("[pod/nccl-0/nccl] 2026-11-30T10:00:00.123Z # nThread 1") == "# nThread 1"


def test_overflowed_floats_in_e_notation():
    # a slow 8 GiB row: time is too wide for its 7 columns and is printed with %.1e
    slow = "  8589934592    2147483648     float     sum      -1  1.2e+07    0.72    1.26       0  1.1e+07    0.78    1.37       0"
    lines = [slow if ln.startswith("  8589934592") else ln for ln in single_node_log().splitlines()]
    (run,) = parse_nccl_log("\n".join(lines))
    last = run.rows[-1]
    assert last.size == 8 * GIB and last.out_of_place.time_us == 1.2e7 and last.in_place.time_us == 1.1e7
    assert last.busbw == 1.37


def test_truncated_log_is_not_finished():
    (run,) = parse_nccl_log(single_node_log(truncate_after=128 << 20))
    assert not run.finished and run.max_bytes == 128 << 20 and human_bytes(run.max_bytes) == "128 MiB"


def test_errors_are_collected_with_their_words():
    tail = ["gpu-node-1: Test NCCL failure common.cu:1005 'unhandled cuda error (run with NCCL_DEBUG=INFO for details)'",
            " .. gpu-node-1 pid 4242: Test failure common.cu:891"]
    (run,) = parse_nccl_log(single_node_log(truncate_after=GIB, tail=[*tail, "launcher: rank 3 exited"]))
    assert run.failures == [line.strip() for line in tail]


def test_nccl_warn_lines_count_only_when_they_are_failures():
    info = ["gpu-node-1:4242:4300 [0] NCCL INFO NCCL_P2P_DISABLE set by environment to 1",
            "gpu-node-1:4242:4300 [1] NCCL WARN Duplicate GPU detected : rank 1 and rank 0 both on CUDA device 18000",
            "gpu-node-1:4242:4300 [1] NCCL WARN Could not find real path of /sys/class/net/eth0"]
    (run,) = parse_nccl_log(single_node_log(info=info))
    assert len(run.nccl_info) == 3 and run.failures == [info[1]]


def test_several_tests_in_one_log():
    text = single_node_log(peak=400.0) + "launcher: next test\n" + single_node_log(host="gpu-node-2", peak=300.0)
    runs = parse_nccl_log(text)
    assert [r.hosts for r in runs] == [["gpu-node-1"], ["gpu-node-2"]]
    assert [round(r.rows[-1].busbw) for r in runs] == [400, 300]
    assert all(r.version == "2.19.4" and r.finished for r in runs)


def test_per_iteration_and_timestamp_columns_map_by_header():
    header = ("#       size         count      type   redop    root     time   algbw   busbw  #wrong    i_min    i_max"
              "    i_p99    i_cv%     time   algbw   busbw  #wrong    i_min    i_max    i_p99    i_cv%           timestamp")
    row = ("  1073741824     268435456     float     sum      -1   2361.0  454.78  795.86       0   2300.1   2400.2"
           "   2399.0     0.81   2360.0  454.97  796.20       0   2301.0   2401.0   2398.0     0.80  2026-11-30 10:00:01")
    (run,) = parse_nccl_log(f"# nThread 1 nGpus 8 minBytes 1073741824 maxBytes 1073741824 step: 2(factor)\n"
                            f"{header}\n{row}\n# Out of bounds values : 0 OK\n")
    (r,) = run.rows
    assert (r.out_of_place.busbw, r.in_place.busbw, r.in_place.wrong) == (795.86, 796.20, 0)


def test_rows_without_header_still_parse():
    row = "  4294967296    1073741824     float     sum      -1  16235.4  264.54  462.95       0  16235.4  264.54  462.95    N/A"
    (run,) = parse_nccl_log(row + "\n")
    assert run.rows[0].busbw == 462.95 and run.rows[0].in_place.wrong is None


def test_json_report_round_trip():
    log = single_node_log(peak=455.0)
    run = parse_nccl_json(json_report(log))
    text_run = parse_nccl_log(log)[0]
    assert [r.size for r in run.rows] == [r.size for r in text_run.rows]
    assert run.rows[-1].busbw == text_run.rows[-1].busbw and run.finished and run.n_ranks == 8
    assert run.hosts == ["gpu-node-1"] and run.gpu_names == ["NVIDIA H100 80GB HBM3"]
    assert parse_any(json_report(log))[0].rows[-1].busbw == run.rows[-1].busbw


def test_json_report_errors_and_cut_files():
    run = parse_nccl_json(json_report(single_node_log(), errors=["unhandled cuda error"]))
    assert run.failures == ["# error: unhandled cuda error"]
    cut = parse_nccl_json(json_report(single_node_log(), finished=False))
    assert cut.failures and "did not finish" in cut.failures[0]


def test_nan_bandwidth_in_json_is_not_a_peak():
    log = single_node_log()
    doc = json_report(log).replace('"bus_bw": 470.0', '"bus_bw": "nan"', 1)  # out-of-place only
    run = parse_nccl_json(doc)
    assert math.isnan(run.rows[-1].out_of_place.busbw) and run.rows[-1].busbw == 470.0


@pytest.mark.parametrize(("size", "text"), [(8, "8 B"), (128 << 20, "128 MiB"), (8 * GIB, "8 GiB"), (1536, "1.5 KiB")])
def test_human_bytes(size, text):
    assert human_bytes(size) == text


def test_garbage_gives_one_empty_run():
    (run,) = parse_nccl_log("exec /usr/bin/all_reduce_perf: no such file or directory\n")
    assert not run.rows and not run.finished
