"""Parse nccl-tests output (`all_reduce_perf` and friends) across the versions people actually have.

Pure: text in, `NcclRun`s out. One parser serves saved logs, live pod logs and kfboot's own
torch.distributed benchmark (which prints rows in the same shape). Handled:
- pre-2.13 logs whose last column per half is `error` (a float max-delta such as `0e+00`) and whose
  device lines have no `Group` and print bus ids as `[0x18]`;
- 2.13+ `#wrong` (an integer, or `N/A` with `-c 0`), 2.17+ `# nccl-tests version` /
  `# Collective test starting|concluded` lines, 2.18+ `unalign`, per-iteration and timestamp columns;
- multi-node rank listings, mpirun `--tag-output` prefixes (`[1,0]<stdout>:`), kubectl `--prefix`
  prefixes, NCCL INFO lines and launcher noise interleaved with the table;
- floats too wide for their column printed as `%.1e`;
- the `-J FILE` JSON report of nccl-tests 2.18.5+ (see `parse_nccl_json`).
Columns are mapped by the table's own header line when there is one, so new columns do not shift old ones.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

GIB = 1 << 30

_PREFIXES = (
    re.compile(r"^\[\d+,\d+\]<(?:stdout|stderr)>:\s?"),  # mpirun --tag-output
    re.compile(r"^\[pod/[^\]]+\]\s?"),  # kubectl logs --prefix
    re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\s"),  # kubectl logs --timestamps
)
_HEADER = re.compile(
    r"^#\s*nThread\s+(\d+)\s+nGpus\s+(\d+)\s+minBytes\s+(\d+)\s+maxBytes\s+(\d+)(?:\s+step:\s*(\d+)\((\w+)\))?"
)
_VERSION = re.compile(r"^#\s*nccl-tests version\s+(\S+)")
_STARTING = re.compile(r"^#\s*Collective test starting:\s*(\S+)")
_CONCLUDED = re.compile(r"^#\s*Collective test concluded:\s*(\S+)")
_RANK = re.compile(
    r"^#\s*Rank\s+(\d+)(?:\s+Group\s+(\d+))?\s+Pid\s+(\d+)\s+on\s+(\S+)\s+device\s+(\d+)\s+\[([^\]]*)\]\s*(.*)$"
)
_OOB = re.compile(r"^#\s*Out of bounds values\s*:\s*(\d+)\s*(OK|FAILED)?")
_AVG = re.compile(r"^#\s*Avg bus bandwidth\s*:\s*(\S+)")
_ERROR_LINE = re.compile(r"^#\s*error:\s*(\S.*)$")
_COLUMNS = re.compile(r"^#\s*size\s+count\s+type\b")

# Lines that mean the run failed, whatever the table says (NVIDIA's own strings; torch's for the
# torchrun benchmark; the kernel's and Open MPI's for crashes).
_FAILURE_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"Test (?:NCCL|CUDA )?failure",
        r"\bNCCL failure\b",
        r"\bCuda failure\b",
        r"\bncclUnhandledCudaError\b|\bncclSystemError\b|\bncclInternalError\b|\bncclInvalidUsage\b|\bncclRemoteError\b",
        r"unhandled (?:cuda|system) error",
        r"Watchdog caught collective operation timeout",
        r"DistBackendError|ProcessGroupNCCL.*(?:error|timeout)",
        r"NCCL error",
        r"Duplicate GPU detected",
        r"system not yet initialized",
        r"posix_fallocate|No space left on device",
        r"\bBus error\b",
        r"CUDA error: out of memory|CUDA out of memory|\bout of memory\b",
        r"Invalid number of GPUs",
        r"mpirun noticed that process",
        r"Segmentation fault",
    )
]


@dataclass(frozen=True)
class Half:
    """One half of a row (out-of-place or in-place): time, bandwidths and the correctness column."""

    time_us: float
    algbw: float
    busbw: float
    wrong: float | None  # #wrong (elements) or pre-2.13 `error` (max delta); None: not checked (`N/A`)


@dataclass(frozen=True)
class Row:
    size: int
    count: int
    dtype: str
    redop: str
    root: str
    out_of_place: Half | None
    in_place: Half | None

    @property
    def halves(self) -> list[Half]:
        return [h for h in (self.out_of_place, self.in_place) if h is not None]

    @property
    def busbw(self) -> float:
        """The better of out-of-place and in-place bus bandwidth (NaN counts as 0)."""
        return max((h.busbw for h in self.halves if not math.isnan(h.busbw)), default=0.0)


@dataclass(frozen=True)
class RankInfo:
    rank: int
    host: str
    device: int
    bus_id: str
    gpu: str
    group: int | None = None
    pid: int | None = None


@dataclass
class NcclRun:
    """One test as nccl-tests printed it (a log may hold several, one after another)."""

    program: str | None = None
    version: str | None = None
    n_threads: int | None = None
    n_gpus: int | None = None
    min_bytes: int | None = None
    max_bytes_requested: int | None = None
    step: str | None = None
    ranks: list[RankInfo] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    correctness_column: str = "#wrong"  # or "error" (nccl-tests before 2.13)
    out_of_bounds: int | None = None  # None: the trailer never came
    avg_busbw: float | None = None
    concluded: bool = False
    failures: list[str] = field(default_factory=list)  # quoted lines that mean the run failed
    nccl_info: list[str] = field(default_factory=list)  # NCCL INFO/WARN lines (transport, diagnosis)
    source: str = ""

    @property
    def hosts(self) -> list[str]:
        """Hosts in rank order, each once."""
        return list(dict.fromkeys(r.host for r in self.ranks))

    @property
    def n_ranks(self) -> int:
        if self.ranks:
            return len(self.ranks)
        return (self.n_threads or 1) * (self.n_gpus or 0)

    @property
    def gpu_names(self) -> list[str]:
        return list(dict.fromkeys(r.gpu for r in self.ranks if r.gpu))

    @property
    def max_bytes(self) -> int:
        """The largest message size the log has a result for (0 without rows)."""
        return max((r.size for r in self.rows), default=0)

    @property
    def finished(self) -> bool:
        """The trailer (`# Out of bounds values`) came: the sweep ran to its end."""
        return self.out_of_bounds is not None

    @property
    def wrong_total(self) -> float:
        """Sum of #wrong over every checked half (pre-2.13: the number of halves with error > 0)."""
        values = [h.wrong for r in self.rows for h in r.halves if h.wrong is not None and not math.isnan(h.wrong)]
        if self.correctness_column == "error":
            return float(sum(1 for v in values if v > 0))
        return float(sum(values))

    @property
    def checked(self) -> bool:
        """Whether results were verified at all (`-c 0` prints `N/A`)."""
        return any(h.wrong is not None for r in self.rows for h in r.halves)

    def wrong_rows(self) -> list[Row]:
        return [r for r in self.rows if any((h.wrong or 0) > 0 for h in r.halves)]


def strip_prefix(line: str) -> str:
    """Remove launcher prefixes (mpirun --tag-output, kubectl --prefix/--timestamps), repeatedly."""
    changed = True
    while changed:
        changed = False
        for pattern in _PREFIXES:
            new = pattern.sub("", line, count=1)
            if new != line:
                line, changed = new, True
    return line.rstrip("\r\n")


def _number(token: str) -> float | None:
    if token.upper() == "N/A":
        return None
    try:
        value = float(token)
    except ValueError:
        return float("nan")
    return value if math.isfinite(value) else float("nan")  # `1e309`, `inf`: not a measurement


def _is_int(token: str) -> bool:
    return token.isdigit()


def _half(tokens: list[str]) -> Half | None:
    if len(tokens) < 4:
        return None
    try:
        time_us, algbw, busbw = float(tokens[0]), float(tokens[1]), float(tokens[2])
    except ValueError:
        return None
    return Half(time_us, algbw, busbw, _number(tokens[3]))


def _parse_row(tokens: list[str], columns: list[str] | None) -> Row | None:
    """A result row; `columns` are the header's names (None: infer from the numbers' positions)."""
    if len(tokens) < 8 or not (_is_int(tokens[0]) and _is_int(tokens[1])):
        return None
    if columns:
        times = [i for i, c in enumerate(columns) if c in ("time", "cputime")]
        if len(times) >= 1 and len(tokens) >= times[-1] + 4:
            lead = tokens[2:times[0]]
            halves = [_half(tokens[t:t + 4]) for t in times[:2]]
            if all(h is not None for h in halves):
                dtype, redop, root = [*lead, "", "", ""][:3]
                oop = halves[0] if len(halves) == 2 else None
                return Row(int(tokens[0]), int(tokens[1]), dtype, redop, root, oop, halves[-1])
    # No header (or it did not fit): size count type [redop [root]], then two halves of 4 numbers.
    lead, rest = tokens[2:-8], tokens[-8:]
    if not lead or any(_looks_numeric(t) for t in lead[:1]):
        return None
    oop, inp = _half(rest[0:4]), _half(rest[4:8])
    if oop is None or inp is None:
        return None
    dtype, redop, root = [*lead, "", "", ""][:3]
    return Row(int(tokens[0]), int(tokens[1]), dtype, redop, root, oop, inp)


def _looks_numeric(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _is_failure(line: str) -> bool:
    return any(p.search(line) for p in _FAILURE_PATTERNS)


def parse_nccl_log(text: str, source: str = "") -> list[NcclRun]:
    """Every test in a log, in order. A log with no recognisable output gives one empty run with
    any failure lines found (so a crash before the header is still explained)."""
    runs: list[NcclRun] = []
    current: NcclRun | None = None
    pending = NcclRun(source=source)  # lines before the first header (version line, launcher noise)
    columns: list[str] | None = None

    def run() -> NcclRun:
        return current if current is not None else pending

    for raw in text.splitlines():
        line = strip_prefix(raw)
        stripped = line.strip()
        if not stripped:
            continue
        if "NCCL INFO" in stripped or "NCCL WARN" in stripped:
            run().nccl_info.append(stripped)
            if "NCCL WARN" in stripped and _is_failure(stripped):
                run().failures.append(stripped)
            continue
        if stripped.startswith("#"):
            if m := _HEADER.match(stripped):
                if current is not None:
                    runs.append(current)
                current = NcclRun(
                    program=pending.program, version=pending.version, source=source,
                    n_threads=int(m.group(1)), n_gpus=int(m.group(2)), min_bytes=int(m.group(3)),
                    max_bytes_requested=int(m.group(4)),
                    step=f"{m.group(5)}({m.group(6)})" if m.group(5) else None,
                    failures=pending.failures, nccl_info=pending.nccl_info,
                )
                pending = NcclRun(source=source)
                columns = None
            elif m := _VERSION.match(stripped):  # 2.17.4+: printed before the test's header
                pending.version = m.group(1)
            elif m := _STARTING.match(stripped):  # 2.17+: printed before the test's header
                pending.program = m.group(1)
            elif m := _CONCLUDED.match(stripped):
                run().concluded = True
                run().program = run().program or m.group(1)
            elif m := _RANK.match(stripped):
                gpu = m.group(7).strip()
                run().ranks.append(RankInfo(
                    rank=int(m.group(1)), group=int(m.group(2)) if m.group(2) else None, pid=int(m.group(3)),
                    host=m.group(4), device=int(m.group(5)), bus_id=m.group(6), gpu=gpu,
                ))
            elif _COLUMNS.match(stripped):
                columns = stripped.lstrip("#").split()
                if "error" in columns and "#wrong" not in columns:
                    run().correctness_column = "error"
            elif m := _OOB.match(stripped):
                run().out_of_bounds = int(m.group(1))
            elif m := _AVG.match(stripped):
                value = _number(m.group(1))
                run().avg_busbw = value if value is not None and not math.isnan(value) else None
            elif m := _ERROR_LINE.match(stripped):
                run().failures.append(stripped)
            continue
        row = _parse_row(stripped.split(), columns)
        if row is not None:
            run().rows.append(row)
            continue
        if _is_failure(stripped):
            run().failures.append(stripped)
    if current is not None:
        # failure lines printed after the trailer (a crash at exit) still belong to the last run
        current.failures.extend(f for f in pending.failures if f not in current.failures)
        current.nccl_info.extend(pending.nccl_info)
        runs.append(current)
    elif pending.rows or pending.failures or pending.ranks or not runs:
        runs.append(pending)
    return runs


# -- nccl-tests -J JSON -------------------------------------------------------------------------------
def looks_like_json(text: str) -> bool:
    return text.lstrip().startswith("{")


def _json_half(obj: Any) -> Half | None:
    if not isinstance(obj, dict):
        return None

    def num(key: str) -> float:
        value = obj.get(key)
        try:
            return float(value)  # "nan" strings too
        except (TypeError, ValueError):
            return float("nan")

    wrong = obj.get("nwrong")
    return Half(
        num("time") if "time" in obj else num("cpu_time"), num("alg_bw"), num("bus_bw"),
        None if wrong is None else float(wrong),
    )


def parse_nccl_json(text: str, source: str = "") -> NcclRun:
    """nccl-tests' `-J FILE` report (version 2 of its format): config, devices, results, trailer."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        run = NcclRun(source=source)
        run.failures.append(f"the JSON report is incomplete or invalid ({exc.msg} at line {exc.lineno}): "
                            "nccl-tests did not finish writing it")
        return run
    config = doc.get("config") or {}
    run = NcclRun(
        source=source,
        n_threads=config.get("nthreads"), n_gpus=config.get("ngpus"),
        min_bytes=config.get("minimum_bytes"), max_bytes_requested=config.get("maximum_bytes"),
        step=f"{config['step_factor']}(factor)" if "step_factor" in config else None,
    )
    nccl_version = doc.get("nccl_version")
    run.version = f"nccl {nccl_version}" if nccl_version else None
    for dev in config.get("devices") or doc.get("devices") or []:
        run.ranks.append(RankInfo(
            rank=int(dev.get("rank", 0)), group=dev.get("group"), pid=dev.get("pid"), host=str(dev.get("hostname", "")),
            device=int(dev.get("device", 0)), bus_id=str(dev.get("device_hex", "")), gpu=str(dev.get("device_info", "")),
        ))
    for res in doc.get("results") or []:
        run.rows.append(Row(
            int(res.get("size", 0)), int(res.get("count", 0)), str(res.get("type", "")), str(res.get("redop", "")),
            str(res.get("root", "")).strip(), _json_half(res.get("out_of_place")), _json_half(res.get("in_place")),
        ))
        run.program = run.program or res.get("experiment_name")
    oob = doc.get("out_of_bounds")
    if isinstance(oob, dict) and "count" in oob:
        run.out_of_bounds = int(oob["count"])
        run.concluded = True
    avg = doc.get("average_bus_bandwidth")
    if isinstance(avg, dict):
        try:
            run.avg_busbw = float(avg.get("bandwidth"))
        except (TypeError, ValueError):
            run.avg_busbw = None
    run.failures.extend(f"# error: {e}" for e in doc.get("errors") or [] if e)
    return run


def parse_any(text: str, source: str = "") -> list[NcclRun]:
    """A text log or a `-J` JSON report, whichever `text` is."""
    if looks_like_json(text):
        return [parse_nccl_json(text, source)]
    return parse_nccl_log(text, source)


def parse_size(text: str) -> int:
    """nccl-tests' size syntax (`-e 8G`): `8`, `64K`, `128M`, `8G`, binary units. ValueError if malformed."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"{text!r} is not a size like 8G or 512M")
    unit = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m.group(2).upper()]
    return int(float(m.group(1)) * unit)


def human_bytes(size: int) -> str:
    """`134217728` → `128 MiB` (the unit nccl-tests users think in)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:g} {unit}"
        value /= 1024
    return f"{size} B"
