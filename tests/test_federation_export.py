"""The exporting cluster decides what each peer may read (FederationExport, enforced through the
admission chain's ``visible()``): list, get and watch of a ``calico:federation`` identity show
only what a rule for it exports, nothing when no rule names it, and an importer follows a
change of its export. Real apiservers in process on real etcds."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
import pytest

from conftest import GROUP, etcdctl, gns, netset
from test_federation_peers import peer_etcd  # noqa: F401 - a fixture
from test_federation_peers import (FAST, InProcessServer, copies, eventually, export, post,
                                   rcc, status, two_clusters)
from calicomodel.catalog import Catalog

EXPORTS = f"{GROUP}/federationexports"


@pytest.fixture
async def exporter(peer_etcd, tmp_path):  # noqa: F811 - the fixture imported above
    """cluster-b with an admin, two peer identities (user ``peer``; user ``eu-peer`` in group
    ``team-eu``) and no FederationExport yet: {who: client}."""
    etcdctl(peer_etcd.endpoint, "del", "--prefix", "/calico/")
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('admin-b,admin,1,"calico:admin"\n'
                      'fed-b,peer,2,"calico:federation"\n'
                      'fed-eu,eu-peer,3,"calico:federation,team-eu"\n')
    b = await InProcessServer(peer_etcd.endpoint, cluster_name="cluster-b", federation=False,
                              token_auth_file=str(tokens)).start(token="admin-b")
    clients = {who: httpx.AsyncClient(base_url=b.url, timeout=10,
                                      headers={"Authorization": f"Bearer {token}"})
               for who, token in (("admin", "admin-b"), ("peer", "fed-b"), ("eu", "fed-eu"))}
    try:
        yield clients
    finally:
        for c in clients.values():
            await c.aclose()
        await b.stop()


async def names(client: httpx.AsyncClient, plural: str, **params) -> list[str]:
    r = await client.get(f"{GROUP}/{plural}", params=params)
    assert r.status_code == 200, r.text
    return [(o["metadata"].get("namespace", "") + "/" + o["metadata"]["name"]).lstrip("/")
            for o in r.json()["items"]]


async def paged(client: httpx.AsyncClient, plural: str) -> list[str]:
    seen, token = [], ""
    while True:
        r = await client.get(f"{GROUP}/{plural}",
                             params={"limit": "1", **({"continue": token} if token else {})})
        assert r.status_code == 200, r.text
        seen += [o["metadata"]["name"] for o in r.json()["items"]]
        token = r.json()["metadata"].get("continue")
        if not token:
            return seen


async def watched(client: httpx.AsyncClient, plural: str) -> list[str]:
    """The names a watch from the start shows within a second."""
    async with client.stream("GET", f"{GROUP}/{plural}",
                             params={"watch": "1", "timeoutSeconds": "1"}) as resp:
        assert resp.status_code == 200
        events = [json.loads(line) async for line in resp.aiter_lines() if line.strip()]
    return [e["object"]["metadata"]["name"] for e in events if e["type"] != "BOOKMARK"]


def profile(name: str, labels: dict) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "Profile", "metadata": {"name": name},
            "spec": {"labelsToApply": labels}}


async def test_a_peer_identity_with_no_rule_reads_nothing(exporter):
    """The default: exporting is a decision of the exporter. Without a FederationExport naming
    it, a federation identity lists, gets and watches nothing (404 for an object that exists,
    as for one that does not), and may not write rules."""
    admin, peer = exporter["admin"], exporter["peer"]
    await post(admin, gns("public", ["10.1.0.0/16"], {"export": "true"}))
    await post(admin, netset("prod", "db", ["10.2.0.0/16"]))
    for plural in ("globalnetworksets", "networksets", "workloadendpoints", "hostendpoints",
                   "profiles", "federationexports"):
        assert await names(peer, plural) == [], plural
    assert await paged(peer, "globalnetworksets") == []
    assert await watched(peer, "globalnetworksets") == []
    r = await peer.get(f"{GROUP}/globalnetworksets/public")
    assert r.status_code == 404, r.text
    assert (await peer.get(f"{GROUP}/namespaces/prod/networksets/db")).status_code == 404
    assert (await peer.post(EXPORTS, json=export("mine", users=["peer"]))).status_code == 403
    assert (await peer.get(f"{GROUP}/tiers")).status_code == 403
    assert await names(admin, "globalnetworksets") == ["public"]


async def test_rules_narrow_kinds_namespaces_and_labels_per_identity(exporter):
    admin, peer, eu = exporter["admin"], exporter["peer"], exporter["eu"]
    await post(admin, gns("public", ["10.1.0.0/16"], {"export": "true"}))
    await post(admin, gns("private", ["10.3.0.0/16"]))
    await post(admin, netset("prod", "db", ["10.2.0.0/16"], {"export": "true"}))
    await post(admin, netset("prod", "cache", ["10.4.0.0/16"]))
    await post(admin, netset("dev", "db", ["10.5.0.0/16"], {"export": "true"}))
    for name, labels in (("kns.prod", {"pcns.team": "shop"}), ("kns.dev", {"pcns.team": "lab"}),
                         ("ksa.prod.web", {"pcsa.role": "web"}), ("shared", {"tier": "x"})):
        await post(admin, profile(name, labels))
    await post(admin, export("peer-sets", users=["peer"],
                             kinds=["GlobalNetworkSet", "NetworkSet", "Profile"],
                             namespaces=["prod"], selector="export == 'true'"))
    await post(admin, export("peer-profiles", users=["peer"], kinds=["Profile"],
                             namespaces=["prod"]))
    await post(admin, export("eu-netsets", groups=["team-eu"], kinds=["NetworkSet"]))

    # user "peer": exported labels, namespace prod only; profiles of prod and not tied to one
    assert await names(peer, "globalnetworksets") == ["public"]
    assert await paged(peer, "globalnetworksets") == ["public"]
    assert await watched(peer, "globalnetworksets") == ["public"]
    assert await names(peer, "networksets") == ["prod/db"]
    assert await names(peer, "namespaces/dev/networksets") == []
    assert (await peer.get(f"{GROUP}/globalnetworksets/public")).status_code == 200
    assert (await peer.get(f"{GROUP}/globalnetworksets/private")).status_code == 404
    assert (await peer.get(f"{GROUP}/namespaces/prod/networksets/cache")).status_code == 404
    assert sorted(await names(peer, "profiles")) == ["kns.prod", "ksa.prod.web",
                                                     "projectcalico-default-allow", "shared"]
    assert await names(peer, "federationexports") == ["peer-profiles", "peer-sets"]
    assert (await peer.get(f"{EXPORTS}/eu-netsets")).status_code == 404

    # group "team-eu": every NetworkSet, nothing else
    assert await names(eu, "networksets") == ["dev/db", "prod/cache", "prod/db"]
    assert await names(eu, "globalnetworksets") == []
    assert await names(eu, "profiles") == []
    assert await names(eu, "federationexports") == ["eu-netsets"]

    # a watch started before a label change sees the object come into and leave the export
    rv = (await peer.get(f"{GROUP}/globalnetworksets")).json()["metadata"]["resourceVersion"]
    patch = {"Content-Type": "application/merge-patch+json"}
    await admin.patch(f"{GROUP}/globalnetworksets/private", headers=patch,
                      json={"metadata": {"labels": {"export": "true"}}})
    await admin.patch(f"{GROUP}/globalnetworksets/private", headers=patch,
                      json={"metadata": {"labels": {"export": "no"}}})
    async with peer.stream("GET", f"{GROUP}/globalnetworksets", params={
            "watch": "1", "resourceVersion": rv, "timeoutSeconds": "1"}) as resp:
        events = [json.loads(line) async for line in resp.aiter_lines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events
            if e["type"] != "BOOKMARK"] == [("ADDED", "private"), ("DELETED", "private")]

    # admins see everything, rules included
    assert len(await names(admin, "federationexports")) == 3
    assert len(await names(admin, "networksets")) == 3


async def test_a_rule_must_name_someone_and_be_valid(exporter):
    admin = exporter["admin"]
    for bad, field in ((export("nobody"), "spec.users"),
                       (export("bad-sel", users=["peer"], selector="export =="), "spec.selector"),
                       (export("bad-ns", users=["peer"], namespaces=["Not_A_NS"]),
                        "spec.namespaces[0]"),
                       (export("bad-kind", users=["peer"], kinds=["Tier"]),
                        "spec.kinds[0]")):
        r = await admin.post(EXPORTS, json=bad)
        assert r.status_code == 422, r.text
        assert field in {c["field"] for c in r.json()["details"]["causes"]}, r.json()


def test_the_export_kinds_are_the_catalogs_federated_kinds():
    schema = json.loads((Path(__file__).parent.parent / "schemas" /
                         "federationexport.json").read_text())
    kinds = schema["properties"]["spec"]["properties"]["kinds"]
    assert kinds["items"]["enum"] == [k.kind for k in Catalog() if k.federated]
    assert kinds["maxItems"] == len(kinds["items"]["enum"])


async def test_an_importer_follows_a_change_of_its_export(clean_etcd, peer_etcd,  # noqa: F811
                                                          tmp_path):
    """Narrowing the export removes the copies from the importer, widening brings them in:
    the importer checks its rules on every reconnection (each watch lasts ``watch_seconds``)
    and relists when they changed."""
    quick = dataclasses.replace(FAST, healthy_after=0.5,
                                limits=dataclasses.replace(FAST.limits, watch_seconds=2))
    async with two_clusters(clean_etcd, peer_etcd, tmp_path, quick) as (ca, cb, token_file, b):
        await post(cb, gns("public", ["10.1.0.0/16"], {"export": "true"}))
        await post(cb, gns("private", ["10.3.0.0/16"]))
        await post(ca, rcc("cluster-b", b.url, tokenFile=str(token_file)))

        async def mirrored(*want: str):
            async def check() -> bool:
                got = sorted(await copies(ca, "globalnetworksets", "cluster-b"))
                assert got == sorted(want), got
                return (await status(ca, "cluster-b")).get("state") == "InSync"
            return check
        await eventually(await mirrored("cluster-b.public", "cluster-b.private"),
                         what="everything mirrored")
        rule = (await cb.get(f"{EXPORTS}/to-peer")).json()
        rule["spec"]["selector"] = "export == 'true'"
        assert (await cb.put(f"{EXPORTS}/to-peer", json=rule)).status_code == 200
        await eventually(await mirrored("cluster-b.public"), what="narrowed")
        assert (await cb.delete(f"{EXPORTS}/to-peer")).status_code == 200
        await eventually(await mirrored(), what="nothing exported")
        await post(cb, export("again", users=["peer"], kinds=["GlobalNetworkSet"]))
        await eventually(await mirrored("cluster-b.public", "cluster-b.private"),
                         what="widened again")


async def test_the_built_in_profile_is_no_exception(exporter):
    """The virtual profile that every datastore has is subject to the export rules too."""
    default_allow = f"{GROUP}/profiles/projectcalico-default-allow"
    assert (await exporter["admin"].get(default_allow)).status_code == 200
    assert (await exporter["peer"].get(default_allow)).status_code == 404
    assert "projectcalico-default-allow" not in await names(exporter["peer"], "profiles")
