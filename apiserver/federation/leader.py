"""etcd lease-based leader election: exactly one apiserver replica sharing an etcd runs the
federation syncers.

A candidate grants a lease of ``ttl`` seconds and tries to create ``key`` (absent → create, in
one transaction) attached to it; the key's value names the candidate's ``identity`` and lease.
The winner keeps the lease alive every ``ttl / 4`` seconds and runs ``lead()``; when it cannot
refresh the lease before ``ttl - margin`` has passed since the last refresh was *sent* (the
lease's expiry in etcd is at least ``ttl`` after that), it cancels ``lead()`` before the lease
can have expired in etcd and campaigns again. A loser polls the key every ``poll`` seconds, so
a dead leader is replaced within about ``ttl + poll`` seconds (at once when it stopped cleanly:
it revokes its lease).

A key that names this candidate's identity is this candidate's: with its current lease it has
won (a create that etcd applied although the call failed, ``Indeterminate``); with another lease
it is left over from an earlier run of the same replica (killed, then restarted), which it
takes over at once rather than following itself until that lease expires. ``identity`` must
therefore be unique among live replicas (the service uses ``<cluster>/<host>:<port>``).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from typing import Awaitable, Callable

from ..storage.interface import (KeyExists, KeyNotFound, KeyValue, RevisionConflict, Storage,
                                 StorageError)

log = logging.getLogger(__name__)
LEADER_KEY = "/calico/federation/v1/leader"


def claim(identity: str, lease: int) -> bytes:
    """The leader key's value for ``identity`` holding ``lease``."""
    return json.dumps({"identity": identity, "lease": lease}).encode()


def holder(current: KeyValue | None) -> tuple[str, int | None]:
    """(identity, lease) named by the leader key's value; lease None when the value is not a
    claim (an older format: the bare identity)."""
    if current is None:
        return "?", None
    text = current.value.decode(errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text, None
    if isinstance(data, dict) and isinstance(data.get("identity"), str) \
            and isinstance(data.get("lease"), int):
        return data["identity"], data["lease"]
    return text, None


class LeaderElection:
    def __init__(self, storage: Storage, *, identity: str | None = None, key: str = LEADER_KEY,
                 ttl: int = 8, poll: float = 1.0) -> None:
        self.storage, self.key, self.ttl, self.poll = storage, key, ttl, poll
        self.identity = identity or f"{socket.gethostname()}:{os.getpid()}"
        self.role: str | None = None   # None (undecided), "leader" or "follower"
        self.leader: str = ""
        self._problem = ""

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Campaign forever; run ``lead()`` while leader. Cancel to stop (the lease is revoked
        so a successor takes over at once)."""
        while True:
            sent = time.monotonic()
            try:
                lease = await self.storage.grant_lease(self.ttl)
            except StorageError as err:
                self._undecided(f"cannot grant a lease: {err}")
                await asyncio.sleep(self.poll)
                continue
            try:
                refreshed = await self._campaign(lease, sent)
                if refreshed is not None:
                    await self._lead(lease, lead, refreshed)
            finally:
                await asyncio.shield(self._revoke(lease))
            await asyncio.sleep(self.poll)

    async def _revoke(self, lease: int) -> None:
        try:
            await self.storage.revoke(lease)
        except StorageError:
            pass

    async def _campaign(self, lease: int, refreshed: float) -> float | None:
        """Poll until elected, returning when the lease was last refreshed (the monotonic time
        the grant or keepalive was sent), or None once the lease can no longer be kept."""
        while True:
            try:
                await self.storage.create(self.key, claim(self.identity, lease), lease=lease)
                return refreshed
            except KeyExists as err:
                identity, held = holder(err.current)
                if identity != self.identity:
                    self._follow(identity)
                elif held == lease:
                    log.info("federation: the leader key already holds this replica's lease "
                             "(an earlier attempt was applied)")
                    return refreshed
                elif await self._take_over(err.current, held):
                    continue
            except StorageError as err:
                self._undecided(f"cannot campaign: {err}")
            await asyncio.sleep(self.poll)
            if time.monotonic() - refreshed > self.ttl / 2:
                sent = time.monotonic()
                try:
                    if await self.storage.keepalive(lease) <= 0:
                        return None
                    refreshed = sent
                except StorageError:
                    return None

    async def _take_over(self, current: KeyValue | None, held: int | None) -> bool:
        """Delete a leader key an earlier run of this replica left behind; True when the key
        is gone (campaign again at once)."""
        if current is None:
            return True
        log.warning("federation: the leader key is held by an earlier run of this replica "
                    "(lease %s); taking it over", f"{held:x}" if held is not None else "unknown")
        try:
            await self.storage.delete(self.key, expect_revision=current.mod_revision)
        except (KeyNotFound, RevisionConflict):
            pass
        except StorageError as err:
            self._undecided(f"cannot take over the leader key: {err}")
            return False
        return True

    async def _lead(self, lease: int, lead: Callable[[], Awaitable[None]],
                    refreshed: float) -> None:
        """Run ``lead()`` while the lease is kept; ``refreshed`` is when it was last refreshed."""
        self._set("leader", self.identity)
        task = asyncio.create_task(lead(), name="federation-leader")
        margin, period = min(1.0, self.ttl / 4), self.ttl / 4
        next_try = refreshed + period
        try:
            while True:
                give_up = refreshed + self.ttl - margin
                wait = max(0.0, min(next_try, give_up) - time.monotonic())
                done, _ = await asyncio.wait({task}, timeout=wait)
                if done:
                    break
                sent = time.monotonic()
                if sent >= give_up:
                    log.warning("federation: leadership lost (the lease was not refreshed for "
                                "%.1fs)", sent - refreshed)
                    return
                try:
                    async with asyncio.timeout(give_up - sent):
                        remaining = await self.storage.keepalive(lease)
                except (StorageError, TimeoutError) as err:
                    log.warning("federation: cannot refresh the leader lease: %s",
                                err or "timed out")
                    next_try = time.monotonic() + min(self.poll, period / 2)
                    continue
                if remaining <= 0:
                    log.warning("federation: leadership lost (lease expired)")
                    return
                refreshed = sent
                next_try = refreshed + period
            if not task.cancelled() and task.exception():
                log.error("federation: the leader's work failed", exc_info=task.exception())
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self.role = None

    def _follow(self, holder: str) -> None:
        self._set("follower", holder)

    def _undecided(self, problem: str) -> None:
        """etcd trouble while campaigning: the role stays what it was (None at first, so
        readiness keeps waiting rather than counting this replica as a follower)."""
        if problem != self._problem:
            log.warning("federation: leader election: %s", problem)
        self._problem = problem

    def _set(self, role: str, holder: str) -> None:
        if role != self.role or holder != self.leader:
            log.info("federation: %s (leader: %s)", "this replica leads" if role == "leader"
                     else "this replica follows", holder)
        self.role, self.leader, self._problem = role, holder, ""
