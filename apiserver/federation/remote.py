"""``RemoteCluster``: what the syncers of one peer share, as Cilium's ``remote_cluster.go``:
one ``PeerClient`` (one connection pool), one identity check per reconnection, and the
peer's quota of copies.

Identity: the peer must report the RCC's name at ``/version`` and must not be this cluster
(by name or by datastore GUID). A new ``clusterGUID`` means the peer's datastore was rebuilt:
its revisions started over, so the ``epoch`` counts up and every syncer relists from zero.
A change of the peer's FederationExport rules for us (a watch keeps the export it started
with) counts the ``scope`` up: every syncer relists. A peer that exports nothing to us is
logged (its copies are none, which is not an error).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable

from .peer import Identity, PeerClient, WrongCluster

log = logging.getLogger(__name__)


@dataclass
class Budget:
    """How many copies of a peer, and how many bytes of them, may be held; and how many are.
    Shared by the peer's syncers (one event loop: no lock needed)."""

    max_objects: int
    max_bytes: int
    objects: int = 0
    bytes: int = 0

    def fits(self, objects: int, size: int) -> str | None:
        """None when ``objects`` more copies and ``size`` more bytes fit, else which limit
        they would cross."""
        if objects > 0 and self.objects + objects > self.max_objects:
            return f"maxObjects ({self.max_objects}) reached"
        if size > 0 and self.bytes + size > self.max_bytes:
            return f"maxBytes ({self.max_bytes}) reached"
        return None

    def take(self, objects: int, size: int) -> None:
        self.objects += objects
        self.bytes += size


class RemoteCluster:
    """One peer as its syncers see it. ``local`` gives this cluster's own identity (its
    ClusterInformation GUID may be unknown for a moment after a first start)."""

    def __init__(self, name: str, client: PeerClient, budget: Budget,
                 local: Callable[[], Identity]) -> None:
        self.name, self.client, self.budget, self._local = name, client, budget, local
        self.epoch = 0                      # counts datastore rebuilds seen
        self.scope = 0                      # counts changes of what the peer exports to us
        self._guid: str | None = None
        self._export: tuple | None = None
        self._lock = asyncio.Lock()
        self._checked: tuple[float, BaseException | None] | None = None   # (started, error)

    async def connect(self, after: float) -> int:
        """Make sure the credentials were re-read and the identity checked at or after
        monotonic time ``after`` (a syncer's failure): the first syncer to ask does it, the
        others share its outcome. Returns the datastore epoch; raises PeerError."""
        async with self._lock:
            if self._checked is None or self._checked[0] < after:
                started = time.monotonic()
                try:
                    await self.client.refresh()
                    self._verify(await self.client.identity())
                    self._rescope(await self.client.exported())
                    self._checked = (started, None)
                except Exception as err:  # noqa: BLE001 - shared with every waiting syncer
                    self._checked = (started, err)
            error = self._checked[1]
        if error is not None:
            raise error
        return self.epoch

    def _verify(self, peer: Identity) -> None:
        local, url = self._local(), self.client.config.api_server
        if peer.name == local.name or (peer.guid is not None and peer.guid == local.guid):
            raise WrongCluster(f"the apiserver at {url} is this cluster itself "
                               f"({local.name!r}): a cluster cannot import from itself")
        if peer.name != self.name:
            raise WrongCluster(f"the apiserver at {url} is cluster {peer.name!r}, "
                               f"not {self.name!r}")
        if peer.guid is not None and peer.guid != self._guid:
            if self._guid is not None:
                self.epoch += 1
                log.warning("federation: peer %s has a new datastore (clusterGUID %s, was %s); "
                            "relisting from revision 0", self.name, peer.guid, self._guid)
            self._guid = peer.guid

    def _rescope(self, export: tuple | None) -> None:
        if export == self._export:
            return
        if export == ():
            log.warning("federation: peer %s exports nothing to us (no FederationExport there "
                        "names our user or group)", self.name)
        if self._export is not None:
            self.scope += 1
            log.info("federation: peer %s changed what it exports to us; relisting", self.name)
        self._export = export

    async def aclose(self) -> None:
        await self.client.aclose()
