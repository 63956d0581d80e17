"""``--workers 2``: two serving processes on one port, consistent with each other."""
from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from conftest import GROUP, ApiserverProcess, gns


def _workers(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def _labelled_workers(text: str, series: str) -> set[str]:
    return {line.split('worker="')[1].split('"')[0] for line in text.splitlines()
            if line.startswith(series + "{") and 'worker="' in line}


@pytest.fixture
def two_workers(clean_etcd):
    """A server with two workers, both serving (the port answers as soon as one does)."""
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation", "--workers", "2").start()
    deadline = time.monotonic() + 20
    with httpx.Client(base_url=proc.url, timeout=5) as c:
        while _labelled_workers(c.get("/metrics").text, "process_start_time_seconds") != \
                {"0", "1"}:
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.1)
    yield proc
    proc.stop()


def _fresh(proc: ApiserverProcess) -> httpx.Client:
    """A client whose every request opens a new connection (the kernel picks the worker)."""
    return httpx.Client(base_url=proc.url, timeout=10, headers={"Connection": "close"},
                        limits=httpx.Limits(max_keepalive_connections=0))


def test_two_workers_serve_and_every_read_sees_the_write_before_it(two_workers):
    assert len(_workers(two_workers.proc.pid)) == 2
    with _fresh(two_workers) as c:
        for i in range(60):
            created = c.post(f"{GROUP}/globalnetworksets", json=gns(f"r{i}", ["10.0.0.0/8"]))
            assert created.status_code == 201, created.text
            got = c.get(f"{GROUP}/globalnetworksets/r{i}")
            assert got.status_code == 200, f"write {i} not read back: {got.text}"
            assert got.json()["metadata"]["resourceVersion"] == \
                created.json()["metadata"]["resourceVersion"]
            patched = c.patch(f"{GROUP}/globalnetworksets/r{i}",
                              json={"metadata": {"labels": {"n": str(i)}}},
                              headers={"Content-Type": "application/merge-patch+json"})
            listed = c.get(f"{GROUP}/globalnetworksets", params={"labelSelector": f"n={i}"})
            assert [o["metadata"]["resourceVersion"] for o in listed.json()["items"]] == \
                [patched.json()["metadata"]["resourceVersion"]]
            assert c.delete(f"{GROUP}/globalnetworksets/r{i}").status_code == 200
            assert c.get(f"{GROUP}/globalnetworksets/r{i}").status_code == 404


def test_a_watch_on_one_worker_sees_writes_through_both_in_order(two_workers):
    with _fresh(two_workers) as c:
        start = c.post(f"{GROUP}/globalnetworksets", json=gns("w", ["10.0.0.0/8"])).json()
        rv = start["metadata"]["resourceVersion"]
        with httpx.Client(base_url=two_workers.url, timeout=30) as watcher, watcher.stream(
                "GET", f"{GROUP}/globalnetworksets",
                params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "20"}) as events:
            written = []
            for i in range(40):
                r = c.patch(f"{GROUP}/globalnetworksets/w", json={"metadata": {"labels": {
                    "n": str(i)}}}, headers={"Content-Type": "application/merge-patch+json"})
                written.append(r.json()["metadata"]["resourceVersion"])
            seen = []
            for line in events.iter_lines():
                if line.strip():
                    event = json.loads(line)
                    seen.append(event["object"]["metadata"]["resourceVersion"])
                    if len(seen) == len(written):
                        break
    assert seen == written


def test_a_worker_that_dies_is_started_again_and_sigterm_stops_all(clean_etcd):
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation", "--workers", "2").start()
    try:
        first, second = _workers(proc.proc.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = _workers(proc.proc.pid)
            if len(now) == 2 and first not in now:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the killed worker was not replaced: {_workers(proc.proc.pid)}")
        proc.wait_ready()
        workers = _workers(proc.proc.pid)
    finally:
        proc.stop()
    assert proc.proc.returncode == 0, proc.output()
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_metrics_hold_every_workers_series(two_workers):
    with _fresh(two_workers) as c:
        for i in range(20):
            c.get("/version")
        text = c.get("/metrics").text
    assert _labelled_workers(text, "apiserver_request_total") == {"0", "1"}, \
        "both workers answered requests and both count them"
    types = [line for line in text.splitlines() if line.startswith("# TYPE apiserver_request_total")]
    assert len(types) == 1, "one family, merged"
    served = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith("apiserver_request_total{") and 'subresource="/version"' in line)
    assert served >= 20


async def _fill(endpoint: str, count: int) -> None:
    """``count`` GlobalNetworkSets written straight into etcd, as the server stores them."""
    from apiserver.storage.etcd import EtcdStorage
    from calicomodel.catalog import Catalog
    from calicomodel.stored import dumps
    layout = Catalog().kind("GlobalNetworkSet").layout
    storage = EtcdStorage([endpoint])
    try:
        for base in range(0, count, 100):   # etcd takes at most 128 operations a transaction
            items = []
            for i in range(base, min(base + 100, count)):
                obj = gns(f"s{i:06d}", [f"10.{i // 256 % 256}.{i % 256}.{j}/32"
                                        for j in range(20)])
                obj["metadata"].update(uid=f"u{i}", creationTimestamp="2026-01-01T00:00:00Z")
                items.append((layout.key(obj), dumps(obj)))
            await storage.create_many(items)
    finally:
        await storage.close()


def test_a_restarted_worker_answers_reads_once_primed_not_503(clean_etcd):
    """A worker started again while its sibling serves takes connections before its cache
    holds the 30,000 objects; the reads that reach it wait for the cache, none is refused."""
    asyncio.run(_fill(clean_etcd.endpoint, 30_000))
    proc = ApiserverProcess(clean_etcd.endpoint, "--no-federation", "--workers", "2").start()
    statuses: collections.Counter = collections.Counter()
    try:
        first, _ = _workers(proc.proc.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 8    # its restart (after a second) and priming
        with _fresh(proc) as c:
            while time.monotonic() < deadline:
                try:
                    statuses[c.get(f"{GROUP}/globalnetworksets/s000007").status_code] += 1
                except httpx.TransportError:
                    statuses["refused"] += 1   # the moment between the kill and the kernel's
        assert len(_workers(proc.proc.pid)) == 2
    finally:
        proc.stop()
    assert statuses[200] > 50 and set(statuses) <= {200, "refused"}, statuses
