"""Dex's initial user without a known password: generate one (or take the user's hash or Secret).

Upstream kubeflow/manifests (v1.9 … 26.03) wires the static user like this (what we patch):

* `common/dex/base/config-map.yaml` (replaced wholesale by `common/dex/overlays/oauth2-proxy/config-map.yaml`):
  ConfigMap `auth/dex`, key `config.yaml`, with
  `staticPasswords: [{email: user@example.com, hashFromEnv: DEX_USER_PASSWORD, username: user, userID: ...}]`.
  Releases before v1.9 put `hash: $2y$12$...` inline in that entry instead; both forms are handled.
* `common/dex/base/dex-passwords.yaml`: Secret `auth/dex-passwords` whose `DEX_USER_PASSWORD` (under
  `stringData`, in some revisions `data`) is the bcrypt hash of `12341234` (`config.passwords.UPSTREAM_KNOWN_HASH`).
* `common/dex/base/deployment.yaml`: Deployment `auth/dex` loads it with `envFrom: [{secretRef: dex-passwords}]`
  (plus `dex-oidc-client`), so the hash reaches Dex only when the pod starts.

kfboot replaces that hash with its own (the user's `passwordHash`, the hash of the password in the user's
`passwordSecret`, or the hash of a generated password), writes it under `data` (never `stringData`, so
server-side apply owns one stable field), stamps a digest of the hash on the Dex pod template so a changed
hash rolls the pod, and keeps the login in Secret `auth/kfboot-dex-initial-user` (plaintext password only
when kfboot generated it). Everything here is pure except `DexInitialUserTransform`'s one read of that
Secret, which is what makes re-runs reuse the password instead of generating a new one every time.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kfboot.config.passwords import (
    UPSTREAM_KNOWN_HASH,
    UPSTREAM_PASSWORD,
    generate_password,
    hash_password,
    is_bcrypt_hash,
    refuse_known_hash,
    verify_password,
)
from kfboot.errors import ConfigError, KfbootError

if TYPE_CHECKING:
    from kfboot.engine.phase import PhaseContext
    from kfboot.k8s.client import Kube

# -- upstream names (kubeflow/manifests common/dex/base, see the module docstring) --------------------
AUTH_NAMESPACE = "auth"
DEX_CONFIGMAP = "dex"
DEX_CONFIG_KEY = "config.yaml"
DEX_DEPLOYMENT = "dex"
DEX_PASSWORDS_SECRET = "dex-passwords"
UPSTREAM_EMAIL = "user@example.com"

# -- kfboot's own objects -----------------------------------------------------------------------------
INITIAL_USER_SECRET = "kfboot-dex-initial-user"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kfboot"}
SOURCE_ANNOTATION = "kfboot.io/password-source"  # generated | hash | secret
SECRET_REF_ANNOTATION = "kfboot.io/password-secret"  # namespace/name/key of the user's Secret
ROLL_ANNOTATION = "kfboot.io/dex-initial-user"  # digest of the hash: a new hash restarts Dex

PasswordSource = Literal["generated", "hash", "secret"]


@dataclass(frozen=True)
class SecretKeyRef:
    """Where the user keeps the initial user's password (plaintext or a bcrypt hash)."""

    name: str
    namespace: str = AUTH_NAMESPACE
    key: str = "password"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}/{self.key}"


@dataclass(frozen=True)
class InitialUser:
    """What the config asks for (`components.dex.initialUser`), independent of pydantic."""

    email: str = UPSTREAM_EMAIL
    password_hash: str | None = None
    password_secret: SecretKeyRef | None = None

    @property
    def source(self) -> PasswordSource:
        return "hash" if self.password_hash else "secret" if self.password_secret else "generated"

    def marker(self) -> dict[str, str]:
        """What goes into the phase digest: stable across runs and never the password.

        A generated password is "generated" (the same on every run, since re-runs reuse it); a
        user-supplied hash is not secret and is included so changing it re-applies the phase.
        """
        out = {"email": self.email, "secret": f"{AUTH_NAMESPACE}/{INITIAL_USER_SECRET}", "password": self.source}
        if self.password_hash:
            out["password"] = self.password_hash
        elif self.password_secret:
            out["password"] = f"secret:{self.password_secret}"
        return out


@dataclass(frozen=True)
class Credentials:
    """The resolved login. `password` is set only when kfboot generated it; it is never in repr."""

    email: str
    password_hash: str
    source: PasswordSource
    password: str | None = field(default=None, repr=False)
    secret_ref: SecretKeyRef | None = None


# -- resolving the login ------------------------------------------------------------------------------
def _secret_value(secret: dict[str, Any] | None, key: str) -> str | None:
    if not secret:
        return None
    raw = (secret.get("data") or {}).get(key)
    if raw is not None:
        try:
            return base64.b64decode(raw, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
    value = (secret.get("stringData") or {}).get(key)
    return value if isinstance(value, str) else None


def resolve_credentials(
    user: InitialUser,
    existing: dict[str, Any] | None,
    read_secret: Callable[[SecretKeyRef], dict[str, Any] | None] = lambda _ref: None,
) -> Credentials:
    """The login to install, reusing `existing` (the live kfboot-dex-initial-user Secret) when it fits.

    Reuse is what keeps re-runs quiet: a hash is salted, so hashing the same password again would
    change Dex's Secret on every run.
    """
    old_hash = _secret_value(existing, "passwordHash")
    if user.password_hash:
        refuse_known_hash(user.password_hash)
        return Credentials(user.email, user.password_hash, "hash")
    if user.password_secret:
        ref = user.password_secret
        value = _secret_value(read_secret(ref), ref.key)
        if not value:
            raise ConfigError([f"components.dex.initialUser.passwordSecret: Secret {ref.namespace}/{ref.name} "
                               f"does not exist or has no key {ref.key!r}"],
                              hint=f"create it first: kubectl -n {ref.namespace} create secret generic {ref.name} "
                                   f"--from-literal={ref.key}=...")
        if is_bcrypt_hash(value):
            refuse_known_hash(value, f"Secret {ref}")
            return Credentials(user.email, value, "secret", secret_ref=ref)
        if value == UPSTREAM_PASSWORD:
            raise ConfigError([f"Secret {ref}: holds upstream's well-known password; choose another"])
        if old_hash and verify_password(value, old_hash):
            return Credentials(user.email, old_hash, "secret", secret_ref=ref)
        return Credentials(user.email, hash_password(value), "secret", secret_ref=ref)
    password = _secret_value(existing, "password")  # only a kfboot-generated password is ever stored
    if password:
        if old_hash and verify_password(password, old_hash):
            return Credentials(user.email, old_hash, "generated", password=password)
        return Credentials(user.email, hash_password(password), "generated", password=password)
    password = generate_password()
    return Credentials(user.email, hash_password(password), "generated", password=password)


# -- the transform over the rendered objects ---------------------------------------------------------
def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _is(obj: dict[str, Any], kind: str, name: str) -> bool:
    meta = obj.get("metadata") or {}
    return obj.get("kind") == kind and meta.get("name") == name and meta.get("namespace", AUTH_NAMESPACE) == AUTH_NAMESPACE


def initial_user_secret(creds: Credentials) -> dict[str, Any]:
    """Secret auth/kfboot-dex-initial-user: the email, the hash, and the password only if kfboot made it."""
    data = {"email": _b64(creds.email), "passwordHash": _b64(creds.password_hash)}
    if creds.password is not None:
        data["password"] = _b64(creds.password)
    annotations = {SOURCE_ANNOTATION: creds.source}
    if creds.secret_ref is not None:
        annotations[SECRET_REF_ANNOTATION] = str(creds.secret_ref)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": INITIAL_USER_SECRET, "namespace": AUTH_NAMESPACE, "labels": dict(MANAGED_BY),
                     "annotations": annotations},
        "type": "Opaque",
        "data": data,
    }


def apply_credentials(objects: list[dict[str, Any]], creds: Credentials) -> list[dict[str, Any]]:
    """Pure: Dex's objects with kfboot's login in place of upstream's, plus kfboot's Secret.

    Raises KfbootError if the render does not look like upstream's Dex (so the known hash is never
    shipped because a layout change went unnoticed).
    """
    import copy

    import yaml

    out = copy.deepcopy(objects)
    config_map = next((o for o in out if _is(o, "ConfigMap", DEX_CONFIGMAP)), None)
    if config_map is None or DEX_CONFIG_KEY not in (config_map.get("data") or {}):
        raise KfbootError(f"the Dex render has no ConfigMap {AUTH_NAMESPACE}/{DEX_CONFIGMAP} with {DEX_CONFIG_KEY}",
                          hint="the pinned kubeflow/manifests layout changed; kfboot cannot set Dex's login")
    config = yaml.safe_load(config_map["data"][DEX_CONFIG_KEY]) or {}
    users = config.get("staticPasswords") or []
    if not users:
        raise KfbootError("Dex's config has no staticPasswords entry to set the initial user in")
    entry = next((u for u in users if u.get("email") == UPSTREAM_EMAIL), users[0])
    changed = entry.get("email") != creds.email
    entry["email"] = creds.email
    env_name = entry.get("hashFromEnv")
    if env_name:
        secret = next((o for o in out if _is(o, "Secret", DEX_PASSWORDS_SECRET)), None)
        if secret is None:
            raise KfbootError(f"Dex reads the hash from ${env_name} but the render has no Secret "
                              f"{AUTH_NAMESPACE}/{DEX_PASSWORDS_SECRET}")
        (secret.get("stringData") or {}).pop(env_name, None)
        if "stringData" in secret and not secret["stringData"]:
            del secret["stringData"]
        secret.setdefault("data", {})[env_name] = _b64(creds.password_hash)
    else:  # releases before v1.9: the hash inline in the config
        entry["hash"] = creds.password_hash
        changed = True
    if changed:  # otherwise keep upstream's text (and its comments) as it is
        config_map["data"][DEX_CONFIG_KEY] = yaml.safe_dump(config, sort_keys=False)

    deployment = next((o for o in out if _is(o, "Deployment", DEX_DEPLOYMENT)), None)
    if deployment is not None:
        template_meta = deployment.setdefault("spec", {}).setdefault("template", {}).setdefault("metadata", {})
        template_meta.setdefault("annotations", {})[ROLL_ANNOTATION] = \
            hashlib.sha256(creds.password_hash.encode()).hexdigest()[:16]

    out = [o for o in out if not _is(o, "Secret", INITIAL_USER_SECRET)]
    out.append(initial_user_secret(creds))
    leftover = [UPSTREAM_KNOWN_HASH, _b64(UPSTREAM_KNOWN_HASH)]
    import json

    text = json.dumps(out)
    if any(s in text for s in leftover):
        raise KfbootError("upstream's well-known Dex password hash is still in the render after replacing it",
                          hint="the pinned kubeflow/manifests layout changed; refusing to install a known password")
    return out


def read_initial_user(kube: Kube) -> dict[str, Any] | None:
    return kube.get("v1", "Secret", INITIAL_USER_SECRET, AUTH_NAMESPACE)


@dataclass(frozen=True)
class DexInitialUserTransform:
    """The dex phase's ManifestPhase transform: resolve the login (one read of the live Secret), patch.

    `fingerprint()` feeds the phase digest and `describe()` the plan; neither ever holds the password.
    """

    user: InitialUser

    def fingerprint(self) -> dict[str, str]:
        return self.user.marker()

    def describe(self) -> str:
        return (f"set Dex's initial user {self.user.email} ({_describe_source(self.user)}; upstream's known "
                f"password removed); login in Secret {AUTH_NAMESPACE}/{INITIAL_USER_SECRET} (`kfboot credentials`)")

    def for_render(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`kfboot render`: the password Secret is an install-time step (it would carry a hash)."""
        return [o for o in objects if not _is(o, "Secret", DEX_PASSWORDS_SECRET)]

    def render_notes(self) -> list[str]:
        return [f"Secret {AUTH_NAMESPACE}/{DEX_PASSWORDS_SECRET} (the initial user's bcrypt hash) is written at "
                "install and left out of this render"]

    def __call__(self, ctx: PhaseContext, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kube = ctx.kube
        existing = read_initial_user(kube) if kube is not None else None

        def read_secret(ref: SecretKeyRef) -> dict[str, Any] | None:
            return kube.get("v1", "Secret", ref.name, ref.namespace) if kube is not None else None

        creds = resolve_credentials(self.user, existing, read_secret)
        reused = existing is not None and creds.password_hash == _secret_value(existing, "passwordHash")
        ctx.progress(f"Dex initial user {creds.email}: {_describe_source(self.user)}"
                     f"{' (unchanged)' if reused else ''}; login in Secret {AUTH_NAMESPACE}/{INITIAL_USER_SECRET}")
        return apply_credentials(objects, creds)

    def check(self, ctx: PhaseContext) -> list[Any]:
        """Drift: the password in the user's own Secret no longer matches what Dex was given."""
        from kfboot.engine.phase import Problem

        ref = self.user.password_secret
        if ref is None or ctx.kube is None:
            return []
        installed = _secret_value(read_initial_user(ctx.kube), "passwordHash")
        value = _secret_value(ctx.kube.get("v1", "Secret", ref.name, ref.namespace), ref.key)
        if not installed or not value:
            return [Problem(f"Secret {ref}", "missing, or Dex's login was never installed from it")]
        same = value == installed if is_bcrypt_hash(value) else verify_password(value, installed)
        return [] if same else [Problem(f"Secret {ref}", "the password changed since it was given to Dex")]


def _describe_source(user: InitialUser) -> str:
    if user.source == "hash":
        return "your bcrypt hash"
    if user.source == "secret":
        return f"password from Secret {user.password_secret}"
    return "random password, reused on re-runs"


# -- `kfboot credentials` -----------------------------------------------------------------------------
def _kubectl_read(ref: SecretKeyRef) -> str:
    return (f"kubectl -n {ref.namespace} get secret {ref.name} -o jsonpath='{{.data.{ref.key}}}' | base64 -d")


def login_info(kube: Kube, show: bool = False) -> dict[str, Any]:
    """What `kfboot credentials` reports: the email, where the password is, and the password if `show`.

    Read from the live Secret auth/kfboot-dex-initial-user (not the config), so it tells what is installed.
    """
    secret = read_initial_user(kube)
    if secret is None:
        raise KfbootError(f"Secret {AUTH_NAMESPACE}/{INITIAL_USER_SECRET} was not found: Dex's login is not "
                          "installed in this cluster (by kfboot)", hint="run `kfboot install` first")
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    source = annotations.get(SOURCE_ANNOTATION, "generated")
    info: dict[str, Any] = {"email": _secret_value(secret, "email") or "", "passwordSource": source}
    if source == "generated":
        ref = SecretKeyRef(INITIAL_USER_SECRET, AUTH_NAMESPACE, "password")
    elif source == "secret" and annotations.get(SECRET_REF_ANNOTATION, "").count("/") == 2:
        namespace, name, key = annotations[SECRET_REF_ANNOTATION].split("/")
        ref = SecretKeyRef(name, namespace, key)
    else:
        ref = None
    info["secretRef"] = {"namespace": ref.namespace, "name": ref.name, "key": ref.key} if ref else None
    info["command"] = _kubectl_read(ref) if ref else None
    if show and ref is not None:
        value = _secret_value(kube.get("v1", "Secret", ref.name, ref.namespace), ref.key)
        if value is None:
            raise KfbootError(f"Secret {ref} has no readable password")
        if not is_bcrypt_hash(value):  # a user's Secret may hold only a hash: nothing to show then
            info["password"] = value
    return info


def login_text(info: dict[str, Any], show: bool = False) -> list[str]:
    lines = [f"email:    {info['email']}"]
    if "password" in info:
        lines.append(f"password: {info['password']}")
        return lines
    if info["passwordSource"] == "hash":
        lines.append("password: yours: kfboot was given only its bcrypt hash (components.dex.initialUser.passwordHash)")
        return lines
    ref = info["secretRef"]
    if show:  # asked for it, but the Secret holds only a hash
        lines.append(f"password: yours: Secret {ref['namespace']}/{ref['name']} holds only its bcrypt hash")
        return lines
    lines.append(f"password: {info['command']}")
    lines.append("          (or `kfboot credentials --show`)")
    return lines
