"""The watch-fed cache every read is served from.

It lists every kind's keys once (``Catalog.prefixes``), then follows one etcd watch of the
whole keyspace, so every revision arrives as an event and the cache's revision is always that
of the last event it applied (etcd 3.4's progress notifications can run ahead of events a
reconnected watch has yet to deliver, so they are not used). It is never behind an
acknowledged write: writers ``wait_for`` their own revision, readers ``sync()`` to etcd's
current revision. It keeps a bounded history of changes so API watches can start at a recent
``resourceVersion``; a watch behind the history, or a subscriber that does not keep up, gets
``Gone`` (410) and must relist. On etcd compaction of its own position it relists and expires
every subscriber; on etcd outages it reconnects with capped backoff and resumes from its
revision.
"""
from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import logging
from dataclasses import dataclass, field
from typing import Iterator

from calicomodel.catalog import Catalog, Kind
from calicomodel.errors import Gone, ServiceUnavailable
from calicomodel.stored import dumps, loads

from ..storage.interface import Compacted, Storage, StorageError, WatchEvent
from .storage_errors import translated

log = logging.getLogger(__name__)
WATCH_PREFIX = ""  # the whole keyspace: every revision is an event
PAGE = 2000
DECODE_SLICE = 250   # entries decoded between turns of the event loop in a relist


@dataclass(slots=True)
class Entry:
    """One object version, held compactly: its JSON as served (encoded once) and the labels
    selectors read; ``obj`` decodes it into a fresh dict (the caller's own to change). A
    decoded tree costs about five times its JSON, and the cache holds every object."""

    kind: Kind
    key: str
    namespace: str | None
    name: str
    raw: bytes
    labels: dict | None   # shared: never mutate
    revision: int
    create_revision: int

    @classmethod
    def of(cls, kind: Kind, key: str, namespace: str | None, name: str, obj: dict,
           revision: int, create_revision: int) -> "Entry":
        # orjson's bytes keep their whole write buffer (4 KiB and up); a copy is right-sized
        raw = bytes(memoryview(dumps(obj)))
        return cls(kind, key, namespace, name, raw, obj["metadata"].get("labels") or None,
                   revision, create_revision)

    @property
    def obj(self) -> dict:
        return loads(self.raw)

    def json(self) -> bytes:
        return self.raw

    def at(self, revision: int) -> "Entry":
        """This object as a deletion at ``revision`` reports it: its last state, with the
        deletion's resourceVersion."""
        obj = self.obj
        obj["metadata"]["resourceVersion"] = str(revision)
        return Entry.of(self.kind, self.key, self.namespace, self.name, obj, revision,
                        self.create_revision)

    def fields(self) -> dict:
        """The metadata a field selector reads (``metadata.name`` and ``.namespace``)."""
        if self.namespace is None:
            return {"name": self.name}
        return {"name": self.name, "namespace": self.namespace}


def make_entry(kind: Kind, key: str, value: bytes, revision: int,
               create_revision: int) -> Entry | None:
    """The entry for stored bytes of ``kind`` at ``key``; None when the bytes do not decode or
    no object of the kind can be at the key (its layout does not parse it)."""
    parsed = kind.layout.parse(key)
    if parsed is None:
        return None
    try:
        obj = kind.layout.decode(key, value, revision, create_revision)
    except ValueError:
        return None
    return Entry.of(kind, key, parsed[0], parsed[1], obj, revision, create_revision)


@dataclass(slots=True)
class Change:
    type: str  # ADDED | MODIFIED | DELETED
    entry: Entry
    revision: int
    prev: Entry | None = None  # the version a MODIFIED replaced (for selector update_rules)


@dataclass(eq=False)
class Subscription:
    """A bounded queue of changes of one kind (and namespace). ``None`` from ``get`` = closed."""

    kind: Kind
    namespace: str | None
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue())
    limit: int = 10_000
    error: Exception | None = None

    def offer(self, change: Change) -> bool:
        if self.queue.qsize() >= self.limit:
            self.close(Gone("the watch fell too far behind; restart it from a fresh list"))
            return False
        self.queue.put_nowait(change)
        return True

    def close(self, error: Exception | None = None) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.error = error
        self.queue.put_nowait(None)

    async def get(self) -> Change | None:
        return await self.queue.get()


class WatchCache:
    def __init__(self, storage: Storage, catalog: Catalog, *, history: int = 50_000,
                 subscriber_buffer: int = 10_000, wait_timeout: float = 10.0) -> None:
        self.storage, self.catalog = storage, catalog
        self.revision = 0
        self.ready = asyncio.Event()
        self.connected = False
        self.last_error = ""
        # plural → (namespace, name) → entry: names are unique per kind, keys need not be
        # computable from them (a BlockAffinity's node and CIDR share one name).
        self._objects: dict[str, dict[tuple[str | None, str], Entry]] = \
            {k.plural: {} for k in catalog}
        self._history: collections.deque[Change] = collections.deque(maxlen=history)
        self._history_floor = 0
        self._subs: set[Subscription] = set()
        self._sub_buffer = subscriber_buffer
        self._waiters: list[tuple[int, int, asyncio.Future]] = []
        self._seq = itertools.count()
        self._wait_timeout = wait_timeout
        self._stream = None
        self._task: asyncio.Task | None = None
        self._next_probe: asyncio.Future | None = None       # shared by callers arriving now
        self._probe_under_way: asyncio.Future | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="watch-cache")

    def stopped(self) -> bool:
        """The cache's task has ended (it never does by itself: etcd trouble is retried)."""
        return self._task is not None and self._task.done()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._stream:
            self._stream.close()
        for sub in list(self._subs):
            sub.close(ServiceUnavailable("the server is shutting down"))

    async def _run(self) -> None:
        backoff, relist = 0.1, True
        while True:
            try:
                if relist:
                    await self._relist()
                    relist = False
                self._stream = self.storage.watch(WATCH_PREFIX, start_revision=self.revision + 1)
                async for _, events in self._stream:
                    backoff = 0.1
                    self._mark_connected()
                    self._apply(events)
            except Compacted as err:
                log.warning("watch cache: %s; relisting", err)
                relist = True
            except StorageError as err:
                self._mark_disconnected(str(err))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                if self._stream:
                    self._stream.close()
                    self._stream = None

    def _mark_connected(self) -> None:
        if not self.connected:
            log.info("watch cache: following etcd from revision %d", self.revision)
        self.connected, self.last_error = True, ""

    def _mark_disconnected(self, error: str) -> None:
        if self.connected or not self.last_error:
            log.warning("watch cache: etcd unreachable (%s); retrying", error)
        self.connected, self.last_error = False, error

    async def _relist(self) -> None:
        """Read every kind's keys at one revision. The next page is asked for before this
        one is decoded, and the decoding yields to the event loop now and then, so etcd
        reads a page while this process decodes the one before."""
        revision, fresh = 0, {k.plural: {} for k in self.catalog}
        for prefix in self.catalog.prefixes:
            page = await self.storage.list(prefix, revision=revision, limit=PAGE)
            revision = revision or page.revision
            while True:
                following = asyncio.ensure_future(self.storage.list(
                    prefix, revision=revision, start=page.items[-1].key + "\0",
                    limit=PAGE)) if page.more and page.items else None
                try:
                    for at, kv in enumerate(page.items):
                        if at % DECODE_SLICE == 0:
                            await asyncio.sleep(0)
                        entry = self._entry(self.catalog.locate(kv.key), kv.key, kv.value,
                                            kv.mod_revision, kv.create_revision)
                        if entry:
                            fresh[entry.kind.plural][entry.namespace, entry.name] = entry
                except asyncio.CancelledError:
                    if following is not None:
                        following.cancel()
                    raise
                if following is None:
                    break
                page = await following
        if self.ready.is_set():
            for sub in list(self._subs):
                sub.close(Gone("the datastore was compacted past this watch; relist"))
            self._subs.clear()
        self._objects, self.revision = fresh, revision
        self._history.clear()
        self._history_floor = revision
        self._mark_connected()
        self._wake(revision)
        self.ready.set()

    @staticmethod
    def _entry(kind: Kind | None, key: str, value: bytes, revision: int,
               create_revision: int) -> Entry | None:
        """``make_entry`` for the kind the key was located to (None: no kind's key)."""
        if kind is None:
            return None
        entry = make_entry(kind, key, value, revision, create_revision)
        if entry is None:
            log.warning("watch cache: skipping undecodable or misplaced value at %s", key)
        return entry

    def _apply(self, events: list[WatchEvent]) -> None:
        """Apply a batch; the revision advances only with events (see the module docstring)."""
        for ev in events:
            self._apply_one(ev)
        self._wake(self.revision)

    def _apply_one(self, ev: WatchEvent) -> None:
        rev = ev.kv.mod_revision
        self.revision = max(self.revision, rev)
        kind = self.catalog.locate(ev.kv.key)
        if kind is None:
            return
        objects = self._objects[kind.plural]
        if ev.type == "DELETE":
            parsed = kind.layout.parse(ev.kv.key)
            old = objects.get(parsed) if parsed is not None else None
            if old is None or old.key != ev.kv.key:
                return
            del objects[parsed]
            change = Change("DELETED", old.at(rev), rev)
        else:
            entry = self._entry(kind, ev.kv.key, ev.kv.value, rev, ev.kv.create_revision)
            if entry is None:
                return
            old = objects.get((entry.namespace, entry.name))
            objects[entry.namespace, entry.name] = entry
            change = Change("ADDED", entry, rev) if old is None else \
                Change("MODIFIED", entry, rev, old)
        self._history.append(change)
        if len(self._history) == self._history.maxlen:
            self._history_floor = self._history[0].revision - 1
        for sub in list(self._subs):
            if sub.kind is kind and (sub.namespace is None or sub.namespace == change.entry.namespace):
                if not sub.offer(change):
                    self._subs.discard(sub)

    # -- consistency -----------------------------------------------------------------------
    def _wake(self, revision: int) -> None:
        while self._waiters and self._waiters[0][0] <= revision:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)

    async def wait_for(self, revision: int, timeout: float | None = None) -> None:
        """Return once the cache reflects ``revision``; ServiceUnavailable after ``timeout``
        (default: the cache's wait timeout)."""
        if self.revision >= revision:
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (revision, next(self._seq), fut))
        try:
            async with asyncio.timeout(self._wait_timeout if timeout is None else timeout):
                await fut
        except TimeoutError:
            raise ServiceUnavailable(
                f"the watch cache did not reach revision {revision} in time "
                f"(at {self.revision}; etcd: {self.last_error or 'slow'})") from None

    async def primed(self) -> None:
        """Return once the cache holds its first full list: a worker that starts (or
        restarts) while its siblings already serve the port answers its share of reads a
        moment late rather than refusing them. ServiceUnavailable after the wait timeout
        (etcd unreachable since start-up)."""
        if self.ready.is_set():
            return
        try:
            async with asyncio.timeout(self._wait_timeout):
                await self.ready.wait()
        except TimeoutError:
            raise ServiceUnavailable("the watch cache is not primed yet "
                                     f"(etcd: {self.last_error or 'slow'})") from None

    async def sync(self) -> None:
        """Wait until the cache holds everything etcd had committed when this was called."""
        await self.primed()
        with translated(reading=True):
            revision = await self._current_revision()
        await self.wait_for(revision)

    async def _current_revision(self) -> int:
        """etcd's revision at some moment after this call began. Callers share requests
        (Kubernetes' consistent reads from cache do the same): a caller joins the next request
        to be sent — never one already under way, which may predate a write the caller must
        see — so a burst of reads costs one or two etcd round trips, not one each."""
        if self._next_probe is None:
            self._next_probe = asyncio.get_running_loop().create_future()
            self._next_probe.add_done_callback(_retrieved)
            asyncio.create_task(self._probe(self._next_probe), name="current-revision")
        return await asyncio.shield(self._next_probe)

    async def _probe(self, result: asyncio.Future) -> None:
        """Send the request ``result`` stands for once the one under way (if any) is done."""
        while self._probe_under_way is not None:
            await asyncio.wait([self._probe_under_way])
        self._next_probe, self._probe_under_way = None, result
        try:
            result.set_result(await self.storage.current_revision())
        except BaseException as err:   # noqa: BLE001 - handed to every caller
            result.set_exception(err)
        finally:
            self._probe_under_way = None

    # -- reads -----------------------------------------------------------------------------
    def entry(self, kind: Kind, name: str, namespace: str | None = None) -> Entry | None:
        return self._objects[kind.plural].get((namespace, name))

    def entries(self, kind: Kind, namespace: str | None = None) -> list[Entry]:
        """In key order, as etcd lists them."""
        objects = self._objects[kind.plural].values()
        found = [e for e in objects if e.namespace == namespace] if namespace else list(objects)
        found.sort(key=lambda e: e.key)
        return found

    def count(self, kind: Kind) -> int:
        return len(self._objects[kind.plural])

    def subscribe(self, kind: Kind, namespace: str | None, since: int) -> Subscription:
        """Changes after revision ``since`` (0 = from now). Raises Gone if history is gone,
        or if ``since`` is ahead of the cache: callers ``sync()`` first, so such a version was
        never served by this datastore (it was restored or rebuilt), and a client that kept it
        would silently miss every change up to it."""
        if since and since < self._history_floor:
            raise Gone(f"too old resource version: {since} ({self._history_floor})")
        if since > self.revision:
            raise Gone(f"resource version {since} is newer than the datastore's ({self.revision}): "
                       "it comes from another or an earlier datastore; relist")
        sub = Subscription(kind, namespace, limit=self._sub_buffer)
        if since:
            for change in self._since(since):
                if change.entry.kind is kind and (namespace is None
                                                  or change.entry.namespace == namespace):
                    if not sub.offer(change):
                        return sub
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def _since(self, revision: int) -> Iterator[Change]:
        return (c for c in self._history if c.revision > revision)

    # -- Lookup for strategies' references --------------------------------------------------
    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        e = self.entry(self.catalog.kind(kind), name, namespace)
        return e.obj if e else None

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        return [e.obj for e in self.entries(self.catalog.kind(kind), namespace)]

    def tiered_kinds(self) -> list[str]:
        return [k.kind for k in self.catalog if k.tiered]


def _retrieved(future: asyncio.Future) -> None:
    """Mark a shared result's exception as seen (its callers may all have gone)."""
    if not future.cancelled():
        future.exception()
