"""Schema of a hardware profile file (`profiles/*.yaml`): what kfboot knows about one GPU model.

Profiles are data, so users can add GPUs without code; the schema is strict (`extra="forbid"`)
so a typo in a hand-written profile is an error with a position, not a silently ignored key.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kfboot.yaml_positions import StrictModel

PCI_ID = re.compile(r"^0x[0-9A-Fa-f]{4}$")
GI_PROFILE_NAME = re.compile(r"^(?P<g>[1-8])g\.(?P<gb>[0-9]+)gb(?:\+(?P<attr>[a-z0-9.]+))?$")


class MigInstanceProfile(StrictModel):
    """One GPU-instance profile as `nvidia-smi mig -lgip` / `-lgipp` list it."""

    name: str = Field(description="MIG profile name as mig-parted spells it, e.g. `1g.10gb` or `1g.10gb+me`.")
    gi_profile_id: int | None = Field(
        default=None, alias="giProfileId", ge=0, description="GPU instance profile id (`nvidia-smi mig -lgip`)."
    )
    compute_slices: int = Field(alias="computeSlices", ge=1, le=8, description="Compute slices (the `<G>g`).")
    memory_slots: int = Field(
        alias="memorySlots", ge=1, le=8, description="Memory slots occupied (the `:size` of `-lgipp`)."
    )
    starts: list[int] = Field(
        min_length=1, description="Allowed start memory slots (the `{…}` of `nvidia-smi mig -lgipp`)."
    )
    max_instances: int = Field(
        alias="maxInstances", ge=1, description="Instances per GPU when alone (`Instances Total` of `-lgip`)."
    )
    memory_gib: float | None = Field(
        default=None, alias="memoryGiB", gt=0, description="Usable memory of one instance in GiB, if measured."
    )

    @field_validator("name")
    @classmethod
    def _name_syntax(cls, value: str) -> str:
        m = GI_PROFILE_NAME.match(value)
        if not m:
            raise ValueError("must look like `<G>g.<GB>gb` or `<G>g.<GB>gb+me`")
        return value

    @field_validator("starts")
    @classmethod
    def _sorted_unique(cls, value: list[int]) -> list[int]:
        if any(s < 0 for s in value) or len(set(value)) != len(value):
            raise ValueError("start slots must be distinct and >= 0")
        return sorted(value)

    @model_validator(mode="after")
    def _name_matches_slices(self) -> MigInstanceProfile:
        m = GI_PROFILE_NAME.match(self.name)
        if m and int(m.group("g")) != self.compute_slices:
            raise ValueError(f"name {self.name} says {m.group('g')}g but computeSlices is {self.compute_slices}")
        return self

    @property
    def media_extensions(self) -> bool:
        """True for `+me` profiles (the GPU has one set of media engines, so at most one per GPU)."""
        m = GI_PROFILE_NAME.match(self.name)
        return bool(m and m.group("attr") and "me" in m.group("attr").split(","))


class MigCapability(StrictModel):
    """MIG geometry of a GPU: slice budget, instance profiles and NVIDIA's balanced mix."""

    compute_slices: int = Field(alias="computeSlices", ge=1, le=8, description="Compute slices per GPU (7 or 4).")
    memory_slots: int = Field(alias="memorySlots", ge=1, le=8, description="Memory slots per GPU (8 or 4).")
    profiles: list[MigInstanceProfile] = Field(min_length=1, description="GPU instance profiles of this GPU.")
    balanced: dict[str, int] = Field(
        default_factory=dict,
        description="The `all-balanced` mix of NVIDIA's default-mig-parted-config for this GPU (empty: none).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> MigCapability:
        names = [p.name for p in self.profiles]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate MIG profiles: {', '.join(dupes)}")
        for p in self.profiles:
            if p.compute_slices > self.compute_slices:
                raise ValueError(f"{p.name} uses {p.compute_slices} compute slices; the GPU has {self.compute_slices}")
            bad = [s for s in p.starts if s + p.memory_slots > self.memory_slots]
            if bad:
                raise ValueError(
                    f"{p.name} starting at slot {bad[0]} would end past memory slot {self.memory_slots - 1}"
                )
        unknown = sorted(set(self.balanced) - set(names))
        if unknown:
            raise ValueError(f"balanced uses profiles this GPU does not have: {', '.join(unknown)}")
        return self

    def profile(self, name: str) -> MigInstanceProfile | None:
        return next((p for p in self.profiles if p.name == name), None)


class NcclExpectation(StrictModel):
    """Expected NCCL all_reduce_perf bus bandwidth (GB/s, large messages) for the verification step."""

    single_node_busbw_gbps: float | None = Field(
        default=None, alias="singleNodeBusBwGBps", gt=0, description="Peak busbw of one node with all its GPUs."
    )
    multi_node_busbw_gbps: float | None = Field(
        default=None, alias="multiNodeBusBwGBps", gt=0, description="Peak busbw across nodes with `network`."
    )
    network: str | None = Field(default=None, description="Inter-node network the multi-node figure assumes.")


class HardwareProfile(StrictModel):
    """One GPU model (or `cpu-only`): identification, shape of a node, MIG table, NCCL expectations."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Profile name used in kfboot.yaml.")
    aliases: list[str] = Field(default_factory=list, description="Other names accepted for this profile.")
    description: str = Field(default="", description="One line for `kfboot profiles list`.")
    vendor: Literal["nvidia", "none"] = Field(default="nvidia", description="`none` for cpu-only profiles.")
    products: list[str] = Field(
        default_factory=list,
        description="Values of the `nvidia.com/gpu.product` label GPU Feature Discovery sets for this GPU.",
    )
    pci_device_ids: list[str] = Field(
        default_factory=list,
        alias="pciDeviceIds",
        description="PCI device ids (`0x2330`); mig-parted device-filters are these plus vendor 10DE.",
    )
    memory_gb: float = Field(default=0, alias="memoryGB", ge=0, description="Memory per GPU in GB (marketing).")
    interconnect: Literal["nvlink", "nvlink-bridge", "nvlink-c2c", "pcie", "none"] = Field(
        default="pcie", description="How GPUs of one node talk to each other."
    )
    gpus_per_node: int = Field(default=0, alias="gpusPerNode", ge=0, description="Usual GPUs per node.")
    mig: MigCapability | None = Field(default=None, description="MIG table, or null when not MIG-capable.")
    nccl: NcclExpectation | None = Field(default=None, description="Expected all_reduce bus bandwidth.")

    @field_validator("pci_device_ids")
    @classmethod
    def _pci(cls, value: list[str]) -> list[str]:
        for v in value:
            if not PCI_ID.match(v):
                raise ValueError(f"{v!r} is not a PCI device id like 0x2330")
        return [f"0x{v[2:].upper()}" for v in value]

    @model_validator(mode="after")
    def _gpu_fields(self) -> HardwareProfile:
        if self.vendor == "none":
            if self.mig or self.gpus_per_node or self.pci_device_ids or self.products:
                raise ValueError("a cpu-only profile (vendor: none) cannot have GPUs, PCI ids, products or MIG")
        elif not self.pci_device_ids:
            raise ValueError("pciDeviceIds: a GPU profile needs at least one PCI device id")
        return self

    @property
    def has_gpus(self) -> bool:
        return self.vendor != "none"

    @property
    def mig_capable(self) -> bool:
        return self.mig is not None

    def device_filters(self) -> list[str]:
        """mig-parted `device-filter` values: `0x<device><vendor>` with NVIDIA's vendor id 10DE."""
        return [f"{pci}10DE" for pci in self.pci_device_ids]
