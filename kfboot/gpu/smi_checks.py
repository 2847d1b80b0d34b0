"""nvidia-smi on one node, checked against its labels, its hardware profile and its sharing pool.

Pure functions over the text of `nvidia-smi --query-gpu=… --format=csv`, `-L`, `topo -m` and `-q`.
What is checked: a driver answers; GPU model, count and memory match GFD's labels and the profile;
MIG mode and MIG devices are what the node's sharing configuration asked for; no volatile
uncorrected ECC errors; no hardware slowdown; NVLink between every GPU pair on NVLink profiles;
Fabric Manager "Completed" on NVSwitch systems (otherwise CUDA fails with error 802 while
nvidia-smi looks fine).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kfboot.gpu.nvsmi import parse_list_gpus, parse_query_csv, product_label
from kfboot.gpu.profile_model import HardwareProfile

QUERY_FIELDS = (
    "index", "name", "uuid", "pci.bus_id", "driver_version", "memory.total", "mig.mode.current",
    "ecc.errors.uncorrected.volatile.total", "clocks_throttle_reasons.active", "power.draw", "power.limit",
)
# nvmlClocksThrottleReasons bits that mean the hardware itself is slowing the GPU down
_HW_SLOWDOWN = {0x8: "HW slowdown", 0x40: "HW thermal slowdown", 0x80: "HW power brake slowdown",
                0x20: "SW thermal slowdown"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_UNAVAILABLE = {"", "[n/a]", "n/a", "[not supported]", "not supported", "[unknown error]"}
_NO_DRIVER = re.compile(r"NVIDIA-SMI has failed|couldn't communicate with the NVIDIA driver|No devices were found",
                        re.I)
_MIG_COUNT_LABEL = re.compile(r"^nvidia\.com/mig-(.+)\.count$")
SECTION_MARK = "### kfboot nvidia-smi "
_SECTION = re.compile(r"^### kfboot nvidia-smi (query|list|topo|details)\s*$")

# What the nvidia-smi pod runs: each output under a marker line so one log carries all four.
# `|| true`: a failing subcommand (e.g. topo on a driver without it) must not hide the others.
SMI_SCRIPT = "\n".join([
    f"echo '{SECTION_MARK}query'; nvidia-smi --query-gpu={','.join(QUERY_FIELDS)} --format=csv 2>&1 || true",
    f"echo '{SECTION_MARK}list'; nvidia-smi -L 2>&1 || true",
    f"echo '{SECTION_MARK}topo'; nvidia-smi topo -m 2>&1 || true",
    f"echo '{SECTION_MARK}details'; nvidia-smi -q 2>&1 || true",
])


def split_sections(text: str) -> dict[str, str]:
    """kfboot's nvidia-smi pod log → {query|list|topo|details: text}; {} when it has no markers."""
    parts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        m = _SECTION.match(line.strip())
        if m:
            current = parts.setdefault(m.group(1), [])
            continue
        if current is not None:
            current.append(line)
    return {k: "\n".join(v) + "\n" for k, v in parts.items()}


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    reason: str


@dataclass
class NodeSmi:
    node: str
    checks: list[Check] = field(default_factory=list)
    gpus: int = 0
    model: str | None = None
    driver: str | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def reason(self) -> str:
        bad = [c.reason for c in self.checks if not c.passed]
        return "; ".join(bad) if bad else f"{self.gpus}× {self.model or 'GPU'}, driver {self.driver}: all checks passed"

    def add(self, name: str, ok: bool, reason: str) -> None:
        self.checks.append(Check(name, ok, reason))

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "nvidia-smi", "node": self.node, "passed": self.passed, "gpus": self.gpus,
            "model": self.model, "driver": self.driver, "reason": self.reason,
            "checks": [{"name": c.name, "passed": c.passed, "reason": c.reason} for c in self.checks],
        }


def _available(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _UNAVAILABLE


# -- parsers --------------------------------------------------------------------------------------------
def parse_topo(text: str) -> dict[tuple[int, int], str]:
    """`nvidia-smi topo -m`: link kind between GPU pairs, e.g. {(0, 1): 'NV18', (0, 2): 'SYS'}."""
    lines = [_ANSI.sub("", ln).rstrip() for ln in text.splitlines()]
    header: list[str] | None = None
    links: dict[tuple[int, int], str] = {}
    for line in lines:
        if not line.strip():
            if header is not None and links:
                break
            continue
        cells = [c.strip() for c in (line.split("\t") if "\t" in line else line.split())]
        if header is None:
            if any(re.fullmatch(r"GPU\d+", c) for c in cells):
                header = cells
            continue
        if not cells or not re.fullmatch(r"GPU\d+", cells[0]):
            continue
        row = int(cells[0][3:])
        values = cells[1:]
        names = [c for c in header if c]
        for col_name, value in zip(names, values, strict=False):
            if re.fullmatch(r"GPU\d+", col_name):
                col = int(col_name[3:])
                if col != row:
                    links[(min(row, col), max(row, col))] = value
    return links


def parse_fabric(text: str) -> list[tuple[str, str | None]]:
    """`nvidia-smi -q`: (State, Status) of each GPU's `Fabric` section, in GPU order."""
    out: list[tuple[str, str | None]] = []
    fabric_indent: int | None = None
    state: str | None = None
    status: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        indent = len(line) - len(line.lstrip())
        if fabric_indent is not None and indent <= fabric_indent:
            out.append((state or "?", status))
            fabric_indent = None
        if stripped == "Fabric":
            fabric_indent, state, status = indent, None, None
            continue
        if fabric_indent is not None:
            key, _, value = stripped.partition(":")
            if key.strip() == "State" and state is None:
                state = value.strip()
            elif key.strip() == "Status" and status is None:
                status = value.strip()
    if fabric_indent is not None:
        out.append((state or "?", status))
    return out


# -- expectations from labels -----------------------------------------------------------------------------
def expected_mig_devices(labels: dict[str, str]) -> dict[str, int] | None:
    """MIG devices the node advertises per profile (GFD `nvidia.com/mig-<profile>.count`, mixed
    strategy; `single` names the profile in the product label); None when the node shows no MIG."""
    counts = {m.group(1): int(v) for k, v in labels.items() if (m := _MIG_COUNT_LABEL.match(k)) and v.isdigit()}
    if counts:
        return counts
    product = labels.get("nvidia.com/gpu.product", "")
    if "-MIG-" in product and labels.get("nvidia.com/gpu.count", "").isdigit():
        return {product.split("-MIG-", 1)[1]: int(labels["nvidia.com/gpu.count"])}
    return None


def is_nvswitch_system(profile: HardwareProfile | None, gpus: int) -> bool:
    """8-GPU NVLink (HGX) systems connect GPUs through NVSwitch and need Fabric Manager."""
    return bool(profile and profile.interconnect == "nvlink" and gpus >= 8)


# -- the checks ----------------------------------------------------------------------------------------------
def check_node(
    node: str,
    *,
    query: str | None,
    listing: str = "",
    topo: str = "",
    details: str = "",
    labels: dict[str, str] | None = None,
    profile: HardwareProfile | None = None,
    mig_geometries: list[dict[str, int] | None] | None = None,
) -> NodeSmi:
    """Judge one node's nvidia-smi output. `mig_geometries` (per GPU, None = MIG off) comes from the
    node's sharing pool when kfboot configured it; otherwise MIG is checked against GFD's labels."""
    labels = labels or {}
    result = NodeSmi(node)
    if query is None:  # saved output without the query: judge what there is
        result.gpus = len(parse_list_gpus(listing)) or len({a for pair in parse_topo(topo) for a in pair})
        if listing.strip():
            _check_mig(result, [], listing, labels, profile, mig_geometries)
        if topo.strip():
            _check_nvlink(result, topo, profile)
        if details.strip():
            _check_fabric(result, details, profile)
        return result
    if _NO_DRIVER.search(query) or not query.strip():
        first = next((ln for ln in query.splitlines() if ln.strip()), "no output")
        result.add("driver", False, f"nvidia-smi found no GPU or no driver: {first.strip()!r}")
        return result
    rows = parse_query_csv(query)
    if not rows or "name" not in rows[0]:
        result.add("driver", False, f"unexpected nvidia-smi output: {query.strip().splitlines()[0]!r}")
        return result
    result.gpus = len(rows)
    result.model = rows[0].get("name")
    drivers = sorted({r.get("driver_version", "") for r in rows})
    result.driver = ", ".join(drivers)
    result.add("driver", all(_available(d) for d in drivers), f"driver {result.driver}")

    _check_model(result, rows, labels, profile)
    _check_count_memory(result, rows, labels, profile)
    _check_health(result, rows)
    _check_mig(result, rows, listing, labels, profile, mig_geometries)
    if topo.strip():
        _check_nvlink(result, topo, profile)
    if details.strip():
        _check_fabric(result, details, profile)
    return result


def _check_model(result: NodeSmi, rows: list[dict[str, str]], labels: dict[str, str],
                 profile: HardwareProfile | None) -> None:
    models = sorted({r.get("name", "") for r in rows})
    if len(models) > 1:
        result.add("model", False, f"mixed GPU models on one node: {', '.join(models)}")
        return
    product = product_label(models[0])
    problems = []
    label = labels.get("nvidia.com/gpu.product")
    if label is not None:
        base = label.split("-MIG-")[0].removesuffix("-SHARED")
        if base != product:
            problems.append(f"nvidia-smi reports {product} but the node is labelled {label}")
    if profile is not None and profile.products and product not in profile.products:
        problems.append(f"{product} is not a {profile.name} GPU (profile products: {', '.join(profile.products)})")
    result.add("model", not problems, "; ".join(problems) or f"model {product}")


def _check_count_memory(result: NodeSmi, rows: list[dict[str, str]], labels: dict[str, str],
                        profile: HardwareProfile | None) -> None:
    count_label = labels.get("nvidia.com/gpu.count")
    if count_label and count_label.isdigit() and "-MIG-" not in labels.get("nvidia.com/gpu.product", ""):
        want = int(count_label)
        result.add("count", want == len(rows),
                   f"{len(rows)} GPUs visible, node label nvidia.com/gpu.count={want}")
    mems = [_mib(r.get("memory.total", "")) for r in rows]
    problems = []
    label_mem = labels.get("nvidia.com/gpu.memory")
    for i, mem in enumerate(mems):
        if mem is None:
            continue
        if label_mem and label_mem.isdigit() and abs(mem - int(label_mem)) > int(label_mem) * 0.01:
            problems.append(f"GPU {i} has {mem} MiB, the node label says {label_mem} MiB")
        # nvidia-smi counts MiB; the marketing figure is decimal GB (48 GB L40S = 46068 MiB)
        if profile is not None and profile.memory_gb and mem * 1.048576 / 1000 < profile.memory_gb * 0.95:
            problems.append(f"GPU {i} has {mem} MiB, a {profile.name} has {profile.memory_gb:g} GB")
    result.add("memory", not problems, "; ".join(problems[:3]) or f"memory {mems[0]} MiB per GPU")


def _mib(value: str) -> int | None:
    m = re.match(r"\s*(\d+)", value or "")
    return int(m.group(1)) if m else None


def _check_health(result: NodeSmi, rows: list[dict[str, str]]) -> None:
    ecc = [(r.get("index", str(i)), r.get("ecc.errors.uncorrected.volatile.total"))
           for i, r in enumerate(rows)]
    bad_ecc = [f"GPU {i}: {v}" for i, v in ecc if _available(v) and (v or "0").strip().isdigit() and int(v or 0) > 0]
    if any(_available(v) for _, v in ecc):
        result.add("ecc", not bad_ecc, ("volatile uncorrected ECC errors (drain the node and reset the GPU): "
                                        + ", ".join(bad_ecc)) if bad_ecc else "no uncorrected ECC errors")
    slow = []
    for i, r in enumerate(rows):
        value = r.get("clocks_throttle_reasons.active") or r.get("clocks_event_reasons.active")
        if not _available(value):
            continue
        try:
            mask = int(value or "0", 16)
        except ValueError:
            continue
        names = [name for bit, name in _HW_SLOWDOWN.items() if mask & bit]
        if names:
            slow.append(f"GPU {r.get('index', i)}: {', '.join(names)}")
    if any(_available(r.get("clocks_throttle_reasons.active")) for r in rows):
        result.add("throttle", not slow, ("GPUs are slowed down by the hardware (cooling or power): "
                                          + "; ".join(slow)) if slow else "no hardware slowdown")


def _check_mig(result: NodeSmi, rows: list[dict[str, str]], listing: str, labels: dict[str, str],
               profile: HardwareProfile | None, geometries: list[dict[str, int] | None] | None) -> None:
    if labels.get("nvidia.com/mig.config.state") == "failed":
        result.add("mig", False, f"mig-manager failed to apply nvidia.com/mig.config="
                                 f"{labels.get('nvidia.com/mig.config', '?')} (label mig.config.state=failed)")
        return
    want_enabled: list[bool] | None  # per GPU; None: some GPUs use MIG, the labels do not say which
    if geometries is not None:
        want_total: Counter[str] = Counter()
        for g in geometries:
            want_total.update({k: v for k, v in (g or {}).items() if v})
        want_enabled = [g is not None for g in geometries]
    else:
        from_labels = expected_mig_devices(labels)
        want_total = Counter(from_labels or {})
        want_enabled = None if from_labels else [False] * len(rows)
    modes = [r.get("mig.mode.current", "") for r in rows]
    if not any(_available(m) for m in modes) and not want_total:
        return  # not MIG-capable (nvidia-smi prints [N/A]) and nothing asks for MIG
    problems = []
    for i, mode in enumerate(modes):
        if not _available(mode) or want_enabled is None or i >= len(want_enabled):
            continue
        if (mode.lower() == "enabled") != want_enabled[i]:
            problems.append(f"GPU {i} MIG mode is {mode}, the node's configuration wants "
                            f"{'Enabled' if want_enabled[i] else 'Disabled'}")
    enabled = sum(1 for m in modes if m.lower() == "enabled")
    if want_enabled is None and not enabled:
        problems.append("the node advertises MIG devices but no GPU has MIG enabled")
    if listing.strip() and (want_total or enabled):
        have: Counter[str] = Counter()
        for gpu in parse_list_gpus(listing):
            have.update(profile_name for profile_name, _, _ in gpu.mig_devices)
        if have != want_total:
            problems.append(f"MIG devices {_counts(have)}; the configuration asks for {_counts(want_total)}")
    result.add("mig", not problems, "; ".join(problems) or
               (f"MIG enabled on {enabled} GPUs as configured" if enabled else "MIG disabled as configured"))


def _counts(c: Counter[str]) -> str:
    return ", ".join(f"{n}×{p}" for p, n in sorted(c.items())) or "none"


def _check_nvlink(result: NodeSmi, topo: str, profile: HardwareProfile | None) -> None:
    links = parse_topo(topo)
    if not links:
        result.add("nvlink", False, "could not read `nvidia-smi topo -m`")
        return
    if profile is None or profile.interconnect != "nvlink":
        nv = sum(1 for v in links.values() if v.startswith("NV"))
        result.add("nvlink", True, f"{nv}/{len(links)} GPU pairs over NVLink (not required by the profile)")
        return
    missing = [f"GPU{a}-GPU{b} ({kind})" for (a, b), kind in sorted(links.items()) if not kind.startswith("NV")]
    result.add("nvlink", not missing,
               (f"{len(missing)} GPU pairs without NVLink on an NVLink system: " + ", ".join(missing[:6])
                + (" …" if len(missing) > 6 else "") + " (a failed NVLink, or GPUs not behind NVSwitch)")
               if missing else f"NVLink between all {len(links)} GPU pairs")


def _check_fabric(result: NodeSmi, details: str, profile: HardwareProfile | None) -> None:
    states = parse_fabric(details)
    needed = is_nvswitch_system(profile, result.gpus)
    if not states or (not needed and all(s == "N/A" for s, _ in states)):
        if needed:
            result.add("fabric-manager", True, "nvidia-smi -q shows no Fabric section (driver before R525): "
                                               "Fabric Manager state unknown")
        return
    bad = [(i, s, st) for i, (s, st) in enumerate(states) if s != "Completed" or st not in (None, "Success", "N/A")]
    if not bad:
        result.add("fabric-manager", True, f"Fabric Manager state Completed on all {len(states)} GPUs")
        return
    i, state, status = bad[0]
    result.add("fabric-manager", False,
               f"Fabric Manager state is {state!r}" + (f" (status {status})" if status else "")
               + f" on GPU {i}: CUDA programs fail with error 802 'system not yet initialized' although "
               "nvidia-smi looks fine; start nvidia-fabricmanager on the node (GPU Operator: driver with fabric "
               "manager, or the host service)")
