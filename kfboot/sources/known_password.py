"""Upstream's well-known Dex login never leaves kfboot in a bundle or a render (pure).

kubeflow/manifests ships the bcrypt hash of `12341234` in Secret `auth/dex-passwords`. Whoever applies
a bundle's or a render's files directly (GitOps) would install that login, so kfboot blanks every
bcrypt hash of that password in what it writes; the real hash is set at install time.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache

UPSTREAM_PASSWORD = b"12341234"  # upstream's documented password; only used to find its hashes
BCRYPT_HASH = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
BCRYPT_HASH_B64 = re.compile(r"JDJ[5hi]JD[A-Za-z0-9+/]{72,}={0,2}")  # base64 of "$2y$1…" and friends
MAX_COST = 14  # bcrypt time doubles per cost step: hashes above this are not checked (upstream uses 12)


@lru_cache(maxsize=256)
def is_known_hash(candidate: str) -> bool:
    """Whether a bcrypt hash verifies against upstream's password."""
    import bcrypt

    m = BCRYPT_HASH.fullmatch(candidate)
    if not m or int(m.group(1)) > MAX_COST:
        return False
    try:
        return bcrypt.checkpw(UPSTREAM_PASSWORD, candidate.replace("$2y$", "$2b$", 1).encode())
    except ValueError:
        return False


def known_hashes(text: str) -> list[str]:
    """Every bcrypt hash of upstream's password in `text`, plain or base64-encoded (as written)."""
    found = [m.group(0) for m in BCRYPT_HASH.finditer(text) if is_known_hash(m.group(0))]
    for m in BCRYPT_HASH_B64.finditer(text):
        try:
            decoded = base64.b64decode(m.group(0), validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError):
            continue
        if is_known_hash(decoded.strip()):
            found.append(m.group(0))
    return found


def scrub(text: str) -> str:
    """`text` with each hash of upstream's password replaced by an empty YAML string."""
    for found in sorted(set(known_hashes(text)), key=len, reverse=True):
        text = text.replace(found, '""')
    return text
