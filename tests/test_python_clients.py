"""The official ``kubernetes`` Python client (CustomObjectsApi, ``kubernetes.watch``) and
lightkube (generic resources) against a real apiserver (issue 12)."""
from __future__ import annotations

import threading

import pytest
from kubernetes import client as k8s, watch
from kubernetes.client.rest import ApiException
from lightkube import Client as Lightkube
from lightkube.config.kubeconfig import KubeConfig
from lightkube.core.exceptions import ApiError as LightkubeError
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.types import PatchType

GROUP, VERSION = "projectcalico.org", "v3"
GNS_PLURAL, NETSET_PLURAL = "globalnetworksets", "networksets"


def gns(name: str, nets: list[str], labels: dict | None = None) -> dict:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "GlobalNetworkSet",
            "metadata": {"name": name, "labels": labels or {}}, "spec": {"nets": nets}}


@pytest.fixture
def custom(apiserver_process):
    config = k8s.Configuration(host=apiserver_process.url)
    with k8s.ApiClient(config) as api:
        yield k8s.CustomObjectsApi(api)


@pytest.fixture
def lightkube(apiserver_process):
    config = KubeConfig.from_dict({
        "clusters": [{"name": "c", "cluster": {"server": apiserver_process.url}}],
        "users": [{"name": "u", "user": {}}], "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]})
    client = Lightkube(config, field_manager="lk")
    yield client
    client.close()


# -- kubernetes ---------------------------------------------------------------------------------
def test_kubernetes_client_create_get_replace_patch_delete(custom):
    args = (GROUP, VERSION, GNS_PLURAL)
    created = custom.create_cluster_custom_object(*args, gns("a", ["10.0.0.0/8"], {"app": "x"}))
    assert created["metadata"]["uid"] and created["spec"]["nets"] == ["10.0.0.0/8"]
    got = custom.get_cluster_custom_object(*args, "a")
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    got["spec"]["nets"] = ["10.1.0.0/16"]
    replaced = custom.replace_cluster_custom_object(*args, "a", got)
    assert replaced["spec"]["nets"] == ["10.1.0.0/16"]
    merged = custom.patch_cluster_custom_object(*args, "a", {"metadata": {"labels": {"b": "2"}}})
    assert merged["metadata"]["labels"] == {"app": "x", "b": "2"}
    patched = custom.patch_cluster_custom_object(
        *args, "a", [{"op": "add", "path": "/spec/nets/-", "value": "10.2.0.0/16"}],
        _content_type="application/json-patch+json")
    assert patched["spec"]["nets"] == ["10.1.0.0/16", "10.2.0.0/16"]
    applied = custom.patch_cluster_custom_object(
        *args, "a", gns("a", ["10.3.0.0/16"]), field_manager="py", force=True,
        _content_type="application/apply-patch+yaml")
    assert applied["spec"]["nets"] == ["10.3.0.0/16"]
    assert custom.delete_cluster_custom_object(*args, "a")["metadata"]["name"] == "a"
    with pytest.raises(ApiException) as missing:
        custom.get_cluster_custom_object(*args, "a")
    assert missing.value.status == 404


def test_kubernetes_client_lists_by_label_and_pages(custom):
    args = (GROUP, VERSION, GNS_PLURAL)
    for i in range(5):
        custom.create_cluster_custom_object(
            *args, gns(f"n{i}", [f"10.{i}.0.0/16"], {"parity": "even" if i % 2 == 0 else "odd"}))
    even = custom.list_cluster_custom_object(*args, label_selector="parity=even")
    assert [o["metadata"]["name"] for o in even["items"]] == ["n0", "n2", "n4"]
    names, token = [], None
    while True:
        page = custom.list_cluster_custom_object(*args, limit=2, _continue=token)
        assert len(page["items"]) <= 2
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert names == [f"n{i}" for i in range(5)]


def test_kubernetes_client_namespaced_objects(custom):
    args = (GROUP, VERSION, "ns1", NETSET_PLURAL)
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "NetworkSet",
            "metadata": {"name": "web", "namespace": "ns1"}, "spec": {"nets": ["10.0.0.0/24"]}}
    custom.create_namespaced_custom_object(*args, body)
    assert custom.get_namespaced_custom_object(*args, "web")["metadata"]["namespace"] == "ns1"
    listed = custom.list_namespaced_custom_object(*args)
    assert [o["metadata"]["name"] for o in listed["items"]] == ["web"]
    custom.delete_namespaced_custom_object(*args, "web")
    assert custom.list_namespaced_custom_object(*args)["items"] == []


def test_kubernetes_watch_streams_events(custom):
    args = (GROUP, VERSION, GNS_PLURAL)
    rv = custom.list_cluster_custom_object(*args)["metadata"]["resourceVersion"]
    events: list[tuple[str, str]] = []
    stream = watch.Watch()

    def consume() -> None:
        for event in stream.stream(custom.list_cluster_custom_object, *args,
                                   resource_version=rv, timeout_seconds=20):
            events.append((event["type"], event["object"]["metadata"]["name"]))
            if len(events) == 3:
                stream.stop()
    reader = threading.Thread(target=consume)
    reader.start()
    custom.create_cluster_custom_object(*args, gns("w", ["10.0.0.0/8"]))
    custom.patch_cluster_custom_object(*args, "w", {"spec": {"nets": ["10.1.0.0/16"]}})
    custom.delete_cluster_custom_object(*args, "w")
    reader.join(30)
    assert events == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]


# -- lightkube ----------------------------------------------------------------------------------
GlobalNetworkSet = create_global_resource(GROUP, VERSION, "GlobalNetworkSet", GNS_PLURAL)
NetworkSet = create_namespaced_resource(GROUP, VERSION, "NetworkSet", NETSET_PLURAL)


def test_lightkube_generic_global_resource(lightkube):
    created = lightkube.create(GlobalNetworkSet(gns("lk", ["10.0.0.0/8"], {"app": "x"})))
    assert created.metadata.uid and created.spec == {"nets": ["10.0.0.0/8"]}
    got = lightkube.get(GlobalNetworkSet, "lk")
    got.spec["nets"] = ["10.1.0.0/16"]
    assert lightkube.replace(got).spec["nets"] == ["10.1.0.0/16"]
    patched = lightkube.patch(GlobalNetworkSet, "lk", {"metadata": {"labels": {"b": "2"}}},
                              patch_type=PatchType.MERGE)
    assert patched.metadata.labels == {"app": "x", "b": "2"}
    applied = lightkube.apply(GlobalNetworkSet(gns("lk", ["10.2.0.0/16"])), force=True)
    assert applied.spec["nets"] == ["10.2.0.0/16"]
    assert [m.manager for m in applied.metadata.managedFields if m.operation == "Apply"] == ["lk"]
    for i in range(3):
        lightkube.create(GlobalNetworkSet(gns(f"lk{i}", [f"10.{i}.0.0/16"], {"set": "many"})))
    listed = lightkube.list(GlobalNetworkSet, labels={"set": "many"}, chunk_size=2)
    assert [o.metadata.name for o in listed] == ["lk0", "lk1", "lk2"]
    lightkube.delete(GlobalNetworkSet, "lk")
    with pytest.raises(LightkubeError) as missing:
        lightkube.get(GlobalNetworkSet, "lk")
    assert missing.value.status.code == 404


def test_lightkube_generic_namespaced_resource_and_watch(lightkube):
    listed = lightkube.list(GlobalNetworkSet)
    assert list(listed) == []
    rv = listed.resourceVersion
    lightkube.create(NetworkSet({"metadata": {"name": "web", "namespace": "ns1"},
                                 "spec": {"nets": ["10.0.0.0/24"]}}))
    assert lightkube.get(NetworkSet, "web", namespace="ns1").spec == {"nets": ["10.0.0.0/24"]}
    lightkube.create(GlobalNetworkSet(gns("watched", ["10.0.0.0/8"])))
    for kind, obj in lightkube.watch(GlobalNetworkSet, resource_version=rv, server_timeout=10):
        assert (kind, obj.metadata.name) == ("ADDED", "watched")
        break
    lightkube.delete(NetworkSet, "web", namespace="ns1")
    assert list(lightkube.list(NetworkSet, namespace="ns1")) == []
