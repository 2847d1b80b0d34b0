"""`kfboot verify-gpu` against the fake API server: GPU nodes, canned nvidia-smi and NCCL pod logs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.gpu.report import EVENTS_SCHEMA
from kfboot.gpu.smi_checks import SECTION_MARK
from kfboot.verify import gpu_pods
from kfboot.verify.gpu_run import LiveOptions, run_verify_gpu
from tests.bed import connect
from tests.gpu.nccl_logs import single_node_log
from tests.gpu.smi_outputs import QUERY_8XH100, query_details, topo

NS = "kfboot-verify-gpu"
SCHEMA = json.loads(EVENTS_SCHEMA.read_text())
H100_LABELS = {"nvidia.com/gpu.count": "8", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
               "nvidia.com/gpu.memory": "81559", "nvidia.com/gpu.present": "true"}


def node(name: str, allocatable: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> dict:
    alloc = {"cpu": "192", "memory": "2063162496Ki", "pods": "110", **(allocatable or {"nvidia.com/gpu": "8"})}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(H100_LABELS if labels is None else labels)}},
            "status": {"allocatable": alloc, "capacity": alloc}}


def smi_log(fabric: str = "Completed") -> str:
    return (f"{SECTION_MARK}query\n{QUERY_8XH100}{SECTION_MARK}list\n"
            + "".join(f"GPU {i}: NVIDIA H100 80GB HBM3 (UUID: GPU-{i:08d}-0000-0000-0000-000000000000)\n" for i in range(8))
            + f"{SECTION_MARK}topo\n{topo()}{SECTION_MARK}details\n{query_details([(fabric, 'Success')] * 8)}")


class Bed:
    def __init__(self, fk, tmp_path: Path) -> None:
        self.fk = fk
        self.kube = connect(fk, tmp_path)
        self.tmp_path = tmp_path

    def gpu_node(self, name: str, *, peak: float | None = 470.0, smi: str | None = None, **kw) -> None:
        self.fk.put(node(name, **kw))
        self.fk.set_job_result(NS, gpu_pods.object_name("smi", name), smi if smi is not None else smi_log())
        if peak is not None:
            self.fk.set_job_result(NS, gpu_pods.object_name("nccl", name), single_node_log(host=f"nccl-{name}-pod", peak=peak))

    def run(self, profiles, **options):
        options.setdefault("timeout", 20)
        return run_verify_gpu(self.kube, profiles, LiveOptions(**options))


@pytest.fixture
def bed(fake_kube, tmp_path):
    return Bed(fake_kube, tmp_path)


def by_name(report):
    return {v.name: v for v in report.nccl}


def test_pass_on_two_h100_nodes(bed, profiles):
    bed.gpu_node("gpu-a")
    bed.gpu_node("gpu-b", peak=468.0)
    report = bed.run(profiles)
    assert report.ok and report.exit_code == 0, [v.reason for v in report.nccl] + [s.reason for s in report.smi]
    assert [s.node for s in report.smi] == ["gpu-a", "gpu-b"] and all(s.passed for s in report.smi)
    a = by_name(report)["gpu-a"]
    assert a.passed and a.nodes == ["gpu-a"] and a.peak_busbw == 470.0 and a.expected.gbps == 450
    assert bed.fk.get("v1", "Namespace", NS) is None or bed.fk.get("v1", "Namespace", NS)["metadata"].get("deletionTimestamp")
    assert bed.run(profiles).ok  # again at once: the previous run's namespace may still be terminating


def test_pods_are_restricted_pinned_and_sized(bed, profiles):
    bed.gpu_node("gpu-a")
    report = bed.run(profiles, keep=True)
    assert report.ok and any("kept namespace" in n for n in report.notes)
    ns = bed.fk.get("v1", "Namespace", NS)["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "restricted"
    job = bed.fk.get("batch/v1", "Job", gpu_pods.object_name("nccl", "gpu-a"), NS)
    tmpl = job["spec"]["template"]
    spec, (container,) = tmpl["spec"], tmpl["spec"]["containers"]
    assert tmpl["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    assert spec["nodeSelector"] == {"kubernetes.io/hostname": "gpu-a"}
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert "-b 8 -e 8G -f 2 -g 8" in container["command"][-1]
    (shm,) = spec["volumes"]
    assert shm["emptyDir"]["medium"] == "Memory" and shm["emptyDir"]["sizeLimit"] == "8192Mi"
    assert job["spec"]["activeDeadlineSeconds"] == 20 and job["spec"]["backoffLimit"] == 0
    smi = bed.fk.get("batch/v1", "Job", gpu_pods.object_name("smi", "gpu-a"), NS)
    assert "nvidia-smi --query-gpu=index,name" in smi["spec"]["template"]["spec"]["containers"][0]["command"][-1]


def test_low_bandwidth_fails_with_how_much(bed, profiles):
    bed.gpu_node("gpu-a", peak=300.0)
    report = bed.run(profiles)
    v = by_name(report)["gpu-a"]
    assert not report.ok and v.status == "failed" and "67% of the expected 450 GB/s" in v.reason


def test_wrong_results_fail(bed, profiles):
    bed.gpu_node("gpu-a", peak=None)
    bed.fk.set_job_result(NS, gpu_pods.object_name("nccl", "gpu-a"),
                          single_node_log(host="p", peak=470.0, wrong="7", wrong_at=2 << 30))
    v = by_name(bed.run(profiles))["gpu-a"]
    assert v.status == "failed" and "14 wrong values at 2 GiB" in v.reason


def test_mig_node_is_skipped_for_nccl_but_checked_by_nvidia_smi(bed, profiles):
    bed.gpu_node("gpu-a")
    mig_labels = {**H100_LABELS, "nvidia.com/mig-1g.10gb.count": "56", "nvidia.com/mig.strategy": "mixed"}
    bed.gpu_node("gpu-mig", peak=None, allocatable={"nvidia.com/mig-1g.10gb": "56"}, labels=mig_labels)
    report = bed.run(profiles, keep=True)
    mig = by_name(report)["gpu-mig"]
    assert mig.status == "skipped" and "MIG-partitioned" in mig.reason and "NCCL cannot span MIG instances" in mig.reason
    assert {s.node for s in report.smi} == {"gpu-a", "gpu-mig"}
    smi_job = bed.fk.get("batch/v1", "Job", gpu_pods.object_name("smi", "gpu-mig"), NS)
    assert smi_job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/mig-1g.10gb": "56"}
    assert bed.fk.get("batch/v1", "Job", gpu_pods.object_name("nccl", "gpu-mig"), NS) is None


def test_time_sliced_node_is_skipped(bed, profiles):
    labels = {**H100_LABELS, "nvidia.com/gpu.replicas": "4", "nvidia.com/gpu.sharing-strategy": "time-slicing"}
    bed.gpu_node("gpu-ts", peak=None, allocatable={"nvidia.com/gpu": "32"}, labels=labels)
    v = by_name(bed.run(profiles))["gpu-ts"]
    assert v.status == "skipped" and "Duplicate GPU detected" in v.reason


def test_pending_for_lack_of_gpus_names_the_node(bed, profiles):
    bed.gpu_node("gpu-a", peak=None)
    bed.fk.set_job_pod_status(NS, gpu_pods.object_name("nccl", "gpu-a"), {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't "
                                   "match Pod's node affinity/selector."}]})
    report = bed.run(profiles, pending_grace=0.2)
    v = by_name(report)["gpu-a"]
    assert v.status == "failed" and v.reason.startswith("Pending on gpu-a: the pod needs 8 nvidia.com/gpu")
    assert "1 Insufficient nvidia.com/gpu" in v.reason and "allocatable 8 nvidia.com/gpu" in v.reason


def test_image_pull_failure(bed, profiles):
    bed.gpu_node("gpu-a", peak=None)
    bed.fk.set_job_pod_status(NS, gpu_pods.object_name("nccl", "gpu-a"), {
        "phase": "Pending",
        "containerStatuses": [{"name": "all-reduce", "ready": False, "restartCount": 0, "image": "nccl:nope",
                               "imageID": "", "state": {"waiting": {"reason": "ImagePullBackOff",
                                                                    "message": 'Back-off pulling image "nccl:nope"'}}}]})
    v = by_name(bed.run(profiles, image="registry.example/nccl:nope"))["gpu-a"]
    assert v.status == "failed" and "image registry.example/nccl:nope cannot be pulled on gpu-a" in v.reason
    assert "ImagePullBackOff" in v.reason and "--image" in v.reason


def test_oom_is_explained(bed, profiles):
    bed.gpu_node("gpu-a", peak=None)
    bed.fk.set_job_pod_status(NS, gpu_pods.object_name("nccl", "gpu-a"), {
        "phase": "Failed",
        "containerStatuses": [{"name": "all-reduce", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
                               "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]})
    v = by_name(bed.run(profiles))["gpu-a"]
    assert v.status == "failed" and "OOMKilled" in v.reason and "lower --max-bytes" in v.reason


def test_nccl_error_in_the_pod_log_is_quoted(bed, profiles):
    bed.gpu_node("gpu-a", peak=None)
    bed.fk.set_job_result(NS, gpu_pods.object_name("nccl", "gpu-a"), single_node_log(
        truncate_after=64 << 20, tail=["nccl-pod: Test NCCL failure common.cu:1005 'unhandled system error'",
                                       "gpu-a:1:2 [0] NCCL WARN Call to posix_fallocate failed : No space left on device"]),
        succeeded=False)
    v = by_name(bed.run(profiles))["gpu-a"]
    assert v.status == "failed" and "unhandled system error" in v.reason and "/dev/shm is too small" in v.reason


def test_timeout_is_reported_with_the_last_state(bed, profiles):
    bed.gpu_node("gpu-a", peak=None)
    bed.fk.hold_unready("Job", NS, gpu_pods.object_name("nccl", "gpu-a"))
    v = by_name(bed.run(profiles, timeout=1.5))["gpu-a"]
    assert v.status == "failed" and v.reason.startswith("timed out after 2s on gpu-a")


def test_outlier_node_is_named(bed, profiles):
    for name, peak in (("gpu-a", 470.0), ("gpu-b", 468.0), ("gpu-c", 472.0), ("gpu-d", 405.0)):
        bed.gpu_node(name, peak=peak)
    report = bed.run(profiles)
    assert report.outliers == ["gpu-d"] and not report.ok
    d = by_name(report)["gpu-d"]
    assert d.outlier and "of the fleet median 469.0 GB/s: outlier" in d.reason


def test_fabric_manager_not_ready_fails_nvidia_smi(bed, profiles):
    bed.gpu_node("gpu-a", smi=smi_log(fabric="In Progress"))
    report = bed.run(profiles, skip_nccl=True)
    (smi,) = report.smi
    assert not smi.passed and "error 802" in smi.reason and not report.nccl


def test_only_named_nodes_and_unknown_names(bed, profiles):
    bed.gpu_node("gpu-a")
    bed.gpu_node("gpu-b")
    bed.fk.put(node("cpu-1", allocatable={"cpu": "8"}, labels={}))
    report = bed.run(profiles, nodes=["gpu-b"])
    assert [s.node for s in report.smi] == ["gpu-b"]
    from kfboot.errors import UsageError

    with pytest.raises(UsageError, match=r"node cpu-1 has no allocatable nvidia\.com/gpu"):
        bed.run(profiles, nodes=["cpu-1"])
    with pytest.raises(UsageError, match="below 1G"):
        bed.run(profiles, max_bytes="128M")


def test_multi_node_with_bisect_names_the_slow_node(bed, profiles):
    for name, peak in (("gpu-a", 470.0), ("gpu-b", 472.0), ("gpu-c", 466.0)):
        bed.gpu_node(name, peak=peak)

    def multi(nodes: list[str], peak: float) -> str:
        lines = single_node_log(peak=peak, gpus=8).splitlines()
        ranks = [f"#  Rank {8 * i + d:2d} Group  0 Pid   4242 on {n:>10} device {d:2d} [0000:{0x18 + d:02x}:00] "
                 "NVIDIA H100 80GB HBM3" for i, n in enumerate(nodes) for d in range(8)]
        out = [ln for ln in lines if "#  Rank" not in ln]
        at = out.index("# Using devices") + 1
        return "\n".join(out[:at] + ranks + out[at:]) + "\n"

    bed.fk.set_job_result(NS, "nccl-all", multi(["gpu-a", "gpu-b", "gpu-c"], 250.0))
    # reference is gpu-b (best single-node peak); pairs: (gpu-b, gpu-a) ok, (gpu-b, gpu-c) slow
    bed.fk.set_job_result(NS, "nccl-pair-0", multi(["gpu-b", "gpu-a"], 385.0))
    bed.fk.set_job_result(NS, "nccl-pair-1", multi(["gpu-b", "gpu-c"], 200.0))
    report = bed.run(profiles, multi_node=True, bisect=True, keep=True)
    tests = by_name(report)
    everything = tests["gpu-a+gpu-b+gpu-c"]
    assert everything.status == "failed" and everything.kind == "multi-node" and everything.ranks == 24
    assert everything.expected.gbps == 390 and "64% of the expected 390 GB/s" in everything.reason
    assert tests["gpu-b+gpu-a"].passed and tests["gpu-b+gpu-c"].status == "failed"
    assert any("slow only for gpu-c" in n for n in report.notes)
    job = bed.fk.get("batch/v1", "Job", "nccl-all", NS)
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == 3
    tmpl = job["spec"]["template"]["spec"]
    assert tmpl["subdomain"] == "nccl-all" and "torchrun --nnodes=3 --nproc-per-node=8" in tmpl["containers"][0]["command"][-1]
    svc = bed.fk.get("v1", "Service", "nccl-all", NS)
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True
    bench = bed.fk.get("v1", "ConfigMap", gpu_pods.BENCH_CONFIGMAP, NS)["data"][gpu_pods.BENCH_FILE]
    assert "def main" in bench and "all_reduce_perf" in bench


def test_cli_json_events_follow_the_schema(bed, fake_kube, tmp_path):
    bed.gpu_node("gpu-a")
    bed.gpu_node("gpu-b", peak=320.0)
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kc", context="kind-fake")
    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "-o", "json",
                                      "verify-gpu", "--timeout", "20", "--junit", str(tmp_path / "j.xml")])
    assert result.exit_code == 1, result.output
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    for event in events:
        jsonschema.validate(event, SCHEMA)
    assert [e["event"] for e in events] == ["nvidia-smi", "nvidia-smi", "nccl", "nccl", "summary"]
    nccl = {e["node"]: e for e in events if e["event"] == "nccl"}
    assert nccl["gpu-a"]["passed"] and not nccl["gpu-b"]["passed"] and nccl["gpu-b"]["expected_gbps"] == 450
    assert events[-1]["counts"] == {"passed": 3, "failed": 1, "inconclusive": 0, "skipped": 0}
    assert "nccl gpu-b" in (tmp_path / "j.xml").read_text()


def test_mig_layout_is_checked_against_the_pool_in_kfboot_yaml(bed, fake_kube, tmp_path):
    mig = {"nvidia.com/mig-1g.10gb": "16", "nvidia.com/mig-2g.20gb": "8", "nvidia.com/mig-3g.40gb": "8"}
    bed.gpu_node("gpu-mig", peak=None, allocatable=mig)  # nvidia-smi (canned) still says MIG Disabled
    config = tmp_path / "kfboot.yaml"
    config.write_text("gpu:\n  pools:\n    - name: h100-mig\n      profile: H100-80GB\n      nodes: [gpu-mig]\n"
                      "      sharing: {mode: mig, mig: {config: all-balanced}}\n")
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kc", context="kind-fake")
    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "-o", "json",
                                      "verify-gpu", "-f", str(config), "--timeout", "20"])
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    (smi,) = [e for e in events if e["event"] == "nvidia-smi"]
    mig_check = next(c for c in smi["checks"] if c["name"] == "mig")
    assert not mig_check["passed"] and "GPU 0 MIG mode is Disabled, the node's configuration wants Enabled" in mig_check["reason"]
    (nccl,) = [e for e in events if e["event"] == "nccl"]
    assert nccl["status"] == "skipped" and result.exit_code == 1
