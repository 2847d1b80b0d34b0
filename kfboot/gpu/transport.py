"""Which transport NCCL chose, read from its `NCCL_DEBUG=INFO` lines, and what that says about a result.

NCCL logs one line per channel connection (`Channel 00/0 : 0[0] -> 1[1] via P2P/IPC/read`,
`… [send] via NET/IB/0/GDRDMA`, `via SHM/direct/direct`, `via NET/Socket/0`) and the network plugin
it picked (`Using network IB`). "8 GPUs talked over SHM, not NVLink" is a diagnosis: P2P was
disabled or the GPUs were in different containers, and no bandwidth tuning will fix it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_VIA = re.compile(r"\bvia\s+(P2P|SHM|NET|NVLS|COLLNET|CollNet)(/[^\s]*)?", re.IGNORECASE)
_NETWORK = re.compile(r"Using network\s+(.+?)\s*$")
_NVLS = re.compile(r"Connected NVLS|NVLS comm\b|via NVLS", re.IGNORECASE)
_ENV_SET = re.compile(r"(NCCL_P2P_DISABLE|NCCL_SHM_DISABLE|NCCL_IB_DISABLE|NCCL_NET_GDR_LEVEL|NCCL_P2P_LEVEL)"
                      r" set by environment to (\S+)")


@dataclass
class Transport:
    """Connection counts per transport kind: `P2P`, `SHM`, `NVLS`, `NET/IB`, `NET/IB+GDRDMA`, `NET/Socket`…"""

    kinds: Counter[str] = field(default_factory=Counter)
    network: str | None = None  # the plugin NCCL said it uses (`IB`, `Socket`, `AWS Libfabric`)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return bool(self.kinds) or self.network is not None

    @property
    def intra_node(self) -> set[str]:
        return {k for k in self.kinds if not k.startswith("NET")}

    @property
    def inter_node(self) -> set[str]:
        return {k for k in self.kinds if k.startswith("NET")}

    def label(self) -> str | None:
        """Short form for tables and JSON: kinds by connection count, e.g. `P2P+NET/IB+GDRDMA`."""
        if self.kinds:
            return "+".join(k for k, _ in sorted(self.kinds.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"NET/{self.network}" if self.network else None

    def describe(self) -> str | None:
        """Words for a user: `P2P (NVLink or PCIe) within the node; NET/IB with GPUDirect RDMA between nodes`."""
        if not self.known:
            return None
        parts = []
        intra = self.intra_node
        if intra:
            words = {"P2P": "P2P (NVLink or PCIe peer-to-peer)", "NVLS": "NVLink SHARP (NVLS)",
                     "SHM": "SHM (through host memory)"}
            parts.append(", ".join(words.get(k, k) for k in sorted(intra)) + " within a node")
        inter = self.inter_node or ({f"NET/{self.network}"} if self.network else set())
        for kind in sorted(inter):
            if kind == "NET/IB+GDRDMA":
                parts.append("InfiniBand/RoCE (NET/IB) with GPUDirect RDMA between nodes")
            elif kind == "NET/IB":
                parts.append("InfiniBand/RoCE (NET/IB) without GPUDirect RDMA between nodes")
            elif kind == "NET/Socket":
                parts.append("TCP sockets (NET/Socket) between nodes")
            else:
                parts.append(f"{kind} between nodes")
        return "; ".join(parts)


def parse_transport(lines: list[str]) -> Transport:
    """Count transports over NCCL INFO lines (any order, any prefix)."""
    t = Transport()
    for line in lines:
        if m := _VIA.search(line):
            kind, path = m.group(1).upper(), (m.group(2) or "")
            if kind == "NET":
                plugin = path.strip("/").split("/")[0] or "?"
                kind = f"NET/{plugin}" + ("+GDRDMA" if "GDRDMA" in path.upper() else "")
            elif kind == "COLLNET":
                kind = "CollNet"
            t.kinds[kind] += 1
        elif _NVLS.search(line):
            t.kinds["NVLS"] += 1
        if m := _NETWORK.search(line):
            t.network = m.group(1)
        if m := _ENV_SET.search(line):
            t.env[m.group(1)] = m.group(2)
    return t


def transport_problem(t: Transport, *, nodes: int, gpus: int, interconnect: str | None) -> str | None:
    """A sentence when the transport explains (or predicts) low bandwidth; None when it looks right."""
    if not t.known:
        return None
    hint_env = "; ".join(f"{k}={v}" for k, v in sorted(t.env.items()))
    env_note = f" (the environment sets {hint_env})" if hint_env else ""
    intra = t.intra_node
    if interconnect in ("nvlink", "nvlink-bridge") and gpus > 1 and "SHM" in intra and not intra & {"P2P", "NVLS"}:
        return (f"{gpus} GPUs talked over SHM, not NVLink{env_note}: P2P is disabled or the GPUs are in "
                "different containers; run all of a node's GPUs in one pod and unset NCCL_P2P_DISABLE")
    if nodes <= 1 and gpus > 1 and t.inter_node and not intra:
        return (f"{gpus} GPUs on one node talked over the network ({', '.join(sorted(t.inter_node))}), "
                f"not P2P/NVLink{env_note}")
    if nodes > 1:
        inter = t.inter_node or ({f"NET/{t.network}"} if t.network else set())
        if "NET/Socket" in inter:
            return ("nodes talked over TCP sockets (NET/Socket), not InfiniBand/RoCE: NCCL found no RDMA device "
                    "(request an RDMA resource such as rdma/ib, add IPC_LOCK, check NCCL_IB_HCA)" + env_note)
        if "NET/IB" in inter and "NET/IB+GDRDMA" not in inter:
            return ("nodes talked over InfiniBand/RoCE without GPUDirect RDMA: data is staged through host memory "
                    "(load nvidia-peermem or use DMA-BUF, check NCCL_NET_GDR_LEVEL)" + env_note)
    return None
