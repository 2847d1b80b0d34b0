"""Preflight for components installed outside kfboot (`external: true`): are they really there?

Checked before install writes anything, from the catalog's `presence` of each such component
(Established CRDs, webhook Services with a ready endpoint), so a platform never half-installs on
top of a cert-manager or Istio that is not actually present.
"""

from __future__ import annotations

from typing import Any

from kfboot.config.catalog import Catalog, load_catalog
from kfboot.config.platform import Platform
from kfboot.errors import ConfigError
from kfboot.k8s import readiness as rd


def external_components(platform: Platform, catalog: Catalog) -> list[str]:
    return [name for name in catalog.components
            if (comp := platform.components.get(name)) is not None and comp.external]


def presence_problems(kube: Any, platform: Platform, catalog: Catalog | None = None) -> list[str]:
    """One line per thing an external component should have and the cluster lacks."""
    catalog = catalog or load_catalog()
    problems = []
    for name in external_components(platform, catalog):
        presence = catalog.components[name].presence
        for crd_name in presence.crds:
            crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd_name)
            if crd is None:
                problems.append(f"{name} is external, but CRD {crd_name} is not installed")
            elif not rd.crd_established(crd).ready:
                problems.append(f"{name} is external, but CRD {crd_name} is not Established")
        for ep in presence.endpoints:
            slices = kube.list("discovery.k8s.io/v1", "EndpointSlice", ep.namespace,
                               label_selector=f"kubernetes.io/service-name={ep.name}")
            state = rd.endpoints_ready(slices)
            if not state.ready:
                problems.append(f"{name} is external, but Service {ep.namespace}/{ep.name} has no ready "
                                f"endpoint ({state.detail})")
    return problems


def preflight_external(kube: Any, platform: Platform, catalog: Catalog | None = None) -> None:
    problems = presence_problems(kube, platform, catalog)
    if problems:
        raise ConfigError(problems, hint="install those components first (or let kfboot install them: "
                                         "remove `external: true`)")
