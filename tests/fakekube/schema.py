"""Custom resources against their CRD's structural ``openAPIV3Schema``, as apiextensions-apiserver does.

On every write of a custom resource: unknown fields are pruned (kept under
``x-kubernetes-preserve-unknown-fields`` and inside embedded resources), or refused with
``fieldValidation=Strict``; ``default`` values are filled; nulls of non-nullable fields dropped;
then types, ``required``, ``enum``, ``pattern``, ``format``, bounds and ``x-kubernetes-int-or-string``
are checked, and ``x-kubernetes-validations`` CEL rules evaluated with cel-python (transition rules
using ``oldSelf`` only on updates). Errors come back in the real 422 shape
(``Kind.group "name" is invalid: [spec.x: Required value, ...]``).

Not replicated: ``anyOf``/``oneOf``/``allOf``/``not`` (used by real CRDs only to document
int-or-string and unions), metadata validation inside embedded resources, CEL cost limits, and
CEL rules cel-python cannot evaluate (Kubernetes' own CEL libraries such as ``url()``,
``quantity()``, ``ip()`` or the ext-strings ``substring``): such a rule is skipped, never failed.
"""

from __future__ import annotations

import copy
import datetime
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, FieldError, invalid_fields

try:  # a dev dependency; without it CEL rules are not evaluated
    import celpy
    from celpy import celtypes
except ImportError:  # pragma: no cover
    celpy = None

_ROOT_KEPT = ("apiVersion", "kind", "metadata")
_MISSING = object()


@dataclass
class Outcome:
    errors: list[FieldError] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _go(value: Any) -> str:
    """How a value prints in ``Invalid value: …`` (strings quoted, numbers bare)."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    want = schema.get("type")
    if not want:
        return True
    actual = _type_name(value)
    return actual == want or (want == "number" and actual == "integer")


_FORMATS = {
    "int32": None, "int64": None, "float": None, "double": None, "byte": re.compile(r"^[A-Za-z0-9+/]*={0,2}$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "uuid": re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"),
    "ipv4": re.compile(r"^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$"),
    "hostname": re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", re.I),
}


def _format_ok(value: str, fmt: str) -> bool:
    if fmt == "date-time":
        try:
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    pattern = _FORMATS.get(fmt)
    return pattern is None or bool(pattern.match(value))


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Walker:
    def __init__(self) -> None:
        self.out = Outcome()

    def walk(self, value: Any, schema: dict[str, Any], path: str, old: Any, root: bool = False) -> Any:
        """Prune and default ``value`` in place-ish; returns the (possibly new) value."""
        errs = self.out.errors
        if not _type_ok(value, schema):
            want = "integer,string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
            errs.append(FieldError("FieldValueTypeInvalid", path, f'Invalid value: "{_type_name(value)}": '
                                   f'{path} in body must be of type {want}: "{_type_name(value)}"'))
            return value
        if isinstance(value, dict):
            value = self._object(value, schema, path, old if isinstance(old, dict) else None, root)
        elif isinstance(value, list):
            items = schema.get("items") or {}
            old_list = old if isinstance(old, list) else None
            for i, item in enumerate(value):
                old_item = old_list[i] if old_list is not None and i < len(old_list) else _MISSING
                value[i] = self.walk(item, items, _join(path, i), old_item)
            self._list_bounds(value, schema, path)
        else:
            self._scalar(value, schema, path)
        self._cel(value, schema, path, old)
        return value

    def _object(self, value: dict[str, Any], schema: dict[str, Any], path: str, old: dict[str, Any] | None,
                root: bool) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        embedded = schema.get("x-kubernetes-embedded-resource") is True
        for key, sub in props.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        for key in list(value):
            if (root or embedded) and key in _ROOT_KEPT:
                continue
            sub = props.get(key)
            if sub is None and isinstance(additional, dict):
                sub = additional
            child_path = _join(path, key)
            if sub is None:
                if not preserve and additional is not True:
                    self.out.pruned.append(child_path)
                    del value[key]
                continue
            if value[key] is None and not sub.get("nullable"):
                del value[key]  # apiextensions drops nulls of non-nullable fields
                continue
            old_child = old.get(key, _MISSING) if old is not None else _MISSING
            value[key] = self.walk(value[key], sub, child_path, old_child)
        for key in schema.get("required") or ():
            if key not in value:
                self.out.errors.append(FieldError("FieldValueRequired", _join(path, key), "Required value"))
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            self.out.errors.append(FieldError("FieldValueTooMany", path,
                                              f"Too many: {len(value)}: must have at most "
                                              f"{schema['maxProperties']} items"))
        return value

    def _list_bounds(self, value: list[Any], schema: dict[str, Any], path: str) -> None:
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.out.errors.append(FieldError("FieldValueTooMany", path,
                                              f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.out.errors.append(FieldError("FieldValueInvalid", path, f"Invalid value: {len(value)}: {path} in "
                                              f"body should have at least {schema['minItems']} items"))

    def _scalar(self, value: Any, schema: dict[str, Any], path: str) -> None:
        errs = self.out.errors
        enum = schema.get("enum")
        if enum is not None and value not in enum:
            errs.append(FieldError("FieldValueNotSupported", path, f"Unsupported value: {_go(value)}: supported "
                                   f"values: {', '.join(_go(e) for e in enum)}"))
        if isinstance(value, str):
            if "pattern" in schema and not re.search(schema["pattern"], value):
                errs.append(FieldError("FieldValueInvalid", path,
                                       f"Invalid value: {_go(value)}: {path} in body should match '{schema['pattern']}'"))
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                errs.append(FieldError("FieldValueTooLong", path,
                                       f"Too long: may not be more than {schema['maxLength']} bytes"))
            if "minLength" in schema and len(value) < schema["minLength"]:
                errs.append(FieldError("FieldValueInvalid", path, f"Invalid value: {_go(value)}: {path} in body "
                                       f"should be at least {schema['minLength']} chars long"))
            if schema.get("format") and schema.get("type") == "string" and not _format_ok(value, schema["format"]):
                errs.append(FieldError("FieldValueInvalid", path, f"Invalid value: {_go(value)}: {path} in body "
                                       f"must be of type {schema['format']}: {_go(value)}"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in schema:
                low, excl = schema["minimum"], schema.get("exclusiveMinimum") is True
                if value < low or (excl and value == low):
                    word = "greater than" if excl else "greater than or equal to"
                    errs.append(FieldError("FieldValueInvalid", path,
                                           f"Invalid value: {value}: {path} in body should be {word} {low}"))
            if "maximum" in schema:
                high, excl = schema["maximum"], schema.get("exclusiveMaximum") is True
                if value > high or (excl and value == high):
                    word = "less than" if excl else "less than or equal to"
                    errs.append(FieldError("FieldValueInvalid", path,
                                           f"Invalid value: {value}: {path} in body should be {word} {high}"))

    def _cel(self, value: Any, schema: dict[str, Any], path: str, old: Any) -> None:
        rules = schema.get("x-kubernetes-validations")
        if not rules or celpy is None:
            return
        for rule in rules:
            text = rule.get("rule", "")
            transition = "oldSelf" in text
            if transition and old is _MISSING and not rule.get("optionalOldSelf"):
                continue  # transition rules only run on updates that had the field
            verdict = _evaluate(text, value, None if old is _MISSING else old)
            if verdict is not False:
                continue
            where = path + (rule.get("fieldPath") or "")
            message = rule.get("message") or f"failed rule: {text.strip()}"
            reason = {"FieldValueForbidden": "FieldValueForbidden", "FieldValueRequired": "FieldValueRequired",
                      "FieldValueDuplicate": "FieldValueDuplicate"}.get(rule.get("reason", ""), "FieldValueInvalid")
            if reason == "FieldValueInvalid":
                msg = f'Invalid value: "{_type_name(value)}": {message}'
            elif reason == "FieldValueRequired":
                msg = f"Required value: {message}"
            elif reason == "FieldValueForbidden":
                msg = f"Forbidden: {message}"
            else:
                msg = f'Duplicate value: "{_type_name(value)}": {message}'
            self.out.errors.append(FieldError(reason, where, msg))


@functools.lru_cache(maxsize=2048)
def _program(rule: str) -> Any:
    env = celpy.Environment()
    try:
        return env.program(env.compile(rule))
    except Exception:  # a rule cel-python cannot parse is skipped
        return None


def _evaluate(rule: str, value: Any, old: Any) -> bool | None:
    """True/False, or None when cel-python cannot evaluate the rule (unsupported library function)."""
    prog = _program(rule)
    if prog is None:
        return None
    activation = {"self": celpy.json_to_cel(value)}
    if old is not None:
        activation["oldSelf"] = celpy.json_to_cel(old)
    try:
        result = prog.evaluate(activation)
    except Exception:
        return None
    if isinstance(result, celtypes.BoolType):
        return bool(result)
    return None


def process(schema: dict[str, Any], obj: dict[str, Any], old: dict[str, Any] | None) -> Outcome:
    """Prune, default and validate ``obj`` (mutated in place) against a version's openAPIV3Schema."""
    walker = _Walker()
    body = dict(obj)  # metadata is kept as is (never pruned), but counts for `required`
    old_body = dict(old) if old is not None else _MISSING
    result = walker.walk(body, schema, "", old_body, root=True)
    for key in list(obj):
        if key != "metadata" and key not in result:
            del obj[key]
    obj.update({k: v for k, v in result.items() if k != "metadata"})
    return walker.out


def version_schema(crd: dict[str, Any], version: str) -> dict[str, Any] | None:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("name") == version:
            return ((v.get("schema") or {}).get("openAPIV3Schema")) or None
    return None


def check(crd: dict[str, Any], version: str, group: str, obj: dict[str, Any], old: dict[str, Any] | None,
          strict: bool, subresource: str = "") -> None:
    """Apply the CRD's schema to ``obj`` in place; raise the real server's 400/422 on failure."""
    schema = version_schema(crd, version)
    if schema is None:
        return
    outcome = process(schema, obj, old)
    kind = obj.get("kind", "")
    if strict and outcome.pruned and not subresource:
        fields = ", ".join(f'unknown field "{p}"' for p in outcome.pruned)
        raise ApiError(400, f'{kind} in version "{version}" cannot be handled as a {kind}: '
                            f"strict decoding error: {fields}", "BadRequest")
    errors = outcome.errors
    if subresource == "status":
        errors = [e for e in errors if e.field == "status" or e.field.startswith("status.")]
    elif crd_has_status(crd, version):
        errors = [e for e in errors if not (e.field == "status" or e.field.startswith("status."))]
    if errors:
        raise invalid_fields(group, kind, (obj.get("metadata") or {}).get("name", ""), errors)


def crd_has_status(crd: dict[str, Any], version: str) -> bool:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("name") == version:
            return "status" in (v.get("subresources") or {})
    return False
