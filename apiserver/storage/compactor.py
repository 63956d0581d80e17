"""Scheduled compaction of etcd's history, as kube-apiserver's ``compactor`` does it.

Every ``interval`` each replica tries to take this interval's turn: a transaction puts the
compaction key only if its version is the one the replica saw last time. Exactly one replica
sharing the etcd wins each interval (etcd's compare-and-swap), and the winner compacts at the
revision it read one interval earlier, so the history of the last interval always survives:
watches and continue tokens stay valid at least that long. A replica that loses learns the key's
version and the current revision and competes again next interval.
"""
from __future__ import annotations

import asyncio
import logging

from .interface import Compacted, Storage, StorageError

log = logging.getLogger(__name__)
COMPACT_KEY = "/calico/apiserver/v1/compact_rev_key"


class Compactor:
    def __init__(self, storage: Storage, interval: float, *, key: str = COMPACT_KEY) -> None:
        self.storage, self.interval, self.key = storage, interval, key
        self.compacted = 0        # the last revision this replica compacted at
        self.compactions = 0

    async def run(self) -> None:
        """Compact every ``interval`` until cancelled; etcd trouble is logged and retried."""
        version, revision = 0, 0
        while True:
            await asyncio.sleep(self.interval)
            try:
                version, revision = await self.turn(version, revision)
            except StorageError as err:
                log.warning("etcd compaction skipped this interval: %s", err)

    async def turn(self, version: int, revision: int) -> tuple[int, int]:
        """One interval: when the key is still at ``version`` (nobody compacted since this
        replica last looked), record ``revision`` and compact at it. Returns the key's version
        and the current revision, for the next interval."""
        won, version, current = await self.storage.compaction_turn(
            self.key, version, str(revision).encode())
        if won and revision:
            try:
                await self.storage.compact(revision)
            except Compacted:
                pass        # compacted past it already (by hand, or by another tool)
            self.compacted, self.compactions = revision, self.compactions + 1
            log.info("compacted etcd history before revision %d", revision)
        return version, current
