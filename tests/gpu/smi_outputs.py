"""nvidia-smi outputs for tests: the real samples, and `topo -m` / `-q` built in nvidia-smi's layout."""

from __future__ import annotations

from tests.gpu.nccl_logs import FIXTURES

QUERY_8XH100 = (FIXTURES / "nvidia-smi" / "query-gpu-8xH100.csv").read_text()
LIST_A100_MIG = (FIXTURES / "nvidia-smi" / "list-gpus-A100-40GB-with-MIG.txt").read_text()
H100_LABELS = {"nvidia.com/gpu.count": "8", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
               "nvidia.com/gpu.memory": "81559", "nvidia.com/mig.capable": "true"}


def topo(n: int = 8, link: str = "NV18", odd: dict[tuple[int, int], str] | None = None) -> str:
    """`nvidia-smi topo -m`: tab-separated matrix (header underlined with ANSI codes), then the legend."""
    odd = odd or {}
    head = "\t".join(f"GPU{i}" for i in range(n))
    lines = [f"\t\x1b[4m{head}\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\x1b[0m"]
    for r in range(n):
        cells = []
        for c in range(n):
            cells.append(" X " if r == c else odd.get((min(r, c), max(r, c)), link))
        lines.append(f"GPU{r}\t" + "\t".join(cells) + f"\tPXB\t{'0-55' if r < n // 2 else '56-111'}\t{r * 2 // n}\t\tN/A")
    lines += ["NIC0\t" + "\t".join("PXB" for _ in range(n)) + "\t X ", "", "Legend:", "",
              "  X    = Self", "  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes",
              "  NV#  = Connection traversing a bonded set of # NVLinks"]
    return "\n".join(lines) + "\n"


def query_details(states: list[tuple[str, str]]) -> str:
    """`nvidia-smi -q` with each GPU's Fabric section (other sections shortened)."""
    out = ["", "==============NVSMI LOG==============", "", "Timestamp                                 : Mon Nov 30 10:00:00 2026",
           "Driver Version                            : 580.126.20", "CUDA Version                              : 13.0",
           "", f"Attached GPUs                             : {len(states)}"]
    for i, (state, status) in enumerate(states):
        out += [f"GPU 00000000:{0x18 + i:02X}:00.0",
                "    Product Name                          : NVIDIA H100 80GB HBM3",
                "    MIG Mode",
                "        Current                           : Disabled",
                "        Pending                           : Disabled",
                "    Fabric",
                f"        State                             : {state}",
                f"        Status                            : {status}",
                "        CliqueId                          : 0",
                "        Health",
                "            Bandwidth                     : Full",
                "    Processes                             : None"]
    return "\n".join(out) + "\n"


def with_column(query: str, field: str, values: list[str]) -> str:
    """Add one query field (e.g. ECC errors) to a `--format=csv` output."""
    lines = query.strip().splitlines()
    return "\n".join([lines[0] + f", {field}"] + [f"{ln}, {v}" for ln, v in zip(lines[1:], values, strict=True)]) + "\n"
