"""fakekube: an in-process, HTTP-speaking fake Kubernetes API server for testing kfboot.

Real clients talk to it over loopback HTTP/1.1: the kubernetes python client, kubectl 1.37
(``apply --server-side``, client-side apply, get/wait/rollout/delete/logs) and helm 3.19 / 4.1
(install/upgrade/status/uninstall, ``--wait``) with their default flags.

    with FakeKube(seed=0, ready_delay=0.2) as fk:
        kubeconfig = fk.write_kubeconfig(tmp_path / "kubeconfig")
        ...  # run the installer against it
        assert fk.get("apps/v1", "Deployment", "web", "ns")["status"]["availableReplicas"] == 1

Modules, one idea each:
  fake.py         FakeKube: lifecycle, knobs (ready_delay, crd_establish_delay, cainjector_delay,
                  unpullable_images, hold_unready, job results, faults), store access
  server.py       HTTP front end: percent-decoded paths, keep-alive, chunked watch streams, faults, request log
  routing.py      URL -> (resource type, namespace, name, subresource)
  api.py          REST semantics: create/replace/patch/apply/delete, metadata, no-op writes, finalizers
  names.py        object names per kind (path segment for RBAC, DNS-1123 label/subdomain, DNS-1035)
  paging.py       list ``limit``/``continue`` with the etcd3 continue-token format
  schema.py       custom resources against their CRD's openAPIV3Schema: prune, default, validate, CEL
  admission.py    Validating/Mutating admission webhooks and kube-apiserver's errors when they cannot answer
  patch.py        merge / JSON / strategic merge patch and server-side apply with field ownership
  defaults.py     server-side defaulting; immutable.py: "field is immutable" validation
  discovery.py    /version, /api, /apis, resource lists and the minimal OpenAPI v3
  controllers.py  CRD establishment, workloads and pods, jobs, endpoints, namespaces, GC
  scheduling.py   nodeSelector/affinity/taints, FailedScheduling and ImagePullBackOff Events
  operators.py    cert-manager, cainjector, self-certifying webhook servers, GPU Operator, profiles controller
  faults.py       seeded error/latency/drop/conflict injection
  store.py        objects, the global resourceVersion and the watch event log
  protobuf.py     decoding of the few protobuf request bodies client-go sends (helm's Secrets)
  selectors.py    label/field selectors; tables.py: ``as=Table`` responses for kubectl get

Known gaps (where a test could tell this fake from kube-apiserver):
  protobuf bodies only for Secret/ConfigMap/Namespace/ServiceAccount/DeleteOptions (``kubectl create
  deployment|job`` gets 415); built-in kinds are checked only by strict decoding (kubernetes-validate),
  immutable fields and a few required fields, not by the full per-kind validation; no CRD version
  conversion (objects are served as stored, with the requested apiVersion); CRD schemas ignore
  anyOf/oneOf/allOf/not, and CEL rules cel-python cannot evaluate are skipped; unknown fields give no
  Warning headers under fieldValidation=Warn; webhooks never mutate, ignore matchConditions,
  DELETE/CONNECT and ``url`` configurations, and run only for client requests; pods without any Node in
  the cluster run on an invented "fake-node" (DaemonSets get none); scheduling ignores resources,
  ports and pod (anti-)affinity; list continue tokens never expire (no 410); Events are created once,
  never counted up.
"""

from .fake import FakeKube
from .faults import Fault, FaultHandle
from .server import RequestRecord

__all__ = ["FakeKube", "Fault", "FaultHandle", "RequestRecord"]
