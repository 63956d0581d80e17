"""``PeerSyncer``: one per (peer cluster, kind). List, then watch from the list's revision, and
mirror into the local store.

Contract:
* After a successful (re)list the local copies of this (peer, kind) are exactly the peer's
  matching, valid objects (mark and sweep); a restart of either side relists and converges
  without duplicates, and writes nothing for copies that are already up to date.
* Watch events are applied in order; a burst is coalesced by object and written with bounded
  concurrency (a semaphore shared by all syncers).
* On any failure (of the peer, the local store, or unexpected): state Failed with the error,
  copies kept, reconnect with capped exponential backoff, resuming the watch from the last
  applied revision; a 410 relists. A watch that the peer ends within ``healthy_after`` seconds
  counts as a failure, and a 410 that soon after a relist waits out the backoff before the next
  relist, so a broken peer cannot drive a tight loop; the backoff starts over once a watch has
  stayed up ``healthy_after`` seconds. Every wait is counted (``backoffs``).
  ``staleTTL`` > 0 deletes the copies once the peer has been unreachable that long.
* Each batch of writes ends with its last write: when one fails, the others are cancelled and
  awaited before the syncer retries.
* Objects the local store refuses (invalid, too large) are never written; a previously mirrored
  good version is kept. A local object that owns a copy's name wins; both show in the status
  (counts, and the first MAX_REPORTED names).
* A syncer never raises out of ``run`` except CancelledError.
"""
from __future__ import annotations

import asyncio
import datetime
import heapq
import logging
import random
import time
from dataclasses import dataclass
from typing import Callable

from ..resources.catalog import Kind
from ..resources.errors import ApiError
from ..resources.selectors import Selector
from .copies import CopyWriter, ImportRejected, Key, Outcome, make_copy, run_all
from .peer import PeerClient, PeerError, PeerEvent, PeerExpired, PeerUnreachable, WrongCluster

log = logging.getLogger(__name__)

CONNECTING, SYNCING, IN_SYNC, FAILED = "Connecting", "Syncing", "InSync", "Failed"
STATES = (CONNECTING, SYNCING, IN_SYNC, FAILED)
MAX_REPORTED = 20          # conflicts / invalid objects named in the status
MAX_TRACKED = 10_000       # invalid objects remembered by name (beyond: only counted)
CREATE_BATCH = 256   # new copies written per store.create_many call (initial sync)
BATCH = 1000               # watch events coalesced into one batch at most
RETRY_CONFLICTS = 5.0      # seconds between retries of names a local object holds


@dataclass(frozen=True)
class SyncOptions:
    """What to import from the peer, and how long to keep copies of an unreachable peer."""

    selector: Selector
    namespaces: frozenset[str] = frozenset()
    stale_ttl: float = 0.0           # seconds; 0 keeps copies forever
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    healthy_after: float = 5.0       # a watch up this long was healthy (resets the backoff)


@dataclass(frozen=True)
class SyncerStatus:
    """A snapshot of one syncer, for the RCC status, readiness and metrics."""

    peer: str
    kind: str
    state: str
    objects: int
    revision: int                   # the peer revision mirrored so far
    peer_revision: int              # the newest peer revision seen
    last_error: str
    last_sync_time: str | None      # when the copies were last known to equal the peer's
    lag_seconds: float
    synced_once: bool
    failed_once: bool
    stale: bool                     # copies were expired by staleTTL
    events_applied: int
    sync_errors: int
    full_resyncs: int
    conflicts: tuple[str, ...]      # the first MAX_REPORTED ...
    invalid: tuple[str, ...]
    conflict_count: int = 0         # ... of how many
    invalid_count: int = 0
    backoffs: int = 0               # waits before a reconnect or relist

    @property
    def lag_revisions(self) -> int:
        return max(0, self.peer_revision - self.revision)


class Rejections:
    """Peer objects refused since the last full list: by name for the first MAX_TRACKED (a
    name is dropped again when its object is fixed or deleted), only counted beyond that."""

    def __init__(self) -> None:
        self._named: dict[Key | str, str] = {}
        self._unnamed = 0

    def add(self, key: Key | str, message: str) -> None:
        if key in self._named or len(self._named) < MAX_TRACKED:
            self._named[key] = message[:256]
        else:
            self._unnamed += 1

    def discard(self, key: Key | str) -> None:
        self._named.pop(key, None)

    def clear(self) -> None:
        self._named.clear()
        self._unnamed = 0

    def __len__(self) -> int:
        return len(self._named) + self._unnamed

    def first(self) -> tuple[str, ...]:
        return tuple(heapq.nsmallest(MAX_REPORTED, self._named.values()))


class PeerSyncer:
    def __init__(self, peer: str, kind: Kind, client: PeerClient, writer: CopyWriter,
                 options: SyncOptions, *, on_change: Callable[[], None] = lambda: None) -> None:
        self.peer, self.kind, self.client, self.writer = peer, kind, client, writer
        self.options = options
        self._on_change = on_change
        self._state = CONNECTING
        self._error = ""
        self._revision = 0
        self._peer_revision = 0
        self._owned: set[Key] = set()
        self._conflicts: dict[Key, tuple[dict, str]] = {}
        self._invalid = Rejections()
        self._synced_once = self._failed_once = self._stale = False
        self._events = self._errors = self._resyncs = self._backoffs = 0
        self._last_contact = time.monotonic()
        self._last_relist: float | None = None
        self._caught_up: float | None = None
        self._caught_up_wall: str | None = None
        self._last_conflict_retry = 0.0
        self._started = time.monotonic()

    # -- status ----------------------------------------------------------------------------
    def status(self) -> SyncerStatus:
        lag = 0.0
        if self._state != IN_SYNC or self._peer_revision > self._revision:
            lag = time.monotonic() - (self._caught_up or self._started)
        return SyncerStatus(
            self.peer, self.kind.kind, self._state, len(self._owned), self._revision,
            self._peer_revision, self._error, self._caught_up_wall, round(lag, 3),
            self._synced_once, self._failed_once, self._stale, self._events, self._errors,
            self._resyncs,
            tuple(heapq.nsmallest(MAX_REPORTED, (m for _, m in self._conflicts.values()))),
            self._invalid.first(), conflict_count=len(self._conflicts),
            invalid_count=len(self._invalid), backoffs=self._backoffs)

    def _set_state(self, state: str, error: str = "") -> None:
        if state != self._state or error != self._error:
            level = logging.WARNING if state == FAILED else logging.INFO
            log.log(level, "federation: peer %s %s: %s -> %s%s", self.peer, self.kind.kind,
                    self._state, state, f" ({error})" if error else "")
            self._state, self._error = state, error
            self._on_change()

    def _mark_caught_up(self) -> None:
        self._caught_up = time.monotonic()
        self._caught_up_wall = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        self._last_contact = self._caught_up

    # -- main loop -------------------------------------------------------------------------
    async def run(self) -> None:
        """Sync until cancelled (then close the peer client); never raises anything else."""
        try:
            await self._loop()
        finally:
            await asyncio.shield(self.client.aclose())

    async def _loop(self) -> None:
        backoff = self.options.backoff_initial
        relist, verified = True, False
        while True:
            watching: float | None = None       # when the current watch started
            try:
                if not verified:
                    await self._verify_identity()
                    verified = True
                if relist:
                    await self._relist()
                    relist = False
                watching = time.monotonic()
                await self._watch()
                lasted = time.monotonic() - watching
                if lasted < self.options.healthy_after:
                    raise PeerUnreachable(f"the peer ended the watch of {self.kind.plural} "
                                          f"after {lasted:.1f}s")
                backoff = self.options.backoff_initial
            except PeerExpired as err:
                log.info("federation: peer %s %s: %s; relisting", self.peer, self.kind.kind, err)
                relist = True
                if self._last_relist is not None \
                        and time.monotonic() - self._last_relist < self.options.healthy_after:
                    await self._back_off(backoff)
                    backoff = min(backoff * 2, self.options.backoff_max)
                else:
                    backoff = self.options.backoff_initial
            except Exception as err:  # noqa: BLE001 - one peer's trouble must not end its syncer
                if watching is not None \
                        and time.monotonic() - watching >= self.options.healthy_after:
                    backoff = self.options.backoff_initial
                self._errors += 1
                self._failed_once = True
                self._set_state(FAILED, self._describe(err))
                try:
                    relist = await self._expire_if_stale() or relist
                except ApiError as expire_err:
                    log.warning("federation: peer %s %s: cannot expire copies: %s", self.peer,
                                self.kind.kind, expire_err.message)
                await self._back_off(backoff)
                backoff = min(backoff * 2, self.options.backoff_max)
                await self.client.reconnect()
                verified = False

    async def _back_off(self, backoff: float) -> None:
        self._backoffs += 1
        await asyncio.sleep(self._delay(backoff))

    def _describe(self, err: Exception) -> str:
        if isinstance(err, PeerError):
            return str(err)
        if isinstance(err, ApiError):
            return f"local store: {err.message}"
        log.error("federation: peer %s %s: unexpected error", self.peer, self.kind.kind,
                  exc_info=err)
        return f"internal error: {type(err).__name__}: {err}"

    def _delay(self, backoff: float) -> float:
        delay = backoff * random.uniform(0.8, 1.2)
        ttl = self.options.stale_ttl
        if ttl and not self._stale:
            remaining = ttl - (time.monotonic() - self._last_contact)
            delay = min(delay, max(remaining, 0.05))
        return delay

    async def _verify_identity(self) -> None:
        name = await self.client.cluster_name()
        if name != self.peer:
            raise WrongCluster(f"the apiserver at {self.client.config.api_server} is cluster "
                               f"{name!r}, not {self.peer!r}")

    async def _expire_if_stale(self) -> bool:
        """Delete the copies once the peer has been out of touch for staleTTL; True when it
        did (the next contact must relist)."""
        ttl = self.options.stale_ttl
        if not ttl or self._stale or time.monotonic() - self._last_contact < ttl:
            return False
        removed = await self.writer.remove_all()
        self._owned.clear()
        self._conflicts.clear()
        self._stale = True
        log.warning("federation: peer %s %s: unreachable for more than %gs (staleTTL); "
                    "removed %d copies", self.peer, self.kind.kind, ttl, removed)
        self._on_change()
        return True

    # -- list ------------------------------------------------------------------------------
    def _wanted(self, obj: dict) -> bool:
        meta = obj["metadata"]
        if self.options.namespaces and self.kind.namespaced \
                and meta.get("namespace") not in self.options.namespaces:
            return False
        return self.options.selector.matches(meta.get("labels") or {})

    def _import(self, obj: object) -> tuple[Key | None, dict | None]:
        """(key, copy) for a wanted object; (key, None) for one to remove; (None, None) for
        garbage (recorded as invalid)."""
        if not isinstance(obj, dict):
            self._invalid.add("?", "the peer sent an item that is not an object")
            return None, None
        try:
            key, copy = make_copy(self.peer, self.kind, obj)
        except ImportRejected as err:
            self._invalid.add(str(err), str(err))
            return None, None
        return (key, copy) if self._wanted(obj) else (key, None)

    async def _relist(self) -> None:
        if self._synced_once:
            self._resyncs += 1
        if self._state != FAILED:
            self._set_state(SYNCING)
        listed = await self.client.list(self.kind.plural)
        self._last_contact = time.monotonic()
        self._peer_revision = max(self._peer_revision, listed.revision)
        self._set_state(SYNCING)
        self._invalid.clear()
        desired: dict[Key, dict] = {}
        for item in listed.items:
            key, copy = self._import(item)
            if key is not None and copy is not None:
                desired[key] = copy
        await self.writer.store.cache.sync()     # compare with every write etcd acknowledged
        existing = self.writer.owned()
        self._owned = set(existing)
        self._conflicts = {k: v for k, v in self._conflicts.items() if k in desired}
        changes: list[tuple[Key, dict | None]] = list(desired.items())
        changes += [(k, None) for k in existing if k not in desired]
        await self._apply(changes)
        self._revision = listed.revision
        self._stale = False
        self._synced_once = True
        self._last_relist = time.monotonic()
        self._mark_caught_up()
        self._set_state(IN_SYNC)

    # -- watch -----------------------------------------------------------------------------
    async def _watch(self) -> None:
        """Follow the peer's watch until it ends (normal end: return)."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=4 * BATCH)
        reader = asyncio.create_task(self._read(queue), name=f"watch-{self.peer}-{self.kind.kind}")
        try:
            while True:
                batch = [await queue.get()]
                while not queue.empty() and len(batch) < BATCH:
                    batch.append(queue.get_nowait())
                end = next((i for i, ev in enumerate(batch) if not isinstance(ev, PeerEvent)),
                           None)
                events = batch if end is None else batch[:end]
                if events:
                    await self._apply_events(events, queue.empty() and end is None)
                if end is not None:
                    if batch[end] is None:
                        return
                    raise batch[end]
                await self._retry_conflicts()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read(self, queue: asyncio.Queue) -> None:
        """Put events, then None at a normal end or whatever exception ended the watch (so the
        consumer never waits for a reader that is gone)."""
        try:
            async for event in self.client.watch(self.kind.plural, self._revision):
                await queue.put(event)
        except Exception as err:  # noqa: BLE001 - handed to the consumer, which reports it
            await queue.put(err)
            return
        await queue.put(None)

    async def _apply_events(self, events: list[PeerEvent], idle: bool) -> None:
        self._last_contact = time.monotonic()
        latest: dict[Key, dict | None] = {}
        for ev in events:
            self._peer_revision = max(self._peer_revision, ev.revision)
            if ev.type == "BOOKMARK":
                continue
            key, copy = self._import(ev.object)
            if key is None:
                continue
            latest[key] = None if ev.type == "DELETED" else copy
            if ev.type == "DELETED":
                self._invalid.discard(key)
        await self._apply(list(latest.items()))
        self._events += sum(ev.type != "BOOKMARK" for ev in events)
        self._revision = max(self._revision, events[-1].revision)
        if idle:
            self._mark_caught_up()
        if self._state != IN_SYNC:
            self._set_state(IN_SYNC)
        elif any(ev.type != "BOOKMARK" for ev in events):
            self._on_change()

    async def _apply(self, changes: list[tuple[Key, dict | None]]) -> None:
        """Write (copy) or remove (None) each key; copies of names not present locally are
        created in batches, the rest one by one; concurrency is bounded by the writer. Raises
        the first write's ApiError once every other write of the batch has ended."""
        if not changes:
            return
        cache = self.writer.store.cache
        new = [(k, c) for k, c in changes
               if c is not None and cache.entry(self.kind, k[1], k[0]) is None]
        fresh = {k for k, _ in new}
        rest = [(k, c) for k, c in changes if k not in fresh]
        batches = [new[i:i + CREATE_BATCH] for i in range(0, len(new), CREATE_BATCH)]
        done = await run_all(
            [self.writer.create_many(batch) for batch in batches]
            + [self.writer.upsert(k, c) if c is not None else self.writer.remove(k)
               for k, c in rest])
        outcomes = [o for batch in done[:len(batches)] for o in batch] + list(done[len(batches):])
        for (key, copy), outcome in zip(new + rest, outcomes):
            self._record(key, copy, outcome)

    def _record(self, key: Key, copy: dict | None, outcome: Outcome) -> None:
        if outcome.result == "conflict" and copy is not None:
            self._conflicts[key] = (copy, outcome.message)
            self._owned.discard(key)
            return
        self._conflicts.pop(key, None)
        if outcome.result == "invalid":
            self._invalid.add(key, f"{key[1]}: {outcome.message}")
            return
        self._invalid.discard(key)
        if copy is None:
            self._owned.discard(key)
        elif outcome.result in ("written", "unchanged"):
            self._owned.add(key)

    async def _retry_conflicts(self) -> None:
        now = time.monotonic()
        if not self._conflicts or now - self._last_conflict_retry < RETRY_CONFLICTS:
            return
        self._last_conflict_retry = now
        before = set(self._conflicts)
        await self._apply([(k, c) for k, (c, _) in self._conflicts.items()])
        if set(self._conflicts) != before:
            self._on_change()
