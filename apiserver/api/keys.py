"""Typed application and request keys, plus the per-request authorization and watch-slot
helpers that handlers call."""
from __future__ import annotations

import collections
import contextlib
from typing import AsyncIterator

from aiohttp import web

from calicomodel.catalog import Catalog, Kind
from calicomodel.errors import TooManyRequests
from calicomodel.validation import Validator

from ..auth import ANONYMOUS, Authenticator
from ..config import Settings
from ..resources.store import Actor, ResourceStore

SETTINGS = web.AppKey("settings", Settings)
CATALOG = web.AppKey("catalog", Catalog)
STORE = web.AppKey("store", ResourceStore)
VALIDATOR = web.AppKey("validator", Validator)
AUTH = web.AppKey("auth", Authenticator)
WATCHES = web.AppKey("watches", collections.Counter)
WATCHERS = web.AppKey("watchers", collections.Counter)   # open watches per kind, for /metrics
ACTOR = web.RequestKey("actor", Actor)


def authorize(request: web.Request, verb: str, kind: Kind) -> None:
    """Raise Forbidden unless the request's user may ``verb`` ``kind``."""
    request.app[AUTH].authorize(request[ACTOR], verb, kind)


@contextlib.asynccontextmanager
async def watch_slot(request: web.Request) -> AsyncIterator[None]:
    """Count open watches per client (an authenticated user; an anonymous one per remote
    address) and per kind; refuse past ``max_watches_per_client`` with 429."""
    counter = request.app[WATCHES]
    user = request[ACTOR].user
    if user == ANONYMOUS:
        user = f"{user} at {request.remote}"
    limit = request.app[SETTINGS].max_watches_per_client
    if counter[user] >= limit:
        raise TooManyRequests(f"too many open watches for {user!r} (limit {limit})")
    kind = request.app[CATALOG].by_plural[request.match_info["plural"]].kind
    watchers = request.app[WATCHERS]
    counter[user] += 1
    watchers[kind] += 1
    try:
        yield
    finally:
        watchers[kind] -= 1
        counter[user] -= 1
        if counter[user] <= 0:
            del counter[user]


__all__ = ["Actor"]
