"""The objects `kfboot verify` creates, validated against the real CRDs of kubeflow/manifests 26.03
(read in place from ../shared/upstream), the way the API server's strict field validation would;
plus the pure parts: the graph walk, the HTTP session, kubectl's port-forward line, settings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kfboot.errors import UsageError
from kfboot.verify import checks_kubeflow as kf
from kfboot.verify import checks_platform as plat
from kfboot.verify import checks_serving as serving
from kfboot.verify.http import HttpError, HttpSession
from kfboot.verify.kfp import one_step_pipeline
from kfboot.verify.login import is_login_redirect
from kfboot.verify.portforward import parse_forwarding
from kfboot.verify.run import ALL_CHECKS, graph, select
from kfboot.verify.settings import check_model_uri, default_images, parse_image_overrides

UPSTREAM = Path(__file__).resolve().parents[1] / ".." / "shared" / "upstream" / "kubeflow-manifests-26.03"
CRD_FILES = {
    "certificates.cert-manager.io": "common/cert-manager/overlays/kubeflow.yaml",
    "issuers.cert-manager.io": "common/cert-manager/overlays/kubeflow.yaml",
    "virtualservices.networking.istio.io": "common/istio/istio-crds/base.yaml",
    "authorizationpolicies.security.istio.io": "common/istio/istio-crds/base.yaml",
    "profiles.kubeflow.org": "applications/profiles/pss.yaml",
    "notebooks.kubeflow.org": "applications/jupyter/notebook-controller/upstream/overlays/kubeflow.yaml",
    "experiments.kubeflow.org": "applications/katib/upstream/installs/katib-with-kubeflow.yaml",
    "trainjobs.trainer.kubeflow.org": "applications/trainer/overlays.yaml",
    "inferenceservices.serving.kserve.io": "applications/kserve/kserve.yaml",
}
PLURALS = {"Issuer": "issuers", "Certificate": "certificates", "VirtualService": "virtualservices",
           "AuthorizationPolicy": "authorizationpolicies", "Profile": "profiles", "Notebook": "notebooks",
           "Experiment": "experiments", "TrainJob": "trainjobs", "InferenceService": "inferenceservices"}


def crd_schema(name: str, version: str) -> dict[str, Any]:
    """The openAPIV3Schema of one CRD version, made strict: unknown fields are errors (as with
    fieldValidation=Strict) except where the CRD preserves them."""
    text = (UPSTREAM / CRD_FILES[name]).read_text(encoding="utf-8")
    doc = next(d for d in text.split("\n---\n") if f"\n  name: {name}\n" in d and "CustomResourceDefinition" in d)
    crd = yaml.load(doc, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == version)["schema"]["openAPIV3Schema"]

    def strict(node: Any) -> None:
        if isinstance(node, dict):
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                strict(value)
        elif isinstance(node, list):
            for item in node:
                strict(item)

    strict(schema)
    # the API server checks these itself (Istio's schemas list only spec and status)
    schema.setdefault("properties", {}).update(apiVersion={"type": "string"}, kind={"type": "string"},
                                               metadata={"type": "object"})
    return schema


def validate(obj: dict[str, Any]) -> None:
    group, _, version = obj["apiVersion"].rpartition("/")
    schema = crd_schema(f"{PLURALS[obj['kind']]}.{group}", version)
    jsonschema.Draft7Validator(schema).validate(obj)  # CRD schemas are OpenAPI, not always valid meta-schema


OBJECTS = [
    *plat.certificate_objects("kfboot-verify"),
    *[o for o in plat.echo_objects("kfboot-verify-mesh", "agnhost:1") if o["kind"] in PLURALS],
    kf.profile_object("kfboot-verify-profile", "user@example.com"),
    kf.notebook_object("p", "jupyter:1"),
    kf.katib_experiment("p", "busybox:1"),
    kf.trainjob_object("kfboot-verify"),
    serving.inference_service("iris", "p", "pvc://models/iris", "Serverless"),
    *serving.route_objects("iris", "p", "Serverless"),
    *serving.route_objects("iris", "p", "RawDeployment"),
]


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_test_objects_match_the_upstream_crds(obj: dict[str, Any]) -> None:
    validate(obj)


def test_the_strict_schema_catches_a_misspelt_field() -> None:
    bad = kf.trainjob_object("ns")
    bad["spec"]["trainer"]["numNode"] = 1
    with pytest.raises(jsonschema.ValidationError, match="numNode"):
        validate(bad)


def test_katib_grid_has_exactly_two_trials_without_sidecars() -> None:
    exp = kf.katib_experiment("p", "busybox:1")
    space = exp["spec"]["parameters"][0]["feasibleSpace"]
    values = round((float(space["max"]) - float(space["min"])) / float(space["step"])) + 1
    assert values == 2 == exp["spec"]["maxTrialCount"] == exp["spec"]["parallelTrialCount"]
    template = exp["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]
    assert template["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
    assert "${trialParameters.learningRate}" in template["spec"]["containers"][0]["command"][2]


def test_ray_gpu_worker_only_when_asked() -> None:
    assert [g["groupName"] for g in serving.ray_cluster_spec("ray:1", False)["workerGroupSpecs"]] == ["cpu"]
    gpu = serving.ray_cluster_spec("ray:1", True)["workerGroupSpecs"][1]
    assert gpu["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_kfp_pipeline_is_one_container_task() -> None:
    spec = one_step_pipeline("p", "busybox:1", "hi")
    task = spec["root"]["dag"]["tasks"]["say"]
    executor = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    assert spec["deploymentSpec"]["executors"][executor]["container"] == {
        "image": "busybox:1", "command": ["echo"], "args": ["hi"]}
    assert spec["schemaVersion"] == "2.1.0" and task["cachingOptions"] == {"enableCache": False}


# -- the graph ---------------------------------------------------------------------------------------
def test_check_names_are_unique_and_needs_known() -> None:
    names = [c.name for c in ALL_CHECKS]
    assert len(names) == len(set(names))
    assert all(n in names for c in ALL_CHECKS for n in c.needs)


def test_graph_has_components_and_their_prerequisites() -> None:
    needs = graph(select(["dex/login"]), {"dex": ["istio"], "istio": ["cert-manager"], "cert-manager": []})
    assert needs == {"component:cert-manager": (), "component:istio": ("component:cert-manager",),
                     "component:dex": ("component:istio",), "dex/login": ("component:dex",)}


def test_select_unknown_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown component or check: nope"):
        select(["nope"])


# -- HTTP, port-forward, settings --------------------------------------------------------------------
@pytest.fixture
def redirector() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            target = {"/a": "/b", "/b": "http://dex.auth.svc.cluster.local:5556/dex/auth", "/loop": "/loop"}.get(self.path)
            self.send_response(302 if target else 200)
            if target:
                self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_redirect_out_of_the_gateway_is_named(redirector: str) -> None:
    with pytest.raises(HttpError, match=r"redirected out of .* to http://dex.auth.svc.cluster.local:5556/dex/auth "
                                        r"\(after 302 /a → 302 /b\)"):
        HttpSession(redirector).get("/a")


def test_redirect_loop_is_bounded(redirector: str) -> None:
    with pytest.raises(HttpError, match="more than 12 redirects"):
        HttpSession(redirector).get("/loop")


def test_no_answer_is_an_http_error() -> None:
    with pytest.raises(HttpError, match="no answer"):
        HttpSession("http://127.0.0.1:9", timeout=2).get("/")


def test_kubectl_forwarding_lines() -> None:
    assert parse_forwarding("Forwarding from 127.0.0.1:43567 -> 8080\n") == 43567
    assert parse_forwarding("Forwarding from [::1]:43567 -> 8080") == 43567
    assert parse_forwarding("Handling connection for 43567") is None


def test_login_redirect_shapes() -> None:
    from kfboot.verify.http import Response

    assert is_login_redirect(Response(302, "http://x/", {"location": "/oauth2/start?rd=%2F"}, b""))
    assert is_login_redirect(Response(403, "http://x/", {}, b'<form action="/oauth2/start">'))
    assert not is_login_redirect(Response(200, "http://x/", {}, b"dashboard"))
    assert not is_login_redirect(Response(302, "http://x/", {"location": "/somewhere"}, b""))


def test_image_overrides_and_model_uri() -> None:
    images = parse_image_overrides(["ray=mirror.local/ray:2.44.1"], default_images())
    assert images["ray"] == "mirror.local/ray:2.44.1" and images["busybox"] == default_images()["busybox"]
    with pytest.raises(UsageError, match="unknown key 'rays'"):
        parse_image_overrides(["rays=x:1"], default_images())
    assert check_model_uri("pvc://models/iris") == "pvc://models/iris"
    with pytest.raises(UsageError, match="not a storage URI"):
        check_model_uri("/models/iris")


def test_built_in_objects_pass_strict_field_validation() -> None:
    """The echo workload and the Katib trial's Job, through the same Kubernetes schemas the fake API
    server uses for fieldValidation=Strict (kubernetes-validate)."""
    from tests.fakekube.errors import ApiError
    from tests.fakekube.validation import validate_strict

    trial = kf.katib_experiment("p", "busybox:1")["spec"]["trialTemplate"]["trialSpec"]
    job = {**trial, "metadata": {"name": "trial", "namespace": "p"}}
    builtins = [o for o in plat.echo_objects("ns", "agnhost:1") if o["kind"] in ("Deployment", "Service")]
    for obj in [job, *builtins]:
        validate_strict(obj, "v1.34.0", is_custom=False)
    bad = {**job, "spec": {**job["spec"], "backoffLimitt": 1}}
    with pytest.raises(ApiError, match=r'unknown field "spec\.backoffLimitt"'):
        validate_strict(bad, "v1.34.0", is_custom=False)
