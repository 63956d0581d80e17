"""Generic handlers for every kind's collection, object and status paths (DESIGN §3)."""
from __future__ import annotations

import asyncio
import contextlib
import math

from aiohttp import web

from ..resources import selectors, tables
from ..resources.catalog import API_VERSION, Kind
from ..resources.errors import (ApiError, BadRequest, Gone, MethodNotAllowed, NotFound,
                                UnsupportedMediaType)
from ..resources.patch import PATCH_TYPES
from ..resources.store import FEDERATION_LABEL, Actor, ListOptions, ResourceStore
from . import keys
from .codec import base_type, dumps, read_body, respond

PREFIX = "/apis/projectcalico.org/v3"
COLLECTION = "/{plural}"
NS_COLLECTION = "/namespaces/{namespace}/{plural}"
IDLE_CHECK = 1.0  # seconds between checks that an idle watch's client is still there


def routes() -> list[web.RouteDef]:
    """Every resource path, for every kind in the catalog (looked up by plural)."""
    out = []
    for base in (COLLECTION, NS_COLLECTION):
        out += [web.get(PREFIX + base, list_or_watch), web.post(PREFIX + base, create)]
        item = PREFIX + base + "/{name}"
        for sub in ("", "/{subresource}"):
            out += [web.get(item + sub, get), web.put(item + sub, replace),
                    web.patch(item + sub, patch), web.delete(item + sub, delete)]
    return out


def _kind(request: web.Request) -> tuple[Kind, str | None]:
    catalog = request.app[keys.CATALOG]
    plural = request.match_info["plural"]
    kind = catalog.by_plural.get(plural)
    namespace = request.match_info.get("namespace")
    if kind is None:
        raise NotFound(f"the server could not find the requested resource ({plural})")
    if namespace is not None and not kind.namespaced:
        raise NotFound(f"{kind.kind} is not namespaced; use {PREFIX}/{kind.plural}")
    sub = request.match_info.get("subresource")
    if sub is not None and not (sub == "status" and kind.status):
        raise NotFound(f"{kind.kind} has no subresource {sub!r}")
    if request.method not in ("GET", "HEAD"):
        keys.authorize(request, _verb(request), kind)
    return kind, namespace


def _verb(request: web.Request) -> str:
    if request.method in ("GET", "HEAD"):
        if "name" in request.match_info:
            return "get"
        return "watch" if is_watch(request) else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[request.method]


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true")


def is_watch(request: web.Request) -> bool:
    """A watch: a GET with ``watch=true``; it streams until its own timeout (exempt from the
    request timeout). A HEAD is always answered like the list."""
    return request.method == "GET" and _flag(request, "watch")


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise BadRequest(f"dryRun must be 'All', not {v!r}")
    return bool(values)


def _actor(request: web.Request) -> Actor:
    return request[keys.ACTOR]


def _store(request: web.Request) -> ResourceStore:
    return request.app[keys.STORE]


async def _body(request: web.Request, content_type: str | None = None):
    return await read_body(await request.read(),
                           content_type or request.headers.get("Content-Type", ""))


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _table(request: web.Request, kind: Kind, objects: list[dict]) -> dict:
    include = request.query.get("includeObject", "Object") != "None"
    return tables.table(kind.columns, objects, namespaced=kind.namespaced, include_objects=include)


async def get(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    keys.authorize(request, "get", kind)
    obj = await _store(request).get(kind, request.match_info["name"], namespace)
    if _actor(request).federation_reader and _is_copy(obj):
        raise NotFound(f"{kind.kind} {request.match_info['name']!r} not found")
    if _wants_table(request):
        return respond(_table(request, kind, [obj]))
    return respond(obj)


def _is_copy(obj: dict) -> bool:
    return FEDERATION_LABEL in (obj["metadata"].get("labels") or {})


def _list_options(request: web.Request) -> ListOptions:
    q = request.query
    try:
        limit = int(q.get("limit") or 0)
    except ValueError:
        raise BadRequest(f"limit must be an integer, not {q.get('limit')!r}") from None
    if not 0 <= limit < 2**63:
        raise BadRequest(f"limit must be between 0 and {2**63 - 1}, not {limit}")
    try:
        return ListOptions(
            label_selector=selectors.parse_label_selector(q["labelSelector"])
            if q.get("labelSelector") else None,
            field_selector=selectors.parse_field_selector(q["fieldSelector"])
            if q.get("fieldSelector") else None,
            selector=selectors.parse(q["selector"]).matches if q.get("selector") else None,
            limit=limit, continue_token=q.get("continue", ""))
    except selectors.SelectorError as err:
        raise BadRequest(f"invalid selector: {err}") from None


async def list_or_watch(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    if is_watch(request):
        keys.authorize(request, "watch", kind)
        return await watch(request, kind, namespace)
    keys.authorize(request, "list", kind)
    options = _list_options(request)
    page = await _store(request).list(kind, namespace, options, _actor(request))
    meta = {"resourceVersion": str(page.revision)}
    if page.continue_token:
        meta["continue"] = page.continue_token
    if _wants_table(request):
        body = _table(request, kind, page.items)
        body["metadata"] = meta
        return respond(body)
    return respond({"apiVersion": API_VERSION, "kind": f"{kind.kind}List", "metadata": meta,
                    "items": page.items})


async def create(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    obj = await _store(request).create(kind, namespace, await _body(request),
                                       dry_run=_dry_run(request), actor=_actor(request))
    return respond(obj, 201)


async def replace(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    obj = await _store(request).replace(
        kind, namespace, request.match_info["name"], await _body(request),
        dry_run=_dry_run(request), actor=_actor(request),
        subresource=request.match_info.get("subresource"))
    return respond(obj)


async def patch(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    content_type = base_type(request.headers.get("Content-Type", ""))
    if content_type not in PATCH_TYPES:
        raise UnsupportedMediaType(f"the patch content type {content_type!r} is not supported; "
                                   "use one of " + ", ".join(PATCH_TYPES))
    document = await _body(request, "application/json")
    obj = await _store(request).patch(
        kind, namespace, request.match_info["name"], content_type, document,
        dry_run=_dry_run(request), actor=_actor(request),
        subresource=request.match_info.get("subresource"))
    return respond(obj)


async def delete(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    if request.match_info.get("subresource"):
        raise MethodNotAllowed("the status subresource cannot be deleted")
    rv = request.query.get("resourceVersion") or None
    if (await request.read()).strip():
        options = await _body(request, request.headers.get("Content-Type") or "application/json")
        preconditions = options.get("preconditions") if isinstance(options, dict) else None
        if not isinstance(preconditions, (dict, type(None))):
            raise BadRequest("DeleteOptions.preconditions must be an object")
        precondition = (preconditions or {}).get("resourceVersion")
        if not isinstance(precondition, (str, type(None))):
            raise BadRequest("DeleteOptions.preconditions.resourceVersion must be a string")
        rv = precondition or rv
    obj = await _store(request).delete(kind, namespace, request.match_info["name"],
                                       resource_version=rv, dry_run=_dry_run(request),
                                       actor=_actor(request))
    return respond(obj)


# -- watch ----------------------------------------------------------------------------------
async def watch(request: web.Request, kind: Kind, namespace: str | None) -> web.StreamResponse:
    """Newline-delimited watch events after ``resourceVersion`` (all current objects as ADDED
    first when it is absent or 0); a compacted start yields one 410 ERROR event."""
    store, settings = _store(request), request.app[keys.SETTINGS]
    options = _list_options(request)
    keep = store.filter_for(options, _actor(request))
    try:
        asked = float(request.query.get("timeoutSeconds") or settings.watch_timeout)
    except ValueError:
        asked = math.nan
    if not (math.isfinite(asked) and asked >= 0):
        raise BadRequest("timeoutSeconds must be a non-negative number of seconds, not "
                         f"{request.query.get('timeoutSeconds')!r}")
    timeout = min(asked, settings.watch_timeout)
    bookmarks = _flag(request, "allowWatchBookmarks")
    try:
        since = int(request.query.get("resourceVersion") or 0)
    except ValueError:
        raise BadRequest("resourceVersion must be an integer") from None
    async with keys.watch_slot(request):
        cache = store.cache
        await cache.sync()
        initial: list[bytes] = []
        try:
            if since:
                sub = cache.subscribe(kind, namespace, since)
            else:
                sub = cache.subscribe(kind, namespace, 0)
                initial = [_event("ADDED", e.json()) for e in cache.entries(kind, namespace)
                           if keep(e.obj)]
        except Gone as err:
            sub, initial = None, [_error_event(err)]
        resp = web.StreamResponse(headers={"Content-Type": "application/json;stream=watch"})
        await resp.prepare(request)
        try:
            for line in initial:
                await _write(resp, line, settings.watch_write_timeout)
            if sub is not None:
                await _stream(request, resp, sub, kind, keep, timeout, bookmarks, settings, cache)
        except (ConnectionResetError, asyncio.TimeoutError, asyncio.CancelledError):
            pass
        finally:
            if sub is not None:
                cache.unsubscribe(sub)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp


async def _stream(request: web.Request, resp, sub, kind: Kind, keep, timeout: float,
                  bookmarks: bool, settings, cache) -> None:
    """Write the subscription's changes until the timeout, an error, or the client leaves
    (noticed within ``IDLE_CHECK`` seconds even when nothing is written)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    next_bookmark = loop.time() + settings.bookmark_interval
    while True:
        now = loop.time()
        if now >= deadline or request.transport is None or request.transport.is_closing():
            return
        try:
            change = await asyncio.wait_for(
                sub.get(), min(deadline, next_bookmark, now + IDLE_CHECK) - now)
        except asyncio.TimeoutError:
            if loop.time() >= next_bookmark:
                next_bookmark = loop.time() + settings.bookmark_interval
                if bookmarks and sub.queue.empty():
                    await _write(resp, _bookmark(kind, cache.revision),
                                 settings.watch_write_timeout)
            continue
        next_bookmark = loop.time() + settings.bookmark_interval
        if change is None:
            if isinstance(sub.error, ApiError):
                await _write(resp, _error_event(sub.error), settings.watch_write_timeout)
            return
        if keep(change.entry.obj):
            await _write(resp, _event(change.type, change.entry.json()),
                         settings.watch_write_timeout)


async def _write(resp: web.StreamResponse, line: bytes, timeout: float) -> None:
    await asyncio.wait_for(resp.write(line), timeout)


def _event(type_: str, obj_json: bytes) -> bytes:
    return b'{"type":"' + type_.encode() + b'","object":' + obj_json + b"}\n"


def _error_event(err: ApiError) -> bytes:
    return _event("ERROR", dumps(err.status()))


def _bookmark(kind: Kind, revision: int) -> bytes:
    return _event("BOOKMARK", dumps({"kind": kind.kind, "apiVersion": API_VERSION,
                                     "metadata": {"resourceVersion": str(revision)}}))

