"""Patch algorithms: JSON merge patch, JSON patch, strategic merge patch and server-side apply.

Strategic merge and SSA need to know which lists are keyed maps (containers by name, ...).
Without OpenAPI schemas we use the well-known keys of the built-in types, which covers what
installers touch; any other list is atomic (replaced whole), as for most CRD fields.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .errors import ApiError, bad_request

_LIST_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}


def list_key(field: str, items: list[Any]) -> str | None:
    """The merge key of a list field, or None when the list is atomic."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    if field == "ports":
        for key in ("containerPort", "port"):
            if all(key in i for i in items):
                return key
        return None
    key = _LIST_KEYS.get(field)
    if key and all(key in i for i in items):
        return key
    return None


# --------------------------------------------------------------------------- JSON merge patch


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# --------------------------------------------------------------------------- JSON patch


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _walk(doc: Any, pointer: str) -> tuple[Any, str]:
    if not pointer.startswith("/"):
        raise bad_request(f"invalid JSON pointer {pointer!r}")
    parts = [_unescape(p) for p in pointer.split("/")[1:]]
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            raise ApiError(422, f"jsonpatch: path {pointer!r} not found", "Invalid")
    return cur, parts[-1]


def _get(doc: Any, pointer: str) -> Any:
    if pointer == "":
        return doc
    parent, last = _walk(doc, pointer)
    try:
        return parent[int(last)] if isinstance(parent, list) else parent[last]
    except (KeyError, IndexError, ValueError) as exc:
        raise ApiError(422, f"jsonpatch: path {pointer!r} not found", "Invalid") from exc


def _add(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, last = _walk(doc, pointer)
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            parent.insert(int(last), value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ApiError(422, f"jsonpatch: cannot add at {pointer!r}", "Invalid")
    return doc


def _remove(doc: Any, pointer: str) -> Any:
    parent, last = _walk(doc, pointer)
    try:
        if isinstance(parent, list):
            parent.pop(int(last))
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError) as exc:
        raise ApiError(422, f"jsonpatch: path {pointer!r} not found", "Invalid") from exc
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 on a deep copy; a failed ``test`` is a 422 like the real server."""
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            doc = _remove(doc, path) if path else doc
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            val = _get(doc, op["from"])
            doc = _remove(doc, op["from"])
            doc = _add(doc, path, val)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(422, f"jsonpatch: test operation for path {path!r} failed", "Invalid")
        else:
            raise bad_request(f"unknown json patch op {kind!r}")
    return doc


# --------------------------------------------------------------------------- strategic merge patch


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge patch with the directives kubectl/helm emit.

    Handles ``$patch: replace|delete|merge``, ``$setElementOrder/x``, ``$deleteFromPrimitiveList/x``,
    ``$retainKeys`` and keyed list merging for the well-known lists.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    clean = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "replace":
        return _strip_directives(clean)
    if directive == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    retain = clean.pop("$retainKeys", None)
    for k, v in clean.items():
        if k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [x for x in result[name] if x not in v]
            continue
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            merged = strategic_merge(result.get(k), v, k)
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
        elif isinstance(v, list):
            result[k] = _merge_list(result.get(k), v, k)
        else:
            result[k] = v
    if retain is not None:
        keep = set(retain)
        result = {k: v for k, v in result.items() if k in keep}
    for k, v in clean.items():  # honour the element order the client asked for
        if k.startswith("$setElementOrder/"):
            name = k.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = _reorder(result[name], v, name)
    return result


def _strip_directives(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {
            k: _strip_directives(v)
            for k, v in obj.items()
            if not k.startswith("$")
        }
    if isinstance(obj, list):
        return [_strip_directives(v) for v in obj]
    return obj


def _merge_list(current: Any, patch: list[Any], field: str) -> list[Any]:
    current = current if isinstance(current, list) else []
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [_strip_directives(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    plain = [i for i in patch if not (isinstance(i, dict) and i.get("$patch") == "delete")]
    key = list_key(field, plain or [i for i in patch if isinstance(i, dict)])
    if key is None:
        if field == "finalizers":  # a primitive list with merge strategy "merge"
            return list(current) + [x for x in patch if x not in current]
        return [_strip_directives(i) for i in patch]
    out = [copy.deepcopy(i) for i in current]
    index = {i.get(key): n for n, i in enumerate(out) if isinstance(i, dict)}
    deleted = set()
    for item in patch:
        kv = item.get(key)
        if item.get("$patch") == "delete":
            deleted.add(kv)
            continue
        if kv in index:
            out[index[kv]] = strategic_merge(out[index[kv]], item, field)
        else:
            index[kv] = len(out)
            out.append(strategic_merge({}, item, field))
    return [i for i in out if not (isinstance(i, dict) and i.get(key) in deleted)]


def _reorder(items: list[Any], order: list[Any], field: str) -> list[Any]:
    key = list_key(field, items)
    ident = (lambda i: i.get(key)) if key else (lambda i: json.dumps(i, sort_keys=True))
    wanted = [ident(o) if isinstance(o, dict) or key is None else o for o in order]
    pos = {w: n for n, w in enumerate(wanted)}
    return sorted(items, key=lambda i: pos.get(ident(i), len(pos)))


# --------------------------------------------------------------------------- server-side apply

Path = tuple[Any, ...]
_SKIP_TOP = {"apiVersion", "kind"}
_SKIP_META = {"name", "namespace", "resourceVersion", "uid", "managedFields", "creationTimestamp", "generation"}


def field_set(obj: Any, prefix: Path = ()) -> set[Path]:
    """The set of fields an applied configuration specifies (items of keyed lists are members too)."""
    out: set[Path] = set()
    if isinstance(obj, dict):
        if not obj and prefix:
            out.add(prefix)
        for k, v in obj.items():
            if not prefix and k in _SKIP_TOP:
                continue
            if prefix == ("metadata",) and k in _SKIP_META:
                continue
            p = (*prefix, k)
            if isinstance(v, dict) and v:
                out |= field_set(v, p)
            elif isinstance(v, list):
                key = list_key(k, v)
                if key is None:
                    out.add(p)
                else:
                    for item in v:
                        ip = (*p, ("k", key, _hashable(item[key])))
                        out.add(ip)
                        out |= field_set(item, ip)
            else:
                out.add(p)
    return out


def _hashable(v: Any) -> Any:
    return json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v


def _lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    cur = obj
    for part in path:
        if isinstance(part, tuple):
            _, key, kv = part
            if not isinstance(cur, list):
                return False, None
            found = [i for i in cur if isinstance(i, dict) and _hashable(i.get(key)) == kv]
            if not found:
                return False, None
            cur = found[0]
        else:
            if not isinstance(cur, dict) or part not in cur:
                return False, None
            cur = cur[part]
    return True, cur


def _delete(obj: Any, path: Path) -> None:
    parent_ok, parent = _lookup(obj, path[:-1])
    if not parent_ok:
        return
    last = path[-1]
    if isinstance(last, tuple):
        _, key, kv = last
        if isinstance(parent, list):
            parent[:] = [i for i in parent if not (isinstance(i, dict) and _hashable(i.get(key)) == kv)]
    elif isinstance(parent, dict):
        parent.pop(last, None)


def apply_merge(current: Any, applied: Any, field: str = "") -> Any:
    """Deep merge used by SSA: maps merge, keyed lists merge by key, other lists are replaced."""
    if isinstance(applied, dict):
        out = dict(current) if isinstance(current, dict) else {}
        for k, v in applied.items():
            if v is None:
                continue
            out[k] = apply_merge(out.get(k), v, k)
        return out
    if isinstance(applied, list):
        key = list_key(field, applied)
        if key is None or not isinstance(current, list):
            return copy.deepcopy(applied)
        out_list = [copy.deepcopy(i) for i in current]
        index = {_hashable(i.get(key)): n for n, i in enumerate(out_list) if isinstance(i, dict)}
        for item in applied:
            kv = _hashable(item.get(key))
            if kv in index:
                out_list[index[kv]] = apply_merge(out_list[index[kv]], item, field)
            else:
                index[kv] = len(out_list)
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(applied)


class ApplyConflict(Exception):
    """Fields owned by other managers would change; carries the conflicting (manager, path)."""

    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        super().__init__(conflicts)
        self.conflicts = conflicts


def server_side_apply(
    current: dict[str, Any],
    applied: dict[str, Any],
    manager: str,
    owners: dict[str, set[Path]],
    force: bool,
) -> tuple[dict[str, Any], dict[str, set[Path]]]:
    """Apply ``applied`` as ``manager``; returns the new object and the new ownership table.

    Conflicts: a field owned by another manager whose value would change (unless forced).
    Removal: fields this manager applied before but not now, and nobody else owns, are dropped.
    """
    new_set = field_set(applied)
    conflicts = []
    for path in new_set:
        for other, paths in owners.items():
            if other == manager or path not in paths:
                continue
            ok_cur, cur_v = _lookup(current, path)
            ok_new, new_v = _lookup(applied, path)
            if ok_cur and ok_new and not isinstance(path[-1], tuple) and cur_v != new_v:
                conflicts.append((other, path))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    result = apply_merge(current, applied)
    new_owners = {m: set(p) for m, p in owners.items() if m != manager}
    if force:
        for other, path in conflicts:
            new_owners[other].discard(path)
    previous = owners.get(manager, set())
    others = set().union(*new_owners.values()) if new_owners else set()
    for path in sorted(previous - new_set - others, key=len, reverse=True):
        _delete(result, path)
    new_owners[manager] = new_set
    return result, {m: p for m, p in new_owners.items() if p}


def update_owners(
    old: dict[str, Any], new: dict[str, Any], manager: str, owners: dict[str, set[Path]]
) -> dict[str, set[Path]]:
    """Ownership after a non-apply write: the writer takes every field it changed or added."""
    old_set, new_set = field_set(old), field_set(new)
    changed = set()
    for path in new_set:
        ok_o, vo = _lookup(old, path)
        _, vn = _lookup(new, path)
        if not ok_o or (vo != vn and not isinstance(path[-1], tuple)):
            changed.add(path)
    gone = old_set - new_set
    result: dict[str, set[Path]] = {}
    for m, paths in owners.items():
        keep = (paths - gone) if m == manager else (paths - changed - gone)
        if keep:
            result[m] = keep
    if changed:
        result[manager] = result.get(manager, set()) | changed
    return result


def encode_fields(paths: set[Path]) -> dict[str, Any]:
    """Render a field set in the ``FieldsV1`` JSON shape (f:/k: keys, ``.`` for keyed items)."""
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for part in path:
            if isinstance(part, tuple):
                _, key, kv = part
                val = json.loads(kv) if isinstance(kv, str) and kv[:1] in "[{" else kv
                token = "k:" + json.dumps({key: val}, separators=(",", ":"))
            else:
                token = f"f:{part}"
            node = node.setdefault(token, {})
        if path and isinstance(path[-1], tuple):
            node.setdefault(".", {})
    return root


def decode_fields(fields: dict[str, Any], prefix: Path = ()) -> set[Path]:
    """Inverse of :func:`encode_fields` (enough for sets this module produced or kubectl wrote)."""
    out: set[Path] = set()
    for token, child in fields.items():
        if token == ".":
            out.add(prefix)
            continue
        if token.startswith("f:"):
            p = (*prefix, token[2:])
        elif token.startswith("k:"):
            keyobj = json.loads(token[2:])
            (key, kv), *_ = keyobj.items()
            p = (*prefix, ("k", key, _hashable(kv)))
        else:  # v:/i: entries (sets, indexes) are treated as owning the whole list
            out.add(prefix)
            continue
        if isinstance(child, dict) and child:
            out |= decode_fields(child, p)
        else:
            out.add(p)
    return out
