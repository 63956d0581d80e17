"""Federation benchmarks; every figure is printed as ``name: value unit``, and with
``(ratio× baseline)`` where a raw-etcd baseline measured in the same run through the same
etcd client applies: the initial sync against copying the objects between the two etcds
directly, the propagation p99 against an etcd watch's delivery of writes at the same rate.

``sets`` and ``endpoints``: two clusters on loopback (an etcd and an apiserver process each).
The peer (cluster-b) is filled directly in its etcd with N GlobalNetworkSets of 20 CIDRs, or
with N WorkloadEndpoints in 100 namespaces (with the ``kns.``/``ksa.`` profiles Calico gives
pods), and exports them to cluster-a (a FederationExport). Then:

1. the RemoteClusterConfiguration is created in cluster-a and the initial sync timed (until
   cluster-a's metrics show N copies and state InSync);
2. U single updates are made in cluster-b at a steady rate (a set's CIDRs; a pod's address and
   labels) and, per update, the time measured from sending it to cluster-a's watch delivering
   the copy with that origin revision. An update not seen within ``--timeout`` seconds is a
   miss: it counts as ``--timeout`` in the percentiles, and any miss makes the exit status 1;
3. the apiservers' RSS and CPU are printed.

``scale``: one importer (an etcd and an apiserver process) and 50 peers served by one
fake-peer process (this script with ``--serve-fake-peers``: 50 listening sockets, each a
cluster of ``--peer-sets`` GlobalNetworkSets that counts its client connections). For 1, 10
and 50 peers, each with a fresh importer: the time from creating the RCCs until every peer is
InSync with all its sets, the importer's RSS, its CPU per object, and the most connections any
peer saw.

    .venv/bin/python bench/federation.py [sets endpoints scale] [--sets 10000]
        [--endpoints 10000] [--updates 1000] [--rate 50] [--timeout 10] [--peers 1,10,50]
        [--peer-sets 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Awaitable, Callable

import httpx
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from calicomodel.calico import NAMESPACE_LABEL, ORCHESTRATOR_LABEL  # noqa: E402
from calicomodel.catalog import API_VERSION, Catalog  # noqa: E402
from apiserver.storage.embedded import EmbeddedEtcd, free_port  # noqa: E402
from apiserver.storage.etcd import EtcdStorage  # noqa: E402

G = f"/apis/{API_VERSION}"
ORIGIN_RV = "federation.projectcalico.org/origin-resource-version"
NAMESPACES = 100
CREATED = "2026-01-01T00:00:00Z"


def report(name: str, value: float, unit: str, baseline: float | None = None,
           what: str = "") -> None:
    """``name: value unit``, with ``(ratio× what)`` when a baseline of the same run is given."""
    shown = str(value) if isinstance(value, int) else f"{value:.{3 if value < 10 else 1}f}"
    ratio = f" ({value / baseline:.2f}x {what})" if baseline else ""
    print(f"{name}: {shown} {unit}{ratio}", flush=True)


RAW = "/bench-raw/"   # scratch keys of the raw-etcd baselines, outside every kind's range


async def raw_copy(source: str, target: str) -> float:
    """Seconds to read every resource from the ``source`` etcd (pages of 2,000) and create
    each in the ``target`` etcd (64 at a time) through the server's own etcd client: what an
    importer cannot do in less. The copies are deleted afterwards."""
    src, dst = EtcdStorage([source]), EtcdStorage([target])
    sem = asyncio.Semaphore(64)

    async def put(key: str, value: bytes) -> None:
        async with sem:
            await dst.create(RAW + key, value)
    try:
        t, start, puts = time.perf_counter(), None, []
        while True:
            page = await src.list("/calico/resources/", start=start, limit=2000)
            puts += [asyncio.create_task(put(kv.key, kv.value)) for kv in page.items]
            if not page.more or not page.items:
                break
            start = page.items[-1].key + "\0"
        await asyncio.gather(*puts)
        return time.perf_counter() - t
    finally:
        await src.close()
        await dst.close()
        subprocess.run(["etcdctl", f"--endpoints={target}", "del", "--prefix", RAW],
                       env={**os.environ, "ETCDCTL_API": "3"}, capture_output=True, check=True)


async def raw_propagation(endpoint: str, updates: int, rate: float) -> list[float]:
    """Latencies (ms, sorted) from a write's acknowledgement to an etcd watch delivering it,
    ``updates`` writes at ``rate`` per second: the floor under a copy's propagation."""
    storage = EtcdStorage([endpoint])
    acked: dict[int, float] = {}
    seen: dict[int, float] = {}
    stream = storage.watch(RAW, start_revision=await storage.current_revision() + 1)

    async def follow() -> None:
        async for _, events in stream:
            for ev in events:
                seen[ev.kv.mod_revision] = time.perf_counter()
            if len(seen) >= updates:
                return
    watcher = asyncio.create_task(follow())
    try:
        await asyncio.sleep(0.5)
        interval, start = 1.0 / rate, time.perf_counter()
        for k in range(updates):
            await asyncio.sleep(max(0.0, start + k * interval - time.perf_counter()))
            before = time.perf_counter()
            acked[await storage.create(f"{RAW}{k}", b"{}")] = before
        async with asyncio.timeout(10):
            await watcher
    finally:
        watcher.cancel()
        stream.close()
        await storage.close()
    return sorted((seen[rev] - t) * 1000 for rev, t in acked.items() if rev in seen)


def meta(name: str, labels: dict, namespace: str | None = None) -> dict:
    return {"name": name, **({"namespace": namespace} if namespace else {}), "labels": labels,
            "uid": str(uuid.uuid4()), "creationTimestamp": CREATED}


def gns(i: int, version: int = 0) -> dict:
    nets = [f"10.{(i >> 8) & 255}.{i & 255}.{j * 8 + version % 8}/32" for j in range(20)]
    return {"apiVersion": API_VERSION, "kind": "GlobalNetworkSet",
            "metadata": meta(f"set-{i:05d}", {"app": f"a{i % 50}", "bench": "yes"}),
            "spec": {"nets": nets}}


def wep(i: int, version: int = 0) -> dict:
    """Pod ``i``'s WorkloadEndpoint, as Calico's CNI plugin writes it."""
    ns = f"ns-{i % NAMESPACES:02d}"
    labels = {"app": f"a{(i + version) % 50}", "bench": "yes", NAMESPACE_LABEL: ns,
              ORCHESTRATOR_LABEL: "k8s"}
    return {"apiVersion": API_VERSION, "kind": "WorkloadEndpoint",
            "metadata": meta(f"node{i % 20}-k8s-pod--{i:05d}-eth0", labels, ns),
            "spec": {"orchestrator": "k8s", "node": f"node{i % 20}", "pod": f"pod-{i:05d}",
                     "endpoint": "eth0", "interfaceName": f"cali{i:011d}",
                     "serviceAccountName": "default",
                     "profiles": [f"kns.{ns}", f"ksa.{ns}.default"],
                     "ipNetworks": [f"10.{(i >> 8) & 255}.{i & 255}.{version % 250 + 1}/32"]}}


def profiles() -> list[dict]:
    out = []
    for n in range(NAMESPACES):
        ns = f"ns-{n:02d}"
        out += [{"apiVersion": API_VERSION, "kind": "Profile", "metadata": meta(f"kns.{ns}", {}),
                 "spec": {"labelsToApply": {"pcns.team": f"t{n % 7}",
                                            "pcns.projectcalico.org/name": ns}}},
                {"apiVersion": API_VERSION, "kind": "Profile",
                 "metadata": meta(f"ksa.{ns}.default", {}),
                 "spec": {"labelsToApply": {"pcsa.projectcalico.org/name": "default"}}}]
    return out


class Apiserver:
    def __init__(self, name: str, etcd: EmbeddedEtcd, root: Path, token_file: Path) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(root / f"{name}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "apiserver", "--listen", f"127.0.0.1:{self.port}",
             "--etcd-endpoints", etcd.endpoint, "--cluster-name", name,
             "--token-auth-file", str(token_file), "--federation-credentials-dir", str(root),
             "--log-level", "warning", "--workers", "1"],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)

    async def ready(self, token: str) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=5,
                                     headers={"Authorization": f"Bearer {token}"}) as c:
            for _ in range(600):
                try:
                    if (await c.get("/readyz")).status_code == 200 and \
                            (await c.get(f"{G}/tiers/default")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready")

    def rss_mib(self) -> float:
        return rss_mib(self.proc.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fill(endpoint: str, objects: list[dict]) -> None:
    """Write ``objects`` straight into an etcd, as the apiserver would store them."""
    storage, catalog = EtcdStorage([endpoint]), Catalog()
    sem = asyncio.Semaphore(64)

    async def put(obj: dict) -> None:
        kind = catalog.kind(obj["kind"])
        async with sem:
            await storage.create(kind.layout.key(obj), kind.layout.encode(obj))
    await asyncio.gather(*(put(o) for o in objects))
    await storage.close()


def parse_metrics(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every series of metric ``name``: (labels, value)."""
    out = []
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels_text, value = line[len(name) + 1:].rsplit("} ", 1)
            labels = dict(part.split("=", 1) for part in labels_text.split('",') if "=" in part)
            out.append(({k: v.strip('"') for k, v in labels.items()}, float(value)))
    return out


async def synced(client: httpx.AsyncClient, kind: str, peers: int, objects: int) -> bool:
    """Whether ``peers`` peers are InSync for ``kind`` holding ``objects`` copies in all."""
    text = (await client.get("/metrics")).text
    held = sum(v for labels, v in parse_metrics(text, "calico_federation_objects")
               if labels.get("kind") == kind)
    in_sync = sum(v for labels, v in parse_metrics(text, "calico_federation_peer_state")
                  if labels.get("kind") == kind and labels.get("state") == "InSync")
    return held == objects and in_sync == peers


async def until(check: Callable[[], Awaitable[bool]], limit: float, what: str) -> None:
    """Return once ``check()`` holds (polled every 50 ms); RuntimeError after ``limit`` s."""
    t0 = time.perf_counter()
    while not await check():
        if time.perf_counter() - t0 > limit:
            raise RuntimeError(f"{what}: not done after {limit:.0f}s")
        await asyncio.sleep(0.05)


def rcc(name: str, url: str, token_file: Path, **options) -> dict:
    return {"apiVersion": API_VERSION, "kind": "RemoteClusterConfiguration",
            "metadata": {"name": name},
            "spec": {"apiServer": url, "tokenFile": str(token_file), "syncOptions": options}}


# -- sets and endpoints: two real clusters ----------------------------------------------------
def moved_set(i: int, version: int) -> dict:
    """The merge patch of update ``version`` of set ``i``: new CIDRs."""
    return {"spec": {"nets": gns(i, version)["spec"]["nets"]}}


def moved_pod(i: int, version: int) -> dict:
    """The merge patch of update ``version`` of pod ``i``: a new address and app label."""
    pod = wep(i, version)
    return {"metadata": {"labels": {"app": pod["metadata"]["labels"]["app"]}},
            "spec": {"ipNetworks": pod["spec"]["ipNetworks"]}}


Make = Callable[[int, int], dict]
SCENARIOS: dict[str, tuple[str, str, str, Make, Make]] = {
    # name: (peer kind, its plural, the copies' plural, object(i, version), patch(i, version))
    "sets": ("GlobalNetworkSet", "globalnetworksets", "globalnetworksets", gns, moved_set),
    "endpoints": ("WorkloadEndpoint", "workloadendpoints", "networksets", wep, moved_pod),
}


async def two_clusters(scenario: str, count: int, args: argparse.Namespace, root: Path) -> int:
    """Run one scenario; returns the number of missed updates."""
    kind, plural, copies, make, update = SCENARIOS[scenario]
    tokens = root / "tokens.csv"
    etcd_a = EmbeddedEtcd(root / f"etcd-a-{scenario}", name="a")
    etcd_b = EmbeddedEtcd(root / f"etcd-b-{scenario}", name="b")
    servers: list[Apiserver] = []
    try:
        etcd_a.start()
        etcd_b.start()
        objects = [make(i) for i in range(count)]
        t = time.perf_counter()
        await fill(etcd_b.endpoint, objects + (profiles() if scenario == "endpoints" else []))
        report(f"{scenario}.fill_peer_etcd", time.perf_counter() - t, "s")
        raw_sync = await raw_copy(etcd_b.endpoint, etcd_a.endpoint)
        report(f"{scenario}.raw_etcd_copy", raw_sync, "s")
        raw_lat = await raw_propagation(etcd_b.endpoint, min(args.updates, 200), args.rate)
        raw_p99 = statistics.quantiles(raw_lat, n=100)[98]
        report(f"{scenario}.raw_etcd_watch.p99", raw_p99, "ms")
        b = Apiserver("cluster-b", etcd_b, root, tokens)
        a = Apiserver("cluster-a", etcd_a, root, tokens)
        servers = [a, b]
        await asyncio.gather(a.ready("admin"), b.ready("admin"))
        hdr = {"Authorization": "Bearer admin"}
        async with httpx.AsyncClient(base_url=a.url, headers=hdr, timeout=30) as ca, \
                httpx.AsyncClient(base_url=b.url, headers=hdr, timeout=30) as cb:
            r = await cb.post(f"{G}/federationexports", json={
                "apiVersion": API_VERSION, "kind": "FederationExport",
                "metadata": {"name": "to-cluster-a"}, "spec": {"users": ["cluster-a"]}})
            assert r.status_code == 201, r.text
            rss_before = a.rss_mib()
            cpu_a, cpu_etcd = a.cpu_seconds(), cpu_seconds(etcd_a.process.pid)
            t0 = time.perf_counter()
            r = await ca.post(f"{G}/remoteclusterconfigurations", json=rcc(
                "cluster-b", b.url, root / "peer.token", kinds=[kind], maxObjects=count))
            assert r.status_code == 201, r.text
            await until(lambda: synced(ca, kind, 1, count), 600,
                        f"initial sync of {count} {plural}")
            initial = time.perf_counter() - t0
            cpu_a, cpu_etcd = a.cpu_seconds() - cpu_a, cpu_seconds(etcd_a.process.pid) - cpu_etcd
            listed = (await ca.get(f"{G}/{copies}", params={"labelSelector": "bench=yes"})).json()
            assert len(listed["items"]) == count, len(listed["items"])
            report(f"{scenario}.initial_sync.objects", count, "objects")
            report(f"{scenario}.initial_sync", initial, "s", raw_sync,
                   "a raw copy between the etcds")
            report(f"{scenario}.initial_sync.rate", count / initial, "objects/s")
            report(f"{scenario}.initial_sync.importer_cpu_per_object",
                   cpu_a / count * 1000, "ms")
            report(f"{scenario}.initial_sync.importer_etcd_cpu", cpu_etcd, "s")
            rss_after_sync = a.rss_mib()
            lat, missed = await propagation(ca, cb, plural, copies, count, make, update, args)
            q = statistics.quantiles(lat, n=100) if len(lat) > 1 else lat * 99
            report(f"{scenario}.propagation.updates", len(lat), "updates")
            report(f"{scenario}.propagation.rate", args.rate, "updates/s")
            report(f"{scenario}.propagation.p50", statistics.median(lat), "ms")
            report(f"{scenario}.propagation.p99", q[98], "ms", raw_p99,
                   "a raw etcd watch's p99")
            report(f"{scenario}.propagation.max", lat[-1], "ms")
            report(f"{scenario}.propagation.missed", missed, "updates")
            if missed:
                print(f"!!! {missed} of {len(lat)} updates did not reach cluster-a within "
                      f"{args.timeout:g}s; each counts as {args.timeout * 1000:.0f} ms above")
            report(f"{scenario}.importer_rss.before_sync", rss_before, "MiB")
            report(f"{scenario}.importer_rss.after_sync", rss_after_sync, "MiB")
            report(f"{scenario}.importer_rss.at_end", a.rss_mib(), "MiB")
            report(f"{scenario}.exporter_rss", b.rss_mib(), "MiB")
        return missed
    finally:
        for s in servers:
            s.stop()
        etcd_a.stop()
        etcd_b.stop()


async def propagation(ca: httpx.AsyncClient, cb: httpx.AsyncClient, plural: str, copies: str,
                      count: int, make: Make, update: Make,
                      args: argparse.Namespace) -> tuple[list[float], int]:
    """Latencies (ms, sorted) of ``args.updates`` single updates at ``args.rate``, from the
    PATCH in cluster-b to cluster-a's watch of the copies delivering that origin revision.
    Each update changes a different object (7919 is prime to the counts used) from its
    version 0 to a version 1-7 (a patch that changes nothing would make no event)."""
    listed = (await ca.get(f"{G}/{copies}", params={"limit": "1"})).json()
    rv = listed["metadata"]["resourceVersion"]
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = asyncio.Event()

    async def follow() -> None:
        async with ca.stream("GET", f"{G}/{copies}", params={
                "watch": "true", "resourceVersion": rv}, timeout=None) as resp:
            async for line in resp.aiter_lines():
                if not line:
                    continue
                origin = (json.loads(line)["object"]["metadata"].get("annotations")
                          or {}).get(ORIGIN_RV)
                if origin and origin not in seen:
                    seen[origin] = time.perf_counter()
                    if len(seen) >= args.updates and len(sent) >= args.updates:
                        done.set()

    watcher = asyncio.create_task(follow())
    await asyncio.sleep(0.5)
    interval, start = 1.0 / args.rate, time.perf_counter()
    for k in range(args.updates):
        await asyncio.sleep(max(0.0, start + k * interval - time.perf_counter()))
        i = (k * 7919) % count
        obj = make(i, 0)
        ns = obj["metadata"].get("namespace")
        path = f"{G}/namespaces/{ns}/{plural}" if ns else f"{G}/{plural}"
        before = time.perf_counter()
        r = await cb.patch(f"{path}/{obj['metadata']['name']}", json=update(i, 1 + k % 7),
                           headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
        sent[r.json()["metadata"]["resourceVersion"]] = before
    try:
        async with asyncio.timeout(args.timeout):
            await done.wait()
    except TimeoutError:
        pass
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    return latencies(sent, seen, args.timeout)


def latencies(sent: dict[str, float], seen: dict[str, float],
              timeout: float) -> tuple[list[float], int]:
    """Sorted per-update latencies in ms, a miss (not seen, or seen after ``timeout``) counted
    as ``timeout``; and the number of misses."""
    lat, missed = [], 0
    for rv, t in sent.items():
        took = seen[rv] - t if rv in seen else None
        if took is None or took > timeout:
            missed += 1
            took = timeout
        lat.append(took * 1000)
    return sorted(lat), missed


# -- scale: one importer, many peers of one fake-peer process ---------------------------------
class FakePeers:
    """``count`` peer clusters ``peer-NN`` on their own sockets, each holding ``sets``
    GlobalNetworkSets at revision 1000 and exporting them; lists are paged, watches send a
    bookmark every 2 s. ``/stats`` on the control socket says how many client connections
    each peer has seen (``?reset=1`` starts counting again)."""

    def __init__(self, count: int, sets: int) -> None:
        self.names = [f"peer-{n:02d}" for n in range(count)]
        self.items = {p: [json.dumps(self._set(p, i)).encode() for i in range(sets)]
                      for p in self.names}
        self.connections: dict[str, set] = collections.defaultdict(set)

    @staticmethod
    def _set(peer: str, i: int) -> dict:
        obj = gns(i)
        obj["metadata"].update(resourceVersion=str(i + 1), uid=f"{peer}-{i}")
        return obj

    def app(self, peer: str) -> web.Application:
        def seen(request: web.Request) -> None:
            self.connections[peer].add(request.transport.get_extra_info("peername"))

        async def version(request: web.Request) -> web.Response:
            seen(request)
            return web.json_response({"clusterName": peer})

        async def info(request: web.Request) -> web.Response:
            seen(request)
            return web.json_response({"kind": "ClusterInformation", "metadata": {
                "name": "default", "resourceVersion": "1"}, "spec": {"clusterGUID": peer}})

        async def exports(request: web.Request) -> web.Response:
            seen(request)
            return web.json_response({"kind": "FederationExportList", "metadata": {
                "resourceVersion": "1000"}, "items": [{"metadata": {
                    "name": "all", "resourceVersion": "1"}, "spec": {"users": ["cluster-a"]}}]})

        async def sets(request: web.Request) -> web.StreamResponse:
            seen(request)
            if request.query.get("watch") == "true":
                return await watch(request)
            limit = int(request.query.get("limit") or 0) or len(self.items[peer])
            start = int(request.query.get("continue") or 0)
            page = self.items[peer][start:start + limit]
            following = start + limit if start + limit < len(self.items[peer]) else None
            head = {"resourceVersion": "1000",
                    **({"continue": str(following)} if following is not None else {})}
            body = (b'{"kind":"GlobalNetworkSetList","apiVersion":"projectcalico.org/v3",'
                    b'"metadata":' + json.dumps(head).encode() + b',"items":['
                    + b",".join(page) + b"]}")
            return web.Response(body=body, content_type="application/json")

        async def watch(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(headers={"Content-Type": "application/json;stream=watch"})
            await resp.prepare(request)
            deadline = time.monotonic() + float(request.query.get("timeoutSeconds") or 60)
            while time.monotonic() < deadline:
                await resp.write(b'{"type":"BOOKMARK","object":{"kind":"GlobalNetworkSet",'
                                 b'"metadata":{"resourceVersion":"1000"}}}\n')
                await asyncio.sleep(2)
            return resp

        app = web.Application()
        app.router.add_get("/version", version)
        app.router.add_get(f"{G}/clusterinformations/default", info)
        app.router.add_get(f"{G}/federationexports", exports)
        app.router.add_get(f"{G}/globalnetworksets", sets)
        return app

    async def serve(self) -> None:
        """Serve every peer and the control socket; print one JSON line {peer: url, "stats":
        url}; run until killed."""
        urls = {}
        for peer in self.names:
            urls[peer] = await _listen(self.app(peer))

        async def stats(request: web.Request) -> web.Response:
            counts = {p: len(c) for p, c in self.connections.items()}
            if request.query.get("reset"):
                self.connections.clear()
            return web.json_response(counts)
        control = web.Application()
        control.router.add_get("/stats", stats)
        urls["stats"] = await _listen(control) + "/stats"
        print(json.dumps(urls), flush=True)
        await asyncio.Event().wait()


async def _listen(app: web.Application) -> str:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    return f"http://127.0.0.1:{port}"


async def scale(args: argparse.Namespace, root: Path) -> None:
    points = [int(p) for p in args.peers.split(",")]
    fake = subprocess.Popen([sys.executable, __file__, "--serve-fake-peers", str(max(points)),
                             "--peer-sets", str(args.peer_sets)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        urls = json.loads(await asyncio.to_thread(fake.stdout.readline))  # type: ignore[union-attr]
        for peers in points:
            await scale_point(peers, urls, args.peer_sets, root)
    finally:
        fake.kill()
        fake.wait()


async def scale_point(peers: int, urls: dict[str, str], sets: int, root: Path) -> None:
    """A fresh importer mirrors ``peers`` fake peers; report time, RSS, CPU, connections."""
    etcd = EmbeddedEtcd(root / f"etcd-scale-{peers}", name="a")
    etcd.start()
    a = Apiserver("cluster-a", etcd, root, root / "tokens.csv")
    name = f"scale.peers_{peers}"
    try:
        await a.ready("admin")
        async with httpx.AsyncClient(base_url=a.url, timeout=30,
                                     headers={"Authorization": "Bearer admin"}) as ca, \
                httpx.AsyncClient(timeout=10) as control:
            await control.get(urls["stats"], params={"reset": "1"})
            rss_before, cpu = a.rss_mib(), a.cpu_seconds()
            t0 = time.perf_counter()
            for n in range(peers):
                peer = f"peer-{n:02d}"
                r = await ca.post(f"{G}/remoteclusterconfigurations", json=rcc(
                    peer, urls[peer], root / "peer.token", kinds=["GlobalNetworkSet"]))
                assert r.status_code == 201, r.text
            await until(lambda: synced(ca, "GlobalNetworkSet", peers, peers * sets), 900,
                        f"sync of {peers} peers")
            took, cpu = time.perf_counter() - t0, a.cpu_seconds() - cpu
            await asyncio.sleep(1)
            connections = (await control.get(urls["stats"])).json()
            report(f"{name}.objects", peers * sets, "objects")
            report(f"{name}.sync", took, "s")
            report(f"{name}.rate", peers * sets / took, "objects/s")
            report(f"{name}.importer_cpu_per_object", cpu / (peers * sets) * 1000, "ms")
            report(f"{name}.importer_rss.before", rss_before, "MiB")
            report(f"{name}.importer_rss.after_sync", a.rss_mib(), "MiB")
            report(f"{name}.connections_per_peer.max", max(connections.values()), "connections")
            report(f"{name}.connections.total", sum(connections.values()), "connections")
    finally:
        a.stop()
        etcd.stop()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenarios", nargs="*", metavar="sets|endpoints|scale",
                    help="what to run (default: all three)")
    ap.add_argument("--sets", type=int, default=10_000)
    ap.add_argument("--endpoints", type=int, default=10_000)
    ap.add_argument("--updates", type=int, default=1_000)
    ap.add_argument("--rate", type=float, default=50.0, help="updates per second")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds after which an update that has not arrived is a miss")
    ap.add_argument("--peers", default="1,10,50", help="the scale benchmark's peer counts")
    ap.add_argument("--peer-sets", type=int, default=1_000, help="sets of each scale peer")
    ap.add_argument("--serve-fake-peers", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--keep-logs", action="store_true", help="keep the apiserver logs")
    args = ap.parse_args()
    args.scenarios = args.scenarios or ["sets", "endpoints", "scale"]
    if set(args.scenarios) - {"sets", "endpoints", "scale"}:
        ap.error(f"unknown scenario in {args.scenarios}")
    if args.serve_fake_peers:
        await FakePeers(args.serve_fake_peers, args.peer_sets).serve()
        return
    root = Path(tempfile.mkdtemp(prefix="bench-federation-", dir="/dev/shm"))
    (root / "tokens.csv").write_text('admin,admin,1,"calico:admin"\n'
                                     'fed,cluster-a,2,"calico:federation"\n')
    (root / "peer.token").write_text("fed\n")
    missed = 0
    try:
        for scenario in args.scenarios:
            if scenario == "scale":
                await scale(args, root)
            else:
                missed += await two_clusters(
                    scenario, args.sets if scenario == "sets" else args.endpoints, args, root)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        if args.keep_logs:
            print(f"logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if missed:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
