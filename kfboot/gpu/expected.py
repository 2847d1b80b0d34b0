"""The bus bandwidth a test should reach: from the hardware profile, the NICs, or `--min-busbw`.

Every figure carries where it came from, so a failed verdict can say "below the expected 450 GB/s
(profile H100-80GB-SXM, 8 GPUs over NVLink)" and users can judge the figure as well as the result.
Pass is at ≥ 90 % of it: nccl-tests' own `NCCL_TESTS_MIN_BW` gate uses the same margin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kfboot.gpu.nvsmi import product_label
from kfboot.gpu.profile_model import HardwareProfile
from kfboot.gpu.profiles import ProfileSet

PASS_FRACTION = 0.9
# Measured multi-node all_reduce busbw per NIC: ≈12 GB/s per 100G, ≈24 per 200G, 46–48 per 400G
# (kfboot reference gpu.md section 5): ≈0.115 GB/s of busbw per Gb/s of NIC line rate.
BUSBW_PER_NIC_GBIT = 0.115
_NICS = re.compile(r"(\d+)\s*[×xX*]\s*(\d+)\s*G", re.IGNORECASE)


@dataclass(frozen=True)
class Expectation:
    gbps: float | None
    source: str  # why this figure (or why there is none)

    @property
    def threshold(self) -> float | None:
        return None if self.gbps is None else self.gbps * PASS_FRACTION


def parse_nics(text: str | None) -> tuple[int, int] | None:
    """`8×400G InfiniBand per node` / `8x400G` → (8, 400); None when the text names no NICs."""
    m = _NICS.search(text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def nic_busbw(nics: tuple[int, int]) -> float:
    count, gbit = nics
    return round(count * gbit * BUSBW_PER_NIC_GBIT, 1)


def expected_busbw(
    profile: HardwareProfile | None,
    *,
    nodes: int,
    gpus_per_node: int,
    override: float | None = None,
    nics: str | None = None,
) -> Expectation:
    """Expected peak busbw of an all_reduce over `nodes` × `gpus_per_node` ranks."""
    if override is not None:
        return Expectation(override, "--min-busbw")
    if nodes * gpus_per_node <= 1:
        return Expectation(None, "one GPU: an all_reduce moves no data between GPUs (busbw is 0)")
    if profile is None:
        return Expectation(None, "no hardware profile matched the GPUs: pass --profile or --min-busbw")
    nccl = profile.nccl
    if nodes > 1:
        given = parse_nics(nics)
        if given:
            return Expectation(nic_busbw(given), f"--nics {nics}: ≈{BUSBW_PER_NIC_GBIT * 100:.1f} GB/s of busbw "
                                                 "per 100 Gb/s of NIC line rate")
        if nccl and nccl.multi_node_busbw_gbps:
            return Expectation(nccl.multi_node_busbw_gbps,
                               f"profile {profile.name}, multi-node over {nccl.network or 'its network'}")
        listed = parse_nics(nccl.network if nccl else None)
        if listed:
            return Expectation(nic_busbw(listed), f"profile {profile.name}: {nccl.network if nccl else ''}")
        return Expectation(None, f"profile {profile.name} has no multi-node figure (it depends on the NICs): "
                                 "pass --nics COUNTxGBIT or --min-busbw")
    if nccl is None or nccl.single_node_busbw_gbps is None:
        return Expectation(None, f"profile {profile.name} has no single-node figure: pass --min-busbw")
    return Expectation(nccl.single_node_busbw_gbps,
                       f"profile {profile.name}, {profile.gpus_per_node} GPUs over {profile.interconnect}")


def profile_for_gpu(profiles: ProfileSet, gpu_names: list[str]) -> HardwareProfile | None:
    """The profile of the GPUs a log lists (`NVIDIA H100 80GB HBM3` → H100-80GB-SXM); None if unknown
    or mixed. nccl-tests prints CUDA's device name, which is what nvidia-smi and GFD's label start from."""
    found = {p.name: p for name in gpu_names if (p := profiles.by_product(product_label(name))) is not None}
    return next(iter(found.values())) if len(found) == 1 else None
