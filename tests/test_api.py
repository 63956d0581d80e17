"""The HTTP API contract (DESIGN §3) against a real apiserver and a real etcd."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from conftest import GROUP, REPO, SHARED, etcdctl

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def collection(obj: dict, plural: str) -> str:
    ns = obj["metadata"].get("namespace")
    return f"{GROUP}/namespaces/{ns}/{plural}" if ns else f"{GROUP}/{plural}"


async def plural_of(client, kind: str) -> str:
    doc = (await client.get(GROUP)).json()
    return next(r["name"] for r in doc["resources"] if r["kind"] == kind and "/" not in r["name"])


async def apply(client, obj: dict) -> dict:
    """Create, or replace when it exists (what `ctl apply` does)."""
    plural = await plural_of(client, obj["kind"])
    r = await client.post(collection(obj, plural), json=obj)
    if r.status_code == 409:
        r = await client.put(f"{collection(obj, plural)}/{obj['metadata']['name']}", json=obj)
    assert r.status_code in (200, 201), r.text
    return r.json()


def gns(name: str, nets=("10.0.0.0/24",), labels=None) -> dict:
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet", "metadata": meta,
            "spec": {"nets": list(nets)}}


def netset(name: str, ns: str = "default", nets=("10.1.0.0/24",)) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
            "metadata": {"name": name, "namespace": ns}, "spec": {"nets": list(nets)}}


# -- every kind -----------------------------------------------------------------------------
async def test_every_example_applies_and_reads_back(client):
    for path in EXAMPLES:
        obj = load(path)
        stored = await apply(client, obj)
        plural = await plural_of(client, obj["kind"])
        got = await client.get(f"{collection(obj, plural)}/{obj['metadata']['name']}")
        assert got.status_code == 200, (path.name, got.text)
        assert got.json()["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
        for key, value in (obj.get("spec") or {}).items():
            if key not in ("order",):
                assert key in got.json()["spec"], (path.name, key)


async def test_every_catalog_kind_is_discoverable_with_calicoctl_aliases(client):
    doc = (await client.get(GROUP)).json()
    by_kind = {r["kind"]: r for r in doc["resources"] if "/" not in r["name"]}
    expected = {"BGPConfiguration", "BGPFilter", "BGPPeer", "ClusterInformation",
                "FelixConfiguration", "GlobalNetworkPolicy", "GlobalNetworkSet", "HostEndpoint",
                "IPPool", "IPReservation", "KubeControllersConfiguration", "NetworkPolicy",
                "NetworkSet", "Node", "Profile", "StagedGlobalNetworkPolicy",
                "StagedKubernetesNetworkPolicy", "StagedNetworkPolicy", "Tier",
                "WorkloadEndpoint", "RemoteClusterConfiguration", "CalicoNodeStatus"}
    assert expected <= set(by_kind)
    namespaced = {k for k, r in by_kind.items() if r["namespaced"]}
    assert namespaced == {"NetworkPolicy", "NetworkSet", "StagedNetworkPolicy",
                          "StagedKubernetesNetworkPolicy", "WorkloadEndpoint"}
    assert set(by_kind["IPPool"]["shortNames"]) == {"ipp", "ipps", "pool", "pools"}
    assert "gnp" in by_kind["GlobalNetworkPolicy"]["shortNames"]
    assert "remoteclusterconfigurations/status" in {r["name"] for r in doc["resources"]}
    assert (await client.get("/apis")).json()["groups"][0]["name"] == "projectcalico.org"
    assert (await client.get("/apis/projectcalico.org")).json()["kind"] == "APIGroup"
    assert (await client.get("/api")).json()["kind"] == "APIVersions"
    assert "gitVersion" in (await client.get("/version")).json()
    for path in ("/healthz", "/livez", "/readyz"):
        r = await client.get(path)
        assert (r.status_code, r.text) == (200, "ok")


async def test_openapi_documents_every_kind(client):
    index = (await client.get("/openapi/v3")).json()
    url = index["paths"]["apis/projectcalico.org/v3"]["serverRelativeURL"]
    doc = (await client.get(url)).json()
    assert doc["openapi"].startswith("3.")
    assert {"IPPool", "NetworkPolicy", "RemoteClusterConfiguration"} <= set(doc["components"]["schemas"])
    assert f"{GROUP}/namespaces/{{namespace}}/networkpolicies/{{name}}" in doc["paths"]


# -- CRUD semantics --------------------------------------------------------------------------
async def test_create_get_replace_delete_cycle(client):
    r = await client.post(f"{GROUP}/globalnetworksets", json=gns("a", labels={"x": "1"}))
    assert r.status_code == 201
    created = r.json()
    assert created["metadata"]["uid"] and created["metadata"]["creationTimestamp"]
    rv = created["metadata"]["resourceVersion"]
    obj = {**created, "spec": {"nets": ["10.9.0.0/16"]}}
    r = await client.put(f"{GROUP}/globalnetworksets/a", json=obj)
    assert r.status_code == 200, r.text
    assert int(r.json()["metadata"]["resourceVersion"]) > int(rv)
    assert r.json()["metadata"]["uid"] == created["metadata"]["uid"]
    r = await client.delete(f"{GROUP}/globalnetworksets/a")
    assert r.status_code == 200 and r.json()["metadata"]["name"] == "a"
    r = await client.get(f"{GROUP}/globalnetworksets/a")
    assert r.status_code == 404
    assert r.json()["reason"] == "NotFound" and r.json()["kind"] == "Status"


async def test_create_existing_is_already_exists(client):
    assert (await client.post(f"{GROUP}/globalnetworksets", json=gns("dup"))).status_code == 201
    r = await client.post(f"{GROUP}/globalnetworksets", json=gns("dup"))
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    assert r.json()["details"] == {"name": "dup", "group": "projectcalico.org",
                                   "kind": "GlobalNetworkSet"}


async def test_stale_resource_version_conflicts_on_put_patch_delete(client):
    created = (await client.post(f"{GROUP}/globalnetworksets", json=gns("rv"))).json()
    stale = created["metadata"]["resourceVersion"]
    labelled = {**created, "metadata": {**created["metadata"], "labels": {"changed": "yes"}}}
    ok = await client.put(f"{GROUP}/globalnetworksets/rv", json=labelled)
    assert ok.status_code == 200
    r = await client.put(f"{GROUP}/globalnetworksets/rv", json=created)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    r = await client.patch(f"{GROUP}/globalnetworksets/rv",
                           content=json.dumps({"metadata": {"resourceVersion": stale},
                                               "spec": {"nets": []}}),
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 409
    r = await client.patch(f"{GROUP}/globalnetworksets/rv", content=json.dumps(
        [{"op": "replace", "path": "/metadata/resourceVersion", "value": stale},
         {"op": "replace", "path": "/spec/nets", "value": []}]),
        headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 409, r.text
    r = await client.request("DELETE", f"{GROUP}/globalnetworksets/rv",
                             json={"preconditions": {"resourceVersion": stale}})
    assert r.status_code == 409
    got = await client.get(f"{GROUP}/globalnetworksets/rv")
    assert got.status_code == 200 and got.json()["spec"]["nets"] == ["10.0.0.0/24"]
    fresh = got.json()["metadata"]["resourceVersion"]
    r = await client.patch(f"{GROUP}/globalnetworksets/rv", content=json.dumps(
        [{"op": "replace", "path": "/metadata/resourceVersion", "value": fresh},
         {"op": "replace", "path": "/spec/nets", "value": []}]),
        headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["nets"] == []


async def test_put_without_resource_version_is_unconditional(client):
    await client.post(f"{GROUP}/globalnetworksets", json=gns("uncond"))
    r = await client.put(f"{GROUP}/globalnetworksets/uncond", json=gns("uncond", ["10.2.0.0/16"]))
    assert r.status_code == 200 and r.json()["spec"]["nets"] == ["10.2.0.0/16"]


async def test_replace_missing_object_is_not_found(client):
    r = await client.put(f"{GROUP}/globalnetworksets/ghost", json=gns("ghost"))
    assert r.status_code == 404


async def test_patch_types(client):
    felix = {"apiVersion": "projectcalico.org/v3", "kind": "FelixConfiguration",
             "metadata": {"name": "default", "labels": {"keep": "me"}},
             "spec": {"logSeverityScreen": "Info", "failsafeInboundHostPorts": [
                 {"protocol": "TCP", "port": 22}]}}
    await client.put(f"{GROUP}/felixconfigurations/default", json=felix)   # a built-in
    wireguard = (REPO / "examples" / "patches" / "wireguard-merge-patch.json").read_text()
    r = await client.patch(f"{GROUP}/felixconfigurations/default", content=wireguard,
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    spec = r.json()["spec"]
    assert spec["wireguardEnabled"] is True and spec["logSeverityScreen"] == "Info"
    r = await client.patch(f"{GROUP}/felixconfigurations/default",
                           content=json.dumps({"spec": {"logSeverityScreen": None}}),
                           headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert "logSeverityScreen" not in r.json()["spec"] or \
        r.json()["spec"]["logSeverityScreen"] != "Info"
    r = await client.patch(f"{GROUP}/felixconfigurations/default", content=json.dumps(
        [{"op": "replace", "path": "/spec/failsafeInboundHostPorts/0/port", "value": 2222},
         {"op": "add", "path": "/metadata/labels/new", "value": "yes"}]),
        headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["failsafeInboundHostPorts"][0]["port"] == 2222
    assert r.json()["metadata"]["labels"] == {"keep": "me", "new": "yes"}
    r = await client.patch(f"{GROUP}/felixconfigurations/default",
                           content=json.dumps([{"op": "test", "path": "/spec/x", "value": 1}]),
                           headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 400
    r = await client.patch(f"{GROUP}/felixconfigurations/default", content="{}",
                           headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


async def test_concurrent_merge_patches_of_different_fields_all_land(client):
    await client.post(f"{GROUP}/globalnetworksets", json=gns("busy"))
    patchers = 24

    async def one(i: int):
        r = await client.patch(f"{GROUP}/globalnetworksets/busy",
                               content=json.dumps({"metadata": {"labels": {f"k{i}": str(i)}}}),
                               headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
    await asyncio.gather(*(one(i) for i in range(patchers)))
    labels = (await client.get(f"{GROUP}/globalnetworksets/busy")).json()["metadata"]["labels"]
    assert labels == {f"k{i}": str(i) for i in range(patchers)}


async def test_dry_run_validates_but_writes_nothing(client):
    r = await client.post(f"{GROUP}/globalnetworksets?dryRun=All", json=gns("dry"))
    assert r.status_code == 201 and r.json()["metadata"]["name"] == "dry"
    assert (await client.get(f"{GROUP}/globalnetworksets/dry")).status_code == 404
    await client.post(f"{GROUP}/globalnetworksets", json=gns("dry"))
    r = await client.post(f"{GROUP}/globalnetworksets?dryRun=All", json=gns("dry"))
    assert r.status_code == 409
    r = await client.delete(f"{GROUP}/globalnetworksets/dry?dryRun=All")
    assert r.status_code == 200
    assert (await client.get(f"{GROUP}/globalnetworksets/dry")).status_code == 200
    r = await client.put(f"{GROUP}/globalnetworksets/dry?dryRun=All",
                         json=gns("dry", ["10.7.0.0/16"]))
    assert r.status_code == 200
    got = (await client.get(f"{GROUP}/globalnetworksets/dry")).json()
    assert got["spec"]["nets"] == ["10.0.0.0/24"]


async def test_status_subresource_is_written_separately(client):
    node_status = yaml.safe_load((REPO / "examples" / "21-caliconodestatus.yaml").read_text())
    base = f"{GROUP}/caliconodestatuses/{node_status['metadata']['name']}"
    r = await client.post(f"{GROUP}/caliconodestatuses", json=node_status)
    assert r.status_code == 201, r.text
    obj = r.json()
    obj["status"] = {"lastUpdated": "2026-01-01T00:00:00Z", "agent": {"birdV4": {"state": "Ready"}}}
    r = await client.put(f"{base}/status", json=obj)
    assert r.status_code == 200, r.text
    assert r.json()["status"]["agent"]["birdV4"]["state"] == "Ready"
    r = await client.patch(f"{base}/status", content=json.dumps(
        {"status": {"agent": {"birdV4": {"state": "NotReady"}}}}),
        headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["status"]["agent"]["birdV4"]["state"] == "NotReady"
    obj = r.json()
    obj["spec"]["updatePeriodSeconds"] = 30
    obj["status"] = {}
    r = await client.put(base, json=obj)   # the main resource keeps the status as it is
    assert r.json()["spec"]["updatePeriodSeconds"] == 30
    assert r.json()["status"]["agent"]["birdV4"]["state"] == "NotReady"
    r = await client.get(f"{GROUP}/globalnetworksets/x/status")
    assert r.status_code == 404


async def test_remote_cluster_status_is_written_by_the_server_only(client):
    rcc = {"apiVersion": "projectcalico.org/v3", "kind": "RemoteClusterConfiguration",
           "metadata": {"name": "peer"}, "spec": {"apiServer": "http://127.0.0.1:1"},
           "status": {"state": "InSync"}}
    r = await client.post(f"{GROUP}/remoteclusterconfigurations", json=rcc)
    assert r.status_code == 201, r.text
    assert r.json().get("status", {}).get("state") != "InSync"   # a client's status is dropped
    obj = r.json()
    obj["status"] = {"state": "InSync"}
    r = await client.put(f"{GROUP}/remoteclusterconfigurations/peer/status", json=obj)
    assert r.status_code == 403 and "written by the server" in r.json()["message"]


# -- built-ins and special kinds --------------------------------------------------------------
async def test_builtins_exist_and_are_protected(client):
    tiers = {t["metadata"]["name"]: t for t in
             (await client.get(f"{GROUP}/tiers")).json()["items"]}
    assert {"default", "kube-admin", "kube-baseline"} <= set(tiers)
    assert tiers["kube-admin"]["spec"] == {"defaultAction": "Pass", "order": 1000}
    r = await client.delete(f"{GROUP}/tiers/default")
    assert r.status_code == 403 and "Cannot delete default tier" in r.json()["message"]
    info = (await client.get(f"{GROUP}/clusterinformations/default")).json()
    assert info["spec"]["datastoreReady"] is True
    for method in ("POST", "PUT", "DELETE"):
        url = f"{GROUP}/clusterinformations" + ("" if method == "POST" else "/default")
        r = await client.request(method, url, json=info if method != "DELETE" else None)
        assert r.status_code == 405, (method, r.text)
        assert "not supported on ClusterInformation" in r.json()["message"]


async def test_default_allow_profile_is_virtual(client):
    r = await client.get(f"{GROUP}/profiles/projectcalico-default-allow")
    assert r.status_code == 200 and r.json()["spec"]["ingress"] == [{"action": "Allow"}]
    names = [p["metadata"]["name"] for p in (await client.get(f"{GROUP}/profiles")).json()["items"]]
    assert "projectcalico-default-allow" in names
    assert (await client.delete(f"{GROUP}/profiles/projectcalico-default-allow")).status_code == 405


async def test_policy_tier_must_exist_and_non_empty_tier_cannot_be_deleted(client):
    policy = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
              "metadata": {"name": "p"}, "spec": {"tier": "security", "selector": "all()"}}
    r = await client.post(f"{GROUP}/globalnetworkpolicies", json=policy)
    assert r.status_code == 404 and r.json()["details"]["kind"] == "Tier"
    tier = {"apiVersion": "projectcalico.org/v3", "kind": "Tier",
            "metadata": {"name": "security"}, "spec": {"order": 100}}
    assert (await client.post(f"{GROUP}/tiers", json=tier)).status_code == 201
    r = await client.post(f"{GROUP}/globalnetworkpolicies", json=policy)
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["labels"]["projectcalico.org/tier"] == "security"
    r = await client.delete(f"{GROUP}/tiers/security")
    assert r.status_code == 403 and "non-empty" in r.json()["message"]
    await client.delete(f"{GROUP}/globalnetworkpolicies/p")
    assert (await client.delete(f"{GROUP}/tiers/security")).status_code == 200


async def test_kubernetes_policy_names_are_reserved(client):
    body = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
            "metadata": {"name": "knp.default.x", "namespace": "default"},
            "spec": {"selector": "all()"}}
    base = f"{GROUP}/namespaces/default/networkpolicies"
    for r in (await client.post(base, json=body), await client.delete(f"{base}/knp.default.x")):
        assert r.status_code == 405
        assert r.json()["message"] == ("operation {} is not supported on NetworkPolicy(default/"
                                       "knp.default.x): kubernetes network policies must be "
                                       "managed through the kubernetes API").format(
            "Create" if r.request.method == "POST" else "Delete")
    assert (await client.put(f"{base}/knp.default.x", json=body)).status_code == 404


async def test_ippool_defaults_and_overlap(client):
    pool = {"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "a"},
            "spec": {"cidr": "10.5.0.0/16"}}
    r = await client.post(f"{GROUP}/ippools", json=pool)
    assert r.status_code == 201, r.text
    spec = r.json()["spec"]
    v6 = {**pool, "metadata": {"name": "v6"}, "spec": {"cidr": "FED0:8001:0::/64"}}
    r = await client.post(f"{GROUP}/ippools", json=v6)
    assert r.status_code == 201 and r.json()["spec"]["cidr"] == "fed0:8001::/64"
    assert r.json()["spec"]["blockSize"] == 122
    assert (spec["blockSize"], spec["ipipMode"], spec["vxlanMode"], spec["nodeSelector"]) == \
        (26, "Never", "Never", "all()")
    pool["metadata"]["name"] = "b"
    pool["spec"]["cidr"] = "10.5.128.0/17"
    r = await client.post(f"{GROUP}/ippools", json=pool)
    assert r.status_code == 422 and "overlaps" in r.json()["message"]
    r = await client.patch(f"{GROUP}/ippools/a", content='{"spec":{"cidr":"10.6.0.0/16"}}',
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec.cidr"


async def test_bgppeer_filters_must_exist(client):
    peer = {"apiVersion": "projectcalico.org/v3", "kind": "BGPPeer", "metadata": {"name": "p"},
            "spec": {"peerIP": "192.0.2.1", "asNumber": 64512, "filters": ["nope"]}}
    r = await client.post(f"{GROUP}/bgppeers", json=peer)
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "spec.filters[0]"


# -- lists ------------------------------------------------------------------------------------
async def test_list_filters_and_namespaces(client):
    for i in range(3):
        await client.post(f"{GROUP}/globalnetworksets",
                          json=gns(f"s{i}", labels={"tier": "a" if i < 2 else "b"}))
    await client.post(f"{GROUP}/namespaces/ns1/networksets", json=netset("n", "ns1"))
    await client.post(f"{GROUP}/namespaces/ns10/networksets", json=netset("n", "ns10"))

    async def names(url):
        r = await client.get(url)
        assert r.status_code == 200, r.text
        return [o["metadata"]["name"] for o in r.json()["items"]]
    assert await names(f"{GROUP}/globalnetworksets?labelSelector=tier%3Da") == ["s0", "s1"]
    assert await names(f"{GROUP}/globalnetworksets?selector=tier%20%3D%3D%20'b'") == ["s2"]
    assert await names(f"{GROUP}/globalnetworksets?fieldSelector=metadata.name%3Ds1") == ["s1"]
    ns1 = (await client.get(f"{GROUP}/namespaces/ns1/networksets")).json()["items"]
    assert [o["metadata"]["namespace"] for o in ns1] == ["ns1"]
    everything = (await client.get(f"{GROUP}/networksets")).json()
    assert everything["kind"] == "NetworkSetList"
    assert sorted(o["metadata"]["namespace"] for o in everything["items"]) == ["ns1", "ns10"]
    r = await client.get(f"{GROUP}/globalnetworksets?selector=a%20%3D%3D")
    assert r.status_code == 400


async def test_paged_profile_list_ends_with_the_virtual_profile(client):
    for i in range(3):
        profile = {"apiVersion": "projectcalico.org/v3", "kind": "Profile",
                   "metadata": {"name": f"p{i}"}, "spec": {}}
        assert (await client.post(f"{GROUP}/profiles", json=profile)).status_code == 201
    names, token = [], ""
    while True:
        page = (await client.get(f"{GROUP}/profiles?limit=2&continue={token}")).json()
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    whole = (await client.get(f"{GROUP}/profiles")).json()["items"]
    assert names == [o["metadata"]["name"] for o in whole] == \
        ["p0", "p1", "p2", "projectcalico-default-allow"]


async def test_pagination_is_one_consistent_snapshot(client):
    for i in range(7):
        await client.post(f"{GROUP}/globalnetworksets", json=gns(f"p{i}"))
    r = (await client.get(f"{GROUP}/globalnetworksets?limit=3")).json()
    seen = [o["metadata"]["name"] for o in r["items"]]
    token, rv = r["metadata"]["continue"], r["metadata"]["resourceVersion"]
    await client.post(f"{GROUP}/globalnetworksets", json=gns("p99"))
    while token:
        r = (await client.get(f"{GROUP}/globalnetworksets?limit=3&continue={token}")).json()
        assert r["metadata"]["resourceVersion"] == rv
        seen += [o["metadata"]["name"] for o in r["items"]]
        token = r["metadata"].get("continue")
    assert seen == [f"p{i}" for i in range(7)]
    r = await client.get(f"{GROUP}/globalnetworksets?limit=3&continue=garbage")
    assert r.status_code == 400


async def test_table_output_has_calicoctl_columns(client):
    await client.post(f"{GROUP}/ippools", json={
        "apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "t"},
        "spec": {"cidr": "10.1.0.0/24", "natOutgoing": True, "nodeSelector": "foo == 'bar'"}})
    r = await client.get(f"{GROUP}/ippools",
                         headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    table = r.json()
    assert table["kind"] == "Table"
    cols = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert [n for n, p in cols if p == 0] == ["NAME", "CIDR", "SELECTOR"]
    assert [n for n, _ in cols] == ["NAME", "CIDR", "NAT", "IPIPMODE", "VXLANMODE", "DISABLED",
                                    "DISABLEBGPEXPORT", "SELECTOR", "ASSIGNMENTMODE"]
    assert table["rows"][0]["cells"] == ["t", "10.1.0.0/24", "true", "Never", "Never", "false",
                                         "false", "foo == 'bar'", "Automatic"]


# -- watch ------------------------------------------------------------------------------------
async def read_events(client, url: str, count: int) -> list[dict]:
    events = []
    async with client.stream("GET", url) as resp:
        assert resp.status_code == 200
        async for line in resp.aiter_lines():
            if line.strip():
                events.append(json.loads(line))
            if len(events) >= count:
                break
    return events


async def test_watch_from_resource_version(client):
    rv = (await client.get(f"{GROUP}/globalnetworksets")).json()["metadata"]["resourceVersion"]
    await client.post(f"{GROUP}/globalnetworksets", json=gns("w1"))
    await client.put(f"{GROUP}/globalnetworksets/w1", json=gns("w1", ["10.3.0.0/16"]))
    await client.delete(f"{GROUP}/globalnetworksets/w1")
    events = await read_events(client, f"{GROUP}/globalnetworksets?watch=true&resourceVersion={rv}", 3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1]["object"]["spec"]["nets"] == ["10.3.0.0/16"]
    revs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert revs == sorted(revs) and revs[0] > int(rv)


async def test_watch_without_version_lists_first_then_follows(client):
    await client.post(f"{GROUP}/globalnetworksets", json=gns("old"))

    async def later():
        await asyncio.sleep(0.2)
        await client.post(f"{GROUP}/globalnetworksets", json=gns("new"))
    task = asyncio.create_task(later())
    events = await read_events(client, f"{GROUP}/globalnetworksets?watch=1", 2)
    await task
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == \
        [("ADDED", "old"), ("ADDED", "new")]


async def test_watch_bookmarks_and_timeout(clean_etcd):
    import httpx
    from conftest import running_server
    async with running_server(clean_etcd.endpoint, bookmark_interval=0.2) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            url = f"{GROUP}/globalnetworksets?watch=1&allowWatchBookmarks=true&timeoutSeconds=1"
            events = await read_events(c, url, 1)
            assert events[0]["type"] == "BOOKMARK"
            assert int(events[0]["object"]["metadata"]["resourceVersion"]) > 0
            async with c.stream("GET", url) as resp:   # the server ends it after timeoutSeconds
                lines = [line async for line in resp.aiter_lines() if line.strip()]
            assert lines and all(json.loads(x)["type"] == "BOOKMARK" for x in lines)


async def test_bookmarks_keep_coming_while_filtered_out_changes_stream(clean_etcd):
    """A selector watch whose objects never change still gets its bookmarks while other
    objects change all the time (a federation peer's heartbeat depends on it)."""
    import httpx
    from conftest import running_server
    async with running_server(clean_etcd.endpoint, bookmark_interval=0.3) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            await c.post(f"{GROUP}/globalnetworksets", json=gns("busy", labels={"x": "busy"}))

            async def churn() -> None:
                for i in range(40):
                    await c.patch(f"{GROUP}/globalnetworksets/busy",
                                  json={"metadata": {"annotations": {"n": str(i)}}},
                                  headers={"Content-Type": "application/merge-patch+json"})
                    await asyncio.sleep(0.05)
            task = asyncio.create_task(churn())
            events = await read_events(c, f"{GROUP}/globalnetworksets?watch=1&allowWatchBookmarks"
                                          "=true&labelSelector=x%3Dquiet&timeoutSeconds=2", 3)
            await task
            assert [e["type"] for e in events] == ["BOOKMARK"] * 3


async def test_watch_from_compacted_revision_is_410(client, clean_etcd):
    for i in range(3):
        await client.post(f"{GROUP}/globalnetworksets", json=gns(f"c{i}"))
    rv = int((await client.get(f"{GROUP}/globalnetworksets")).json()["metadata"]["resourceVersion"])
    etcdctl(clean_etcd.endpoint, "compact", str(rv))
    events = await read_events(client, f"{GROUP}/globalnetworksets?watch=1&resourceVersion=1", 1)
    assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410


# -- bad input ---------------------------------------------------------------------------------
BAD_BODIES = [
    ("malformed-json", b'{"apiVersion": ', "application/json", 400, "not valid JSON"),
    ("malformed-yaml", b"a: [b", "application/yaml", 400, "not valid YAML"),
    ("not-utf8", b'{"a": "\xff\xfe"}', "application/json", 400, "UTF-8"),
    ("empty", b"", "application/json", 400, "empty"),
    ("wrong-api-version", json.dumps({**gns("x"), "apiVersion": "v1"}).encode(),
     "application/json", 400, "apiVersion"),
    ("wrong-kind", json.dumps({**gns("x"), "kind": "NetworkSet"}).encode(),
     "application/json", 400, "does not match"),
    ("bad-name", json.dumps(gns("Not_A_DNS_Name")).encode(), "application/json", 422,
     "metadata.name"),
    ("unknown-field", json.dumps({**gns("x"), "spec": {"nets": [], "bogus": 1}}).encode(),
     "application/json", 400, "bogus"),
    ("client-uid", json.dumps({**gns("x"), "metadata": {"name": "x", "uid": "u"}}).encode(),
     "application/json", 422, "uid"),
    ("client-timestamp", json.dumps({**gns("x"), "metadata": {
        "name": "x", "creationTimestamp": "2020-01-01T00:00:00Z"}}).encode(),
     "application/json", 422, "creationTimestamp"),
    ("deep", ("[" * 5000 + "]" * 5000).encode(), "application/json", 400, "deeper"),
    ("yaml-alias-bomb", b"a: &a [x, x]\nb: [*a, *a]\n", "application/yaml", 400, "aliases"),
    ("number-for-string", json.dumps({**gns("x"), "spec": {"nets": [5]}}).encode(),
     "application/json", 422, "spec.nets[0]"),
    ("unsupported-media", b"<xml/>", "application/xml", 415, "not supported"),
    ("duplicate-json-field", b'{"apiVersion":"projectcalico.org/v3","kind":"GlobalNetworkSet",'
     b'"metadata":{"name":"x","name":"y"},"spec":{}}', "application/json", 400, "duplicate"),
    ("duplicate-yaml-field", b"kind: GlobalNetworkSet\nkind: NetworkSet\n", "application/yaml",
     400, "duplicate"),
    ("json-nan", b'{"apiVersion":"projectcalico.org/v3","kind":"GlobalNetworkSet",'
     b'"metadata":{"name":"x"},"spec":{"nets":[NaN]}}', "application/json", 400, "NaN"),
    ("yaml-infinity", b"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n"
     b"metadata: {name: x}\nspec: {nets: [.inf]}\n", "application/yaml", 400, "inf"),
    ("yaml-int-key", b"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n"
     b"metadata: {name: x, 7: y}\n", "application/yaml", 400, "not a string"),
    ("yaml-binary", b"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\n"
     b"metadata: {name: !!binary eA==}\n", "application/yaml", 400, "bytes"),
]


@pytest.mark.parametrize("body,ctype,code,text", [b[1:] for b in BAD_BODIES],
                         ids=[b[0] for b in BAD_BODIES])
async def test_bad_input_is_a_clear_4xx_and_writes_nothing(client, body, ctype, code, text):
    r = await client.post(f"{GROUP}/globalnetworksets", content=body,
                          headers={"Content-Type": ctype})
    assert r.status_code == code, r.text
    status = r.json()
    assert status["kind"] == "Status" and status["code"] == code
    assert text in json.dumps(status), status
    assert (await client.get(f"{GROUP}/globalnetworksets")).json()["items"] == []


async def test_namespace_mismatch_and_cluster_scope_rules(client):
    r = await client.post(f"{GROUP}/namespaces/a/networksets", json=netset("x", "b"))
    assert r.status_code == 400 and "does not match" in r.json()["message"]
    r = await client.post(f"{GROUP}/globalnetworksets",
                          json={**gns("x"), "metadata": {"name": "x", "namespace": "a"}})
    assert r.status_code == 400 and "not a namespaced resource" in r.json()["message"]
    r = await client.get(f"{GROUP}/namespaces/a/globalnetworksets")
    assert r.status_code == 404
    r = await client.put(f"{GROUP}/globalnetworksets/other", json=gns("x"))
    assert r.status_code == 400 and "does not match the name" in r.json()["message"]


@pytest.mark.parametrize("path,body,code,text", [
    ("/namespaces/Bad_NS/networksets", netset("s", "Bad_NS"), 422, "metadata.namespace"),
    ("/networksets", netset("s", "x/y"), 422, "metadata.namespace"),
    ("/namespaces/p%2Fq/networksets", netset("s", "p/q"), 422, "metadata.namespace"),
    ("/namespaces/" + "n" * 64 + "/networksets", netset("s", "n" * 64), 422, "63"),
], ids=["upper-case", "slash-in-body", "slash-in-path", "too-long"])
async def test_invalid_namespaces_are_refused(client, clean_etcd, path, body, code, text):
    r = await client.post(GROUP + path, json=body)
    assert r.status_code == code and text in r.text, r.text
    assert etcdctl(clean_etcd.endpoint, "get", "--prefix", "--keys-only",
                   "/calico/resources/v3/projectcalico.org/networksets/") == ""


async def test_malformed_request_options_are_400(client):
    """Query strings and DeleteOptions the handlers cannot use are the client's error."""
    await client.post(f"{GROUP}/globalnetworksets", json=gns("g"))
    cases = [
        ("GET", f"{GROUP}/globalnetworksets?limit={10**24}", None, "limit"),
        ("GET", f"{GROUP}/globalnetworksets?watch=1&timeoutSeconds=nan", None, "timeoutSeconds"),
        ("GET", f"{GROUP}/globalnetworksets?watch=1&timeoutSeconds=-1", None, "timeoutSeconds"),
        ("DELETE", f"{GROUP}/globalnetworksets/g", {"preconditions": "x"}, "preconditions"),
        ("DELETE", f"{GROUP}/globalnetworksets/g", {"preconditions": {"resourceVersion": 3}},
         "resourceVersion"),
        ("PUT", f"{GROUP}/globalnetworksets/g",
         {**gns("g"), "metadata": {"name": "g", "resourceVersion": 7}}, "must be a string"),
        ("PATCH", f"{GROUP}/globalnetworksets/g", {"metadata": {"resourceVersion": 7}},
         "must be a string"),
    ]
    for method, url, body, text in cases:
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
        r = await client.request(method, url, json=body, headers=headers)
        assert r.status_code == 400 and text in r.json()["message"], (method, url, r.text)
    assert (await client.get(f"{GROUP}/globalnetworksets/g")).status_code == 200


async def test_head_is_answered_like_get(client):
    await client.post(f"{GROUP}/globalnetworksets", json=gns("h"))
    assert (await client.head(f"{GROUP}/globalnetworksets")).status_code == 200
    assert (await client.head(f"{GROUP}/globalnetworksets/h")).status_code == 200
    assert (await client.head(f"{GROUP}/globalnetworksets/nope")).status_code == 404


async def test_oversized_body_is_413(clean_etcd):
    from conftest import running_server
    import httpx
    async with running_server(clean_etcd.endpoint, max_request_bytes=10_000) as url:
        async with httpx.AsyncClient(base_url=url) as c:
            big = gns("big", [f"10.{i // 256}.{i % 256}.0/24" for i in range(2000)])
            r = await c.post(f"{GROUP}/globalnetworksets", json=big)
            assert r.status_code == 413 and r.json()["reason"] == "RequestEntityTooLarge"


async def test_unknown_resource_is_404_status(client):
    r = await client.get(f"{GROUP}/frobnicators")
    assert r.status_code == 404 and r.json()["kind"] == "Status"
    r = await client.get("/nowhere")
    assert r.status_code == 404 and r.json()["kind"] == "Status"


def _calicoctl_columns() -> list[tuple[str, list[str], list[str]]]:
    """(kind, ps columns, wide columns) from the calicoctl reference's column table."""
    reference = SHARED / "reference" / "calicoctl.md"
    if not reference.exists():
        return []
    text = reference.read_text()
    section = text[text.index("## c. Table columns"):text.index("## d. ")]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")] if line.startswith("| ") else []
        if len(cells) != 3 or cells[0] in ("Kind", "---"):
            continue
        kind = cells[0].replace("[master]", "").replace("*", "").strip()
        ps = [w for w in cells[1].split() if w.isupper()]
        if cells[2].startswith("same"):
            wide = ps
        elif cells[2].startswith("+"):
            wide = ps + [w for w in cells[2].split() if w.isupper()]
        else:
            wide = [w for w in cells[2].split("(")[0].split() if w.isupper()]
        rows.append((kind, ps, wide))
    return rows


@pytest.mark.skipif(not _calicoctl_columns(), reason="../shared/reference is not present")
@pytest.mark.parametrize("kind,ps,wide", _calicoctl_columns(), ids=[r[0] for r in _calicoctl_columns()])
async def test_every_kind_table_has_calicoctls_ps_and_wide_columns(client, kind, ps, wide):
    plural = await plural_of(client, kind)
    r = await client.get(f"{GROUP}/{plural}",
                         headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert r.status_code == 200 and r.json()["kind"] == "Table", r.text
    cols = [(c["name"], c["priority"]) for c in r.json()["columnDefinitions"]]
    # no NAMESPACE column, as kube-apiserver's: kubectl -A and ctl -A add it from the objects
    assert [n for n, p in cols if p == 0] == ps
    assert [n for n, _ in cols] == wide
