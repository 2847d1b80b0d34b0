"""Redaction for the support archive: no Secret value, token, password or private key leaves the cluster.

Two layers: structural (Secret data, fields and env vars whose name says they are secret) and textual
(bearer tokens, JWTs, kubeconfig credentials, PEM private keys, `password=…`, well-known token formats,
credentials in URLs), the latter applied to every string written, logs included.
"""

from __future__ import annotations

import re
from typing import Any

MARK = "<redacted>"
_SECRET_NAME = re.compile(r"(password|passwd|pwd|token|secret|api[-_]?key|access[-_]?key|private[-_]?key|"
                          r"credential|client[-_]?key[-_]?data|auth)", re.IGNORECASE)
_NOT_A_VALUE = re.compile(r"(name|ref|names|refs|path|file|type|kind|policy|mode|namespace)$", re.IGNORECASE)
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.DOTALL),
     f"-----BEGIN PRIVATE KEY-----{MARK}-----END PRIVATE KEY-----"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MARK),  # JWTs (service account tokens)
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {MARK}"),
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|"
                r"AKIA[0-9A-Z]{16}|hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|glpat-[A-Za-z0-9_-]{20,})"), MARK),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), rf"\1{MARK}@"),  # user:pass@host
    # key: value / key=value / "key": "value" where the key names a secret (kubeconfigs, env dumps, flags)
    (re.compile(r"""(?ix)
        (["']?[\w.-]*(?:password|passwd|token|secret|api[-_]?key|access[-_]?key|private[-_]?key|credential|
                        client-key-data|client-certificate-data)[\w.-]*["']?\s*[:=]\s*)
        (?!<redacted>)("[^"\n]*"|'[^'\n]*'|[^\s,;&}\]]+)"""), rf"\1{MARK}"),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _secret_key(key: str) -> bool:
    return bool(_SECRET_NAME.search(key)) and not _NOT_A_VALUE.search(key)


def redact_obj(obj: Any, *, _key: str = "") -> Any:
    """A deep copy of a Kubernetes object (or any JSON value) with every secret value replaced."""
    if isinstance(obj, dict):
        if obj.get("kind") == "Secret":
            obj = {**obj, "data": {k: MARK for k in obj.get("data") or {}},
                   "stringData": {k: MARK for k in obj.get("stringData") or {}}}
        out: dict[str, Any] = {}
        env_like = isinstance(obj.get("name"), str) and "value" in obj and _secret_key(obj["name"])
        for key, value in obj.items():
            if key == "managedFields":
                continue
            if key == "annotations" and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k not in _DROPPED_ANNOTATIONS}
            if (env_like and key == "value") or (isinstance(value, str) and _secret_key(key)):
                out[key] = MARK
            else:
                out[key] = redact_obj(value, _key=key)
        return out
    if isinstance(obj, list):
        return [redact_obj(v, _key=_key) for v in obj]
    if isinstance(obj, str):
        return redact_text(obj)
    return obj
