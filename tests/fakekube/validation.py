"""Server-side field validation (``fieldValidation=Strict``, kubectl's and helm 4's default).

Built-in kinds are checked against the real OpenAPI schemas shipped by ``kubernetes-validate``
(a dev dependency; without it nothing is validated). Custom resources are not validated.
Results are cached by content: installers re-send identical manifests a lot.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from .errors import ApiError

try:  # optional: a dev dependency of the project
    import kubernetes_validate as _kv
except ImportError:  # pragma: no cover - exercised only without dev deps
    _kv = None

_UNEXPECTED = re.compile(r"\('([^']+)' (?:was|were) unexpected\)")


@functools.lru_cache(maxsize=256)
def _validator(kind: str, api_version: str, version: str) -> Any:
    """A Draft 2020-12 validator for one kind from kubernetes-validate's strict schemas (None if unknown)."""
    import jsonschema
    from referencing import Registry, Resource

    utils = _kv.utils
    schema_version = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(version)][-1]
    gv = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_dir = f"v{schema_version}-local-strict"
    try:
        schema = utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{gv}.json", version)
    except FileNotFoundError:
        return None
    defs = utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


@functools.lru_cache(maxsize=4096)
def _check(doc: str, version: str) -> str | None:
    """None if valid, else the kube-apiserver style message.

    Only decoding errors count (unknown fields, wrong JSON types), as with the real strict decoder;
    missing required fields are validation's business, which this fake does not replicate.
    """
    obj = json.loads(doc)
    validator = _validator(obj.get("kind", ""), obj.get("apiVersion", ""), version)
    if validator is None:
        return None
    for exc in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path))):
        if exc.validator not in ("additionalProperties", "type"):
            continue
        path = ""
        for part in exc.path:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
        m = _UNEXPECTED.search(exc.message)
        if exc.validator == "additionalProperties" and m:
            field = f"{path}.{m.group(1)}" if path else m.group(1)
            return f'strict decoding error: unknown field "{field}"'
        if exc.validator == "type" and exc.instance is not None:
            return f"json: cannot unmarshal {type(exc.instance).__name__} into Go struct field {path}: {exc.message}"
    return None


def validate_strict(obj: dict[str, Any], kube_version: str, is_custom: bool) -> None:
    """Raise 400 BadRequest like the API server does for an invalid body under Strict validation."""
    if _kv is None or is_custom:
        return
    version = ".".join(kube_version.lstrip("v").split(".")[:2])
    body = {k: v for k, v in obj.items() if k != "status"}
    md = dict(body.get("metadata") or {})
    md.pop("managedFields", None)
    body["metadata"] = md
    message = _check(json.dumps(body, sort_keys=True), version)
    if message:
        kind = obj.get("kind", "")
        raise ApiError(400, f'{kind} in version "{obj.get("apiVersion", "").rpartition("/")[2]}" cannot be '
                            f"handled as a {kind}: {message}", "BadRequest")
