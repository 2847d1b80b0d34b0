"""MIG geometry: profile-name syntax, geometry parsing, placement simulation and named configs.

mig-parted only checks the syntax of a profile name; whether a geometry *fits* is discovered on
the node, after a drain, as `nvidia.com/mig.config.state=failed`. kfboot simulates the GPU's
placement rules first (allowed start slots on the memory-slot axis, compute-slice budget, one
`+me` per GPU, a whole-GPU instance alone) so a bad geometry is rejected with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kfboot.gpu.profile_model import MigCapability, MigInstanceProfile

#: slice sizes NVML defines GPU / compute instance profiles for (mig-parted ParseMigProfile)
VALID_SLICES = (1, 2, 3, 4, 6, 7, 8)
KNOWN_ATTRIBUTES = ("me", "me.all", "gfx")
_NAME = re.compile(r"^(?:(?P<c>\d+)c\.)?(?P<g>\d+)g\.(?P<gb>\d+)gb(?:\+(?P<attrs>.+))?$")
_ATTR = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)?$")

Geometry = dict[str, int]


@dataclass(frozen=True)
class MigProfileName:
    """A parsed `[<C>c.]<G>g.<GB>gb[+attr[,attr]]` name."""

    c: int
    g: int
    gb: int
    attrs: tuple[str, ...] = ()

    @property
    def gpu_instance(self) -> str:
        """The GPU-instance profile this name creates (without a `<C>c.` compute-instance prefix)."""
        suffix = "+" + ",".join(self.attrs) if self.attrs else ""
        return f"{self.g}g.{self.gb}gb{suffix}"

    def __str__(self) -> str:
        prefix = f"{self.c}c." if self.c != self.g else ""
        return prefix + self.gpu_instance


def parse_profile_name(text: str) -> MigProfileName:
    """Parse a MIG profile name; ValueError says what is wrong with it."""
    m = _NAME.match(text.strip()) if text == text.strip() else None
    if not m:
        raise ValueError(f"{text!r} is not a MIG profile name like 3g.40gb, 1c.3g.40gb or 1g.10gb+me")
    g, gb = int(m.group("g")), int(m.group("gb"))
    c = int(m.group("c")) if m.group("c") else g
    if g not in VALID_SLICES:
        raise ValueError(f"{text!r}: {g}g is not a GPU instance size (valid: {', '.join(map(str, VALID_SLICES))})")
    if c not in VALID_SLICES:
        raise ValueError(f"{text!r}: {c}c is not a compute instance size")
    if c > g:
        raise ValueError(f"{text!r}: a {c}-slice compute instance does not fit a {g}-slice GPU instance")
    attrs: tuple[str, ...] = ()
    if m.group("attrs") is not None:
        attrs = tuple(m.group("attrs").split(","))
        if len(set(attrs)) != len(attrs) or not all(_ATTR.match(a) for a in attrs):
            raise ValueError(f"{text!r}: malformed attribute list after '+'")
        unknown = [a for a in attrs if a not in KNOWN_ATTRIBUTES]
        if unknown:
            raise ValueError(f"{text!r}: unknown attribute {unknown[0]!r} (known: {', '.join(KNOWN_ATTRIBUTES)})")
    return MigProfileName(c=c, g=g, gb=gb, attrs=attrs)


def parse_geometry(text: str) -> Geometry:
    """Parse `3g.40gb=1,2g.20gb=2` (a bare name means one instance) into an ordered dict."""
    geometry: Geometry = {}
    if not text.strip():
        raise ValueError("empty geometry; write e.g. 3g.40gb=1,2g.20gb=2")
    for part in text.split(","):
        item = part.strip()
        if not item:
            raise ValueError(f"empty item in geometry {text!r}")
        name, sep, count_text = item.partition("=")
        name = name.strip()
        if sep:
            count_text = count_text.strip()
            if not count_text.isdigit():
                raise ValueError(f"{item!r}: count must be a whole number >= 0")
            count = int(count_text)
        else:
            count = 1
        parse_profile_name(name)
        if name in geometry:
            raise ValueError(f"{name} appears twice in geometry {text!r}")
        geometry[name] = count
    return geometry


def format_geometry(geometry: Mapping[str, int]) -> str:
    return ",".join(f"{name}={count}" for name, count in geometry.items())


def resource_suffix(profile: str) -> str:
    """How the device plugin spells a profile in `nvidia.com/mig-<...>`: `+` becomes `.`."""
    return profile.replace("+", ".").replace(",", ".")


@dataclass
class Placement:
    profile: str
    start: int
    size: int


@dataclass
class GeometryCheck:
    """Outcome of checking one geometry against one GPU: problems, or a concrete placement."""

    geometry: Geometry
    problems: list[str] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _times(name: str, count: int) -> str:
    return f"{name} ×{count}"


def slot_ranges(slots: list[int]) -> str:
    """`[0,1,2,5]` → `0-2, 5`."""
    out: list[str] = []
    for s in sorted(slots):
        if out and s == int(out[-1].split("-")[-1]) + 1:
            out[-1] = f"{out[-1].split('-')[0]}-{s}"
        else:
            out.append(str(s))
    return ", ".join(out)


def check_geometry(geometry: Mapping[str, int], mig: MigCapability, gpu: str = "this GPU") -> GeometryCheck:
    """Check that `geometry` can be created on one GPU described by `mig`; place it if it can."""
    result = GeometryCheck(geometry=dict(geometry))
    wanted: list[tuple[str, MigInstanceProfile, int]] = []
    for name, count in geometry.items():
        try:
            parsed = parse_profile_name(name)
        except ValueError as exc:
            result.problems.append(str(exc))
            continue
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            result.problems.append(f"{name}: count must be a whole number >= 0, got {count!r}")
            continue
        spec = mig.profile(parsed.gpu_instance)
        if spec is None:
            known = ", ".join(p.name for p in mig.profiles)
            result.problems.append(f"{name} is not a MIG profile of {gpu} (its profiles: {known})")
            continue
        if count:
            wanted.append((name, spec, count))
    if result.problems:
        return result
    result.problems.extend(_count_rules(wanted, mig))
    if result.problems or not wanted:
        return result
    placed, best = _place(wanted, mig)
    if placed is not None:
        result.placements = placed
    else:
        result.problems.append(_placement_failure(best, wanted, mig))
    return result


def _count_rules(wanted: list[tuple[str, MigInstanceProfile, int]], mig: MigCapability) -> list[str]:
    problems = []
    for name, spec, count in wanted:
        if count > spec.max_instances:
            problems.append(f"{_times(name, count)}: at most {spec.max_instances} per GPU")
    me = [(n, c) for n, s, c in wanted if s.media_extensions]
    if len(me) > 1:  # one +me profile over its max is already reported above
        got = ", ".join(_times(n, c) for n, c in me)
        problems.append(f"at most one +me instance per GPU (it has one set of media engines); got {got}")
    whole = [(n, s) for n, s, _ in wanted if s.memory_slots == mig.memory_slots]
    total = sum(c for _, _, c in wanted)
    if whole and total > 1:
        others = ", ".join(_times(n, c) for n, _, c in wanted if n != whole[0][0]) or "more of itself"
        problems.append(f"{whole[0][0]} takes the whole GPU and must be alone; also requested: {others}")
    slices = sum(s.compute_slices * c for _, s, c in wanted)
    if slices > mig.compute_slices and not problems:
        parts = ", ".join(f"{_times(n, c)} = {s.compute_slices * c}" for n, s, c in wanted)
        problems.append(f"needs {slices} compute slices ({parts}); the GPU has {mig.compute_slices}")
    return problems


def _place(
    wanted: list[tuple[str, MigInstanceProfile, int]], mig: MigCapability
) -> tuple[list[Placement] | None, list[Placement]]:
    """Backtracking over allowed starts; returns (placement or None, longest partial placement)."""
    items = [(n, s) for n, s, c in wanted for _ in range(c)]
    # big and constrained first: fewer dead ends, and the failing instance is the one a human expects
    items.sort(key=lambda it: (-it[1].memory_slots, -it[1].compute_slices, len(it[1].starts)))
    best: list[Placement] = []
    current: list[Placement] = []

    def go(i: int, used: int) -> bool:
        nonlocal best
        if len(current) > len(best):
            best = list(current)
        if i == len(items):
            return True
        name, spec = items[i]
        floor = current[-1].start if i and items[i - 1][0] == name else -1  # identical: ascending only
        for start in spec.starts:
            if start < floor:
                continue
            mask = ((1 << spec.memory_slots) - 1) << start
            if used & mask:
                continue
            current.append(Placement(name, start, spec.memory_slots))
            if go(i + 1, used | mask):
                return True
            current.pop()
        return False

    if go(0, 0):
        return current, current
    return None, best


def _placement_failure(
    best: list[Placement], wanted: list[tuple[str, MigInstanceProfile, int]], mig: MigCapability
) -> str:
    remaining: dict[str, int] = {n: c for n, _, c in wanted}
    for p in best:
        remaining[p.profile] -= 1
    specs = {n: s for n, s, _ in wanted}
    order = sorted(
        (n for n, c in remaining.items() if c > 0),
        key=lambda n: (-specs[n].memory_slots, -specs[n].compute_slices, len(specs[n].starts)),
    )
    failing = specs[order[0]]
    placed: dict[str, int] = {}
    used: set[int] = set()
    for p in best:
        placed[p.profile] = placed.get(p.profile, 0) + 1
        used.update(range(p.start, p.start + p.size))
    occupants = ", ".join(_times(n, c) for n, c in placed.items())
    verb = "occupies" if sum(placed.values()) == 1 else "occupy"
    free = [s for s in range(mig.memory_slots) if s not in used]
    name = order[0]
    if not free:
        return f"{occupants} {verb} all {mig.memory_slots} memory slots; {name} has no free slot"
    starts = ", ".join(map(str, failing.starts))
    need = f"{failing.memory_slots} slot" + ("s" if failing.memory_slots > 1 else "")
    return (
        f"{occupants} {verb} memory slots {slot_ranges(sorted(used))}; {name} needs {need} starting at "
        f"slot {starts}, but only slot {slot_ranges(free)} is free"
    )


def named_config_name(profile: str) -> str:
    """NVIDIA's name for the config that fills each GPU with one profile: `all-1g.10gb.me`."""
    return "all-" + profile.replace("+", ".")


def named_configs(mig: MigCapability) -> dict[str, Geometry | None]:
    """NVIDIA's named configs for this GPU: None means MIG disabled, {} MIG enabled with no instances."""
    configs: dict[str, Geometry | None] = {"all-disabled": None, "all-enabled": {}}
    for p in mig.profiles:
        configs[named_config_name(p.name)] = {p.name: p.max_instances}
    if mig.balanced:
        configs["all-balanced"] = dict(mig.balanced)
    return configs


def is_uniform(geometries: list[Geometry | None]) -> bool:
    """True when every GPU has MIG enabled with exactly one profile type (what `single` needs)."""
    kinds = set()
    for g in geometries:
        if g is None:
            return False
        names = {n for n, c in g.items() if c > 0}
        if len(names) != 1:
            return False
        kinds |= names
    return len(kinds) == 1
