"""kfboot's all_reduce benchmark for torch.distributed, printed in nccl-tests' all_reduce_perf format.

Run by `kfboot verify-gpu --multi-node` with torchrun, one process per GPU, in any image with
PyTorch (no MPI, no SSH). Rank 0 prints the device listing, one row per message size and the
trailer exactly as all_reduce_perf does, so kfboot judges both with one parser. torch.distributed
has no out-of-place all_reduce: the in-place figure is printed in both halves of a row.
Each size is checked once (every rank contributes rank+1; the sum must be n(n+1)/2 everywhere)
and then timed with CUDA events over `--iters` iterations after `--warmup` ones.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """nccl-tests' size syntax: `8`, `64K`, `128M`, `8G` (binary units)."""
    text = text.strip().upper().removesuffix("B")
    unit = text[-1] if text and text[-1] in _UNITS else ""
    return int(float(text[: len(text) - len(unit)]) * _UNITS[unit])


def sizes(min_bytes: int, max_bytes: int, factor: int = 2) -> list[int]:
    out, size = [], max(min_bytes, 4)
    while size <= max_bytes:
        out.append(size)
        size *= factor
    return out


def header(world: int, min_bytes: int, max_bytes: int, warmup: int, iters: int, versions: str) -> list[str]:
    return [
        f"# kfboot all_reduce benchmark (torch.distributed, {versions})",
        "# Collective test starting: all_reduce_perf",
        f"# nThread 1 nGpus 1 minBytes {min_bytes} maxBytes {max_bytes} step: 2(factor) warmup iters: {warmup} "
        f"iters: {iters} agg iters: 1 validation: 1 graph: 0 unalign: 0",
        "#",
        "# Using devices",
    ]


def rank_line(rank: int, pid: int, node: str, device: int, bus_id: str, name: str) -> str:
    return f"#  Rank {rank:2d} Group  0 Pid {pid:6d} on {node:>10} device {device:2d} [{bus_id}] {name}"


COLUMNS = [
    "#",
    "#                                                              out-of-place                       in-place          ",
    "#       size         count      type   redop    root     time   algbw   busbw  #wrong     time   algbw   busbw  #wrong ",
    "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)             (us)  (GB/s)  (GB/s)         ",
]


def _num(value: float, width: int) -> str:
    """Like nccl-tests: fewer decimals as the number grows, %.1e when it does not fit."""
    digits = len(str(int(value))) if value >= 1 else 1
    if digits < width - 2:
        return f"{value:{width}.2f}"
    if digits < width - 1:
        return f"{value:{width}.1f}"
    if digits < width + 1:
        return f"{value:{width}.0f}"
    return f"{value:{width}.1e}"


def row(size: int, count: int, seconds: float, world: int, wrong: int) -> tuple[str, float]:
    algbw = size / 1e9 / seconds if seconds > 0 else 0.0
    busbw = algbw * 2 * (world - 1) / world
    half = f"  {_num(seconds * 1e6, 7)}  {_num(algbw, 6)}  {_num(busbw, 6)}  {wrong:6d}"
    return f"{size:12d}  {count:12d}     float     sum      -1{half}{half}", busbw


def trailer(avg_busbw: float, wrong_total: int) -> list[str]:
    return [
        f"# Out of bounds values : {1 if wrong_total else 0} {'FAILED' if wrong_total else 'OK'}",
        f"# Avg bus bandwidth    : {avg_busbw:g} ",
        "#",
        "# Collective test concluded: all_reduce_perf",
        "#",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-bytes", default="8")
    parser.add_argument("--max-bytes", default="8G")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    args = parser.parse_args(argv)

    import torch
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local_rank)
    device = torch.device("cuda", local_rank)
    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    props = torch.cuda.get_device_properties(local_rank)
    bus = "{:04x}:{:02x}:{:02x}".format(getattr(props, "pci_domain_id", 0), getattr(props, "pci_bus_id", 0),
                                        getattr(props, "pci_device_id", 0))
    node = os.environ.get("NODE_NAME") or socket.gethostname()
    listing: list[str | None] = [None] * world
    dist.all_gather_object(listing, rank_line(rank, os.getpid(), node, local_rank, bus, props.name))
    min_bytes, max_bytes = parse_size(args.min_bytes), parse_size(args.max_bytes)
    nccl = ".".join(str(v) for v in torch.cuda.nccl.version())
    if rank == 0:
        lines = header(world, min_bytes, max_bytes, args.warmup, args.iters, f"torch {torch.__version__}, nccl {nccl}")
        print("\n".join(lines + [str(x) for x in listing] + COLUMNS), flush=True)
    expected = world * (world + 1) / 2
    busbws, wrong_total = [], 0
    for size in sizes(min_bytes, max_bytes):
        count = size // 4
        buf = torch.empty(count, dtype=torch.float32, device=device)
        buf.fill_(rank + 1)
        dist.all_reduce(buf)
        wrong = torch.tensor([int((buf != expected).sum().item())], device=device, dtype=torch.int64)
        buf.zero_()  # zeros stay zeros: repeated sums cannot overflow
        for _ in range(args.warmup):
            dist.all_reduce(buf)
        torch.cuda.synchronize()
        dist.barrier()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(args.iters):
            dist.all_reduce(buf)
        end.record()
        torch.cuda.synchronize()
        seconds = torch.tensor([start.elapsed_time(end) / 1000 / args.iters], device=device)
        dist.all_reduce(seconds, op=dist.ReduceOp.MAX)
        dist.all_reduce(wrong)
        del buf
        if rank == 0:
            line, busbw = row(size, count, float(seconds.item()), world, int(wrong.item()))
            busbws.append(busbw)
            wrong_total += int(wrong.item())
            print(line, flush=True)
    if rank == 0:
        print("\n".join(trailer(sum(busbws) / max(len(busbws), 1), wrong_total)), flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
