"""The apiserver against raw etcd, measured side by side in one run.

    .venv/bin/python bench/api.py [--objects 10000] [--concurrency 64] [--workers N]
                                  [--big 100000] [--skip-clients]

Starts its own etcd and an apiserver subprocess on it. Each figure is printed as
``name: value unit (ratio vs baseline)``, the baseline measured in the same run through the
same etcd client library (the server's own ``EtcdStorage``: a "key absent" transaction per
create, a range per get, a range plus JSON decoding for a list):

    creates, gets, list (JSON and Table), patch, watch fan-out p99 (100 watchers, 1,000
    updates), RSS growth over those requests, start-up (cache fill) and RSS per cached object
    against the objects' JSON with --objects and with --big objects in etcd, the peak RSS of
    32 concurrent lists of the larger collection, and ``ctl apply -f`` of 1,000 objects
    against ``kubectl apply -f`` of the same file.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from apiserver.storage.embedded import EmbeddedEtcd, free_port  # noqa: E402
from apiserver.storage.etcd import EtcdStorage  # noqa: E402

GROUP = "/apis/projectcalico.org/v3"
PREFIX = "/calico/resources/v3/projectcalico.org/globalnetworksets/"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
BIN = Path(sys.executable).parent


def netset(i: int, prefix: str = "set") -> dict:
    """A ~1 KB GlobalNetworkSet (20 CIDRs), as in the issue's figures."""
    return {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
            "metadata": {"name": f"{prefix}-{i:06d}", "labels": {"team": f"t{i % 10}"}},
            "spec": {"nets": [f"10.{i // 256 % 256}.{i % 256}.{j * 8}/29" for j in range(20)]}}


def figure(name: str, value: float, unit: str, baseline: float | None = None,
           note: str = "") -> None:
    ratio = f" ({value / baseline:.2f}x {note or 'raw etcd'})" if baseline else \
        (f" ({note})" if note else "")
    print(f"{name}: {value:,.1f} {unit}{ratio}", flush=True)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers_of(pid: int) -> list[int]:
    """The processes that serve (each with its own watch cache): the server's worker
    children (not its etcd, nor multiprocessing's resource tracker), or the server itself
    when it runs one worker in-process."""
    children = [int(c) for child in Path(f"/proc/{pid}/task").glob("*/children")
                for c in child.read_text().split()
                if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
    return children or [pid]


def worker_rss_mib(pid: int) -> float:
    """RSS of one worker (the largest): what one cache of every object costs."""
    return max(rss_mib(w) for w in workers_of(pid))


async def gather_bounded(n: int, concurrency: int, work) -> float:
    """Seconds to run ``work(i)`` for i < n, ``concurrency`` at a time."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await work(i)
    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - start


# -- raw etcd ---------------------------------------------------------------------------------
async def baseline(endpoint: str, objects: int, concurrency: int) -> dict[str, float]:
    storage = EtcdStorage([endpoint])
    values = [json.dumps(netset(i, "raw")).encode() for i in range(objects)]
    try:
        took = await gather_bounded(objects, concurrency, lambda i: storage.create(
            f"/bench/raw/{i:06d}", values[i]))
        creates = objects / took
        took = await gather_bounded(objects, concurrency, lambda i: storage.get(
            f"/bench/raw/{i:06d}"))
        gets = objects / took
        start = time.perf_counter()
        page = await storage.list("/bench/raw/")
        [json.loads(kv.value) for kv in page.items]
        listing = time.perf_counter() - start

        async def update(i: int) -> None:
            kv = await storage.get(f"/bench/raw/{i:06d}")
            await storage.update(kv.key, kv.value, expect_revision=kv.mod_revision)
        n = min(objects, 2000)
        patches = n / await gather_bounded(n, concurrency, update)
        await storage.list("/bench/raw/")
        return {"creates": creates, "gets": gets, "list": listing, "patches": patches,
                "json_bytes": sum(len(v) for v in values) / objects}
    finally:
        await storage.close()


# -- the apiserver ----------------------------------------------------------------------------
async def measure_server(url: str, pid: int, objects: int, concurrency: int,
                         raw: dict[str, float]) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as s:
        before = worker_rss_mib(pid)
        bodies = [json.dumps(netset(i)).encode() for i in range(objects)]

        async def create(i: int) -> None:
            async with s.post(f"{GROUP}/globalnetworksets", data=bodies[i],
                              headers={"Content-Type": "application/json"}) as r:
                assert r.status == 201, await r.text()
                await r.read()
        figure("creates", objects / await gather_bounded(objects, concurrency, create), "/s",
               raw["creates"])

        async def get(i: int) -> None:
            async with s.get(f"{GROUP}/globalnetworksets/set-{i:06d}") as r:
                assert r.status == 200
                await r.read()
        figure("gets", objects / await gather_bounded(objects, concurrency, get), "/s",
               raw["gets"])

        for name, headers in (("list", {}), ("list-table", {"Accept": TABLE})):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                async with s.get(f"{GROUP}/globalnetworksets", headers=headers) as r:
                    body = await r.read()
                times.append(time.perf_counter() - start)
            figure(f"{name} of {objects}", min(times) * 1000, "ms", raw["list"] * 1000,
                   "the time of raw range + decode")
            del body

        n = min(objects, 2000)

        async def patch(i: int) -> None:
            async with s.patch(f"{GROUP}/globalnetworksets/set-{i:06d}",
                               data=b'{"metadata":{"labels":{"patched":"%d"}}}' % i,
                               headers={"Content-Type": "application/merge-patch+json"}) as r:
                assert r.status == 200, await r.text()
                await r.read()
        figure("patches", n / await gather_bounded(n, concurrency, patch), "/s", raw["patches"])

        after = worker_rss_mib(pid)
        per_object = (after - before) * 1024 * 1024 / objects
        figure("RSS growth per object over the requests above (one worker)", per_object, "B",
               raw["json_bytes"], "its JSON")
        await watch_fanout(s)


async def watch_fanout(s: aiohttp.ClientSession, watchers: int = 100,
                       updates: int = 1000) -> None:
    """p99 of the delay from an update's acknowledgement to its arrival at each watcher."""
    rv = (await (await s.get(f"{GROUP}/globalnetworksets?limit=1")).json())[
        "metadata"]["resourceVersion"]
    acked: dict[str, float] = {}
    delays: list[float] = []
    done = asyncio.Event()
    seen = [0]

    watching = aiohttp.ClientSession(s._base_url, connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=None))

    async def watch() -> None:
        async with watching.get(f"{GROUP}/globalnetworksets?watch=1&resourceVersion={rv}&"
                                "fieldSelector=metadata.name%3Dset-000000") as r:
            async for line in r.content:
                event = json.loads(line)
                version = event["object"]["metadata"]["resourceVersion"]
                arrived = time.perf_counter()
                while version not in acked:
                    await asyncio.sleep(0.0005)
                delays.append(arrived - acked[version])
                seen[0] += 1
                if seen[0] >= watchers * updates:
                    done.set()
                    return
    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    await asyncio.sleep(1)
    for i in range(updates):
        sent = time.perf_counter()
        async with s.patch(f"{GROUP}/globalnetworksets/set-000000",
                           data=b'{"metadata":{"annotations":{"n":"%d"}}}' % i,
                           headers={"Content-Type": "application/merge-patch+json"}) as r:
            obj = await r.json()
        acked[obj["metadata"]["resourceVersion"]] = sent
    try:
        async with asyncio.timeout(60):
            await done.wait()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await watching.close()
    delays.sort()
    figure(f"watch fan-out p99 ({watchers} watchers, {updates} updates)",
           delays[int(len(delays) * 0.99)] * 1000, "ms")
    figure("watch fan-out p50", statistics.median(delays) * 1000, "ms")


def apply_clients(url: str, work: Path, count: int = 1000) -> None:
    """``ctl apply -f`` of ``count`` objects, against ``kubectl apply -f`` of the same file."""
    manifest = work / "apply.yaml"
    manifest.write_text(yaml.safe_dump_all([netset(i, "apply") for i in range(count)]))
    config = work / "kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    start = time.perf_counter()
    subprocess.run([str(BIN / "kubectl"), "--kubeconfig", str(config), "apply", "-f",
                    str(manifest)], check=True, capture_output=True)
    kubectl = time.perf_counter() - start
    subprocess.run([str(BIN / "kubectl"), "--kubeconfig", str(config), "delete", "-f",
                    str(manifest)], check=True, capture_output=True)
    start = time.perf_counter()
    subprocess.run([str(BIN / "ctl"), "--server", url, "apply", "-f", str(manifest)],
                   check=True, capture_output=True)
    ctl = time.perf_counter() - start
    figure(f"ctl apply -f ({count} objects)", ctl, "s")
    figure(f"kubectl apply -f ({count} objects)", kubectl, "s", ctl, "ctl's time")


def start_server(endpoint: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = [sys.executable, "-m", "apiserver", "--listen", f"127.0.0.1:{port}",
            "--etcd-endpoints", endpoint, "--no-federation", "--log-level", "warning"]
    if workers:
        args += ["--workers", str(workers)]
    proc = subprocess.Popen(args, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc.pid)
    return proc, url


def wait_ready(url: str, pid: int | None = None, timeout: float = 600) -> float:
    """Seconds until ``/readyz`` answers 200 and, with several workers (children of ``pid``),
    every worker's cache is primed (``/metrics`` gathers each worker's health checks):
    ``/readyz`` alone answers for whichever worker the connection reached."""
    import httpx
    start = time.monotonic()
    workers = 0
    while time.monotonic() - start < timeout:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                workers = len(workers_of(pid)) if pid else 1
                if workers <= 1 or _primed_workers(httpx.get(url + "/metrics", timeout=5).text) \
                        >= workers:
                    return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the apiserver did not become ready")


def _primed_workers(exposition: str) -> int:
    return len(re.findall(r'^kubernetes_healthcheck\{[^}]*name="watch-cache"[^}]*type="readyz"'
                          r'[^}]*\} 1\.0$', exposition, re.M))


async def fill(endpoint: str, count: int, first: int = 0) -> int:
    """Write sets ``first`` to ``count - 1`` straight into etcd, as the server would store
    them; the size of their JSON."""
    storage = EtcdStorage([endpoint])
    total = 0
    try:
        for base in range(first, count, 100):
            items = []
            for i in range(base, min(base + 100, count)):
                obj = netset(i, "big")
                obj["metadata"].update(uid=f"u{i}", creationTimestamp="2026-01-01T00:00:00Z")
                value = json.dumps(obj, separators=(",", ":")).encode()
                total += len(value)
                items.append((PREFIX + obj["metadata"]["name"], value))
            await storage.create_many(items)
    finally:
        await storage.close()
    return total


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss(pid: int) -> None:
    """Start VmHWM again from the current RSS (Linux: ``5`` to ``clear_refs``)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def concurrent_lists(url: str, pid: int, clients: int, json_mib: float) -> None:
    """Peak RSS growth of any worker while ``clients`` lists of the whole collection stream
    at once."""
    workers = workers_of(pid)
    before = {w: rss_mib(w) for w in workers}
    for w in workers:
        reset_peak_rss(w)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(url, connector=connector) as s:
        async def one() -> int:
            size = 0
            async with s.get(f"{GROUP}/globalnetworksets") as r:
                assert r.status == 200, f"{r.status}: {await r.text()}"
                async for chunk in r.content.iter_chunked(1 << 20):
                    size += len(chunk)
            return size
        start = time.perf_counter()
        sizes = await asyncio.gather(*(one() for _ in range(clients)))
        took = time.perf_counter() - start
    growth = max(peak_rss_mib(w) - before[w] for w in workers)
    figure(f"{clients} concurrent lists of {sizes[0] / 1e6:.0f} MB", took, "s")
    figure("peak RSS growth of a worker during them", growth, "MiB", json_mib,
           "the collection's JSON")


def startup(endpoint: str, counts: list[int], workers: int) -> None:
    """Start-up (cache fill) and RSS with each of ``counts`` objects in etcd (ascending); the
    RSS a worker has with none is the baseline of what the cache costs per object. The
    largest count also gets concurrent lists."""
    proc, _ = start_server(endpoint, workers)
    try:
        empty = worker_rss_mib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    json_bytes, filled, before = 0, 0, None
    for count in counts:
        json_bytes += asyncio.run(fill(endpoint, count, filled))
        filled = count
        start = time.monotonic()
        proc, url = start_server(endpoint, workers)
        took = time.monotonic() - start
        try:
            rss = worker_rss_mib(proc.pid)
            figure(f"start-up with {count} objects", took, "s")
            figure(f"RSS of a worker with {count} objects", rss, "MiB",
                   json_bytes / 1024 / 1024, "the objects' JSON")
            figure(f"RSS per object at {count}, above a worker with none ({empty:.0f} MiB)",
                   (rss - empty) * 1024 * 1024 / count, "B", json_bytes / count, "its JSON")
            if before is not None:   # linear growth: the same cost per object added
                figure(f"RSS per object added from {before[0]} to {count}",
                       (rss - before[1]) * 1024 * 1024 / (count - before[0]), "B",
                       json_bytes / count, "its JSON")
            before = (count, rss)
            if count == counts[-1]:
                asyncio.run(concurrent_lists(url, proc.pid, 32, json_bytes / 1024 / 1024))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--objects", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--workers", type=int, default=0, help="the server's --workers (0: its default)")
    p.add_argument("--big", type=int, default=0, help="also measure start-up and RSS with this "
                   "many objects (e.g. 100000), not only with --objects")
    p.add_argument("--skip-clients", action="store_true", help="skip ctl vs kubectl apply")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-api-", dir="/dev/shm"))
    etcd = EmbeddedEtcd(work / "etcd", name="bench")
    etcd.start()
    try:
        raw = asyncio.run(baseline(etcd.endpoint, a.objects, a.concurrency))
        proc, url = start_server(etcd.endpoint, a.workers)
        try:
            asyncio.run(measure_server(url, proc.pid, a.objects, a.concurrency, raw))
            if not a.skip_clients:
                apply_clients(url, work)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        subprocess.run(["etcdctl", f"--endpoints={etcd.endpoint}", "del", "--prefix",
                        "/calico/"], env={**os.environ, "ETCDCTL_API": "3"},
                       capture_output=True, check=True)
        startup(etcd.endpoint, sorted({a.objects, a.big} - {0}), a.workers)
    finally:
        etcd.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
