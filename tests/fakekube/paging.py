"""List pagination (``limit``/``continue``) with kube-apiserver's continue-token format.

The token is base64 of ``{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\\x00"}``, as the etcd3 store
writes it; every page is served at the first page's resourceVersion. Compaction (410 Expired)
never happens here: the fake keeps no history to compact.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .errors import bad_request


def key_of(obj: dict[str, Any]) -> str:
    md = obj["metadata"]
    return f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"]


def encode_continue(start: str, rv: int) -> str:
    doc = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[str, int]:
    """(start key, resourceVersion); 400 ``invalid continue token`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise bad_request(f"invalid continue token: continue key is not valid: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("v") != "meta.k8s.io/v1":
        raise bad_request("invalid continue token: continue key is not valid: server does not recognize this "
                          "encoded version")
    start, rv = doc.get("start"), doc.get("rv")
    if not isinstance(start, str) or not start or not isinstance(rv, int) or rv <= 0:
        raise bad_request("invalid continue token: continue key is not valid: incorrect encoded start "
                          "resourceVersion (version meta.k8s.io/v1)")
    return start, rv


def parse_limit(value: str | None) -> int:
    if not value:
        return 0
    try:
        return max(int(value), 0)
    except ValueError as exc:
        raise bad_request(f'invalid value for "limit": {value}') from exc
