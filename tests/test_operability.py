"""Running for months: scheduled compaction, etcd out of space, readiness that follows etcd.

Everything here runs against real etcd processes, stopped, frozen and filled for real."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from apiserver.storage.compactor import Compactor
from apiserver.storage.embedded import EmbeddedEtcd
from apiserver.storage.etcd import EtcdStorage
from apiserver.storage.interface import Compacted, NoSpace

from conftest import GROUP, etcdctl, gns, metric, running_server


async def _until(check, *, timeout: float, what: str) -> float:
    """Seconds until ``check()`` is true; fails after ``timeout``."""
    start = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        await asyncio.sleep(0.1)


# -- compaction -----------------------------------------------------------------------------------
async def test_the_server_compacts_on_schedule_and_old_revisions_become_410(clean_etcd):
    async with running_server(clean_etcd.endpoint, etcd_compaction_interval=2.0) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            for i in range(3):
                assert (await c.post(f"{GROUP}/globalnetworksets",
                                     json=gns(f"c{i}", ["10.0.0.0/8"]))).status_code == 201
            page = (await c.get(f"{GROUP}/globalnetworksets", params={"limit": 1})).json()
            old = page["metadata"]["resourceVersion"]
            token = page["metadata"]["continue"]
            # within the first interval the snapshot and its continue token still work
            r = await c.get(f"{GROUP}/globalnetworksets", params={"limit": 1, "continue": token})
            assert r.status_code == 200, r.text
            for i in range(3):   # history moves on
                await c.patch(f"{GROUP}/globalnetworksets/c{i}", json={"metadata": {
                    "labels": {"n": str(i)}}}, headers={"Content-Type":
                                                        "application/merge-patch+json"})

            async def compacted() -> bool:
                r = await c.get(f"{GROUP}/globalnetworksets", params={
                    "resourceVersion": old, "resourceVersionMatch": "Exact"})
                assert r.status_code in (200, 410), r.text
                return r.status_code == 410
            await _until(compacted, timeout=10, what="compaction past the old revision")
            r = await c.get(f"{GROUP}/globalnetworksets", params={"limit": 1, "continue": token})
            assert r.status_code == 410 and r.json()["reason"] == "Expired", r.text
            text = (await c.get("/metrics")).text
            assert (metric(text, "apiserver_etcd_compactions_total") or 0) >= 1
            assert (metric(text, "apiserver_etcd_compacted_revision") or 0) >= int(old)
            # a current read is unaffected
            assert (await c.get(f"{GROUP}/globalnetworksets/c0")).status_code == 200


async def test_replicas_sharing_an_etcd_compact_once_per_interval_keeping_the_last_one(clean_etcd):
    a_storage, b_storage = EtcdStorage([clean_etcd.endpoint]), EtcdStorage([clean_etcd.endpoint])
    key = "/calico/apiserver/v1/test-compact-key"
    a, b = Compactor(a_storage, 1, key=key), Compactor(b_storage, 1, key=key)
    try:
        va, ra = await a.turn(0, 0)       # interval 1: a wins (nothing to compact yet) ...
        vb, rb = await b.turn(0, 0)       # ... so b loses and learns the key's version
        assert (a.compactions, b.compactions) == (0, 0) and va == vb == 1
        await a_storage.create("/calico/test/x", b"1")
        va, ra2 = await a.turn(va, ra)    # interval 2: a wins and compacts at interval 1's revision
        vb, rb2 = await b.turn(vb, rb)    # b's view is stale: it loses again
        assert a.compactions == 1 and b.compactions == 0 and a.compacted == ra
        with pytest.raises(Compacted):    # interval 1's revision is gone, interval 2's kept
            await a_storage.list("/calico/test/", revision=ra - 1)
        assert (await a_storage.list("/calico/test/", revision=ra2)).items
        vb, _ = await b.turn(vb, rb2)     # interval 3: b's turn now
        assert b.compactions == 1 and b.compacted == rb2
    finally:
        await a_storage.close()
        await b_storage.close()


# -- etcd out of space ----------------------------------------------------------------------------
@pytest.fixture
def small_etcd():
    """An etcd with a 2 MiB quota."""
    data = Path(tempfile.mkdtemp(prefix="etcd-small-", dir="/dev/shm"))
    server = EmbeddedEtcd(data / "data", name="small",
                          extra_args=("--quota-backend-bytes", str(2 * 1024 * 1024)))
    server.start()
    yield server
    server.stop()
    shutil.rmtree(data, ignore_errors=True)


async def _fill(endpoint: str) -> None:
    """Write 256 KiB values until etcd raises its NOSPACE alarm."""
    storage = EtcdStorage([endpoint])
    try:
        for i in range(100):
            try:
                await storage.create(f"/filler/{i}", os.urandom(256 * 1024))
            except NoSpace:
                return
        raise AssertionError("etcd never ran out of space")
    finally:
        await storage.close()


async def test_a_full_etcd_is_507_not_ready_counted_and_recovers(small_etcd):
    async with running_server(small_etcd.endpoint) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            await _fill(small_etcd.endpoint)
            r = await c.post(f"{GROUP}/globalnetworksets", json=gns("full", ["10.0.0.0/8"]))
            assert r.status_code == 507, r.text
            status = r.json()
            assert status["reason"] == "InsufficientStorage"
            assert "datastore is full" in status["message"] and "alarm disarm" in \
                status["message"] and "defrag" in status["message"]

            async def not_ready() -> bool:
                r = await c.get("/readyz", params={"verbose": "1"})
                return r.status_code == 503 and "[-]etcd failed: the datastore is full" in r.text
            await _until(not_ready, timeout=5, what="readiness failing with the reason")
            assert "[+]watch-cache ok" in (await c.get("/readyz", params={"verbose": ""})).text
            assert (await c.get("/livez")).status_code == 200     # restarting would not help
            text = (await c.get("/metrics")).text
            assert (metric(text, "apiserver_storage_errors_total", reason="NoSpace") or 0) >= 1
            # reads still work
            assert (await c.get(f"{GROUP}/tiers/default")).status_code == 200

            # the operator's recovery, as the message says
            etcdctl(small_etcd.endpoint, "del", "--prefix", "/filler/")
            revision = json.loads(etcdctl(small_etcd.endpoint, "get", "x", "-w", "json")
                                  )["header"]["revision"]
            etcdctl(small_etcd.endpoint, "compact", str(revision))
            etcdctl(small_etcd.endpoint, "defrag")
            etcdctl(small_etcd.endpoint, "alarm", "disarm")

            async def ready() -> bool:
                return (await c.get("/readyz")).status_code == 200
            await _until(ready, timeout=5, what="ready after the alarm is disarmed")
            r = await c.post(f"{GROUP}/globalnetworksets", json=gns("full", ["10.0.0.0/8"]))
            assert r.status_code == 201, r.text


# -- readiness follows etcd -----------------------------------------------------------------------
async def test_readiness_follows_a_frozen_and_a_restarted_etcd_within_seconds(own_etcd):
    async with running_server(own_etcd.endpoint) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as c:
            async def ready() -> bool:
                return (await c.get("/readyz")).status_code == 200

            async def not_ready() -> bool:
                return not await ready()
            r = await c.get("/readyz", params={"verbose": ""})
            assert r.status_code == 200 and "[+]etcd ok" in r.text and "[+]watch-cache ok" in r.text
            live = await c.get("/livez", params={"verbose": ""})
            assert live.status_code == 200 and "[+]ping ok" in live.text and "etcd" not in live.text

            os.kill(own_etcd.process.pid, signal.SIGSTOP)
            try:
                took = await _until(not_ready, timeout=5, what="503 with etcd frozen")
                r = await c.get("/readyz", params={"verbose": ""})
                assert "[-]etcd failed:" in r.text and r.status_code == 503, r.text
                assert (await c.get("/livez")).status_code == 200
                assert (await c.get("/readyz/ping")).status_code == 200
                assert (await c.get("/readyz", params={"exclude": "etcd"})).status_code in (200, 503)
            finally:
                os.kill(own_etcd.process.pid, signal.SIGCONT)
            back = await _until(ready, timeout=5, what="200 after etcd thaws, with no write")
            print(f"frozen etcd: not ready after {took:.1f}s, ready {back:.1f}s after thawing")

            await asyncio.to_thread(own_etcd.stop)
            took = await _until(not_ready, timeout=5, what="503 with etcd stopped")
            await asyncio.to_thread(own_etcd.start)
            back = await _until(ready, timeout=5, what="200 after etcd restarts, with no write")
            print(f"killed etcd: not ready after {took:.1f}s, ready {back:.1f}s after restart")
            assert (await c.get(f"{GROUP}/tiers/default")).status_code == 200


# -- large bodies ---------------------------------------------------------------------------------
def _nets(count: int) -> list[str]:
    return [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}/32" for i in range(count)]


async def test_a_body_larger_than_the_datastore_takes_is_refused_before_validation(client):
    body = gns("huge", _nets(100_000))          # ~2 MB of JSON: etcd would refuse it
    body["spec"]["bogus"] = True                # invalid too, but that is never looked at
    r = await client.post(f"{GROUP}/globalnetworksets", json=body)
    assert r.status_code == 413, r.text
    assert "the datastore takes objects of at most" in r.json()["message"]


async def test_validating_a_large_body_does_not_stall_other_requests(client):
    """Validated on the loop, one request would wait about as long as the create takes.
    Timing on a shared machine is noisy: the best of three attempts counts."""
    measured = []
    for attempt in range(3):
        took, gap = await _create_while_pinging(client, f"large-{attempt}")
        print(f"a 1.3 MB create took {took:.2f}s; the longest wait of another request "
              f"{gap * 1000:.0f} ms")
        measured.append((took, gap))
        if gap < min(0.5, took / 2):
            return
    pytest.fail(f"other requests waited as long as the create: {measured}")


async def _create_while_pinging(client, name: str) -> tuple[float, float]:
    """(how long a ~1.3 MB create took, the longest another client waited meanwhile)."""
    body = gns(name, _nets(60_000))          # accepted after a long validation
    gaps: list[float] = []

    async def ping() -> None:
        last = time.monotonic()
        while True:
            assert (await client.get("/version")).status_code == 200
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            await asyncio.sleep(0.01)
    pinger = asyncio.create_task(ping())
    await asyncio.sleep(0.1)
    start = time.monotonic()
    r = await client.post(f"{GROUP}/globalnetworksets", json=body)
    took = time.monotonic() - start
    pinger.cancel()
    await asyncio.gather(pinger, return_exceptions=True)
    assert r.status_code == 201, r.text[:300]
    return took, max(gaps)
