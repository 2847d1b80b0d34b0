"""Label and field selectors with the syntax kube-apiserver accepts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)\s*$")


def _split_terms(expr: str) -> list[str]:
    """Split on commas that are not inside a ``(...)`` value set."""
    terms, depth, cur = [], 0, []
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return [t for t in (t.strip() for t in terms) if t]


def parse_label_selector(expr: str | None) -> Callable[[dict[str, str]], bool]:
    """Compile a label selector string into a predicate over a labels dict."""
    if not expr:
        return lambda labels: True
    preds: list[Callable[[dict[str, str]], bool]] = []
    for term in _split_terms(expr):
        m = _EQ_RE.match(term)
        if m:
            key, op, val = m.groups()
            if op == "!=":
                preds.append(lambda lb, k=key, v=val: lb.get(k) != v)
            else:
                preds.append(lambda lb, k=key, v=val: lb.get(k) == v)
            continue
        m = _SET_RE.match(term)
        if not m:
            raise bad_request(f"unable to parse requirement: {term!r}")
        neg, key, op, values = m.groups()
        if op:
            if neg:
                raise bad_request(f"unable to parse requirement: {term!r}")
            vals = {v.strip() for v in values.split(",") if v.strip()}
            if op == "in":
                preds.append(lambda lb, k=key, vs=vals: lb.get(k) in vs)
            else:
                preds.append(lambda lb, k=key, vs=vals: lb.get(k) not in vs)
        elif neg:
            preds.append(lambda lb, k=key: k not in lb)
        else:
            preds.append(lambda lb, k=key: k in lb)
    return lambda labels: all(p(labels) for p in preds)


def selector_from_match(sel: dict[str, Any] | None) -> Callable[[dict[str, str]], bool]:
    """Compile a structured ``LabelSelector`` (matchLabels/matchExpressions)."""
    if sel is None:
        return lambda labels: False
    preds: list[Callable[[dict[str, str]], bool]] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        preds.append(lambda lb, k=k, v=v: lb.get(k) == v)
    for ex in sel.get("matchExpressions") or []:
        key, op, vals = ex.get("key"), ex.get("operator"), set(ex.get("values") or [])
        if op == "In":
            preds.append(lambda lb, k=key, vs=vals: lb.get(k) in vs)
        elif op == "NotIn":
            preds.append(lambda lb, k=key, vs=vals: lb.get(k) not in vs)
        elif op == "Exists":
            preds.append(lambda lb, k=key: k in lb)
        elif op == "DoesNotExist":
            preds.append(lambda lb, k=key: k not in lb)
    return lambda labels: all(p(labels) for p in preds)


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(expr: str | None) -> Matcher:
    """Field selectors: ``=``, ``==``, ``!=`` on any dotted path (metadata.name, status.phase, ...)."""
    if not expr:
        return lambda obj: True
    preds: list[Matcher] = []
    for term in _split_terms(expr):
        m = re.match(r"^\s*([A-Za-z0-9._-]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not m:
            raise bad_request(f"invalid field selector: {term!r}")
        path, op, val = m.groups()
        if op == "!=":
            preds.append(lambda o, p=path, v=val: _field_value(o, p) != v)
        else:
            preds.append(lambda o, p=path, v=val: _field_value(o, p) == v)
    return lambda obj: all(p(obj) for p in preds)
