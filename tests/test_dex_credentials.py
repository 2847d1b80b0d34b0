"""Dex's initial user: never upstream's known password, a generated one kept only in a Secret, quiet re-runs."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.config.platform import Platform, load_platform
from kfboot.engine.phase import PhaseContext
from kfboot.errors import ConfigError
from kfboot.phases.build import BuildOptions, build_phases
from kfboot.phases.credentials import (
    INITIAL_USER_SECRET,
    ROLL_ANNOTATION,
    UPSTREAM_KNOWN_HASH,
    Credentials,
    DexInitialUserTransform,
    InitialUser,
    SecretKeyRef,
    apply_credentials,
    hash_password,
    initial_user_secret,
    is_bcrypt_hash,
    resolve_credentials,
)
from kfboot.phases.state_store import STATE_NAME, STATE_NAMESPACE
from kfboot.sources.manifests import LocalManifests
from tests.bed import seed_external

ROOT = Path(__file__).resolve().parents[1]
DEX_TREE = ROOT / "tests" / "fixtures" / "dex"
DEX_OVERLAY = DEX_TREE / "common" / "dex" / "overlays" / "oauth2-proxy"
USER_HASH = "$2y$12$" + "a" * 53  # well-formed; what it hashes does not matter here
ONLY_DEX = """\
apiVersion: kfboot.io/v1alpha1
kind: Platform
components:
  gpu-operator: {enabled: false}
  cert-manager: {enabled: false}
  istio: {external: true}
  kubeflow: {enabled: false}
  kuberay: {enabled: false}
  kserve: {enabled: false}
%s
install: {timeout: 30}
"""


@pytest.fixture(scope="module")
def upstream() -> list[dict[str, Any]]:
    """`kustomize build common/dex/overlays/oauth2-proxy` of the fixture (upstream's layout)."""
    return LocalManifests((DEX_OVERLAY,)).render()


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def _data(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def _dex_hash(objects: list[dict[str, Any]]) -> str:
    return _data(_find(objects, "Secret", "dex-passwords"), "DEX_USER_PASSWORD")


# -- the pure transform ------------------------------------------------------------------------------
def test_fixture_carries_upstreams_known_hash(upstream: list[dict[str, Any]]) -> None:
    assert _find(upstream, "Secret", "dex-passwords")["stringData"]["DEX_USER_PASSWORD"] == UPSTREAM_KNOWN_HASH
    assert bcrypt.checkpw(b"12341234", UPSTREAM_KNOWN_HASH.encode())


def test_generated_password_is_random_and_verifies_against_dexs_hash(upstream: list[dict[str, Any]]) -> None:
    first = resolve_credentials(InitialUser(), None)
    second = resolve_credentials(InitialUser(), None)

    assert first.password and second.password and first.password != second.password
    assert len(first.password) >= 20 and first.source == "generated"
    assert first.password not in repr(first)
    out = apply_credentials(upstream, first)
    dex_hash = _dex_hash(out)
    assert dex_hash == first.password_hash and dex_hash.startswith("$2b$12$") and is_bcrypt_hash(dex_hash)
    assert bcrypt.checkpw(first.password.encode(), dex_hash.encode())
    text = json.dumps(out)
    assert UPSTREAM_KNOWN_HASH not in text and base64.b64encode(UPSTREAM_KNOWN_HASH.encode()).decode() not in text
    assert "stringData" not in _find(out, "Secret", "dex-passwords")
    mine = _find(out, "Secret", INITIAL_USER_SECRET)
    assert mine["metadata"]["namespace"] == "auth"
    assert mine["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kfboot"}
    assert _data(mine, "password") == first.password and _data(mine, "email") == "user@example.com"
    # the password is in kfboot's Secret and nowhere else
    others = [o for o in out if o is not mine]
    assert first.password not in json.dumps(others)
    assert base64.b64encode(first.password.encode()).decode() not in json.dumps(others)
    pod_annotations = _find(out, "Deployment", "dex")["spec"]["template"]["metadata"]["annotations"]
    assert ROLL_ANNOTATION in pod_annotations and first.password_hash not in json.dumps(pod_annotations)


def test_transform_leaves_its_input_alone_and_keeps_upstream_config_text(upstream: list[dict[str, Any]]) -> None:
    before = json.dumps(upstream)
    out = apply_credentials(upstream, resolve_credentials(InitialUser(), None))
    assert json.dumps(upstream) == before
    assert _find(out, "ConfigMap", "dex")["data"] == _find(upstream, "ConfigMap", "dex")["data"]


def test_email_is_set_in_dexs_config(upstream: list[dict[str, Any]]) -> None:
    import yaml

    out = apply_credentials(upstream, Credentials("ada@example.org", USER_HASH, "hash"))
    config = yaml.safe_load(_find(out, "ConfigMap", "dex")["data"]["config.yaml"])
    assert config["staticPasswords"][0]["email"] == "ada@example.org"
    assert config["staticPasswords"][0]["hashFromEnv"] == "DEX_USER_PASSWORD"
    assert config["staticClients"][0]["redirectURIs"] == ["/oauth2/callback"]


def test_inline_hash_of_older_releases_is_replaced(upstream: list[dict[str, Any]]) -> None:
    """Before v1.9 upstream put `hash:` in the config itself (no dex-passwords Secret)."""
    import copy

    import yaml

    old = [o for o in copy.deepcopy(upstream) if o["metadata"]["name"] != "dex-passwords"]
    cm = _find(old, "ConfigMap", "dex")
    config = yaml.safe_load(cm["data"]["config.yaml"])
    entry = config["staticPasswords"][0]
    del entry["hashFromEnv"]
    entry["hash"] = UPSTREAM_KNOWN_HASH
    cm["data"]["config.yaml"] = yaml.safe_dump(config)

    out = apply_credentials(old, Credentials("user@example.com", USER_HASH, "hash"))
    assert yaml.safe_load(_find(out, "ConfigMap", "dex")["data"]["config.yaml"])["staticPasswords"][0]["hash"] == USER_HASH
    assert UPSTREAM_KNOWN_HASH not in json.dumps(out)


def test_user_supplied_hash_is_used_verbatim_without_a_plaintext_secret(upstream: list[dict[str, Any]]) -> None:
    creds = resolve_credentials(InitialUser(password_hash=USER_HASH), None)
    out = apply_credentials(upstream, creds)

    assert creds.password is None and _dex_hash(out) == USER_HASH
    mine = _find(out, "Secret", INITIAL_USER_SECRET)
    assert "password" not in mine["data"]
    assert mine["metadata"]["annotations"]["kfboot.io/password-source"] == "hash"


def test_existing_secret_is_reused_so_reruns_render_the_same(upstream: list[dict[str, Any]]) -> None:
    creds = resolve_credentials(InitialUser(), None)
    live = initial_user_secret(creds)

    again = resolve_credentials(InitialUser(), live)

    assert (again.password, again.password_hash) == (creds.password, creds.password_hash)
    assert apply_credentials(upstream, again) == apply_credentials(upstream, creds)


def test_a_users_hash_replaces_a_generated_password(upstream: list[dict[str, Any]]) -> None:
    live = initial_user_secret(resolve_credentials(InitialUser(), None))
    creds = resolve_credentials(InitialUser(password_hash=USER_HASH), live)
    assert creds.password is None and "password" not in initial_user_secret(creds)["data"]


def test_password_from_the_users_secret(upstream: list[dict[str, Any]]) -> None:
    ref = SecretKeyRef("my-login", "auth", "pw")
    theirs = {"data": {"pw": base64.b64encode(b"correct horse battery").decode()}}
    creds = resolve_credentials(InitialUser(password_secret=ref), None, lambda r: theirs if r == ref else None)
    assert creds.password is None and bcrypt.checkpw(b"correct horse battery", creds.password_hash.encode())
    # re-run: the hash recorded last time still verifies, so it is reused (no new salt, no write)
    again = resolve_credentials(InitialUser(password_secret=ref), initial_user_secret(creds), lambda _r: theirs)
    assert again.password_hash == creds.password_hash
    assert "password" not in initial_user_secret(creds)["data"]
    with pytest.raises(ConfigError, match="does not exist or has no key 'pw'"):
        resolve_credentials(InitialUser(password_secret=ref), None, lambda _r: None)
    known = {"stringData": {"pw": "12341234"}}
    with pytest.raises(ConfigError, match="well-known"):
        resolve_credentials(InitialUser(password_secret=ref), None, lambda _r: known)


def test_refuses_upstreams_known_hash_and_any_hash_of_its_password() -> None:
    with pytest.raises(ConfigError, match="12341234"):
        resolve_credentials(InitialUser(password_hash=UPSTREAM_KNOWN_HASH), None)
    with pytest.raises(ConfigError, match="12341234"):
        resolve_credentials(InitialUser(password_hash=hash_password("12341234", cost=10)), None)


def test_layout_change_fails_instead_of_shipping_the_known_hash(upstream: list[dict[str, Any]]) -> None:
    from kfboot.errors import KfbootError

    without_cm = [o for o in upstream if o["kind"] != "ConfigMap"]
    with pytest.raises(KfbootError, match="no ConfigMap auth/dex"):
        apply_credentials(without_cm, Credentials("user@example.com", USER_HASH, "hash"))
    extra = [*upstream, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "copy", "namespace": "auth"},
                         "data": {"h": UPSTREAM_KNOWN_HASH}}]
    with pytest.raises(KfbootError, match="still in the render"):
        apply_credentials(extra, Credentials("user@example.com", USER_HASH, "hash"))


# -- config ------------------------------------------------------------------------------------------
def _config(tmp_path: Path, dex: str) -> Path:
    path = tmp_path / "kfboot.yaml"
    path.write_text(ONLY_DEX % dex)
    return path


@pytest.mark.parametrize(("dex", "message"), [
    ("  dex: {initialUser: {passwordHash: 'not-a-hash'}}", "not a bcrypt hash Dex accepts"),
    ("  dex: {initialUser: {passwordHash: '$2y$05$" + "a" * 53 + "'}}", "cost from 10 to 16"),
    ("  dex: {initialUser: {passwordHash: '" + UPSTREAM_KNOWN_HASH + "'}}", "well-known password 12341234"),
    ("  dex: {initialUser: {email: nobody}}", "email"),
    ("  dex: {initialUser: {passwordHash: '" + USER_HASH + "', passwordSecret: {name: s}}}", "not both"),
])
def test_config_errors_are_positioned_and_clear(tmp_path: Path, dex: str, message: str) -> None:
    path = _config(tmp_path, dex)
    with pytest.raises(ConfigError) as err:
        load_platform(path)
    assert message in err.value.message and f"{path}:" in err.value.message


def test_config_defaults_and_full_form(tmp_path: Path) -> None:
    assert Platform().components.dex.initial_user.email == "user@example.com"
    platform = load_platform(_config(tmp_path, "  dex:\n    initialUser:\n      email: ada@example.org\n"
                                               "      passwordSecret: {name: my-login}\n"))
    user = platform.components.dex.initial_user
    assert user.email == "ada@example.org" and user.password_secret is not None
    assert (user.password_secret.namespace, user.password_secret.key) == ("auth", "password")


def test_digest_is_stable_secret_free_and_follows_the_config(tmp_path: Path) -> None:
    def dex(platform: Platform) -> Any:
        return next(p for p in build_phases(platform, BuildOptions(manifests_root=DEX_TREE)) if p.name == "dex")

    generated = dex(Platform())
    assert generated.digest() == dex(Platform()).digest()  # no password in it: nothing random
    assert isinstance(generated.transforms[0], DexInitialUserTransform)
    with_hash = load_platform(_config(tmp_path, f"  dex: {{initialUser: {{passwordHash: '{USER_HASH}'}}}}"))
    assert dex(with_hash).digest() != generated.digest()
    assert any("initial user user@example.com" in line for line in generated.describe())
    assert not any("$2" in line for line in dex(with_hash).describe())


def test_transform_without_a_cluster_still_never_ships_the_known_hash(upstream: list[dict[str, Any]]) -> None:
    transform = DexInitialUserTransform(InitialUser())
    messages: list[str] = []
    out = transform(PhaseContext(kube=None, progress=messages.append), upstream)
    password = _data(_find(out, "Secret", INITIAL_USER_SECRET), "password")
    assert UPSTREAM_KNOWN_HASH not in json.dumps(out)
    assert messages and not any(password in m for m in messages)


# -- against the fake API server ---------------------------------------------------------------------
def _base(fake_kube: Any, tmp_path: Path) -> list[str]:
    seed_external(fake_kube, "istio")  # Dex alone needs an Istio: here one installed outside kfboot
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    return ["--kubeconfig", str(kubeconfig), "--context", "kind-fake"]


def _install(base: list[str], config: Path) -> Any:
    return CliRunner().invoke(app, [*base, "-o", "json", "install", "-f", str(config), "--manifests", str(DEX_TREE)])


def _live_password(fake_kube: Any) -> str:
    return _data(fake_kube.get("v1", "Secret", INITIAL_USER_SECRET, "auth"), "password")


def test_install_keeps_the_password_only_in_its_secret_and_reruns_write_nothing(fake_kube, tmp_path: Path) -> None:
    base, config = _base(fake_kube, tmp_path), _config(tmp_path, "")

    plan = CliRunner().invoke(app, [*base, "-o", "json", "plan", "-f", str(config), "--manifests", str(DEX_TREE)])
    first = _install(base, config)

    assert first.exit_code == 0, first.output
    password = _live_password(fake_kube)
    live_hash = _data(fake_kube.get("v1", "Secret", "dex-passwords", "auth"), "DEX_USER_PASSWORD")
    assert bcrypt.checkpw(password.encode(), live_hash.encode())
    assert any("Dex initial user" in e.get("message", "") for e in map(json.loads, first.stdout.splitlines()))

    fake_kube.reset_requests()
    second = _install(base, config)
    assert second.exit_code == 0, second.output
    assert fake_kube.write_count() == 0 and json.loads(second.stdout.splitlines()[-1])["writes"] == 0

    # drift forces the phase to apply again: the password and Dex's hash stay what they were
    fake_kube.remove("apps/v1", "Deployment", "dex", "auth")
    third = _install(base, config)
    assert third.exit_code == 0, third.output
    assert _live_password(fake_kube) == password
    assert _data(fake_kube.get("v1", "Secret", "dex-passwords", "auth"), "DEX_USER_PASSWORD") == live_hash

    encoded = base64.b64encode(password.encode()).decode()
    outputs = [plan.stdout, plan.stderr, *(r.stdout + r.stderr for r in (first, second, third))]
    state = fake_kube.get("v1", "ConfigMap", STATE_NAME, STATE_NAMESPACE)
    kinds = [("v1", "ConfigMap"), ("v1", "Secret"), ("apps/v1", "Deployment"), ("v1", "Service")]
    everything_else = [o for api, kind in kinds for o in fake_kube.list(api, kind)
                       if o["metadata"]["name"] != INITIAL_USER_SECRET]
    for text in [*outputs, json.dumps(state), json.dumps(everything_else)]:
        assert password not in text and encoded not in text


def test_credentials_command_text_json_and_show(fake_kube, tmp_path: Path) -> None:
    base = _base(fake_kube, tmp_path)
    before = CliRunner().invoke(app, [*base, "credentials"])
    assert before.exit_code == 1 and "kfboot install" in before.stderr
    assert _install(base, _config(tmp_path, "  dex: {initialUser: {email: ada@example.org}}")).exit_code == 0
    password = _live_password(fake_kube)

    text = CliRunner().invoke(app, [*base, "credentials"])
    shown = CliRunner().invoke(app, [*base, "credentials", "--show"])
    as_json = CliRunner().invoke(app, [*base, "-o", "json", "credentials"])
    json_shown = CliRunner().invoke(app, [*base, "-o", "json", "credentials", "--show"])

    assert text.exit_code == 0, text.output
    assert "ada@example.org" in text.stdout and password not in text.stdout + text.stderr
    assert ("kubectl -n auth get secret kfboot-dex-initial-user -o jsonpath='{.data.password}' | base64 -d"
            in text.stdout)
    assert shown.exit_code == 0 and f"password: {password}" in shown.stdout
    doc = json.loads(as_json.stdout)
    assert doc == {"event": "credentials", "email": "ada@example.org", "passwordSource": "generated",
                   "secretRef": {"namespace": "auth", "name": INITIAL_USER_SECRET, "key": "password"}}
    assert json.loads(json_shown.stdout)["password"] == password


def test_credentials_with_a_users_hash_say_the_password_is_theirs(fake_kube, tmp_path: Path) -> None:
    base = _base(fake_kube, tmp_path)
    user_hash = hash_password("their own secret", cost=10)
    assert _install(base, _config(tmp_path, f"  dex: {{initialUser: {{passwordHash: '{user_hash}'}}}}")).exit_code == 0

    mine = fake_kube.get("v1", "Secret", INITIAL_USER_SECRET, "auth")
    assert "password" not in mine["data"]
    assert _data(fake_kube.get("v1", "Secret", "dex-passwords", "auth"), "DEX_USER_PASSWORD") == user_hash
    text = CliRunner().invoke(app, [*base, "credentials", "--show"])
    assert text.exit_code == 0 and "password: yours" in text.stdout
    doc = json.loads(CliRunner().invoke(app, [*base, "-o", "json", "credentials", "--show"]).stdout)
    assert doc["passwordSource"] == "hash" and doc["secretRef"] is None and "password" not in doc


def test_switching_from_generated_to_a_users_hash_drops_the_plaintext(fake_kube, tmp_path: Path) -> None:
    base = _base(fake_kube, tmp_path)
    assert _install(base, _config(tmp_path, "")).exit_code == 0
    user_hash = hash_password("their own secret", cost=10)
    assert _install(base, _config(tmp_path, f"  dex: {{initialUser: {{passwordHash: '{user_hash}'}}}}")).exit_code == 0

    assert "password" not in fake_kube.get("v1", "Secret", INITIAL_USER_SECRET, "auth")["data"]
    assert _data(fake_kube.get("v1", "Secret", "dex-passwords", "auth"), "DEX_USER_PASSWORD") == user_hash


def test_deleting_the_secret_rotates_the_generated_password(fake_kube, tmp_path: Path) -> None:
    """The Secret is in the phase's inventory: once gone, the next install sees drift and makes a new one."""
    base, config = _base(fake_kube, tmp_path), _config(tmp_path, "")
    assert _install(base, config).exit_code == 0
    old = _live_password(fake_kube)

    fake_kube.remove("v1", "Secret", INITIAL_USER_SECRET, "auth")
    assert _install(base, config).exit_code == 0

    new = _live_password(fake_kube)
    live_hash = _data(fake_kube.get("v1", "Secret", "dex-passwords", "auth"), "DEX_USER_PASSWORD")
    assert new != old and bcrypt.checkpw(new.encode(), live_hash.encode())


def test_a_password_rotated_in_the_users_secret_is_drift_and_gets_applied(fake_kube, tmp_path: Path) -> None:
    base = _base(fake_kube, tmp_path)
    fake_kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "auth"}})
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-login", "namespace": "auth"},
              "data": {"password": base64.b64encode(b"first password").decode()}}
    fake_kube.put(secret)
    config = _config(tmp_path, "  dex: {initialUser: {passwordSecret: {name: my-login}}}")
    assert _install(base, config).exit_code == 0

    fake_kube.reset_requests()
    assert _install(base, config).exit_code == 0 and fake_kube.write_count() == 0  # unchanged: nothing to do

    secret["data"]["password"] = base64.b64encode(b"second password").decode()
    fake_kube.put(secret)
    plan = CliRunner().invoke(app, [*base, "-o", "json", "plan", "-f", str(config), "--manifests", str(DEX_TREE)])
    dex = next(p for p in json.loads(plan.stdout)["phases"] if p["phase"] == "dex")
    assert dex["action"] == "repair"
    assert any("the password changed since it was given to Dex" in d for d in dex["details"])

    assert _install(base, config).exit_code == 0
    live_hash = _data(fake_kube.get("v1", "Secret", "dex-passwords", "auth"), "DEX_USER_PASSWORD")
    assert bcrypt.checkpw(b"second password", live_hash.encode())
    assert "second password" not in plan.stdout
