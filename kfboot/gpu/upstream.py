"""Re-implementation of the checks NVIDIA's own loaders run on what kfboot renders.

`mig_parted_error` follows mig-parted's `api/spec/v1` (Spec / MigConfigSpec UnmarshalJSON) and
`types.MigConfig.AssertValid` / `ParseMigProfile`; `device_plugin_error` follows k8s-device-plugin
`api/config/v1` (parseConfigFrom, ReplicatedResources / ReplicatedResource / ReplicatedDevices,
NewResourceName). Messages are the upstream format strings, so a test can prove that a rendered
config would load and a bad one fails with the error the real component would log.

Go decodes maps in random order; where several errors exist we return the first in document
order. Go's own type-mismatch messages (`json: cannot unmarshal …`) are approximated.
`lint_device_plugin_config` adds kfboot's warnings for keys the plugin *silently ignores*.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MIG_PARTED_VERSION = "v1"
DEVICE_PLUGIN_VERSION = "v1"
MAX_RESOURCE_NAME_LENGTH = 63
_SLICES = {1, 2, 3, 4, 6, 7, 8}
_ATOI = re.compile(r"^[+-]?[0-9]+$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


class UpstreamError(ValueError):
    """An error the upstream loader would return (message is the upstream text)."""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return "null"


def _type_error(value: Any, go_type: str) -> str:
    return f"json: cannot unmarshal {_json_type(value)} into Go value of type {go_type}"


# ---------------------------------------------------------------------------------------------
# mig-parted


def parse_mig_profile(profile: str) -> None:
    """mig-parted `types.ParseMigProfile`: raise UpstreamError with its message if malformed."""
    if not profile:
        raise UpstreamError("empty MigProfile string")
    base, plus, attr_text = profile.partition("+")
    attrs: list[str] = []
    if plus:
        try:
            attrs = _parse_attributes(attr_text)
        except UpstreamError as exc:
            raise UpstreamError(f"error parsing attributes following '+' in MigProfile string: {exc}") from None
    try:
        c, g, _gb = _parse_fields(base)
    except UpstreamError as exc:
        raise UpstreamError(f"error parsing '.' separated fields in MigProfile string: {exc}") from None
    if c not in _SLICES:
        raise UpstreamError(f"unknown Compute Instance slice size: {c}")
    if g not in _SLICES:
        raise UpstreamError(f"unknown GPU Instance slice size: {g}")
    for a in attrs:
        if a != "me":
            raise UpstreamError(f"unknown MigProfile attribute: {a}")


def _parse_attributes(text: str) -> list[str]:
    attrs = text.split(",")
    seen: set[str] = set()
    for a in attrs:
        if a in seen:
            raise UpstreamError("non unique attribute in list")
        if a == "":
            raise UpstreamError("empty attribute in list")
        if a.strip() != a:
            raise UpstreamError("leading or trailing spaces in attribute")
        if a[0].isdigit():
            raise UpstreamError("attribute begins with a number")
        if not all(ch.isascii() and ch.isalnum() for ch in a):
            raise UpstreamError("non alpha-numeric character or digit in attribute")
        seen.add(a)
    return attrs


def _parse_field(text: str, suffix: str) -> int:
    if text.strip() != text:
        raise UpstreamError(f"leading or trailing spaces on '%d{suffix}'")
    if not text.endswith(suffix):
        raise UpstreamError(f"missing '{suffix}' from '%d{suffix}'")
    number = text[: -len(suffix)]
    if not _ATOI.match(number):
        raise UpstreamError(f"malformed number in '%d{suffix}'")
    return int(number)


def _parse_fields(text: str) -> tuple[int, int, int]:
    parts = text.split(".", 2)
    if len(parts) == 3:
        return _parse_field(parts[0], "c"), _parse_field(parts[1], "g"), _parse_field(parts[2], "gb")
    if len(parts) == 2:
        g = _parse_field(parts[0], "g")
        return g, g, _parse_field(parts[1], "gb")
    raise UpstreamError("parsed wrong number of fields, expected 2 or 3")


def _assert_valid_mig_config(devices: Mapping[str, int]) -> None:
    if not devices:
        return
    for key, count in devices.items():
        try:
            parse_mig_profile(key)
        except UpstreamError as exc:
            raise UpstreamError(f"invalid format for '{key}': {exc}") from None
        if count < 0:
            raise UpstreamError(f"invalid count for '{count}': <nil>")
    if all(count <= 0 for count in devices.values()):
        raise UpstreamError("all counts for all MigProfiles are 0")


def _mig_config_spec(entry: Any) -> None:
    if not isinstance(entry, Mapping):
        raise UpstreamError(_type_error(entry, "map[string]json.RawMessage"))
    for required in ("devices", "mig-enabled"):
        if required not in entry:
            raise UpstreamError(f"missing required field: {required}")
    mig_enabled = False
    mig_devices: dict[str, int] | None = None
    for key, value in entry.items():
        if key == "device-filter":
            ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
            if not ok:
                raise UpstreamError(f"({_type_error(value, 'string')}, {_type_error(value, '[]string')})")
        elif key == "devices":
            if isinstance(value, str):
                if value != "all":
                    raise UpstreamError(f"invalid string input for 'devices': {value}")
            elif not (isinstance(value, list) and all(_is_int(v) for v in value)):
                raise UpstreamError(f"({_type_error(value, 'string')}, {_type_error(value, '[]int')})")
        elif key == "mig-enabled":
            if not isinstance(value, bool):
                raise UpstreamError(_type_error(value, "bool"))
            mig_enabled = value
        elif key == "mig-devices":
            if value is None:
                mig_devices = None
                continue
            if not isinstance(value, Mapping):
                raise UpstreamError(_type_error(value, "types.MigConfig"))
            for count in value.values():
                if not _is_int(count):
                    raise UpstreamError(_type_error(count, "int"))
            mig_devices = {str(k): int(v) for k, v in value.items()}
            try:
                _assert_valid_mig_config(mig_devices)
            except UpstreamError as exc:
                raise UpstreamError(f"error validating values in 'mig-devices' field: {exc}") from None
        else:
            raise UpstreamError(f"unexpected field: {key}")
    if mig_enabled and mig_devices is None:
        raise UpstreamError("missing required field 'mig-devices' when 'mig-enabled' is true")
    if not mig_enabled and mig_devices:
        raise UpstreamError("MIG devices included when 'mig-enabled' is false")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def mig_parted_error(data: Any) -> str | None:
    """The error mig-parted's v1 loader returns for this parsed document, or None if it loads."""
    try:
        _mig_parted_spec(data)
    except UpstreamError as exc:
        return str(exc)
    return None


def _mig_parted_spec(data: Any) -> None:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise UpstreamError(_type_error(data, "map[string]json.RawMessage"))
    if "version" not in data and len(data) > 0:
        raise UpstreamError("unable to parse with missing 'version' field")
    version = data.get("version", "")
    if not isinstance(version, str):
        raise UpstreamError(_type_error(version, "string"))
    if version != MIG_PARTED_VERSION:
        raise UpstreamError(f"unknown version: {version}")
    for key, value in data.items():
        if key == "version":
            continue
        if key != "mig-configs":
            raise UpstreamError(f"unexpected field: {key}")
        if not isinstance(value, Mapping):
            raise UpstreamError(_type_error(value, "map[string]v1.MigConfigSpecSlice"))
        for entries in value.values():
            if entries is None:
                continue
            if not isinstance(entries, list):
                raise UpstreamError(_type_error(entries, "v1.MigConfigSpecSlice"))
            for entry in entries:
                _mig_config_spec(entry)
        if len(value) == 0:
            raise UpstreamError("at least one entry in 'mig-configs' is required")
        for name, entries in value.items():
            if not entries:
                raise UpstreamError(f"at least one entry in '{name}' is required")


# ---------------------------------------------------------------------------------------------
# k8s-device-plugin

DEVICE_PLUGIN_ERROR_PREFIX = (
    "unable to parse config file: error parsing config file: unmarshal error: "
    "error unmarshaling JSON: while decoding JSON: "
)


def device_plugin_log_line(error: str) -> str:
    """How the plugin logs a config error (wrapping of NewConfig/parseConfig/sigs.k8s.io/yaml)."""
    if error.startswith("unknown version"):
        return f"unable to parse config file: error parsing config file: {error}"
    return DEVICE_PLUGIN_ERROR_PREFIX + error


def device_plugin_error(data: Any) -> str | None:
    """The error the device plugin's `api/config/v1` loader returns for this document, or None."""
    try:
        _device_plugin_config(data)
    except UpstreamError as exc:
        return str(exc)
    return None


def _device_plugin_config(data: Any) -> None:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise UpstreamError(f"json: cannot unmarshal {_json_type(data)} into Go value of type v1.Config")
    sharing = data.get("sharing")
    if isinstance(sharing, Mapping):
        for key in ("timeSlicing", "mps"):
            if key in sharing and sharing[key] is not None:
                _replicated_resources(sharing[key])
    version = data.get("version") or DEVICE_PLUGIN_VERSION
    if version != DEVICE_PLUGIN_VERSION:
        raise UpstreamError(f"unknown version: {version}")


def _replicated_resources(value: Any) -> None:
    if not isinstance(value, Mapping):
        raise UpstreamError(_type_error(value, "map[string]json.RawMessage"))
    for flag in ("renameByDefault", "failRequestsGreaterThanOne"):
        if flag in value and not isinstance(value[flag], bool):
            raise UpstreamError(_type_error(value[flag], "bool"))
    if "resources" not in value:
        raise UpstreamError("no resources specified")
    resources = value["resources"]
    if resources is not None and not isinstance(resources, list):
        raise UpstreamError(_type_error(resources, "[]v1.ReplicatedResource"))
    for resource in resources or []:
        _replicated_resource(resource)
    if not resources:
        raise UpstreamError("no resources specified")


def _replicated_resource(value: Any) -> None:
    if not isinstance(value, Mapping):
        raise UpstreamError(_type_error(value, "map[string]json.RawMessage"))
    if "name" not in value:
        raise UpstreamError("no resource name specified")
    _resource_name(value["name"])
    _replicated_devices(value.get("devices", "all"))
    if "replicas" not in value:
        raise UpstreamError("no replicas specified")
    replicas = value["replicas"]
    if not _is_int(replicas):
        raise UpstreamError(_type_error(replicas, "int"))
    if replicas < 2:
        raise UpstreamError("number of replicas must be >= 2")
    if "rename" in value:
        _resource_name(value["rename"])


def _resource_name(value: Any) -> str:
    if not isinstance(value, str):
        raise UpstreamError(_type_error(value, "string"))
    name = value if value.startswith("nvidia.com/") else f"nvidia.com/{value}"
    if len(name) > MAX_RESOURCE_NAME_LENGTH:
        raise UpstreamError(
            f"fully-qualified resource name must be {MAX_RESOURCE_NAME_LENGTH} characters or less: {name}"
        )
    _, _, short = name.partition("/")
    problems = []
    if len(short) > 253:
        problems.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.match(short):
        problems.append(_DNS1123_SUBDOMAIN_MSG)
    if problems:
        raise UpstreamError(f"incorrect format for resource name '{name}': [{' '.join(problems)}]")
    return name


_GPU_UUID = re.compile(r"^GPU-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MIG_UUID = re.compile(
    r"^MIG-(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|"
    r"GPU-[0-9a-fA-F-]{36}/\d+/\d+)$"
)


def _replicated_devices(value: Any) -> None:
    if isinstance(value, str):
        if value != "all":
            raise UpstreamError(f"devices set as '{value}' but the only valid string input is 'all'")
        return
    if _is_int(value):
        if value <= 0:
            raise UpstreamError(f"devices set as '{value}' but a count of devices must be > 0")
        return
    if isinstance(value, list):
        for item in value:
            if _is_int(item) and item >= 0:
                continue
            if isinstance(item, str) and (
                item.isdigit() or re.match(r"^\d+:\d+$", item) or _GPU_UUID.match(item) or _MIG_UUID.match(item)
            ):
                continue
            shown = item if isinstance(item, str) else ""
            raise UpstreamError(f"unsupported type for device in devices list: {shown}, string")
        return
    raise UpstreamError(f"unrecognized type for devices spec: {value}")


# ---------------------------------------------------------------------------------------------
# kfboot's lint for what the device plugin accepts but ignores

_TOP_KEYS = {"version", "flags", "resources", "sharing", "imex"}
_SHARING_KEYS = {"timeSlicing", "mps"}
_REPLICATED_KEYS = {"renameByDefault", "failRequestsGreaterThanOne", "resources"}
_RESOURCE_KEYS = {"name", "rename", "devices", "replicas"}
_MIG_STRATEGIES = {"none", "single", "mixed"}


def lint_device_plugin_config(data: Any) -> list[str]:
    """Warnings for settings the device plugin silently ignores (and would surprise a user)."""
    if not isinstance(data, Mapping):
        return []
    out = [f"{k}: unknown key, ignored by the device plugin" for k in data if k not in _TOP_KEYS]
    flags = data.get("flags")
    if isinstance(flags, Mapping) and "migStrategy" in flags and flags["migStrategy"] not in _MIG_STRATEGIES:
        out.append(f"flags.migStrategy: {flags['migStrategy']!r} is not one of none, single, mixed")
    sharing = data.get("sharing")
    if isinstance(sharing, Mapping):
        out += [f"sharing.{k}: unknown key, ignored by the device plugin" for k in sharing if k not in _SHARING_KEYS]
        if sharing.get("timeSlicing") and sharing.get("mps"):
            out.append("sharing: timeSlicing and mps are both set; the plugin uses mps only")
        for kind in _SHARING_KEYS:
            block = sharing.get(kind)
            if not isinstance(block, Mapping):
                continue
            base = f"sharing.{kind}"
            out += [
                f"{base}.{k}: unknown key, ignored by the device plugin" for k in block if k not in _REPLICATED_KEYS
            ]
            for i, res in enumerate(block.get("resources") or []):
                if not isinstance(res, Mapping):
                    continue
                where = f"{base}.resources[{i}]"
                for k in res:
                    if k == "selector":
                        out.append(
                            f"{where}.selector: silently ignored by the device plugin (there is no per-resource "
                            "selector); use one named config per GPU model and label nodes "
                            "nvidia.com/device-plugin.config=<name>"
                        )
                    elif k not in _RESOURCE_KEYS:
                        out.append(f"{where}.{k}: unknown key, ignored by the device plugin")
                if "rename" in res or res.get("devices", "all") != "all":
                    out.append(f"{where}: rename and devices other than 'all' are currently ignored by the plugin")
    return out
