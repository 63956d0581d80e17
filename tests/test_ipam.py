"""IPAM in libcalico-go's own etcd layout (issue 14.2): blocks, affinities, handles and the
IPAM config written into etcd exactly as libcalico-go serialises them, read back through the
API (get, list, pages, watch), and calicoctl's ``ipam`` commands run as ``ctl`` against a
real apiserver, their output asserted as text."""
from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from calicomodel.catalog import Catalog
from conftest import GROUP, ApiserverProcess, etcdctl
from ctl_harness import Datastore, ctl, ctl_env  # noqa: F401 - ctl_env: the module's server

IPAM = "/calico/ipam/v2"
V3 = "projectcalico.org/v3"


def go_json(value: object) -> bytes:
    """What Go's ``json.Marshal`` writes for libcalico-go's model structs (their field order
    is the dicts' order here)."""
    return json.dumps(value, separators=(",", ":")).encode()


def block(cidr: str, affinity: str | None, allocations: dict[int, int], attributes: list[dict],
          *, sequence: int = 0, sequences: dict[str, int] | None = None) -> bytes:
    """A ``model.AllocationBlock`` of a /26: ordinal → attribute index."""
    value: dict = {"cidr": cidr, "affinity": affinity}
    if affinity:
        value["affinity_claim_time"] = "2026-01-01T00:00:00Z"
    value.update(allocations=[allocations.get(i) for i in range(64)],
                 unallocated=[i for i in range(64) if i not in allocations],
                 attributes=attributes, sequenceNumber=sequence,
                 sequenceNumberForAllocation=sequences, deleted=False)
    return go_json(value)


def pod(handle: str, node: str, namespace: str, name: str) -> dict:
    return {"handle_id": handle, "secondary": {"namespace": namespace, "node": node, "pod": name}}


# calico-node and the CNI plugin on node1 and node2, as they leave etcd: node1's block holds
# its IPIP tunnel address, pod web-1 and a leaked pod address; node2's block lends an address
# to node1 (api-1) and holds one from before allocations named their node; a block whose pool
# is gone holds a leaked address.
SEED = {
    f"{IPAM}/assignment/ipv4/block/10.0.0.0-26": block(
        "10.0.0.0/26", "host:node1", {0: 0, 1: 1, 2: 2}, [
            {"handle_id": "ipip-tunnel-addr-node1",
             "secondary": {"node": "node1", "type": "ipipTunnelAddress"}},
            pod("k8s-pod-network.aaa", "node1", "default", "web-1"),
            pod("k8s-pod-network.bbb", "node1", "default", "gone-1")],
        sequence=5, sequences={"0": 1, "1": 3, "2": 4}),
    f"{IPAM}/assignment/ipv4/block/10.0.0.64-26": block(
        "10.0.0.64/26", "host:node2", {0: 0, 5: 1}, [
            pod("k8s-pod-network.ccc", "node1", "prod", "api-1"),
            {"handle_id": "legacy-handle"}], sequence=2),
    f"{IPAM}/assignment/ipv4/block/192.168.5.0-26": block(
        "192.168.5.0/26", None, {0: 0}, [pod("k8s-pod-network.fff", "node2", "default", "old-1")]),
    f"{IPAM}/host/node1/ipv4/block/10.0.0.0-26": go_json({"state": "confirmed", "deleted": False}),
    f"{IPAM}/host/node2/ipv4/block/10.0.0.64-26": go_json({"state": "confirmed", "deleted": False}),
    f"{IPAM}/virtual/vm-host/ipv4/block/10.0.0.128-26": go_json({"state": "pending",
                                                                  "deleted": False}),
    **{f"{IPAM}/handle/{handle}": go_json({"block": {cidr: 1}, "deleted": False})
       for handle, cidr in (("ipip-tunnel-addr-node1", "10.0.0.0/26"),
                            ("k8s-pod-network.aaa", "10.0.0.0/26"),
                            ("k8s-pod-network.bbb", "10.0.0.0/26"),
                            ("k8s-pod-network.ccc", "10.0.0.64/26"),
                            ("k8s-pod-network.eee", "10.0.0.0/26"),
                            ("k8s-pod-network.fff", "192.168.5.0/26"))},
}
CONFIG = go_json({"auto_allocate_blocks": True, "kubeVirtVMAddressPersistence": "Enabled"})


def _pool(name: str, cidr: str) -> dict:
    return {"apiVersion": V3, "kind": "IPPool", "metadata": {"name": name},
            "spec": {"cidr": cidr, "blockSize": 26, "ipipMode": "Always",
                     "nodeSelector": "all()"}}


def _wep(namespace: str, node: str, pod_name: str, ip: str) -> dict:
    name = f"{node}-k8s-{pod_name.replace('-', '--')}-eth0"
    return {"apiVersion": V3, "kind": "WorkloadEndpoint",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"node": node, "orchestrator": "k8s", "pod": pod_name, "endpoint": "eth0",
                     "interfaceName": f"cali{pod_name.replace('-', '')[:11]}",
                     "ipNetworks": [ip]}}


CLUSTER = [_pool("pool1", "10.0.0.0/24"), _pool("pool2", "10.1.0.0/24"),
           {"apiVersion": V3, "kind": "Node", "metadata": {"name": "node1"},
            "spec": {"bgp": {"ipv4Address": "10.244.0.1/24", "ipv4IPIPTunnelAddr": "10.0.0.0"}}},
           {"apiVersion": V3, "kind": "Node", "metadata": {"name": "node2"}, "spec": {}},
           _wep("default", "node1", "web-1", "10.0.0.1/32"),
           _wep("prod", "node1", "api-1", "10.0.0.64/32"),
           _wep("default", "node2", "rogue-1", "10.0.0.200/32"),
           _wep("default", "node2", "outside-1", "172.16.0.9/32")]


@pytest.fixture
def api(ctl_env):
    with httpx.Client(base_url=ctl_env[0], timeout=10) as client:
        yield client


@pytest.fixture
def seeded(ctl_env, api):
    """The datastore reset to the server's built-ins, then the cluster above: its pools,
    nodes and workloads through the API, its IPAM data straight into etcd."""
    store = ctl_env[1]
    store.reset()
    for obj in CLUSTER:
        plural = {"IPPool": "ippools", "Node": "nodes", "WorkloadEndpoint": "workloadendpoints"}
        ns = obj["metadata"].get("namespace")
        path = f"{GROUP}/namespaces/{ns}/{plural[obj['kind']]}" if ns else \
            f"{GROUP}/{plural[obj['kind']]}"
        r = api.post(path, json=obj)
        assert r.status_code == 201, r.text
    for key, value in SEED.items():
        store.put(key, value)
    return store


@pytest.fixture
def run(ctl_env, seeded, tmp_path: Path):
    """``run(*args, server=None)`` → Run: ctl against the seeded server (or ``server``)."""
    def call(*args: str, server: str | None = None, **kw):
        return ctl(server or ctl_env[0], *args, cwd=tmp_path, **kw)
    return call


def _synced(api: httpx.Client, path: str, count: int) -> list[dict]:
    """The list at ``path`` once the server has seen etcd's writes (a list is consistent)."""
    r = api.get(path)
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == count, r.json()["items"]
    return r.json()["items"]


def _revision(store: Datastore, key: str) -> int:
    return json.loads(etcdctl(store.endpoint, "get", key, "-w", "json"))["kvs"][0]["mod_revision"]


# -- the layout ------------------------------------------------------------------------------
def test_names_and_keys_follow_libcalicos_conventions():
    catalog = Catalog()
    block, affinity = catalog.kind("IPAMBlock").layout, catalog.kind("BlockAffinity").layout
    v6 = f"{IPAM}/assignment/ipv6/block/fd00:0:0:1::-122"
    assert catalog.locate(v6) is catalog.kind("IPAMBlock")
    assert block.parse(v6) == (None, "fd00-0-0-1---122")   # names.CIDRToName
    assert block.key({"spec": {"cidr": "fd00:0:0:1:0:0:0:0/122"}}) == v6
    assert block.parse(f"{IPAM}/assignment/ipv4/block/10.0.0.7-26") == (None, "10-0-0-0-26")
    long_node = "n" * 250
    name = affinity.parse(f"{IPAM}/host/{long_node}/ipv4/block/10.0.0.0-26")[1]
    assert len(name) == 252 and name.startswith("n" * 228 + "-10-0-0-0-26-")
    assert catalog.locate(f"{IPAM}/hostx/n/ipv4/block/10.0.0.0-26") is None
    assert catalog.locate(f"{IPAM}/config") is catalog.kind("IPAMConfiguration")


# -- the API ---------------------------------------------------------------------------------
def test_blocks_affinities_handles_and_config_are_served_from_libcalicos_keys(seeded, api):
    seeded.put(f"{IPAM}/config", CONFIG)
    blocks = _synced(api, f"{GROUP}/ipamblocks", 3)
    assert [b["metadata"]["name"] for b in blocks] == ["10-0-0-0-26", "10-0-0-64-26",
                                                       "192-168-5-0-26"]
    first = api.get(f"{GROUP}/ipamblocks/10-0-0-0-26").json()
    assert first["kind"] == "IPAMBlock" and first["apiVersion"] == V3
    assert first["metadata"]["resourceVersion"] == str(
        _revision(seeded, f"{IPAM}/assignment/ipv4/block/10.0.0.0-26"))
    assert "creationTimestamp" not in first["metadata"]
    spec = first["spec"]
    assert spec["cidr"] == "10.0.0.0/26" and spec["affinity"] == "host:node1"
    assert spec["affinityClaimTime"] == "2026-01-01T00:00:00Z"
    assert spec["allocations"][:4] == [0, 1, 2, None] and spec["unallocated"][0] == 3
    assert spec["attributes"][1] == pod("k8s-pod-network.aaa", "node1", "default", "web-1")
    assert (spec["sequenceNumber"], spec["sequenceNumberForAllocation"]) == \
        (5, {"0": 1, "1": 3, "2": 4})
    assert (spec["deleted"], spec["strictAffinity"]) == (False, False)
    assert "affinity" not in api.get(f"{GROUP}/ipamblocks/192-168-5-0-26").json()["spec"]

    affinities = _synced(api, f"{GROUP}/blockaffinities", 3)
    assert [(a["metadata"]["name"], a["spec"]) for a in affinities] == [
        ("node1-10-0-0-0-26", {"state": "confirmed", "node": "node1", "type": "host",
                               "cidr": "10.0.0.0/26", "deleted": False}),
        ("node2-10-0-0-64-26", {"state": "confirmed", "node": "node2", "type": "host",
                                "cidr": "10.0.0.64/26", "deleted": False}),
        ("vm-host-10-0-0-128-26", {"state": "pending", "node": "vm-host", "type": "virtual",
                                   "cidr": "10.0.0.128/26", "deleted": False})]
    handle = api.get(f"{GROUP}/ipamhandles/ipip-tunnel-addr-node1").json()
    assert handle["spec"] == {"handleID": "ipip-tunnel-addr-node1",
                              "block": {"10.0.0.0/26": 1}, "deleted": False}
    config = api.get(f"{GROUP}/ipamconfigurations/default").json()
    assert config["spec"] == {"strictAffinity": False, "autoAllocateBlocks": True,
                              "kubeVirtVMAddressPersistence": "Enabled"}

    # uid: stable, and new when the key is written again after a delete
    uid = handle["metadata"]["uid"]
    assert api.get(f"{GROUP}/ipamhandles/ipip-tunnel-addr-node1").json()["metadata"]["uid"] == uid
    seeded.put(f"{IPAM}/handle/ipip-tunnel-addr-node1", go_json({"block": {}, "deleted": False}))
    assert api.get(f"{GROUP}/ipamhandles/ipip-tunnel-addr-node1").json()["metadata"]["uid"] == uid
    etcdctl(seeded.endpoint, "del", f"{IPAM}/handle/ipip-tunnel-addr-node1")
    seeded.put(f"{IPAM}/handle/ipip-tunnel-addr-node1", go_json({"block": {}, "deleted": False}))
    assert api.get(f"{GROUP}/ipamhandles/ipip-tunnel-addr-node1").json()["metadata"]["uid"] != uid

    # what is not libcalico-go's is not served: other IPAM keys, undecodable values
    seeded.put(f"{IPAM}/assignment/ipv4/block/not-a-cidr", b"{}")
    seeded.put(f"{IPAM}/handle/broken", b"not json")
    seeded.put(f"{IPAM}/config-backup", CONFIG)
    _synced(api, f"{GROUP}/ipamblocks", 3)
    assert api.get(f"{GROUP}/ipamhandles/broken").status_code == 404
    assert len(api.get(f"{GROUP}/ipamconfigurations").json()["items"]) == 1


def test_pages_span_the_host_and_virtual_affinities(seeded, api):
    _synced(api, f"{GROUP}/blockaffinities", 3)
    names, token = [], ""
    for _ in range(4):
        page = api.get(f"{GROUP}/blockaffinities",
                       params={"limit": "1", **({"continue": token} if token else {})}).json()
        names += [a["metadata"]["name"] for a in page["items"]]
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert names == ["node1-10-0-0-0-26", "node2-10-0-0-64-26", "vm-host-10-0-0-128-26"]
    handles = api.get(f"{GROUP}/ipamhandles", params={"limit": "2"}).json()
    r = api.get(f"{GROUP}/blockaffinities", params={"limit": "1", "continue":
                                                    handles["metadata"]["continue"]})
    assert r.status_code == 400 and "invalid continue token" in r.text


def test_a_watch_sees_what_calico_node_writes(seeded, api):
    _synced(api, f"{GROUP}/ipamhandles", 6)
    with api.stream("GET", f"{GROUP}/ipamhandles",
                    params={"watch": "1", "resourceVersion": api.get(
                        f"{GROUP}/ipamhandles").json()["metadata"]["resourceVersion"]}) as watch:
        seeded.put(f"{IPAM}/handle/K8s-Pod-Network.New", go_json({"block": {"10.0.0.0/26": 2},
                                                                  "deleted": False}))
        etcdctl(seeded.endpoint, "del", f"{IPAM}/handle/k8s-pod-network.eee")
        lines = watch.iter_lines()
        added, deleted = json.loads(next(lines)), json.loads(next(lines))
    assert (added["type"], added["object"]["metadata"]["name"], added["object"]["spec"]) == (
        "ADDED", "k8s-pod-network.new",
        {"handleID": "K8s-Pod-Network.New", "block": {"10.0.0.0/26": 2}, "deleted": False})
    assert (deleted["type"], deleted["object"]["metadata"]["name"]) == \
        ("DELETED", "k8s-pod-network.eee")


def test_bookkeeping_is_read_only_and_the_configuration_is_libcalicos(seeded, api):
    _synced(api, f"{GROUP}/ipamblocks", 3)
    current = api.get(f"{GROUP}/ipamblocks/10-0-0-0-26").json()
    assert api.put(f"{GROUP}/ipamblocks/10-0-0-0-26", json=current).status_code == 405
    assert api.delete(f"{GROUP}/ipamhandles/k8s-pod-network.eee").status_code == 405
    assert api.post(f"{GROUP}/blockaffinities", json={
        "apiVersion": V3, "kind": "BlockAffinity", "metadata": {"name": "n-10-0-0-0-26"},
        "spec": {"state": "confirmed", "node": "n", "cidr": "10.0.0.0/26",
                 "deleted": False}}).status_code == 405

    body = {"apiVersion": V3, "kind": "IPAMConfiguration", "metadata": {"name": "default"},
            "spec": {"strictAffinity": True, "maxBlocksPerHost": 4}}
    created = api.post(f"{GROUP}/ipamconfigurations", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["spec"] == {"strictAffinity": True, "maxBlocksPerHost": 4,
                                      "autoAllocateBlocks": True}
    assert created.json()["metadata"]["uid"] == \
        api.get(f"{GROUP}/ipamconfigurations/default").json()["metadata"]["uid"]
    assert seeded.get_json(f"{IPAM}/config") == \
        {"strict_affinity": True, "auto_allocate_blocks": True, "maxBlocksPerHost": 4}
    assert etcdctl(seeded.endpoint, "get", "--prefix", "/calico/resources/v3/projectcalico.org/"
                   "ipamconfigurations", "--keys-only").strip() == ""

    wrong = api.post(f"{GROUP}/ipamconfigurations", json={**body, "metadata": {"name": "x"}})
    assert wrong.status_code == 422 and "default" in wrong.text
    loose = api.patch(f"{GROUP}/ipamconfigurations/default",
                      content=json.dumps({"spec": {"strictAffinity": False}}),
                      headers={"Content-Type": "application/merge-patch+json"})
    assert loose.status_code == 422
    assert loose.json()["details"]["causes"][0] == {
        "field": "spec.maxBlocksPerHost", "reason": "FieldValueInvalid",
        "message": "MaxBlocksPerHost requires StrictAffinity to be enabled"}



# -- ctl ipam show -----------------------------------------------------------------------------
def test_ipam_show_prints_each_pools_use(run):
    r = run("ipam", "show")
    assert (r.code, r.stderr) == (0, "")
    assert r.stdout == (
        "+----------+-------------+-----------+------------+------------+\n"
        "| GROUPING |    CIDR     | IPS TOTAL | IPS IN USE |  IPS FREE  |\n"
        "+----------+-------------+-----------+------------+------------+\n"
        "| IP Pool  | 10.0.0.0/24 |       256 | 5 (2%)     | 251 (98%)  |\n"
        "| IP Pool  | 10.1.0.0/24 |       256 | 0 (0%)     | 256 (100%) |\n"
        "+----------+-------------+-----------+------------+------------+\n")


def test_ipam_show_blocks_adds_each_block_and_those_of_no_pool(run):
    r = run("ipam", "show", "--show-blocks")
    assert (r.code, r.stderr) == (0, "")
    assert r.stdout == (
        "+----------+----------------+-----------+------------+------------+\n"
        "| GROUPING |      CIDR      | IPS TOTAL | IPS IN USE |  IPS FREE  |\n"
        "+----------+----------------+-----------+------------+------------+\n"
        "| IP Pool  | 10.0.0.0/24    |       256 | 5 (2%)     | 251 (98%)  |\n"
        "| Block    | 10.0.0.0/26    |        64 | 3 (5%)     | 61 (95%)   |\n"
        "| Block    | 10.0.0.64/26   |        64 | 2 (3%)     | 62 (97%)   |\n"
        "| IP Pool  | 10.1.0.0/24    |       256 | 0 (0%)     | 256 (100%) |\n"
        "| Block    | 192.168.5.0/26 |        64 | 1 (2%)     | 63 (98%)   |\n"
        "+----------+----------------+-----------+------------+------------+\n")


def test_ipam_show_borrowed_lists_addresses_used_by_another_node(run):
    r = run("ipam", "show", "--show-borrowed")
    assert (r.code, r.stderr) == (0, "")
    assert r.stdout == (
        "+-------------+----------------+----------------+-------------+------+---------------+\n"
        "|     IP      | BORROWING-NODE |     BLOCK      | BLOCK OWNER | TYPE | ALLOCATED-TO  |\n"
        "+-------------+----------------+----------------+-------------+------+---------------+\n"
        "| 10.0.0.64   | node1          | 10.0.0.64/26   | node2       | pod  | prod/api-1    |\n"
        "| 192.168.5.0 | node2          | 192.168.5.0/26 |             | pod  | default/old-1 |\n"
        "+-------------+----------------+----------------+-------------+------+---------------+\n"
        "\nNote: found 1 IP allocations without an explicit node association. Unable to "
        "determine if they are borrowed.\n")


def test_ipam_show_ip_says_who_holds_an_address(run):
    r = run("ipam", "show", "--ip=10.0.0.1")
    assert (r.code, r.stderr) == (0, "")
    assert r.stdout == ("IP 10.0.0.1 is in use\n"
                        "Handle ID: k8s-pod-network.aaa\n"
                        "Active Owner Attributes:\n"
                        "  namespace: default\n"
                        "  node: node1\n"
                        "  pod: web-1\n")
    legacy = run("ipam", "show", "--ip=10.0.0.69")
    assert legacy.stdout == ("IP 10.0.0.69 is in use\nHandle ID: legacy-handle\n"
                             "No Active Owner attributes defined\n")
    for free in ("10.0.0.9", "10.0.0.130", "172.16.0.9"):   # free; no block; no pool
        assert run("ipam", "show", f"--ip={free}").output == f"{free} is not assigned\n"
    bad = run("ipam", "show", "--ip=10.0.0.999")
    assert (bad.code, bad.stdout) == (1, "Error executing command: invalid IP address "
                                         "specified: 10.0.0.999\n")


def test_ipam_show_configuration_is_libcalicos_or_its_defaults(run, seeded):
    table = ("+------------------------------+{dashes}+\n"
             "|           PROPERTY           |{value}|\n"
             "+------------------------------+{dashes}+\n"
             "| StrictAffinity               | {strict} |\n"
             "| AutoAllocateBlocks           | {auto} |\n"
             "| MaxBlocksPerHost             | {blocks} |\n"
             "| KubeVirtVMAddressPersistence | {kubevirt} |\n"
             "+------------------------------+{dashes}+\n")
    r = run("ipam", "show", "--show-configuration")
    assert r.output == table.format(dashes="-" * 11, value="   VALUE   ", strict="false    ",
                                    auto="true     ", blocks="        0",
                                    kubevirt='"Enabled"')
    seeded.put(f"{IPAM}/config", go_json({"strict_affinity": True, "auto_allocate_blocks": True,
                                          "maxBlocksPerHost": 12}))
    r = run("ipam", "show", "--show-configuration")
    assert r.output == table.format(
        dashes="-" * 35, value=" " * 15 + "VALUE" + " " * 15,
        strict="true" + " " * 29, auto="true" + " " * 29, blocks=" " * 31 + "12",
        kubevirt="(*ipam.VMAddressPersistence)(nil)")


# -- ctl ipam check ----------------------------------------------------------------------------
CHECK = """\
Checking IPAM for inconsistencies...

Loading all IPAM blocks...
Found 3 IPAM blocks.
 IPAM block 10.0.0.0/26 affinity=host:node1:
 IPAM block 10.0.0.64/26 affinity=host:node2:
 IPAM block 192.168.5.0/26 affinity=<none>:
IPAM blocks record 6 allocations.

Loading all IPAM pools...
  10.0.0.0/24
  10.1.0.0/24
Found 2 active IP pools.

Loading all nodes.
Found 1 node tunnel IPs.

Loading all service load balancer IPs.
Kubernetes Services are not served by the apiserver, skipping service check (addresses \
allocated to load balancers count as leaked)

Loading all workload endpoints.
Found 4 workload IPs.
Workloads and nodes are using 5 IPs.

Loading all handles
Looking for top (up to 20) nodes by allocations...
  node1 has 4 allocations
  node2 has 2 allocations
Node with most allocations has 4; median is 2

Scanning for IPs that are allocated but not actually in use...
{leaked}Found 3 IPs that are allocated in IPAM but not actually in use.
Scanning for IPs that are in use by a workload or node but not allocated in IPAM...
{unallocated}Found 1 in-use IPs that are not in active IP pools.
Found 1 in-use IPs that are in active IP pools but have no corresponding IPAM allocation.

Scanning for IPAM handles with no matching IPs...
Found 1 handles with no matching IPs (and 5 handles with matches).
Scanning for IPs with missing handle...
{missing}Found 1 handles mentioned in blocks with no matching handle resource.
Check complete; found 6 problems.
"""


def test_ipam_check_finds_leaked_addresses_and_handles(run, tmp_path):
    r = run("ipam", "check")
    assert (r.code, r.stderr) == (0, "")
    assert r.stdout == CHECK.format(leaked="", unallocated="", missing="")
    problems = run("ipam", "check", "--show-problem-ips")
    assert problems.stdout == CHECK.format(
        leaked="  10.0.0.2 leaked; attrs Main:k8s-pod-network.bbb "
               "Extra:namespace=default,node=node1,pod=gone-1\n"
               "  10.0.0.69 leaked; attrs Main:legacy-handle Extra:\n"
               "  192.168.5.0 leaked; attrs Main:k8s-pod-network.fff "
               "Extra:namespace=default,node=node2,pod=old-1\n",
        unallocated="  10.0.0.200 in use by Workload(default/node2-k8s-rogue--1-eth0) and in "
                    "active IPAM pool but has no IPAM allocation.\n"
                    "  172.16.0.9 in use by Workload(default/node2-k8s-outside--1-eth0) is "
                    "not in any active IP pool.\n",
        missing="  legacy-handle is in use in a block but doesn't exist.\n")


def test_ipam_check_writes_calicoctls_report(run, api, tmp_path):
    assert run("ipam", "check", "-o", "report.json").code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    info = api.get(f"{GROUP}/clusterinformations/default").json()
    handle = api.get(f"{GROUP}/ipamhandles/k8s-pod-network.eee").json()
    assert {k: v for k, v in report.items() if k != "allocations"} == {
        "version": "v3.32.1", "clusterGUID": info["spec"]["clusterGUID"],
        "datastoreLocked": False,
        "clusterInformationRevision": info["metadata"]["resourceVersion"],
        "clusterType": "etcdv3",
        "leakedHandles": [{"ID": "k8s-pod-network.eee", "UID": handle["metadata"]["uid"],
                           "Revision": handle["metadata"]["resourceVersion"]}]}
    assert list(report["allocations"]) == ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.64",
                                           "10.0.0.69", "192.168.5.0"]
    assert report["allocations"]["10.0.0.2"] == [{
        "ip": "10.0.0.2", "handle": "k8s-pod-network.bbb", "sequenceNumber": 4,
        "pod": "gone-1", "namespace": "default", "node": "node1", "inUse": False,
        "owners": None}]
    assert report["allocations"]["10.0.0.64"] == [{
        "ip": "10.0.0.64", "handle": "k8s-pod-network.ccc", "sequenceNumber": 0,
        "pod": "api-1", "namespace": "prod", "node": "node1", "inUse": True, "borrowed": True,
        "owners": ["Workload(prod/node1-k8s-api--1-eth0)"]}]
    assert report["allocations"]["10.0.0.0"][0]["owners"] == ["Node(node1)"]


# -- ctl ipam release --------------------------------------------------------------------------
def test_ipam_release_frees_the_address_in_libcalicos_block(run, seeded):
    r = run("ipam", "release", "--ip=10.0.0.2")
    assert (r.code, r.stdout, r.stderr) == (0, "Successfully released IP address 10.0.0.2\n", "")
    after = seeded.snapshot()
    attributes = json.loads(SEED[f"{IPAM}/assignment/ipv4/block/10.0.0.0-26"])["attributes"]
    assert after[f"{IPAM}/assignment/ipv4/block/10.0.0.0-26"] == go_json({
        "cidr": "10.0.0.0/26", "affinity": "host:node1",
        "affinity_claim_time": "2026-01-01T00:00:00Z",
        "allocations": [0, 1] + [None] * 62, "unallocated": list(range(3, 64)) + [2],
        "attributes": attributes[:2], "sequenceNumber": 6,
        "sequenceNumberForAllocation": {"0": 1, "1": 3}, "deleted": False})
    assert f"{IPAM}/handle/k8s-pod-network.bbb" not in after    # its last address went

    again = run("ipam", "release", "--ip=10.0.0.2")
    assert (again.code, again.stdout, again.stderr) == \
        (1, "", "IP address 10.0.0.2 is not assigned\n")
    outside = run("ipam", "release", "--ip=172.16.0.9")
    assert outside.stderr == "IP address 172.16.0.9 is not assigned\n"

    # a block emptied of addresses and without affinity goes, as libcalico-go deletes it
    assert run("ipam", "release", "--ip=192.168.5.0").code == 0
    after = seeded.snapshot()
    assert f"{IPAM}/assignment/ipv4/block/192.168.5.0-26" not in after
    assert f"{IPAM}/handle/k8s-pod-network.fff" not in after


def test_ipam_release_from_a_report_frees_what_it_found_leaked(run, seeded):
    assert run("datastore", "migrate", "lock").code == 0
    assert run("ipam", "check", "-o", "report.json").code == 0
    r = run("ipam", "release", "--from-report=report.json")
    assert (r.code, r.stderr) == (0, "")
    assert r.stdout == ("Releasing 3 old IPs...\n"
                        "Released 3 IPs successfully\n"
                        "Deleting 1 handles...\n"
                        "Key: '.' = Deleted OK; 'x' = skip, handle missing/changed.\n"
                        ".\n"
                        "Released 1 handles; 0 skipped; 0 errors.\n"
                        "You may now unlock the data store.\n")
    handles = {k.rsplit("/", 1)[1] for k in seeded.snapshot() if k.startswith(f"{IPAM}/handle/")}
    assert handles == {"ipip-tunnel-addr-node1", "k8s-pod-network.aaa", "k8s-pod-network.ccc"}
    assert run("ipam", "check").stdout.endswith("Check complete; found 2 problems.\n")

    assert run("datastore", "migrate", "unlock").code == 0
    stale = run("ipam", "release", "--from-report=report.json")
    assert (stale.code, stale.stderr) == (1, "the provided reports are all stale - at least one "
                                             "should be up-to-date. Please generate a new report "
                                             "while the data store is locked and try again\n")
    assert run("ipam", "check", "-o", "fresh.json").code == 0
    unlocked = run("ipam", "release", "--from-report=fresh.json")
    assert unlocked.stderr == ("data store is not locked. Either lock the data store, or "
                               "re-run with --force\n")


def test_ipam_release_is_for_admins(seeded, tmp_path):
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('admin-token,admin,1,"calico:admin"\nviewer-token,viewer,2,"calico:viewer"\n')
    proc = ApiserverProcess(seeded.endpoint, "--no-federation", "--token-auth-file",
                            str(tokens), token="admin-token").start()
    try:
        viewer = ctl(proc.url, "ipam", "release", "--ip=10.0.0.2", "--token", "viewer-token")
        assert (viewer.code, viewer.stderr) == (
            1, 'error: user "viewer" cannot update resource "ipamblocks" in API group '
               '"projectcalico.org"\n')
        shown = ctl(proc.url, "ipam", "show", "--ip=10.0.0.2", "--token", "viewer-token")
        assert shown.stdout.startswith("IP 10.0.0.2 is in use\n")
        admin = ctl(proc.url, "ipam", "release", "--ip=10.0.0.2", "--token", "admin-token")
        assert admin.stdout == "Successfully released IP address 10.0.0.2\n"
    finally:
        proc.stop()


# -- ctl ipam configure ------------------------------------------------------------------------
def test_ipam_configure_writes_libcalicos_ipam_config(run, seeded):
    for args, message in (
            ((), "at least one configuration option must be specified"),
            (("--strictaffinity=maybe",), "invalid value. Use true or false to set strictaffinity"),
            (("--max-blocks-per-host=many",), "invalid value for maxblockhost. Use a valid number"),
            (("--kubevirt-ip-persistence=on",), "invalid value for --kubevirt-ip-persistence. "
                                                "Use Enabled or Disabled"),
            (("--max-blocks-per-host=3",), "error: MaxBlocksPerHost requires StrictAffinity to "
                                           "be enabled")):
        r = run("ipam", "configure", *args)
        assert (r.code, r.stdout, r.stderr) == (1, "", message + "\n"), args
    assert f"{IPAM}/config" not in seeded.snapshot()

    r = run("ipam", "configure", "--strictaffinity=true", "--max-blocks-per-host=3")
    assert (r.code, r.stderr) == (0, "")
    assert r.stdout == ("Successfully set StrictAffinity to: true\n"
                        "Successfully set MaxBlocksPerHost to: 3\n")
    assert seeded.snapshot()[f"{IPAM}/config"] == go_json({
        "strict_affinity": True, "auto_allocate_blocks": True, "maxBlocksPerHost": 3,
        "kubeVirtVMAddressPersistence": "Enabled"})
    r = run("ipam", "configure", "--max-blocks-per-host=0", "--strictaffinity=F")
    assert r.stdout == ("Successfully set StrictAffinity to: false\n"
                        "Successfully set MaxBlocksPerHost to: 0\n")
    assert seeded.get_json(f"{IPAM}/config") == {"auto_allocate_blocks": True,
                                                 "kubeVirtVMAddressPersistence": "Enabled"}


# -- ctl datastore migrate ---------------------------------------------------------------------
def test_migration_carries_ipam_in_calicoctls_format(run, seeded, own_etcd):
    seeded.put(f"{IPAM}/config", CONFIG)
    assert run("datastore", "migrate", "lock").code == 0
    exported = run("datastore", "migrate", "export")
    assert (exported.code, exported.stderr) == (0, "")
    resources, _, ipam = exported.stdout.split("===\n")
    assert "IPAMConfigurationList" not in resources and "IPAMBlockList" not in resources
    data = json.loads(ipam)
    assert list(data) == ["block_affinities", "blocks", "handles", "config"]
    assert [p["Key"] for p in data["block_affinities"]] == [
        f"{IPAM}/host/node1/ipv4/block/10.0.0.0-26", f"{IPAM}/host/node2/ipv4/block/10.0.0.64-26",
        f"{IPAM}/virtual/vm-host/ipv4/block/10.0.0.128-26"]
    for pair in [*data["block_affinities"], *data["blocks"], *data["handles"]]:
        assert go_json(pair["Value"]) == SEED[pair["Key"]] and pair["TTL"] == 0, pair["Key"]
    assert data["config"] == {"Key": f"{IPAM}/config", "TTL": 0,
                              "Value": json.loads(CONFIG)}
    assert ipam.startswith('{\n  "block_affinities": [\n    {\n      "Key": ')

    target = ApiserverProcess(own_etcd.endpoint, "--no-federation").start()
    try:
        r = run("datastore", "migrate", "import", "-f", "-", server=target.url,
                stdin=exported.stdout)
        assert (r.code, r.stderr) == (0, "")
        assert r.stdout.endswith("Importing IPAM resources\n"
                                 "Successfully applied 13 IPAM resource(s)\n"
                                 "Datastore information successfully imported. Please refer to "
                                 "the datastore migration documentation for next steps.\n")
        copied = Datastore(own_etcd.endpoint).snapshot()
        assert {k: v for k, v in copied.items() if k.startswith(IPAM)} == \
            {**SEED, f"{IPAM}/config": CONFIG}
        again = run("datastore", "migrate", "import", "-f", "-", server=target.url,
                    stdin=exported.stdout)
        assert again.code == 1 and "found existing Calico IPPool resource" in again.stderr
    finally:
        target.stop()
