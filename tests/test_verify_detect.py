"""verify's view of the cluster without `-f`: "not served" means absent, any other API failure is said, never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfboot.errors import ClusterError
from kfboot.verify.detect import kserve_mode
from tests.bed import connect
from tests.fakekube import FakeKube
from tests.fakekube.faults import Fault
from tests.fakekube.sim_verify import crd, wait_established


def test_knative_served_means_serverless_and_absent_means_raw(fake_kube: FakeKube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    assert kserve_mode(kube) == "RawDeployment"
    fake_kube.put(crd("serving.knative.dev", "v1", "Service", "services", True))
    wait_established(fake_kube, ["services.serving.knative.dev"])
    assert kserve_mode(connect(fake_kube, tmp_path / "again")) == "Serverless"


def test_a_failing_api_server_is_an_error_not_rawdeployment(fake_kube: FakeKube, tmp_path: Path) -> None:
    fake_kube.put(crd("serving.knative.dev", "v1", "Service", "services", True))
    wait_established(fake_kube, ["services.serving.knative.dev"])
    kube = connect(fake_kube, tmp_path)
    fake_kube.inject(Fault(error_rate=1.0, status=500, path_contains="/apis/serving.knative.dev"))
    with pytest.raises(ClusterError):
        kserve_mode(kube)
