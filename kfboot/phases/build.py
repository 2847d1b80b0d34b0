"""Turn a Platform (what the user wants) and the catalog (pinned sources) into phases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfboot.config.catalog import Catalog, ComponentEntry, load_catalog
from kfboot.config.platform import (
    DexComponent,
    HelmComponent,
    KServeComponent,
    KubeflowComponent,
    Platform,
    installs,
)
from kfboot.engine.phase import Phase
from kfboot.helm import ChartRef
from kfboot.phases.helm_phase import HelmPhase
from kfboot.phases.manifest_phase import ManifestPhase
from kfboot.sources.manifests import ManifestSource, UpstreamTree

GPU_OPERATOR = "gpu-operator"


@dataclass(frozen=True)
class BuildOptions:
    kind_cluster: bool = False  # kind needs its own oauth2-proxy overlay
    manifests_root: Path | None = None  # a local kubeflow/manifests checkout instead of downloading
    bundle: Path | None = None  # a verified bundle (`kfboot bundle build|pull`): no network, no kustomize
    charts: dict[str, Path] = field(default_factory=dict)  # `--chart NAME=PATH`: local charts of Helm components


def build_phases(platform: Platform, options: BuildOptions | None = None, catalog: Catalog | None = None) -> list[Phase]:
    options = options or BuildOptions()
    catalog = catalog or load_catalog()
    unknown = sorted(set(options.charts) - {n for n, e in catalog.components.items() if e.helm is not None})
    if unknown:
        from kfboot.errors import UsageError

        raise UsageError(f"--chart: {', '.join(unknown)} is not a Helm component")
    phases: list[Phase] = []
    for name, entry in catalog.components.items():
        comp = platform.components.get(name)
        if entry.helm is not None and isinstance(comp, HelmComponent):
            phases.append(_helm_phase(name, entry, comp, options.charts.get(name), catalog))
        else:
            phases.append(_manifest_phase(name, entry, platform, catalog, options))
    phases = use_bundle_sources(phases, options.bundle, local_tree=options.manifests_root is not None,
                                catalog=catalog)
    return _with_kuberay_roles(_with_gpu_sharing(platform, phases))


KUBERAY_ROLES = Path(__file__).resolve().parents[1] / "data" / "manifests" / "kuberay-kubeflow-roles.yaml"


def _with_kuberay_roles(phases: list[Phase]) -> list[Phase]:
    """KubeRay inside Kubeflow: profile users get Ray rights through Kubeflow's aggregated roles
    (kubeflow-kuberay-admin/edit/view), as upstream's experimental Ray integration grants them."""
    enabled = {p.name for p in phases if p.enabled}
    if not {"kuberay", "kubeflow"} <= enabled:
        return phases
    from kfboot.sources.manifests import LocalManifests

    kuberay = next(p for p in phases if p.name == "kuberay")
    source = LocalManifests((KUBERAY_ROLES,), label="kfboot's kubeflow-kuberay-admin/edit/view ClusterRoles")
    roles = ManifestPhase(name="kuberay-roles", title="Ray rights for Kubeflow users", source=source,
                          version=kuberay.version, needs=("kubeflow", "kuberay"))
    return [*phases, roles]


def use_bundle_sources(phases: list[Phase], bundle: Path | None, local_tree: bool,
                       catalog: Catalog | None = None) -> list[Phase]:
    """Point phases built from the catalog at a bundle (`--bundle`) or the cache bundle (default).

    With a bundle, pinned-upstream manifest phases read its verified rendered files and Helm phases
    install its verified .tgz. Without one (and without `--manifests`), manifests and the default
    chart versions come from the cache bundle, pulled and verified when first applied. A chart
    version other than the catalog default is installed from its repository by Helm.
    """
    from dataclasses import replace

    from kfboot.sources.phase_sources import BundleManifests, CachedUpstream, bundle_chart_path, bundle_root

    if bundle is None and local_tree:
        return phases
    catalog = catalog or load_catalog()
    out: list[Phase] = []
    for phase in phases:
        if isinstance(phase, ManifestPhase) and isinstance(phase.source, UpstreamTree):
            tree = phase.source
            source: ManifestSource = (BundleManifests(bundle_root(bundle), tree.name, tree.paths) if bundle is not None
                                      else CachedUpstream(tree.name, tree.version, tree.commit, tree.paths))
            phase = replace(phase, source=source)
        elif isinstance(phase, HelmPhase) and bundle is not None and phase.enabled and phase.chart.path is None:
            path = bundle_chart_path(bundle_root(bundle), phase.name, phase.chart.version)
            phase = replace(phase, chart=ChartRef(phase.chart.name, phase.chart.version, path=path))
        elif isinstance(phase, HelmPhase) and phase.chart.path is None and _is_default_version(phase, catalog):
            phase = replace(phase, resolve_chart=_cached_chart(phase.name, phase.chart))
        out.append(phase)
    return out


def _is_default_version(phase: HelmPhase, catalog: Catalog) -> bool:
    entry = catalog.components.get(phase.name)
    return bool(entry and entry.helm and entry.helm.version == phase.chart.version)


def _cached_chart(component: str, chart: ChartRef) -> Callable[[], ChartRef]:
    """A resolver for the verified .tgz of `chart` in the cache bundle (pulled on first call; `peek()`
    finds it without pulling, for content digests)."""
    from kfboot.sources.phase_sources import CachedChart

    return CachedChart(component, chart)


def prefetch_cache_bundle(phases: list[Phase]) -> None:
    """Pull the cache bundle now if an enabled phase will read it: its digests then come from content
    from the first install on (the same as `--bundle` of the same bundle), not from the pins."""
    from kfboot.sources.phase_sources import CachedChart, CachedUpstream, ensure_cache_bundle

    for phase in phases:
        if phase.enabled and ((isinstance(phase, ManifestPhase) and isinstance(phase.source, CachedUpstream))
                              or (isinstance(phase, HelmPhase) and isinstance(phase.resolve_chart, CachedChart))):
            ensure_cache_bundle()
            return


def _with_gpu_sharing(platform: Platform, phases: list[Phase]) -> list[Phase]:
    """GPU pools → gpu-operator values (user values win) and a gpu-sharing phase right after it."""
    operator = next((p for p in phases if p.name == GPU_OPERATOR), None)
    if not platform.gpu.pools or not isinstance(operator, HelmPhase) or not operator.enabled:
        return phases
    from kfboot.gpu import render
    from kfboot.phases.gpu_sharing import GpuSharingPhase

    plan = platform.gpu_plan()  # built (and checked) once, when the config was loaded
    # embed: the chart creates the ConfigMaps with the operator, so its mig-manager and device plugin
    # never start pointing at ConfigMaps that do not exist yet (which would hold ClusterPolicy not-ready)
    operator.values = deep_merge(render.helm_values(plan, embed=True), operator.values)
    sharing = GpuSharingPhase(plan=plan, version=operator.version, namespace=operator.namespace,
                              operator_values=operator.values)
    at = phases.index(operator) + 1
    return [*phases[:at], sharing, *phases[at:]]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` wins; nested mappings merge key by key (so a user can set one key of a section)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _helm_phase(name: str, entry: ComponentEntry, comp: HelmComponent, local: Path | None = None,
                catalog: Catalog | None = None) -> HelmPhase:
    helm = entry.helm
    assert helm is not None
    chart = ChartRef(name=helm.chart, version=comp.version or helm.version, repo=helm.repo)
    if local is not None:  # `--chart NAME=PATH`: that chart (a pinned version of it), no repository
        from kfboot.errors import ConfigError
        from kfboot.sources.build import check_chart

        _, version = check_chart(local, name, catalog or load_catalog())
        if comp.version and comp.version != version:
            raise ConfigError([f"--chart {name}={local}: chart version {version} differs from "
                               f"components.{name}.version {comp.version}"])
        chart = ChartRef(name=helm.chart, version=version, path=local)
    return HelmPhase(name=name, title=entry.title, chart=chart, release=helm.release, namespace=helm.namespace,
                     values=dict(comp.values), needs=tuple(entry.needs), enabled=comp.enabled and not comp.external,
                     gates=list(entry.gates))


def _manifest_phase(name: str, entry: ComponentEntry, platform: Platform, catalog: Catalog,
                    options: BuildOptions) -> ManifestPhase:
    spec = entry.manifests
    assert spec is not None
    comp = platform.components.get(name)
    settings: dict[str, object] = {}
    paths = list(spec.paths)
    if isinstance(comp, KubeflowComponent):
        settings["apps"] = list(comp.apps)
        paths += [p for app in spec.apps if app in comp.apps for p in spec.apps[app]]
    if isinstance(comp, KServeComponent):
        settings["deploymentMode"] = comp.deployment_mode
        if comp.deployment_mode == "Serverless":
            paths = list(spec.serverless_paths) + paths
    if options.kind_cluster:
        paths = [spec.kind_paths.get(p, p) for p in paths]
        settings["kind"] = True
    source = catalog.sources[spec.source]
    tree = UpstreamTree(spec.source, source.version, source.commit, source.archive, tuple(paths),
                        root=options.manifests_root)
    transforms = [_dex_initial_user(comp)] if isinstance(comp, DexComponent) else []
    if isinstance(comp, KServeComponent):
        from kfboot.phases.kserve_mode import KServeDeploymentMode

        transforms.append(KServeDeploymentMode(comp.deployment_mode))
    if options.kind_cluster:
        from kfboot.phases.kind_replicas import ModestReplicas

        transforms.append(ModestReplicas())
    return ManifestPhase(name=name, title=entry.title, source=tree, version=entry.default_version,
                         needs=tuple(entry.needs), enabled=installs(platform, catalog, name), gates=list(entry.gates), settings=settings,
                         transforms=transforms)


def _dex_initial_user(comp: DexComponent) -> Any:
    """Never upstream's known login: kfboot's generated password, or the user's hash or Secret."""
    from kfboot.phases.credentials import DexInitialUserTransform, InitialUser, SecretKeyRef

    user = comp.initial_user
    ref = user.password_secret
    return DexInitialUserTransform(InitialUser(
        email=user.email, password_hash=user.password_hash,
        password_secret=SecretKeyRef(ref.name, ref.namespace, ref.key) if ref else None))
