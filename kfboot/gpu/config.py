"""The `gpu:` section of the Platform config: GPU node pools, their profile and sharing scheme.

Only shape is checked here (with positions, via pydantic). Whether a geometry fits the GPU or a
named config exists for it depends on the loaded hardware profiles: see `kfboot.gpu.plan.build_plan`
(config loading builds that plan once and points each of its problems at its line in the file).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, Strict, field_validator, model_validator

from kfboot.gpu.mig import parse_geometry, parse_profile_name
from kfboot.yaml_positions import StrictModel, escape

_INDEX_SET = re.compile(r"^\d{1,4}(?:-\d{1,4})?(?:,\d{1,4}(?:-\d{1,4})?)*$")
_POOL_NAME = r"^[a-z0-9]([-a-z0-9]{0,54}[a-z0-9])?$"  # ≤ 56: "-<hash6>" is appended for MIG configs (label ≤ 63)

# Upper bounds: far above any real node, low enough that nothing built from them can blow up.
MAX_GPUS_PER_NODE = 64
MAX_NODE_COUNT = 100_000
MAX_REPLICAS = 1024  # time-slicing: pods per device
MAX_INSTANCES = 8  # MIG instances of one profile on one GPU (7 is the most any GPU has)
DISABLED_EVERYWHERE = "every GPU has MIG disabled (all-disabled): that turns MIG off; use `mode: none` (or time-slicing)"
# Kubernetes names: a node name is a DNS subdomain; a label key is [prefix/]name, a value ≤ 63 characters.
NODE_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
LABEL_KEY = re.compile(rf"^(?:(?=[^/]{{1,253}}/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_LABEL_NAME}$")
LABEL_VALUE = re.compile(rf"^(?:{_LABEL_NAME})?$")

StrictInt = Annotated[int, Strict()]  # YAML `true` is not 1
GeometryValue = str | dict[str, StrictInt]


def parse_gpu_indices(key: str) -> list[int] | None:
    """`all` → None; `0-3,6` → [0, 1, 2, 3, 6]; ValueError for anything else."""
    text = key.replace(" ", "")
    if text == "all":
        return None
    if not _INDEX_SET.match(text):
        raise ValueError(f"GPU selector {key!r} must be 'all', an index, a range like 0-3, or a list like 0-3,6")
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        first, last = int(lo), int(hi or lo)
        if last < first:
            raise ValueError(f"GPU range {part!r} is backwards")
        if last >= MAX_GPUS_PER_NODE:
            raise ValueError(f"GPU {last} is out of range: GPU indexes go from 0 to {MAX_GPUS_PER_NODE - 1}")
        out.extend(range(first, last + 1))
    if len(set(out)) != len(out):
        raise ValueError(f"GPU selector {key!r} names a GPU twice")
    return out


def geometry_value(value: GeometryValue) -> dict[str, int] | None:
    """A geometry value as a dict; `disabled` → None (MIG off on those GPUs). ValueError if malformed.

    A count of 0 means "none of this profile" and is dropped; a geometry whose counts are all 0
    creates nothing and is refused (`disabled` says "MIG off" explicitly).
    """
    if isinstance(value, str):
        if value.strip() == "disabled":
            return None
        geometry = parse_geometry(value)
    else:
        geometry = dict(value)
    for name, count in geometry.items():
        parse_profile_name(name)
        if not 0 <= count <= MAX_INSTANCES:
            raise ValueError(f"{name}: count must be from 0 to {MAX_INSTANCES}")
    kept = {name: count for name, count in geometry.items() if count}
    if not kept:
        raise ValueError("this geometry creates no MIG instance (every count is 0); "
                         "write `disabled` to turn MIG off on these GPUs")
    return kept


class MigSharing(StrictModel):
    """MIG layout of every GPU in the pool: an NVIDIA named config or a custom geometry per GPU index."""

    strategy: Literal["single", "mixed"] = Field(
        default="mixed",
        description="`mixed`: each MIG profile is its own resource `nvidia.com/mig-<profile>`; `single`: MIG "
        "devices are `nvidia.com/gpu` and every GPU of the pool must use one profile.",
    )
    config: str | None = Field(
        default=None,
        description="NVIDIA named config: all-balanced, all-<profile> (e.g. all-1g.10gb), all-enabled.",
    )
    geometry: dict[str, GeometryValue] | None = Field(
        default=None,
        description="Custom geometry per GPU selector (`all`, `0`, `0-3`, `0-3,6`): `3g.40gb=2,1g.10gb=1`, "
        "a mapping {profile: count}, or `disabled`. Every GPU of a node must be covered exactly once.",
    )

    @field_validator("geometry")
    @classmethod
    def _geometry_syntax(cls, value: dict[str, GeometryValue] | None) -> dict[str, GeometryValue] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("geometry is empty; name GPUs (`all`, `0-3`) and their MIG instances")
        for key, item in value.items():
            parse_gpu_indices(key)
            geometry_value(item)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> MigSharing:
        if (self.config is None) == (self.geometry is None):
            raise ValueError("set exactly one of `config` (a named config) or `geometry` (custom)")
        return self


class TimeSlicing(StrictModel):
    """Device-plugin time-slicing: each device (GPU or MIG device) is advertised `replicas` times."""

    replicas: StrictInt = Field(le=MAX_REPLICAS, description=f"Pods that may share one device; 2 to {MAX_REPLICAS}.")
    rename_by_default: bool = Field(
        default=False,
        alias="renameByDefault",
        description="Advertise shared devices as `<resource>.shared` instead of suffixing the product label.",
    )
    fail_requests_greater_than_one: bool = Field(
        default=False,
        alias="failRequestsGreaterThanOne",
        description="Reject pods asking for more than one shared device (they would not get more compute).",
    )

    @field_validator("replicas")
    @classmethod
    def _at_least_two(cls, value: int) -> int:
        if value < 2:
            raise ValueError(
                "replicas must be >= 2 (the device plugin refuses fewer: 'number of replicas must be >= 2'); "
                "to stop sharing use `mode: none`"
            )
        return value


SharingMode = Literal["none", "mig", "time-slicing", "mig+time-slicing"]


class Sharing(StrictModel):
    """How the GPUs of a pool are shared between pods."""

    mode: SharingMode = Field(
        default="none",
        description="none | mig | time-slicing | mig+time-slicing (time-slicing of MIG devices).",
    )
    mig: MigSharing | None = Field(default=None, description="Required for mig and mig+time-slicing.")
    time_slicing: TimeSlicing | None = Field(
        default=None, alias="timeSlicing", description="Required for time-slicing and mig+time-slicing."
    )

    @model_validator(mode="after")
    def _sections_match_mode(self) -> Sharing:
        wants_mig = self.mode in ("mig", "mig+time-slicing")
        wants_ts = self.mode in ("time-slicing", "mig+time-slicing")
        if wants_mig and self.mig is None:
            raise ValueError(f"mode {self.mode} needs a `mig:` section")
        if wants_ts and self.time_slicing is None:
            raise ValueError(f"mode {self.mode} needs a `timeSlicing:` section")
        if self.mig is not None and not wants_mig:
            raise ValueError(f"`mig:` is set but mode is {self.mode}; use mode mig or mig+time-slicing")
        if self.time_slicing is not None and not wants_ts:
            raise ValueError(f"`timeSlicing:` is set but mode is {self.mode}")
        return self

    @property
    def uses_mig(self) -> bool:
        return self.mode in ("mig", "mig+time-slicing")


class GpuPool(StrictModel):
    """A group of identical GPU nodes sharing one hardware profile and one sharing scheme."""

    name: str = Field(
        pattern=_POOL_NAME,
        description="Pool name (DNS label); also the name of its MIG and device-plugin configs and labels.",
    )
    profile: str = Field(description="Hardware profile name or alias (`kfboot profiles list`).")
    node_selector: dict[str, str] | None = Field(
        default=None,
        alias="nodeSelector",
        description="Labels selecting the pool's nodes. Default: the profile's `nvidia.com/gpu.product`.",
    )
    nodes: list[Annotated[str, Field(pattern=NODE_NAME, max_length=253)]] | None = Field(
        default=None, max_length=MAX_NODE_COUNT, description="Node names, instead of a nodeSelector.")
    gpus_per_node: StrictInt | None = Field(
        default=None, alias="gpusPerNode", ge=1, le=MAX_GPUS_PER_NODE, description="GPUs per node; default from the profile."
    )
    node_count: StrictInt | None = Field(
        default=None, alias="nodeCount", ge=0, le=MAX_NODE_COUNT,
        description="Expected nodes (for totals); default len(nodes).",
    )
    sharing: Sharing = Field(default_factory=Sharing, description="Sharing scheme of the pool's GPUs.")

    @field_validator("node_selector", mode="before")
    @classmethod
    def _labels(cls, value: object) -> object:
        """Label keys and values as Kubernetes accepts them (YAML `true`/`8` become the strings they read as)."""
        if not isinstance(value, dict):
            return value
        out: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not LABEL_KEY.match(key):
                raise ValueError(f"{escape(key)!r} is not a label key ([prefix/]name, name ≤ 63 of [-A-Za-z0-9_.])")
            if isinstance(item, bool):
                item = "true" if item else "false"
            if not isinstance(item, (str, int)) or not LABEL_VALUE.match(str(item)):
                raise ValueError(f"{key}: {escape(item)!r} is not a label value (≤ 63 of [-A-Za-z0-9_.])")
            out[key] = str(item)
        return out

    @model_validator(mode="after")
    def _selector(self) -> GpuPool:
        if self.node_selector is not None and self.nodes is not None:
            raise ValueError("set either `nodeSelector` or `nodes`, not both")
        if self.nodes is not None and not self.nodes:
            raise ValueError("`nodes` is empty")
        if self.node_selector is not None and not self.node_selector:
            raise ValueError("`nodeSelector` is empty")
        return self


class GpuConfig(StrictModel):
    """GPU section of kfboot.yaml: extra profiles and GPU node pools (empty: no GPU sharing config)."""

    profiles_dir: Path | None = Field(
        default=None, alias="profilesDir", description="Extra directory of hardware profiles (*.yaml)."
    )
    pools: list[GpuPool] = Field(default_factory=list, description="GPU node pools.")

    @model_validator(mode="after")
    def _unique_names(self) -> GpuConfig:
        names = [p.name for p in self.pools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"pool names must be unique: {', '.join(dupes)}")
        return self

