"""nvidia-smi checks of one node against its labels, hardware profile and sharing pool."""

from __future__ import annotations

from kfboot.gpu.smi_checks import QUERY_FIELDS, check_node, expected_mig_devices, parse_fabric, parse_topo
from tests.gpu.smi_outputs import H100_LABELS, LIST_A100_MIG, QUERY_8XH100, query_details, topo, with_column


def checks(result):
    return {c.name: c for c in result.checks}


def test_healthy_hgx_h100_passes_every_check(profiles):
    query = with_column(with_column(QUERY_8XH100, "ecc.errors.uncorrected.volatile.total", ["0"] * 8),
                        "clocks_throttle_reasons.active", ["0x0000000000000004"] * 8)
    r = check_node("gpu-1", query=query, topo=topo(), details=query_details([("Completed", "Success")] * 8),
                   labels=H100_LABELS, profile=profiles.get("H100-80GB-SXM"))
    assert r.passed, r.reason
    assert set(checks(r)) == {"driver", "model", "count", "memory", "ecc", "throttle", "mig", "nvlink", "fabric-manager"}
    assert r.gpus == 8 and r.driver == "580.126.20" and r.to_json()["event"] == "nvidia-smi"


def test_query_fields_cover_what_the_issue_names():
    for name in ("name", "uuid", "pci.bus_id", "driver_version", "memory.total", "mig.mode.current",
                 "ecc.errors.uncorrected.volatile.total", "clocks_throttle_reasons.active"):
        assert name in QUERY_FIELDS


def test_fabric_manager_not_completed_explains_error_802(profiles):
    r = check_node("gpu-1", query=QUERY_8XH100, details=query_details([("In Progress", "N/A")] * 8),
                   labels=H100_LABELS, profile=profiles.get("H100-80GB-SXM"))
    fm = checks(r)["fabric-manager"]
    assert not fm.passed and "'In Progress'" in fm.reason and "error 802" in fm.reason
    assert "nvidia-smi looks fine" in fm.reason


def test_fabric_na_is_fine_without_nvswitch(profiles):
    query = QUERY_8XH100.replace("NVIDIA H100 80GB HBM3", "NVIDIA L40S").replace("81559", "46068")
    r = check_node("l40s", query=query, details=query_details([("N/A", "N/A")] * 8), profile=profiles.get("L40S"))
    assert "fabric-manager" not in checks(r) and r.passed, r.reason


def test_missing_nvlink_pair_on_an_nvlink_system(profiles):
    r = check_node("gpu-1", query=QUERY_8XH100, topo=topo(odd={(2, 5): "SYS"}), profile=profiles.get("H100-80GB-SXM"))
    nv = checks(r)["nvlink"]
    assert not nv.passed and "GPU2-GPU5 (SYS)" in nv.reason and not r.passed


def test_pcie_profile_does_not_require_nvlink(profiles):
    r = check_node("gpu-1", query=QUERY_8XH100, topo=topo(link="PXB"), profile=None)
    assert checks(r)["nvlink"].passed and "0/28 GPU pairs over NVLink" in checks(r)["nvlink"].reason


def test_labels_and_profile_mismatch(profiles):
    labels = {**H100_LABELS, "nvidia.com/gpu.count": "8", "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    r = check_node("gpu-1", query="\n".join(QUERY_8XH100.splitlines()[:7]), labels=labels,
                   profile=profiles.get("A100-80GB"))
    c = checks(r)
    assert "6 GPUs visible, node label nvidia.com/gpu.count=8" in c["count"].reason and not c["count"].passed
    assert "labelled NVIDIA-A100-SXM4-80GB" in c["model"].reason and "is not a A100-80GB GPU" in c["model"].reason


def test_ecc_and_hardware_slowdown(profiles):
    query = with_column(with_column(QUERY_8XH100, "ecc.errors.uncorrected.volatile.total", ["0"] * 7 + ["3"]),
                        "clocks_throttle_reasons.active", ["0x0000000000000000"] * 6 + ["0x0000000000000048", "[N/A]"])
    c = checks(check_node("gpu-1", query=query, profile=profiles.get("H100-80GB-SXM")))
    assert not c["ecc"].passed and "GPU 7: 3" in c["ecc"].reason
    assert not c["throttle"].passed and "GPU 6: HW slowdown, HW thermal slowdown" in c["throttle"].reason


def test_no_driver(profiles):
    r = check_node("gpu-1", query="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                                  "Make sure that the latest NVIDIA driver is installed and running.\n")
    assert not r.passed and "no GPU or no driver" in r.reason


def test_mig_devices_against_the_pool_geometry(profiles):
    query = QUERY_8XH100.splitlines()[0] + "\n" + "0, NVIDIA A100-SXM4-40GB, GPU-c9297a60, 00000000:07:00.0, 580.126.20, 40960 MiB, Enabled\n"
    want = [{"3g.20gb": 1, "2g.10gb": 1, "1g.5gb": 2}]
    r = check_node("a100", query=query, listing=LIST_A100_MIG, profile=profiles.get("A100-40GB"), mig_geometries=want)
    assert checks(r)["mig"].passed, r.reason
    r = check_node("a100", query=query, listing=LIST_A100_MIG, profile=profiles.get("A100-40GB"),
                   mig_geometries=[{"1g.5gb": 7}])
    mig = checks(r)["mig"]
    assert not mig.passed and "MIG devices 2×1g.5gb, 1×2g.10gb, 1×3g.20gb; the configuration asks for 7×1g.5gb" in mig.reason


def test_mig_mode_against_labels(profiles):
    # the node advertises MIG devices (GFD mixed strategy) but nvidia-smi says MIG is off
    labels = {"nvidia.com/mig-1g.10gb.count": "14"}
    assert expected_mig_devices(labels) == {"1g.10gb": 14}
    r = check_node("gpu-1", query=QUERY_8XH100, labels=labels, profile=profiles.get("H100-80GB-SXM"))
    assert "no GPU has MIG enabled" in checks(r)["mig"].reason
    failed = check_node("gpu-1", query=QUERY_8XH100, profile=profiles.get("H100-80GB-SXM"),
                        labels={"nvidia.com/mig.config.state": "failed", "nvidia.com/mig.config": "pool-abc123"})
    assert "mig-manager failed to apply nvidia.com/mig.config=pool-abc123" in checks(failed)["mig"].reason
    single = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3-MIG-3g.40gb", "nvidia.com/gpu.count": "16"}
    assert expected_mig_devices(single) == {"3g.40gb": 16}


def test_parsers_directly():
    assert parse_topo(topo(2)) == {(0, 1): "NV18"}
    assert parse_fabric(query_details([("Completed", "Success"), ("Not Started", "N/A")])) == [
        ("Completed", "Success"), ("Not Started", "N/A")]
    assert parse_fabric("GPU 00000000:18:00.0\n    Product Name : T4\n") == []
