"""The session: what every command starts from, built from its options, each piece only when asked.

The CLI turns its global options (`--kubeconfig`, `--context`, `--timeout`) and a command's sources
(`-f`, `--manifests` / `--bundle`, `--kind`) into one `Session`; the command then asks it for the
platform, the cluster, the phases or a runner. Everything is lazy: `plan --offline` and `render`
never build a Kubernetes client, `credentials` never loads a platform. The rules that used to be
repeated per command live here once (`--bundle` and `--manifests` are exclusive; a kind cluster
gets the kind overlays, modest replicas and a GPU Operator fitted to its nodes, and the plan says so;
the state store and lock live in the cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from kfboot.config.platform import Platform, load_platform
from kfboot.engine.events import Emit
from kfboot.engine.phase import Phase
from kfboot.engine.runner import Runner
from kfboot.engine.services import Services
from kfboot.engine.state import MemoryStateStore, StateStore
from kfboot.errors import UsageError
from kfboot.helm import Helm
from kfboot.k8s.client import Kube
from kfboot.k8s.lease import LeaseLock
from kfboot.kind.adapt import KindAdaptation, adapt_platform, has_gpu_nodes
from kfboot.phases.build import BuildOptions, build_phases
from kfboot.phases.helm_phase import HELM
from kfboot.phases.state_store import STATE_NAMESPACE, ConfigMapStateStore
from kfboot.sources.build import SourceTree


@dataclass(frozen=True)
class Sources:
    """Where the platform and its manifests come from (a command's `-f`, `--manifests`, `--bundle`)."""

    file: Path | None = None  # kfboot.yaml; None: the embedded default platform
    manifests: Path | None = None  # a local kubeflow/manifests checkout
    bundle: Path | None = None  # a verified bundle
    charts: Mapping[str, Path] = field(default_factory=dict)  # `--chart NAME=PATH` (bundle build, install --manifests)
    extra_profile_dirs: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if self.bundle is not None and self.manifests is not None:
            raise UsageError("--bundle and --manifests are exclusive", hint="a bundle already holds the rendered manifests")
        if self.bundle is not None and self.charts:
            raise UsageError("--bundle and --chart are exclusive", hint="a bundle already holds the charts")


@dataclass(frozen=True)
class Target:
    """Which cluster (the kubeconfig and context), and the per-phase timeout the user asked for."""

    kubeconfig: Path | None = None
    context: str | None = None
    timeout: float | None = None  # --timeout; None: the platform's install.timeout


@dataclass
class Session:
    """Options in, the things a command needs out: platform, cluster, phases, runner (all lazy).

    `offline=True` promises no cluster: asking for `kube` then is a programming error, and phases
    are built for a plain cluster unless `kind` says otherwise (`render --kind`).
    """

    target: Target = field(default_factory=Target)
    sources: Sources = field(default_factory=Sources)
    offline: bool = False
    kind: bool | None = None  # None: decided by the cluster (a `kind-*` context)
    trace: Callable[[str, str, int, float], None] | None = None  # -v: every API request

    @cached_property
    def platform(self) -> Platform:
        return load_platform(self.sources.file, self.sources.extra_profile_dirs)

    @cached_property
    def kube(self) -> Kube:
        """The cluster, connected and checked (preflight) on first use."""
        if self.offline:
            raise RuntimeError("an offline session has no cluster")
        kube = Kube.connect(self.target.kubeconfig, self.target.context)
        kube.trace = self.trace
        kube.preflight()
        return kube

    def unchecked_kube(self) -> Kube:
        """A client with no preflight, for commands that report an unreachable cluster themselves (doctor)."""
        if self.offline:
            raise RuntimeError("an offline session has no cluster")
        kube = Kube.connect(self.target.kubeconfig, self.target.context)
        kube.trace = self.trace
        return kube

    @property
    def is_kind(self) -> bool:
        if self.kind is not None:
            return self.kind
        return not self.offline and self.kube.target.is_kind

    @cached_property
    def kind_adaptation(self) -> KindAdaptation | None:
        """On kind: what install chooses by itself (overlay, replicas, GPU Operator fitted to the nodes)."""
        platform = self.platform  # a config error is reported before the cluster is contacted
        if not self.is_kind:
            return None
        gpu_nodes: bool | None = None
        if not self.offline and platform.components.gpu_operator.enabled:
            nvidia = self.kube.get("node.k8s.io/v1", "RuntimeClass", "nvidia") is not None
            gpu_nodes = has_gpu_nodes(self.kube.list("v1", "Node"), nvidia)
        return adapt_platform(platform, gpu_nodes)

    @property
    def notes(self) -> tuple[str, ...]:
        """Plan lines for choices the session made by itself (kind clusters), and warnings about its
        sources (a bundle rendered from a tree not verified as the pinned commit)."""
        notes = self.kind_adaptation.notes if self.kind_adaptation is not None else ()
        return tuple(notes) + self._bundle_warnings()

    def _bundle_warnings(self) -> tuple[str, ...]:
        if self.sources.bundle is None:
            return ()
        from kfboot.sources.bundle import Bundle

        index = Bundle.open(self.sources.bundle).index
        return tuple(f"warning: bundle {self.sources.bundle}: {why}" for pin in index.sources.values()
                     if (why := pin.unverified()))

    @cached_property
    def phases(self) -> list[Phase]:
        adaptation = self.kind_adaptation
        platform = adaptation.platform if adaptation is not None else self.platform
        options = BuildOptions(kind_cluster=self.is_kind, manifests_root=self.sources.manifests,
                               bundle=self.sources.bundle, charts=dict(self.sources.charts))
        return build_phases(platform, options)

    def local_sources(self) -> tuple[dict[str, SourceTree], dict[str, Path]]:
        """What `bundle build` packs: the kubeflow/manifests tree from `--manifests`, and the `--chart`s."""
        if self.sources.manifests is None:
            raise UsageError("no kubeflow/manifests tree given", hint="pass --manifests PATH")
        return {"kubeflow-manifests": SourceTree(self.sources.manifests)}, dict(self.sources.charts)

    def helm(self) -> Helm:
        """A Helm client for the session's cluster (offline: for `helm template` only)."""
        if self.offline:
            return Helm(None, None)
        return Helm(self.target.kubeconfig, self.target.context)

    def services(self) -> Services:
        """The clients phases share during one run, built on first use."""
        return Services({HELM: self.helm})

    def store(self) -> StateStore:
        return MemoryStateStore() if self.offline else ConfigMapStateStore(self.kube)

    def runner(self, emit: Emit | None = None, *, parallel: int | None = None, purge_crds: bool = False,
               force: bool = False) -> Runner:
        """A runner over the session's phases; with a cluster it records state there and holds its lock."""
        lock_factory: Callable[[], LeaseLock] | None = None
        if not self.offline:
            kube = self.kube
            lock_factory = lambda: LeaseLock(kube, STATE_NAMESPACE)  # noqa: E731
        return Runner(
            self.phases,
            kube=None if self.offline else self.kube,
            store=self.store(),
            emit=emit,
            parallel=parallel or self.platform.install.parallel,
            timeout=self.target.timeout or self.platform.install.timeout,
            lock_factory=lock_factory,
            services=self.services(),
            purge_crds=purge_crds,
            force=force,
            skip_reasons=self.kind_adaptation.skip_reasons if self.kind_adaptation is not None else None,
        )
