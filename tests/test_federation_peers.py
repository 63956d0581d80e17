"""Federation against good and bad peers, with the importing apiserver in process (real etcd,
real sockets) and short deadlines: bad peers are reported in status and never block the good
one or the server; filters, name conflicts, staleTTL and run-time peer changes.

Convergence is awaited by polling with a deadline; nothing here asserts on timing."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from pathlib import Path
from typing import Awaitable, Callable

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from conftest import GROUP, gns, netset, etcd_process, etcdctl
from apiserver.app import create_app
from apiserver.config import Settings
from apiserver.federation.copies import copy_name
from apiserver.federation.manager import ManagerOptions
from apiserver.federation.spec import go_duration, name_problem
from calicomodel.catalog import Catalog
from apiserver.federation.peer import Limits
from apiserver.storage.embedded import free_port
from apiserver.storage.etcd import EtcdStorage

CLUSTER_LABEL = "federation.projectcalico.org/cluster"
FAST = ManagerOptions(limits=Limits(connect_timeout=1, request_timeout=2, idle_timeout=8,
                                    watch_seconds=30, max_page_bytes=1024 * 1024),
                      status_interval=0.1, status_refresh=1.0, backoff_max=0.5,
                      sweep_interval=1.0)


async def eventually(check: Callable[[], Awaitable[object]], *, timeout: float = 30,
                     what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = await check()
            if last:
                return last
        except (AssertionError, httpx.HTTPError) as err:
            last = err
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s; last: {last!r}")
        await asyncio.sleep(0.1)


class InProcessServer:
    """A real apiserver on a loopback socket, in this event loop. ``wrap`` may put a
    fault-injecting layer around its (real) etcd storage."""

    def __init__(self, endpoint: str, *, port: int | None = None,
                 wrap: Callable[[EtcdStorage], object] = lambda storage: storage,
                 **settings) -> None:
        self.endpoint, self.settings, self.wrap = endpoint, settings, wrap
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def start(self, *, token: str | None = None, wait: bool = True) -> "InProcessServer":
        self.etcd_storage = EtcdStorage([self.endpoint])
        self.storage = self.wrap(self.etcd_storage)
        self.app = create_app(Settings(etcd_endpoints=(self.endpoint,), listen_port=self.port,
                                       **self.settings), self.storage)
        self.server = TestServer(self.app, host="127.0.0.1", port=self.port)
        await self.server.start_server(shutdown_timeout=0.5)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=self.url, headers=headers) as c:
            async def ready() -> bool:
                return (await c.get("/readyz")).status_code == 200 and \
                    (await c.get(f"{GROUP}/tiers/default")).status_code == 200

            async def serving() -> bool:
                return (await c.get(f"{GROUP}/tiers/default")).status_code == 200
            await eventually(ready if wait else serving, what="server ready")
        return self

    async def stop(self) -> None:
        await self.server.close()
        await self.etcd_storage.close()


def rcc(name: str, url: str, **spec) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "RemoteClusterConfiguration",
            "metadata": {"name": name}, "spec": {"apiServer": url, **spec}}


def export(name: str, **spec) -> dict:
    """A FederationExport (an exporter's rule of what a peer identity may read)."""
    return {"apiVersion": "projectcalico.org/v3", "kind": "FederationExport",
            "metadata": {"name": name}, "spec": spec}


@pytest.fixture(scope="module")
def peer_etcd():
    yield from etcd_process("peer")


async def start_cluster_b(etcd_endpoint: str, tmp_path: Path) -> tuple["InProcessServer", Path]:
    """cluster-b in process on an emptied etcd, without federation, with token authentication
    (admin token ``admin-b``), exporting everything to its peer user; and the file holding
    its federation token for cluster-a."""
    etcdctl(etcd_endpoint, "del", "--prefix", "/calico/")
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('admin-b,admin,1,"calico:admin"\nfed-b,peer,2,"calico:federation"\n')
    token_file = tmp_path / "b.token"
    token_file.write_text("fed-b\n")
    b = await InProcessServer(etcd_endpoint, cluster_name="cluster-b", federation=False,
                              token_auth_file=str(tokens)).start(token="admin-b")
    async with httpx.AsyncClient(base_url=b.url, timeout=10,
                                 headers={"Authorization": "Bearer admin-b"}) as cb:
        await post(cb, export("to-peer", users=["peer"]))   # everything, to user "peer"
    return b, token_file


@contextlib.asynccontextmanager
async def two_clusters(clean_etcd, peer_etcd, tmp_path: Path, options=FAST):
    """(cluster-a client, cluster-b admin client, peer token file, cluster-b's server):
    cluster-b as ``start_cluster_b`` starts it, and cluster-a in process with federation and
    ``options`` (default: FAST's short deadlines); both stopped at the end."""
    b, token_file = await start_cluster_b(peer_etcd.endpoint, tmp_path)
    a = await InProcessServer(clean_etcd.endpoint, cluster_name="cluster-a",
                              federation_options=options,
                              federation_credentials_dir=str(tmp_path)).start()
    try:
        async with httpx.AsyncClient(base_url=a.url, timeout=10) as ca, \
                httpx.AsyncClient(base_url=b.url, timeout=10,
                                  headers={"Authorization": "Bearer admin-b"}) as cb:
            yield ca, cb, token_file, b
    finally:
        await a.stop()
        await b.stop()


@pytest.fixture
async def clusters(clean_etcd, peer_etcd, tmp_path):
    """``two_clusters`` with FAST's deadlines."""
    async with two_clusters(clean_etcd, peer_etcd, tmp_path) as pair:
        yield pair


async def post(client: httpx.AsyncClient, obj: dict) -> dict:
    plural = {"GlobalNetworkSet": "globalnetworksets", "NetworkSet": "networksets",
              "RemoteClusterConfiguration": "remoteclusterconfigurations",
              "FederationExport": "federationexports", "WorkloadEndpoint": "workloadendpoints",
              "HostEndpoint": "hostendpoints", "Profile": "profiles"}[obj["kind"]]
    ns = obj["metadata"].get("namespace")
    path = f"{GROUP}/namespaces/{ns}/{plural}" if ns else f"{GROUP}/{plural}"
    r = await client.post(path, json=obj)
    assert r.status_code == 201, r.text
    return r.json()


async def copies(client: httpx.AsyncClient, plural: str, peer: str) -> dict[str, dict]:
    r = await client.get(f"{GROUP}/{plural}", params={"labelSelector": f"{CLUSTER_LABEL}={peer}"})
    assert r.status_code == 200, r.text
    return {(o["metadata"].get("namespace", "") + "/" + o["metadata"]["name"]).lstrip("/"):
            o for o in r.json()["items"]}


async def status(client: httpx.AsyncClient, peer: str) -> dict:
    r = await client.get(f"{GROUP}/remoteclusterconfigurations/{peer}")
    assert r.status_code == 200, r.text
    return r.json().get("status") or {}


def condition(st: dict, type_: str) -> dict:
    return next((c for c in st.get("conditions", []) if c["type"] == type_), {})


# -- bad peers -------------------------------------------------------------------------------------
def bad_peer(behaviour: str) -> web.Application:
    """A fake peer that misbehaves in one way (its /version is right unless said otherwise)."""
    name = f"bad-{behaviour}"

    async def version(request: web.Request) -> web.StreamResponse:
        if behaviour == "wrong-cluster":
            return web.json_response({"clusterName": "someone-else"})
        if behaviour == "garbage-version":
            return web.Response(text="<html>hello</html>", content_type="text/html")
        return web.json_response({"clusterName": name})

    async def collection(request: web.Request) -> web.StreamResponse:
        if behaviour == "garbage":
            return web.Response(body=b"\x00\xffnot json{{{", content_type="application/json")
        if behaviour == "wrong-token":
            return web.json_response({"kind": "Status", "code": 401, "message":
                                      "the bearer token is not valid"}, status=401)
        if behaviour == "huge":
            return web.Response(body=b'{"items": [' + b" " * (3 * 1024 * 1024) + b"]}",
                                content_type="application/json")
        if behaviour == "never-ending":
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            await resp.prepare(request)
            await resp.write(b'{"items": [')
            while True:
                await asyncio.sleep(0.05)
                await resp.write(b" ")
        if behaviour == "wrong-shape":
            return web.json_response({"items": "nope", "metadata": {"resourceVersion": "x"}})
        if behaviour == "invalid-objects":
            if request.query.get("watch"):
                resp = web.StreamResponse()
                await resp.prepare(request)
                while True:
                    await resp.write(b'{"type":"BOOKMARK","object":{"metadata":'
                                     b'{"resourceVersion":"10"}}}\n')
                    await asyncio.sleep(0.5)
            kind = "GlobalNetworkSet" if "globalnetworksets" in request.path else "NetworkSet"
            items = [] if kind == "NetworkSet" else [
                {**gns("good", ["10.0.0.0/8"]), "metadata": {"name": "good", "uid": "u1",
                                                              "resourceVersion": "5"}},
                {**gns("bad-cidr", ["not-a-cidr"]), "metadata": {
                    "name": "bad-cidr", "uid": "u2", "resourceVersion": "6"}},
                {**gns("Bad_Name!", ["10.0.0.0/8"]), "metadata": {
                    "name": "Bad_Name!", "uid": "u3", "resourceVersion": "7"}},
                {"kind": "GlobalNetworkSet", "metadata": {"uid": "no-name"}},
                "a string",
            ]
            return web.json_response({"kind": f"{kind}List", "items": items,
                                      "metadata": {"resourceVersion": "10"}})
        raise AssertionError(behaviour)

    app = web.Application()
    app.router.add_get("/version", version)
    app.router.add_get("/apis/projectcalico.org/v3/{plural}", collection)
    return app


BAD = {  # behaviour -> words the status error must contain
    "garbage": "not answer JSON",
    "garbage-version": "JSON",
    "wrong-token": "refused our credentials",
    "huge": "larger than the limit",
    "never-ending": "did not finish within",
    "wrong-cluster": "someone-else",
    "wrong-shape": "not a list",
    "unreachable": "cannot connect",
}


async def test_bad_peers_are_reported_and_never_block_a_good_one(clusters):
    ca, cb, token_file, _ = clusters
    fakes = {}
    for behaviour in [b for b in BAD if b != "unreachable"] + ["invalid-objects"]:
        fakes[behaviour] = TestServer(bad_peer(behaviour), host="127.0.0.1", port=free_port())
        await fakes[behaviour].start_server(shutdown_timeout=0.5)
    try:
        for behaviour, server in fakes.items():
            await post(ca, rcc(f"bad-{behaviour}", f"http://127.0.0.1:{server.port}"))
        await post(ca, rcc("bad-unreachable", f"http://127.0.0.1:{free_port()}"))
        await post(cb, gns("shared", ["10.8.0.0/16"], {"team": "x"}))
        await post(ca, rcc("cluster-b", str(cb.base_url).rstrip("/"), tokenFile=str(token_file)))

        async def good_synced() -> bool:
            return "cluster-b.shared" in await copies(ca, "globalnetworksets", "cluster-b") \
                and (await status(ca, "cluster-b")).get("state") == "InSync"
        await eventually(good_synced, what="the good peer syncs")

        for behaviour, words in BAD.items():
            async def failed(behaviour: str = behaviour, words: str = words) -> bool:
                st = await status(ca, f"bad-{behaviour}")
                assert st.get("state") == "Failed" and words in st.get("lastError", ""), st
                assert condition(st, "Ready").get("status") == "False"
                return True
            await eventually(failed, what=f"bad-{behaviour} reported")

        async def invalid_reported() -> bool:
            st = await status(ca, "bad-invalid-objects")
            assert condition(st, "InvalidObjects").get("status") == "True", st
            assert "bad-cidr" in condition(st, "InvalidObjects").get("message", "")
            return st.get("state") == "InSync"
        await eventually(invalid_reported, what="invalid objects reported")
        got = await copies(ca, "globalnetworksets", "bad-invalid-objects")
        assert list(got) == ["bad-invalid-objects.good"]

        # the server stays healthy and ready: every peer synced once or failed
        assert (await ca.get("/healthz")).status_code == 200
        await eventually(lambda: _ok(ca.get("/readyz")), what="ready")
        await post(cb, gns("later", ["10.9.0.0/16"]))

        async def later() -> bool:
            return "cluster-b.later" in await copies(ca, "globalnetworksets", "cluster-b")
        await eventually(later, what="the good peer keeps syncing")
        metrics = (await ca.get("/metrics")).text
        assert 'calico_federation_peer_state{kind="GlobalNetworkSet",peer="bad-garbage",' \
               'state="Failed"} 1.0' in metrics
        assert 'calico_federation_sync_errors_total{kind="GlobalNetworkSet",peer="bad-huge"}' \
            in metrics
    finally:
        for server in fakes.values():
            await server.close()


async def _ok(request: Awaitable[httpx.Response]) -> bool:
    return (await request).status_code == 200


async def ready_only_after_first_sync(url: str, peer: str, gate: asyncio.Event) -> None:
    """Assert the server at ``url`` is not ready while ``peer`` (held by ``gate``) has not
    answered its first sync, and is ready once ``gate`` lets it."""
    async with httpx.AsyncClient(base_url=url) as c:
        async def waiting_for_peer() -> bool:
            r = await c.get("/readyz")
            return r.status_code == 503 and f"first sync of {peer}" in r.text
        await eventually(waiting_for_peer, what=f"readiness waits for {peer}")
        gate.set()
        await eventually(lambda: _ok(c.get("/readyz")), what="ready after the first sync")


# -- filters, conflicts, run-time changes -----------------------------------------------------------
async def test_selector_and_namespace_filters_and_runtime_changes(clusters):
    ca, cb, token_file, _ = clusters
    await post(cb, gns("exported", ["10.1.0.0/16"], {"export": "true"}))
    await post(cb, gns("private", ["10.2.0.0/16"], {"export": "false"}))
    await post(cb, netset("prod", "p", ["10.3.0.0/16"], {"export": "true"}))
    await post(cb, netset("dev", "d", ["10.4.0.0/16"], {"export": "true"}))
    await post(ca, rcc("cluster-b", str(cb.base_url).rstrip("/"), tokenFile=str(token_file), syncOptions={
        "selector": "export == 'true'", "namespaces": ["prod"]}))

    async def filtered() -> bool:
        g, n = await copies(ca, "globalnetworksets", "cluster-b"), \
            await copies(ca, "networksets", "cluster-b")
        assert set(g) == {"cluster-b.exported"} and set(n) == {"prod/cluster-b.p"}, (g, n)
        return True
    await eventually(filtered, what="filters applied")

    # an object that stops matching is removed; one that starts matching appears
    r = await cb.patch(f"{GROUP}/globalnetworksets/exported", json={
        "metadata": {"labels": {"export": "no"}}},
        headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    r = await cb.patch(f"{GROUP}/globalnetworksets/private", json={
        "metadata": {"labels": {"export": "true"}}},
        headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text

    async def flipped() -> bool:
        return set(await copies(ca, "globalnetworksets", "cluster-b")) == {"cluster-b.private"}
    await eventually(flipped, what="label changes re-filter")

    # change the peer at run time: only GlobalNetworkSets, no selector
    current = (await ca.get(f"{GROUP}/remoteclusterconfigurations/cluster-b")).json()
    current["spec"]["syncOptions"] = {"kinds": ["GlobalNetworkSet"]}
    r = await ca.put(f"{GROUP}/remoteclusterconfigurations/cluster-b", json=current)
    assert r.status_code == 200, r.text

    async def changed() -> bool:
        g, n = await copies(ca, "globalnetworksets", "cluster-b"), \
            await copies(ca, "networksets", "cluster-b")
        assert set(g) == {"cluster-b.exported", "cluster-b.private"} and not n, (g, n)
        return True
    await eventually(changed, what="spec change applied")


async def test_local_object_owning_a_copy_name_wins(clusters):
    ca, cb, token_file, _ = clusters
    await post(ca, gns("cluster-b.db", ["192.0.2.0/24"], {"mine": "yes"}))
    await post(cb, gns("db", ["10.5.0.0/16"]))
    await post(cb, gns("other", ["10.6.0.0/16"]))
    await post(ca, rcc("cluster-b", str(cb.base_url).rstrip("/"), tokenFile=str(token_file)))

    async def conflict_shown() -> bool:
        st = await status(ca, "cluster-b")
        assert condition(st, "NameConflict").get("status") == "True", st
        assert "cluster-b.db" in condition(st, "NameConflict").get("message", "")
        return "cluster-b.other" in await copies(ca, "globalnetworksets", "cluster-b")
    await eventually(conflict_shown, what="conflict in status")
    local = (await ca.get(f"{GROUP}/globalnetworksets/cluster-b.db")).json()
    assert local["spec"]["nets"] == ["192.0.2.0/24"] and CLUSTER_LABEL not in local["metadata"]["labels"]

    assert (await ca.delete(f"{GROUP}/globalnetworksets/cluster-b.db")).status_code == 200

    async def copy_takes_over() -> bool:
        got = await copies(ca, "globalnetworksets", "cluster-b")
        st = await status(ca, "cluster-b")
        return "cluster-b.db" in got and condition(st, "NameConflict").get("status") == "False"
    await eventually(copy_takes_over, what="copy written once the name is free")


async def test_stale_ttl_expires_copies_of_an_unreachable_peer(clusters):
    ca, cb, token_file, b = clusters
    await post(cb, gns("s1", ["10.7.0.0/16"]))
    await post(ca, rcc("cluster-b", str(cb.base_url).rstrip("/"), tokenFile=str(token_file),
                       syncOptions={"staleTTL": "2s"}))

    async def mirrored() -> bool:
        return "cluster-b.s1" in await copies(ca, "globalnetworksets", "cluster-b")
    await eventually(mirrored, what="mirrored")
    await b.stop()

    async def expired() -> bool:
        st = await status(ca, "cluster-b")
        assert st.get("state") == "Failed", st
        assert condition(st, "Stale").get("status") == "True", st
        return await copies(ca, "globalnetworksets", "cluster-b") == {}
    await eventually(expired, what="copies expired after staleTTL")
    await b.start(token="admin-b")          # same port: the peer comes back
    await eventually(mirrored, what="mirrored again")


async def test_removing_a_peer_while_it_is_down_deletes_its_copies(clusters):
    ca, cb, token_file, b = clusters
    for i in range(30):
        await post(cb, gns(f"r{i}", [f"10.20.{i}.0/24"]))
    await post(ca, rcc("cluster-b", str(cb.base_url).rstrip("/"), tokenFile=str(token_file)))

    async def mirrored() -> bool:
        return len(await copies(ca, "globalnetworksets", "cluster-b")) == 30
    await eventually(mirrored, what="mirrored")
    await b.stop()
    assert (await ca.delete(f"{GROUP}/remoteclusterconfigurations/cluster-b")).status_code == 200

    async def gone() -> bool:
        return await copies(ca, "globalnetworksets", "cluster-b") == {}
    await eventually(gone, what="copies removed")
    await b.start(token="admin-b")


def test_go_durations():
    assert go_duration("0") == 0 and go_duration("90s") == 90 and go_duration("1h30m") == 5400
    assert go_duration("250ms") == 0.25
    with pytest.raises(ValueError):
        go_duration("5 minutes")


async def test_watch_lines_are_capped():
    from apiserver.federation.peer import PeerProtocolError, _lines

    async def chunks():
        yield b'{"a":1}\n{"b":'
        yield b"2}\n" + b"x" * 100

    assert [line async for line in _lines(chunks(), 1000)] == [b'{"a":1}', b'{"b":2}', b"x" * 100]
    with pytest.raises(PeerProtocolError):
        [line async for line in _lines(chunks(), 50)]


async def test_tls_peer_with_ca_and_client_certificate(clean_etcd, peer_etcd, tmp_path):
    import ssl

    import trustme
    etcdctl(peer_etcd.endpoint, "del", "--prefix", "/calico/")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("cluster-a@example.com", common_name="cluster-a",
                                organization_name="calico:federation")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "client.pem"))
    client_cert.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(ctx)
    ctx.load_verify_locations(str(tmp_path / "ca.pem"))
    ctx.verify_mode = ssl.CERT_OPTIONAL

    b = InProcessServer(peer_etcd.endpoint)
    b.storage = b.etcd_storage = EtcdStorage([b.endpoint])
    b.app = create_app(Settings(etcd_endpoints=(b.endpoint,), cluster_name="cluster-b",
                                federation=False, client_ca_file=str(tmp_path / "ca.pem")),
                       b.storage)
    b.server = TestServer(b.app, host="127.0.0.1", port=b.port)
    await b.server.start_server(ssl=ctx, shutdown_timeout=0.5)
    url = f"https://127.0.0.1:{b.port}"
    a = await InProcessServer(clean_etcd.endpoint, cluster_name="cluster-a",
                              federation_options=FAST,
                              federation_credentials_dir=str(tmp_path)).start()
    try:
        admin_pem = tmp_path / "admin.pem"
        ca.issue_cert("admin@example.com", common_name="admin", organization_name="calico:admin") \
            .private_key_and_cert_chain_pem.write_to_path(str(admin_pem))
        admin_ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        admin_ctx.load_cert_chain(str(admin_pem))
        async with httpx.AsyncClient(base_url=url, verify=admin_ctx) as cb:
            await eventually(lambda: _ok(cb.get(f"{GROUP}/tiers/default")), what="peer ready")
            await post(cb, gns("secure", ["10.44.0.0/16"]))
            await post(cb, export("to-a", users=["cluster-a"]))   # the client certificate's CN
        certs = {"certFile": str(tmp_path / "client.pem"), "keyFile": str(tmp_path / "client.key")}
        async with httpx.AsyncClient(base_url=a.url, timeout=10) as ca_client:
            await post(ca_client, rcc("cluster-b", url, caFile=str(tmp_path / "ca.pem"), **certs))
            await post(ca_client, rcc("tls-untrusted", url, **certs))
            await post(ca_client, rcc("tls-skip", url, insecureSkipTLSVerify=True, **certs))

            async def synced() -> bool:
                return "cluster-b.secure" in await copies(ca_client, "globalnetworksets",
                                                          "cluster-b")
            await eventually(synced, what="mirrored over mTLS")

            async def reported() -> bool:
                untrusted = await status(ca_client, "tls-untrusted")
                skipped = await status(ca_client, "tls-skip")
                assert "CERTIFICATE_VERIFY_FAILED" in untrusted.get("lastError", ""), untrusted
                assert "is cluster 'cluster-b', not 'tls-skip'" in skipped.get("lastError", ""), \
                    skipped
                return True
            await eventually(reported, what="TLS failure and wrong cluster reported")
    finally:
        await a.stop()
        await b.stop()


async def test_readiness_waits_for_the_first_sync_of_every_peer(clean_etcd):
    gate = asyncio.Event()

    async def version(request: web.Request) -> web.Response:
        return web.json_response({"clusterName": "gated"})

    async def collection(request: web.Request) -> web.StreamResponse:
        await gate.wait()
        if request.query.get("watch"):
            resp = web.StreamResponse()
            await resp.prepare(request)
            while True:
                await resp.write(b'{"type":"BOOKMARK","object":{"metadata":'
                                 b'{"resourceVersion":"3"}}}\n')
                await asyncio.sleep(0.5)
        return web.json_response({"items": [], "metadata": {"resourceVersion": "3"}})

    fake_app = web.Application()
    fake_app.router.add_get("/version", version)
    fake_app.router.add_get("/apis/projectcalico.org/v3/{plural}", collection)
    fake = TestServer(fake_app, host="127.0.0.1", port=free_port())
    await fake.start_server(shutdown_timeout=0.5)
    first = await InProcessServer(clean_etcd.endpoint, cluster_name="cluster-a",
                                  federation_options=FAST).start()
    async with httpx.AsyncClient(base_url=first.url) as c:
        await post(c, rcc("gated", f"http://127.0.0.1:{fake.port}"))
    await first.stop()

    second = await InProcessServer(clean_etcd.endpoint, cluster_name="cluster-a",
                                   federation_options=ManagerOptions(status_interval=0.1)
                                   ).start(wait=False)
    try:
        await ready_only_after_first_sync(second.url, "gated", gate)
    finally:
        await second.stop()
        await fake.close()


# -- names, pages, identity ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["b.x", "cluster-b.example.com", "Cluster-B", "b_x"])
async def test_peer_names_are_dns_labels_without_dots(server, name):
    async with httpx.AsyncClient(base_url=server, timeout=10) as c:
        r = await c.post(f"{GROUP}/remoteclusterconfigurations",
                         json=rcc(name, "https://peer.example:5443"))
    assert r.status_code == 422, r.text
    causes = r.json()["details"]["causes"]
    assert [c["field"] for c in causes] == ["metadata.name"], causes
    if "." in name:     # a DNS subdomain, which every other kind's names may be
        assert "must be a DNS label" in causes[0]["message"] and \
            "no '.'" in causes[0]["message"], causes


def test_copy_names_cannot_collide():
    """Peer ``b``'s ``x.y`` and peer ``b.x``'s ``y`` would both be ``b.x.y``: ``b.x`` cannot
    name a peer, so ``<peer>.<name>`` splits at the first dot. Endpoints' copies share the
    network sets' kinds, under ``<peer>.wep.``/``<peer>.hep.``: a set whose name starts so
    (or with ``set.``) is ``<peer>.set.<name>``."""
    catalog = Catalog()
    gset, nset, wep, hep = (catalog.kind(k) for k in ("GlobalNetworkSet", "NetworkSet",
                                                       "WorkloadEndpoint", "HostEndpoint"))
    assert name_problem("b") is None and name_problem("b.x") is not None
    assert copy_name("b", gset, "x.y").partition(".") == ("b", ".", "x.y")
    assert copy_name("b", wep, "node-k8s-web-eth0") == "b.wep.node-k8s-web-eth0"
    assert copy_name("b", hep, "node1-eth0") == "b.hep.node1-eth0"
    names = {copy_name("b", kind, name) for kind in (nset, wep)
             for name in ("x", "wep.x", "set.x", "set.wep.x", "hep.x", "wepx.y", "wep", "set")}
    assert len(names) == 16, names
    assert copy_name("b", nset, "wep.x") == "b.set.wep.x"
    assert copy_name("b", nset, "wep") == "b.wep" and copy_name("b", nset, "set") == "b.set"


def test_the_rcc_kinds_are_the_catalogs_mirrored_kinds():
    schema = json.loads((Path(__file__).parent.parent / "schemas" /
                         "remoteclusterconfiguration.json").read_text())
    kinds = schema["properties"]["spec"]["properties"]["syncOptions"]["properties"]["kinds"]
    assert kinds["items"]["enum"] == [k.kind for k in Catalog() if k.mirrored_as]
    assert kinds["maxItems"] == len(kinds["items"]["enum"])


async def test_a_real_peer_is_read_in_pages_and_identified_by_its_guid(clean_etcd, peer_etcd,
                                                                        tmp_path):
    paged = dataclasses.replace(FAST, limits=dataclasses.replace(FAST.limits, page_size=10))
    async with two_clusters(clean_etcd, peer_etcd, tmp_path, paged) as (ca, cb, token_file, b), \
            httpx.AsyncClient(base_url=b.url, timeout=10,
                              headers={"Authorization": "Bearer fed-b"}) as as_peer:
        for i in range(35):
            await post(cb, gns(f"s{i:02d}", [f"10.{i}.0.0/16"]))
        # the federation role may read the peer's identity, and no other object
        info = await as_peer.get(f"{GROUP}/clusterinformations/default")
        assert info.status_code == 200 and info.json()["spec"]["clusterGUID"]
        assert (await as_peer.get(f"{GROUP}/tiers/default")).status_code == 403
        assert (await as_peer.get(f"{GROUP}/clusterinformations")).status_code == 403
        await post(ca, rcc("cluster-b", b.url, tokenFile=str(token_file)))

        async def mirrored() -> bool:
            return len(await copies(ca, "globalnetworksets", "cluster-b")) == 35 and \
                (await status(ca, "cluster-b")).get("state") == "InSync"
        await eventually(mirrored, what="35 sets mirrored in pages of 10")
