"""The federation controller as the application sees it: leader election around the manager,
a readiness check, and its metrics collector. ``create_app`` wires these three in."""
from __future__ import annotations

import asyncio
import logging
import socket
from typing import AsyncIterator

from aiohttp import web

from ..config import Settings
from ..resources.store import ResourceStore
from .leader import LeaderElection
from .manager import FederationManager, ManagerOptions
from .metrics import FederationCollector

log = logging.getLogger(__name__)


class Federation:
    """Owns the election and manager tasks. Tests and benchmarks may tune the manager with
    ``settings.federation_options`` (a ManagerOptions)."""

    def __init__(self, settings: Settings, store: ResourceStore) -> None:
        self.enabled = settings.federation
        options = settings.federation_options
        self.manager = FederationManager(store, cluster_name=settings.cluster_name,
                                         credentials_dir=settings.federation_credentials_dir,
                                         options=options if isinstance(options, ManagerOptions)
                                         else None)
        self.election = LeaderElection(
            store.storage, identity=f"{settings.cluster_name}/{socket.gethostname()}:"
                                    f"{settings.listen_port}" + (f"/worker-{settings.worker}"
                                                                 if settings.workers > 1 else ""))
        self.collector = FederationCollector(self.manager.statuses,
                                             lambda: self.election.role == "leader")
        self._ready_once = False

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: campaign (and, as leader, sync) while the application runs."""
        task = asyncio.create_task(self.election.run(self.manager.run),
                                   name="federation") if self.enabled else None
        yield
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def ready_check(self) -> str | None:
        """Readiness: every peer synced once or failed (latched once true); a follower
        replica is ready at once."""
        if not self.enabled or self._ready_once:
            return None
        if self.election.role is None:
            return "federation: leader election pending"
        why = self.manager.not_ready() if self.election.role == "leader" else None
        self._ready_once = why is None
        return why
