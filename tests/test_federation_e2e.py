"""Federation end to end: three real clusters on loopback (3 etcds + 3 apiserver processes,
tokens with the calico:federation role, a full mesh of RemoteClusterConfigurations).
cluster-b's apiserver reaches its etcd through a TCP proxy that a test can cut.

Convergence is awaited by polling with a deadline; nothing here asserts on timing."""
from __future__ import annotations

import asyncio
import datetime
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import httpx
import pytest

from conftest import GROUP, gns, netset, ApiserverProcess, TcpProxy, _tmp_root, etcdctl, metric
from apiserver.storage.embedded import EmbeddedEtcd
from ctl_harness import ctl

CLUSTER_LABEL = "federation.projectcalico.org/cluster"
NAMES = ("cluster-a", "cluster-b", "cluster-c")
DEADLINE = 30.0
PLURALS = {"GlobalNetworkSet": "globalnetworksets", "NetworkSet": "networksets",
           "FederationExport": "federationexports",
           "GlobalNetworkPolicy": "globalnetworkpolicies",
           "RemoteClusterConfiguration": "remoteclusterconfigurations"}


def eventually(check: Callable[[], object], *, timeout: float = DEADLINE,
               what: str = "condition") -> object:
    """Poll ``check`` until it returns a truthy value (returned) or raises no AssertionError."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = check()
            if last:
                return last
        except (AssertionError, httpx.HTTPError) as err:
            last = err
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s; last: {last!r}")
        time.sleep(0.1)


class Relay:
    """conftest's TcpProxy, run on an event loop of its own thread for these synchronous tests:
    an etcd the apiserver cannot reach (``cut``) while the test still can."""

    def __init__(self, etcd_endpoint: str) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.proxy = TcpProxy(etcd_endpoint.split("//", 1)[-1])
        self._run(self.proxy.start())
        self.endpoint = self.proxy.endpoint

    def _run(self, coro) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    async def _call(self, fn) -> None:
        fn()

    def cut(self) -> None:
        self._run(self._call(self.proxy.cut))

    def restore(self) -> None:
        self._run(self._call(self.proxy.restore))

    def stop(self) -> None:
        self._run(self.proxy.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


class Cluster:
    """One cluster: its own etcd and apiserver process, an admin token and a federation
    token for its peers. With ``relay`` its apiserver reaches etcd through a Relay."""

    def __init__(self, name: str, root: Path, *extra: str, relay: bool = False) -> None:
        self.name, self.root = name, root / name
        self.root.mkdir(parents=True)
        self.etcd = EmbeddedEtcd(self.root / "etcd", name=name.replace("-", ""))
        self.admin_token = f"admin-{name}-secret"
        self.fed_token = f"fed-{name}-secret"
        self.token_file = self.root / "tokens.csv"
        self.token_file.write_text(f'{self.admin_token},admin,1,"calico:admin"\n'
                                   f'{self.fed_token},peer,2,"calico:federation"\n')
        self.peer_token_file = self.root / "federation.token"   # given to the other clusters
        self.peer_token_file.write_text(self.fed_token + "\n")
        self.extra = extra
        self.api: ApiserverProcess | None = None
        self.relay: Relay | None = None
        self._relayed = relay

    def start_etcd(self) -> None:
        self.etcd.start()
        if self._relayed:
            self.relay = Relay(self.etcd.endpoint)

    def start_api(self, *, port: int | None = None) -> None:
        endpoint = self.relay.endpoint if self.relay else self.etcd.endpoint
        self.api = ApiserverProcess(endpoint, "--cluster-name", self.name,
                                    "--token-auth-file", str(self.token_file),
                                    "--federation-credentials-dir", str(self.root.parent),
                                    *self.extra,
                                    port=port or (self.api.port if self.api else None))
        self.api.start(wait=False)
        eventually(self._ready, what=f"{self.name} ready")
        self.apply({"apiVersion": "projectcalico.org/v3", "kind": "FederationExport",
                    "metadata": {"name": "to-peers"}, "spec": {"users": ["peer"]}})

    def _ready(self) -> bool:
        if self.api.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited: {self.api.output()}")
        return httpx.get(self.api.url + "/readyz", timeout=2).status_code == 200 and \
            self.client().get(f"{GROUP}/tiers/default").status_code == 200

    @property
    def url(self) -> str:
        return self.api.url

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.api.url, timeout=10, headers={
            "Authorization": f"Bearer {token or self.admin_token}"})

    def stop(self) -> None:
        if self.api:
            self.api.stop()
        if self.relay:
            self.relay.stop()
        self.etcd.stop()

    # -- helpers -----------------------------------------------------------------------------
    def apply(self, obj: dict) -> dict:
        kind = PLURALS[obj["kind"]]
        ns = obj["metadata"].get("namespace")
        base = f"{GROUP}/namespaces/{ns}/{kind}" if ns else f"{GROUP}/{kind}"
        with self.client() as c:
            r = c.get(f"{base}/{obj['metadata']['name']}")
            if r.status_code == 404:
                r = c.post(base, json=obj)
            else:
                body = {**obj, "metadata": {**obj["metadata"],
                                            "resourceVersion": r.json()["metadata"]["resourceVersion"]}}
                r = c.put(f"{base}/{obj['metadata']['name']}", json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def delete(self, plural: str, name: str, namespace: str | None = None) -> httpx.Response:
        base = f"{GROUP}/namespaces/{namespace}/{plural}" if namespace else f"{GROUP}/{plural}"
        with self.client() as c:
            return c.delete(f"{base}/{name}")

    def items(self, plural: str, **params: str) -> list[dict]:
        with self.client() as c:
            r = c.get(f"{GROUP}/{plural}", params=params)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    def copies(self, plural: str, peer: str) -> dict[str, dict]:
        """This cluster's copies from ``peer``: {"[ns/]name": spec}."""
        return {_ident(o): o["spec"] for o in self.items(plural, labelSelector=f"{CLUSTER_LABEL}={peer}")}

    def local(self, plural: str) -> dict[str, dict]:
        return {_ident(o): o["spec"] for o in self.items(plural)
                if CLUSTER_LABEL not in (o["metadata"].get("labels") or {})}

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of the series ``name`` whose labels include ``labels``."""
        with self.client() as c:
            return metric(c.get("/metrics").text, name, **labels)

    def rcc_status(self, peer: str) -> dict:
        with self.client() as c:
            r = c.get(f"{GROUP}/remoteclusterconfigurations/{peer}")
        assert r.status_code == 200, r.text
        return r.json().get("status") or {}

    def add_peer(self, other: "Cluster", **sync_options) -> None:
        spec: dict = {"apiServer": other.url, "tokenFile": str(other.peer_token_file)}
        if sync_options:
            spec["syncOptions"] = sync_options
        self.apply(rcc(other.name, spec))


def _ident(obj: dict) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def rcc(name: str, spec: dict) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "RemoteClusterConfiguration",
            "metadata": {"name": name}, "spec": spec}


def expected_copies(source: Cluster, plural: str) -> dict[str, dict]:
    """What a peer of ``source`` should hold: every locally authored object, renamed."""
    out = {}
    for ident, spec in source.local(plural).items():
        ns, _, name = ident.rpartition("/")
        out[f"{ns}/{source.name}.{name}" if ns else f"{source.name}.{name}"] = spec
    return out


def converged(dst: Cluster, src: Cluster) -> Callable[[], bool]:
    def check() -> bool:
        for plural in ("globalnetworksets", "networksets"):
            want, got = expected_copies(src, plural), dst.copies(plural, src.name)
            assert got == want, f"{dst.name} <- {src.name} {plural}: {got} != {want}"
        return True
    return check


@pytest.fixture(scope="module")
def mesh():
    """Three clusters, full mesh of RCCs."""
    root = Path(tempfile.mkdtemp(prefix="federation-", dir=_tmp_root()))
    clusters = [Cluster(n, root, relay=n == "cluster-b") for n in NAMES]
    try:
        for c in clusters:
            c.start_etcd()
            c.start_api()
        for c in clusters:
            for other in clusters:
                if other is not c:
                    c.add_peer(other)
        for c in clusters:
            for other in clusters:
                if other is not c:
                    eventually(lambda: c.rcc_status(other.name).get("state") == "InSync",
                               what=f"{c.name} in sync with {other.name}")
        yield {c.name: c for c in clusters}
    finally:
        for c in clusters:
            c.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_create_update_delete_and_label_changes_propagate(mesh):
    a, b, c = mesh["cluster-a"], mesh["cluster-b"], mesh["cluster-c"]
    b.apply(gns("db-hosts", ["10.1.0.0/16", "10.2.0.1/32"], {"role": "db"}))
    b.apply(netset("prod", "web", ["192.168.1.0/24"], {"role": "web"}))
    for dst in (a, c):
        eventually(converged(dst, b), what=f"{dst.name} mirrors cluster-b")
    copy = a.items("globalnetworksets", fieldSelector="metadata.name=cluster-b.db-hosts")[0]
    assert copy["metadata"]["labels"] == {"role": "db", CLUSTER_LABEL: "cluster-b"}
    ann = copy["metadata"]["annotations"]
    assert ann["federation.projectcalico.org/origin-name"] == "db-hosts"
    origin = b.items("globalnetworksets", fieldSelector="metadata.name=db-hosts")[0]
    assert ann["federation.projectcalico.org/origin-uid"] == origin["metadata"]["uid"]
    assert ann["federation.projectcalico.org/origin-resource-version"] == \
        origin["metadata"]["resourceVersion"]

    b.apply(gns("db-hosts", ["10.9.0.0/16"], {"role": "db", "tier": "gold"}))
    eventually(converged(a, b), what="update propagates")
    eventually(lambda: a.items("globalnetworksets", fieldSelector="metadata.name=cluster-b.db-hosts")
               [0]["metadata"]["labels"].get("tier") == "gold", what="label change propagates")
    assert b.delete("globalnetworksets", "db-hosts").status_code == 200
    assert b.delete("networksets", "web", "prod").status_code == 200
    for dst in (a, c):
        eventually(converged(dst, b), what="delete propagates")
        assert dst.copies("globalnetworksets", "cluster-b") == {}


def test_policy_selects_copies_of_a_cluster(mesh):
    a, b = mesh["cluster-a"], mesh["cluster-b"]
    b.apply(gns("payments", ["10.50.0.0/16"], {"role": "db"}))
    b.apply(gns("frontends", ["10.60.0.0/16"], {"role": "web"}))
    eventually(converged(a, b), what="copies present")
    selector = f"{CLUSTER_LABEL} == 'cluster-b' && role == 'db'"
    policy = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
              "metadata": {"name": "allow-b-dbs"},
              "spec": {"selector": "all()", "types": ["Egress"], "egress": [
                  {"action": "Allow", "destination": {"selector": selector}}]}}
    a.apply(policy)
    selected = a.items("globalnetworksets", selector=selector)
    assert [o["metadata"]["name"] for o in selected] == ["cluster-b.payments"]
    for name in ("payments", "frontends"):
        b.delete("globalnetworksets", name)
    eventually(converged(a, b), what="cleanup")


def test_copies_are_read_only(mesh):
    a, b = mesh["cluster-a"], mesh["cluster-b"]
    b.apply(gns("ro", ["10.70.0.0/16"]))
    eventually(converged(a, b), what="copy present")
    with a.client() as cl:
        path = f"{GROUP}/globalnetworksets/cluster-b.ro"
        current = cl.get(path).json()
        for resp in (cl.delete(path),
                     cl.put(path, json={**current, "spec": {"nets": ["1.2.3.4/32"]}}),
                     cl.patch(path, json={"spec": {"nets": []}},
                              headers={"Content-Type": "application/merge-patch+json"}),
                     cl.post(f"{GROUP}/globalnetworksets", json=gns(
                         "fake", ["1.1.1.1/32"], {CLUSTER_LABEL: "cluster-b"}))):
            assert resp.status_code == 403, resp.text
            assert "cluster-b" in resp.json()["message"]
    b.delete("globalnetworksets", "ro")
    eventually(converged(a, b), what="cleanup")


def test_federation_token_sees_no_copies_and_mesh_is_loop_free(mesh):
    a, b, c = mesh["cluster-a"], mesh["cluster-b"], mesh["cluster-c"]
    a.apply(gns("from-a", ["10.10.0.0/16"]))
    b.apply(gns("from-b", ["10.20.0.0/16"]))
    c.apply(gns("from-c", ["10.30.0.0/16"]))
    for dst in mesh.values():
        for src in mesh.values():
            if dst is not src:
                eventually(converged(dst, src), what=f"{dst.name} mirrors {src.name}")
    for cl in mesh.values():
        names = sorted(o["metadata"]["name"] for o in cl.items("globalnetworksets")
                       if "from-" in o["metadata"]["name"])
        # exactly one copy per foreign set, never a copy of a copy (no "cluster-a.cluster-b.x")
        assert names == sorted([f"from-{cl.name[-1]}"] + [f"{n}.from-{n[-1]}" for n in NAMES
                                                          if n != cl.name]), names
        with cl.client(cl.fed_token) as fed:
            exported = fed.get(f"{GROUP}/globalnetworksets").json()["items"]
            assert [o["metadata"]["name"] for o in exported] == [f"from-{cl.name[-1]}"]
            assert fed.get(f"{GROUP}/tiers").status_code == 403
    for cl, name in ((a, "from-a"), (b, "from-b"), (c, "from-c")):
        cl.delete("globalnetworksets", name)
    for dst in mesh.values():
        for src in mesh.values():
            if dst is not src:
                eventually(converged(dst, src), what="cleanup")


def test_metrics_need_authentication(mesh):
    a = mesh["cluster-a"]
    assert httpx.get(a.url + "/metrics").status_code == 401
    with a.client(a.fed_token) as fed:
        r = fed.get("/metrics")
        assert r.status_code == 403 and 'cannot get path "/metrics"' in r.json()["message"]
    with a.client() as cl:
        text = cl.get("/metrics").text
    assert 'calico_federation_peer_state{kind="GlobalNetworkSet",peer="cluster-b",state="InSync"} 1.0' in text
    assert "calico_federation_lag_seconds" in text and "calico_federation_full_resyncs_total" in text


def test_status_and_metrics_report_what_is_mirrored(mesh):
    a, b = mesh["cluster-a"], mesh["cluster-b"]
    started = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    series = {"peer": "cluster-b", "kind": "GlobalNetworkSet"}
    eventually(converged(a, b), what="quiet to begin with")
    applied = a.metric("calico_federation_events_applied_total", **series)
    b.apply(gns("counted-1", ["10.81.0.0/24"]))
    b.apply(gns("counted-2", ["10.82.0.0/24"]))
    b.apply(gns("counted-1", ["10.81.1.0/24"]))
    r = b.delete("globalnetworksets", "counted-2")
    assert r.status_code == 200, r.text
    last_change = int(r.json()["metadata"]["resourceVersion"])
    eventually(converged(a, b), what="the changes propagate")
    sets, netsets = len(b.local("globalnetworksets")), len(b.local("networksets"))

    def reported() -> bool:
        st = a.rcc_status("cluster-b")
        assert st["state"] == "InSync" and st["objects"] == sets + netsets, st
        assert int(st["peerRevision"]) >= last_change, st
        synced = datetime.datetime.strptime(st["lastSyncTime"], "%Y-%m-%dT%H:%M:%SZ") \
            .replace(tzinfo=datetime.timezone.utc)
        assert started <= synced <= datetime.datetime.now(datetime.timezone.utc), st
        assert a.metric("calico_federation_objects", **series) == sets
        assert a.metric("calico_federation_objects", peer="cluster-b",
                        kind="NetworkSet") == netsets
        assert a.metric("calico_federation_events_applied_total", **series) == applied + 4
        assert a.metric("calico_federation_lag_revisions", **series) == 0
        return True
    eventually(reported, what="status and metrics report the mirrored state")
    shown = ctl(a.api.url, "get", "rcc", "-o", "wide", env={"CALICO_TOKEN": a.admin_token})
    assert shown.code == 0, shown.output
    header, *rows = [line.split() for line in shown.stdout.splitlines() if line.strip()]
    assert header[:5] == ["NAME", "APISERVER", "STATE", "OBJECTS", "LAG"], header
    row = next(r for r in rows if r[0] == "cluster-b")
    assert row[2] == "InSync" and int(row[3]) == sets + netsets, shown.stdout
    b.delete("globalnetworksets", "counted-1")
    eventually(converged(a, b), what="cleanup")


def test_peer_restart_with_offline_changes_converges(mesh):
    a, b = mesh["cluster-a"], mesh["cluster-b"]
    for i in range(5):
        b.apply(gns(f"keep-{i}", [f"10.100.{i}.0/24"]))
        b.apply(netset("ns1", f"keep-{i}", [f"10.101.{i}.0/24"]))
    eventually(converged(a, b), what="initial")
    b.api.stop(signal.SIGKILL)
    eventually(lambda: a.rcc_status("cluster-b").get("state") == "Failed", what="B seen down")
    status = a.rcc_status("cluster-b")
    assert status["lastError"]
    assert len(a.copies("globalnetworksets", "cluster-b")) == 5, "copies kept while B is down"
    # change B's datastore directly while its apiserver is down
    ep = b.etcd.endpoint
    prefix = "/calico/resources/v3/projectcalico.org"
    etcdctl(ep, "del", f"{prefix}/globalnetworksets/keep-0")
    etcdctl(ep, "del", f"{prefix}/networksets/ns1/keep-1")
    raw = etcdctl(ep, "get", "--print-value-only", f"{prefix}/globalnetworksets/keep-2")
    etcdctl(ep, "put", f"{prefix}/globalnetworksets/keep-2",
            raw.strip().replace("10.100.2.0/24", "10.222.2.0/24"))
    etcdctl(ep, "put", f"{prefix}/globalnetworksets/offline-new",
            raw.strip().replace("keep-2", "offline-new"))
    b.start_api()
    eventually(converged(a, b), what="A converges to B's exact state")
    got = a.copies("globalnetworksets", "cluster-b")
    assert "cluster-b.keep-0" not in got and got["cluster-b.keep-2"]["nets"] == ["10.222.2.0/24"]
    assert "cluster-b.offline-new" in got
    eventually(lambda: a.rcc_status("cluster-b").get("state") == "InSync", what="InSync again")


def test_compaction_past_the_mirrored_revision_relists(mesh):
    """B's apiserver stays up while its etcd, cut off from it, changes and is compacted past
    every revision B (and so A) has seen: B's watch cache must relist, which ends A's watch of B
    with a 410, so A must relist (not merely resume) and converge."""
    a, b = mesh["cluster-a"], mesh["cluster-b"]
    b.apply(gns("churn", ["10.77.0.0/24"]))
    b.apply(gns("doomed", ["10.78.0.0/24"]))
    eventually(converged(a, b), what="initial")
    series = {"peer": "cluster-b", "kind": "GlobalNetworkSet"}
    resyncs = a.metric("calico_federation_full_resyncs_total", **series)
    b.relay.cut()
    ep, prefix = b.etcd.endpoint, "/calico/resources/v3/projectcalico.org/globalnetworksets"
    raw = etcdctl(ep, "get", "--print-value-only", f"{prefix}/churn").strip()
    for i in range(20):
        etcdctl(ep, "put", f"{prefix}/churn", raw.replace("10.77.0.0/24", f"10.77.{i}.0/24"))
    etcdctl(ep, "del", f"{prefix}/doomed")
    rev = int(etcdctl(ep, "endpoint", "status", "-w", "json").split('"revision":')[1].split(",")[0])
    etcdctl(ep, "compact", str(rev))
    b.relay.restore()
    eventually(converged(a, b), what="A relists after compaction")
    got = a.copies("globalnetworksets", "cluster-b")
    assert got["cluster-b.churn"]["nets"] == ["10.77.19.0/24"] and "cluster-b.doomed" not in got
    eventually(lambda: a.metric("calico_federation_full_resyncs_total", **series) > resyncs,
               what="A counted a full resync")
    assert b.api.proc.poll() is None, "B's apiserver stayed up throughout"
    b.delete("globalnetworksets", "churn")
    eventually(converged(a, b), what="cleanup")


def test_restart_of_the_importer_keeps_exact_copies(mesh):
    a, b = mesh["cluster-a"], mesh["cluster-b"]
    before = {p: a.copies(p, "cluster-b") for p in ("globalnetworksets", "networksets")}
    assert before["globalnetworksets"]
    uids = {o["metadata"]["name"]: o["metadata"]["uid"] for o in a.items(
        "globalnetworksets", labelSelector=f"{CLUSTER_LABEL}=cluster-b")}
    a.api.stop()
    a.start_api()
    eventually(lambda: a.rcc_status("cluster-b").get("state") == "InSync", what="A in sync")
    eventually(converged(a, b), what="A converged after restart")
    after = {o["metadata"]["name"]: o["metadata"]["uid"] for o in a.items(
        "globalnetworksets", labelSelector=f"{CLUSTER_LABEL}=cluster-b")}
    assert after == uids, "copies were neither duplicated, lost nor recreated"


def test_peer_down_keeps_copies_then_remove_peer_deletes_them(mesh):
    a, c = mesh["cluster-a"], mesh["cluster-c"]
    c.apply(gns("c-set", ["10.33.0.0/16"]))
    eventually(converged(a, c), what="copy present")
    c.api.stop()
    eventually(lambda: a.rcc_status("cluster-c").get("state") == "Failed", what="C seen down")
    assert "cluster-c.c-set" in a.copies("globalnetworksets", "cluster-c")
    assert a.delete("remoteclusterconfigurations", "cluster-c").status_code == 200
    eventually(lambda: a.copies("globalnetworksets", "cluster-c") == {} and
               a.copies("networksets", "cluster-c") == {}, what="copies of removed peer gone")
    c.start_api()
    a.add_peer(c)
    eventually(converged(a, c), what="peer re-added")


def test_two_replicas_elect_one_leader_and_fail_over(mesh):
    a, b = mesh["cluster-a"], mesh["cluster-b"]
    replica = Cluster.__new__(Cluster)
    replica.__dict__.update(a.__dict__)
    replica.api = None
    replica.start_api(port=None)      # a second apiserver of cluster-a on the same etcd
    try:
        def leader_flags() -> list[float]:
            flags = []
            for member in (a, replica):
                with member.client() as cl:
                    line = next(ln for ln in cl.get("/metrics").text.splitlines()
                                if ln.startswith("calico_federation_leader "))
                flags.append(float(line.split()[1]))
            return flags
        eventually(lambda: sorted(leader_flags()) == [0.0, 1.0], what="exactly one leader")
        leader, follower = (a, replica) if leader_flags()[0] == 1.0 else (replica, a)
        leader.api.stop(signal.SIGKILL)                  # dies without revoking its lease
        eventually(lambda: _is_leader(follower), what="the follower takes over")
        b.apply(gns("after-failover", ["10.123.0.0/16"]))
        eventually(converged(follower, b), what="the new leader syncs")
        assert b.delete("globalnetworksets", "after-failover").status_code == 200
        eventually(converged(follower, b), what="the new leader syncs deletes")
    finally:
        for member in (a, replica):
            if member.api.proc.poll() is not None:
                member.start_api(port=member.api.port)
        replica.api.stop()


def _is_leader(member: Cluster) -> bool:
    with member.client() as cl:
        return "calico_federation_leader 1.0" in cl.get("/metrics").text
