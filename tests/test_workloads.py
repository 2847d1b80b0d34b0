"""Running a Job to completion against the fake API server and reading its logs back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kfboot.errors import WaitTimeout
from kfboot.k8s.waits import Waiter
from kfboot.k8s.workloads import run_job
from tests.bed import connect


def _deadline_in(seconds: float) -> float:
    return time.monotonic() + seconds


def _job(name: str = "nvidia-smi") -> dict:
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "verify"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "smi", "image": "nvcr.io/nvidia/cuda:12.8.0-base-ubuntu24.04", "command": ["nvidia-smi"]}]}}},
    }


@pytest.fixture
def kube(fake_kube, tmp_path: Path):
    fake_kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "verify"}})
    return connect(fake_kube, tmp_path)


def test_job_logs_come_back_and_the_job_is_cleaned_up(fake_kube, kube) -> None:
    logs = "index, name\n0, NVIDIA H100 80GB HBM3\n"
    fake_kube.set_job_result("verify", "nvidia-smi", logs)

    result = run_job(kube, Waiter(kube), _job(), _deadline_in(10))

    assert result.succeeded and result.text == logs
    assert fake_kube.get("batch/v1", "Job", "nvidia-smi", "verify") is None


def test_failed_job_is_reported_with_its_logs_not_waited_out(fake_kube, kube) -> None:
    fake_kube.set_job_result("verify", "nvidia-smi", "NVIDIA-SMI has failed\n", succeeded=False)

    result = run_job(kube, Waiter(kube), _job(), _deadline_in(30), keep=True)

    assert not result.succeeded and "failed" in result.detail
    assert "NVIDIA-SMI has failed" in result.text
    assert fake_kube.get("batch/v1", "Job", "nvidia-smi", "verify") is not None


def test_rerun_replaces_a_previous_job_of_the_same_name(fake_kube, kube) -> None:
    fake_kube.set_job_result("verify", "nvidia-smi", "first\n")
    run_job(kube, Waiter(kube), _job(), _deadline_in(10), keep=True)
    fake_kube.set_job_result("verify", "nvidia-smi", "second\n")

    result = run_job(kube, Waiter(kube), _job(), _deadline_in(10))

    assert result.text == "second\n"


def test_a_job_that_never_finishes_times_out(fake_kube, kube) -> None:
    fake_kube.hold_unready("Job", "verify", "nvidia-smi")
    with pytest.raises(WaitTimeout, match="Job verify/nvidia-smi"):
        run_job(kube, Waiter(kube), _job(), _deadline_in(1))
