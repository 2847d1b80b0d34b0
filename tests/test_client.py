"""The HTTP client's own rules against the fake: token refresh on 401, what is and is not retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfboot.errors import ClusterError
from tests.bed import connect
from tests.fakekube import Fault


def test_a_401_refreshes_cached_credentials_once(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    fake_kube.inject(Fault(verbs=("GET",), error_rate=1.0, status=401, times=1, path_contains="/namespaces/default"))

    assert kube.get("v1", "Namespace", "default") is not None


def test_a_lasting_401_is_an_error_not_a_retry_loop(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    fake_kube.inject(Fault(verbs=("GET",), error_rate=1.0, status=401, path_contains="/namespaces/default"))

    with pytest.raises(ClusterError) as info:
        kube.get("v1", "Namespace", "default")
    assert info.value.status == 401
    assert len([r for r in fake_kube.requests if "/namespaces/default" in r.path]) == 2


def test_dropped_connections_and_5xx_are_retried(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    fake_kube.inject(Fault(verbs=("GET",), drop_rate=1.0, times=2, path_contains="/namespaces/default"))
    fake_kube.inject(Fault(verbs=("GET",), error_rate=1.0, status=503, times=2, path_contains="/namespaces/default"))

    assert kube.get("v1", "Namespace", "default") is not None
    assert kube.retries >= 2


def test_a_request_that_times_out_is_retried(fake_kube, tmp_path: Path) -> None:
    kube = connect(fake_kube, tmp_path)
    kube.request_timeout = 0.3
    fake_kube.inject(Fault(verbs=("GET",), latency=1.0, times=1, path_contains="/namespaces/default"))

    assert kube.get("v1", "Namespace", "default") is not None
    assert kube.retries == 1
