"""Federation under faults: storage calls that are lost, late or failing, a local cache that
lags behind etcd, and peers that answer in ways a real apiserver would not.

Every apiserver and every etcd here is real. Faults are injected by a thin layer around the
real ``EtcdStorage`` (each call that is not failed reaches etcd) and by small fake peers on
loopback sockets. Convergence is awaited by polling with a deadline; where a test bounds a
count over a period, the bound is loose (a fault-free run needs a small fraction of it)."""
from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import re
import time
from typing import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from conftest import GROUP, etcd_process, etcdctl, gns, metric
from test_federation_peers import (FAST, InProcessServer, condition, copies, eventually, post,
                                   rcc, ready_only_after_first_sync, start_cluster_b,
                                   status)
from test_operability import _fill, small_etcd  # noqa: F401 - a fixture
from apiserver.api import keys
from apiserver.federation import peer as peer_module
from apiserver.federation import syncer as syncer_module
from apiserver.federation.copies import ORIGIN_REVISION, CopyWriter, make_copy
from apiserver.federation.leader import LeaderElection, claim
from apiserver.federation.manager import ManagerOptions
from apiserver.federation.peer import Identity, Limits, PeerClient, PeerConfig, PeerList
from apiserver.federation.remote import Budget, RemoteCluster
from apiserver.federation.syncer import (FAILED, MAX_REPORTED, MAX_TRACKED, PeerSyncer,
                                         Rejections, SyncOptions)
from calicomodel.selectors import parse
from apiserver.storage.embedded import free_port
from apiserver.storage.etcd import EtcdStorage
from apiserver.storage.interface import Indeterminate, NoSpace, Unavailable

LEADER_KEY = "/calico/federation/v1/test-leader"
COPY_KEY = "/calico/resources/v3/projectcalico.org/globalnetworksets/"
GNS_ONLY = {"kinds": ["GlobalNetworkSet"]}


# -- fault injection around the real storage ------------------------------------------------------
class Faulty:
    """Forwards every call to the real storage; subclasses inject one kind of fault."""

    def __init__(self, inner: EtcdStorage) -> None:
        self.inner = inner

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class ApplyThenLose(Faulty):
    """The first create of ``LEADER_KEY`` is applied in etcd, then reported lost
    (Indeterminate), as when the connection drops before etcd's answer arrives."""

    tripped = False

    async def create(self, key: str, value: bytes, *, lease: int = 0) -> int:
        revision = await self.inner.create(key, value, lease=lease)
        if key == LEADER_KEY and not self.tripped:
            self.tripped = True
            raise Indeterminate("injected: etcd was lost after the write was sent")
        return revision


class LeaseClock(Faulty):
    """Records when the lease was last refreshed: the send time of the last grant or
    successful keepalive (etcd cannot expire it earlier than ``ttl`` after that). Keepalives
    fail while ``fail`` is set."""

    fail = False
    refreshed = 0.0

    async def grant_lease(self, ttl: int) -> int:
        sent = time.monotonic()
        lease = await self.inner.grant_lease(ttl)
        self.refreshed = sent
        return lease

    async def keepalive(self, lease: int) -> int:
        if self.fail:
            raise Unavailable("injected: keepalive lost")
        sent = time.monotonic()
        remaining = await self.inner.keepalive(lease)
        if remaining > 0:
            self.refreshed = sent
        return remaining


class NoRevoke(Faulty):
    """A replica that is killed never revokes its lease."""

    async def revoke(self, lease: int) -> None:
        return None


class RacyUpdates(Faulty):
    """The first update of copy ``racy.y`` waits 3 s before it is sent (and is sent only if its
    caller still waits for it); the first update of copy ``racy.z`` fails, nothing written."""

    y_sent_at: float | None = None
    z_failed_at: float | None = None
    _y_delayed = False

    async def update(self, key: str, value: bytes, *, expect_revision: int) -> int:
        if key.endswith("/racy.y") and not self._y_delayed:
            self._y_delayed = True
            await asyncio.sleep(3)
            self.y_sent_at = time.monotonic()
        elif key.endswith("/racy.z") and self.z_failed_at is None:
            self.z_failed_at = time.monotonic()
            raise Unavailable("injected: etcd unreachable")
        return await self.inner.update(key, value, expect_revision=expect_revision)


class LateCreates(Faulty):
    """Batch creates reach etcd 1.5 s late and are applied even when their caller stopped
    waiting (cancelled): writes still in flight when a syncer is stopped."""

    def __init__(self, inner: EtcdStorage) -> None:
        super().__init__(inner)
        self.started = asyncio.Event()
        self.pending: list[asyncio.Future] = []

    async def create_many(self, items: list[tuple[str, bytes]]) -> int:
        self.started.set()

        async def later() -> int:
            await asyncio.sleep(1.5)
            return await self.inner.create_many(items)
        task = asyncio.ensure_future(later())
        self.pending.append(task)
        return await asyncio.shield(task)


class LaggingWatch(Faulty):
    """While ``lag`` > 0, etcd's watch batches reach the local cache ``lag`` seconds late (a
    cache behind etcd, as on a loaded machine)."""

    lag = 0.0

    def watch(self, prefix: str, *, start_revision: int) -> "_Lagging":
        return _Lagging(self.inner.watch(prefix, start_revision=start_revision), self)


class _Lagging:
    def __init__(self, inner, owner: LaggingWatch) -> None:
        self.inner, self.owner = inner, owner
        self.queue: asyncio.Queue = asyncio.Queue()
        self.pump: asyncio.Task | None = None

    def __aiter__(self) -> "_Lagging":
        return self

    async def __anext__(self):
        if self.pump is None:
            self.pump = asyncio.create_task(self._pump())
        due, item = await self.queue.get()
        if isinstance(item, BaseException):
            raise item
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        return item

    async def _pump(self) -> None:
        try:
            async for batch in self.inner:
                self.queue.put_nowait((time.monotonic() + self.owner.lag, batch))
        except Exception as err:  # noqa: BLE001 - handed to the cache, as the real stream would
            self.queue.put_nowait((0.0, err))
            return
        self.queue.put_nowait((0.0, StopAsyncIteration()))

    def close(self) -> None:
        self.inner.close()
        if self.pump is not None:
            self.pump.cancel()


# -- fake peers -----------------------------------------------------------------------------------
def item(name: str, rv: str, nets: tuple[str, ...] = ("10.0.0.0/8",), *,
         labels: dict | None = None, uid: str | None = None) -> dict:
    """A peer's GlobalNetworkSet as its apiserver would serve it."""
    return {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
            "metadata": {"name": name, "uid": uid or f"uid-{name}", "resourceVersion": rv,
                         "labels": labels or {}},
            "spec": {"nets": list(nets)}}


def listing(items: list, rv: str) -> web.Response:
    return web.json_response({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSetList",
                              "metadata": {"resourceVersion": rv}, "items": items})


def event(type_: str, obj: dict) -> bytes:
    return json.dumps({"type": type_, "object": obj}).encode() + b"\n"


def bookmark(rv: str) -> bytes:
    return event("BOOKMARK", {"metadata": {"resourceVersion": rv}})


def gone() -> web.Response:
    return web.json_response({"kind": "Status", "code": 410, "reason": "Expired",
                              "message": "too old resource version"}, status=410)


async def streaming(request: web.Request, first: bytes, rv: str) -> web.StreamResponse:
    """A watch that sends ``first``, then a bookmark at ``rv`` every 0.5 s until the client
    leaves."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json;stream=watch"})
    await resp.prepare(request)
    if first:
        await resp.write(first)
    while True:
        await asyncio.sleep(0.5)
        await resp.write(bookmark(rv))


Answer = Callable[[web.Request, bool], Awaitable[web.StreamResponse]]


class FakePeer:
    """A peer apiserver stand-in: ``/version`` names ``name``; ``answer(request, watch)``
    answers each list and watch of globalnetworksets. Counts the lists and watches."""

    def __init__(self, name: str, answer: Answer) -> None:
        self.name, self.answer = name, answer
        self.requests: collections.Counter = collections.Counter()

    async def start(self) -> "FakePeer":
        app = web.Application()
        app.router.add_get("/version", self._version)
        app.router.add_get(f"{GROUP}/globalnetworksets", self._collection)
        self.server = TestServer(app, host="127.0.0.1", port=free_port())
        await self.server.start_server(shutdown_timeout=0.5)
        self.url = f"http://127.0.0.1:{self.server.port}"
        return self

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"clusterName": self.name})

    async def _collection(self, request: web.Request) -> web.StreamResponse:
        watch = request.query.get("watch") == "true"
        self.requests["watch" if watch else "list"] += 1
        return await self.answer(request, watch)

    async def close(self) -> None:
        await self.server.close()


@contextlib.asynccontextmanager
async def importer(etcd, options: ManagerOptions = FAST,
                   **kwargs) -> AsyncIterator[tuple[InProcessServer, httpx.AsyncClient]]:
    """cluster-a: an in-process apiserver with federation and (by default) short deadlines."""
    server = await InProcessServer(etcd.endpoint, cluster_name="cluster-a",
                                   federation_options=options, **kwargs).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield server, client
    finally:
        await server.stop()


async def peer_metric(client: httpx.AsyncClient, name: str, peer: str) -> float | None:
    return metric((await client.get("/metrics")).text, name, peer=peer, kind="GlobalNetworkSet")


# -- leader election ------------------------------------------------------------------------------
async def _until_cancelled() -> None:
    await asyncio.Event().wait()


async def test_a_leader_key_written_but_reported_lost_still_wins(clean_etcd):
    storage = EtcdStorage([clean_etcd.endpoint])
    faulty = ApplyThenLose(storage)
    election = LeaderElection(faulty, identity="replica-1", key=LEADER_KEY, ttl=4, poll=0.1)
    leading = asyncio.Event()

    async def lead() -> None:
        leading.set()
        await _until_cancelled()
    task = asyncio.create_task(election.run(lead))
    try:
        await asyncio.wait_for(leading.wait(), 20)
        assert faulty.tripped and election.role == "leader"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await storage.close()


async def test_a_leader_stops_leading_before_its_lease_can_expire(clean_etcd):
    storage = EtcdStorage([clean_etcd.endpoint])
    other = await storage.grant_lease(30)
    await storage.create(LEADER_KEY, claim("replica-2", other), lease=other)
    clock = LeaseClock(storage)
    election = LeaderElection(clock, identity="replica-1", key=LEADER_KEY, ttl=4, poll=0.1)
    stopped: asyncio.Future = asyncio.get_running_loop().create_future()

    async def lead() -> None:
        clock.fail = True                 # from now on the lease cannot be refreshed
        try:
            await _until_cancelled()
        finally:
            if not stopped.done():
                stopped.set_result(time.monotonic())
    task = asyncio.create_task(election.run(lead))
    try:
        await asyncio.sleep(1.5)          # our lease ages while replica-2 leads ...
        await storage.revoke(other)       # ... then replica-2 stops cleanly: we win
        stopped_at = await asyncio.wait_for(stopped, 20)
        assert stopped_at < clock.refreshed + election.ttl, \
            f"led {stopped_at - clock.refreshed:.2f}s after the last refresh (ttl 4s)"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await storage.close()


async def test_a_killed_and_restarted_replica_takes_its_key_back_and_waits_for_its_peers(
        clean_etcd):
    gate = asyncio.Event()

    async def gated(request: web.Request, watch: bool) -> web.StreamResponse:
        await gate.wait()
        return await streaming(request, b"", "3") if watch else listing([], "3")
    fake = await FakePeer("gated", gated).start()
    port = free_port()
    first = await InProcessServer(clean_etcd.endpoint, port=port, wrap=NoRevoke,
                                  cluster_name="cluster-a", federation_options=FAST
                                  ).start(wait=False)
    try:
        async with httpx.AsyncClient(base_url=first.url) as c:
            await post(c, rcc("gated", fake.url, syncOptions=GNS_ONLY))
            await eventually(lambda: _is_leader(c), what="the first run leads")
    finally:
        await first.stop()          # its lease outlives it, as a killed process's does
    second = await InProcessServer(clean_etcd.endpoint, port=port, cluster_name="cluster-a",
                                   federation_options=FAST).start(wait=False)
    try:   # the restarted replica leads at once, so readiness waits for the peer
        await ready_only_after_first_sync(second.url, "gated", gate)
    finally:
        await second.stop()
        await fake.close()


async def _is_leader(client: httpx.AsyncClient) -> bool:
    return metric((await client.get("/metrics")).text, "calico_federation_leader") == 1.0


# -- the watch reader -----------------------------------------------------------------------------
@pytest.mark.parametrize("rv", ["²", "1" * 5000, "12a", "-5", ""],
                         ids=["superscript", "5000-digits", "letters", "negative", "empty"])
async def test_a_watch_event_with_a_bad_resource_version_fails_and_retries(clean_etcd, rv):
    async def answer(request: web.Request, watch: bool) -> web.StreamResponse:
        if watch:
            return await streaming(request, event("MODIFIED", item("a", rv)), "8")
        return listing([item("a", "5")], "7")
    fake = await FakePeer("bad-rv", answer).start()
    async with importer(clean_etcd) as (_, ca):
        await post(ca, rcc("bad-rv", fake.url, syncOptions=GNS_ONLY))

        async def failing_again_and_again() -> bool:
            st = await status(ca, "bad-rv")
            assert st.get("state") == "Failed", st
            assert "no valid metadata.resourceVersion" in st.get("lastError", ""), st
            return (await peer_metric(ca, "calico_federation_sync_errors_total", "bad-rv")
                    or 0) >= 2
        await eventually(failing_again_and_again, what="the bad event reported, then retried")
        assert "bad-rv.a" in await copies(ca, "globalnetworksets", "bad-rv"), "list kept"
    await fake.close()


class BreaksUnexpectedly(PeerClient):
    """A peer client whose watch fails with an error nobody foresaw."""

    async def refresh(self) -> None:
        return None

    async def identity(self) -> Identity:
        return Identity("odd", None)

    async def exported(self) -> None:
        return None

    async def pages(self, plural: str):
        yield PeerList([], 1)

    async def watch(self, plural: str, since: int):
        raise RuntimeError("something nobody foresaw")
        yield  # pragma: no cover - makes this an async generator


async def test_an_unforeseen_error_in_the_watch_is_reported_and_retried(clean_etcd):
    async with importer(clean_etcd, federation=False) as (server, _):
        store = server.app[keys.STORE]
        kind = store.catalog.kind("GlobalNetworkSet")
        remote = RemoteCluster("odd", BreaksUnexpectedly(PeerConfig("odd", "http://x")),
                               Budget(10, 10_000), lambda: Identity("cluster-a", None))
        syncer = PeerSyncer(kind, remote, CopyWriter(store, "odd", kind, asyncio.Semaphore(4)),
                            SyncOptions(parse(""), backoff_max=0.2))
        task = asyncio.create_task(syncer.run())
        try:
            async def reported() -> bool:
                st = syncer.status()
                assert st.state == FAILED and "RuntimeError" in st.last_error, st
                return st.sync_errors >= 2
            await eventually(reported, what="the reader's error surfaces, then a retry")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# -- writes of a failed batch ---------------------------------------------------------------------
async def test_a_failed_batch_leaves_no_write_behind_to_overwrite_a_newer_copy(clean_etcd):
    def version(name: str, v: int) -> dict:
        rv = {"y": (5, 11, 13), "z": (6, 12, 14)}[name][v - 1]
        return item(name, str(rv), (f"10.{v}.0.0/16",))
    watched = []

    async def answer(request: web.Request, watch: bool) -> web.StreamResponse:
        if not watch:
            if fake.requests["list"] == 1:
                return listing([version("y", 1), version("z", 1)], "10")
            return listing([version("y", 3), version("z", 3)], "14")
        since = request.query.get("resourceVersion")
        if since == "10" and not watched:
            watched.append(since)     # both updates in one write: one batch for the importer
            return await streaming(request, event("MODIFIED", version("y", 2))
                                   + event("MODIFIED", version("z", 2)), "12")
        if since in ("10", "11", "12"):
            return gone()
        return await streaming(request, b"", "14")
    fake = await FakePeer("racy", answer).start()
    racy: list[RacyUpdates] = []

    def wrap(storage: EtcdStorage) -> RacyUpdates:
        racy.append(RacyUpdates(storage))
        return racy[0]
    async with importer(clean_etcd, wrap=wrap) as (_, ca):
        await post(ca, rcc("racy", fake.url, syncOptions=GNS_ONLY))

        async def newest() -> bool:
            got = await copies(ca, "globalnetworksets", "racy")
            return {n: o["spec"]["nets"] for n, o in got.items()} == {
                "racy.y": ["10.3.0.0/16"], "racy.z": ["10.3.0.0/16"]}
        await eventually(newest, what="the relist after the failed batch writes the newest")
        await asyncio.sleep(4)        # past the moment the delayed write would have been sent
        await eventually(newest, timeout=1, what="still the newest")
        fault = racy[0]
        assert fault.z_failed_at is not None
        assert fault.y_sent_at is None or fault.y_sent_at < fault.z_failed_at, \
            "a write of the failed batch was sent after the batch had failed"
    await fake.close()


async def test_an_older_version_never_replaces_a_newer_copy(clean_etcd):
    async with importer(clean_etcd, federation=False) as (server, ca):
        store = server.app[keys.STORE]
        kind = store.catalog.kind("GlobalNetworkSet")
        writer = CopyWriter(store, "peer-x", kind, asyncio.Semaphore(4))
        key, newer = make_copy("peer-x", kind, item("s", "20", ("10.20.0.0/16",), uid="u1"))
        _, older = make_copy("peer-x", kind, item("s", "15", ("10.15.0.0/16",), uid="u1"))
        _, recreated = make_copy("peer-x", kind, item("s", "16", ("10.16.0.0/16",), uid="u2"))
        assert (await writer.upsert(key, newer)).result == "written"
        assert (await writer.upsert(key, older)).result == "unchanged"
        got = (await ca.get(f"{GROUP}/globalnetworksets/peer-x.s")).json()
        assert got["spec"]["nets"] == ["10.20.0.0/16"]
        assert got["metadata"]["annotations"][ORIGIN_REVISION] == "20"
        # the peer deleted and re-created the object (a new uid): its copy replaces the old one
        assert (await writer.upsert(key, recreated)).result == "written"
        got = (await ca.get(f"{GROUP}/globalnetworksets/peer-x.s")).json()
        assert got["spec"]["nets"] == ["10.16.0.0/16"]


# -- writes of a stopped run ----------------------------------------------------------------------
async def test_copies_whose_writes_land_after_their_peer_was_removed_are_deleted(clean_etcd):
    sets = [item(f"s{i}", str(10 + i), (f"10.30.{i}.0/24",)) for i in range(20)]

    async def answer(request: web.Request, watch: bool) -> web.StreamResponse:
        return await streaming(request, b"", "40") if watch else listing(sets, "40")
    fake = await FakePeer("leaving", answer).start()
    late: list[LateCreates] = []

    def wrap(storage: EtcdStorage) -> LateCreates:
        late.append(LateCreates(storage))
        return late[0]
    async with importer(clean_etcd, wrap=wrap) as (_, ca):
        await post(ca, rcc("leaving", fake.url, syncOptions=GNS_ONLY))
        await asyncio.wait_for(late[0].started.wait(), 20)   # the copies are on their way
        assert (await ca.delete(f"{GROUP}/remoteclusterconfigurations/leaving")).status_code == 200
        await asyncio.gather(*late[0].pending)                # ... and land after the removal
        assert await copies(ca, "globalnetworksets", "leaving"), "the late writes landed"

        async def gone() -> bool:
            return await copies(ca, "globalnetworksets", "leaving") == {}
        await eventually(gone, what="late copies of a removed peer deleted")
        await asyncio.sleep(2 * FAST.sweep_interval)
        assert await copies(ca, "globalnetworksets", "leaving") == {}
    await fake.close()


# -- peers that loop ------------------------------------------------------------------------------
async def test_watches_that_end_at_once_and_endless_410s_are_backed_off(clean_etcd):
    async def empty(request: web.Request, watch: bool) -> web.StreamResponse:
        return web.Response(status=200, body=b"") if watch else listing([], "3")

    async def expired(request: web.Request, watch: bool) -> web.StreamResponse:
        return gone() if watch else listing([], "3")
    empty_peer = await FakePeer("empty-watch", empty).start()
    gone_peer = await FakePeer("always-gone", expired).start()
    async with importer(clean_etcd) as (_, ca):
        await post(ca, rcc("empty-watch", empty_peer.url, syncOptions=GNS_ONLY))
        await post(ca, rcc("always-gone", gone_peer.url, syncOptions=GNS_ONLY))
        await eventually(lambda: _looping(empty_peer, gone_peer), what="both peers called")
        before = empty_peer.requests["watch"], gone_peer.requests["list"]
        await asyncio.sleep(3)
        watches = empty_peer.requests["watch"] - before[0]
        lists = gone_peer.requests["list"] - before[1]
        # with a backoff of 0.2 s doubling to 0.5 s this is about 6 each; a tight loop: hundreds
        assert 1 <= watches <= 30, f"{watches} watches in 3 s"
        assert 1 <= lists <= 30, f"{lists} relists in 3 s"

        async def reported() -> bool:
            st = await status(ca, "empty-watch")
            assert st.get("state") == "Failed" and "ended the watch" in st["lastError"], st
            for peer in ("empty-watch", "always-gone"):
                assert (await peer_metric(ca, "calico_federation_backoffs_total", peer)
                        or 0) >= 2, peer
            return (await peer_metric(ca, "calico_federation_full_resyncs_total",
                                      "always-gone") or 0) >= 2
        await eventually(reported, what="the loops reported")
    await empty_peer.close()
    await gone_peer.close()


async def _looping(*fakes: FakePeer) -> bool:
    return all(f.requests["watch"] >= 2 for f in fakes)


# -- bounded memory and time ----------------------------------------------------------------------
async def test_invalid_objects_are_counted_beyond_the_names_shown(clean_etcd):
    bad = [item(f"bad-{i:03d}", str(10 + i), ("not-a-cidr",)) for i in range(60)]

    async def answer(request: web.Request, watch: bool) -> web.StreamResponse:
        return await streaming(request, b"", "99") if watch else \
            listing([item("fine", "5")] + bad, "99")
    fake = await FakePeer("many-invalid", answer).start()
    async with importer(clean_etcd) as (_, ca):
        await post(ca, rcc("many-invalid", fake.url, syncOptions=GNS_ONLY))

        async def counted() -> bool:
            st = await status(ca, "many-invalid")
            message = condition(st, "InvalidObjects").get("message", "")
            assert message.startswith("60 objects rejected") and "bad-000" in message, message
            assert len(set(re.findall(r"bad-\d+", message))) <= MAX_REPORTED, message
            assert st.get("objects") == 1, st
            return await peer_metric(ca, "calico_federation_invalid_objects",
                                     "many-invalid") == 60.0
        await eventually(counted, what="60 invalid objects counted")
    await fake.close()


def test_rejections_are_bounded():
    rejected = Rejections()
    for i in range(MAX_TRACKED + 500):
        rejected.add(("ns", f"x{i}"), f"x{i}: invalid")
    assert len(rejected) == MAX_TRACKED + 500
    assert len(rejected._named) == MAX_TRACKED
    assert len(rejected.first()) == MAX_REPORTED
    rejected.discard(("ns", "x0"))
    assert len(rejected) == MAX_TRACKED + 499
    rejected.clear()
    assert len(rejected) == 0 and rejected.first() == ()


async def test_a_large_list_is_parsed_without_stalling_the_event_loop():
    body = json.dumps({"kind": "GlobalNetworkSetList", "metadata": {"resourceVersion": "7"},
                       "items": [item(f"s{i}", str(i), tuple(f"10.{i % 250}.{j}.0/24"
                                                             for j in range(20)))
                                 for i in range(5000)]}).encode()
    assert len(body) > peer_module.INCREMENTAL_BYTES
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)
    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    parsed = await peer_module.loads(body)
    during = ticks - before
    task.cancel()
    assert parsed == json.loads(body)
    assert during >= 5000 // peer_module.ITEMS_PER_STEP - 1, during
    assert Limits().max_page_bytes == 64 * 1024 * 1024


@pytest.mark.parametrize("text", [
    '{"items": [1, 2], "metadata": {"resourceVersion": "1"}}', '{"metadata": {}, "items": []}',
    ' {\n"a" : [ {"items": [3]} ] , "items" : [ {"b": null} ]\n} ', '{"items": 5}', '[1]',
    '{"a": 1, "a": 2}', '"text"'])
async def test_incremental_parsing_gives_what_json_loads_gives(text, monkeypatch):
    monkeypatch.setattr(peer_module, "INCREMENTAL_BYTES", 0)
    assert await peer_module.loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize("text", ['{"items": [1,]}', '{"items": [1 2]}', '{} x', '{"a" 1}',
                                  '{1: 2}', '{"items": [', ''])
async def test_incremental_parsing_refuses_what_json_loads_refuses(text, monkeypatch):
    monkeypatch.setattr(peer_module, "INCREMENTAL_BYTES", 0)
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        await peer_module.loads(text.encode())


# -- what a peer sends ----------------------------------------------------------------------------
async def test_label_values_that_are_not_strings_are_rejected_and_others_sync(clean_etcd):
    sets = [item("good", "5", labels={"team": "x"}),
            item("map-label", "6", labels={"team": {"a": 1}}),
            item("number-label", "7", labels={"team": 5}),
            {**item("number-annotation", "8"), "metadata": {
                **item("number-annotation", "8")["metadata"], "annotations": {"a": 1}}}]

    async def answer(request: web.Request, watch: bool) -> web.StreamResponse:
        return await streaming(request, b"", "9") if watch else listing(sets, "9")
    fake = await FakePeer("typed", answer).start()
    async with importer(clean_etcd) as (_, ca):
        # "in" hashes the value and "contains" needs a string: both raise on a map or number
        await post(ca, rcc("typed", fake.url, syncOptions={
            **GNS_ONLY, "selector": "team in {'x'} || team contains 'x'"}))

        async def synced() -> bool:
            st = await status(ca, "typed")
            assert st.get("state") == "InSync", st
            message = condition(st, "InvalidObjects").get("message", "")
            assert all(n in message for n in ("map-label", "number-label",
                                              "number-annotation")), message
            return True
        await eventually(synced, what="the bad objects rejected, the good one synced")
        assert list(await copies(ca, "globalnetworksets", "typed")) == ["typed.good"]
    await fake.close()


async def test_a_peer_name_must_fit_the_cluster_label(clean_etcd):
    async with importer(clean_etcd) as (_, ca):
        r = await ca.post(f"{GROUP}/remoteclusterconfigurations",
                          json=rcc("c" * 64, "https://peer.example:5443"))
        assert r.status_code == 422, r.text
        assert "at most 63" in r.json()["message"]
        await post(ca, rcc("c" * 63, "https://peer.example:5443"))


# -- the local cache lags -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def peer_etcd():
    yield from etcd_process("faults-peer")


async def test_a_relist_compares_with_the_local_state_etcd_has_not_the_cache(
        clean_etcd, peer_etcd, tmp_path):
    b, token_file = await start_cluster_b(peer_etcd.endpoint, tmp_path)
    lagging: list[LaggingWatch] = []

    def wrap(storage: EtcdStorage) -> LaggingWatch:
        lagging.append(LaggingWatch(storage))
        return lagging[0]
    try:
        admin = {"Authorization": "Bearer admin-b"}
        async with importer(clean_etcd, wrap=wrap,
                            federation_credentials_dir=str(tmp_path)) as (_, ca), \
                httpx.AsyncClient(base_url=b.url, headers=admin) as cb:
            await post(cb, gns("s1", ["10.61.0.0/16"]))
            await post(ca, rcc("cluster-b", b.url, tokenFile=str(token_file),
                               syncOptions=GNS_ONLY))

            async def mirrored() -> bool:
                return "cluster-b.s1" in await copies(ca, "globalnetworksets", "cluster-b")
            await eventually(mirrored, what="mirrored")
            await b.stop()
            await eventually(lambda: _state(ca, "cluster-b", "Failed"), what="B seen down")
            # B's history restarts past what A mirrored, so A relists when B is back
            etcdctl(peer_etcd.endpoint, "put", "/calico/test/bump", "1")
            lagging[0].lag = 5.0
            etcdctl(clean_etcd.endpoint, "del", COPY_KEY + "cluster-b.s1")   # behind A's back
            await b.start(token="admin-b")
            await asyncio.sleep(6)
            lagging[0].lag = 0.0
            await eventually(mirrored, timeout=20, what="the relist restores the deleted copy")
    finally:
        await b.stop()


async def _state(client: httpx.AsyncClient, peer: str, state: str) -> bool:
    return (await status(client, peer)).get("state") == state


# -- a peer with a datastore: pages, identity, blackholes -----------------------------------------
class StatefulPeer:
    """A peer apiserver stand-in with a datastore of GlobalNetworkSets at revision ``rv``
    (its NetworkSets are always none). Lists honour ``limit``/``continue`` from one snapshot
    (``expire_continue`` answers the next continue token with 410); a watch sends the changes
    after the revision asked for as they happen, and a bookmark every 0.5 s. ``/version`` names
    ``name`` and the ClusterInformation carries ``guid``; it exports everything (one
    FederationExport). ``stall()`` makes it a blackhole: open streams stop sending and new
    requests are never answered. It counts requests by path, and records each list's limit
    and the client connections it saw."""

    def __init__(self, name: str, count: int = 0, nets: tuple[str, ...] = ("10.0.0.0/8",)) -> None:
        self.name, self.guid, self.rv = name, "guid-1", 1
        self.sets: dict[str, dict] = {}
        self.history: list[tuple[int, str, dict]] = []
        self.snapshots: dict[str, list[dict]] = {}
        self.requests: collections.Counter = collections.Counter()
        self.limits: list[int] = []
        self.connections: set[tuple] = set()
        self.expire_continue = False
        self.stalled = asyncio.Event()
        self.epoch = 0
        for i in range(count):
            self.put(f"s{i:05d}", nets)

    def put(self, name: str, nets: tuple[str, ...] = ("10.0.0.0/8",), **labels: str) -> None:
        self.rv += 1
        obj = item(name, str(self.rv), nets, labels=labels, uid=f"uid-{self.epoch}-{name}")
        self.history.append((self.rv, "MODIFIED" if name in self.sets else "ADDED", obj))
        self.sets[name] = obj

    def delete(self, name: str) -> None:
        self.rv += 1
        obj = self.sets.pop(name)
        self.history.append((self.rv, "DELETED", {**obj, "metadata": {
            **obj["metadata"], "resourceVersion": str(self.rv)}}))

    def rebuild(self, names: list[str]) -> None:
        """A new datastore (new GUID, revisions from the start) holding ``names``; open
        watches end, as when its apiserver restarts."""
        self.epoch += 1
        self.guid, self.rv = f"guid-{self.epoch + 1}", 1
        self.sets, self.history = {}, []
        for name in names:
            self.put(name)

    def stall(self) -> None:
        self.stalled.set()

    async def start(self) -> "StatefulPeer":
        app = web.Application()
        app.router.add_get("/version", self._version)
        app.router.add_get(f"{GROUP}/clusterinformations/default", self._info)
        app.router.add_get(f"{GROUP}/federationexports", self._exports)
        app.router.add_get(f"{GROUP}/{{plural}}", self._collection)
        self.server = TestServer(app, host="127.0.0.1", port=free_port())
        await self.server.start_server(shutdown_timeout=0.5)
        self.url = f"http://127.0.0.1:{self.server.port}"
        return self

    async def close(self) -> None:
        await self.server.close()

    async def _answered(self, request: web.Request) -> None:
        """Count the request; never return while stalled."""
        self.requests[request.path] += 1
        self.connections.add(request.transport.get_extra_info("peername"))
        if self.stalled.is_set():
            await asyncio.Event().wait()

    async def _version(self, request: web.Request) -> web.Response:
        await self._answered(request)
        return web.json_response({"clusterName": self.name})

    async def _info(self, request: web.Request) -> web.Response:
        await self._answered(request)
        return web.json_response({"kind": "ClusterInformation", "metadata": {
            "name": "default", "resourceVersion": "1"}, "spec": {"clusterGUID": self.guid}})

    async def _exports(self, request: web.Request) -> web.Response:
        await self._answered(request)
        return web.json_response({"kind": "FederationExportList", "metadata": {
            "resourceVersion": str(self.rv)}, "items": [{"metadata": {
                "name": "everything", "resourceVersion": "1"}, "spec": {"users": ["peer"]}}]})

    async def _collection(self, request: web.Request) -> web.StreamResponse:
        await self._answered(request)
        sets = request.match_info["plural"] == "globalnetworksets"
        if request.query.get("watch") == "true":
            return await self._watch(request, sets)
        limit = int(request.query.get("limit") or 0)
        self.limits.append(limit)
        token = request.query.get("continue")
        if token and self.expire_continue:
            self.expire_continue = False
            return gone()
        rv, _, after = token.partition(":") if token else (str(self.rv), "", "")
        if not token:
            self.snapshots[rv] = sorted(self.sets.values(), key=lambda o: o["metadata"]["name"])
        rest = [o for o in self.snapshots[rv] if o["metadata"]["name"] > after] if sets else []
        page = rest[:limit] if limit else rest
        meta = {"resourceVersion": rv}
        if len(rest) > len(page):
            meta["continue"] = f"{rv}:{page[-1]['metadata']['name']}"
        return web.json_response({"kind": "GlobalNetworkSetList", "metadata": meta,
                                  "items": page})

    async def _watch(self, request: web.Request, sets: bool) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json;stream=watch"})
        await resp.prepare(request)
        sent, epoch, next_bookmark = int(request.query["resourceVersion"]), self.epoch, 0.0
        while epoch == self.epoch:
            if self.stalled.is_set():
                await asyncio.Event().wait()
            for rv, type_, obj in list(self.history) if sets else ():
                if rv > sent:
                    await resp.write(event(type_, obj))
                    sent = rv
            if time.monotonic() >= next_bookmark:
                await resp.write(bookmark(str(self.rv)))
                next_bookmark = time.monotonic() + 0.5
            await asyncio.sleep(0.05)
        return resp


async def _copy_names(client: httpx.AsyncClient, peer: str) -> set[str]:
    return set(await copies(client, "globalnetworksets", peer))


async def _metric_of(client: httpx.AsyncClient, name: str, peer: str, **labels: str) -> float:
    return metric((await client.get("/metrics")).text, name, peer=peer,
                  kind="GlobalNetworkSet", **labels) or 0.0


PAGED = dataclasses.replace(FAST, limits=dataclasses.replace(FAST.limits, page_size=100))


async def test_a_list_larger_than_a_page_is_read_in_pages_and_a_410_restarts_it(clean_etcd):
    fake = await StatefulPeer("paged", 250).start()
    fake.expire_continue = True          # the first list's second page: its snapshot is gone
    async with importer(clean_etcd, PAGED) as (_, ca):
        await post(ca, rcc("paged", fake.url, syncOptions=GNS_ONLY))

        async def all_there() -> bool:
            return len(await _copy_names(ca, "paged")) == 250 and \
                (await status(ca, "paged")).get("state") == "InSync"
        await eventually(all_there, what="250 sets mirrored in pages of 100")
        assert set(fake.limits) == {100}, fake.limits
        # the first list stopped at its expired continue token; the relist read 3 pages
        assert len(fake.limits) == 1 + 1 + 3, fake.limits
        fake.put("s00007", ("10.7.0.0/16",))
        fake.delete("s00100")

        async def followed() -> bool:
            got = await copies(ca, "globalnetworksets", "paged")
            return "paged.s00100" not in got and \
                got["paged.s00007"]["spec"]["nets"] == ["10.7.0.0/16"]
        await eventually(followed, what="the watch after the paged list")
    await fake.close()


async def test_a_page_too_large_is_asked_for_again_with_half_the_limit(clean_etcd):
    fake = await StatefulPeer("heavy", 60, tuple(f"10.{i}.0.0/16" for i in range(200))).start()
    small = dataclasses.replace(FAST, limits=dataclasses.replace(
        FAST.limits, page_size=40, max_page_bytes=100 * 1024))   # a set is ~4 KB
    async with importer(clean_etcd, small) as (_, ca):
        await post(ca, rcc("heavy", fake.url, syncOptions=GNS_ONLY))

        async def all_there() -> bool:
            return len(await _copy_names(ca, "heavy")) == 60
        await eventually(all_there, what="every set mirrored")
        assert fake.limits[:2] == [40, 20] and set(fake.limits) == {40, 20}, fake.limits
    await fake.close()


async def test_the_syncers_of_a_peer_share_one_client_and_one_identity_check(clean_etcd):
    fake = await StatefulPeer("shared", 5).start()
    async with importer(clean_etcd) as (_, ca):
        await post(ca, rcc("shared", fake.url))          # both kinds
        await eventually(lambda: _in_sync(ca, "shared"), what="both kinds in sync")
        assert fake.requests["/version"] == 1, fake.requests
        assert fake.requests[f"{GROUP}/clusterinformations/default"] == 1, fake.requests
        # a watch per kind, and the connection the identity check and lists used
        assert len(fake.connections) <= 3, fake.connections
    await fake.close()


async def _in_sync(client: httpx.AsyncClient, peer: str) -> bool:
    return (await status(client, peer)).get("state") == "InSync"


async def test_a_blackholed_peer_is_failed_within_10s_then_stale_and_fresh_again(clean_etcd):
    slow = dataclasses.replace(FAST, stale_after=12.0, limits=dataclasses.replace(
        FAST.limits, request_timeout=30, idle_timeout=8))      # the default deadlines
    fake = await StatefulPeer("holed", 3).start()
    async with importer(clean_etcd, slow) as (_, ca):
        await post(ca, rcc("holed", fake.url, syncOptions=GNS_ONLY))
        await eventually(lambda: _in_sync(ca, "holed"), what="in sync")
        fake.stall()              # the watch stops sending; new requests are never answered
        stalled = time.monotonic()

        async def failed() -> bool:
            st = await status(ca, "holed")
            return st.get("state") == "Failed" and "for 8s" in st.get("lastError", "")
        await eventually(failed, timeout=15, what="the blackhole noticed")
        noticed = time.monotonic() - stalled
        assert noticed <= 10, f"noticed after {noticed:.1f}s"
        assert await _metric_of(ca, "calico_federation_failing", "holed",
                                reason="PeerUnreachable") == 1

        async def stale() -> bool:
            st = await status(ca, "holed")
            assert st["objects"] == 3, st       # copies kept
            return condition(st, "Stale").get("reason") == "Unreachable"
        await eventually(stale, timeout=20, what="Stale after 12 s out of touch")
        became_stale = time.monotonic() - stalled
        assert 11 <= became_stale <= 15, f"Stale after {became_stale:.1f}s"
        assert condition(await status(ca, "holed"), "Stale")["status"] == "True"
        assert await _metric_of(ca, "calico_federation_stale", "holed") == 1
        lag = await _metric_of(ca, "calico_federation_lag_seconds", "holed")
        assert lag >= 11, lag                   # lag grows with the outage, from the last sync

        fake.stalled.clear()

        async def fresh() -> bool:
            st = await status(ca, "holed")
            return st.get("state") == "InSync" and condition(st, "Stale")["status"] == "False"
        await eventually(fresh, timeout=30, what="in sync and fresh again")
        assert await _metric_of(ca, "calico_federation_lag_seconds", "holed") < 2
    await fake.close()


async def test_a_peer_that_accepts_connections_and_never_answers_is_failed_within_10s(
        clean_etcd):
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)
        await asyncio.Event().wait()
    hole = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = hole.sockets[0].getsockname()[1]
    slow = dataclasses.replace(FAST, limits=dataclasses.replace(
        FAST.limits, request_timeout=30, idle_timeout=8))
    try:
        async with importer(clean_etcd, slow) as (_, ca):
            await post(ca, rcc("mute", f"http://127.0.0.1:{port}", syncOptions=GNS_ONLY))
            created = time.monotonic()

            async def failed() -> bool:
                st = await status(ca, "mute")
                return st.get("state") == "Failed" and "sent nothing for 8s" in st["lastError"]
            await eventually(failed, timeout=15, what="the mute peer reported")
            assert time.monotonic() - created <= 10
    finally:
        hole.close()


async def test_a_rebuilt_peer_datastore_is_relisted_from_scratch(clean_etcd):
    fake = await StatefulPeer("reborn", 0).start()
    for i in range(30):
        fake.put("old", (f"10.{i}.0.0/16",))     # revisions the new datastore never reaches
    fake.put("kept")
    async with importer(clean_etcd) as (_, ca):
        await post(ca, rcc("reborn", fake.url, syncOptions=GNS_ONLY))
        await eventually(lambda: _in_sync(ca, "reborn"), what="in sync")
        assert await _copy_names(ca, "reborn") == {"reborn.old", "reborn.kept"}
        fake.rebuild(["kept", "new"])            # revisions 2 and 3, a new clusterGUID

        async def relisted() -> bool:
            st = await status(ca, "reborn")
            assert await _copy_names(ca, "reborn") == {"reborn.kept", "reborn.new"}
            assert st["peerRevision"] == "3" and st["lagRevisions"] == 0, st
            return st["state"] == "InSync"
        await eventually(relisted, what="the new datastore relisted")
        assert await _metric_of(ca, "calico_federation_lag_revisions", "reborn") == 0
        fake.put("newer")                          # revision 4: followed from the new start
        await eventually(lambda: _has(ca, "reborn", "reborn.newer"), what="followed")
    await fake.close()


async def _has(client: httpx.AsyncClient, peer: str, name: str) -> bool:
    return name in await _copy_names(client, peer)


async def test_a_peer_that_is_this_cluster_itself_is_failed_saying_so(clean_etcd):
    async with importer(clean_etcd) as (server, ca):
        await post(ca, rcc("loop", server.url, syncOptions=GNS_ONLY))
        await post(ca, rcc("cluster-a", server.url, syncOptions=GNS_ONLY))

        async def said() -> bool:
            loop, named = await status(ca, "loop"), await status(ca, "cluster-a")
            assert loop.get("state") == "Failed" and \
                "is this cluster itself ('cluster-a')" in loop.get("lastError", ""), loop
            assert named.get("state") == "Failed" and \
                "is this cluster itself" in named.get("lastError", ""), named
            return True
        await eventually(said, what="both reported as this cluster itself")


async def test_lag_stays_small_under_a_steady_stream_of_changes(clean_etcd):
    fake = await StatefulPeer("busy", 1).start()
    async with importer(clean_etcd) as (_, ca):
        await post(ca, rcc("busy", fake.url, syncOptions=GNS_ONLY))
        await eventually(lambda: _in_sync(ca, "busy"), what="in sync")
        lags = []
        for i in range(40):                       # a change every 0.1 s for 4 s
            fake.put("hot", (f"10.{i}.0.0/16",))
            await asyncio.sleep(0.1)
            lags.append(await _metric_of(ca, "calico_federation_lag_seconds", "busy"))
        assert max(lags) < 1.5, lags
        await eventually(lambda: _has(ca, "busy", "busy.hot"), what="mirrored")
    await fake.close()


# -- quotas and guards ----------------------------------------------------------------------------
async def test_max_objects_stops_adding_keeps_what_it_has_and_resumes_with_room(
        clean_etcd, monkeypatch):
    monkeypatch.setattr(syncer_module, "QUOTA_RETRY", 1.0)
    fake = await StatefulPeer("greedy", 12).start()
    async with importer(clean_etcd) as (_, ca):
        await post(ca, rcc("greedy", fake.url, syncOptions={**GNS_ONLY, "maxObjects": 5}))

        async def capped() -> bool:
            st = await status(ca, "greedy")
            quota = condition(st, "QuotaExceeded")
            assert quota.get("status") == "True" and quota["reason"] == "QuotaExceeded", st
            assert quota["message"].startswith("7 objects not imported (holding 5 copies"), quota
            assert "maxObjects (5) reached" in quota["message"], quota
            assert st["objects"] == 5 and st["state"] == "InSync", st
            assert condition(st, "InvalidObjects")["status"] == "False", st
            return await _metric_of(ca, "calico_federation_quota_exceeded_objects",
                                    "greedy") == 7
        await eventually(capped, what="5 copies, 7 over quota")
        assert await _copy_names(ca, "greedy") == {f"greedy.s{i:05d}" for i in range(5)}
        # local writes are never affected
        await post(ca, gns("local-while-capped", ["10.1.0.0/16"]))
        # updates of copies held still apply
        fake.put("s00001", ("10.99.0.0/16",))

        async def updated() -> bool:
            got = await copies(ca, "globalnetworksets", "greedy")
            return got["greedy.s00001"]["spec"]["nets"] == ["10.99.0.0/16"]
        await eventually(updated, what="an update of a held copy")
        # room again: the refused objects come in (first by name)
        fake.delete("s00000")
        fake.delete("s00002")

        async def refilled() -> bool:
            names = await _copy_names(ca, "greedy")
            assert len(names) <= 5, names
            return names == {f"greedy.s{i:05d}" for i in (1, 3, 4, 5, 6)}
        await eventually(refilled, what="the quota refilled from the refused objects")
    await fake.close()


async def test_max_bytes_caps_the_size_of_the_copies(clean_etcd):
    fake = await StatefulPeer("wide", 6, tuple(f"10.{i}.0.0/16" for i in range(100))).start()
    async with importer(clean_etcd) as (_, ca):
        # a copy counts 1,740 bytes: three fit in 6,000
        await post(ca, rcc("wide", fake.url, syncOptions={**GNS_ONLY, "maxBytes": 6000}))

        async def capped() -> bool:
            st = await status(ca, "wide")
            quota = condition(st, "QuotaExceeded")
            assert quota.get("status") == "True" and "maxBytes (6000) reached" in \
                quota["message"], st
            return st["objects"] == 3
        await eventually(capped, what="3 copies within maxBytes")
        held = await _metric_of(ca, "calico_federation_bytes", "wide")
        assert 5000 < held <= 6000, held
        # an update that would grow past maxBytes is refused; the copy held is kept
        fake.put("s00000", tuple(f"10.{i}.0.0/16" for i in range(150)))
        fake.put("s00001", ("10.1.0.0/16",))      # a later, smaller update applies

        async def shrunk() -> bool:
            got = await copies(ca, "globalnetworksets", "wide")
            return got["wide.s00001"]["spec"]["nets"] == ["10.1.0.0/16"]
        await eventually(shrunk, what="the smaller update applied")
        got = await copies(ca, "globalnetworksets", "wide")
        assert len(got["wide.s00000"]["spec"]["nets"]) in (100, 150)
        assert await _metric_of(ca, "calico_federation_bytes", "wide") <= 6000
    await fake.close()


async def test_allowed_nets_refuse_copies_with_a_net_outside_them(clean_etcd):
    fake = await StatefulPeer("fenced", 0).start()
    fake.put("inside", ("10.1.0.0/16", "10.2.3.4"))
    fake.put("outside", ("10.1.0.0/16", "192.168.0.0/24"))
    fake.put("v6", ("fd00:1::/64",))
    async with importer(clean_etcd) as (_, ca):
        await post(ca, rcc("fenced", fake.url, syncOptions={
            **GNS_ONLY, "allowedNets": ["10.0.0.0/8", "fd00::/16"]}))

        async def fenced() -> bool:
            st = await status(ca, "fenced")
            invalid = condition(st, "InvalidObjects")
            assert invalid.get("status") == "True" and invalid["message"] == \
                "fenced.outside: net 192.168.0.0/24 is outside syncOptions.allowedNets", st
            return await _copy_names(ca, "fenced") == {"fenced.inside", "fenced.v6"}
        await eventually(fenced, what="the outside set refused")
        fake.put("inside", ("172.16.0.0/12",))     # an update going outside: the copy is kept
        fake.put("v6", ("fd00:2::/64",))

        async def kept() -> bool:
            got = await copies(ca, "globalnetworksets", "fenced")
            assert got["fenced.inside"]["spec"]["nets"] == ["10.1.0.0/16", "10.2.3.4"]
            return got["fenced.v6"]["spec"]["nets"] == ["fd00:2::/64"]
        await eventually(kept, what="the good version kept")
        assert await _metric_of(ca, "calico_federation_invalid_objects", "fenced") == 2
        fake.delete("inside")
        await eventually(lambda: _gone(ca, "fenced", "fenced.inside"), what="deleted")
        r = await ca.post(f"{GROUP}/remoteclusterconfigurations", json=rcc(
            "fenced-2", fake.url, syncOptions={"allowedNets": ["10.0.0.0/8", "10.0.0.0/33"]}))
        assert r.status_code == 422, r.text
        assert r.json()["details"]["causes"] == [{
            "field": "spec.syncOptions.allowedNets[1]", "message": "invalid CIDR '10.0.0.0/33'",
            "reason": "FieldValueInvalid"}]
    await fake.close()


async def _gone(client: httpx.AsyncClient, peer: str, name: str) -> bool:
    return name not in await _copy_names(client, peer)


async def test_status_objects_counts_the_copies_held(clean_etcd):
    fake = await StatefulPeer("counted", 8).start()
    async with importer(clean_etcd) as (_, ca):
        await post(ca, rcc("counted", fake.url, syncOptions=GNS_ONLY))

        async def counted(n: int) -> bool:
            return (await status(ca, "counted")).get("objects") == n == \
                len(await _copy_names(ca, "counted"))
        await eventually(lambda: counted(8), what="8 held")
        etcdctl(clean_etcd.endpoint, "del", COPY_KEY + "counted.s00003")   # behind its back
        await eventually(lambda: counted(8), what="the lost copy restored and counted")
        assert await _has(ca, "counted", "counted.s00003")
    await fake.close()


# -- the local etcd is full -----------------------------------------------------------------------
class FullForCopies(Faulty):
    """While ``full``, etcd refuses to write copies of peer ``name`` as its NOSPACE alarm
    does (every other write, such as the RCC status, goes through)."""

    full = False

    def _check(self, *keys: str) -> None:
        if self.full and any("/full." in k for k in keys):
            raise NoSpace("etcdserver: mvcc: database space exceeded")

    async def create(self, key: str, value: bytes, *, lease: int = 0) -> int:
        self._check(key)
        return await self.inner.create(key, value, lease=lease)

    async def create_many(self, items: list[tuple[str, bytes]]) -> int:
        self._check(*(k for k, _ in items))
        return await self.inner.create_many(items)

    async def update(self, key: str, value: bytes, *, expect_revision: int) -> int:
        self._check(key)
        return await self.inner.update(key, value, expect_revision=expect_revision)


async def test_a_full_datastore_fails_the_peer_with_that_reason_and_is_retried(clean_etcd):
    fake = await StatefulPeer("full", 3).start()
    faults: list[FullForCopies] = []

    def wrap(storage: EtcdStorage) -> FullForCopies:
        faults.append(FullForCopies(storage))
        return faults[0]
    async with importer(clean_etcd, wrap=wrap) as (_, ca):
        await post(ca, rcc("full", fake.url, syncOptions=GNS_ONLY))
        await eventually(lambda: _in_sync(ca, "full"), what="in sync")
        faults[0].full = True
        fake.put("s00009")
        fake.put("s00001", ("10.1.0.0/16",))

        async def failed() -> bool:
            st = await status(ca, "full")
            ready = condition(st, "Ready")
            assert st.get("state") == "Failed" and ready.get("reason") == \
                "InsufficientStorage" and "datastore is full" in st["lastError"], st
            assert condition(st, "InvalidObjects")["status"] == "False", st
            assert st["objects"] == 3, st
            return await _metric_of(ca, "calico_federation_sync_errors_total", "full") >= 3
        await eventually(failed, what="Failed: InsufficientStorage, retried")
        assert await _metric_of(ca, "calico_federation_invalid_objects", "full") == 0
        assert await _metric_of(ca, "calico_federation_failing", "full",
                                reason="InsufficientStorage") == 1
        faults[0].full = False

        async def recovered() -> bool:
            got = await copies(ca, "globalnetworksets", "full")
            return "full.s00009" in got and \
                got["full.s00001"]["spec"]["nets"] == ["10.1.0.0/16"] and \
                await _in_sync(ca, "full")
        await eventually(recovered, what="the writes retried once there is room")
    await fake.close()


def _make_room(endpoint: str) -> None:
    """The operator's recovery: delete, compact, defragment, disarm."""
    etcdctl(endpoint, "del", "--prefix", "/filler/")
    revision = json.loads(etcdctl(endpoint, "get", "x", "-w", "json"))["header"]["revision"]
    etcdctl(endpoint, "compact", str(revision))
    etcdctl(endpoint, "defrag")
    etcdctl(endpoint, "alarm", "disarm")


async def test_a_real_full_etcd_is_retried_and_removing_the_peer_still_removes_its_copies(
        small_etcd):
    fake = await StatefulPeer("filled", 4).start()
    async with importer(small_etcd) as (_, ca):
        await post(ca, rcc("filled", fake.url, syncOptions=GNS_ONLY))
        await eventually(lambda: _in_sync(ca, "filled"), what="in sync")
        await _fill(small_etcd.endpoint)
        fake.put("late")

        async def failing() -> bool:
            assert await _metric_of(ca, "calico_federation_invalid_objects", "filled") == 0
            return await _metric_of(ca, "calico_federation_failing", "filled",
                                    reason="InsufficientStorage") == 1
        await eventually(failing, what="Failed: InsufficientStorage (in /metrics)")
        r = await ca.post(f"{GROUP}/globalnetworksets", json=gns("local", ["10.0.0.0/8"]))
        assert r.status_code == 507, r.text       # the datastore is full for everyone ...
        _make_room(small_etcd.endpoint)
        await eventually(lambda: _has(ca, "filled", "filled.late"), what="retried with room")

        await _fill(small_etcd.endpoint)          # full again: remove the peer
        r = await ca.delete(f"{GROUP}/remoteclusterconfigurations/filled")
        assert r.status_code == 200, r.text       # deletes need no space
        _make_room(small_etcd.endpoint)

        async def removed() -> bool:
            return await _copy_names(ca, "filled") == set()
        await eventually(removed, what="the removed peer's copies deleted")
        assert (await ca.post(f"{GROUP}/globalnetworksets",
                              json=gns("local", ["10.0.0.0/8"]))).status_code == 201
    await fake.close()
