"""Dex password policy: which hashes Dex accepts, and never upstream's well-known password.

Config validation (`components.dex.initialUser.passwordHash`) and the Dex phase (which generates
and hashes kfboot's own password) share these rules, so they live with the config.
"""

from __future__ import annotations

import re

from kfboot.errors import ConfigError

UPSTREAM_PASSWORD = "12341234"  # documented in upstream's README; only used to refuse it
UPSTREAM_KNOWN_HASH = "$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72"
BCRYPT_COST = 12  # upstream's hash uses 12 too; ~0.25 s per hash, paid once per install
# Dex accepts costs 10..16 only (its CheckCost: bcrypt.DefaultCost .. upBoundCost), so kfboot does too.
BCRYPT_PATTERN = re.compile(r"^\$2[aby]\$(1[0-6])\$[./A-Za-z0-9]{53}$")


# The `bcrypt` package (pyca) rather than passlib: passlib's last release is from 2020 and it breaks
# with bcrypt >= 4.1 (it reads the removed `bcrypt.__about__`); pyca/bcrypt is maintained, has wheels
# for every platform, and verifies Dex's `$2y$`/`$2a$` hashes as well as its own `$2b$`.
def generate_password() -> str:
    """A random password: 20 bytes of urandom, URL-safe (27 characters, ~160 bits)."""
    import secrets

    return secrets.token_urlsafe(20)


def hash_password(password: str, cost: int = BCRYPT_COST) -> str:
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    import bcrypt

    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:  # malformed hash, or a password over bcrypt's 72 bytes
        return False


def is_bcrypt_hash(value: str) -> bool:
    return bool(BCRYPT_PATTERN.match(value))


def is_known_upstream_hash(password_hash: str) -> bool:
    """Upstream's own hash, or another hash of upstream's documented password 12341234.

    The re-hash check runs only up to cost 12 (~0.25 s) so that loading a config stays quick.
    """
    if password_hash == UPSTREAM_KNOWN_HASH:
        return True
    m = BCRYPT_PATTERN.match(password_hash)
    return bool(m and int(m.group(1)) <= BCRYPT_COST and verify_password(UPSTREAM_PASSWORD, password_hash))


def refuse_known_hash(password_hash: str, where: str = "components.dex.initialUser.passwordHash") -> None:
    if is_known_upstream_hash(password_hash):
        raise ConfigError([f"{where}: this is a hash of upstream's well-known password 12341234; "
                           "choose another password (or leave passwordHash unset and kfboot generates one)"])
