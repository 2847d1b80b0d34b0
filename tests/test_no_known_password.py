"""No bcrypt hash of upstream's well-known Dex password (`12341234`) in any bundle or render kfboot
writes: whoever applies those files directly (GitOps) must not install the known login."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.k8s.manifests import parse_manifests
from kfboot.phases.credentials import InitialUser, apply_credentials, hash_password, resolve_credentials
from kfboot.sources.known_password import BCRYPT_HASH, is_known_hash, known_hashes, scrub
from tests.bed import MANIFESTS, build_fixture_bundle

DEX_26_03 = (Path(__file__).resolve().parents[1].parent / "shared" / "upstream" / "kubeflow-manifests-26.03"
             / "common" / "dex" / "overlays" / "oauth2-proxy.yaml")


def _all_text(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8", errors="replace")
            for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json")}


def _verifying_hashes(root: Path) -> list[str]:
    return [f"{name}: {h}" for name, text in _all_text(root).items() for h in known_hashes(text)]


@pytest.mark.skipif(not DEX_26_03.is_file(), reason="the real upstream render is not beside the repo")
def test_the_real_dex_render_is_scrubbed_and_install_still_sets_the_login() -> None:
    text = DEX_26_03.read_text(encoding="utf-8")
    assert [h for h in BCRYPT_HASH.findall(text)] and known_hashes(text)  # upstream ships the known hash

    scrubbed = scrub(text)
    assert known_hashes(scrubbed) == []
    objects = parse_manifests(scrubbed, str(DEX_26_03))
    secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "dex-passwords")
    assert secret["stringData"] == {"DEX_USER_PASSWORD": ""}

    mine = hash_password("a password of my own", cost=10)
    creds = resolve_credentials(InitialUser(password_hash=mine), None, lambda _ref: None)
    installed = apply_credentials(objects, creds)  # what install applies from a scrubbed bundle
    secret = next(o for o in installed if o["kind"] == "Secret" and o["metadata"]["name"] == "dex-passwords")
    assert "stringData" not in secret and secret["data"]["DEX_USER_PASSWORD"]


def test_known_hashes_are_found_plain_and_base64_but_not_others() -> None:
    import base64

    other = hash_password("not upstream's", cost=10)
    known = hash_password("12341234", cost=10)
    assert is_known_hash(known) and not is_known_hash(other)
    text = f"a: {known}\nb: {other}\nc: {base64.b64encode(known.encode()).decode()}\n"
    assert len(known_hashes(text)) == 2
    assert known_hashes(scrub(text)) == [] and other in scrub(text)


def test_no_bundle_or_render_holds_a_hash_of_upstreams_password(tmp_path: Path) -> None:
    assert known_hashes((MANIFESTS / "common" / "dex" / "base" / "dex.yaml").read_text())  # the input has it
    bundle = build_fixture_bundle(tmp_path / "bundle")
    assert _verifying_hashes(bundle) == []

    rendered, local = tmp_path / "render", tmp_path / "render-local"
    for args in (["all", "--bundle", str(bundle), "--output-dir", str(rendered)],
                 ["dex", "--manifests", str(MANIFESTS), "--output-dir", str(local)]):  # kustomize output as is
        result = CliRunner().invoke(app, ["render", *args])
        assert result.exit_code == 0, result.output
    assert _verifying_hashes(rendered) == [] and _verifying_hashes(local) == []
    index = (rendered / "index.yaml").read_text()
    assert "Secret auth/dex-passwords (the initial user's bcrypt hash) is written at install" in index
