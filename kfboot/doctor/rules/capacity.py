"""Capacity: nodes against the enabled stack's footprint, a default StorageClass, Pending PVCs, inotify."""

from __future__ import annotations

from kfboot.doctor.facts import Facts
from kfboot.doctor.findings import Finding, fail, ok, skip, warn
from kfboot.doctor.podview import name
from kfboot.doctor.rules._common import annotations, node_ready, plural, quantity, shorten

GROUP = "capacity"
GiB = 2**30
# (CPU cores, memory GiB) the component's workloads request. Upstream's CI quotes ~4.4 CPU and ~12 GiB
# for the whole kubeflow/manifests example (cert-manager, Istio, Dex, Kubeflow, KServe/Knative); the
# split between them, and the GPU Operator and KubeRay figures, are kfboot's estimates.
FOOTPRINT = {"cert-manager": (0.1, 0.25), "istio": (0.6, 1.5), "dex": (0.1, 0.25), "kubeflow": (3.3, 9.25),
             "kserve": (0.3, 0.75), "gpu-operator": (0.3, 0.5), "kuberay": (0.1, 0.25)}
HEADROOM = 1.25  # below this multiple of the footprint, workloads get little room
MIN_EPHEMERAL_GIB = 20  # Kubeflow's images alone take several GiB per node
PVC_GIB = {"kubeflow": 65}  # upstream: ~65 GB of PVCs (pipelines' database and object store, katib, …)
# kubeflow/manifests' documented minimums for their kind nodes
INOTIFY_MIN = {"max_user_instances": 2280, "max_user_watches": 1255360}


def footprint(facts: Facts) -> list[Finding]:
    out = []
    usable = [n for n in facts.nodes if node_ready(n) and not (n.get("spec") or {}).get("unschedulable")]
    for node in facts.nodes:
        if not node_ready(node):
            out.append(fail("capacity.nodes", f"node {name(node)}", "the node is not Ready, so nothing new is "
                            "scheduled on it", f"`kubectl describe node {name(node)}` (kubelet, network, disk "
                            "pressure)", GROUP))
        eph = quantity(((node.get("status") or {}).get("allocatable") or {}).get("ephemeral-storage"))
        if eph and eph < MIN_EPHEMERAL_GIB * GiB:
            out.append(warn("capacity.disk", f"node {name(node)}", f"only {eph / GiB:.1f} GiB of ephemeral storage "
                            f"is allocatable (under {MIN_EPHEMERAL_GIB} GiB), so image pulls may evict pods",
                            "give the node a larger disk (kind: free space on the host's Docker disk)", GROUP))
    enabled = [c for c in facts.enabled if c in FOOTPRINT]
    need_cpu = sum(FOOTPRINT[c][0] for c in enabled)
    need_mem = sum(FOOTPRINT[c][1] for c in enabled)
    have_cpu = sum(quantity(((n.get("status") or {}).get("allocatable") or {}).get("cpu")) for n in usable)
    have_mem = sum(quantity(((n.get("status") or {}).get("allocatable") or {}).get("memory")) for n in usable) / GiB
    subject = f"{plural(len(usable), 'schedulable node')}"
    stack = ", ".join(enabled) or "nothing"
    figures = f"{have_cpu:.1f} CPU / {have_mem:.1f} GiB allocatable for a stack ({stack}) requesting " \
              f"~{need_cpu:.1f} CPU / {need_mem:.1f} GiB"
    if not enabled:
        out.append(skip("capacity.footprint", subject, "no component is enabled in the platform config", GROUP))
    elif have_cpu < need_cpu or have_mem < need_mem:
        out.append(fail("capacity.footprint", subject, f"{figures}: the stack does not fit",
                        "add nodes or larger nodes, or disable components in kfboot.yaml", GROUP))
    elif have_cpu < need_cpu * HEADROOM or have_mem < need_mem * HEADROOM:
        out.append(warn("capacity.footprint", subject, f"{figures}: it fits with little room for workloads",
                        "add capacity before running training jobs or notebooks", GROUP))
    else:
        out.append(ok("capacity.footprint", subject, figures, GROUP))
    return out


def default_storage_class(facts: Facts) -> list[Finding]:
    if not facts.readable("storage_classes"):
        return [skip("capacity.storage-class", "StorageClasses", facts.unreadable.get("storage_classes", ""), GROUP)]
    defaults = [sc["metadata"]["name"] for sc in facts.storage_classes
                if annotations(sc).get("storageclass.kubernetes.io/is-default-class") == "true"]
    need = sum(PVC_GIB.get(c, 0) for c in facts.enabled)
    why = f"enabled components claim ~{need} GiB of PVCs without naming a class" if need else \
        "PVCs that name no class stay Pending"
    fix = ("mark one as default: `kubectl patch storageclass NAME -p "
           "'{\"metadata\":{\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}}'`")
    if not defaults:
        names = ", ".join(sc["metadata"]["name"] for sc in facts.storage_classes) or "none exist"
        make = fail if need else warn
        return [make("capacity.storage-class", "StorageClasses", f"no default StorageClass ({names}): {why}",
                     fix if facts.storage_classes else "install a provisioner (kind ships local-path; clouds "
                     "their CSI driver) and mark its class default", GROUP)]
    if len(defaults) > 1:
        return [warn("capacity.storage-class", "StorageClasses", f"{len(defaults)} default StorageClasses "
                     f"({', '.join(defaults)}): which one a PVC gets is not defined",
                     "remove the default annotation from all but one", GROUP)]
    return [ok("capacity.storage-class", f"StorageClass {defaults[0]}", "is the default StorageClass", GROUP)]


def pending_pvcs(facts: Facts) -> list[Finding]:
    out = []
    for pvc in facts.pvcs:
        if (pvc.get("status") or {}).get("phase", "Pending") != "Pending":
            continue
        md = pvc["metadata"]
        reasons = [e for e in facts.events if (e.get("involvedObject") or {}).get("kind") == "PersistentVolumeClaim"
                   and (e.get("involvedObject") or {}).get("name") == md["name"]
                   and (e.get("involvedObject") or {}).get("namespace") == md.get("namespace")]
        latest = reasons[-1] if reasons else {}
        why = f"{latest.get('reason')}: {shorten(latest.get('message', ''))}" if latest else "no event explains it"
        klass = (pvc.get("spec") or {}).get("storageClassName") or "the default class"
        out.append(fail("capacity.pvc", f"pvc {name(pvc)}", f"the PVC is Pending ({why}); pods mounting it "
                        "cannot start", f"check that {klass} exists and provisions: `kubectl describe pvc -n "
                        f"{md.get('namespace')} {md['name']}`", GROUP))
    if not out and facts.readable("pvcs"):
        out.append(ok("capacity.pvc", "PVCs", f"{plural(len(facts.pvcs), 'PVC')}, none Pending", GROUP))
    return out


def inotify(facts: Facts) -> list[Finding]:
    if facts.inotify_skipped or not facts.inotify:
        return [skip("capacity.inotify", "inotify limits", facts.inotify_skipped or "no kind node answered", GROUP)]
    out = []
    for node, limits in sorted(facts.inotify.items()):
        low = [f"{key}={getattr(limits, key)} (want ≥ {want})" for key, want in INOTIFY_MIN.items()
               if getattr(limits, key) < want]
        if low:
            out.append(fail("capacity.inotify", f"node {node}", f"inotify limits are low: {', '.join(low)}; "
                            "Kubeflow's controllers crash-loop with \"too many open files\"",
                            "on the host (kind nodes share its kernel): `sudo sysctl fs.inotify.max_user_instances="
                            "2280 fs.inotify.max_user_watches=1255360` (persist in /etc/sysctl.d)", GROUP))
        else:
            out.append(ok("capacity.inotify", f"node {node}", f"inotify limits {limits.max_user_instances} "
                          f"instances / {limits.max_user_watches} watches", GROUP))
    return out
