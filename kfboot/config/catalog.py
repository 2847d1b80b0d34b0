"""The component catalog (kfboot/data/catalog.yaml): pinned upstream sources as typed data."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CATALOG_FILE = Path(__file__).resolve().parents[1] / "data" / "catalog.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class SourceEntry(_Strict):
    repo: str
    version: str
    commit: str
    archive: str


class HelmEntry(_Strict):
    repo: str
    chart: str
    version: str
    versions: list[str]
    release: str
    namespace: str


class ManifestEntry(_Strict):
    source: str
    paths: list[str] = Field(default_factory=list)
    apps: dict[str, list[str]] = Field(default_factory=dict)
    kind_paths: dict[str, str] = Field(default_factory=dict, alias="kind-paths")
    serverless_paths: list[str] = Field(default_factory=list, alias="serverless-paths")


class EndpointsGate(_Strict):
    namespace: str
    name: str


class ConditionGate(_Strict):
    api_version: str = Field(alias="apiVersion")
    kind: str
    name: str
    namespace: str | None = None
    type: str | None = None  # a status condition that must be True …
    field: str | None = None  # … or a dotted status field that must equal `equals` (neither: typed readiness)
    equals: str | None = None
    when_nodes: str | None = Field(default=None, alias="whenNodes")  # only if nodes match this label selector


class Gate(_Strict):
    """Extra readiness a component needs beyond its workloads (webhook serving, a CR's state)."""

    endpoints: EndpointsGate | None = None
    condition: ConditionGate | None = None


class Presence(_Strict):
    """What must exist for a component installed outside kfboot (`external: true`) to count as there."""

    crds: list[str] = Field(default_factory=list)  # Established CRDs
    endpoints: list[EndpointsGate] = Field(default_factory=list)  # Services with a ready endpoint (webhooks)


class ComponentEntry(_Strict):
    title: str
    needs: list[str] = Field(default_factory=list)
    version: str | None = None
    helm: HelmEntry | None = None
    manifests: ManifestEntry | None = None
    gates: list[Gate] = Field(default_factory=list)
    presence: Presence = Field(default_factory=Presence)
    # implicit components (no config of their own) are installed when any of these is enabled
    enabled_with: list[str] = Field(default_factory=list, alias="enabledWith")

    @property
    def kind(self) -> Literal["helm", "manifests"]:
        return "helm" if self.helm is not None else "manifests"

    @property
    def default_version(self) -> str:
        return self.helm.version if self.helm else (self.version or "")


class Catalog(_Strict):
    sources: dict[str, SourceEntry]
    components: dict[str, ComponentEntry]


@lru_cache(maxsize=1)
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    import yaml

    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Catalog.model_validate(data)
