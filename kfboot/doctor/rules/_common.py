"""Small pure helpers the rules share: quantities, labels, which components are on the cluster."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from kfboot.doctor.facts import Facts

# where each component lives (how doctor tells it is installed when kfboot's state does not say)
NAMESPACES = {"gpu-operator": "gpu-operator", "cert-manager": "cert-manager", "istio": "istio-system",
              "dex": "auth", "kubeflow": "kubeflow", "kserve": "kubeflow", "kuberay": "kuberay",
              "kubeflow-namespace": "kubeflow"}
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
          "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "m": 10**-3, "": 1}
_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")


def quantity(value: Any) -> float:
    """A Kubernetes quantity ("500m", "16Gi", "8") as a number (cores, bytes, count); 0 if unparsable."""
    match = _QUANTITY.match(str(value if value is not None else "").strip())
    if not match or match.group(2) not in _UNITS:
        return 0.0
    try:
        return float(match.group(1)) * _UNITS[match.group(2)]
    except ValueError:
        return 0.0


def labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def namespace_names(facts: Facts) -> set[str]:
    return {n["metadata"]["name"] for n in facts.namespaces}


def present(facts: Facts, component: str) -> bool:
    """kfboot recorded it, or its namespace exists (installed by other means: judge it too)."""
    if component in facts.state:
        return True
    if component == "kserve":
        return any(d["metadata"]["name"] == "kserve-controller-manager" for d in facts.deployments)
    ns = NAMESPACES.get(component)
    return bool(ns) and ns in namespace_names(facts)


def deployment(facts: Facts, namespace: str, name: str) -> dict[str, Any] | None:
    return next((d for d in facts.deployments
                 if d["metadata"]["name"] == name and d["metadata"].get("namespace") == namespace), None)


def node_ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def shorten(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
