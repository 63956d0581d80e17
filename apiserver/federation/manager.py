"""``FederationManager``: RemoteClusterConfiguration objects → running ``PeerSyncer``s.

It follows the RCC kind in the watch cache and, at run time, starts, restarts (on a spec change)
and stops the syncers of each peer: one per (peer, kind) listed in ``syncOptions.kinds`` (the
catalog's mirrored kinds), plus one for the peer's profiles when endpoints are mirrored (their
labels, held in memory: endpoints.py), sharing one ``RemoteCluster`` (one connection pool, one
identity check, one quota).
Removing a peer (or a kind from its list) deletes its copies in the background — local work
only, so an unreachable peer never blocks it. Copies whose peer (or kind) is not configured are
swept the same way when the manager starts and every ``sweep_interval`` seconds, which also
catches a copy whose write was still in flight when its syncer was stopped. A cleanup of a peer
that is added again is cancelled and awaited before its new syncers start. It writes each RCC's
``status`` (throttled: on a change of state, objects, error or conditions, at most every
``status_interval`` seconds, and the moving figures at most every ``status_refresh`` seconds).
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Sequence

from calicomodel.catalog import API_VERSION
from calicomodel.errors import ApiError, NotFound
from calicomodel.selectors import parse

from ..resources.store import ResourceStore
from .copies import CONTROLLER, CopyWriter, endpoint_infix, origin_kind, owner
from .endpoints import EndpointWriter, ProfileIndex
from .peer import Identity, Limits, PeerClient
from .remote import Budget, RemoteCluster
from .spec import RCC, PeerSpec, peer_spec
from .syncer import (CONNECTING, EXPIRED, FAILED, IN_SYNC, SYNCING, UNREACHABLE, PeerSyncer,
                     SyncerStatus, SyncOptions)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManagerOptions:
    limits: Limits = field(default_factory=Limits)
    max_writes: int = 16              # copy writes in flight, all peers together (measured:
                                      # more only adds event-loop contention)
    status_interval: float = 1.0
    status_refresh: float = 15.0
    backoff_max: float = 10.0
    healthy_after: float = 5.0        # a peer watch up this long resets the syncer's backoff
    stale_after: float = 30.0         # a peer out of touch this long is Stale (copies kept)
    sweep_interval: float = 30.0      # how often copies of unconfigured peers are looked for


class PeerRun:
    """The running syncers of one peer, what they share, and the task that writes its RCC
    status."""

    def __init__(self, spec: PeerSpec) -> None:
        self.spec = spec
        self.remote: RemoteCluster | None = None
        self.syncers: list[PeerSyncer] = []
        self.dirty = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    def statuses(self) -> list[SyncerStatus]:
        return [s.status() for s in self.syncers]

    def settled(self) -> bool:
        """Synced once or failed (for readiness)."""
        return bool(self.spec.error) or all(s.synced_once or s.failed_once
                                            for s in self.statuses())

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.remote is not None:
            await asyncio.shield(self.remote.aclose())


class FederationManager:
    def __init__(self, store: ResourceStore, *, cluster_name: str, credentials_dir: str,
                 options: ManagerOptions | None = None) -> None:
        self.store, self.cluster_name = store, cluster_name
        self.credentials_dir = credentials_dir
        self.options = options or ManagerOptions()
        self.rcc = store.catalog.kind(RCC)
        self.cluster_information = store.catalog.kind("ClusterInformation")
        self.mirrored = tuple(k for k in store.catalog if k.mirrored_as)
        self.profile = store.catalog.kind("Profile")     # what endpoints inherit labels from
        self.peers: dict[str, PeerRun] = {}
        self.loaded = False
        self._writes = asyncio.Semaphore(self.options.max_writes)
        self._cleanups: dict[tuple[str, str], asyncio.Task] = {}
        self._desired: dict[str, PeerSpec] | None = None
        status_schema = store.validator.schema(RCC).get("properties", {}).get("status", {})
        self._status_fields = frozenset(status_schema.get("properties", {}))

    # -- views -------------------------------------------------------------------------------
    def statuses(self) -> list[SyncerStatus]:
        return [s for run in self.peers.values() for s in run.statuses()]

    def not_ready(self) -> str | None:
        if not self.loaded:
            return "federation: peers not loaded yet"
        waiting = sorted(n for n, run in self.peers.items() if not run.settled())
        return f"federation: waiting for the first sync of {', '.join(waiting)}" if waiting \
            else None

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Follow RCCs until cancelled; on cancel stop every syncer (copies are kept)."""
        cache = self.store.cache
        try:
            await cache.ready.wait()
            while True:
                sub = cache.subscribe(self.rcc, None, 0)
                try:
                    await self._reconcile()
                    while True:
                        try:
                            async with asyncio.timeout(self.options.sweep_interval):
                                change = await sub.get()
                        except TimeoutError:
                            self._sweep(self._desired or {})
                            continue
                        if change is None:
                            break
                        while not sub.queue.empty():
                            if sub.queue.get_nowait() is None:
                                break
                        await self._reconcile()
                finally:
                    cache.unsubscribe(sub)
        finally:
            await asyncio.gather(*(run.stop() for run in self.peers.values()))
            self.peers.clear()
            for task in self._cleanups.values():
                task.cancel()
            await asyncio.gather(*self._cleanups.values(), return_exceptions=True)
            self._cleanups.clear()
            self._desired = None
            self.loaded = False

    async def _reconcile(self) -> None:
        desired = {e.name: peer_spec(e.obj, self.cluster_name, self.mirrored)
                   for e in self.store.cache.entries(self.rcc)}
        if desired == self._desired:
            return
        self._desired = desired
        stopped: list[tuple[str, str]] = []
        for name in [n for n in self.peers if n not in desired]:
            log.info("federation: peer %s removed; deleting its copies", name)
            run = self.peers.pop(name)
            await run.stop()
            stopped += [(name, k) for k in run.spec.kinds]
        for name, spec in desired.items():
            run = self.peers.get(name)
            if run is not None and run.spec == spec:
                continue
            if run is not None:
                log.info("federation: peer %s changed; restarting its syncers", name)
                await self.peers.pop(name).stop()
                stopped += [(name, k) for k in run.spec.kinds if k not in spec.kinds]
            else:
                log.info("federation: peer %s added (%s)", name, spec.config.api_server)
            self.peers[name] = await self._start(spec)
        self._sweep(desired, stopped)
        self.loaded = True

    async def _start(self, spec: PeerSpec) -> PeerRun:
        name = spec.config.name
        run = PeerRun(spec)
        if not spec.error:
            options = SyncOptions(parse(spec.selector), spec.namespaces, spec.allowed_nets,
                                  spec.stale_ttl, stale_after=self.options.stale_after,
                                  backoff_max=self.options.backoff_max,
                                  healthy_after=self.options.healthy_after)
            cleanups = [t for t in (self._cleanups.pop((name, k), None) for k in spec.kinds)
                        if t is not None]
            for task in cleanups:
                task.cancel()
            await asyncio.gather(*cleanups, return_exceptions=True)
            kinds = [self.store.catalog.kind(k) for k in spec.kinds]
            index = ProfileIndex(self.profile) if any(map(endpoint_infix, kinds)) else None
            client = PeerClient(spec.config, self.options.limits, self.credentials_dir,
                                connections=len(kinds) + (index is not None) + 1)
            run.remote = RemoteCluster(name, client, Budget(spec.max_objects, spec.max_bytes),
                                       self._identity)
            if index is not None:
                everything = dataclasses.replace(options, selector=parse(""),
                                                 namespaces=frozenset(), allowed_nets=())
                run.syncers.append(PeerSyncer(self.profile, run.remote, index, everything,
                                              on_change=run.dirty.set,
                                              budget=Budget(spec.max_objects, spec.max_bytes)))
            for kind in kinds:
                writer = EndpointWriter(self.store, name, kind, self._writes, index) \
                    if index is not None and endpoint_infix(kind) \
                    else CopyWriter(self.store, name, kind, self._writes)
                run.syncers.append(PeerSyncer(kind, run.remote, writer, options,
                                              on_change=run.dirty.set))
            run.tasks = [asyncio.create_task(s.run(), name=f"sync-{name}-{s.kind.kind}")
                         for s in run.syncers]
        else:
            log.warning("federation: peer %s cannot be used: %s", name, spec.error)
        run.tasks.append(asyncio.create_task(self._write_status(run), name=f"status-{name}"))
        return run

    def _identity(self) -> Identity:
        """This cluster's identity (no GUID until its ClusterInformation exists)."""
        entry = self.store.cache.entry(self.cluster_information, "default")
        guid = (entry.obj.get("spec") or {}).get("clusterGUID") if entry is not None else None
        return Identity(self.cluster_name, guid if isinstance(guid, str) else None)

    def _sweep(self, desired: dict[str, PeerSpec],
               stopped: Sequence[tuple[str, str]] = ()) -> None:
        """Delete, in the background, copies of peers (or kinds) that are not configured:
        those the cache shows, and every (peer, kind) in ``stopped`` (whose last writes may
        not be in the cache yet)."""
        for kind in self.mirrored:
            kind_name = kind.kind
            target = self.store.catalog.kind(kind.mirrored_as)  # type: ignore[arg-type]
            owners = {owner(obj) for e in self.store.cache.entries(target)
                      if origin_kind(obj := e.obj) == kind_name} - {None}
            owners |= {peer for peer, k in stopped if k == kind_name}
            for peer in owners:
                spec = desired.get(peer)
                if spec is not None and kind_name in spec.kinds:
                    continue
                if (peer, kind_name) in self._cleanups:
                    continue
                writer = CopyWriter(self.store, peer, kind, self._writes)
                task = asyncio.create_task(self._cleanup(writer), name=f"cleanup-{peer}")
                self._cleanups[(peer, kind_name)] = task

    async def _cleanup(self, writer: CopyWriter) -> None:
        delay = 0.5
        try:
            while True:
                try:
                    removed = await writer.remove_all()
                    log.info("federation: deleted %d %s copies of peer %s", removed,
                             writer.kind.kind, writer.peer)
                    return
                except ApiError as err:
                    log.warning("federation: deleting copies of peer %s: %s; retrying",
                                writer.peer, err.message)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
        finally:
            if self._cleanups.get((writer.peer, writer.kind.kind)) is asyncio.current_task():
                del self._cleanups[(writer.peer, writer.kind.kind)]

    # -- status ------------------------------------------------------------------------------
    def peer_status(self, run: PeerRun, previous: dict) -> dict:
        """The RCC ``status`` for a peer (only the fields the RCC schema declares)."""
        statuses, spec = run.statuses(), run.spec
        errors = [f"{s.kind}: {s.last_error}" for s in statuses if s.last_error]
        if spec.error:
            state, reason, errors = FAILED, "InvalidConfiguration", [spec.error]
        elif not statuses:
            state = reason = IN_SYNC
        else:
            state = next(st for st in (FAILED, CONNECTING, SYNCING, IN_SYNC)
                         if any(s.state == st for s in statuses))
            reason = next(s.reason for s in statuses if s.state == state)
        copies = [s for s in statuses if s.copies]
        objects = sum(s.objects for s in copies)
        sync_times = [s.last_sync_time for s in statuses]
        conflicts = [c for s in statuses for c in s.conflicts]
        invalid = [i for s in statuses for i in s.invalid]
        over_quota = [q for s in statuses for q in s.over_quota]
        conflict_count = sum(s.conflict_count for s in statuses)
        invalid_count = sum(s.invalid_count for s in statuses)
        over_quota_count = sum(s.over_quota_count for s in statuses)
        expired = [s.kind for s in statuses if s.stale == EXPIRED]
        unreachable = [s.kind for s in statuses if s.stale == UNREACHABLE]
        if expired:
            stale = (EXPIRED, f"copies of {', '.join(expired)} removed after staleTTL")
        elif unreachable:
            kept = f"until staleTTL ({spec.stale_ttl:g}s)" if spec.stale_ttl else "(staleTTL 0s)"
            stale = (UNREACHABLE, f"no contact with the peer for more than "
                     f"{self.options.stale_after:g}s; copies of {', '.join(unreachable)} kept "
                     f"{kept}")
        else:
            stale = ("Fresh", "")
        old = {c.get("type"): c for c in previous.get("conditions") or ()}
        conditions = [
            _condition(old, "Ready", state == IN_SYNC, reason,
                       "; ".join(errors) or f"{objects} objects mirrored"),
            _condition(old, "NameConflict", bool(conflict_count), "LocalObjectWins"
                       if conflict_count else "NoConflict", _counted(conflict_count, conflicts,
                                                                     "name conflicts")),
            _condition(old, "InvalidObjects", bool(invalid_count), "Rejected"
                       if invalid_count else "AllValid", _counted(invalid_count, invalid,
                                                                  "objects rejected")),
            _condition(old, "QuotaExceeded", bool(over_quota_count), "QuotaExceeded"
                       if over_quota_count else "WithinQuota",
                       f"{over_quota_count} objects not imported (holding {objects} copies of "
                       f"{sum(s.bytes for s in copies)} bytes; maxObjects {spec.max_objects}, "
                       f"maxBytes {spec.max_bytes}), among them: " + "; ".join(over_quota)
                       if over_quota_count else ""),
            _condition(old, "Stale", bool(expired or unreachable), *stale),
        ]
        status = {
            "state": state,
            "objects": objects,
            "peerRevision": str(min((s.revision for s in statuses), default=0)),
            "lastError": "; ".join(errors)[:2048],
            "lastSyncTime": min(sync_times) if sync_times and None not in sync_times else None,
            "conditions": conditions,
            "lagSeconds": int(max((s.lag_seconds for s in statuses), default=0)),
            "lagRevisions": max((s.lag_revisions for s in statuses), default=0),
        }
        return {k: v for k, v in status.items() if k in self._status_fields and v is not None}

    async def _write_status(self, run: PeerRun) -> None:
        name = run.spec.config.name
        written_at = 0.0
        while True:
            wake = min((t for s in run.syncers if (t := s.stale_at()) is not None),
                       default=math.inf) - time.monotonic()
            try:
                async with asyncio.timeout(min(self.options.status_refresh, max(wake, 0) + 0.01)):
                    await run.dirty.wait()
            except TimeoutError:
                pass
            run.dirty.clear()
            entry = self.store.cache.entry(self.rcc, name)
            if entry is None:
                return
            previous = entry.obj.get("status") or {}
            status = self.peer_status(run, previous)
            moving = ("lastSyncTime", "peerRevision", "lagSeconds", "lagRevisions")
            steady = {k: v for k, v in status.items() if k not in moving}
            now = time.monotonic()
            changed = steady != {k: v for k, v in previous.items() if k not in moving}
            if status != previous and (changed or now - written_at >= self.options.status_refresh):
                body = {"apiVersion": API_VERSION, "kind": RCC, "metadata": {"name": name},
                        "status": status}
                try:
                    await self.store.replace(self.rcc, None, name, body, actor=CONTROLLER,
                                             subresource="status")
                    written_at = now
                except NotFound:
                    return
                except ApiError as err:
                    log.warning("federation: cannot write the status of peer %s: %s", name,
                                err.message)
            await asyncio.sleep(self.options.status_interval)


def _counted(count: int, named: list[str], what: str) -> str:
    """The names of a condition, led by the count when not all are named."""
    text = "; ".join(named)
    return text if count <= len(named) else f"{count} {what}, among them: {text}"


def _condition(old: dict, type_: str, true: bool, reason: str, message: str) -> dict:
    status = "True" if true else "False"
    previous = old.get(type_) or {}
    since = previous.get("lastTransitionTime") if previous.get("status") == status else None
    return {"type": type_, "status": status, "reason": reason, "message": message[:2048],
            "lastTransitionTime": since or datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%SZ")}


__all__ = ["FederationManager", "ManagerOptions"]
