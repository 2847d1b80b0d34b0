"""Find, load and look up hardware profiles (built-in `profiles/` plus user directories).

Lookup order for the built-in directory: `$KFBOOT_PROFILES_DIR` (os.pathsep-separated), the
repository's `profiles/` next to the package (source checkout, editable install), then
`kfboot/data/profiles` (where a wheel can ship them). User directories (`--profiles-dir`,
`gpu.profilesDir`) are loaded last and may override a built-in profile of the same name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kfboot.errors import ConfigError, UsageError
from kfboot.gpu.profile_model import HardwareProfile

ENV_PROFILES_DIR = "KFBOOT_PROFILES_DIR"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def builtin_profile_dirs() -> list[Path]:
    """Directories holding the shipped profiles, first existing source wins (see module doc)."""
    env = os.environ.get(ENV_PROFILES_DIR, "")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    for candidate in (_PACKAGE_DIR.parent / "profiles", _PACKAGE_DIR / "data" / "profiles"):
        if candidate.is_dir():
            return [candidate]
    return []


@dataclass
class ProfileSet:
    """Loaded profiles by name (case-insensitive), with the file each came from."""

    profiles: dict[str, HardwareProfile] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)

    def names(self) -> list[str]:
        return sorted(self.profiles, key=str.lower)

    def find(self, name: str) -> HardwareProfile | None:
        """A profile by exact name, then case-insensitive name, then alias."""
        if name in self.profiles:
            return self.profiles[name]
        low = name.lower()
        for key, prof in self.profiles.items():
            if key.lower() == low:
                return prof
        for key in self.names():
            prof = self.profiles[key]
            if any(a.lower() == low for a in prof.aliases):
                return prof
        return None

    def get(self, name: str) -> HardwareProfile:
        """Like find(), but a miss is a UsageError listing the known names."""
        prof = self.find(name)
        if prof is None:
            raise UsageError(
                f"unknown hardware profile {name!r}",
                hint=f"known profiles: {', '.join(self.names()) or '(none)'}; see `kfboot profiles list`",
            )
        return prof

    def by_product(self, product: str) -> HardwareProfile | None:
        """The profile whose GFD `nvidia.com/gpu.product` list contains `product` (MIG suffixes ignored)."""
        base = product.split("-MIG-")[0].removesuffix("-SHARED")
        for key in self.names():
            if base in self.profiles[key].products:
                return self.profiles[key]
        return None


def profile_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_profile_file(path: Path) -> HardwareProfile:
    """Validate one profile file; schema errors are ConfigError lines `file:line:col: path: msg`.

    A valid file is read with libyaml when that reads it exactly as YAML 1.2 does; positions (ruamel,
    ~15x slower) are only needed to report what is wrong."""
    from pydantic import ValidationError

    from kfboot.yaml_positions import fast_plain, read_text, read_yaml_file, validate

    data = fast_plain(read_text(path)[0])  # bounded read: a missing, huge or non-UTF-8 file fails here
    if isinstance(data, dict):
        try:
            fast = HardwareProfile.model_validate(data)
        except ValidationError:
            fast = None
        if fast is not None and fast.name == path.stem:
            return fast
    doc = read_yaml_file(path)
    prof = validate(doc, HardwareProfile)
    if prof.name != path.stem:
        line, col = doc.position(("name",))
        raise ConfigError([f"{path}:{line}:{col}: name: {prof.name!r} must match the file name {path.stem!r}"])
    return prof


def load_profiles(extra_dirs: Sequence[Path | str | None] = (), *, include_builtin: bool = True) -> ProfileSet:
    """Load built-in then user profiles; every broken file is reported at once."""
    dirs: list[Path] = list(builtin_profile_dirs()) if include_builtin else []
    for d in extra_dirs:
        if d is None:
            continue
        path = Path(d).expanduser()
        if not path.is_dir():
            raise ConfigError([f"{path}: profiles directory not found"])
        dirs.append(path)
    return _load_dirs(dirs)


def _load_dirs(dirs: Iterable[Path]) -> ProfileSet:
    result = ProfileSet()
    problems: list[str] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        seen_here: dict[str, Path] = {}
        for path in profile_files(directory):
            try:
                prof = load_profile_file(path)
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            if prof.name in seen_here:
                problems.append(f"{path}: profile {prof.name!r} is also defined in {seen_here[prof.name]}")
                continue
            seen_here[prof.name] = path
            result.profiles[prof.name] = prof
            result.sources[prof.name] = path
    problems.extend(_alias_clashes(result))
    if problems:
        raise ConfigError(problems, hint="fix the profile files above (`kfboot profiles validate FILE`)")
    return result


def _alias_clashes(profiles: ProfileSet) -> list[str]:
    owner: dict[str, str] = {name.lower(): name for name in profiles.profiles}
    problems = []
    for name in profiles.names():
        for alias in profiles.profiles[name].aliases:
            other = owner.setdefault(alias.lower(), name)
            if other != name:
                problems.append(
                    f"{profiles.sources[name]}: alias {alias!r} of {name} is already a name or alias of {other}"
                )
    return problems


def profile_problems(profile: HardwareProfile) -> list[str]:
    """Self-consistency of a MIG table: every named config built from it must place on the GPU."""
    if profile.mig is None:
        return []
    from kfboot.gpu.mig import check_geometry, named_configs

    problems = []
    for name, geometry in named_configs(profile.mig).items():
        if geometry:
            check = check_geometry(geometry, profile.mig, profile.name)
            problems.extend(f"mig: {name}: {msg}" for msg in check.problems)
    return problems
