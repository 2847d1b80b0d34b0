"""Bundles from the fixture tree and charts: index digests, images, tampering, remote bases, pull, install."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kfboot.cli.app import app
from kfboot.config.catalog import load_catalog
from kfboot.sources.build import catalog_paths
from kfboot.sources.bundle import INDEX_FILE, Bundle, chart_file, manifest_file
from kfboot.sources.images import images_of
from kfboot.tools import find as find_tool
from tests.bed import CHARTS, ONLY_CERT_MANAGER, build_fixture_bundle, bundle_build_args

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
MANIFESTS = FIXTURES / "kubeflow-manifests"
REMOTE = FIXTURES / "kubeflow-manifests-remote"





@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_bundle(tmp_path_factory.mktemp("bundles") / "bundle")


@pytest.fixture
def bundle_copy(built: Path, tmp_path: Path) -> Path:
    """A private copy for tests that damage it."""
    return Path(shutil.copytree(built, tmp_path / "bundle"))


@pytest.fixture(autouse=True)
def _no_cluster_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("KFBOOT_CACHE_DIR", str(tmp_path / "cache"))


# -- the index ---------------------------------------------------------------------------------------
def test_index_lists_every_file_with_its_sha256(built: Path) -> None:
    index = Bundle.open(built, load_catalog()).index
    on_disk = {p.relative_to(built).as_posix(): p for p in built.rglob("*") if p.is_file()}
    assert set(on_disk) - {INDEX_FILE} == {f.path for f in index.files}
    for entry in index.files:
        data = on_disk[entry.path].read_bytes()
        assert entry.sha256 == hashlib.sha256(data).hexdigest() and entry.size == len(data)
    src = load_catalog().sources["kubeflow-manifests"]
    assert index.api_version == "kfboot.io/v1alpha1" and index.kind == "Bundle"
    assert index.sources["kubeflow-manifests"].commit == src.commit
    assert {(c.component, c.version) for c in index.charts} == {("gpu-operator", "v26.7.0"), ("kuberay", "1.3.2")}
    assert chart_file("gpu-operator", "v26.7.0") in on_disk


def test_every_catalog_path_is_rendered_including_kind_and_serverless(built: Path) -> None:
    index = Bundle.open(built).index
    rendered = {(m.source, m.path) for m in index.manifests}
    assert rendered == set(catalog_paths(load_catalog()))
    for extra in ("common/oauth2-proxy/overlays/m2m-dex-and-kind", "common/knative/knative-serving/overlays/gateways",
                  "applications/trainer/overlays", "applications/pipeline/overlays"):
        assert ("kubeflow-manifests", extra) in rendered
        assert (built / manifest_file("kubeflow-manifests", extra)).is_file()


def test_bundle_equals_kustomize_of_the_tree(built: Path) -> None:
    from kfboot.sources.manifests import kustomize_build

    rel = "applications/profiles/pss"
    assert (built / manifest_file("kubeflow-manifests", rel)).read_text() == kustomize_build(MANIFESTS / rel)


# -- images ------------------------------------------------------------------------------------------
def test_bundle_images_lists_the_fixture_images(built: Path) -> None:
    result = CliRunner().invoke(app, ["bundle", "images", str(built)])
    assert result.exit_code == 0, result.output
    images = result.stdout.splitlines()
    assert images == sorted(set(images))
    expected = {
        "quay.io/jetstack/cert-manager-webhook:v1.19.4",  # Deployment
        "ghcr.io/kubeflow/kfp-cache-deployer:2.16.0",  # CronJob
        "ghcr.io/kubeflow/kubeflow/kfam:v1.10.0",  # second container
        "pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime",  # pod template inside a CR
        "kserve/sklearnserver:v0.16.0",  # ClusterServingRuntime containers
        "kserve/storage-initializer:v0.16.0",  # JSON in a ConfigMap
        "ghcr.io/kubeflow/katib/file-metrics-collector:v0.19.0",  # YAML in a ConfigMap
        "gcr.io/knative-releases/knative.dev/serving/cmd/queue@sha256:" + "3" * 64,  # *-image key
        "registry.k8s.io/jobset/jobset:v0.10.1", "quay.io/argoproj/workflow-controller:v3.7.3",
        "nvcr.io/nvidia/gpu-operator:v26.7.0", "nvcr.io/nvidia/k8s-device-plugin:v0.18.1",  # chart + ClusterPolicy
        "quay.io/kuberay/operator:v1.3.2",
        "docker.io/rayproject/ray:2.44.1", "registry.k8s.io/e2e-test-images/agnhost:2.53",  # `kfboot verify`'s
    }
    assert expected <= set(images)
    assert not [i for i in images if "{" in i or " " in i]
    as_json = CliRunner().invoke(app, ["-o", "json", "bundle", "images", str(built)])
    assert json.loads(as_json.stdout)["images"] == images


def test_images_of_every_workload_kind() -> None:
    pod = {"containers": [{"name": "a", "image": "a:1"}], "initContainers": [{"name": "i", "image": "init:1"}]}
    objects = [
        {"kind": "Pod", "spec": pod},
        {"kind": "DaemonSet", "spec": {"template": {"spec": {"containers": [{"name": "d", "image": "d:1"}]}}}},
        {"kind": "StatefulSet", "spec": {"template": {"spec": {"containers": [{"name": "s", "image": "s:1"}]}}}},
        {"kind": "Job", "spec": {"template": {"spec": {"containers": [{"name": "j", "image": "j:1"}]}}}},
        {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "c:1"}], "ephemeralContainers": [{"name": "e", "image": "e:1"}]}}}}}},
        {"kind": "Widget", "spec": {"image": "reg.example/w:2", "note": "image: not-an-image"}},
        {"kind": "ClusterPolicy", "spec": {"driver": {"repository": "nvcr.io/nvidia", "image": "driver", "version": "580"}}},
        {"kind": "CustomResourceDefinition", "spec": {"image": "schema:only"}},
        {"kind": "ConfigMap", "data": {"queue-sidecar-image": "q:1", "cfg": '{"image": "j/s:1"}', "x": "nothing"}},
        {"kind": "Deployment", "metadata": {"annotations": {"image": "meta:1"}}, "spec": {"template": {"spec": {
            "containers": [{"name": "n", "image": "nginx"}]}}}},
        # images a controller launches, given as flags (argo's workflow-controller)
        {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{
            "name": "wc", "image": "quay.io/argoproj/workflow-controller:v3.7.3",
            "args": ["--configmap", "workflow-controller-configmap",
                     "--executor-image=quay.io/argoproj/argoexec:v3.7.3", "--sidecar-image", "reg.example/side:1",
                     "--image-pull-policy", "IfNotPresent"]}]}}}},
    ]
    assert images_of(objects) == ["a:1", "c:1", "d:1", "e:1", "init:1", "j/s:1", "j:1", "nginx",
                                  "nvcr.io/nvidia/driver:580", "q:1", "quay.io/argoproj/argoexec:v3.7.3",
                                  "quay.io/argoproj/workflow-controller:v3.7.3", "reg.example/side:1",
                                  "reg.example/w:2", "s:1"]


# -- tampering ---------------------------------------------------------------------------------------
def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_tampered_manifest_is_refused_by_render(bundle_copy: Path, tmp_path: Path) -> None:
    target = bundle_copy / manifest_file("kubeflow-manifests", "common/cert-manager/overlays/kubeflow")
    expected = hashlib.sha256(target.read_bytes()).hexdigest()
    _flip_one_byte(target)

    result = CliRunner().invoke(app, ["render", "cert-manager", "--output-dir", str(tmp_path / "out"),
                                      "--bundle", str(bundle_copy)])

    assert result.exit_code == 1
    assert str(target) in result.output and expected in result.output
    assert hashlib.sha256(target.read_bytes()).hexdigest() in result.output
    assert not (tmp_path / "out" / "cert-manager" / "manifests.yaml").exists()


def test_tampered_chart_is_refused(bundle_copy: Path, tmp_path: Path) -> None:
    target = bundle_copy / chart_file("kuberay-operator", "1.3.2")
    _flip_one_byte(target)
    result = CliRunner().invoke(app, ["render", "kuberay", "--output-dir", str(tmp_path / "out"),
                                      "--bundle", str(bundle_copy)])
    assert result.exit_code == 1
    assert str(target) in result.output and "does not match the index" in result.output


def test_missing_file_is_refused_and_verify_lists_every_problem(bundle_copy: Path, tmp_path: Path) -> None:
    gone = bundle_copy / manifest_file("kubeflow-manifests", "common/istio/istio-crds/base")
    gone.unlink()
    render = CliRunner().invoke(app, ["render", "istio", "--output-dir", str(tmp_path / "o"), "--bundle", str(bundle_copy)])
    _flip_one_byte(bundle_copy / chart_file("gpu-operator", "v26.7.0"))
    (bundle_copy / "manifests" / "extra.yaml").write_text("kind: Surprise\n")

    verify = CliRunner().invoke(app, ["bundle", "verify", str(bundle_copy)])

    assert render.exit_code == 1 and f"{gone} is missing" in render.output
    assert verify.exit_code == 1
    assert f"{gone} is missing" in verify.output
    assert "gpu-operator-v26.7.0.tgz does not match the index" in verify.output
    assert "extra.yaml is not in the index" in verify.output


def test_verify_accepts_an_intact_bundle(built: Path) -> None:
    result = CliRunner().invoke(app, ["bundle", "verify", str(built)])
    assert result.exit_code == 0, result.output
    assert "match the index" in result.output


def test_bundle_for_other_pins_is_refused(bundle_copy: Path, tmp_path: Path) -> None:
    index = bundle_copy / INDEX_FILE
    index.write_text(index.read_text().replace(load_catalog().sources["kubeflow-manifests"].commit, "f" * 40))
    result = CliRunner().invoke(app, ["render", "--output-dir", str(tmp_path / "o"), "--bundle", str(bundle_copy)])
    assert result.exit_code == 2
    assert "made for kubeflow-manifests" in result.output and "ffffffffffff" in result.output


def test_not_a_bundle(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bundle", "images", str(tmp_path)])
    assert result.exit_code == 2 and "no bundle index" in result.output


# -- building ----------------------------------------------------------------------------------------
def test_remote_base_fails_offline_with_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = Path(shutil.copytree(MANIFESTS, tmp_path / "tree"))
    shutil.copytree(REMOTE / "applications", tree / "applications", dirs_exist_ok=True)
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):  # offline even where GitHub is reachable
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")

    result = CliRunner().invoke(app, bundle_build_args(tmp_path / "out", tree))

    assert result.exit_code == 1
    assert "kubeflow-manifests/applications/pipeline/overlays: remote kustomize bases cannot be resolved offline" in result.output
    assert "https://github.com/argoproj/argo-workflows/manifests/base?ref=v3.7.3" in result.output
    assert "kfboot bundle pull" in result.output
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))  # nothing half-written


def test_build_checks_chart_pins_and_refuses_to_overwrite(built: Path, tmp_path: Path) -> None:
    wrong = CliRunner().invoke(app, ["bundle", "build", str(tmp_path / "x"), "--manifests", str(MANIFESTS),
                                     "--chart", f"gpu-operator={CHARTS['kuberay']}", "--chart", f"kuberay={CHARTS['kuberay']}"])
    assert wrong.exit_code == 2 and "chart is 'kuberay-operator', the catalog pins 'gpu-operator'" in wrong.output
    missing = CliRunner().invoke(app, ["bundle", "build", str(tmp_path / "y"), "--manifests", str(MANIFESTS)])
    assert missing.exit_code == 2 and "no chart given for gpu-operator, kuberay" in missing.output
    again = CliRunner().invoke(app, bundle_build_args(built))
    assert again.exit_code == 2 and "--force" in again.output


def test_build_accepts_packaged_charts(tmp_path: Path) -> None:
    packed = {}
    for name, path in CHARTS.items():
        subprocess.run([find_tool("helm"), "package", str(path), "-d", str(tmp_path / "pkg")], check=True, capture_output=True)
        packed[name] = next((tmp_path / "pkg").glob(f"{yaml.safe_load((path / 'Chart.yaml').read_text())['name']}-*.tgz"))
    args = ["bundle", "build", str(tmp_path / "b"), "--manifests", str(MANIFESTS)]
    for name, tgz in packed.items():
        args += ["--chart", f"{name}={tgz}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    copied = tmp_path / "b" / chart_file("gpu-operator", "v26.7.0")
    assert copied.read_bytes() == packed["gpu-operator"].read_bytes()


# -- pulling (against local mirrors: file:// archive, a Helm repository over HTTP) -------------------------
@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    archive = tmp_path / "26.03.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(MANIFESTS, arcname="manifests-26.03")
    repo = tmp_path / "repo"
    for path in CHARTS.values():
        subprocess.run([find_tool("helm"), "package", str(path), "-d", str(repo)], check=True, capture_output=True)
    subprocess.run([find_tool("helm"), "repo", "index", str(repo)], check=True, capture_output=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(repo), **k)

        def log_message(self, *_a) -> None:  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield archive.as_uri(), f"http://127.0.0.1:{server.server_port}", hashlib.sha256(archive.read_bytes()).hexdigest()
    finally:
        server.shutdown()


def test_pull_from_mirrors_records_the_archive_digest(mirror: tuple[str, str, str], tmp_path: Path) -> None:
    archive_url, repo_url, archive_sha = mirror
    out = tmp_path / "pulled"
    result = CliRunner().invoke(app, ["bundle", "pull", str(out), "--archive-url", archive_url,
                                      "--chart-repo", f"gpu-operator={repo_url}", "--chart-repo", f"kuberay={repo_url}"])
    assert result.exit_code == 0, result.output
    bundle = Bundle.open(out, load_catalog())
    assert bundle.index.sources["kubeflow-manifests"].archive_sha256 == archive_sha
    assert bundle.verify() == []
    assert "quay.io/kuberay/operator:v1.3.2" in bundle.index.images


def test_pull_names_what_it_could_not_reach(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bundle", "pull", str(tmp_path / "p"), "--archive-url",
                                      "http://127.0.0.1:9/26.03.tar.gz"])
    assert result.exit_code == 1
    assert "cannot download http://127.0.0.1:9/26.03.tar.gz" in result.output
    assert "kfboot bundle build" in result.output


def test_pull_checks_the_archive_top_directory(tmp_path: Path) -> None:
    archive = tmp_path / "wrong.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(MANIFESTS, arcname="manifests-1.9.0")
    result = CliRunner().invoke(app, ["bundle", "pull", str(tmp_path / "p"), "--archive-url", archive.as_uri()])
    assert result.exit_code == 1 and "top directory is manifests-1.9.0, expected manifests-26.03" in result.output


# -- installing from a bundle --------------------------------------------------------------------------
def test_install_from_bundle_then_noop(fake_kube, built: Path, tmp_path: Path) -> None:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    config = tmp_path / "kfboot.yaml"
    config.write_text(ONLY_CERT_MANAGER)
    args = ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "-o", "json", "install", "-f", str(config),
            "--bundle", str(built)]

    first = CliRunner().invoke(app, args)

    assert first.exit_code == 0, first.output
    assert fake_kube.get("cert-manager.io/v1", "ClusterIssuer", "kubeflow-self-signing-issuer") is not None
    assert not (tmp_path / "cache").exists()  # nothing downloaded or cached
    fake_kube.reset_requests()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout.splitlines()[-1])["writes"] == 0
    assert fake_kube.write_count() == 0


def test_install_from_tampered_bundle_fails_naming_the_file(fake_kube, bundle_copy: Path, tmp_path: Path) -> None:
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    config = tmp_path / "kfboot.yaml"
    config.write_text(ONLY_CERT_MANAGER)
    target = bundle_copy / manifest_file("kubeflow-manifests", "common/cert-manager/overlays/kubeflow")
    target.write_text(target.read_text().replace("cert-manager-webhook:v1.19.4", "cert-manager-webhook:evil"))

    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "install",
                                      "-f", str(config), "--bundle", str(bundle_copy)])

    assert result.exit_code == 1
    assert "does not match the index" in result.output and "kubeflow.yaml" in result.output
    assert fake_kube.get("apps/v1", "Deployment", "cert-manager-webhook", "cert-manager") is None


def test_bundle_and_manifests_are_exclusive(built: Path) -> None:
    result = CliRunner().invoke(app, ["plan", "--offline", "--bundle", str(built), "--manifests", str(MANIFESTS)])
    assert result.exit_code == 2 and "exclusive" in result.output


def test_plan_offline_from_bundle_and_default_cache_needs_no_download(built: Path, tmp_path: Path) -> None:
    for extra in (["--bundle", str(built)], []):
        result = CliRunner().invoke(app, ["-o", "json", "plan", "--offline", *extra])
        assert result.exit_code == 0, result.output
    assert not (tmp_path / "cache").exists()


def test_an_unresolvable_remote_base_is_named_with_kustomizes_error_not_its_warning() -> None:
    from kfboot.sources.build import kustomize_error

    output = ("kustomize build of applications/pipeline/overlays failed: "
              "# Warning: 'vars' is deprecated. Please use 'replacements' instead. [EXPERIMENTAL] Run "
              "'kustomize edit fix' to update your Kustomization automatically.\n"
              "error: accumulating resources: accumulation err='accumulating resources from "
              "'https://github.com/argoproj/argo-workflows/manifests/base?ref=v3.7.3': URL is a git repository': "
              "git cmd = '/usr/bin/git fetch --depth=1 origin v3.7.3': exit status 128\n")
    assert kustomize_error(output).startswith("error: accumulating resources")
    assert kustomize_error("# Warning: 'vars' is deprecated\n") == "# Warning: 'vars' is deprecated"


def test_a_devel_chart_is_refused_first_with_what_to_do(tmp_path: Path) -> None:
    devel = Path(shutil.copytree(CHARTS["gpu-operator"], tmp_path / "gpu-operator"))
    meta = yaml.safe_load((devel / "Chart.yaml").read_text())
    (devel / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": "v26.7.0-rc.2"}))
    broken_tree = tmp_path / "tree"  # would fail to render: the chart check must come first
    broken_tree.mkdir()

    result = CliRunner().invoke(app, ["bundle", "build", str(tmp_path / "out"), "--manifests", str(broken_tree),
                                      "--chart", f"gpu-operator={devel}", "--chart", f"kuberay={CHARTS['kuberay']}"])

    assert result.exit_code == 2
    assert "gpu-operator version 'v26.7.0-rc.2' is not pinned (pinned: v26.7.0, v26.3.3) and is a pre-release" in result.output
    assert "without --devel" in result.output and "not a kustomize directory" not in result.output


def test_bundle_build_with_a_platform_builds_only_what_it_installs(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tree = Path(shutil.copytree(MANIFESTS, tmp_path / "tree"))
    shutil.copytree(REMOTE / "applications", tree / "applications", dirs_exist_ok=True)  # pipelines: remote base
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    config = tmp_path / "kfboot.yaml"
    config.write_text("apiVersion: kfboot.io/v1alpha1\nkind: Platform\ncomponents:\n"
                      "  gpu-operator: {enabled: false}\n"
                      "  kubeflow: {apps: [central-dashboard, profiles, notebooks]}\n"
                      "  kserve: {deploymentMode: RawDeployment}\n")

    result = CliRunner().invoke(app, ["bundle", "build", str(tmp_path / "out"), "--manifests", str(tree),
                                      "-f", str(config), "--chart", f"kuberay={CHARTS['kuberay']}"])

    assert result.exit_code == 0, result.output
    index = yaml.safe_load((tmp_path / "out" / "bundle.yaml").read_text())
    paths = {m["path"] for m in index["manifests"]}
    assert "applications/pipeline/overlays" not in paths and "applications/profiles/pss" in paths
    assert "common/knative/knative-serving/overlays/gateways" not in paths  # RawDeployment: no Knative
    assert "common/oauth2-proxy/overlays/m2m-dex-and-kind" in paths  # kind is decided at install
    assert [c["component"] for c in index["charts"]] == ["kuberay"]


def test_the_source_trees_identity_is_recorded_honestly(tmp_path: Path) -> None:
    from kfboot.config.catalog import load_catalog
    from kfboot.sources.build import SourceTree, tree_identity

    pinned = load_catalog().sources["kubeflow-manifests"].commit
    tree = Path(shutil.copytree(MANIFESTS, tmp_path / "tree"))
    assert tree_identity(SourceTree(tree), pinned) == {
        "tree": "a local tree of unknown commit (not a git checkout)", "tree_verified": False}
    (tree / ".git" / "refs" / "tags").mkdir(parents=True)
    (tree / ".git" / "HEAD").write_text(pinned + "\n")  # detached at the tag commit
    assert tree_identity(SourceTree(tree), pinned)["tree_verified"] is True
    (tree / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tree / ".git" / "packed-refs").write_text(f"{'1' * 40} refs/heads/main\n")
    assert tree_identity(SourceTree(tree), pinned) == {
        "tree": f"a git checkout at {'1' * 40} (not the pinned commit)", "tree_verified": False}
    assert tree_identity(SourceTree(tree, archive_sha256="ab" * 32), pinned)["tree_verified"] is True


def test_a_bundle_from_an_unverified_tree_says_so_and_install_warns(built: Path, fake_kube: Any,
                                                                    tmp_path: Path) -> None:
    index = yaml.safe_load((built / "bundle.yaml").read_text())
    source = index["sources"]["kubeflow-manifests"]
    assert source["treeVerified"] is False and "unknown commit" in source["tree"]
    kubeconfig = fake_kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-fake")
    config = tmp_path / "kfboot.yaml"
    config.write_text(ONLY_CERT_MANAGER)
    result = CliRunner().invoke(app, ["--kubeconfig", str(kubeconfig), "--context", "kind-fake", "install",
                                      "-f", str(config), "--bundle", str(built)])
    assert result.exit_code == 0, result.output
    assert "rendered from a local tree of unknown commit (not a git checkout), not verified as commit d68ebc7fab36" \
        in result.output
