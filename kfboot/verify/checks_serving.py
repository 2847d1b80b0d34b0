"""Checks of serving and distributed compute: KubeRay clusters and jobs, a KServe prediction."""

from __future__ import annotations

from typing import Any

from kfboot.errors import ClusterError
from kfboot.k8s import readiness as rd
from kfboot.k8s.refs import ObjectRef
from kfboot.verify import steps
from kfboot.verify.check import Check, CheckFailed, CheckSkipped, Probe
from kfboot.verify.checks_platform import GATEWAY_PRINCIPAL, gpu_nodes
from kfboot.verify.http import HttpError
from kfboot.verify.pod_security import restricted

RAYCLUSTER = "kfboot-verify-ray"
RAYJOB = "kfboot-verify-rayjob"
ISVC = "kfboot-verify-iris"
IRIS = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}
IRIS_CLASSES = [1, 1]  # upstream's expectation for these two flowers (versicolor)
RAY_ENTRYPOINT = "python -c \"import ray; ray.init(); print('kfboot verify:', ray.cluster_resources())\""


# -- KubeRay -------------------------------------------------------------------------------------
def _ray_container(name: str, image: str, cpu: str, memory: str, gpus: int = 0) -> dict[str, Any]:
    limits: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if gpus:
        limits["nvidia.com/gpu"] = gpus
    return {"name": name, "image": image, "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}}


def ray_cluster_spec(image: str, gpu_worker: bool) -> dict[str, Any]:
    workers = [{"groupName": "cpu", "replicas": 1, "minReplicas": 1, "maxReplicas": 1, "rayStartParams": {},
                "template": {"spec": restricted({"containers": [_ray_container("ray-worker", image, "500m", "1Gi")]})}}]
    if gpu_worker:
        workers.append({"groupName": "gpu", "replicas": 1, "minReplicas": 1, "maxReplicas": 1, "rayStartParams": {},
                        "template": {"spec": restricted({"containers": [_ray_container("ray-worker", image, "1", "2Gi", 1)]})}})
    return {"headGroupSpec": {"rayStartParams": {"dashboard-host": "0.0.0.0"},
                              "template": {"spec": restricted({"containers": [_ray_container("ray-head", image, "500m", "2Gi")]})}},
            "workerGroupSpecs": workers}


def _wants_gpu(probe: Probe) -> bool:
    return not probe.settings.no_gpu and bool(gpu_nodes(probe))


def raycluster_ready(expected_workers: int) -> Any:
    def check(obj: dict[str, Any]) -> rd.Readiness:
        status = obj.get("status") or {}
        for cond in status.get("conditions") or []:
            if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
                return rd.Readiness(False, f"ReplicaFailure: {cond.get('message', '')}", failed=True)
        ready_workers = int(status.get("readyWorkerReplicas") or 0)
        if status.get("state") == "ready" and ready_workers >= expected_workers:
            return rd.READY
        return rd.Readiness(False, f"state {status.get('state') or 'unknown'}, "
                                   f"{ready_workers}/{expected_workers} workers ready")
    return check


def raycluster(probe: Probe) -> str:
    ns = steps.namespace(probe, probe.settings.namespace)
    gpu = _wants_gpu(probe)
    obj = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": RAYCLUSTER, "namespace": ns},
           "spec": ray_cluster_spec(probe.settings.image("ray"), gpu)}
    probe.create(obj)
    steps.wait_for(probe, ObjectRef.of(obj), raycluster_ready(2 if gpu else 1), pods=f"ray.io/cluster={RAYCLUSTER}",
                   next_step="kubectl -n kuberay logs deploy/kuberay-operator; " + steps.DOCTOR)
    return f"RayCluster {ns}/{RAYCLUSTER} is ready" + (" with a GPU worker" if gpu else "")


def rayjob_done(obj: dict[str, Any]) -> rd.Readiness:
    status = obj.get("status") or {}
    job, deployment = status.get("jobStatus") or "", status.get("jobDeploymentStatus") or ""
    if job == "SUCCEEDED" and deployment == "Complete":
        return rd.READY
    if job in ("FAILED", "STOPPED") or deployment == "Failed":
        why = status.get("message") or status.get("reason") or ""
        return rd.Readiness(False, f"jobStatus {job or '-'}, jobDeploymentStatus {deployment or '-'}"
                                   + (f": {why}" if why else ""), failed=True)
    return rd.Readiness(False, f"jobStatus {job or '-'}, jobDeploymentStatus {deployment or '-'}")


def rayjob_object(ns: str, image: str) -> dict[str, Any]:
    return {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": RAYJOB, "namespace": ns},
            "spec": {"entrypoint": RAY_ENTRYPOINT, "shutdownAfterJobFinishes": True, "ttlSecondsAfterFinished": 60,
                     "rayClusterSpec": ray_cluster_spec(image, False)}}


def rayjob(probe: Probe) -> str:
    ns = steps.namespace(probe, probe.settings.namespace)
    obj = rayjob_object(ns, probe.settings.image("ray"))
    probe.create(obj)
    steps.wait_for(probe, ObjectRef.of(obj), rayjob_done, pods=f"batch.kubernetes.io/job-name={RAYJOB}",
                   next_step=f"kubectl -n {ns} logs job/{RAYJOB}; kubectl -n kuberay logs deploy/kuberay-operator")
    return f"RayJob {ns}/{RAYJOB}: jobStatus SUCCEEDED, jobDeploymentStatus Complete"


def profile_user_raycluster(probe: Probe) -> str:
    ns, owner = probe.shared.peek("profile"), probe.shared.peek("profile-owner")
    if not ns or not owner:
        raise CheckSkipped("no test profile (Kubeflow profiles are not installed)")
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": owner, "groups": ["system:authenticated"],
                       "resourceAttributes": {"namespace": ns, "verb": "create", "group": "ray.io",
                                              "resource": "rayclusters"}}}
    try:
        result = probe.kube.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=review)
    except ClusterError as exc:
        raise CheckFailed(f"cannot ask the API server (SubjectAccessReview): {exc.message}") from None
    status = (result or {}).get("status") or {}
    if not status.get("allowed"):
        why = status.get("reason") or "no RBAC rule allows it"
        raise CheckFailed(f"profile owner {owner} may not create RayClusters in {ns}: {why}",
                          next_step="aggregate ray.io into kubeflow-edit: a ClusterRole labelled "
                                    "rbac.authorization.kubeflow.org/aggregate-to-kubeflow-edit=true granting "
                                    "rayclusters, rayjobs and rayservices")
    return f"profile owner {owner} may create RayClusters in {ns}"


# -- KServe --------------------------------------------------------------------------------------
# kfboot's `deploymentMode` → KServe v0.16's annotation values (its inferenceservice-config documents
# "Standard and Knative"; "Serverless" is what the shipped config itself still uses as the default)
ANNOTATION_MODE = {"Serverless": "Serverless", "RawDeployment": "Standard"}


def inference_service(name: str, namespace: str, model_uri: str, mode: str) -> dict[str, Any]:
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "namespace": namespace,
                         "annotations": {"serving.kserve.io/deploymentMode": ANNOTATION_MODE.get(mode, mode)}},
            "spec": {"predictor": {"minReplicas": 1, "sklearn": {
                "storageUri": model_uri,
                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                              "limits": {"cpu": "500m", "memory": "512Mi"}}}}}}


def route_objects(name: str, namespace: str, mode: str) -> list[dict[str, Any]]:
    """Path-based routing `/kserve/NS/NAME/` on the Kubeflow gateway, and the policy that lets the
    gateways (and JWT-authenticated callers) reach the predictor, as upstream's kserve_test.sh does."""
    predictor = f"{name}-predictor.{namespace}.svc.cluster.local"
    if mode == "Serverless":
        route = {"destination": {"host": "cluster-local-gateway.istio-system.svc.cluster.local"},
                 "headers": {"request": {"set": {"Host": predictor}}}}
        selector = {"serving.knative.dev/service": f"{name}-predictor"}
    else:
        route = {"destination": {"host": predictor, "port": {"number": 80}}}
        selector = {"serving.kserve.io/inferenceservice": name}
    return [
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": f"{name}-path", "namespace": namespace},
         "spec": {"gateways": ["kubeflow/kubeflow-gateway"], "hosts": ["*"],
                  "http": [{"match": [{"uri": {"prefix": f"/kserve/{namespace}/{name}/"}}], "rewrite": {"uri": "/"},
                            "route": [route], "timeout": "300s"}]}},
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
         "metadata": {"name": f"allow-{name}", "namespace": namespace},
         "spec": {"action": "ALLOW", "selector": {"matchLabels": selector},
                  "rules": [{"from": [{"source": {"requestPrincipals": ["*"]}}]},
                            {"from": [{"source": {"principals": [GATEWAY_PRINCIPAL]}}]}]}},
    ]


def predictions_match(body: Any) -> bool:
    return isinstance(body, dict) and body.get("predictions") == IRIS_CLASSES


def kserve(probe: Probe) -> str:
    profile = probe.shared.peek("profile")
    if profile:
        ns, account = str(profile), "default-editor"
    else:
        ns, account = steps.namespace(probe, "kfboot-verify-serving", {"istio-injection": "enabled"}), "default"
    mode = probe.settings.kserve_mode
    obj = inference_service(ISVC, ns, probe.settings.model_uri, mode)
    probe.create(obj)
    pods = f"serving.kserve.io/inferenceservice={ISVC}"
    steps.wait_for(probe, ObjectRef.of(obj), steps.condition("Ready", ()), pods=pods,
                   next_step=f"kubectl -n {ns} describe inferenceservice {ISVC}; kubectl -n kubeflow logs "
                             "deploy/kserve-controller-manager")
    for route in route_objects(ISVC, ns, mode):
        probe.create(route)
    token = steps.service_account_token(probe, ns, account)
    session = steps.gateway(probe)
    path = f"/kserve/{ns}/{ISVC}/v1/models/{ISVC}:predict"
    last, pause = "", 0.25
    while True:  # routes and policies take a few seconds to reach the gateways
        try:
            resp = session.post_json(path, IRIS, headers={"Authorization": f"Bearer {token}"})
        except HttpError as exc:
            raise CheckFailed(exc.message, next_step=steps.DOCTOR) from None
        if resp.status == 200:
            body = resp.json()
            if predictions_match(body):
                return f"InferenceService {ns}/{ISVC} ({mode}) predicted {IRIS_CLASSES} through the gateway"
            raise CheckFailed(f"{ISVC} answered {str(body)[:200]}, expected predictions {IRIS_CLASSES}",
                              next_step=f"is {probe.settings.model_uri} upstream's iris model? pass --model-uri")
        last = f"HTTP {resp.status} {resp.text.strip()[:160]!r}"
        if probe.remaining() <= 3:
            raise steps.failure(probe, f"prediction through the gateway failed: last {last}", ObjectRef.of(obj),
                                pods=pods, next_step=steps.M2M_HINT if resp.status in (401, 403) else "")
        probe.cancel.wait(pause)
        pause = min(pause * 2, 3.0)
        steps.checkpoint(probe)


CHECKS = [
    Check("kuberay/raycluster", "kuberay", "a RayCluster becomes ready", raycluster, timeout=600),
    Check("kuberay/rayjob", "kuberay", "a RayJob succeeds", rayjob, timeout=900),
    Check("kuberay/profile-user", "kuberay", "a profile user may create RayClusters", profile_user_raycluster,
          needs=("kubeflow/profile",), timeout=30),
    Check("kserve/sklearn", "kserve", "an sklearn InferenceService predicts the expected classes", kserve,
          needs=("kubeflow/profile",), timeout=600),
]
