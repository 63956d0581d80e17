"""``PeerSyncer``: one per (peer cluster, kind). List (in pages), then watch from the list's
revision, and mirror into a sink: the local store (``CopyWriter``, ``EndpointWriter``) or, for
the peer's profiles, memory (``ProfileIndex``).

Contract:
* After a successful (re)list the local copies of this (peer, kind) are exactly the peer's
  matching, valid objects that fit the peer's quota (mark and sweep). Pages are written as they
  arrive, so a syncer holds one page and the names of its copies, whatever the peer's size. A
  restart of either side relists and converges without duplicates, and writes nothing for
  copies that are already up to date.
* Watch events are applied in order; a burst is coalesced by object and written with bounded
  concurrency (a semaphore shared by all syncers).
* (Re)connecting goes through the peer's ``RemoteCluster``: credentials re-read and identity
  checked once for all the peer's syncers. A new datastore (clusterGUID) starts the revisions
  over: relist from zero. A change of what the peer exports to us (its FederationExport
  rules) relists.
* The sink may ask for a relist (an endpoint's profile changed): the watch stops waiting and
  the syncer relists.
* On any failure (of the peer, the local store, or unexpected): state Failed with the error and
  its reason (``InsufficientStorage`` when the local etcd is full: retried, never an invalid
  object), copies kept, reconnect with capped exponential backoff, resuming the watch from the
  last applied revision; a 410 (also on a continue token in the middle of a list) relists. A
  watch that the peer ends within ``healthy_after`` seconds counts as a failure, and a 410 that
  soon after a relist waits out the backoff before the next relist, so a broken peer cannot
  drive a tight loop; the backoff starts over once a watch has stayed up ``healthy_after``
  seconds. Every wait is counted (``backoffs``).
* Out of touch with the peer (no page, event or bookmark) for ``stale_after`` seconds: Stale
  (copies kept); ``staleTTL`` > 0 deletes them once that long.
* Objects the local store refuses (invalid, too large) and objects with a net outside
  ``allowedNets`` are never written; a previously mirrored good version is kept. A local object
  that owns a copy's name wins; both show in the status (counts, and the first MAX_REPORTED
  names).
* Quota: a copy that would take the peer past ``maxObjects`` or ``maxBytes`` is not written;
  the copies held are kept, and updates that fit and deletions still apply. Refused copies are
  counted (QuotaExceeded); once there is room again, a relist (at most every QUOTA_RETRY
  seconds) brings them in.
* ``objects`` counts the copies held: every HELD_CHECK seconds the syncer looks that they are
  still its own; one deleted or taken by a local object behind its back makes it relist (which
  restores the copy, or shows the conflict).
* Each batch of writes ends with its last write: when one fails, the others are cancelled and
  awaited before the syncer retries.
* A syncer never raises out of ``run`` except CancelledError.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime
import heapq
import logging
import random
import time
from dataclasses import dataclass
from typing import AsyncIterator, Callable, TypeVar

from calicomodel.catalog import Kind
from calicomodel.errors import ApiError
from calicomodel.formats import IPNetwork
from calicomodel.selectors import Selector

from .copies import ImportRejected, Key, Outcome, Sink, copy_bytes, net_outside, run_all, show_key
from .peer import PeerError, PeerEvent, PeerExpired, PeerUnreachable
from .remote import Budget, RemoteCluster

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECTING, SYNCING, IN_SYNC, FAILED = "Connecting", "Syncing", "InSync", "Failed"
STATES = (CONNECTING, SYNCING, IN_SYNC, FAILED)
UNREACHABLE, EXPIRED = "Unreachable", "StaleTTLExpired"     # why copies are stale
MAX_REPORTED = 20          # conflicts / invalid objects named in the status
MAX_TRACKED = 10_000       # invalid objects remembered by name (beyond: only counted)
CREATE_BATCH = 256   # new copies written per store.create_many call (initial sync)
BATCH = 1000               # watch events coalesced into one batch at most
RETRY_CONFLICTS = 5.0      # seconds between retries of names a local object holds
HELD_CHECK = 5.0           # seconds between checks that the copies held are still held
QUOTA_RETRY = 30.0         # seconds at least between relists for copies refused over quota


@dataclass(frozen=True)
class SyncOptions:
    """What to import from the peer, and how long to keep copies of an unreachable peer."""

    selector: Selector
    namespaces: frozenset[str] = frozenset()
    allowed_nets: tuple[IPNetwork, ...] = ()     # empty: every net
    stale_ttl: float = 0.0           # seconds; 0 keeps copies forever
    stale_after: float = 30.0        # out of touch this long: Stale
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    healthy_after: float = 5.0       # a watch up this long was healthy (resets the backoff)


@dataclass(frozen=True)
class SyncerStatus:
    """A snapshot of one syncer, for the RCC status, readiness and metrics."""

    peer: str
    kind: str
    copies: bool                    # what it holds are copies (not the peer's profiles)
    state: str
    reason: str                     # why it failed (an error class or API reason), else state
    objects: int                    # copies held
    bytes: int                      # their size (copies.copy_bytes)
    revision: int                   # the peer revision mirrored so far
    peer_revision: int              # the newest peer revision seen
    last_error: str
    last_sync_time: str | None      # when the copies were last known to equal the peer's
    lag_seconds: float
    synced_once: bool
    failed_once: bool
    stale: str                      # "", UNREACHABLE or EXPIRED
    events_applied: int
    sync_errors: int
    full_resyncs: int
    backoffs: int                   # waits before a reconnect or relist
    conflicts: tuple[str, ...]      # the first MAX_REPORTED ...
    invalid: tuple[str, ...]
    over_quota: tuple[str, ...]
    conflict_count: int             # ... of how many
    invalid_count: int
    over_quota_count: int

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


class Refused(Exception):
    """A peer object that is not mirrored (already recorded as invalid); ``key`` when known."""

    def __init__(self, key: Key | None) -> None:
        super().__init__(key)
        self.key = key


class RelistNeeded(Exception):
    """The syncer itself wants a relist (not a failure)."""


class PeerSyncer:
    """``budget``: what the copies count against (default: the peer's quota)."""

    def __init__(self, kind: Kind, remote: RemoteCluster, writer: Sink,
                 options: SyncOptions, *, on_change: Callable[[], None] = lambda: None,
                 budget: Budget | None = None) -> None:
        self.peer, self.kind, self.remote, self.writer = remote.name, kind, remote, writer
        self.options = options
        self.budget = budget or remote.budget
        self._on_change = on_change
        writer.wake = self._wake
        self._queue: asyncio.Queue | None = None      # the running watch's
        self._scope = remote.scope
        self._state, self._reason, self._error = CONNECTING, CONNECTING, ""
        self._epoch = remote.epoch
        self._revision = 0
        self._peer_revision = 0
        self._sizes: dict[Key, int] = {}       # the copies held, and their sizes
        self._bytes = 0
        self._conflicts: dict[Key, tuple[dict, str]] = {}
        self._invalid = Rejections()
        self._over_quota = Rejections()
        self._quota_min: int | None = None     # the smallest copy refused over quota
        self._synced_once = self._failed_once = self._expired = False
        self._events = self._errors = self._resyncs = self._backoffs = 0
        self._started = self._last_contact = self._held_checked = time.monotonic()
        self._last_relist: float | None = None
        self._caught_up: float | None = None
        self._caught_up_wall: str | None = None
        self._last_conflict_retry = 0.0

    # -- status ----------------------------------------------------------------------------
    def status(self) -> SyncerStatus:
        lag = 0.0
        if self._state != IN_SYNC or self._peer_revision > self._revision:
            lag = time.monotonic() - (self._caught_up or self._started)
        return SyncerStatus(
            peer=self.peer, kind=self.kind.kind, copies=self.writer.copies,
            state=self._state, reason=self._reason, objects=len(self._sizes), bytes=self._bytes,
            revision=self._revision, peer_revision=self._peer_revision, last_error=self._error,
            last_sync_time=self._caught_up_wall, lag_seconds=round(lag, 3),
            synced_once=self._synced_once, failed_once=self._failed_once, stale=self._stale(),
            events_applied=self._events, sync_errors=self._errors, full_resyncs=self._resyncs,
            backoffs=self._backoffs,
            conflicts=tuple(heapq.nsmallest(MAX_REPORTED,
                                            (m for _, m in self._conflicts.values()))),
            invalid=self._invalid.first(), over_quota=self._over_quota.first(),
            conflict_count=len(self._conflicts), invalid_count=len(self._invalid),
            over_quota_count=len(self._over_quota))

    def _stale(self) -> str:
        if self._expired:
            return EXPIRED
        if time.monotonic() - self._last_contact > self.options.stale_after:
            return UNREACHABLE
        return ""

    def stale_at(self) -> float | None:
        """When (monotonic) the copies turn stale unless the peer is heard from, or None when
        they are already: time alone changes the status then, so its writer wakes up."""
        return None if self._stale() else self._last_contact + self.options.stale_after

    def _set_state(self, state: str, error: str = "", reason: str = "") -> None:
        if state != self._state or error != self._error:
            level = logging.WARNING if state == FAILED else logging.INFO
            log.log(level, "federation: peer %s %s: %s -> %s%s", self.peer, self.kind.kind,
                    self._state, state, f" ({error})" if error else "")
            self._state, self._error, self._reason = state, error, reason or state
            self._on_change()

    def _mark_caught_up(self, when: float) -> None:
        """The copies equal the peer's as of monotonic time ``when``."""
        self._caught_up = when
        wall = datetime.datetime.now(datetime.timezone.utc) \
            - datetime.timedelta(seconds=time.monotonic() - when)
        self._caught_up_wall = wall.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _hold(self, key: Key, size: int | None) -> None:
        """Record that the copy at ``key`` is held with ``size`` bytes (None: not held), in
        this syncer's tally and the peer's budget."""
        old = self._sizes.pop(key, None)
        if size is not None:
            self._sizes[key] = size
        self._bytes += (size or 0) - (old or 0)
        self.budget.take((size is not None) - (old is not None), (size or 0) - (old or 0))

    # -- main loop -------------------------------------------------------------------------
    async def run(self) -> None:
        """Sync until cancelled; never raises anything else."""
        backoff = self.options.backoff_initial
        relist, connected, lost_at = True, False, 0.0   # lost_at: when the peer was last lost
        while True:
            watching: float | None = None       # when the current watch started
            try:
                if not connected:
                    epoch = await self.remote.connect(after=lost_at)
                    connected = True
                    if epoch != self._epoch:
                        self._epoch, self._revision, self._peer_revision = epoch, 0, 0
                        relist = True
                    if self.remote.scope != self._scope:
                        self._scope, relist = self.remote.scope, True
                if relist:
                    await self._relist()
                    relist = False
                watching = time.monotonic()
                await self._watch()
                connected, lost_at = False, time.monotonic()    # who answers next time?
                lasted = lost_at - watching
                if lasted < self.options.healthy_after:
                    raise PeerUnreachable(f"the peer ended the watch of {self.kind.plural} "
                                          f"after {lasted:.1f}s")
                backoff = self.options.backoff_initial
            except RelistNeeded as why:
                log.info("federation: peer %s %s: %s; relisting", self.peer, self.kind.kind, why)
                relist = True
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
                lost_at = time.monotonic()
                self._set_state(FAILED, self._describe(err), _reason(err))
                try:
                    relist = await self._expire_if_stale() or relist
                except ApiError as expire_err:
                    log.warning("federation: peer %s %s: cannot expire copies: %s", self.peer,
                                self.kind.kind, expire_err.message)
                await self._back_off(backoff)
                backoff = min(backoff * 2, self.options.backoff_max)
                connected = False

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
        """The backoff, jittered, but no later than the moment staleTTL expires the copies."""
        delay = backoff * random.uniform(0.8, 1.2)
        ttl = self.options.stale_ttl
        if ttl and not self._expired:
            remaining = ttl - (time.monotonic() - self._last_contact)
            delay = min(delay, max(remaining, 0.05))
        return delay

    async def _expire_if_stale(self) -> bool:
        """Delete the copies once the peer has been out of touch for staleTTL; True when it
        did (the next contact must relist)."""
        ttl = self.options.stale_ttl
        if not ttl or self._expired or time.monotonic() - self._last_contact < ttl:
            return False
        removed = await self.writer.remove_all()
        for key in list(self._sizes):
            self._hold(key, None)
        self._conflicts.clear()
        self._expired = True
        log.warning("federation: peer %s %s: unreachable for more than %gs (staleTTL); "
                    "removed %d copies", self.peer, self.kind.kind, ttl, removed)
        self._on_change()
        return True

    # -- what is imported ------------------------------------------------------------------
    def _wanted(self, obj: dict, copy: dict) -> bool:
        """In the RCC's namespaces, and selected by its selector on the copy's labels."""
        if self.options.namespaces and self.kind.namespaced \
                and obj["metadata"].get("namespace") not in self.options.namespaces:
            return False
        return self.options.selector.matches(copy["metadata"].get("labels") or {})

    def _import(self, obj: object, *, deleted: bool = False) -> tuple[Key, dict | None]:
        """(key, copy) for a wanted object; (key, None) for one whose copy must go. Raises
        Refused (after recording it as invalid) for one that cannot be mirrored."""
        if not isinstance(obj, dict):
            self._invalid.add("?", "the peer sent an item that is not an object")
            raise Refused(None)
        try:
            key, copy = self.writer.make(obj)
        except ImportRejected as err:
            self._invalid.add(str(err), str(err))
            raise Refused(None) from None
        if deleted or not self._wanted(obj, copy):
            return key, None
        outside = net_outside(copy, self.options.allowed_nets)
        if outside is not None:
            self._invalid.add(key, f"{key[1]}: net {outside} is outside syncOptions.allowedNets")
            raise Refused(key)
        return key, copy

    # -- list ------------------------------------------------------------------------------
    async def _relist(self) -> None:
        """Mirror the peer's list page by page, then delete the copies it no longer has."""
        await self.writer.ready()
        if self._synced_once:
            self._resyncs += 1
        if self._state != FAILED:
            self._set_state(SYNCING)
        self._invalid.clear()
        self._over_quota.clear()
        self._quota_min = None
        self._conflicts.clear()
        await self.writer.sync()     # compare with every write etcd acknowledged
        held = {k: copy_bytes(obj) for k, obj in self.writer.owned().items()}
        for key in [k for k in self._sizes if k not in held]:
            self._hold(key, None)
        for key, size in held.items():
            self._hold(key, size)
        listed: set[Key] = set()        # of the copies held: those the peer still has
        revision: int | None = None
        async with contextlib.aclosing(_ahead(self.remote.client.pages(self.kind.plural))) \
                as pages:
            async for page in pages:
                self._last_contact = time.monotonic()
                if revision is None:
                    revision = page.revision
                    self._set_state(SYNCING)
                changes: list[tuple[Key, dict | None]] = []
                for item in page.items:
                    try:
                        key, copy = self._import(item)
                    except Refused as refused:       # a held copy of it stays
                        if refused.key in self._sizes:
                            listed.add(refused.key)
                        continue
                    if copy is not None:
                        changes.append((key, copy))
                await self._apply(changes)
                listed.update(k for k, _ in changes if k in self._sizes)
        await self._apply([(k, None) for k in list(self._sizes) if k not in listed])
        self._revision = self._peer_revision = revision or 0
        self.writer.synced()
        self._expired = False
        self._synced_once = True
        self._last_relist = self._held_checked = time.monotonic()
        self._mark_caught_up(self._last_relist)
        self._set_state(IN_SYNC)
        self._on_change()

    # -- watch -----------------------------------------------------------------------------
    async def _watch(self) -> None:
        """Follow the peer's watch until it ends (normal end: return)."""
        self._check_relist()         # the sink may have asked while the syncer relisted
        self._queue = queue = asyncio.Queue(maxsize=4 * BATCH)
        reader = asyncio.create_task(self._read(queue), name=f"watch-{self.peer}-{self.kind.kind}")
        try:
            while True:
                batch = [await queue.get()]
                while not queue.empty() and len(batch) < BATCH:
                    batch.append(queue.get_nowait())
                taken, drained = time.monotonic(), queue.empty()
                end = next((i for i, ev in enumerate(batch) if not isinstance(ev, PeerEvent)),
                           None)
                events = batch if end is None else batch[:end]
                if events:
                    await self._apply_events(events, taken if drained and end is None else None)
                if end is not None:
                    if batch[end] is None:
                        return
                    raise batch[end]
                await self._retry_conflicts()
                self._check_relist()
        finally:
            self._queue = None
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    def _wake(self) -> None:
        """The sink wants a relist: the running watch stops waiting for the peer (a full
        queue is busy anyway; ``_check_relist`` then sees it after the batch)."""
        if self._queue is not None and not self._queue.full():
            self._queue.put_nowait(RelistNeeded(self.writer.relist_reason() or "asked"))

    async def _read(self, queue: asyncio.Queue) -> None:
        """Put events, then None at a normal end or whatever exception ended the watch (so the
        consumer never waits for a reader that is gone)."""
        try:
            async for event in self.remote.client.watch(self.kind.plural, self._revision):
                await queue.put(event)
        except Exception as err:  # noqa: BLE001 - handed to the consumer, which reports it
            await queue.put(err)
            return
        await queue.put(None)

    async def _apply_events(self, events: list[PeerEvent], caught_up: float | None) -> None:
        """Apply a batch; ``caught_up``: when the batch was taken, if it held every event
        received by then (so, once applied, the copies equal the peer's as of that moment)."""
        self._last_contact = time.monotonic()
        latest: dict[Key, dict | None] = {}
        for ev in events:
            self._peer_revision = max(self._peer_revision, ev.revision)
            if ev.type == "BOOKMARK":
                continue
            try:
                key, copy = self._import(ev.object, deleted=ev.type == "DELETED")
            except Refused:
                continue
            latest[key] = copy
            if copy is None:
                self._invalid.discard(key)
        await self._apply(list(latest.items()))
        self._events += sum(ev.type != "BOOKMARK" for ev in events)
        self._revision = max(self._revision, events[-1].revision)
        if caught_up is not None:
            self._mark_caught_up(caught_up)
        if self._state != IN_SYNC:
            self._set_state(IN_SYNC)
        elif latest:
            self._on_change()

    def _check_relist(self) -> None:
        """Raise RelistNeeded when the sink asks for it, when copies held were lost behind the
        syncer's back (checked every HELD_CHECK seconds), or when copies refused over quota may
        fit now."""
        why = self.writer.relist_reason()
        if why:
            raise RelistNeeded(why)
        now = time.monotonic()
        if now - self._held_checked >= HELD_CHECK:
            self._held_checked = now
            lost = [k for k in self._sizes if not self.writer.holds(k)]
            for key in lost:
                self._hold(key, None)
            if lost:
                self._on_change()
                raise RelistNeeded(f"{len(lost)} copies were deleted or taken by local objects")
        if self._over_quota and self._quota_min is not None \
                and now - (self._last_relist or 0) >= QUOTA_RETRY \
                and self.budget.fits(1, self._quota_min) is None:
            raise RelistNeeded("the quota has room for copies refused before")

    # -- writes ----------------------------------------------------------------------------
    async def _apply(self, changes: list[tuple[Key, dict | None]]) -> None:
        """Write (copy) or remove (None) each key, within the peer's quota: the budget is
        taken before the writes (so the peer's syncers together never pass it) and settled
        by what was written. Raises the first write's ApiError once every other write of the
        batch has ended."""
        budget = self.budget
        writes: list[tuple[Key, dict | None, int, tuple[int, int]]] = []
        for key, copy in changes:
            if copy is None:
                self._over_quota.discard(key)
                writes.append((key, None, 0, (0, 0)))
                continue
            size, held = copy_bytes(copy), self._sizes.get(key)
            more = (int(held is None), size - (held or 0))
            why = budget.fits(*more)
            if why is not None:
                self._over_quota.add(key, f"{show_key(key)}: {why}")
                self._quota_min = min(self._quota_min or size, size)
                continue
            budget.take(*more)
            writes.append((key, copy, size, more))
        try:
            outcomes = await self._write([(k, c) for k, c, _, _ in writes])
        finally:
            for _, _, _, (objects, size) in writes:
                budget.take(-objects, -size)
        for (key, copy, size, _), outcome in zip(writes, outcomes):
            self._record(key, copy, size, outcome)

    async def _write(self, changes: list[tuple[Key, dict | None]]) -> list[Outcome]:
        """The outcome of each change, in order: copies of names not present locally are
        created in batches, the rest one by one; concurrency is bounded by the writer."""
        if not changes:
            return []
        new = [i for i, (k, c) in enumerate(changes)
               if c is not None and not self.writer.present(k)]
        fresh = set(new)
        rest = [i for i in range(len(changes)) if i not in fresh]
        batches = [new[i:i + CREATE_BATCH] for i in range(0, len(new), CREATE_BATCH)]
        done = await run_all(
            [self.writer.create_many([changes[i] for i in batch]) for batch in batches]
            + [self.writer.upsert(k, c) if c is not None else self.writer.remove(k)
               for k, c in (changes[i] for i in rest)])
        outcomes: list[Outcome] = [Outcome("unchanged")] * len(changes)
        for index, outcome in zip([i for batch in batches for i in batch] + rest,
                                  [o for batch in done[:len(batches)] for o in batch]
                                  + list(done[len(batches):])):
            outcomes[index] = outcome
        return outcomes

    def _record(self, key: Key, copy: dict | None, size: int, outcome: Outcome) -> None:
        if outcome.result == "conflict" and copy is not None:
            self._conflicts[key] = (copy, outcome.message)
            self._hold(key, None)
            return
        self._conflicts.pop(key, None)
        if outcome.result == "invalid":
            self._invalid.add(key, f"{key[1]}: {outcome.message}")
            return
        self._invalid.discard(key)
        if copy is None:
            self._hold(key, None)
        elif outcome.result in ("written", "unchanged"):
            self._hold(key, size)
            self._over_quota.discard(key)

    async def _retry_conflicts(self) -> None:
        now = time.monotonic()
        if not self._conflicts or now - self._last_conflict_retry < RETRY_CONFLICTS:
            return
        self._last_conflict_retry = now
        before = set(self._conflicts)
        await self._apply([(k, c) for k, (c, _) in self._conflicts.items()])
        if set(self._conflicts) != before:
            self._on_change()


async def _ahead(pages: AsyncIterator[T]) -> AsyncIterator[T]:
    """``pages``, the next one read while the caller writes the current one (so a syncer holds
    two pages at most)."""
    following = asyncio.ensure_future(anext(pages, None))
    try:
        while (page := await following) is not None:
            following = asyncio.ensure_future(anext(pages, None))
            yield page
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
        await pages.aclose()  # type: ignore[attr-defined]


def _reason(err: Exception) -> str:
    """A failure's reason for the Ready condition: the API reason of a local-store error
    (``InsufficientStorage``, ``ServiceUnavailable``, …), the class of a peer error."""
    if isinstance(err, ApiError):
        return err.reason
    if isinstance(err, PeerError):
        return type(err).__name__
    return "InternalError"

