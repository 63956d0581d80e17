"""Federated endpoint identity: a peer's WorkloadEndpoints and HostEndpoints mirrored as
read-only network sets carrying the endpoint's labels, the labels its profiles apply, the
cluster label and its addresses, so a local rule selects remote pods by label through Calico's
ordinary network-set selection (checked with this project's selector engine, as Felix combines
a rule's selectors). Real apiservers in process on real etcds; churn (relabel, delete, profile
change) propagates; kinds and copy names stay apart from mirrored network sets."""
from __future__ import annotations

import pytest

from conftest import GROUP, gns, netset
from test_federation_peers import peer_etcd  # noqa: F401 - a fixture
from test_federation_peers import copies, eventually, post, rcc, status, two_clusters
from apiserver.federation.endpoints import endpoint_copy
from calicomodel.calico import NAMESPACE_LABEL
from calicomodel.catalog import Catalog
from calicomodel.selectors import parse

CLUSTER_LABEL = "federation.projectcalico.org/cluster"
PATCH = {"Content-Type": "application/merge-patch+json"}


def wep(namespace: str, pod: str, ips: list[str], labels: dict, account: str = "default",
        node: str = "node1") -> dict:
    """A Kubernetes pod's WorkloadEndpoint, with the profiles Calico gives it."""
    name = f"{node}-k8s-{pod.replace('-', '--')}-eth0"
    return {"apiVersion": "projectcalico.org/v3", "kind": "WorkloadEndpoint",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"node": node, "orchestrator": "k8s", "pod": pod, "endpoint": "eth0",
                     "interfaceName": "cali" + pod.replace("-", "")[:11],
                     "serviceAccountName": account, "ipNetworks": ips,
                     "profiles": [f"kns.{namespace}", f"ksa.{namespace}.{account}"]}}


def hep(name: str, ips: list[str], labels: dict) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
            "metadata": {"name": name, "labels": labels},
            "spec": {"node": "node1", "interfaceName": "eth0", "expectedIPs": ips,
                     "profiles": ["hosts"]}}


def profile(name: str, labels: dict) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "Profile", "metadata": {"name": name},
            "spec": {"labelsToApply": labels}}


def rule_members(policy_namespace: str | None, entity: dict, sets: list[dict]) -> set[str]:
    """The addresses Felix puts in the IP set of a rule's ``source``/``destination`` for the
    network sets ``sets`` (as the local datastore holds them): a NetworkSet's labels as Felix
    sees them gain ``projectcalico.org/namespace``; a NetworkPolicy's rule selector is limited
    to its namespace unless a namespaceSelector (on ``pcns.`` labels) is given; a
    serviceAccountSelector matches ``pcsa.`` labels (libcalico-go's rule update processor)."""
    parts = [f"({entity.get('selector') or 'all()'})"]
    if entity.get("namespaceSelector"):
        parts.append(f"({parse(entity['namespaceSelector']).with_label_prefix('pcns.')})")
    elif policy_namespace is not None:
        parts.append(f"{NAMESPACE_LABEL} == '{policy_namespace}'")
    if entity.get("serviceAccounts", {}).get("selector"):
        parts.append(f"({parse(entity['serviceAccounts']['selector']).with_label_prefix('pcsa.')})")
    selector = parse(" && ".join(parts))
    members = set()
    for obj in sets:
        labels = dict(obj["metadata"].get("labels") or {})
        if obj["metadata"].get("namespace"):
            labels[NAMESPACE_LABEL] = obj["metadata"]["namespace"]
        if selector.matches(labels):
            members.update(obj["spec"].get("nets") or ())
    return members


def test_an_endpoint_copy_has_its_labels_its_profiles_labels_and_its_addresses():
    kind = Catalog().kind("WorkloadEndpoint")
    pod = wep("shop", "web-1", ["10.1.0.5/32", "fd00::5"], {
        "app": "web", "pcns.team": "mine", NAMESPACE_LABEL: "shop",
        "projectcalico.org/orchestrator": "k8s"})
    pod["metadata"].update(uid="u-1", resourceVersion="42")
    profiles = {"kns.shop": {"pcns.team": "shop", "pcns.projectcalico.org/name": "shop"},
                "ksa.shop.default": {"pcsa.role": "frontend", "pcns.team": "from-sa"}}
    key, copy, used = endpoint_copy("b", kind, pod, lambda name: profiles.get(name, {}))
    assert key == ("shop", "b.wep.node1-k8s-web--1-eth0")
    assert used == ["kns.shop", "ksa.shop.default"]
    assert copy["kind"] == "NetworkSet" and copy["metadata"]["namespace"] == "shop"
    assert copy["metadata"]["labels"] == {
        "app": "web", "pcns.team": "mine",              # the endpoint's own labels win
        "projectcalico.org/orchestrator": "k8s",
        "projectcalico.org/serviceaccount": "default",  # from spec.serviceAccountName
        "pcns.projectcalico.org/name": "shop", "pcsa.role": "frontend",
        CLUSTER_LABEL: "b"}                             # no projectcalico.org/namespace
    assert copy["spec"] == {"nets": ["10.1.0.5/32", "fd00::5/128"]}
    annotations = copy["metadata"]["annotations"]
    assert annotations["federation.projectcalico.org/origin-kind"] == "WorkloadEndpoint"
    assert annotations["federation.projectcalico.org/origin-resource-version"] == "42"


@pytest.fixture
async def endpoint_clusters(clean_etcd, peer_etcd, tmp_path):  # noqa: F811 - imported fixture
    """(cluster-a client, cluster-b admin client): cluster-b exports everything to cluster-a,
    which imports its endpoints (and network sets)."""
    async with two_clusters(clean_etcd, peer_etcd, tmp_path) as (ca, cb, token_file, b):
        yield ca, cb, token_file, b.url


async def test_remote_pods_are_selected_by_label_through_network_sets(endpoint_clusters):
    ca, cb, token_file, b_url = endpoint_clusters
    await post(cb, profile("kns.shop", {"pcns.team": "shop",
                                        "pcns.projectcalico.org/name": "shop"}))
    await post(cb, profile("ksa.shop.default", {"pcsa.projectcalico.org/name": "default"}))
    await post(cb, profile("ksa.shop.front", {"pcsa.role": "frontend"}))
    await post(cb, profile("hosts", {"role": "host"}))
    web1 = await post(cb, wep("shop", "web-1", ["10.1.0.1/32"], {"app": "web"}, "front"))
    await post(cb, wep("shop", "web-2", ["10.1.0.2/32"], {"app": "web"}))
    await post(cb, wep("shop", "db-1", ["10.1.0.3/32"], {"app": "db"}))
    await post(cb, hep("node1-eth0", ["192.168.0.1"], {"app": "web"}))
    # a network set named like an endpoint's copy cannot take its name
    await post(cb, netset("shop", f"wep.{web1['metadata']['name']}", ["10.9.0.0/16"],
                          {"app": "web"}))
    await post(cb, gns("hep.node1-eth0", ["10.8.0.0/16"]))
    await post(ca, rcc("cluster-b", b_url, tokenFile=str(token_file), syncOptions={
        "kinds": ["GlobalNetworkSet", "HostEndpoint", "NetworkSet", "WorkloadEndpoint"]}))

    weps = {f"shop/cluster-b.wep.node1-k8s-{p}-eth0" for p in ("web--1", "web--2", "db--1")}
    net_copies = {f"shop/cluster-b.set.wep.{web1['metadata']['name']}"}

    async def mirrored() -> bool:
        got = await copies(ca, "networksets", "cluster-b")
        assert set(got) == weps | net_copies, sorted(got)
        assert set(await copies(ca, "globalnetworksets", "cluster-b")) == \
            {"cluster-b.hep.node1-eth0", "cluster-b.set.hep.node1-eth0"}
        return (await status(ca, "cluster-b")).get("state") == "InSync"
    await eventually(mirrored, what="endpoints mirrored")
    st = await status(ca, "cluster-b")
    assert st["objects"] == 6, st        # the copies; the peer's profiles are not counted

    sets = list((await copies(ca, "networksets", "cluster-b")).values())
    web1_copy = next(o for o in sets if o["metadata"]["name"].endswith("web--1-eth0")
                     and ".wep." in o["metadata"]["name"] and ".set." not in o["metadata"]["name"])
    assert web1_copy["metadata"]["labels"] == {
        "app": "web", "projectcalico.org/orchestrator": "k8s",
        "projectcalico.org/serviceaccount": "front", "pcns.team": "shop",
        "pcns.projectcalico.org/name": "shop", "pcsa.role": "frontend",
        CLUSTER_LABEL: "cluster-b"}
    assert web1_copy["spec"] == {"nets": ["10.1.0.1/32"]}
    host = (await copies(ca, "globalnetworksets", "cluster-b"))["cluster-b.hep.node1-eth0"]
    assert host["metadata"]["labels"] == {"app": "web", "role": "host", CLUSTER_LABEL: "cluster-b"}
    assert host["spec"] == {"nets": ["192.168.0.1/32"]}
    r = await ca.delete(f"{GROUP}/namespaces/shop/networksets/{web1_copy['metadata']['name']}")
    assert r.status_code == 403 and "read-only copy" in r.json()["message"], r.text

    # a local NetworkPolicy in shop: source {selector: "app == 'web'"} matches the remote web
    # pods (and the peer's set labelled app=web), never the db pod or the global host set
    only_pods = f"{CLUSTER_LABEL} == 'cluster-b' && has(projectcalico.org/orchestrator)"
    assert rule_members("shop", {"selector": "app == 'web'"}, sets) == \
        {"10.1.0.1/32", "10.1.0.2/32", "10.9.0.0/16"}
    assert rule_members("shop", {"selector": f"app == 'web' && {only_pods}"}, sets) == \
        {"10.1.0.1/32", "10.1.0.2/32"}
    assert rule_members("other", {"selector": "app == 'web'"}, sets) == set()
    # ... by the remote namespace's labels and service account, as Calico spells them
    assert rule_members("other", {"selector": "app == 'web'",
                                  "namespaceSelector": "team == 'shop'"}, sets) == \
        {"10.1.0.1/32", "10.1.0.2/32"}
    assert rule_members("shop", {"serviceAccounts": {"selector": "role == 'frontend'"}},
                        sets) == {"10.1.0.1/32"}
    gsets = list((await copies(ca, "globalnetworksets", "cluster-b")).values())
    assert rule_members(None, {"selector": "role == 'host'"}, gsets) == {"192.168.0.1/32"}

    # churn: relabel, move, delete a pod; change its namespace's profile
    await cb.patch(f"{GROUP}/namespaces/shop/workloadendpoints/node1-k8s-web--2-eth0",
                   headers=PATCH, json={"metadata": {"labels": {"app": "api"}},
                                        "spec": {"ipNetworks": ["10.1.0.22/32"]}})
    r = await cb.delete(f"{GROUP}/namespaces/shop/workloadendpoints/node1-k8s-db--1-eth0")
    assert r.status_code == 200, r.text
    kns = (await cb.get(f"{GROUP}/profiles/kns.shop")).json()
    kns["spec"]["labelsToApply"]["pcns.team"] = "store"
    assert (await cb.put(f"{GROUP}/profiles/kns.shop", json=kns)).status_code == 200

    async def churned() -> bool:
        got = await copies(ca, "networksets", "cluster-b")
        web2 = got.get("shop/cluster-b.wep.node1-k8s-web--2-eth0")
        assert web2 and web2["metadata"]["labels"]["app"] == "api", web2
        assert web2["spec"] == {"nets": ["10.1.0.22/32"]}
        assert "shop/cluster-b.wep.node1-k8s-db--1-eth0" not in got
        teams = {n: o["metadata"]["labels"].get("pcns.team") for n, o in got.items()
                 if ".wep." in n and ".set." not in n}
        assert set(teams.values()) == {"store"}, teams
        return True
    await eventually(churned, what="relabel, delete and profile change propagate")

    # endpoints are opt-in per kind: dropping WorkloadEndpoint removes only their copies
    rcc_obj = (await ca.get(f"{GROUP}/remoteclusterconfigurations/cluster-b")).json()
    rcc_obj["spec"]["syncOptions"]["kinds"] = ["GlobalNetworkSet", "HostEndpoint", "NetworkSet"]
    assert (await ca.put(f"{GROUP}/remoteclusterconfigurations/cluster-b",
                         json=rcc_obj)).status_code == 200

    async def dropped() -> bool:
        got = await copies(ca, "networksets", "cluster-b")
        assert set(got) == net_copies, sorted(got)
        assert len(await copies(ca, "globalnetworksets", "cluster-b")) == 2
        return True
    await eventually(dropped, what="endpoint copies removed with their kind")


async def test_endpoints_are_not_mirrored_unless_asked_for(endpoint_clusters):
    ca, cb, token_file, b_url = endpoint_clusters
    await post(cb, wep("shop", "web-1", ["10.1.0.1/32"], {"app": "web"}))
    await post(cb, netset("shop", "set", ["10.2.0.0/16"]))
    await post(ca, rcc("cluster-b", b_url, tokenFile=str(token_file)))

    async def synced() -> bool:
        assert set(await copies(ca, "networksets", "cluster-b")) == {"shop/cluster-b.set"}
        return (await status(ca, "cluster-b")).get("state") == "InSync"
    await eventually(synced, what="network sets only")
    federation = [line for line in (await ca.get("/metrics")).text.splitlines()
                  if line.startswith("calico_federation_") and "cluster-b" in line]
    assert federation and not [line for line in federation
                               if 'kind="WorkloadEndpoint"' in line or 'kind="Profile"' in line]
