"""Decode the Kubernetes protobuf wire format for the few request bodies clients send that way.

client-go's typed clientsets (helm's release storage: Secrets; namespace creation) send
``application/vnd.kubernetes.protobuf`` bodies. Responses are always JSON, which those clients
accept. Only the message types listed in ``_SCHEMAS`` are understood.
"""

from __future__ import annotations

import base64
import datetime as _dt
from typing import Any

from .errors import ApiError

MAGIC = b"k8s\x00"

# field number -> (json name, kind); kinds: str, bytes, int, bool, msg:<Type>, map:str, map:bytes,
# rep:str, rep:msg:<Type>, time
_SCHEMAS: dict[str, dict[int, tuple[str, str]]] = {
    "Unknown": {1: ("typeMeta", "msg:TypeMeta"), 2: ("raw", "bytes"), 3: ("contentEncoding", "str"),
                4: ("contentType", "str")},
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "ObjectMeta": {
        1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"), 4: ("selfLink", "str"),
        5: ("uid", "str"), 6: ("resourceVersion", "str"), 7: ("generation", "int"),
        8: ("creationTimestamp", "time"), 9: ("deletionTimestamp", "time"),
        10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map:str"), 12: ("annotations", "map:str"),
        13: ("ownerReferences", "rep:msg:OwnerReference"), 14: ("finalizers", "rep:str"),
    },
    "OwnerReference": {1: ("kind", "str"), 3: ("name", "str"), 4: ("uid", "str"), 5: ("apiVersion", "str"),
                       6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")},
    "Secret": {1: ("metadata", "msg:ObjectMeta"), 2: ("data", "map:bytes"), 3: ("type", "str"),
               4: ("stringData", "map:str"), 5: ("immutable", "bool")},
    "ConfigMap": {1: ("metadata", "msg:ObjectMeta"), 2: ("data", "map:str"), 3: ("binaryData", "map:bytes"),
                  4: ("immutable", "bool")},
    "Namespace": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:NamespaceSpec"),
                  3: ("status", "msg:NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", "rep:str")},
    "NamespaceStatus": {1: ("phase", "str")},
    "ServiceAccount": {1: ("metadata", "msg:ObjectMeta"), 4: ("automountServiceAccountToken", "bool")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int"), 2: ("preconditions", "msg:Preconditions"),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "str"), 5: ("dryRun", "rep:str")},
    "Preconditions": {1: ("uid", "str"), 2: ("resourceVersion", "str")},
    "SelfSubjectAccessReview": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:SSARSpec")},
    "SSARSpec": {1: ("resourceAttributes", "msg:ResourceAttributes"),
                 2: ("nonResourceAttributes", "msg:NonResourceAttributes")},
    "ResourceAttributes": {1: ("namespace", "str"), 2: ("verb", "str"), 3: ("group", "str"), 4: ("version", "str"),
                           5: ("resource", "str"), 6: ("subresource", "str"), 7: ("name", "str")},
    "NonResourceAttributes": {1: ("path", "str"), 2: ("verb", "str")},
    "SelfSubjectRulesReview": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:SSRRSpec")},
    "SSRRSpec": {1: ("namespace", "str")},
    "SelfSubjectReview": {1: ("metadata", "msg:ObjectMeta")},
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    "MapEntry": {1: ("key", "bytes"), 2: ("value", "bytes")},
}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos:pos + n], pos + n
        elif wt == 1:
            val, pos = buf[pos:pos + 8], pos + 8
        elif wt == 5:
            val, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        out.append((num, wt, val))
    return out


def decode_message(buf: bytes, type_name: str) -> dict[str, Any]:
    schema = _SCHEMAS[type_name]
    out: dict[str, Any] = {}
    for num, _wt, val in _fields(buf):
        if num not in schema:
            continue
        name, kind = schema[num]
        if kind == "str":
            out[name] = val.decode()
        elif kind == "bytes":
            out[name] = bytes(val)
        elif kind == "int":
            out[name] = val - (1 << 64) if val >= 1 << 63 else val
        elif kind == "bool":
            out[name] = bool(val)
        elif kind == "time":
            t = decode_message(val, "Time")
            ts = _dt.datetime.fromtimestamp(t.get("seconds", 0), _dt.timezone.utc)
            out[name] = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind.startswith("msg:"):
            out[name] = decode_message(val, kind[4:])
        elif kind.startswith("map:"):
            entry = decode_message(val, "MapEntry")
            key = entry.get("key", b"").decode()
            value = entry.get("value", b"")
            out.setdefault(name, {})[key] = (
                base64.b64encode(value).decode() if kind == "map:bytes" else value.decode()
            )
        elif kind == "rep:str":
            out.setdefault(name, []).append(val.decode())
        elif kind.startswith("rep:msg:"):
            out.setdefault(name, []).append(decode_message(val, kind[8:]))
    return out


def decode(body: bytes, fallback_kind: str = "") -> dict[str, Any]:
    """Decode a ``k8s\\x00``-prefixed protobuf body into the equivalent JSON object."""
    if not body.startswith(MAGIC):
        raise ApiError(415, "protobuf body without the k8s magic prefix", "UnsupportedMediaType")
    unknown = decode_message(body[len(MAGIC):], "Unknown")
    tm = unknown.get("typeMeta", {})
    kind = tm.get("kind") or fallback_kind
    if kind not in _SCHEMAS:
        raise ApiError(415, f"fakekube cannot decode protobuf for kind {kind!r}; send JSON",
                       "UnsupportedMediaType")
    obj = decode_message(unknown.get("raw", b""), kind)
    if tm.get("apiVersion"):
        obj["apiVersion"] = tm["apiVersion"]
    if tm.get("kind"):
        obj["kind"] = tm["kind"]
    return obj
