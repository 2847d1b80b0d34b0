"""The component catalog (kfboot/data/catalog.yaml): pinned upstream sources as typed data."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from kfboot.yaml_positions import StrictModel

CATALOG_FILE = Path(__file__).resolve().parents[1] / "data" / "catalog.yaml"


class _Strict(StrictModel):
    model_config = ConfigDict(frozen=True)  # the catalog is shipped data: strict, and never changed at runtime


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


class Footprint(_Strict):
    """CPUs, memory and disk a part of the platform needs from the Docker host running kind."""

    cpus: float = 0
    memory_gib: float = Field(default=0, alias="memoryGiB")
    disk_gib: float = Field(default=0, alias="diskGiB")

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(cpus=self.cpus + other.cpus, memoryGiB=self.memory_gib + other.memory_gib,
                         diskGiB=self.disk_gib + other.disk_gib)


class KindFootprints(_Strict):
    base: Footprint
    components: dict[str, Footprint]


class KindPins(_Strict):
    """Pinned kind release and node image (by digest) for `kfboot cluster create`."""

    version: str
    node_image: str = Field(alias="nodeImage", pattern=r"^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$")
    workers: int = Field(ge=0)
    footprint: KindFootprints


class VerifyEntry(_Strict):
    """What `kfboot verify` runs by default: images (also listed in bundles) and the sample model."""

    images: dict[str, str] = Field(default_factory=dict)
    sklearn_model: str = Field(default="", alias="sklearnModel")


class NotIncluded(_Strict):
    """Something upstream's example installs that kfboot does not, and why (said by `kfboot versions`)."""

    title: str
    path: str  # where it lives in the upstream tree
    reason: str


class Catalog(_Strict):
    sources: dict[str, SourceEntry]
    kind: KindPins
    components: dict[str, ComponentEntry]
    verify: VerifyEntry = Field(default_factory=VerifyEntry)
    not_included: dict[str, NotIncluded] = Field(default_factory=dict, alias="notIncluded")


@lru_cache(maxsize=1)
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    import yaml

    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Catalog.model_validate(data)
