"""Server-side printing (``Accept: ...;as=Table``) as kubectl get asks for it: NAME and AGE columns."""

from __future__ import annotations

import datetime as _dt
from typing import Any


def _age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    then = _dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.timezone.utc)
    secs = int((_dt.datetime.now(_dt.timezone.utc) - then).total_seconds())
    if secs < 120:
        return f"{max(secs, 0)}s"
    if secs < 7200:
        return f"{secs // 60}m"
    if secs < 172800:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


def _row(obj: dict[str, Any], include: str) -> dict[str, Any]:
    md = obj.get("metadata", {})
    if include == "None":
        row_obj = None
    elif include == "Object":
        row_obj = obj
    else:
        row_obj = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}
    row = {"cells": [md.get("name", ""), _age(md.get("creationTimestamp"))]}
    if row_obj is not None:
        row["object"] = row_obj
    return row


def to_table(obj: dict[str, Any], include: str = "Metadata") -> dict[str, Any]:
    items = obj.get("items") if "items" in obj else [obj]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0},
        ],
        "rows": [_row(i, include) for i in items or []],
    }
