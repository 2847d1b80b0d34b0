"""Object names as kube-apiserver validates them, per kind (``ValidateObjectMeta``'s name function).

RBAC kinds only need a valid path segment (``cert-manager-controller-approve:cert-manager-io``
is fine); Namespaces need a DNS-1123 label, Services a DNS-1035 label; everything else, custom
resources included, a DNS-1123 subdomain. Messages are the apimachinery ones, word for word.
"""

from __future__ import annotations

import re

from .errors import FieldError, invalid_fields

_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 f"validation is '{_SUBDOMAIN}')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             f"validation is '{_LABEL}')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               f"regex used for validation is '{_DNS1035}')")

PATH_SEGMENT_KINDS = frozenset({"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})
LABEL_KINDS = frozenset({"Namespace"})
DNS1035_KINDS = frozenset({"Service"})


def _path_segment(name: str) -> list[str]:
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _pattern(name: str, regex: str, message: str, max_len: int) -> list[str]:
    out = []
    if len(name) > max_len:
        out.append(f"must be no more than {max_len} characters")
    if not re.fullmatch(regex, name):
        out.append(message)
    return out


def name_problems(kind: str, name: str) -> list[str]:
    """The messages the real name function returns for ``name`` of ``kind`` (empty when valid)."""
    if kind in PATH_SEGMENT_KINDS:
        return _path_segment(name)
    if kind in LABEL_KINDS:
        return _pattern(name, _LABEL, LABEL_MSG, 63)
    if kind in DNS1035_KINDS:
        return _pattern(name, _DNS1035, DNS1035_MSG, 63)
    return _pattern(name, _SUBDOMAIN, SUBDOMAIN_MSG, 253)


def check_name(group: str, kind: str, name: str) -> None:
    """Raise 422 Invalid (``metadata.name: Invalid value: "…": …``) for a name the kind refuses."""
    problems = name_problems(kind, name)
    if problems:
        raise invalid_fields(group, kind, name, [
            FieldError("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {p}') for p in problems])
