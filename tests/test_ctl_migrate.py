"""``ctl datastore migrate``: lock and unlock through ClusterInformation's datastoreReady (the
apiserver's one exception to ClusterInformation being read-only), export, and import into a
second apiserver process on its own etcd, after which both hold the same resources but for
server-owned fields."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import yaml

from conftest import GROUP, ApiserverProcess
from ctl_harness import Datastore, ctl, ctl_env, run, write  # noqa: F401 - fixtures too

REPO = Path(__file__).resolve().parents[1]
RESOURCES = "/calico/resources/v3/projectcalico.org"
SERVER_OWNED = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields")
EXTRA = """\
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: quarantine}
spec: {tier: security, selector: quarantine == 'true', types: [Ingress, Egress]}
---
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata: {name: export-only}
spec:
  exportV4: [{action: Accept, matchOperator: In, cidr: 10.0.0.0/8}]
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: tor}
spec: {peerIP: 192.0.2.1, asNumber: 64600, filters: [export-only]}
---
apiVersion: projectcalico.org/v3
kind: CalicoNodeStatus
metadata: {name: node1}
spec: {node: node1, classes: [BGP], updatePeriodSeconds: 10}
"""
COPY = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
        "metadata": {"name": "east.partners", "uid": "u-1",
                     "creationTimestamp": "2026-01-01T00:00:00Z",
                     "labels": {"federation.projectcalico.org/cluster": "east"}},
        "spec": {"nets": ["198.51.100.0/24"]}}


def _clusterinfo(run, server: str | None = None) -> dict:
    args = ("get", "clusterinfo", "default", "-o", "yaml")
    return yaml.safe_load((run(*args, server=server) if server else run(*args)).stdout)["spec"]


def test_lock_and_unlock_set_datastore_ready(run):
    assert run("datastore", "migrate", "lock").stdout == "Datastore locked.\n"
    assert _clusterinfo(run)["datastoreReady"] is False
    assert run("datastore", "migrate", "unlock").stdout == "Datastore unlocked.\n"
    assert _clusterinfo(run)["datastoreReady"] is True


def test_export_needs_a_locked_datastore(run):
    r = run("datastore", "migrate", "export")
    assert (r.code, r.stdout, r.stderr) == (
        1, "", "datastore is not locked. Run the `ctl datastore migrate lock` command in order "
               "to begin migration\n")


def test_only_datastore_ready_of_cluster_information_is_patchable_and_by_an_admin(own_etcd,
                                                                                  tmp_path):
    tokens = write(tmp_path / "tokens.csv", 'admin-token,alice,1,"calico:admin"\n'
                                            'viewer-token,victor,2,"calico:viewer"\n')
    proc = ApiserverProcess(own_etcd.endpoint, "--no-federation", "--token-auth-file",
                            str(tokens), token="admin-token").start()
    path = f"{GROUP}/clusterinformations/default"
    merge = {"Content-Type": "application/merge-patch+json"}
    try:
        with proc.client() as admin:
            r = admin.patch(path, content=json.dumps({"spec": {"datastoreReady": False}}),
                            headers=merge)
            assert r.status_code == 200 and r.json()["spec"]["datastoreReady"] is False
            before = admin.get(path).json()
            r = admin.patch(path, headers=merge, content=json.dumps(
                {"spec": {"datastoreReady": True, "clusterGUID": "mine"},
                 "metadata": {"labels": {"a": "b"}}}))
            assert r.status_code == 405
            assert r.json()["message"] == (
                "operation Patch is not supported on ClusterInformation(default): it is "
                "read-only but for spec.datastoreReady (this patch changes spec.clusterGUID, "
                "metadata.labels)")
            assert admin.get(path).json() == before
            assert admin.put(path, json=before).status_code == 405
            assert admin.delete(path).status_code == 405
            r = admin.post(f"{GROUP}/clusterinformations", json={**before, "metadata": {
                "name": "other"}})
            assert r.status_code == 405
            assert admin.put(path, json=before).headers["Allow"] == "GET, HEAD, PATCH"
        with httpx.Client(base_url=proc.url, timeout=10,
                          headers={"Authorization": "Bearer viewer-token"}) as viewer:
            r = viewer.patch(path, content=json.dumps({"spec": {"datastoreReady": True}}),
                             headers=merge)
            assert r.status_code == 403
    finally:
        proc.stop()


def _state(server: str) -> dict[tuple, dict]:
    """Every object the server holds, by (kind, namespace, name), without server-owned
    metadata; ClusterInformation (each server's own identity) left out."""
    out = {}
    with httpx.Client(base_url=server, timeout=10) as client:
        for res in client.get(GROUP).json()["resources"]:
            if "/" in res["name"] or res["kind"] == "ClusterInformation":
                continue
            for obj in client.get(f"{GROUP}/{res['name']}").json()["items"]:
                meta = {k: v for k, v in obj["metadata"].items() if k not in SERVER_OWNED}
                out[(obj["kind"], meta.get("namespace"), meta["name"])] = {**obj,
                                                                            "metadata": meta}
    return out


def test_a_round_trip_between_two_apiservers_keeps_every_resource(run, ctl_env, own_etcd,
                                                                  tmp_path):
    url, store = ctl_env
    assert run("apply", "-f", str(REPO / "examples")).code == 0
    assert run("apply", "-f", "-", stdin=EXTRA).code == 0
    assert run("patch", "felixconfiguration", "default", "--type=merge", "-p",
               '{"spec":{"wireguardEnabled":true}}').code == 0
    store.put(f"{RESOURCES}/globalnetworksets/east.partners", json.dumps(COPY).encode())
    with httpx.Client(base_url=url, timeout=10) as client:
        status = client.get(f"{GROUP}/caliconodestatuses/node1").json()
        status["status"] = {"lastUpdated": "2026-12-05T10:00:00Z", "bgp": {
            "numberEstablishedV4": 0, "numberNotEstablishedV4": 0, "numberEstablishedV6": 0,
            "numberNotEstablishedV6": 0}}
        assert client.put(f"{GROUP}/caliconodestatuses/node1/status",
                          json=status).status_code == 200
    source = _state(url)
    assert ("GlobalNetworkSet", None, "east.partners") in source

    assert run("datastore", "migrate", "lock").code == 0
    exported = run("datastore", "migrate", "export")
    assert (exported.code, exported.stderr) == (0, "")
    head, info, ipam = exported.stdout.split("===\n")
    assert head.startswith("apiVersion: projectcalico.org/v3\nitems:\n")
    kinds = [line.removeprefix("kind: ") for line in head.splitlines()
             if line.startswith("kind: ")]
    assert kinds[:3] == ["TierList", "BGPFilterList", "IPPoolList"]
    assert kinds.index("BGPFilterList") < kinds.index("BGPPeerList")
    assert "east.partners" not in head and "projectcalico-default-allow" not in head
    assert "uid:" not in head and "resourceVersion:" not in head
    assert json.loads(info)["spec"]["datastoreReady"] is False and ipam == "{}\n"
    write(tmp_path / "datastore.txt", exported.stdout)

    target = ApiserverProcess(own_etcd.endpoint, "--no-federation").start()
    try:
        r = run("datastore", "migrate", "import", "-f", "datastore.txt", server=target.url)
        assert (r.code, r.stderr) == (0, "")
        count = len(source) - 2   # neither the federation copy nor the virtual profile
        assert r.stdout == (
            "Datastore locked.\n"
            f"Successfully applied {count} resource(s)\n"
            "Datastore information successfully imported. Please refer to the datastore "
            "migration documentation for next steps.\n")
        assert _clusterinfo(run, target.url)["datastoreReady"] is False
        assert run("datastore", "migrate", "unlock", server=target.url).code == 0
        assert _clusterinfo(run, target.url)["datastoreReady"] is True
        copied = _state(target.url)
        del source[("GlobalNetworkSet", None, "east.partners")]
        assert copied == source
        r = run("datastore", "migrate", "import", "-f", "datastore.txt", server=target.url)
        assert (r.code, r.stdout) == (1, "")
        assert r.stderr == ("datastore already has Calico resources: found existing Calico "
                            "Tier resource. Import into a new datastore, which holds only the "
                            "apiserver's built-in objects\n")
    finally:
        target.stop()


def test_import_refuses_a_file_that_is_not_an_export(run, tmp_path):
    write(tmp_path / "pool.yaml", "apiVersion: projectcalico.org/v3\nkind: IPPool\n")
    r = run("datastore", "migrate", "import", "-f", "pool.yaml")
    assert (r.code, r.stderr) == (1, "imported file: pool.yaml is improperly formatted. Try "
                                     "recreating with 'ctl datastore migrate export'\n")
