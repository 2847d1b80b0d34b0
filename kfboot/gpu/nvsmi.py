"""Parse nvidia-smi text output (pure), to compare what a node reports with the hardware profile.

Used by tests against real output and by GPU verification: `mig -lgipp` (placements), `mig -lgip`
(instance profiles), `-L` (GPUs and MIG devices) and `--query-gpu … --format=csv`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LGIPP = re.compile(r"^GPU\s+(\d+)\s+Profile ID\s+(\d+)\s+Placements?\s*:\s*\{([\d,\s]*)\}:(\d+)\s*$")
_LGIP_ROW = re.compile(
    r"^\|\s*(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)/(\d+)\s+([\d.]+)\s+(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\|$"
)
_LGIP_ROW2 = re.compile(r"^\|\s+(\d+)\s+(\d+)\s+(\d+)\s*\|$")
_LIST_GPU = re.compile(r"^GPU (\d+): (.+?) \(UUID: (GPU-[0-9a-fA-F-]+)\)\s*$")
_LIST_MIG = re.compile(r"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[^)]+)\)\s*$")


@dataclass
class Placement:
    gpu: int
    profile_id: int
    starts: list[int]
    size: int


def parse_lgipp(text: str) -> list[Placement]:
    """`nvidia-smi mig -lgipp`: `GPU  0 Profile ID 19 Placements: {0,1,…}:1` lines."""
    out = []
    for line in text.splitlines():
        m = _LGIPP.match(line.strip())
        if m:
            starts = [int(s) for s in m.group(3).replace(" ", "").split(",") if s]
            out.append(Placement(int(m.group(1)), int(m.group(2)), starts, int(m.group(4))))
    return out


@dataclass
class InstanceProfile:
    gpu: int
    name: str
    profile_id: int
    free: int
    total: int
    memory_gib: float
    p2p: str
    sm: int
    dec: int
    enc: int
    ce: int | None = None
    jpeg: int | None = None
    ofa: int | None = None


def parse_lgip(text: str) -> list[InstanceProfile]:
    """`nvidia-smi mig -lgip`: the boxed table, two rows per profile."""
    out: list[InstanceProfile] = []
    for line in text.splitlines():
        line = line.strip()
        m = _LGIP_ROW.match(line)
        if m:
            g = m.groups()
            out.append(
                InstanceProfile(
                    gpu=int(g[0]),
                    name=g[1],
                    profile_id=int(g[2]),
                    free=int(g[3]),
                    total=int(g[4]),
                    memory_gib=float(g[5]),
                    p2p=g[6],
                    sm=int(g[7]),
                    dec=int(g[8]),
                    enc=int(g[9]),
                )
            )
            continue
        m2 = _LGIP_ROW2.match(line)
        if m2 and out and out[-1].ce is None:
            out[-1].ce, out[-1].jpeg, out[-1].ofa = (int(x) for x in m2.groups())
    return out


@dataclass
class ListedGpu:
    index: int
    name: str
    uuid: str
    mig_devices: list[tuple[str, int, str]] = field(default_factory=list)  # (profile, device index, uuid)


def parse_list_gpus(text: str) -> list[ListedGpu]:
    """`nvidia-smi -L`: GPUs with their MIG devices."""
    gpus: list[ListedGpu] = []
    for line in text.splitlines():
        m = _LIST_GPU.match(line.rstrip())
        if m:
            gpus.append(ListedGpu(int(m.group(1)), m.group(2), m.group(3)))
            continue
        m = _LIST_MIG.match(line.rstrip())
        if m and gpus:
            gpus[-1].mig_devices.append((m.group(1), int(m.group(2)), m.group(3)))
    return gpus


def parse_query_csv(text: str) -> list[dict[str, str]]:
    """`--query-gpu=… --format=csv`: rows keyed by field name (units in brackets stripped)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = [re.sub(r"\s*\[.*\]$", "", h.strip()) for h in lines[0].split(", ")]
    return [dict(zip(header, (v.strip() for v in row.split(", ")), strict=False)) for row in lines[1:]]


def product_label(name: str) -> str:
    """GPU Feature Discovery's `nvidia.com/gpu.product` for an nvidia-smi name (spaces → '-')."""
    return name.strip().replace(" ", "-")
