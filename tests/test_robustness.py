"""Hostile input, concurrency, crashes and datastore faults, against real processes.
Nothing acknowledged may be lost; nothing unacknowledged may appear half-written."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from calicomodel.builtins import builtins
from conftest import GROUP, ApiserverProcess, running_server

PLURALS = ["globalnetworksets", "networksets", "networkpolicies", "globalnetworkpolicies",
           "ippools", "tiers", "felixconfigurations", "bgppeers", "hostendpoints",
           "remoteclusterconfigurations", "clusterinformations", "profiles", "nodes",
           "workloadendpoints", "nonsense"]
KINDS = ["GlobalNetworkSet", "NetworkSet", "NetworkPolicy", "GlobalNetworkPolicy", "IPPool",
         "Tier", "FelixConfiguration", "BGPPeer", "HostEndpoint", "Bogus"]


def gns(name: str, nets: list[str] | None = None, labels: dict | None = None) -> dict:
    return {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
            "metadata": {"name": name, **({"labels": labels} if labels else {})},
            "spec": {"nets": nets if nets is not None else ["10.0.0.0/24"]}}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=5), max_leaves=30)
names = st.sampled_from(["a", "x1", "default", "Bad_Name", "..", "a" * 300, "%2F", "ns/x"]) \
    | st.text(alphabet="abc-.z09", min_size=1, max_size=20)
objects = st.builds(
    lambda kind, name, ns, spec, extra: {"apiVersion": "projectcalico.org/v3", "kind": kind,
                                         "metadata": {"name": name, **({"namespace": ns} if ns else {})},
                                         "spec": spec, **extra},
    st.sampled_from(KINDS), names, st.sampled_from([None, "default", "Bad NS"]),
    st.dictionaries(st.sampled_from(["nets", "selector", "cidr", "order", "ingress", "tier",
                                     "types", "node", "bogus"]), json_values, max_size=4),
    st.dictionaries(st.sampled_from(["status", "extra", "metadata"]), json_values, max_size=1))
yaml_oddities = st.sampled_from([
    b"metadata: {name: x, 7: y}", b"spec: {nets: [.nan, .inf]}", b"a: !!binary eA==",
    b"a: !!set {x}", b"a: &x [1]\nb: *x", b"a: 1\na: 2", b"? [a, b]\n: c", b"a: 2001-01-01",
    b"- - - []", b"!!python/object:os.system {}", b"\xef\xbb\xbfa: 1", b"a: !!float 1e400"])
bodies = (objects.map(lambda o: json.dumps(o).encode())
          | json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200)
          | yaml_oddities | st.sampled_from([b'{"a": NaN}', b'{"a": 1, "a": 2}', b"[" * 100,
                                               b'{"metadata": {"name": 1e999}}']))
odd_numbers = st.sampled_from(["nan", "inf", "-1", "1e400", "9" * 30, "0x10", "\u00b2", "1.5",
                               "٣", ""])
queries = st.dictionaries(
    st.sampled_from(["labelSelector", "fieldSelector", "selector", "limit", "continue",
                     "dryRun", "resourceVersion", "watch", "timeoutSeconds",
                     "allowWatchBookmarks", "includeObject", "junk"]),
    st.text(max_size=20) | odd_numbers | st.text(alphabet="()!&|=' ab,", max_size=300),
    max_size=3)
headers = st.dictionaries(
    st.sampled_from(["Accept", "Authorization", "Content-Encoding", "Transfer-Encoding", "X-Junk"]),
    st.sampled_from(["application/json;as=Table;v=v1;g=meta.k8s.io", "Bearer x", "Basic eA==",
                     "gzip", "*/*", "", "application/yaml"]), max_size=2)
content_types = st.sampled_from(["application/json", "application/yaml",
                                 "application/merge-patch+json", "application/json-patch+json",
                                 "application/strategic-merge-patch+json", "text/html", ""])


ACKNOWLEDGED: set[tuple[str, str | None, str]] = set()
"""(kind, namespace, name) of every object a fuzzed write was answered 2xx for."""


@pytest.fixture(scope="module")
def fuzz_server(etcd):
    from conftest import etcdctl
    etcdctl(etcd.endpoint, "del", "--prefix", "/calico/")
    proc = ApiserverProcess(etcd.endpoint, "--no-federation", "--request-timeout", "20").start()
    yield proc
    proc.stop()


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]),
       plural=st.sampled_from(PLURALS), namespace=st.sampled_from([None, "default", "x"]),
       name=st.none() | names, sub=st.sampled_from([None, "status", "junk"]), query=queries,
       body=bodies, ctype=content_types, extra=headers)
def test_fuzz_every_route_never_5xx(fuzz_server, method, plural, namespace, name, sub, query,
                                    body, ctype, extra):
    path = GROUP + (f"/namespaces/{namespace}" if namespace else "") + f"/{plural}"
    if name is not None:
        path += f"/{name}" + (f"/{sub}" if sub else "")
    if query.get("watch"):
        query["timeoutSeconds"] = "1"
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as c:
        try:
            r = c.request(method, path, params=query, content=body,
                          headers={**extra, "Content-Type": ctype})
        except httpx.LocalProtocolError:   # a header httpx itself will not send
            return
        assert r.status_code < 500, (method, path, query, body[:200], r.text[:500])
        if method in ("POST", "PUT", "PATCH") and r.status_code < 300 and "dryRun" not in query:
            meta = r.json()["metadata"]
            ACKNOWLEDGED.add((r.json()["kind"], meta.get("namespace"), meta["name"]))
        if r.status_code >= 400 and method != "HEAD" and \
                r.headers.get("content-type", "").startswith("application/json"):
            assert r.json()["kind"] == "Status"
        assert c.get("/healthz").text == "ok"


set_names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
set_bodies = st.builds(
    lambda name, labels, nets: gns(name, nets, labels),
    set_names, st.dictionaries(st.sampled_from(["a", "b", "Bad Key"]), st.text(max_size=4), max_size=2),
    st.lists(st.sampled_from(["10.0.0.0/8", "192.168.1.0/24", "fd00::/64", "300.1.1.1/8", ""]),
             max_size=3))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]), body=set_bodies,
       dry_run=st.booleans())
def test_fuzz_network_set_writes_never_5xx(fuzz_server, method, body, dry_run):
    """Mostly well-formed writes, so that many are acknowledged (checked below)."""
    name = body["metadata"]["name"]
    path = f"{GROUP}/globalnetworksets" + ("" if method == "POST" else f"/{name}")
    headers = {"Content-Type": "application/merge-patch+json" if method == "PATCH"
               else "application/json"}
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as c:
        r = c.request(method, path, params={"dryRun": "All"} if dry_run else {},
                      content=json.dumps(body), headers=headers)
        assert r.status_code < 500, r.text
        if method != "DELETE" and r.status_code < 300 and not dry_run:
            ACKNOWLEDGED.add(("GlobalNetworkSet", None, name))


BUILT_IN = {(obj["kind"], None, obj["metadata"]["name"]) for obj in builtins()} | {
    ("Profile", None, "projectcalico-default-allow")}


def test_after_fuzzing_only_acknowledged_objects_are_stored(fuzz_server):
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as c:
        for plural in PLURALS[:-1]:
            r = c.get(f"{GROUP}/{plural}")
            assert r.status_code == 200, r.text
            for obj in r.json()["items"]:
                meta = obj["metadata"]
                ident = (obj["kind"], meta.get("namespace"), meta["name"])
                assert ident in ACKNOWLEDGED | BUILT_IN, ident
                assert obj["apiVersion"] == "projectcalico.org/v3"


async def test_fifty_read_modify_write_clients_lose_no_increment(apiserver_process, clean_etcd):
    """50 clients, each with its own connections, spread over two apiserver processes that
    share one etcd, increment one label with resourceVersion compare-and-swap."""
    second = ApiserverProcess(clean_etcd.endpoint, "--no-federation").start()
    urls = [apiserver_process.url, second.url]
    try:
        async with httpx.AsyncClient(base_url=urls[0], timeout=30) as c:
            await c.post(f"{GROUP}/globalnetworksets", json=gns("counter", labels={"n": "0"}))
        acknowledged = 0

        async def worker(i: int) -> None:
            nonlocal acknowledged
            async with httpx.AsyncClient(base_url=urls[i % 2], timeout=30) as client:
                for _ in range(2):
                    while True:
                        obj = (await client.get(f"{GROUP}/globalnetworksets/counter")).json()
                        labels = obj["metadata"]["labels"]
                        labels["n"] = str(int(labels["n"]) + 1)
                        r = await client.put(f"{GROUP}/globalnetworksets/counter", json=obj)
                        if r.status_code == 200:
                            acknowledged += 1
                            break
                        assert r.status_code == 409, r.text
        await asyncio.gather(*(worker(i) for i in range(50)))
        async with httpx.AsyncClient(base_url=urls[1], timeout=30) as c:
            final = (await c.get(f"{GROUP}/globalnetworksets/counter")).json()
    finally:
        second.stop()
    assert int(final["metadata"]["labels"]["n"]) == acknowledged == 100


def test_kill_9_during_a_large_apply_loses_nothing_acknowledged(clean_etcd):
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation").start()
    sent = {f"k9-{i:04d}": gns(f"k9-{i:04d}", [f"10.{i // 256}.{i % 256}.0/24"],
                               {"batch": "kill9", "i": str(i)}) for i in range(1000)}
    acked: list[str] = []
    stop = threading.Event()

    def writer(names: list[str]) -> None:
        with httpx.Client(base_url=proc.url, timeout=5) as c:
            for name in names:
                if stop.is_set():
                    return
                try:
                    r = c.post(f"{GROUP}/globalnetworksets", json=sent[name])
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    acked.append(name)
    keys = sorted(sent)
    threads = [threading.Thread(target=writer, args=(keys[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    while len(acked) < 300:
        if not any(t.is_alive() for t in threads):
            break
        threading.Event().wait(0.01)
    os.kill(proc.proc.pid, signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    proc.proc.wait()
    assert len(acked) >= 300
    again = ApiserverProcess(clean_etcd.endpoint, "--no-federation").start()
    try:
        with again.client() as c:
            stored = {o["metadata"]["name"]: o for o in
                      c.get(f"{GROUP}/globalnetworksets?labelSelector=batch%3Dkill9").json()["items"]}
        assert set(acked) <= set(stored)
        for name, obj in stored.items():
            assert obj["spec"] == sent[name]["spec"]
            assert obj["metadata"]["labels"] == sent[name]["metadata"]["labels"]
    finally:
        again.stop()
        proc.stop()


async def test_etcd_down_under_load_watch_resumes_exactly(own_etcd):
    server = ApiserverProcess(own_etcd.endpoint, "--no-federation").start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
            start = (await c.get(f"{GROUP}/globalnetworksets")).json()["metadata"]["resourceVersion"]
            events: list[dict] = []

            async def watcher() -> None:
                async with c.stream("GET", f"{GROUP}/globalnetworksets?watch=1&resourceVersion={start}") as r:
                    async for line in r.aiter_lines():
                        if line.strip():
                            events.append(json.loads(line))
            watch = asyncio.create_task(watcher())
            acked, refused, uncertain, running = [], set(), set(), True

            async def load() -> None:
                i = 0
                while running:
                    name = f"load-{i:05d}"
                    r = await c.post(f"{GROUP}/globalnetworksets", json=gns(name))
                    if r.status_code == 201:
                        acked.append(r.json())
                    elif r.status_code == 503:  # nothing was written
                        assert r.json()["reason"] == "ServiceUnavailable", r.text
                        refused.add(name)
                    else:  # etcd was lost with the write in flight: it may have been applied
                        assert r.status_code == 504 and "may or may not" in r.json()["message"], r.text
                        uncertain.add(name)
                    i += 1
                    await asyncio.sleep(0.01)
            loader = asyncio.create_task(load())
            await asyncio.sleep(1)
            await asyncio.to_thread(own_etcd.stop)
            await asyncio.sleep(10)
            await asyncio.to_thread(own_etcd.start)
            resumed_at = len(acked)
            for _ in range(300):
                if len(acked) > resumed_at + 5:
                    break
                await asyncio.sleep(0.1)
            running = False
            await loader
            for _ in range(100):
                if len(events) >= len(acked):
                    break
                await asyncio.sleep(0.1)
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            stored = {o["metadata"]["name"] for o in
                      (await c.get(f"{GROUP}/globalnetworksets")).json()["items"]}
    finally:
        server.stop()
    assert refused
    assert {o["metadata"]["name"] for o in acked} <= stored <= \
        {o["metadata"]["name"] for o in acked} | uncertain
    seen = [(e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"])
            for e in events]
    assert not {name for _, name, _ in seen} & refused
    assert [s for s in seen if s[1] not in uncertain] == \
        [("ADDED", o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in acked]
    assert all(kind == "ADDED" for kind, _, _ in seen) and len({s[1] for s in seen}) == len(seen)


async def test_watchers_that_never_read_do_not_grow_memory(clean_etcd):
    async with running_server(clean_etcd.endpoint, watch_write_timeout=2.0) as url:
        port = int(url.rsplit(":", 1)[1])
        socks = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"GET {GROUP}/globalnetworksets?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            socks.append(s)
        before = _rss()
        big = [f"10.{i // 256}.{i % 256}.0/24" for i in range(400)]
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            for i in range(300):
                r = await c.post(f"{GROUP}/globalnetworksets", json=gns(f"big-{i}", big))
                assert r.status_code == 201
            growth = _rss() - before
            assert (await c.get("/healthz")).text == "ok"
        for s in socks:
            s.close()
    # 300 objects of ~10 KB, sent to 20 watchers: ~60 MB if every watcher buffered them all
    assert growth < 40, f"RSS grew by {growth:.0f} MiB"


def _rss() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def test_watch_limit_per_client_is_429(clean_etcd):
    async with running_server(clean_etcd.endpoint, max_watches_per_client=2) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            url_w = f"{GROUP}/globalnetworksets?watch=1&timeoutSeconds=5"
            async with c.stream("GET", url_w), c.stream("GET", url_w):
                await asyncio.sleep(0.2)
                r = await c.get(url_w)
                assert r.status_code == 429 and r.json()["reason"] == "TooManyRequests"


async def test_a_watch_whose_client_left_frees_its_slot(clean_etcd):
    """An idle watch notices its client is gone without waiting for an event to write."""
    async with running_server(clean_etcd.endpoint, max_watches_per_client=2) as url:
        port = int(url.rsplit(":", 1)[1])
        request = f"GET {GROUP}/globalnetworksets?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        for _ in range(3):   # three rounds of two watches that hang up
            conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            for reader, writer in conns:
                writer.write(request)
                await reader.readline()   # the response has started: the slot is taken
            for _, writer in conns:
                writer.close()
            async with httpx.AsyncClient(base_url=url, timeout=10) as c:
                for _ in range(100):
                    r = await c.get(f"{GROUP}/globalnetworksets?watch=1&timeoutSeconds=0")
                    if r.status_code == 200:
                        break
                    assert r.status_code == 429
                    await asyncio.sleep(0.1)
                assert r.status_code == 200, r.text


async def test_a_write_that_says_watch_is_still_bounded_by_the_request_timeout(clean_etcd):
    async with running_server(clean_etcd.endpoint, request_timeout=1.0) as url:
        port = int(url.rsplit(":", 1)[1])
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(20)
        s.sendall(f"POST {GROUP}/globalnetworksets?watch=1 HTTP/1.1\r\nHost: x\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode())
        reply = await asyncio.to_thread(s.recv, 4096)
        s.close()
        assert reply.startswith(b"HTTP/1.1 504"), reply


async def test_frozen_etcd_gives_a_timeout_status_not_a_hang(own_etcd):
    async with running_server(own_etcd.endpoint, request_timeout=1.5) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            assert (await c.get(f"{GROUP}/tiers")).status_code == 200
            os.kill(own_etcd.process.pid, signal.SIGSTOP)
            try:
                r = await c.post(f"{GROUP}/globalnetworksets", json=gns("frozen"))
                # the write was sent and never confirmed: the client is told it may be applied
                assert r.status_code == 504, r.text
                assert r.json()["reason"] == "Timeout" and "may or may not" in r.json()["message"]
            finally:
                os.kill(own_etcd.process.pid, signal.SIGCONT)
