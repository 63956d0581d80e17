"""``/healthz``, ``/livez`` and ``/readyz`` with kube-apiserver's named checks.

Each endpoint runs its checks on every call; ``?verbose`` lists them (``[+]etcd ok``,
``[-]etcd failed: …``), ``?exclude=NAME`` skips one, and ``/readyz/NAME`` runs one. Readiness
asks etcd itself (its alarms, under a short deadline; one probe shared by concurrent callers and
reused for ``PROBE_TTL``), so it follows etcd both ways within seconds whether or not anything is
written. Liveness never depends on etcd: a replica that cannot reach its datastore is not
ready, but restarting it would not help.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web

from ..resources.cache import WatchCache
from ..resources.storage_errors import FULL
from ..storage.interface import Storage, StorageError

PROBE_TIMEOUT = 1.0    # seconds etcd has to answer a readiness probe
PROBE_TTL = 0.5        # a probe's answer is reused this long

Check = Callable[[], Awaitable["str | None"]]   # None when healthy, else why not


@dataclass(frozen=True)
class Named:
    name: str
    check: Check


class EtcdProbe:
    """etcd answers, under a deadline, and has no alarm raised."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._result: tuple[float, str | None] | None = None
        self._running: asyncio.Future | None = None

    async def __call__(self) -> str | None:
        if self._result and time.monotonic() - self._result[0] < PROBE_TTL:
            return self._result[1]
        if self._running is None:
            self._running = asyncio.ensure_future(self._probe())
            self._running.add_done_callback(lambda _: setattr(self, "_running", None))
        return await asyncio.shield(self._running)

    async def _probe(self) -> str | None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                alarms = await self.storage.alarms()
            why = (FULL if "NOSPACE" in alarms else f"etcd alarm {', '.join(alarms)}") \
                if alarms else None
        except TimeoutError:
            why = f"etcd did not answer within {PROBE_TIMEOUT:g}s"
        except StorageError as err:
            why = str(err)
        self._result = (time.monotonic(), why)
        return why


def cache_check(cache: WatchCache) -> Check:
    async def check() -> str | None:
        if not cache.ready.is_set():
            return "the watch cache is not primed yet"
        return None if cache.connected else f"the watch cache lost etcd: {cache.last_error}"
    return check


def cache_alive(cache: WatchCache) -> Check:
    """The watch cache's task runs (it retries etcd trouble by itself, so only a bug ends it)."""
    async def check() -> str | None:
        return "the watch cache task has stopped" if cache.stopped() else None
    return check


async def ping() -> str | None:
    return None


class Health:
    """The checks of each endpoint; ``create_app`` adds them, ``routes`` serves them."""

    def __init__(self) -> None:
        self.live: list[Named] = [Named("ping", ping)]
        self.ready: list[Named] = [Named("ping", ping)]

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/healthz", self._endpoint(lambda: self.ready, "healthz")),
                web.get("/livez", self._endpoint(lambda: self.live, "livez")),
                web.get("/livez/{check}", self._endpoint(lambda: self.live, "livez")),
                web.get("/readyz", self._endpoint(lambda: self.ready, "readyz")),
                web.get("/readyz/{check}", self._endpoint(lambda: self.ready, "readyz"))]

    @staticmethod
    def _endpoint(checks: Callable[[], list[Named]], path: str):
        async def handler(request: web.Request) -> web.Response:
            wanted = request.match_info.get("check")
            excluded = set(request.query.getall("exclude", ()))
            chosen = [c for c in checks() if c.name not in excluded
                      and (wanted is None or c.name == wanted)]
            if wanted is not None and not chosen:
                return web.Response(status=404, text=f"no {path} check named {wanted!r}\n")
            results = await asyncio.gather(*(c.check() for c in chosen))
            lines = [f"[+]{c.name} ok" if why is None else f"[-]{c.name} failed: {why}"
                     for c, why in zip(chosen, results)]
            if any(why is not None for why in results):
                return web.Response(status=503, text="\n".join(lines) + f"\n{path} check failed\n")
            if "verbose" in request.query:
                return web.Response(text="\n".join(lines) + f"\n{path} check passed\n")
            return web.Response(text="ok")
        return handler
