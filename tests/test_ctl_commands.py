"""ctl beyond CRUD (issue 14) as a subprocess against a real apiserver + etcd: node status,
convert, cluster diags, errors that say where, calicoctl's etcd settings, and the defaults a
new datastore holds. Output is asserted as text."""
from __future__ import annotations

import json
import socket
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import GROUP, ApiserverProcess
from ctl.output import box_table
from ctl_harness import ctl, ctl_env, run, write  # noqa: F401 - fixtures too


@pytest.fixture
def api(ctl_env):
    with httpx.Client(base_url=ctl_env[0], timeout=10) as client:
        yield client


def _now(offset: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


# -- node status -----------------------------------------------------------------------------
def _report(api: httpx.Client, node: str, status: dict, *, period: int = 10) -> None:
    """What calico-node does: the CalicoNodeStatus exists (an admin asked for it), and
    calico-node writes its status subresource."""
    body = {"apiVersion": "projectcalico.org/v3", "kind": "CalicoNodeStatus",
            "metadata": {"name": node},
            "spec": {"node": node, "classes": ["Agent", "BGP"], "updatePeriodSeconds": period}}
    assert api.post(f"{GROUP}/caliconodestatuses", json=body).status_code == 201
    current = api.get(f"{GROUP}/caliconodestatuses/{node}").json()
    r = api.put(f"{GROUP}/caliconodestatuses/{node}/status", json={**current, "status": status})
    assert r.status_code == 200, r.text


BGP = {"numberEstablishedV4": 1, "numberNotEstablishedV4": 1, "numberEstablishedV6": 0,
       "numberNotEstablishedV6": 0,
       "peersV4": [{"peerIP": "10.0.0.2", "type": "NodeMesh", "state": "Established",
                    "since": "09:17:21"},
                   {"peerIP": "10.0.0.3", "type": "GlobalPeer", "state": "Active",
                    "since": "2026-11-21"}],
       "peersV6": [{"peerIP": "fd00::2", "type": "NodePeer", "state": "Established",
                    "since": "09:17:25"}]}
BIRD = {"state": "Ready", "version": "v0.3.3+birdv1.6.8", "routerID": "10.0.0.1",
        "lastBootTime": "2026-12-05 09:17:00", "lastReconfigurationTime": "2026-12-05 09:17:00"}


def test_node_status_prints_calicoctls_screen_from_what_calico_node_reported(run, api):
    updated = _now()
    _report(api, "node1", {"lastUpdated": updated, "agent": {"birdV4": BIRD, "birdV6": BIRD},
                           "bgp": BGP})
    r = run("node", "status", "--node", "node1")
    assert (r.code, r.stderr) == (0, "")
    assert r.stdout == f"""\
Calico process is running.

IPv4 BGP status
+--------------+-------------------+-------+------------+-------------+
| PEER ADDRESS |     PEER TYPE     | STATE |   SINCE    |    INFO     |
+--------------+-------------------+-------+------------+-------------+
| 10.0.0.2     | node-to-node mesh | up    | 09:17:21   | Established |
| 10.0.0.3     | global            | start | 2026-11-21 | Active      |
+--------------+-------------------+-------+------------+-------------+

IPv6 BGP status
+--------------+---------------+-------+----------+-------------+
| PEER ADDRESS |   PEER TYPE   | STATE |  SINCE   |    INFO     |
+--------------+---------------+-------+----------+-------------+
| fd00::2      | node specific | up    | 09:17:25 | Established |
+--------------+---------------+-------+----------+-------------+

(reported by calico-node on node1 at {updated}, CalicoNodeStatus node1)
"""


def test_node_status_says_which_bird_is_not_running(run, api):
    updated = _now()
    _report(api, "node2", {"lastUpdated": updated, "agent": {"birdV4": BIRD}, "bgp": {
        "numberEstablishedV4": 0, "numberNotEstablishedV4": 0, "numberEstablishedV6": 0,
        "numberNotEstablishedV6": 0}})
    assert run("node", "status", "--node", "node2").stdout == (
        "Calico process is running.\n\nIPv4 BGP status\nNo IPv4 peers found.\n\n"
        "INFO: BIRDv6 process: 'bird6' is not running.\n\n"
        f"(reported by calico-node on node2 at {updated}, CalicoNodeStatus node2)\n")
    _report(api, "node3", {"lastUpdated": updated, "agent": {
        "birdV4": {**BIRD, "state": "NotReady"}}})
    assert run("node", "status", "--node", "node3").stdout.startswith(
        "Calico process is running.\n\n"
        "None of the BGP backend processes (BIRD or GoBGP) are running.\n\n")


def test_node_status_without_a_report_prints_the_manifest_that_asks_for_one(run):
    r = run("node", "status", "--node", "node9")
    assert r.code == 1
    assert r.stderr == (
        'no CalicoNodeStatus asks calico-node on node "node9" to report its status.\n'
        "To have calico-node on node9 report every 10s, apply the manifest below (ctl node "
        "status --node node9 | ctl apply -f -), then run this command again.\n")
    assert r.stdout == ("apiVersion: projectcalico.org/v3\nkind: CalicoNodeStatus\nmetadata:\n"
                        "  name: node9\nspec:\n  classes:\n  - Agent\n  - BGP\n  node: node9\n"
                        "  updatePeriodSeconds: 10\n")
    assert run("apply", "-f", "-", stdin=r.stdout).stdout == \
        "Successfully applied 1 'CalicoNodeStatus' resource(s)\n"
    r = run("node", "status", "--node", "node9")
    assert r.code == 1 and r.stderr.startswith(
        'CalicoNodeStatus "node9" of node "node9" has not been updated by calico-node yet.\n')


def test_node_status_never_shows_a_stale_report(run, api):
    _report(api, "node4", {"lastUpdated": _now(-60), "bgp": BGP}, period=10)
    r = run("node", "status", "--node", "node4")
    assert r.code == 1 and "+---" not in r.stdout
    assert r.stderr.startswith('CalicoNodeStatus "node4" of node "node4" is stale: calico-node '
                               "last updated it at ")
    assert "more than 3 times its updatePeriodSeconds (10s).\n" in r.stderr
    assert r.stdout.startswith("apiVersion: projectcalico.org/v3\nkind: CalicoNodeStatus\n")


def test_node_status_defaults_to_this_hosts_name(run):
    host = socket.gethostname().strip().lower()
    r = run("node", "status")
    assert r.stderr.startswith(f'no CalicoNodeStatus asks calico-node on node "{host}" ')


def test_calico_node_writes_its_status_as_an_admin_and_a_viewer_cannot(own_etcd, tmp_path):
    tokens = write(tmp_path / "tokens.csv", 'admin-token,alice,1,"calico:admin"\n'
                                            'viewer-token,victor,2,"calico:viewer"\n')
    proc = ApiserverProcess(own_etcd.endpoint, "--no-federation", "--token-auth-file",
                            str(tokens), token="admin-token").start()
    try:
        with proc.client() as admin:
            _report(admin, "node5", {"lastUpdated": _now(), "bgp": BGP})
            status = admin.get(f"{GROUP}/caliconodestatuses/node5").json()
        assert status["status"]["bgp"]["peersV4"][0]["peerIP"] == "10.0.0.2"
        with httpx.Client(base_url=proc.url, timeout=10,
                          headers={"Authorization": "Bearer viewer-token"}) as viewer:
            r = viewer.put(f"{GROUP}/caliconodestatuses/node5/status", json=status)
        assert r.status_code == 403
        r = ctl(proc.url, "node", "status", "--node", "node5", env={"CALICO_TOKEN": "admin-token"})
        assert r.code == 0 and r.stdout.startswith("Calico process is running.\n")
    finally:
        proc.stop()


def test_box_table_wraps_long_cells_as_tablewriter_does():
    assert box_table(["Peer address", "Info"], [["10.0.0.9", "Active Socket: Connection "
                                                              "refused by remote peer"],
                                                ["1", ""]]) == """\
+--------------+--------------------------------+
| PEER ADDRESS |              INFO              |
+--------------+--------------------------------+
| 10.0.0.9     | Active Socket: Connection      |
|              | refused by remote peer         |
|            1 |                                |
+--------------+--------------------------------+
"""


# -- convert ---------------------------------------------------------------------------------
K8S_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-frontend
  namespace: production
spec:
  podSelector:
    matchLabels: {role: db}
    matchExpressions:
    - {key: tier, operator: In, values: [a, b]}
    - {key: legacy, operator: DoesNotExist}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - ipBlock: {cidr: 172.17.0.5/16, except: [172.17.1.0/24]}
    - namespaceSelector: {matchLabels: {project: myproject}}
      podSelector: {matchLabels: {role: frontend}}
    ports:
    - {protocol: TCP, port: 6379}
    - {port: 6380}
    - {protocol: UDP, port: 5000, endPort: 5010}
  egress:
  - to:
    - namespaceSelector: {}
    ports:
    - {port: dns, protocol: UDP}
"""
SELECTOR = ("projectcalico.org/orchestrator == 'k8s' && role == 'db' && tier in { 'a', 'b' } "
            "&& ! has(legacy)")


def test_convert_a_kubernetes_network_policy_as_calico_does(run, tmp_path):
    f = write(tmp_path / "np.yaml", K8S_POLICY)
    r = run("convert", "-f", str(f))
    assert (r.code, r.stderr) == (0, "")
    sources = ("      nets:\n      - 172.17.0.0/16\n      notNets:\n      - 172.17.1.0/24\n",
               "      namespaceSelector: project == 'myproject'\n      selector: "
               "projectcalico.org/orchestrator == 'k8s' && role == 'frontend'\n")
    ingress = "".join(f"  - action: Allow\n    destination:\n      ports:\n      - {ports}\n"
                      f"    protocol: {protocol}\n    source:\n{source}"
                      for protocol, ports in (("TCP", "6379:6380"), ("UDP", "5000:5010"))
                      for source in sources)
    assert r.stdout == (
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n"
        "  name: allow-frontend\n  namespace: production\nspec:\n  egress:\n"
        "  - action: Allow\n    destination:\n      namespaceSelector: all()\n      ports:\n"
        "      - dns\n      selector: projectcalico.org/orchestrator == 'k8s'\n"
        f"    protocol: UDP\n  ingress:\n{ingress}  order: 1000\n  selector: {SELECTOR}\n"
        "  types:\n  - Ingress\n  - Egress\n")
    as_json = json.loads(run("convert", "-f", str(f), "-o", "json").stdout)
    assert list(as_json) == ["kind", "apiVersion", "metadata", "spec"]
    assert list(as_json["spec"]) == ["order", "ingress", "egress", "selector", "types"]
    assert list(as_json["spec"]["ingress"][1]["source"]) == ["selector", "namespaceSelector"]
    assert run("apply", "-f", "-", stdin=r.stdout).stdout == \
        "Successfully applied 1 'NetworkPolicy' resource(s)\n"


def test_convert_several_policies_prints_a_v1_list(run, tmp_path):
    deny = ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\n"
            "spec: {podSelector: {}}\n")
    r = run("convert", "-f", str(write(tmp_path / "two.yaml", K8S_POLICY + "---\n" + deny)))
    listed = yaml.safe_load(r.stdout)
    assert (listed["apiVersion"], listed["kind"], listed["metadata"]) == ("v1", "List", {})
    assert listed["items"][1] == {
        "apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
        "metadata": {"name": "deny"},
        "spec": {"order": 1000, "selector": "projectcalico.org/orchestrator == 'k8s'",
                 "types": ["Ingress"]}}


V1 = """\
- apiVersion: v1
  kind: policy
  metadata: {name: allow-tcp-6379, tier: Web_Tier}
  spec:
    order: 10
    selector: role == 'database' && calico/k8s_ns == 'prod'
    ingress:
    - action: allow
      protocol: tcp
      source: {tag: frontend, net: 10.0.0.7/24}
      destination:
        ports: [6379, 8:9]
    preDNAT: true
- apiVersion: v1
  kind: profile
  metadata: {name: k8s_ns.prod, labels: {zone: b}, tags: [web]}
  spec:
    egress:
    - action: pass
- apiVersion: v1
  kind: ipPool
  metadata: {cidr: 10.1.0.0/16}
  spec:
    ipip: {enabled: true, mode: cross-subnet}
    nat-outgoing: true
---
apiVersion: v1
kind: bgpPeer
metadata: {scope: node, node: Rack1.Host2, peerIP: "2001:db8::1"}
spec: {asNumber: 64514}
---
apiVersion: v1
kind: workloadEndpoint
metadata:
  name: eth0
  workload: prod.web-1
  orchestrator: k8s
  node: rack1-host1
  labels: {app: web, calico/k8s_ns: prod}
spec:
  interfaceName: cali0ef24ba
  ipNetworks: [192.168.0.1/32]
  profiles: [k8s_ns.prod]
"""


def test_convert_calico_v1_resources_as_calicoctl_did(run, tmp_path):
    r = run("convert", "-f", "-", stdin=V1)
    assert (r.code, r.stderr) == (0, "")
    items = {item["kind"]: item for item in yaml.safe_load(r.stdout)["items"]}
    tier = "web-tier-38278387"
    assert items["GlobalNetworkPolicy"] == {
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
        "metadata": {"name": f"{tier}.allow-tcp-6379",
                     "labels": {"projectcalico.org/tier": tier}},
        "spec": {"tier": tier, "order": 10, "selector":
                 "role == 'database' && projectcalico.org/namespace == 'prod'",
                 "ingress": [{"action": "Allow", "protocol": "TCP",
                              "source": {"nets": ["10.0.0.0/24"], "selector": "frontend == ''"},
                              "destination": {"ports": [6379, "8:9"]}}],
                 "types": ["Ingress"], "preDNAT": True, "applyOnForward": True}}
    assert items["Profile"]["metadata"] == {"name": "kns.prod"}
    assert items["Profile"]["spec"] == {"egress": [{"action": "Pass"}],
                                        "labelsToApply": {"web": "", "zone": "b"}}
    assert items["IPPool"]["metadata"] == {"name": "10-1-0-0-16"}
    assert items["IPPool"]["spec"] == {
        "cidr": "10.1.0.0/16", "vxlanMode": "Never", "ipipMode": "CrossSubnet",
        "natOutgoing": True, "blockSize": 26, "nodeSelector": "all()",
        "allowedUses": ["Workload", "Tunnel"], "assignmentMode": "Automatic"}
    assert items["BGPPeer"]["metadata"] == {
        "name": "rack1.host2.2001-0db8-0000-0000-0000-0000-0000-0001"}
    assert items["BGPPeer"]["spec"] == {"node": "rack1.host2", "peerIP": "2001:db8::1",
                                        "asNumber": 64514}
    assert items["WorkloadEndpoint"]["metadata"] == {
        "name": "rack1--host1-k8s-web--1-eth0", "namespace": "prod",
        "labels": {"app": "web", "projectcalico.org/namespace": "prod"}}
    assert items["WorkloadEndpoint"]["spec"] == {
        "orchestrator": "k8s", "node": "rack1-host1", "pod": "web-1", "endpoint": "eth0",
        "ipNetworks": ["192.168.0.1/32"], "profiles": ["kns.prod"],
        "interfaceName": "cali0ef24ba"}
    assert '      - "8:9"\n' in r.stdout


def test_convert_errors_are_calicoctls(run, tmp_path):
    bad_port = K8S_POLICY.replace("port: 6379}", "port: -50:-1}")
    r = run("convert", "-f", str(write(tmp_path / "bad.yaml", bad_port)))
    assert (r.code, r.stdout) == (1, "")
    assert r.stderr == (
        "failed to convert resource: failed to convert k8s resource: policy: allow-frontend: "
        "error with rule ingress[0] (k8s rule couldn't be converted: failed to parse k8s port: "
        "invalid port -50:-1: invalid name for named port (-50:-1))\n")
    superscript = K8S_POLICY.replace("port: 6379}", "port: \"\u00b2\"}")   # a digit to isdigit()
    r = run("convert", "-f", str(write(tmp_path / "sup.yaml", superscript)))
    assert r.code == 1 and r.stderr.endswith(
        "invalid port \u00b2: invalid name for named port (\u00b2))\n"), r.stderr
    r = run("convert", "-f", "-", stdin="apiVersion: v1\nkind: tier\nmetadata: {name: t}\n")
    assert r.stderr == ("failed to create resources from file: unknown resource type (tier) "
                        "and/or version (v1)\n")
    r = run("convert", "-f", "-", "-o", "ps", stdin=K8S_POLICY)
    assert r.stderr == "unrecognized output format 'ps'\n"
    invalid = K8S_POLICY.replace("role: db}", "role: 'db'''}")
    r = run("convert", "-f", "-", stdin=invalid)
    assert r.code == 1 and r.stderr.startswith(
        "converted manifest resource(s) failed validation: error with field ")
    assert r.stderr.endswith("Re-run the command with '--ignore-validation' flag to see the "
                             "converted output\n")
    assert run("convert", "-f", "-", "--ignore-validation", stdin=invalid).code == 0


# -- cluster diags ---------------------------------------------------------------------------
def test_cluster_diags_bundles_resources_and_server_state(run, tmp_path):
    pool = ("apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: pool1}\n"
            "spec: {cidr: 10.9.0.0/16}\n")
    assert run("apply", "-f", "-", stdin=pool).code == 0
    r = run("cluster", "diags")
    assert (r.code, r.stderr) == (0, "")
    lines = r.stdout.splitlines()
    assert lines[0] == "==== Begin collecting diagnostics. ===="
    assert lines[1].startswith("Created temporary directory: ")
    assert lines[2:8] == ["Collecting cluster information...",
                          "[1] Collect apiserver version", "[2] Collect API discovery",
                          "[3] Collect API discovery of projectcalico.org/v3",
                          "[4] Collect apiserver metrics",
                          "[5] Collect apiserver readiness (verbose)"]
    assert "[6] Collect Calico bgpconfigurations.v3.projectcalico.org (yaml)" in lines
    assert lines[-4:-1] == [lines[-4], "", "==== Producing a diagnostics bundle. ===="]
    assert lines[-4].endswith("Collect federation status")
    archive = lines[-1].removeprefix("Diagnostic bundle created at ./")
    assert archive.startswith("calico-diagnostics-") and archive.endswith(".tar.gz")
    assert not Path(lines[1].split(": ")[1]).exists()    # the temporary directory is gone
    with tarfile.open(tmp_path / archive) as tar:
        top = archive.removesuffix(".tar.gz") + "/cluster/"
        read = {m.name.removeprefix(top): tar.extractfile(m).read().decode()
                for m in tar.getmembers() if m.isfile()}
    assert {"version.json", "discovery/apis.json", "discovery/projectcalico.org-v3.json",
            "metrics.txt", "readyz.txt", "federation-status.yaml",
            "crd/ippools.projectcalico.org.yaml", "crd/ippools.projectcalico.org.txt",
            "crd/networkpolicies.projectcalico.org.txt"} <= set(read)
    assert "readyz check passed" in read["readyz.txt"]
    assert "# TYPE" in read["metrics.txt"]
    assert json.loads(read["discovery/projectcalico.org-v3.json"])["groupVersion"] == \
        "projectcalico.org/v3"
    pools = yaml.safe_load(read["crd/ippools.projectcalico.org.yaml"])
    assert pools["kind"] == "IPPoolList" and pools["items"][0]["metadata"]["name"] == "pool1"
    assert read["crd/ippools.projectcalico.org.txt"].startswith("NAME    CIDR  ")
    assert read["crd/networkpolicies.projectcalico.org.txt"].startswith("NAMESPACE   NAME ")


# -- errors that say where -------------------------------------------------------------------
def test_errors_name_the_file_document_and_paths_and_a_repeated_cause_once(run, tmp_path):
    ports = "".join(f"  - {{protocol: {p}, port: {n}}}\n" for p, n in
                    (("tcp", 22), ("udp", 68), ("tcp", 179), ("tcp", 2379), ("tcp", 6443)))
    felix = ("apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\n"
             f"metadata: {{name: default}}\nspec:\n  failsafeInboundHostPorts:\n{ports}")
    policy = ("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n"
              "  name: allow-tcp-6379\n  namespace: production\nspec:\n"
              "  selector: role == 'database'\n  ingress:\n  - action: Allow\n"
              "    protocol: TCP\n    destination: {ports: [6379], nets: [10.0.0.0/33]}\n")
    write(tmp_path / "policy.yaml", felix + "---\n" + policy)
    r = run("apply", "-f", "policy.yaml")
    assert (r.code, r.stdout) == (1, "")
    reason = "protocol must be 'TCP', 'UDP' or 'SCTP', not '{}'"
    felix_at = "file policy.yaml, document 1 (FelixConfiguration default): "
    assert r.stderr == (
        "failed to apply any resources: [error with the following fields:\n"
        f"-  Protocol = 'tcp' ({reason.format('tcp')})\n"
        f"-  Protocol = 'udp' ({reason.format('udp')})\n"
        " error with field Net = '10.0.0.0/33' (invalid CIDR '10.0.0.0/33')]\n"
        + felix_at + ", ".join(f"spec.failsafeInboundHostPorts[{i}].protocol"
                               for i in (0, 2, 3, 4))
        + f": Protocol = 'tcp' ({reason.format('tcp')})\n"
        + felix_at + "spec.failsafeInboundHostPorts[1].protocol"
        + f": Protocol = 'udp' ({reason.format('udp')})\n"
        "file policy.yaml, document 2 (NetworkPolicy production/allow-tcp-6379): "
        "spec.ingress[0].destination.nets[0]\n")
    r = run("create", "-f", "-", stdin=policy)
    assert r.stderr.endswith("\nstdin, document 1 (NetworkPolicy production/allow-tcp-6379): "
                             "spec.ingress[0].destination.nets[0]\n")


# -- calicoctl's etcd settings and the program's help ----------------------------------------
ETCD_CONFIG = """\
apiVersion: projectcalico.org/v3
kind: CalicoAPIConfig
metadata:
spec:
  datastoreType: etcdv3
  etcdEndpoints: https://etcd1:2379
"""
REPLACED = ("ctl talks to the Calico apiserver, not to the datastore, so it does not use "
            "calicoctl's datastore settings ({}): give the apiserver's URL with spec.apiServer "
            "in the config file, --server or CALICO_APISERVER\n")


def test_calicoctls_etcd_settings_say_which_setting_ctl_needs(ctl_env, tmp_path):
    cfg = write(tmp_path / "calicoctl.cfg", ETCD_CONFIG)
    r = ctl("", "get", "pools", "-c", str(cfg))
    assert (r.code, r.stdout) == (1, "")
    assert r.stderr == REPLACED.format(f"datastoreType: etcdv3, etcdEndpoints: "
                                       f"https://etcd1:2379 in {cfg}")
    r = ctl("", "get", "pools", env={"DATASTORE_TYPE": "etcdv3",
                                     "ETCD_ENDPOINTS": "http://10.0.0.1:2379"})
    assert r.stderr == REPLACED.format("DATASTORE_TYPE=etcdv3, "
                                       "ETCD_ENDPOINTS=http://10.0.0.1:2379 in the environment")
    r = ctl("", "get", "pools", "-c", str(cfg), "--server", ctl_env[0])
    assert r.code == 0 and r.stdout.startswith("NAME ")
    text = " ".join(ctl("", "--help").stdout.split())
    assert "manages Calico network and security policy and endpoint configuration through " \
           "the Calico apiserver" in text
    assert "node instance" not in text


# -- what a new datastore holds --------------------------------------------------------------
def test_the_talks_commands_work_on_a_new_datastore(run):
    r = run("patch", "felixconfiguration", "default", "--type=merge", "-p",
            '{"spec":{"wireguardEnabled":true}}')
    assert (r.code, r.stdout, r.stderr) == (
        0, "Successfully patched 1 'FelixConfiguration' resource\n", "")
    felix = json.loads(run("get", "felixconfiguration", "default", "-o", "json").stdout)
    assert felix["spec"]["wireguardEnabled"] is True
    assert felix["spec"]["reportingInterval"] == "0s"
    r = run("get", "bgpconfig", "default")
    assert r.stdout == ("NAME      LOGSEVERITY   MESHENABLED   ASNUMBER   \n"
                        "default   " + "Info".ljust(14) + " " * 25 + "\n\n")
    r = run("patch", "kubecontrollersconfiguration", "default", "-p",
            '{"spec":{"logSeverityScreen":"Debug"}}')
    assert r.stdout == "Successfully patched 1 'KubeControllersConfiguration' resource\n"
