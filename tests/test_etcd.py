"""What lands in etcd, what other Calico writers put there, and how the server rides out
etcd outages, restarts, compaction and member failures. Real etcd processes throughout."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from apiserver.storage.embedded import EmbeddedEtcd, free_port
from conftest import GROUP, REPO, ApiserverProcess, TcpProxy, _tmp_root, etcdctl, running_server

KEY = "/calico/resources/v3/projectcalico.org"


def etcd_json(endpoint: str, key: str) -> dict:
    out = etcdctl(endpoint, "get", key, "--print-value-only")
    return json.loads(out)


def policy(name: str, ns: str = "prod") -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": "app == 'db'", "ingress": [{"action": "Allow"}]}}


async def test_layout_matches_libcalico(client, clean_etcd):
    ep = clean_etcd.endpoint
    r = await client.post(f"{GROUP}/namespaces/prod/networkpolicies", json=policy("allow-db"))
    assert r.status_code == 201, r.text
    stored = etcd_json(ep, f"{KEY}/networkpolicies/prod/allow-db")
    assert stored["kind"] == "NetworkPolicy" and stored["apiVersion"] == "projectcalico.org/v3"
    assert "resourceVersion" not in stored["metadata"]
    assert stored["metadata"]["annotations"]["projectcalico.org/metadata"] == '{"name":"allow-db"}'
    assert stored["metadata"]["labels"]["projectcalico.org/tier"] == "default"
    assert stored["spec"]["tier"] == "default" and stored["spec"]["types"] == ["Ingress"]
    api = r.json()
    assert "annotations" not in api["metadata"]
    rev = etcdctl(ep, "get", f"{KEY}/networkpolicies/prod/allow-db", "-w", "json")
    assert api["metadata"]["resourceVersion"] == str(json.loads(rev)["kvs"][0]["mod_revision"])
    await client.post(f"{GROUP}/globalnetworksets", json={
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
        "metadata": {"name": "g"}, "spec": {"nets": ["10.0.0.0/8"]}})
    assert etcd_json(ep, f"{KEY}/globalnetworksets/g")["spec"]["nets"] == ["10.0.0.0/8"]
    for name in ("default", "kube-admin", "kube-baseline"):
        assert etcd_json(ep, f"{KEY}/tiers/{name}")["kind"] == "Tier"
    assert etcd_json(ep, f"{KEY}/clusterinformations/default")["spec"]["datastoreReady"] is True


async def test_objects_written_by_calico_are_served(client, clean_etcd):
    """Write keys the way calicoctl (etcd mode) does and read them through the API."""
    ep = clean_etcd.endpoint
    value = {"kind": "GlobalNetworkPolicy", "apiVersion": "projectcalico.org/v3",
             "metadata": {"name": "from-calicoctl", "uid": "0c5e2e2e-1111-2222-3333-444455556666",
                          "creationTimestamp": "2025-01-01T00:00:00Z",
                          "annotations": {"projectcalico.org/metadata": '{"name":"from-calicoctl"}'}},
             "spec": {"tier": "default", "order": 10, "selector": "all()", "types": ["Ingress"]}}
    etcdctl(ep, "put", f"{KEY}/globalnetworkpolicies/from-calicoctl", json.dumps(value))
    etcdctl(ep, "put", f"{KEY}/networksets/team-a/partners",
            json.dumps({"kind": "NetworkSet", "apiVersion": "projectcalico.org/v3",
                        "metadata": {"name": "partners", "namespace": "team-a"},
                        "spec": {"nets": ["192.0.2.0/24"]}}))
    etcdctl(ep, "put", f"{KEY}/globalnetworksets/garbage", "not json")
    r = await client.get(f"{GROUP}/globalnetworkpolicies/from-calicoctl")
    assert r.status_code == 200, r.text
    obj = r.json()
    assert "annotations" not in obj["metadata"]
    assert obj["metadata"]["labels"] == {"projectcalico.org/tier": "default"}
    rev = json.loads(etcdctl(ep, "get", f"{KEY}/globalnetworkpolicies/from-calicoctl", "-w",
                             "json"))["kvs"][0]["mod_revision"]
    assert obj["metadata"]["resourceVersion"] == str(rev)
    sets = (await client.get(f"{GROUP}/namespaces/team-a/networksets")).json()["items"]
    assert [s["spec"]["nets"] for s in sets] == [["192.0.2.0/24"]]
    names = [s["metadata"]["name"] for s in
             (await client.get(f"{GROUP}/globalnetworksets")).json()["items"]]
    assert "garbage" not in names
    etcdctl(ep, "del", f"{KEY}/networksets/team-a/partners")
    assert (await client.get(f"{GROUP}/namespaces/team-a/networksets/partners")).status_code == 404


async def test_read_your_writes_across_two_apiservers(clean_etcd):
    async with running_server(clean_etcd.endpoint) as a, running_server(clean_etcd.endpoint) as b:
        async with httpx.AsyncClient() as c:
            for i in range(30):
                body = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                        "metadata": {"name": f"s{i}"}, "spec": {"nets": [f"10.{i}.0.0/16"]}}
                r = await c.post(f"{a}{GROUP}/globalnetworksets", json=body)
                assert r.status_code == 201
                got = await c.get(f"{b}{GROUP}/globalnetworksets/s{i}")
                assert got.status_code == 200
                assert got.json()["metadata"]["resourceVersion"] == r.json()["metadata"]["resourceVersion"]
                etcdctl(clean_etcd.endpoint, "put", "/unrelated/key", str(i))
                lst = (await c.get(f"{b}{GROUP}/globalnetworksets")).json()
                assert len(lst["items"]) == i + 1


async def test_etcd_outage_gives_503_then_recovers_without_losing_writes(own_etcd):
    async with running_server(own_etcd.endpoint, etcd_timeout=1.0) as url:
        async with httpx.AsyncClient(base_url=url, timeout=20) as c:
            acknowledged = []
            for i in range(5):
                r = await c.post(f"{GROUP}/globalnetworksets", json={
                    "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                    "metadata": {"name": f"before-{i}"}, "spec": {"nets": []}})
                assert r.status_code == 201
                acknowledged.append(f"before-{i}")
            await asyncio.to_thread(own_etcd.stop)
            r = await c.get(f"{GROUP}/globalnetworksets")
            assert r.status_code == 503 and r.json()["reason"] == "ServiceUnavailable"
            r = await c.post(f"{GROUP}/globalnetworksets", json={
                "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                "metadata": {"name": "during"}, "spec": {"nets": []}})
            assert r.status_code == 503
            assert "etcd is unreachable, nothing was written" in r.json()["message"]
            assert (await c.get("/readyz")).status_code == 503
            await asyncio.to_thread(own_etcd.start)
            for _ in range(200):
                r = await c.get(f"{GROUP}/globalnetworksets")
                if r.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            names = [o["metadata"]["name"] for o in r.json()["items"]]
            assert names == acknowledged
            r = await c.post(f"{GROUP}/globalnetworksets", json={
                "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                "metadata": {"name": "after"}, "spec": {"nets": []}})
            assert r.status_code == 201


async def test_cache_relists_when_etcd_compacted_its_position_while_it_was_cut_off(clean_etcd):
    """The cache's watch resumes at a compacted revision: it relists, serves etcd's exact
    state, and expires API watches (410) instead of leaving them with a gap."""
    ep = clean_etcd.endpoint
    proxy = await TcpProxy(ep.removeprefix("http://")).start()
    try:
        async with running_server(proxy.endpoint, etcd_timeout=1.0) as url:
            async with httpx.AsyncClient(base_url=url, timeout=20) as c:
                for name in ("stays", "goes"):
                    assert (await c.post(f"{GROUP}/globalnetworksets", json={
                        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                        "metadata": {"name": name}, "spec": {"nets": []}})).status_code == 201
                rv = (await c.get(f"{GROUP}/globalnetworksets")).json()["metadata"]["resourceVersion"]
                events: list[dict] = []

                async def watch() -> None:
                    async with c.stream("GET", f"{GROUP}/globalnetworksets?watch=1&"
                                        f"resourceVersion={rv}") as r:
                        async for line in r.aiter_lines():
                            if line.strip():
                                events.append(json.loads(line))
                watcher = asyncio.create_task(watch())
                await asyncio.sleep(0.3)
                proxy.cut()
                etcdctl(ep, "del", "/calico/resources/v3/projectcalico.org/globalnetworksets/goes")
                etcdctl(ep, "put", "/calico/resources/v3/projectcalico.org/globalnetworksets/new",
                        json.dumps({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                                    "metadata": {"name": "new"}, "spec": {"nets": []}}))
                rev = json.loads(etcdctl(ep, "get", "x", "-w", "json"))["header"]["revision"]
                etcdctl(ep, "compact", str(rev))
                proxy.restore()
                for _ in range(100):
                    r = await c.get(f"{GROUP}/globalnetworksets")
                    if r.status_code == 200 and \
                            [o["metadata"]["name"] for o in r.json()["items"]] == ["new", "stays"]:
                        break
                    await asyncio.sleep(0.1)
                assert [o["metadata"]["name"] for o in r.json()["items"]] == ["new", "stays"]
                await asyncio.wait_for(watcher, 10)   # the server ended the API watch ...
                assert events[-1]["type"] == "ERROR" and events[-1]["object"]["code"] == 410
    finally:
        await proxy.close()


async def test_watch_from_a_version_this_datastore_never_had_is_410(client):
    rv = int((await client.get(f"{GROUP}/globalnetworksets")).json()["metadata"]["resourceVersion"])
    async with client.stream("GET", f"{GROUP}/globalnetworksets?watch=1&"
                             f"resourceVersion={rv + 1000}&timeoutSeconds=5") as r:
        lines = [json.loads(x) async for x in r.aiter_lines() if x.strip()]
    assert lines[0]["type"] == "ERROR" and lines[0]["object"]["code"] == 410
    assert "newer than the datastore" in lines[0]["object"]["message"]


async def test_cache_survives_compaction(client, clean_etcd):
    for i in range(5):
        await client.post(f"{GROUP}/globalnetworksets", json={
            "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
            "metadata": {"name": f"k{i}"}, "spec": {"nets": []}})
    rev = json.loads(etcdctl(clean_etcd.endpoint, "get", "x", "-w", "json"))["header"]["revision"]
    etcdctl(clean_etcd.endpoint, "compact", str(rev))
    r = await client.post(f"{GROUP}/globalnetworksets", json={
        "apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
        "metadata": {"name": "after"}, "spec": {"nets": []}})
    assert r.status_code == 201
    names = [o["metadata"]["name"] for o in
             (await client.get(f"{GROUP}/globalnetworksets")).json()["items"]]
    assert names == ["after"] + [f"k{i}" for i in range(5)]


def test_three_member_cluster_survives_one_member_stopping(tmp_path):
    peers = [(f"m{i}", free_port(), free_port()) for i in range(3)]
    cluster = ",".join(f"{n}=http://127.0.0.1:{pp}" for n, _, pp in peers)
    data = Path(tempfile.mkdtemp(prefix="etcd-cluster-", dir=_tmp_root()))
    members = []
    for name, cp, pp in peers:
        m = EmbeddedEtcd(data / name, name=name, client_port=cp, peer_port=pp,
                         extra_args=("--initial-cluster", cluster))
        members.append(m)
    procs = []
    try:
        for m in members:
            m.data_dir.mkdir(parents=True)
            procs.append(subprocess.Popen(m.command(), stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            m.process = procs[-1]
        for m in members:
            m.wait_ready(30)
        endpoints = ",".join(m.endpoint for m in members)
        server = ApiserverProcess(endpoints, "--no-federation").start()
        try:
            body = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                    "metadata": {"name": "one"}, "spec": {"nets": []}}
            assert httpx.post(f"{server.url}{GROUP}/globalnetworksets", json=body).status_code == 201
            members[0].stop()
            ok = False
            for attempt in range(100):
                body["metadata"]["name"] = f"two-{attempt}"
                try:
                    r = httpx.post(f"{server.url}{GROUP}/globalnetworksets", json=body, timeout=10)
                except httpx.HTTPError:
                    continue
                if r.status_code == 201:
                    ok = True
                    break
            assert ok, "no write succeeded after one member stopped"
            names = [o["metadata"]["name"] for o in
                     httpx.get(f"{server.url}{GROUP}/globalnetworksets").json()["items"]]
            assert "one" in names and body["metadata"]["name"] in names
        finally:
            server.stop()
    finally:
        for m in members:
            m.stop()
        shutil.rmtree(data, ignore_errors=True)


def test_embedded_etcd_default(tmp_path):
    server = ApiserverProcess(None, "--no-federation", data_dir=str(tmp_path / "etcd")).start()
    try:
        body = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                "metadata": {"name": "persisted"}, "spec": {"nets": []}}
        assert httpx.post(f"{server.url}{GROUP}/globalnetworksets", json=body).status_code == 201
    finally:
        server.stop()
    assert (tmp_path / "etcd" / "member").is_dir()
    again = ApiserverProcess(None, "--no-federation", data_dir=str(tmp_path / "etcd")).start()
    try:
        assert httpx.get(f"{again.url}{GROUP}/globalnetworksets/persisted").status_code == 200
    finally:
        again.stop()


def test_missing_etcd_binary_names_the_package(tmp_path):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    out = subprocess.run([sys.executable, "-m", "apiserver", "--listen", f"127.0.0.1:{free_port()}",
                          "--data-dir", str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode != 0
    assert "etcd-server" in out.stderr and "Traceback" not in out.stderr


def test_refuses_public_listener_without_tls_and_auth(tmp_path):
    out = subprocess.run([sys.executable, "-m", "apiserver", "--listen", "0.0.0.0:0",
                          "--etcd-endpoints", "http://127.0.0.1:1"], capture_output=True,
                         text=True, timeout=60, cwd=REPO)
    assert out.returncode != 0 and "--insecure" in out.stderr


def test_client_certificates_need_tls(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    out = subprocess.run([sys.executable, "-m", "apiserver", "--listen", "127.0.0.1:0",
                          "--client-ca-file", str(ca), "--etcd-endpoints", "http://127.0.0.1:1"],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode != 0 and "--tls-cert-file" in out.stderr
    assert "Traceback" not in out.stderr


async def test_create_many_batches_and_falls_back_per_object(clean_etcd):
    from apiserver.api import keys
    from calicomodel.errors import AlreadyExists, Invalid
    server = running_server(clean_etcd.endpoint)
    async with server:
        store = server.app[keys.STORE]
        kind = store.catalog.kind("GlobalNetworkSet")

        def body(name: str, nets=("10.0.0.0/24",)) -> tuple[None, dict]:
            return None, {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
                          "metadata": {"name": name}, "spec": {"nets": list(nets)}}
        await store.create(kind, *body("taken"))
        bodies = [body(f"b-{i:03d}") for i in range(300)] + [body("taken"), body("bad", ["x"])]
        results = await store.create_many(kind, bodies)
        assert all(isinstance(r, dict) for r in results[:300])
        assert isinstance(results[300], AlreadyExists) and isinstance(results[301], Invalid)
        # 128 per transaction: the first two chunks are one revision each; the third held the
        # taken name, so its objects were created one by one
        assert len({r["metadata"]["resourceVersion"] for r in results[:256]}) == 2
        assert len({r["metadata"]["resourceVersion"] for r in results[256:300]}) == 44
    keys_in_etcd = etcdctl(clean_etcd.endpoint, "get", "--prefix", "--keys-only",
                           f"{KEY}/globalnetworksets/").split()
    assert len(keys_in_etcd) == 301
