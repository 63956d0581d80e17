"""Federation benchmark: initial sync of 10,000 network sets and propagation latency.

Starts two clusters on loopback (an etcd and an apiserver process each), fills the peer
(cluster-b) with N GlobalNetworkSets of ~20 CIDRs directly in its etcd, then:

1. creates the RemoteClusterConfiguration in cluster-a and times the initial sync (until
   cluster-a's metrics show N copies and state InSync);
2. makes U single updates in cluster-b at a steady rate and measures, per update, the time from
   sending the update to cluster-a's watch delivering the copy with that origin revision. An
   update not seen within ``--timeout`` seconds is a miss: it counts as ``--timeout`` in the
   percentiles, and any miss is reported loudly and makes the exit status 1;
3. prints the apiservers' RSS.

    .venv/bin/python bench/federation.py [--sets 10000] [--updates 1000] [--rate 50] [--timeout 10]
"""
from __future__ import annotations

import argparse
import asyncio
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

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from apiserver.resources.catalog import Catalog  # noqa: E402
from apiserver.resources.codec import encode  # noqa: E402
from apiserver.storage.embedded import EmbeddedEtcd, free_port  # noqa: E402
from apiserver.storage.etcd import EtcdStorage  # noqa: E402
from apiserver.storage.keys import object_key  # noqa: E402

G = "/apis/projectcalico.org/v3"
ORIGIN_RV = "federation.projectcalico.org/origin-resource-version"


def gns(i: int, version: int = 0) -> dict:
    nets = [f"10.{(i >> 8) & 255}.{i & 255}.{j * 8 + version % 8}/32" for j in range(20)]
    return {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
            "metadata": {"name": f"set-{i:05d}", "labels": {"app": f"a{i % 50}", "bench": "yes"},
                         "uid": str(uuid.uuid4()), "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nets": nets}}


class Apiserver:
    def __init__(self, name: str, etcd: EmbeddedEtcd, root: Path, token_file: Path) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(root / f"{name}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "apiserver", "--listen", f"127.0.0.1:{self.port}",
             "--etcd-endpoints", etcd.endpoint, "--cluster-name", name,
             "--token-auth-file", str(token_file), "--federation-credentials-dir", str(root),
             "--log-level", "warning"],
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
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fill(endpoint: str, count: int) -> None:
    storage = EtcdStorage([endpoint])
    kind = Catalog().kind("GlobalNetworkSet")
    sem = asyncio.Semaphore(64)

    async def put(i: int) -> None:
        obj = gns(i)
        async with sem:
            await storage.create(object_key(kind.plural, obj["metadata"]["name"]),
                                 encode(kind, obj))
    await asyncio.gather(*(put(i) for i in range(count)))
    await storage.close()


async def metric(client: httpx.AsyncClient, name: str, labels: str) -> float | None:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith(name + "{") and labels in line:
            return float(line.rsplit(" ", 1)[1])
    return None


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=10_000)
    ap.add_argument("--updates", type=int, default=1_000)
    ap.add_argument("--rate", type=float, default=50.0, help="updates per second")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds after which an update that has not arrived is a miss")
    ap.add_argument("--keep-logs", action="store_true", help="keep the apiserver logs")
    args = ap.parse_args()
    missed = 0
    root = Path(tempfile.mkdtemp(prefix="bench-federation-", dir="/dev/shm"))
    tokens = root / "tokens.csv"
    tokens.write_text('admin,admin,1,"calico:admin"\nfed,peer,2,"calico:federation"\n')
    (root / "peer.token").write_text("fed\n")
    etcd_a = EmbeddedEtcd(root / "etcd-a", name="a")
    etcd_b = EmbeddedEtcd(root / "etcd-b", name="b")
    servers: list[Apiserver] = []
    try:
        etcd_a.start()
        etcd_b.start()
        t = time.perf_counter()
        await fill(etcd_b.endpoint, args.sets)
        print(f"filled cluster-b's etcd with {args.sets} GlobalNetworkSets (20 CIDRs each) "
              f"in {time.perf_counter() - t:.1f}s")
        b = Apiserver("cluster-b", etcd_b, root, tokens)
        a = Apiserver("cluster-a", etcd_a, root, tokens)
        servers = [a, b]
        await asyncio.gather(a.ready("admin"), b.ready("admin"))
        hdr = {"Authorization": "Bearer admin"}
        async with httpx.AsyncClient(base_url=a.url, headers=hdr, timeout=30) as ca, \
                httpx.AsyncClient(base_url=b.url, headers=hdr, timeout=30) as cb:
            rss_before = a.rss_mib()
            cpu_a, cpu_etcd = a.cpu_seconds(), cpu_seconds(etcd_a.process.pid)
            t0 = time.perf_counter()
            r = await ca.post(f"{G}/remoteclusterconfigurations", json={
                "apiVersion": "projectcalico.org/v3", "kind": "RemoteClusterConfiguration",
                "metadata": {"name": "cluster-b"},
                "spec": {"apiServer": b.url, "tokenFile": str(root / "peer.token"),
                         "syncOptions": {"kinds": ["GlobalNetworkSet"],
                                         "maxObjects": max(args.sets, 1)}}})
            assert r.status_code == 201, r.text
            labels = 'kind="GlobalNetworkSet",peer="cluster-b"'
            while True:
                objects = await metric(ca, "calico_federation_objects", labels)
                in_sync = await metric(ca, "calico_federation_peer_state",
                                       labels + ',state="InSync"')
                if objects == args.sets and in_sync == 1.0:
                    break
                if time.perf_counter() - t0 > 300:
                    raise RuntimeError(f"no initial sync after 300s ({objects} objects)")
                await asyncio.sleep(0.05)
            initial = time.perf_counter() - t0
            cpu_a, cpu_etcd = a.cpu_seconds() - cpu_a, cpu_seconds(etcd_a.process.pid) - cpu_etcd
            listed = (await ca.get(f"{G}/globalnetworksets",
                                   params={"labelSelector": "bench=yes"})).json()["items"]
            assert len(listed) == args.sets, len(listed)
            print(f"initial sync of {args.sets} sets: {initial:.2f}s "
                  f"({args.sets / initial:.0f} sets/s)   [target <= 10 s]")
            print(f"  CPU used meanwhile: cluster-a apiserver {cpu_a:.1f}s "
                  f"({cpu_a / args.sets * 1000:.2f} ms per set), cluster-a etcd {cpu_etcd:.1f}s; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            rss_after_sync = a.rss_mib()

            # -- propagation latency -------------------------------------------------------
            rv = (await ca.get(f"{G}/globalnetworksets", params={"limit": "1"})).json()[
                "metadata"]["resourceVersion"]
            sent: dict[str, float] = {}
            seen: dict[str, float] = {}
            done = asyncio.Event()

            async def follow() -> None:
                async with ca.stream("GET", f"{G}/globalnetworksets", params={
                        "watch": "true", "resourceVersion": rv}, timeout=None) as resp:
                    async for line in resp.aiter_lines():
                        if not line:
                            continue
                        ev = json.loads(line)
                        origin = (ev["object"]["metadata"].get("annotations") or {}).get(ORIGIN_RV)
                        if origin and origin not in seen:
                            seen[origin] = time.perf_counter()
                            if len(seen) >= args.updates and len(sent) >= args.updates:
                                done.set()

            watcher = asyncio.create_task(follow())
            await asyncio.sleep(0.5)
            interval = 1.0 / args.rate
            start = time.perf_counter()
            for k in range(args.updates):
                await asyncio.sleep(max(0.0, start + k * interval - time.perf_counter()))
                i = (k * 7919) % args.sets
                before = time.perf_counter()
                r = await cb.patch(f"{G}/globalnetworksets/set-{i:05d}",
                                   json={"spec": {"nets": gns(i, k + 1)["spec"]["nets"]}},
                                   headers={"Content-Type": "application/merge-patch+json"})
                assert r.status_code == 200, r.text
                sent[r.json()["metadata"]["resourceVersion"]] = before
            try:
                await asyncio.wait_for(done.wait(), args.timeout)
            except asyncio.TimeoutError:
                pass
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            if watcher.done() and not watcher.cancelled() and watcher.exception():
                print(f"the benchmark's watch of cluster-a failed: {watcher.exception()!r}")
            lat, missed = latencies(sent, seen, args.timeout)
            q = statistics.quantiles(lat, n=100) if len(lat) > 1 else lat * 99
            print(f"propagation of {len(sent)} single updates at {args.rate:g}/s: "
                  f"p50 {statistics.median(lat):.1f} ms, p99 {q[98]:.1f} ms, "
                  f"max {lat[-1]:.1f} ms, missed {missed}   [target p99 <= 250 ms]")
            if missed:
                print(f"!!! {missed} of {len(sent)} updates did not reach cluster-a within "
                      f"{args.timeout:g}s; each counts as {args.timeout * 1000:.0f} ms in p50/p99 "
                      "above")
            print(f"cluster-a apiserver RSS: {rss_before:.0f} MiB before sync, "
                  f"{rss_after_sync:.0f} MiB after initial sync, {a.rss_mib():.0f} MiB at end; "
                  f"cluster-b apiserver RSS: {b.rss_mib():.0f} MiB")
    finally:
        for s in servers:
            s.stop()
        etcd_a.stop()
        etcd_b.stop()
        if args.keep_logs:
            print(f"logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if missed:
        sys.exit(1)


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


if __name__ == "__main__":
    asyncio.run(main())
