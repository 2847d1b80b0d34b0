"""A tiny authorizer: everything is allowed unless a test denies it (to play a non-admin user).

Denials answer real-looking 403 Forbidden errors and are reflected in SelfSubjectAccessReviews,
so both an installer's preflight checks and its error handling can be tested.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .errors import ApiError

USERNAME = "kubernetes-admin"
METHOD_VERBS = {"GET": "get", "LIST": "list", "WATCH": "watch", "POST": "create", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete", "HEAD": "get"}


@dataclass(frozen=True)
class Denial:
    verbs: frozenset[str]  # empty = every verb
    resource: str  # plural, optionally "plural/subresource"; "*" = all
    group: str | None  # None = any group
    namespace: str | None  # None = any namespace (and cluster scope)

    def matches(self, verb: str, group: str, resource: str, namespace: str) -> bool:
        return ((not self.verbs or verb in self.verbs)
                and self.resource in ("*", resource, resource.split("/")[0])
                and (self.group is None or self.group == group)
                and (self.namespace is None or self.namespace == namespace))


class Authorizer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._denials: list[Denial] = []

    def deny(self, verbs: tuple[str, ...], resource: str, group: str | None = "",
             namespace: str | None = None) -> Denial:
        d = Denial(frozenset(v.lower() for v in verbs), resource, group, namespace)
        with self._lock:
            self._denials.append(d)
        return d

    def clear(self) -> None:
        with self._lock:
            self._denials.clear()

    def allowed(self, verb: str, group: str, resource: str, namespace: str) -> bool:
        with self._lock:
            return not any(d.matches(verb, group, resource, namespace) for d in self._denials)

    def check(self, verb: str, group: str, resource: str, namespace: str, name: str | None) -> None:
        if self.allowed(verb, group, resource, namespace):
            return
        plural, _, sub = resource.partition("/")
        label = f"{plural}.{group}" if group else plural
        named = f' "{name}"' if name else ""
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        res = f'"{plural}/{sub}"' if sub else f'"{plural}"'
        raise ApiError(
            403,
            f'{label}{named} is forbidden: User "{USERNAME}" cannot {verb} resource {res} in API group '
            f'"{group}" {where}',
            "Forbidden",
            {"name": name or "", "group": group, "kind": plural},
        )

    # ------------------------------------------------------------------ review APIs
    def review(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer SelfSubjectAccessReview / SelfSubjectRulesReview / SelfSubjectReview."""
        out = dict(body)
        out.setdefault("metadata", {})
        spec = body.get("spec") or {}
        if kind in ("SelfSubjectAccessReview", "SubjectAccessReview"):  # denials play the subject too
            ra = spec.get("resourceAttributes")
            if ra:
                resource = ra.get("resource", "") + (f"/{ra['subresource']}" if ra.get("subresource") else "")
                ok = self.allowed(ra.get("verb", ""), ra.get("group", ""), resource, ra.get("namespace", ""))
            else:
                ok = True
            out["status"] = {"allowed": ok}
        elif kind == "SelfSubjectRulesReview":
            out["status"] = {
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": bool(self._denials),
            }
        else:  # SelfSubjectReview (kubectl auth whoami)
            out["status"] = {"userInfo": {"username": USERNAME, "groups": ["system:masters", "system:authenticated"]}}
        return out
