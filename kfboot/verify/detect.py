"""What the cluster has, for `kfboot verify` without `-f`: KServe's mode and the Kubeflow apps.

kfboot's state records which phases are installed but not the choices inside them, so without the
platform file the checks ask the cluster: Knative Serving present means KServe runs Serverless
(kfboot installs Knative only for that mode), and each Kubeflow app is known by its API or Service.
"""

from __future__ import annotations

from kfboot.errors import ClusterError
from kfboot.k8s.client import Kube, NotFound

KNATIVE_SERVICE = ("serving.knative.dev/v1", "Service")
APP_KINDS = {  # app → (apiVersion, kind) it serves
    "profiles": ("kubeflow.org/v1", "Profile"),
    "notebooks": ("kubeflow.org/v1", "Notebook"),
    "katib": ("kubeflow.org/v1beta1", "Experiment"),
    "trainer": ("trainer.kubeflow.org/v1alpha1", "TrainJob"),
}
APP_SERVICES = {"pipelines": "ml-pipeline", "central-dashboard": "centraldashboard"}  # in namespace kubeflow


def _serves(kube: Kube, api_version: str, kind: str) -> bool:
    """True when discovery serves the kind. Only "not served" means no: any other error (after the
    client's retries) is raised, so a flaky API server never makes verify guess the wrong mode."""
    try:
        kube.resource(api_version, kind)
    except NotFound:
        return False
    return True


def kserve_mode(kube: Kube) -> str:
    return "Serverless" if _serves(kube, *KNATIVE_SERVICE) else "RawDeployment"


def kubeflow_apps(kube: Kube) -> tuple[str, ...]:
    apps = [app for app, (api_version, kind) in APP_KINDS.items() if _serves(kube, api_version, kind)]
    for app, service in APP_SERVICES.items():
        try:
            if kube.get("v1", "Service", service, "kubeflow") is not None:
                apps.append(app)
        except ClusterError:
            continue
    return tuple(sorted(apps))
