"""Verdict rules, expected bandwidth per profile, transport diagnosis and fleet outliers."""

from __future__ import annotations

import pytest

from kfboot.gpu.expected import Expectation, expected_busbw, nic_busbw, parse_nics, profile_for_gpu
from kfboot.gpu.nccl import parse_nccl_log
from kfboot.gpu.transport import parse_transport, transport_problem
from kfboot.gpu.verdict import FAILED, INCONCLUSIVE, PASSED, flag_outliers, judge, peak
from tests.gpu.nccl_logs import A100_SINGLE, GIB, H100_TWO_NODES, PRE_213, single_node_log

H100 = Expectation(450.0, "profile H100-80GB-SXM, 8 GPUs over nvlink")


def verdict(text: str, expectation: Expectation = H100, interconnect: str | None = "nvlink"):
    (run,) = parse_nccl_log(text)
    return judge(run, expectation, interconnect=interconnect)


def test_pass_at_90_percent_of_expected():
    v = verdict(single_node_log(peak=470.0))
    assert v.status == PASSED and v.passed and v.peak_busbw == 470.0 and v.peak_size == 8 * GIB
    assert "104% of the expected 450 GB/s" in v.reason
    assert verdict(single_node_log(peak=406.0)).passed  # 90.2 %


def test_low_bandwidth_fails_saying_by_how_much():
    v = verdict(single_node_log(peak=300.0))
    assert v.status == FAILED
    assert "peak busbw 300.0 GB/s at 8 GiB is 67% of the expected 450 GB/s" in v.reason
    assert "≥ 405.0 GB/s" in v.reason


def test_average_bus_bandwidth_is_never_judged():
    # the trailer's average (95 GB/s) is far below 90 % of 450; the peak at ≥ 1 GiB passes
    v = verdict(single_node_log(peak=460.0))
    assert v.avg_busbw == 95.3312 and v.passed


def test_peak_only_counts_sizes_of_at_least_one_gib():
    (run,) = parse_nccl_log(H100_TWO_NODES)
    assert peak(run.rows) == (338.82, 8 * GIB)
    assert peak(run.rows, min_size=GIB)[0] > peak(run.rows[:-4], min_size=0)[0]


def test_real_a100_log_is_inconclusive_below_one_gib():
    v = verdict(A100_SINGLE, Expectation(200.0, "profile A100-80GB"))
    assert v.status == INCONCLUSIVE and not v.passed
    assert "largest message is 128 MiB" in v.reason and "-e 8G" in v.reason


def test_real_h100_two_node_log_against_the_multi_node_figure(profiles):
    (run,) = parse_nccl_log(H100_TWO_NODES)
    profile = profile_for_gpu(profiles, run.gpu_names)
    assert profile is not None and profile.name == "H100-80GB-SXM"
    exp = expected_busbw(profile, nodes=2, gpus_per_node=8)
    assert exp.gbps == 390
    v = judge(run, exp)
    assert v.status == FAILED and v.nodes == ["ztan-mig-235z", "ztan-mig-gq73"] and v.ranks == 16
    assert "338.8 GB/s at 8 GiB is 87% of the expected 390 GB/s" in v.reason
    assert judge(run, expected_busbw(profile, nodes=2, gpus_per_node=8, override=300)).passed


def test_wrong_values_fail():
    v = verdict(single_node_log(peak=470.0, wrong="3", wrong_at=4 * GIB))
    assert v.status == FAILED and v.wrong == 6
    assert "6 wrong values at 4 GiB" in v.reason


def test_pre_213_error_column_fails_above_zero():
    ok = verdict(PRE_213.format(e1="0e+00"), Expectation(120.0, "--min-busbw"))
    assert ok.passed and ok.wrong == 0
    bad = verdict(PRE_213.format(e1="2e-01"), Expectation(120.0, "--min-busbw"))
    assert bad.status == FAILED and "error column is above 0 at 1 GiB" in bad.reason


def test_out_of_bounds_fails():
    v = verdict(single_node_log(peak=470.0, oob=2))
    assert v.status == FAILED and v.out_of_bounds == 2 and "Out of bounds values : 2 FAILED" in v.reason


def test_truncated_log_fails_naming_where_it_ends():
    v = verdict(single_node_log(truncate_after=128 << 20))
    assert v.status == FAILED and v.reason == "the log ends at 128 MiB: the test did not finish"


@pytest.mark.parametrize(("line", "words"), [
    ("gpu-node-1: Test NCCL failure common.cu:1005 'unhandled cuda error (run with NCCL_DEBUG=INFO for details)'",
     "Xid"),
    ("gpu-node-1:77:90 [0] NCCL WARN Duplicate GPU detected : rank 1 and rank 0 both on CUDA device 18000",
     "time-slicing"),
    ("gpu-node-1: Test CUDA failure common.cu:892 'system not yet initialized'", "Fabric Manager"),
    ("gpu-node-1:77:90 [0] NCCL WARN Call to posix_fallocate failed : No space left on device", "/dev/shm"),
    ("[rank3]:[E ProcessGroupNCCL.cpp:616] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1, "
     "OpType=ALLREDUCE) ran for 600000 milliseconds before timing out.", "timed out"),
])
def test_nccl_errors_fail_quoted_with_advice(line, words):
    v = verdict(single_node_log(truncate_after=GIB, tail=[line]))
    assert v.status == FAILED and v.reason.startswith("NCCL error: \"")
    assert line.strip()[:60] in v.reason and words in v.reason


def test_unchecked_results_pass_with_a_note():
    v = verdict(single_node_log(peak=470.0, wrong="N/A"))
    assert v.passed and v.wrong is None and "not checked (-c 0)" in v.reason


def test_no_expected_figure_is_said():
    v = verdict(single_node_log(peak=470.0), Expectation(None, "no hardware profile matched the GPUs"))
    assert v.passed and "bandwidth not judged: no hardware profile matched" in v.reason


# -- expected figures --------------------------------------------------------------------------------
def test_every_gpu_profile_has_an_expected_figure(profiles):
    for name in profiles.names():
        p = profiles.profiles[name]
        if not p.has_gpus:
            continue
        single = expected_busbw(p, nodes=1, gpus_per_node=p.gpus_per_node)
        multi = expected_busbw(p, nodes=2, gpus_per_node=p.gpus_per_node)
        assert single.gbps or multi.gbps, f"{name} has no expected all_reduce figure"
        assert p.nccl is not None


def test_expected_figures_follow_the_interconnect(profiles):
    def single(name):
        p = profiles.get(name)
        return expected_busbw(p, nodes=1, gpus_per_node=p.gpus_per_node).gbps

    assert single("B200") > single("H100-80GB-SXM") >= single("H200-141GB") > single("A100-80GB")
    assert single("A100-80GB") > single("H100-80GB-PCIe") > single("L40S") > single("T4")


def test_expected_overrides_and_special_cases(profiles):
    h100 = profiles.get("H100-80GB-SXM")
    assert expected_busbw(h100, nodes=1, gpus_per_node=8, override=123).gbps == 123
    one = expected_busbw(profiles.get("GH200-144GB"), nodes=1, gpus_per_node=1)
    assert one.gbps is None and "one GPU" in one.source
    assert expected_busbw(profiles.get("GH200-144GB"), nodes=4, gpus_per_node=1).gbps == 44
    assert expected_busbw(None, nodes=1, gpus_per_node=8).gbps is None
    l4 = expected_busbw(profiles.get("L4"), nodes=2, gpus_per_node=4)
    assert l4.gbps is None and "--nics" in l4.source
    assert expected_busbw(profiles.get("L4"), nodes=2, gpus_per_node=4, nics="2x200G").gbps == nic_busbw((2, 200))


def test_nic_figures_match_published_per_nic_numbers():
    assert parse_nics("8×400G InfiniBand per node") == (8, 400) and parse_nics("none") is None
    assert 44 <= nic_busbw((1, 400)) <= 48 and 22 <= nic_busbw((1, 200)) <= 25 and 11 <= nic_busbw((1, 100)) <= 12.5


# -- transport -----------------------------------------------------------------------------------------
def _info(*vias: str) -> list[str]:
    return [f"node:1:2 [{i}] NCCL INFO Channel 00/0 : {i}[{i}] -> {i + 1}[{i + 1}] via {via}" for i, via in enumerate(vias)]


def test_transport_kinds_are_counted():
    lines = _info("P2P/IPC/read", "P2P/CUMEM", "NET/IB/0/GDRDMA", "SHM/direct/direct")
    t = parse_transport([*lines, "node:1:2 [0] NCCL INFO Using network IB"])
    assert t.kinds == {"P2P": 2, "NET/IB+GDRDMA": 1, "SHM": 1} and t.network == "IB"
    assert t.label() == "P2P+NET/IB+GDRDMA+SHM"
    assert "with GPUDirect RDMA" in t.describe()


def test_eight_gpus_over_shm_is_a_diagnosis():
    info = [*_info(*["SHM/direct/direct"] * 8), "node:1:2 [0] NCCL INFO NCCL_P2P_DISABLE set by environment to 1"]
    v = verdict(single_node_log(peak=120.0, info=info))
    assert v.status == FAILED and v.transport == "SHM"
    assert "8 GPUs talked over SHM, not NVLink (the environment sets NCCL_P2P_DISABLE=1)" in v.reason


def test_multi_node_socket_and_missing_gdr_are_diagnosed():
    sockets = parse_transport(_info("NET/Socket/0", "P2P/IPC"))
    assert "TCP sockets" in transport_problem(sockets, nodes=2, gpus=8, interconnect="nvlink")
    no_gdr = parse_transport(_info("NET/IB/0", "P2P/IPC"))
    assert "without GPUDirect RDMA" in transport_problem(no_gdr, nodes=2, gpus=8, interconnect="nvlink")
    good = parse_transport(_info("NET/IB/0/GDRDMA", "P2P/IPC"))
    assert transport_problem(good, nodes=2, gpus=8, interconnect="nvlink") is None


# -- outliers ------------------------------------------------------------------------------------------
def test_outlier_node_is_named_against_the_fleet_median():
    runs = {f"gpu-{i}": single_node_log(host=f"gpu-{i}", peak=p) for i, p in enumerate([470, 468, 472, 400])}
    verdicts = [verdict(text, Expectation(400.0, "--min-busbw")) for text in runs.values()]
    assert all(v.passed for v in verdicts)
    assert flag_outliers(verdicts) == ["gpu-3"]
    slow = verdicts[3]
    assert slow.status == FAILED and slow.outlier and "of the fleet median 469.0 GB/s: outlier" in slow.reason
    assert all(v.passed for v in verdicts[:3])


def test_one_result_has_no_fleet():
    v = verdict(single_node_log(peak=470.0))
    assert flag_outliers([v]) == [] and v.passed
