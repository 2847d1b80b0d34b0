"""The session: options in, platform / cluster / phases / runner out, each only when asked."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kfboot.engine.services import Service, Services
from kfboot.errors import UsageError
from kfboot.session import Session, Sources, Target


def test_bundle_and_manifests_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--bundle and --manifests are exclusive"):
        Sources(manifests=tmp_path, bundle=tmp_path)


def test_an_offline_session_plans_without_any_client(tmp_path: Path) -> None:
    # a kubeconfig that does not exist: touching the cluster would fail loudly
    session = Session(Target(kubeconfig=tmp_path / "missing", context="prod"), offline=True)
    runner = session.runner()
    planned = runner.plan(offline=True)
    assert [p.phase.name for p in planned][:2] == ["cert-manager", "gpu-operator"]
    assert "kube" not in vars(session)  # never built
    with pytest.raises(RuntimeError, match="offline session has no cluster"):
        _ = session.kube


def test_phases_are_built_once_per_session_and_the_timeout_option_wins() -> None:
    session = Session(Target(timeout=42), offline=True)
    assert session.phases is session.phases
    assert session.runner().timeout == 42
    assert Session(offline=True).runner().timeout == session.platform.install.timeout


def test_kind_overlays_follow_the_kind_flag_offline() -> None:
    def oauth2_paths(kind: bool) -> str:
        phases = Session(offline=True, kind=kind).phases
        return next(p for p in phases if p.name == "dex").source.describe()  # type: ignore[attr-defined]

    assert oauth2_paths(True) != oauth2_paths(False)


def test_services_build_each_client_once_even_when_phases_ask_at_once() -> None:
    built: list[int] = []
    start = threading.Barrier(8)

    def slow_client() -> object:  # like Helm(): its constructor runs `helm version`
        time.sleep(0.05)
        built.append(1)
        return object()

    key: Service[object] = Service("slow client")
    services = Services({key: slow_client})
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(services.get(key))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and len({id(g) for g in got}) == 1


def test_a_service_nobody_provided_says_so() -> None:
    with pytest.raises(RuntimeError, match="no helm service was configured"):
        Services().get(Service("helm"))
    assert Services().get(Service("world", default=dict)) == {}
