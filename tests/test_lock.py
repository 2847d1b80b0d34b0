"""The cluster lock (a Lease) against the fake: renewal, release, and losing it to a takeover."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kfboot.errors import LockHeld
from kfboot.k8s.lease import LeaseLock
from kfboot.phases.state_store import STATE_NAMESPACE, ConfigMapStateStore
from tests.bed import connect


@pytest.fixture
def kube(fake_kube, tmp_path: Path):
    kube = connect(fake_kube, tmp_path)
    ConfigMapStateStore(kube).ensure()
    return kube


def _lease(fake_kube) -> dict:
    return fake_kube.get("coordination.k8s.io/v1", "Lease", "kfboot-lock", STATE_NAMESPACE)


def test_the_holder_renews_while_it_works_and_deletes_on_release(fake_kube, kube) -> None:
    lock = LeaseLock(kube, STATE_NAMESPACE, identity="me@host/pid-1/a", renew_every=0.1)
    lock.acquire()
    first = _lease(fake_kube)["spec"]["renewTime"]
    time.sleep(0.5)
    assert _lease(fake_kube)["spec"]["renewTime"] > first
    assert _lease(fake_kube)["spec"]["acquireTime"] == first  # acquired once, renewed since

    with pytest.raises(LockHeld, match="me@host/pid-1/a"):
        LeaseLock(kube, STATE_NAMESPACE, identity="other@host/pid-2/b").acquire()

    lock.release()
    assert _lease(fake_kube) is None


def test_a_holder_whose_lease_was_taken_over_notices(fake_kube, kube) -> None:
    warnings: list[str] = []
    lock = LeaseLock(kube, STATE_NAMESPACE, identity="me@host/pid-1/a", renew_every=0.1, warn=warnings.append)
    lock.acquire()
    lease = _lease(fake_kube)
    lease["spec"]["holderIdentity"] = "thief@elsewhere/pid-9/z"
    fake_kube.put(lease)
    time.sleep(0.4)

    assert lock.lost == "the lock was taken over by another run"
    assert any("taken over" in w for w in warnings)
    lock.release()  # never deletes a lease that is not ours
    assert _lease(fake_kube)["spec"]["holderIdentity"] == "thief@elsewhere/pid-9/z"


def test_a_run_that_loses_its_lock_stops_writing(fake_kube, kube, tmp_path: Path) -> None:
    from kfboot.engine.runner import Runner
    from tests.bed import local_phases

    fake_kube.hold_unready("StatefulSet", "widget-app", "widget-store")  # the run waits here
    runner = Runner(local_phases(), kube=kube, store=ConfigMapStateStore(kube), timeout=20,
                    lock_factory=lambda: LeaseLock(kube, STATE_NAMESPACE, renew_every=0.1))

    def steal() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lease = _lease(fake_kube)
            if lease and fake_kube.get("apps/v1", "StatefulSet", "widget-store", "widget-app"):
                lease["spec"]["holderIdentity"] = "thief@elsewhere/pid-9/z"
                fake_kube.put(lease)
                return
            time.sleep(0.05)

    import threading

    thief = threading.Thread(target=steal)
    thief.start()
    started = time.monotonic()
    summary = runner.install()
    thief.join()

    assert time.monotonic() - started < 10  # it did not wait out the 20 s timeout
    assert summary.exit_code == 130
    assert "the lock was taken over by another run" in summary.message
