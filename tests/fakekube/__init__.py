"""fakekube: an in-process, HTTP-speaking fake Kubernetes API server for testing kfboot.

Real clients talk to it over loopback HTTP/1.1: the kubernetes python client, kubectl 1.37
(``apply --server-side``, client-side apply, get/wait/rollout/delete/logs) and helm 3.19 / 4.1
(install/upgrade/status/uninstall, ``--wait``) with their default flags.

    with FakeKube(seed=0, ready_delay=0.2) as fk:
        kubeconfig = fk.write_kubeconfig(tmp_path / "kubeconfig")
        ...  # run the installer against it
        assert fk.get("apps/v1", "Deployment", "web", "ns")["status"]["availableReplicas"] == 1

Modules, one idea each:
  fake.py         FakeKube: lifecycle, knobs (ready_delay, hold_unready, job results, faults), store access
  server.py       HTTP front end: keep-alive, chunked watch streams, fault application, request log
  routing.py      URL -> (resource type, namespace, name, subresource)
  api.py          REST semantics: create/replace/patch/apply/delete, metadata, no-op writes, finalizers
  patch.py        merge / JSON / strategic merge patch and server-side apply with field ownership
  defaults.py     server-side defaulting; immutable.py: "field is immutable" validation
  discovery.py    /version, /api, /apis, resource lists and the minimal OpenAPI v3
  controllers.py  CRD establishment, workloads and pods, jobs, endpoints, namespaces, GC
  faults.py       seeded error/latency/drop/conflict injection
  store.py        objects, the global resourceVersion and the watch event log
  protobuf.py     decoding of the few protobuf request bodies client-go sends (helm's Secrets)
  selectors.py    label/field selectors; tables.py: ``as=Table`` responses for kubectl get

Known gaps: protobuf bodies only for Secret/ConfigMap/Namespace/ServiceAccount/DeleteOptions
(``kubectl create deployment|job`` sends protobuf and gets 415 — use ``kubectl apply``/``create -f``);
no admission webhooks, no validation beyond strict decoding of built-in kinds (needs the
kubernetes-validate dev dependency), immutable fields and a few required fields; no Events;
``limit``/``continue`` ignored (lists are complete); no CRD version conversion (objects are served
as stored, with the requested apiVersion).
"""

from .fake import FakeKube
from .faults import Fault, FaultHandle
from .server import RequestRecord

__all__ = ["FakeKube", "Fault", "FaultHandle", "RequestRecord"]
