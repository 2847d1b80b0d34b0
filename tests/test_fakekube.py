"""FakeKube semantics, checked through the official kubernetes python client over real HTTP."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from tests.bed import wait_for
from tests.fakekube import FakeKube, Fault

NS = "demo"


@pytest.fixture
def fk() -> Iterator[FakeKube]:
    with FakeKube(seed=0, ready_delay=0.0) as fake:
        yield fake


@pytest.fixture
def api(fk: FakeKube, tmp_path: Path) -> ApiClient:
    kc = fk.write_kubeconfig(tmp_path / "kubeconfig")
    c = config.new_client_from_config(config_file=str(kc))
    client.CoreV1Api(c).create_namespace({"metadata": {"name": NS}})
    # like a real cluster, a new namespace soon holds kube-root-ca.crt and the default ServiceAccount
    wait_for(lambda: fk.get("v1", "ConfigMap", "kube-root-ca.crt", NS) and fk.get("v1", "ServiceAccount", "default", NS))
    return c


def core(api: ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def apps(api: ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


def raw(
    api: ApiClient, method: str, path: str, body: Any = None, content_type: str = "application/json",
    query: list[tuple[str, str]] | None = None, accept: str = "application/json",
) -> tuple[Any, int]:
    """The way kfboot talks to the API: param_serialize + ApiClient.call_api with a raw path."""
    _, url, headers, body_out, _ = api.param_serialize(
        method, path, query_params=query or [], header_params={"Content-Type": content_type, "Accept": accept},
        body=body, auth_settings=["BearerToken"],
    )
    resp = api.call_api(method, url, header_params=headers, body=body_out)
    resp.read()
    if not 200 <= resp.status < 300:
        raise ApiException(http_resp=resp)
    return json.loads(resp.data) if resp.data else None, resp.status


def status_of(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)



def cm(name: str, labels: dict[str, str] | None = None, data: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": data or {"k": "v"}}


def deployment(name: str, replicas: int = 1, image: str = "nginx") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "main", "image": image,
                                                       "ports": [{"name": "http", "containerPort": 8080}]}]}}},
    }


def crd(group: str = "example.com", scope: str = "Namespaced", versions: tuple[str, ...] = ("v1",)) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group, "scope": scope,
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {"name": v, "served": True, "storage": i == 0, "subresources": {"status": {}},
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
                for i, v in enumerate(versions)
            ],
        },
    }


# ---------------------------------------------------------------------------------------- CRUD


def test_crud_status_codes(api: ApiClient, fk: FakeKube) -> None:
    obj, code = raw(api, "POST", f"/api/v1/namespaces/{NS}/configmaps", cm("a"))
    assert code == 201
    md = obj["metadata"]
    assert md["uid"] and md["resourceVersion"].isdigit() and md["creationTimestamp"]
    assert "generation" not in md  # like the real server: ConfigMaps have no generation
    assert md["namespace"] == NS

    with pytest.raises(ApiException) as e:
        core(api).create_namespaced_config_map(NS, cm("a"))
    assert e.value.status == 409 and status_of(e.value)["reason"] == "AlreadyExists"

    with pytest.raises(ApiException) as e:
        core(api).read_namespaced_config_map("nope", NS)
    st = status_of(e.value)
    assert e.value.status == 404
    assert st["kind"] == "Status" and st["status"] == "Failure" and st["reason"] == "NotFound"
    assert st["details"] == {"name": "nope", "kind": "configmaps", "group": ""}
    assert st["code"] == 404

    with pytest.raises(ApiException) as e:
        core(api).create_namespaced_config_map("missing-ns", cm("x"))
    assert e.value.status == 404 and 'namespaces "missing-ns" not found' in status_of(e.value)["message"]

    with pytest.raises(ApiException) as e:
        raw(api, "POST", f"/api/v1/namespaces/{NS}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                  "metadata": {}})
    assert e.value.status == 422 and status_of(e.value)["reason"] == "Invalid"

    with pytest.raises(ApiException) as e:
        raw(api, "POST", f"/api/v1/namespaces/{NS}/configmaps", {**cm("y"), "kind": "Secret"})
    assert e.value.status == 422

    with pytest.raises(ApiException) as e:
        raw(api, "PUT", f"/api/v1/namespaces/{NS}/configmaps/ghost", cm("ghost"))
    assert e.value.status == 404

    # unknown resource
    with pytest.raises(ApiException) as e:
        raw(api, "GET", "/apis/example.com/v1/namespaces/demo/widgets")
    assert e.value.status == 404 and status_of(e.value)["kind"] == "Status"

    # cluster scoped
    obj, code = raw(api, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                     "metadata": {"name": "reader"}, "rules": []})
    assert code == 201 and "namespace" not in obj["metadata"]

    obj, code = raw(api, "DELETE", f"/api/v1/namespaces/{NS}/configmaps/a")
    assert code == 200
    assert fk.get("v1", "ConfigMap", "a", NS) is None
    with pytest.raises(ApiException) as e:
        raw(api, "DELETE", f"/api/v1/namespaces/{NS}/configmaps/a")
    assert e.value.status == 404


def test_put_conflict_on_stale_resource_version_and_lease_lock(api: ApiClient) -> None:
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "kfboot-lock"},
             "spec": {"holderIdentity": "a"}}
    created, _ = raw(api, "POST", f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases", lease)
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/kfboot-lock"
    first = {**created, "spec": {"holderIdentity": "b"}}
    second = {**created, "spec": {"holderIdentity": "c"}}
    updated, code = raw(api, "PUT", path, first)
    assert code == 200 and int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    with pytest.raises(ApiException) as e:
        raw(api, "PUT", path, second)  # same (now stale) resourceVersion
    assert e.value.status == 409 and status_of(e.value)["reason"] == "Conflict"
    current, _ = raw(api, "GET", path)
    assert current["spec"]["holderIdentity"] == "b"
    # PUT without resourceVersion is an unconditional update (helm's release secrets rely on it)
    second["metadata"].pop("resourceVersion")
    assert raw(api, "PUT", path, second)[1] == 200


def test_no_op_writes_do_not_bump_resource_version(api: ApiClient) -> None:
    created = core(api).create_namespaced_config_map(NS, cm("same", data={"a": "1"}))
    rv = created.metadata.resource_version
    body = core(api).read_namespaced_config_map("same", NS)
    again = core(api).replace_namespaced_config_map("same", NS, body)
    assert again.metadata.resource_version == rv
    patched, _ = raw(api, "PATCH", f"/api/v1/namespaces/{NS}/configmaps/same", {"data": {"a": "1"}},
                     "application/merge-patch+json")
    assert patched["metadata"]["resourceVersion"] == rv
    patched, _ = raw(api, "PATCH", f"/api/v1/namespaces/{NS}/configmaps/same", {"data": {"a": "2"}},
                     "application/merge-patch+json")
    assert int(patched["metadata"]["resourceVersion"]) > int(rv)


def test_generation_semantics_and_status_subresource(api: ApiClient) -> None:
    d = apps(api).create_namespaced_deployment(NS, deployment("gen"))
    assert d.metadata.generation == 1
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/gen"
    obj, _ = raw(api, "PATCH", path, {"metadata": {"labels": {"x": "y"}}}, "application/merge-patch+json")
    assert obj["metadata"]["generation"] == 1
    obj, _ = raw(api, "PATCH", path, {"spec": {"replicas": 3}}, "application/merge-patch+json")
    assert obj["metadata"]["generation"] == 2
    # status in a main-resource write is ignored ...
    obj, _ = raw(api, "PATCH", path, {"status": {"replicas": 99}}, "application/merge-patch+json")
    assert obj["status"].get("replicas") != 99
    # ... and /status writes only status, without a generation bump
    obj, _ = raw(api, "PATCH", path + "/status", {"status": {"observedGeneration": 77}, "spec": {"replicas": 9}},
                 "application/merge-patch+json")
    assert obj["status"]["observedGeneration"] == 77
    assert obj["spec"]["replicas"] == 3 and obj["metadata"]["generation"] == 2


def test_patch_flavours(api: ApiClient) -> None:
    apps(api).create_namespaced_deployment(NS, deployment("p"))
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/p"
    # strategic merge: containers merge by name, env by name
    smp = {"spec": {"template": {"spec": {"containers": [
        {"name": "side", "image": "busybox"},
        {"name": "main", "env": [{"name": "A", "value": "1"}]},
    ]}}}}
    obj, _ = raw(api, "PATCH", path, smp, "application/strategic-merge-patch+json")
    containers = {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}
    assert containers["main"]["image"] == "nginx" and containers["main"]["env"] == [{"name": "A", "value": "1"}]
    assert containers["side"]["image"] == "busybox"
    # $patch: delete on a keyed list item
    obj, _ = raw(api, "PATCH", path, {"spec": {"template": {"spec": {"containers": [
        {"name": "side", "$patch": "delete"}]}}}}, "application/strategic-merge-patch+json")
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["main"]
    # merge patch replaces lists wholesale
    obj, _ = raw(api, "PATCH", path, {"metadata": {"annotations": {"a": "b"}}}, "application/merge-patch+json")
    assert obj["metadata"]["annotations"] == {"a": "b"}
    # json patch, including a failing test op (422, nothing applied)
    obj, _ = raw(api, "PATCH", path, [{"op": "replace", "path": "/spec/replicas", "value": 4}],
                 "application/json-patch+json")
    assert obj["spec"]["replicas"] == 4
    with pytest.raises(ApiException) as e:
        raw(api, "PATCH", path, [{"op": "test", "path": "/spec/replicas", "value": 1},
                                 {"op": "replace", "path": "/spec/replicas", "value": 7}],
            "application/json-patch+json")
    assert e.value.status == 422
    assert apps(api).read_namespaced_deployment("p", NS).spec.replicas == 4


# ---------------------------------------------------------------------------------------- SSA


def apply(api: ApiClient, path: str, body: dict[str, Any], manager: str | None = "kfboot",
          force: bool = False, dry_run: bool = False) -> tuple[dict[str, Any], int]:
    query = [("fieldManager", manager)] if manager else []
    if force:
        query.append(("force", "true"))
    if dry_run:
        query.append(("dryRun", "All"))
    return raw(api, "PATCH", path, body, "application/apply-patch+yaml", query)


def test_server_side_apply(api: ApiClient, fk: FakeKube) -> None:
    path = f"/api/v1/namespaces/{NS}/configmaps/ssa"
    body = cm("ssa", labels={"team": "a"}, data={"one": "1", "two": "2"})
    with pytest.raises(ApiException) as e:
        apply(api, path, body, manager=None)
    assert e.value.status == 400

    obj, code = apply(api, path, body, dry_run=True)
    assert code == 201 and fk.get("v1", "ConfigMap", "ssa", NS) is None

    obj, code = apply(api, path, body)
    assert code == 201
    rv, managed = obj["metadata"]["resourceVersion"], obj["metadata"]["managedFields"]
    assert managed[0]["manager"] == "kfboot" and managed[0]["operation"] == "Apply"

    obj, code = apply(api, path, body)  # identical re-apply: a no-op
    assert code == 200 and obj["metadata"]["resourceVersion"] == rv

    # dropping a field this manager owned removes it
    obj, _ = apply(api, path, cm("ssa", labels={"team": "a"}, data={"one": "1"}))
    assert obj["data"] == {"one": "1"} and int(obj["metadata"]["resourceVersion"]) > int(rv)

    # another manager changing an owned field conflicts unless forced
    with pytest.raises(ApiException) as e:
        apply(api, path, cm("ssa", data={"one": "changed"}), manager="other")
    assert e.value.status == 409 and "conflict" in status_of(e.value)["message"].lower()
    obj, _ = apply(api, path, cm("ssa", data={"one": "changed"}), manager="other", force=True)
    assert obj["data"]["one"] == "changed"

    # fields set by an Update (kubectl edit, controllers) stay when the applier does not own them
    raw(api, "PATCH", path, {"data": {"extra": "x"}}, "application/merge-patch+json")
    obj, _ = apply(api, path, cm("ssa", labels={"team": "a"}, data={}), force=True)
    assert obj["data"].get("extra") == "x"

    # SSA on a Deployment: containers merge by name; status is ignored
    dpath = f"/apis/apps/v1/namespaces/{NS}/deployments/web"
    dep = deployment("web")
    obj, code = apply(api, dpath, {**dep, "status": {"replicas": 5}})
    assert code == 201 and obj["metadata"]["generation"] == 1 and obj.get("status", {}).get("replicas") != 5
    obj, _ = apply(api, dpath, deployment("web", image="nginx:2"))
    assert obj["metadata"]["generation"] == 2
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"


def test_dry_run_on_every_write(api: ApiClient, fk: FakeKube) -> None:
    q = [("dryRun", "All")]
    _, code = raw(api, "POST", f"/api/v1/namespaces/{NS}/configmaps", cm("dry"), query=q)
    assert code == 201 and fk.get("v1", "ConfigMap", "dry", NS) is None
    core(api).create_namespaced_config_map(NS, cm("dry", data={"a": "1"}))
    before = fk.get("v1", "ConfigMap", "dry", NS)
    raw(api, "PUT", f"/api/v1/namespaces/{NS}/configmaps/dry", cm("dry", data={"a": "2"}), query=q)
    raw(api, "PATCH", f"/api/v1/namespaces/{NS}/configmaps/dry", {"data": {"a": "3"}},
        "application/merge-patch+json", query=q)
    raw(api, "DELETE", f"/api/v1/namespaces/{NS}/configmaps/dry", query=q)
    assert fk.get("v1", "ConfigMap", "dry", NS) == before


# ---------------------------------------------------------------------------------------- selectors


def test_label_and_field_selectors(api: ApiClient) -> None:
    core(api).create_namespace({"metadata": {"name": "other"}})
    c = core(api)
    c.create_namespaced_config_map(NS, cm("a", {"app": "x", "tier": "web"}))
    c.create_namespaced_config_map(NS, cm("b", {"app": "y", "tier": "db"}))
    c.create_namespaced_config_map(NS, cm("c", {"app": "z"}))
    c.create_namespaced_config_map("other", cm("d", {"app": "x"}))

    def names(sel: str = "", field: str = "", ns: str | None = NS) -> list[str]:
        if ns is None:
            items = c.list_config_map_for_all_namespaces(label_selector=sel, field_selector=field).items
        else:
            items = c.list_namespaced_config_map(ns, label_selector=sel, field_selector=field).items
        return sorted(i.metadata.name for i in items if i.metadata.name != "kube-root-ca.crt")

    assert names("app=x") == ["a"]
    assert names("app==x,tier=web") == ["a"]
    assert names("app!=x") == ["b", "c"]
    assert names("app in (x,y)") == ["a", "b"]
    assert names("app notin (x, y)") == ["c"]
    assert names("tier") == ["a", "b"]
    assert names("!tier") == ["c"]
    assert names(field="metadata.name=b") == ["b"]
    assert names("app=x", ns=None) == ["a", "d"]
    assert names(field="metadata.namespace=other", ns=None) == ["d"]
    with pytest.raises(ApiException) as e:
        names("app in (x")
    assert e.value.status == 400


# ---------------------------------------------------------------------------------------- CRDs


def test_crd_kinds_served_only_once_established(api: ApiClient, fk: FakeKube) -> None:
    fk.ready_delay = 0.3
    raw(api, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd(versions=("v1", "v1beta1")))
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    with pytest.raises(ApiException) as e:
        raw(api, "GET", "/apis/example.com/v1")
    assert e.value.status == 404
    with pytest.raises(ApiException) as e:
        raw(api, "POST", f"/apis/example.com/v1/namespaces/{NS}/widgets", widget)
    assert e.value.status == 404
    groups, _ = raw(api, "GET", "/apis")
    assert "example.com" not in [g["name"] for g in groups["groups"]]

    def established() -> bool:
        obj = fk.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com")
        conds = {c["type"]: c["status"] for c in (obj or {}).get("status", {}).get("conditions", [])}
        return conds.get("Established") == "True" and conds.get("NamesAccepted") == "True"

    wait_for(established)
    groups, _ = raw(api, "GET", "/apis")
    group = next(g for g in groups["groups"] if g["name"] == "example.com")
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    assert group["preferredVersion"]["version"] == "v1"
    res, _ = raw(api, "GET", "/apis/example.com/v1beta1")
    names = {r["name"]: r for r in res["resources"]}
    assert names["widgets"]["kind"] == "Widget" and names["widgets"]["namespaced"] is True
    assert "widgets/status" in names
    _, code = raw(api, "POST", f"/apis/example.com/v1/namespaces/{NS}/widgets", widget)
    assert code == 201
    got = client.CustomObjectsApi(api).get_namespaced_custom_object("example.com", "v1beta1", NS, "widgets", "w")
    assert got["apiVersion"] == "example.com/v1beta1" and got["spec"] == {"size": 1}


def test_cluster_scoped_crd(api: ApiClient, fk: FakeKube) -> None:
    raw(api, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd("cluster.io", "Cluster"))
    wait_for(lambda: fk.registry.by_plural("cluster.io", "v1", "widgets"))
    co = client.CustomObjectsApi(api)
    co.create_cluster_custom_object("cluster.io", "v1", "widgets",
                                    {"apiVersion": "cluster.io/v1", "kind": "Widget", "metadata": {"name": "g"}})
    assert co.get_cluster_custom_object("cluster.io", "v1", "widgets", "g")["metadata"]["name"] == "g"
    with pytest.raises(ApiException) as e:
        raw(api, "GET", f"/apis/cluster.io/v1/namespaces/{NS}/widgets")
    assert e.value.status == 404


def test_discovery_documents(api: ApiClient) -> None:
    version, _ = raw(api, "GET", "/version")
    assert version["gitVersion"] == "v1.34.0" and version["minor"] == "34"
    core_res, _ = raw(api, "GET", "/api/v1")
    by_name = {r["name"]: r for r in core_res["resources"]}
    assert by_name["pods/log"]["verbs"] == ["get"]
    assert by_name["namespaces"]["namespaced"] is False and by_name["configmaps"]["shortNames"] == ["cm"]
    appsv1, _ = raw(api, "GET", "/apis/apps/v1")
    assert {"deployments", "deployments/status", "statefulsets", "daemonsets", "replicasets"} <= {
        r["name"] for r in appsv1["resources"]}
    groups, _ = raw(api, "GET", "/apis")
    names = {g["name"] for g in groups["groups"]}
    assert {"apps", "batch", "rbac.authorization.k8s.io", "apiextensions.k8s.io", "coordination.k8s.io",
            "discovery.k8s.io", "networking.k8s.io", "policy", "scheduling.k8s.io", "storage.k8s.io",
            "node.k8s.io", "apiregistration.k8s.io", "admissionregistration.k8s.io"} <= names
    # a client asking for aggregated discovery gets plain JSON it can fall back from
    data, _ = raw(api, "GET", "/apis", accept="application/json;g=apidiscovery.k8s.io;v=v2;"
                  "as=APIGroupDiscoveryList,application/json")
    assert data["kind"] == "APIGroupList"


# ---------------------------------------------------------------------------------------- deletion


def test_finalizers_and_namespace_termination(api: ApiClient, fk: FakeKube) -> None:
    c = core(api)
    c.create_namespace({"metadata": {"name": "doomed"}})
    c.create_namespaced_config_map("doomed", {**cm("held"), "metadata": {"name": "held",
                                                                         "finalizers": ["example.com/hold"]}})
    c.create_namespaced_config_map("doomed", cm("free"))
    c.delete_namespace("doomed")
    ns = c.read_namespace("doomed")
    assert ns.status.phase == "Terminating" and ns.metadata.deletion_timestamp
    with pytest.raises(ApiException) as e:
        c.create_namespaced_config_map("doomed", cm("late"))
    assert e.value.status == 403 and status_of(e.value)["reason"] == "Forbidden"

    def stuck() -> bool:
        conds = {x.type: x for x in c.read_namespace("doomed").status.conditions or []}
        return "NamespaceFinalizersRemaining" in conds and conds["NamespaceFinalizersRemaining"].status == "True"

    wait_for(stuck)
    conds = {x.type: x for x in c.read_namespace("doomed").status.conditions}
    assert "example.com/hold" in conds["NamespaceFinalizersRemaining"].message
    held = c.read_namespaced_config_map("held", "doomed")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException):
        c.read_namespaced_config_map("free", "doomed")
    c.patch_namespaced_config_map("held", "doomed", {"metadata": {"finalizers": None}})
    wait_for(lambda: fk.get("v1", "Namespace", "doomed") is None)
    assert fk.get("v1", "ConfigMap", "held", "doomed") is None


def test_owner_references_are_garbage_collected(api: ApiClient, fk: FakeKube) -> None:
    owner = core(api).create_namespaced_config_map(NS, cm("owner"))
    child = cm("child")
    child["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                                             "uid": owner.metadata.uid}]
    core(api).create_namespaced_config_map(NS, child)
    core(api).delete_namespaced_config_map("owner", NS)
    wait_for(lambda: fk.get("v1", "ConfigMap", "child", NS) is None)


# ---------------------------------------------------------------------------------------- controllers


def test_deployment_becomes_available_after_ready_delay(api: ApiClient, fk: FakeKube) -> None:
    fk.ready_delay = 0.4
    start = time.monotonic()
    apps(api).create_namespaced_deployment(NS, deployment("web", replicas=2))
    time.sleep(0.15)
    d = apps(api).read_namespaced_deployment("web", NS)
    assert not d.status.available_replicas

    def available() -> Any:
        d = apps(api).read_namespaced_deployment("web", NS)
        conds = {c.type: c.status for c in d.status.conditions or []}
        return d if conds.get("Available") == "True" else None

    d = wait_for(available)
    assert time.monotonic() - start >= 0.4
    assert d.status.observed_generation == d.metadata.generation
    assert d.status.replicas == d.status.ready_replicas == d.status.updated_replicas == 2
    rs = apps(api).list_namespaced_replica_set(NS).items
    assert len(rs) == 1 and rs[0].metadata.owner_references[0].name == "web"
    assert len(core(api).list_namespaced_pod(NS, label_selector="app=web").items) == 2


def test_hold_unready_and_release(api: ApiClient, fk: FakeKube) -> None:
    fk.hold_unready("Deployment", NS, "stuck")
    apps(api).create_namespaced_deployment(NS, deployment("stuck"))
    apps(api).create_namespaced_stateful_set(NS, {**deployment("sts"), "kind": "StatefulSet"})
    time.sleep(0.3)
    d = apps(api).read_namespaced_deployment("stuck", NS)
    assert not d.status.ready_replicas
    sts = apps(api).read_namespaced_stateful_set("sts", NS)
    assert sts.status.ready_replicas == 1 and sts.status.current_revision == sts.status.update_revision
    fk.release("Deployment", NS, "stuck")
    wait_for(lambda: apps(api).read_namespaced_deployment("stuck", NS).status.ready_replicas == 1)


def test_daemonset_counts_nodes(api: ApiClient, fk: FakeKube) -> None:
    ds = {**deployment("agent"), "kind": "DaemonSet"}
    ds["spec"].pop("replicas")
    apps(api).create_namespaced_daemon_set(NS, ds)
    d = wait_for(lambda: (x := apps(api).read_namespaced_daemon_set("agent", NS)).status
                 and x.status.observed_generation and x)
    assert d.status.desired_number_scheduled == 0 == d.status.number_ready  # no Node, no daemon pod
    for n in ("n1", "n2"):
        fk.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}})
    apps(api).create_namespaced_daemon_set(NS, {**ds, "metadata": {"name": "agent2"}})
    d = wait_for(lambda: (x := apps(api).read_namespaced_daemon_set("agent2", NS)).status
                 and x.status.number_ready == 2 and x)
    assert d.status.desired_number_scheduled == 2 and d.status.updated_number_scheduled == 2


def job(name: str) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "run", "image": "busybox"}]}}}}


def test_job_completes_with_canned_logs(api: ApiClient, fk: FakeKube) -> None:
    fk.set_job_result(NS, "probe", logs="GPU OK\n", succeeded=True)
    fk.set_job_result(NS, "bad", logs="boom\n", succeeded=False)
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(NS, job("probe"))
    batch.create_namespaced_job(NS, job("bad"))

    def cond(name: str, ctype: str) -> bool:
        st = batch.read_namespaced_job(name, NS).status
        return any(c.type == ctype and c.status == "True" for c in st.conditions or [])

    wait_for(lambda: cond("probe", "Complete"))
    assert batch.read_namespaced_job("probe", NS).status.succeeded == 1
    pods = core(api).list_namespaced_pod(NS, label_selector="job-name=probe").items
    assert len(pods) == 1 and pods[0].status.phase == "Succeeded"
    assert pods[0].metadata.labels["batch.kubernetes.io/job-name"] == "probe"
    assert core(api).read_namespaced_pod_log(pods[0].metadata.name, NS) == "GPU OK\n"
    wait_for(lambda: cond("bad", "Failed"))
    bad = core(api).list_namespaced_pod(NS, label_selector="job-name=bad").items[0]
    assert bad.status.phase == "Failed" and core(api).read_namespaced_pod_log(bad.metadata.name, NS) == "boom\n"


def test_service_gets_endpointslices(api: ApiClient, fk: FakeKube) -> None:
    apps(api).create_namespaced_deployment(NS, deployment("api", replicas=2))
    svc = core(api).create_namespaced_service(NS, {
        "metadata": {"name": "api"},
        "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    assert svc.spec.cluster_ip
    disc = client.DiscoveryV1Api(api)

    def ready_slice() -> Any:
        slices = disc.list_namespaced_endpoint_slice(NS, label_selector="kubernetes.io/service-name=api").items
        if slices and len(slices[0].endpoints or []) == 2:
            return slices[0]
        return None

    s = wait_for(ready_slice)
    assert all(e.conditions.ready and e.target_ref.kind == "Pod" for e in s.endpoints)
    assert s.ports[0].port == 8080
    ep = core(api).read_namespaced_endpoints("api", NS)
    assert len(ep.subsets[0].addresses) == 2


def test_on_create_hook(api: ApiClient, fk: FakeKube) -> None:
    raw(api, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd())
    wait_for(lambda: fk.registry.by_plural("example.com", "v1", "widgets"))
    fk.on_create("Widget", lambda _fk, obj: {"conditions": [{"type": "Ready", "status": "True"}]})
    fk.hold_unready("Widget", NS, "held")
    co = client.CustomObjectsApi(api)
    for name in ("w", "held"):
        co.create_namespaced_custom_object("example.com", "v1", NS, "widgets",
                                           {"apiVersion": "example.com/v1", "kind": "Widget",
                                            "metadata": {"name": name}})
    wait_for(lambda: co.get_namespaced_custom_object("example.com", "v1", NS, "widgets", "w").get("status"))
    assert "status" not in co.get_namespaced_custom_object("example.com", "v1", NS, "widgets", "held")


# ---------------------------------------------------------------------------------------- watch


def test_watch_streams_events(api: ApiClient) -> None:
    core(api).create_namespaced_config_map(NS, cm("w0"))
    seen: list[tuple[str, str]] = []

    def mutate() -> None:
        time.sleep(0.2)
        core(api).create_namespaced_config_map(NS, cm("w1"))
        core(api).patch_namespaced_config_map("w1", NS, {"data": {"k": "2"}})
        core(api).delete_namespaced_config_map("w1", NS)

    t = threading.Thread(target=mutate)
    t.start()
    w = watch.Watch()
    for ev in w.stream(core(api).list_namespaced_config_map, NS, timeout_seconds=3):
        if ev["object"].metadata.name != "kube-root-ca.crt":
            seen.append((ev["type"], ev["object"].metadata.name))
        if ev["type"] == "DELETED":
            w.stop()
    t.join()
    assert seen[0] == ("ADDED", "w0")
    assert seen[-3:] == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


# ---------------------------------------------------------------------------------------- faults


def test_fault_error_rate_times_and_no_side_effect(api: ApiClient, fk: FakeKube) -> None:
    core(api).create_namespaced_config_map(NS, cm("f", data={"v": "0"}))
    handle = fk.inject(Fault(verbs=("PATCH",), error_rate=1.0, status=503, times=2))
    for _ in range(2):
        with pytest.raises(ApiException) as e:
            core(api).patch_namespaced_config_map("f", NS, {"data": {"v": "1"}})
        assert e.value.status == 503 and status_of(e.value)["code"] == 503
    assert fk.get("v1", "ConfigMap", "f", NS)["data"]["v"] == "0"  # injected failure never applied
    core(api).patch_namespaced_config_map("f", NS, {"data": {"v": "1"}})
    assert handle.fired == 2
    core(api).read_namespaced_config_map("f", NS)  # other verbs unaffected


def test_fault_429_retry_after(api: ApiClient, fk: FakeKube, tmp_path: Path) -> None:
    # kfboot disables urllib3 retries (one retry policy: its own), so it sees the 429 itself
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(fk.write_kubeconfig(tmp_path / "kc")), client_configuration=cfg)
    cfg.retries = False
    bare = client.CoreV1Api(ApiClient(cfg))
    fk.inject(Fault(verbs=("LIST",), error_rate=1.0, status=429, retry_after=3, times=1))
    with pytest.raises(ApiException) as e:
        bare.list_namespaced_config_map(NS)
    assert e.value.status == 429 and e.value.headers["Retry-After"] == "3"
    assert status_of(e.value)["reason"] == "TooManyRequests"
    bare.list_namespaced_config_map(NS)
    # urllib3's default policy honours Retry-After transparently
    fk.inject(Fault(verbs=("LIST",), error_rate=1.0, status=429, retry_after=1, times=1))
    start = time.monotonic()
    core(api).list_namespaced_config_map(NS)
    assert time.monotonic() - start >= 1.0


def test_fault_dropped_connection(api: ApiClient, fk: FakeKube) -> None:
    fk.inject(Fault(verbs=("POST",), drop_rate=1.0, path_contains="/configmaps", times=1))
    with pytest.raises(urllib3.exceptions.ProtocolError) as e:
        core(api).create_namespaced_config_map(NS, cm("dropped"))
    assert "RemoteDisconnected" in repr(e.value) or "reset" in repr(e.value).lower()
    assert fk.get("v1", "ConfigMap", "dropped", NS) is None
    core(api).create_namespaced_config_map(NS, cm("dropped"))


def test_fault_conflict_and_latency(api: ApiClient, fk: FakeKube) -> None:
    core(api).create_namespaced_config_map(NS, cm("c"))
    fk.inject(Fault(verbs=("PUT",), conflict_rate=1.0, times=1))
    body = core(api).read_namespaced_config_map("c", NS)
    with pytest.raises(ApiException) as e:
        core(api).replace_namespaced_config_map("c", NS, body)
    assert e.value.status == 409
    fk.clear_faults()
    fk.inject(Fault(verbs=("GET",), latency=0.2))
    t = time.monotonic()
    core(api).read_namespaced_config_map("c", NS)
    assert time.monotonic() - t >= 0.2
    fk.clear_faults()
    fk.latency = 0.1
    t = time.monotonic()
    core(api).list_namespaced_config_map(NS)
    assert time.monotonic() - t >= 0.1


def test_faults_are_seeded(tmp_path: Path) -> None:
    def pattern(seed: int) -> list[int]:
        with FakeKube(seed=seed) as fake:
            c = config.new_client_from_config(config_file=str(fake.write_kubeconfig(tmp_path / f"k{seed}")))
            fake.inject(Fault(verbs=("GET",), error_rate=0.5, status=500))
            out = []
            for _ in range(20):
                try:
                    client.CoreV1Api(c).read_namespace("default")
                    out.append(200)
                except ApiException as exc:
                    out.append(exc.status)
            return out

    a, b = pattern(7), pattern(7)
    assert a == b and 500 in a and 200 in a


# ---------------------------------------------------------------------------------------- plumbing


def test_request_log_and_direct_store_access(api: ApiClient, fk: FakeKube) -> None:
    fk.reset_requests()
    core(api).create_namespaced_config_map(NS, cm("r"))
    core(api).read_namespaced_config_map("r", NS)
    core(api).list_namespaced_config_map(NS, label_selector="a=b")
    core(api).patch_namespaced_config_map("r", NS, {"data": {"k": "w"}})
    reqs = fk.requests
    assert [(r.method, r.status) for r in reqs] == [("POST", 201), ("GET", 200), ("GET", 200), ("PATCH", 200)]
    assert reqs[2].query == {"labelSelector": "a=b"} and reqs[2].verb == "LIST"
    assert reqs[3].content_type == "application/strategic-merge-patch+json"
    assert fk.write_count() == 2
    seeded = fk.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": NS},
                     "data": {"x": "eQ=="}})
    assert seeded["metadata"]["uid"] and fk.write_count() == 2
    assert core(api).read_namespaced_secret("s", NS).data == {"x": "eQ=="}
    assert [o["metadata"]["name"] for o in fk.list("v1", "Secret", NS)] == ["s"]
    fk.remove("v1", "Secret", "s", NS)
    assert fk.get("v1", "Secret", "s", NS) is None


def test_many_concurrent_connections(fk: FakeKube, tmp_path: Path) -> None:
    kc = str(fk.write_kubeconfig(tmp_path / "kc"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(50)

    def worker(i: int) -> None:
        try:
            c = client.CoreV1Api(config.new_client_from_config(config_file=kc))
            barrier.wait(timeout=10)
            c.create_namespaced_config_map("default", cm(f"c{i}"))
            c.read_namespaced_config_map(f"c{i}", "default")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len([o for o in fk.list("v1", "ConfigMap", "default") if o["metadata"]["name"].startswith("c")]) == 50


def test_fixture_from_plugin(fake_kube: FakeKube) -> None:
    assert fake_kube.url.startswith("http://127.0.0.1:")
    assert fake_kube.get("v1", "Namespace", "default") is not None


def test_foreground_deletion_and_secret_string_data(api: ApiClient, fk: FakeKube) -> None:
    apps(api).create_namespaced_deployment(NS, deployment("fg"))
    wait_for(lambda: core(api).list_namespaced_pod(NS, label_selector="app=fg").items)
    raw(api, "DELETE", f"/apis/apps/v1/namespaces/{NS}/deployments/fg", {"propagationPolicy": "Foreground"})
    dep = fk.get("apps/v1", "Deployment", "fg", NS)
    assert dep is None or "foregroundDeletion" in dep["metadata"]["finalizers"]
    wait_for(lambda: fk.get("apps/v1", "Deployment", "fg", NS) is None)
    assert not fk.list("apps/v1", "ReplicaSet", NS) and not fk.list("v1", "Pod", NS)

    s = core(api).create_namespaced_secret(NS, {"metadata": {"name": "s"}, "stringData": {"pw": "hunter2"}})
    assert s.data == {"pw": "aHVudGVyMg=="} and s.type == "Opaque" and not s.string_data


def test_immutable_fields_and_job_defaults(api: ApiClient) -> None:
    batch = client.BatchV1Api(api)
    j = batch.create_namespaced_job(NS, job("once"))
    uid = j.metadata.uid
    assert j.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert j.spec.template.metadata.labels["job-name"] == "once"
    path = f"/apis/batch/v1/namespaces/{NS}/jobs/once"
    with pytest.raises(ApiException) as e:  # a changed Job template cannot be re-applied
        apply(api, path, {**job("once"), "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "run", "image": "busybox:2"}]}}}}, force=True)
    assert e.value.status == 422 and "field is immutable" in status_of(e.value)["message"]
    apps(api).create_namespaced_deployment(NS, deployment("sel"))
    with pytest.raises(ApiException) as e:
        raw(api, "PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/sel",
            {"spec": {"selector": {"matchLabels": {"app": "other"}}}}, "application/merge-patch+json")
    assert e.value.status == 422 and status_of(e.value)["reason"] == "Invalid"


def test_patch_status_helper_and_stop_with_open_watch(tmp_path: Path) -> None:
    fk = FakeKube().start()
    c = config.new_client_from_config(config_file=str(fk.write_kubeconfig(tmp_path / "kc")))
    client.CoreV1Api(c).create_namespaced_config_map("default", cm("x"))
    before = fk.get("v1", "Namespace", "default")["metadata"]["resourceVersion"]
    fk.patch_status("v1", "Namespace", "default", None, {"phase": "Active", "extra": "y"})
    after = fk.get("v1", "Namespace", "default")
    assert after["status"]["extra"] == "y" and after["metadata"]["resourceVersion"] != before

    def watch_forever() -> None:
        with contextlib.suppress(Exception):
            for _ in watch.Watch().stream(client.CoreV1Api(c).list_namespaced_config_map, "default"):
                pass

    t = threading.Thread(target=watch_forever, daemon=True)
    t.start()
    time.sleep(0.2)
    start = time.monotonic()
    fk.stop()
    t.join(timeout=5)
    assert time.monotonic() - start < 3 and not t.is_alive()


def test_crd_deletion_waits_for_custom_resources_and_pvc_binds(api: ApiClient, fk: FakeKube) -> None:
    raw(api, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd())
    wait_for(lambda: fk.registry.by_plural("example.com", "v1", "widgets"))
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object("example.com", "v1", NS, "widgets", {
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "finalizers": ["x/y"]}})
    raw(api, "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")

    def terminating() -> bool:
        obj = fk.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com") or {}
        return any(c["type"] == "Terminating" for c in obj.get("status", {}).get("conditions", []))

    wait_for(terminating)
    assert co.get_namespaced_custom_object("example.com", "v1", NS, "widgets", "w")["metadata"]["deletionTimestamp"]
    co.patch_namespaced_custom_object("example.com", "v1", NS, "widgets", "w", {"metadata": {"finalizers": None}})
    wait_for(lambda: fk.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com") is None)
    wait_for(lambda: fk.registry.by_plural("example.com", "v1", "widgets") is None)

    core(api).create_namespaced_persistent_volume_claim(NS, {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}})
    pvc = wait_for(lambda: (p := core(api).read_namespaced_persistent_volume_claim("data", NS)).status.phase
                   == "Bound" and p)
    assert pvc.status.capacity == {"storage": "2Gi"}


def test_namespace_finalize_subresource(api: ApiClient, fk: FakeKube) -> None:
    fk.namespace_delete_delay = 60  # the namespace controller stays away: we finalize by hand
    c = core(api)
    c.create_namespace({"metadata": {"name": "manual"}})
    c.delete_namespace("manual")
    ns = c.read_namespace("manual")
    assert ns.spec.finalizers == ["kubernetes"] and ns.status.phase == "Terminating"
    body = api.sanitize_for_serialization(ns)
    body["spec"]["finalizers"] = []
    raw(api, "PUT", "/api/v1/namespaces/manual/finalize", body)
    assert fk.get("v1", "Namespace", "manual") is None


def test_denials_and_access_reviews(api: ApiClient, fk: FakeKube) -> None:
    authz = client.AuthorizationV1Api(api)

    def can(verb: str, resource: str, group: str = "", namespace: str = "") -> bool:
        review = authz.create_self_subject_access_review({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                            "namespace": namespace}}})
        return review.status.allowed

    assert can("create", "clusterroles", "rbac.authorization.k8s.io")
    fk.deny(("create",), "clusterroles", "rbac.authorization.k8s.io")
    assert not can("create", "clusterroles", "rbac.authorization.k8s.io")
    assert can("get", "clusterroles", "rbac.authorization.k8s.io")
    with pytest.raises(ApiException) as e:
        raw(api, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}})
    st = status_of(e.value)
    assert e.value.status == 403 and st["reason"] == "Forbidden"
    assert 'cannot create resource "clusterroles" in API group "rbac.authorization.k8s.io"' in st["message"]
    fk.deny((), "secrets", namespace=NS)
    with pytest.raises(ApiException) as e:
        core(api).list_namespaced_secret(NS)
    assert e.value.status == 403 and f'in the namespace "{NS}"' in status_of(e.value)["message"]
    core(api).list_namespaced_secret("default")
    fk.allow_all()
    core(api).list_namespaced_secret(NS)


def test_table_and_partial_metadata_negotiation(api: ApiClient) -> None:
    core(api).create_namespaced_config_map(NS, cm("m", labels={"a": "b"}))
    path = f"/api/v1/namespaces/{NS}/configmaps"
    table, _ = raw(api, "GET", path, accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert table["kind"] == "Table" and sorted(r["cells"][0] for r in table["rows"]) == ["kube-root-ca.crt", "m"]
    meta, _ = raw(api, "GET", path + "?labelSelector=a%3Db",
                  accept="application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")
    assert meta["kind"] == "PartialObjectMetadataList" and meta["items"][0]["metadata"]["labels"] == {"a": "b"}
    assert "data" not in meta["items"][0]


def test_watch_from_resource_version_and_expired(api: ApiClient, fk: FakeKube) -> None:
    core(api).create_namespaced_config_map(NS, cm("before"))
    rv = core(api).list_namespaced_config_map(NS).metadata.resource_version
    core(api).create_namespaced_config_map(NS, cm("after"))
    w = watch.Watch()
    events = [(e["type"], e["object"].metadata.name)
              for e in w.stream(core(api).list_namespaced_config_map, NS, resource_version=rv, timeout_seconds=1)]
    assert events == [("ADDED", "after")]
    resp = api.call_api("GET", f"{fk.url}/api/v1/namespaces/{NS}/configmaps?watch=true&resourceVersion=1&"
                        "timeoutSeconds=1", header_params={"Accept": "application/json"})
    lines = [json.loads(x) for x in resp.read().splitlines() if x.strip()]
    assert lines[0]["type"] == "ERROR" and lines[0]["object"]["code"] == 410
