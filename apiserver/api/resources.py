"""Generic handlers for every kind's collection, object and status paths (DESIGN §3)."""
from __future__ import annotations

import asyncio
import contextlib
import re
from urllib.parse import unquote

from aiohttp import web

from ..resources import selectors, tables
from ..resources.catalog import API_VERSION, Kind
from ..resources.errors import (ApiError, BadRequest, Gone, MethodNotAllowed, NotFound,
                                UnsupportedMediaType)
from ..resources.patch import PATCH_TYPES
from ..resources.store import Actor, ListOptions, ResourceStore
from . import connections, keys
from .codec import base_type, dumps, read_body, respond, respond_list

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
        allowed = allowed_methods(request)   # e.g. DELETE …/namespaces/ns/networksets, routed
        if allowed:                          # as the object "ns" of a plural "namespaces"
            raise MethodNotAllowed(f"{request.method} is not allowed here; allowed: "
                                   + ", ".join(sorted(allowed)))
        raise NotFound(f"the server could not find the requested resource ({plural})")
    if namespace is not None and not kind.namespaced:
        raise NotFound(f"{kind.kind} is not namespaced; use {PREFIX}/{kind.plural}")
    sub = request.match_info.get("subresource")
    if sub is not None and not (sub == "status" and kind.status):
        raise NotFound(f"{kind.kind} has no subresource {sub!r}")
    if request.method not in ("GET", "HEAD"):
        keys.authorize(request, _verb(request), kind)
        if kind.read_only:   # before the body is read: whatever it holds, the answer is 405
            name = request.match_info.get("name")
            raise MethodNotAllowed(f"operation {_verb(request).capitalize()} is not supported "
                                   f"on {kind.kind}" + (f"({name})" if name else "")
                                   + ": it is read-only", kind=kind.kind, name=name)
    return kind, namespace


_RESOURCE_PATH = re.compile(re.escape(PREFIX) + r"(?:/namespaces/(?P<namespace>[^/]+))?"
                            r"/(?P<plural>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?")


def allowed_methods(request: web.Request) -> set[str] | None:
    """The methods the resource at the request's path supports, which a 405 lists in
    ``Allow``; None for a path that names no resource."""
    match = _RESOURCE_PATH.fullmatch(request.rel_url.raw_path)
    if match is None:
        return None
    parts = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
    kind = request.app[keys.CATALOG].by_plural.get(parts["plural"])
    if kind is None or ("namespace" in parts and not kind.namespaced) or \
            parts.get("sub", "status") != "status" or ("sub" in parts and not kind.status):
        return None
    reads = {"GET", "HEAD"}
    name = parts.get("name")
    if kind.read_only:
        return reads
    if name is None:
        return reads | {"POST"}
    if "sub" in parts:
        return reads | {"PUT", "PATCH"}
    if kind.strategy.is_virtual(name):
        return reads
    reserved = kind.strategy.reserved(name) if kind.strategy.reserved else None
    return reads | {"PUT", "PATCH"} | (set() if reserved else {"DELETE"})


def _verb(request: web.Request) -> str:
    if request.method in ("GET", "HEAD"):
        if "name" in request.match_info:
            return "get"
        return "watch" if is_watch(request) else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[request.method]


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true")


BOOLEANS = ("", "0", "1", "false", "true")


def _check_flag(request: web.Request, name: str) -> None:
    """BadRequest for a boolean query parameter that is neither true nor false (``_flag``
    reads it leniently, as it must for every path, before a handler runs)."""
    if request.query.get(name, "").lower() not in BOOLEANS:
        raise BadRequest(f"{name} must be true or false, not {request.query[name]!r}")


def is_watch(request: web.Request) -> bool:
    """A watch: a GET with ``watch=true``; it streams until its own timeout (exempt from the
    request timeout). A HEAD is always answered like the list."""
    return request.method == "GET" and _flag(request, "watch")


def _dry_run(request: web.Request) -> bool:
    return bool(_dry_run_values(request.query.getall("dryRun", [])))


def _dry_run_values(values) -> list[str]:
    """The dryRun values (query or DeleteOptions), each of which must be ``All``."""
    if values is None:
        return []
    if not isinstance(values, list):
        raise BadRequest("dryRun must be a list of strings")
    for v in values:
        if v != "All":
            raise BadRequest(f"dryRun must be 'All', not {v!r}")
    return values


def _actor(request: web.Request) -> Actor:
    return request[keys.ACTOR]


def _store(request: web.Request) -> ResourceStore:
    return request.app[keys.STORE]


async def _body(request: web.Request, content_type: str | None = None):
    return await read_body(await connections.read(request),
                           content_type or request.headers.get("Content-Type", ""))


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _table(request: web.Request, kind: Kind, objects: list[dict]) -> dict:
    include = request.query.get("includeObject", "Object") != "None"
    return tables.table(kind.columns, objects, include_objects=include)


async def get(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    keys.authorize(request, "get", kind)
    obj = await _store(request).get(kind, request.match_info["name"], namespace, _actor(request))
    if _wants_table(request):
        return respond(_table(request, kind, [obj]))
    return respond(obj)


def _integer(request: web.Request, name: str) -> int | None:
    """A non-negative 64-bit integer query parameter (None when absent or empty)."""
    text = request.query.get(name, "")
    if not text:
        return None
    if not text.isdigit() or int(text) >= 2**63:
        raise BadRequest(f"{name} must be a non-negative 64-bit integer, not {text!r}")
    return int(text)


MATCHES = ("NotOlderThan", "Exact")


def _list_options(request: web.Request) -> ListOptions:
    q = request.query
    limit = _integer(request, "limit") or 0
    rv = _integer(request, "resourceVersion")
    match = q.get("resourceVersionMatch", "")
    if match and match not in MATCHES:
        raise BadRequest(f"resourceVersionMatch must be one of {', '.join(MATCHES)}, not "
                         f"{match!r}")
    if match and rv is None:
        raise BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
    if match == "Exact" and rv == 0:
        raise BadRequest("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"")
    if q.get("continue") and rv:
        raise BadRequest("specifying resourceVersion is not allowed when using continue")
    _check_flag(request, "watch")
    _check_flag(request, "allowWatchBookmarks")
    _integer(request, "timeoutSeconds")   # as kube-apiserver, a list checks it too
    texts = tuple(q.get(p, "") for p in ("labelSelector", "fieldSelector", "selector"))
    try:
        return ListOptions(
            label_selector=selectors.parse_label_selector(texts[0]) if texts[0] else None,
            field_selector=selectors.parse_field_selector(texts[1]) if texts[1] else None,
            selector=selectors.parse(texts[2]).matches if texts[2] else None,
            limit=limit, continue_token=q.get("continue", ""), resource_version=rv,
            exact=match == "Exact", selectors=texts)
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
    return await respond_list(request, {"apiVersion": API_VERSION, "kind": f"{kind.kind}List",
                                        "metadata": meta}, (e.json() for e in page.entries))


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
    options = await _delete_options(request)
    preconditions = options.get("preconditions") or {}
    obj = await _store(request).delete(
        kind, namespace, request.match_info["name"],
        resource_version=preconditions.get("resourceVersion")
        or request.query.get("resourceVersion") or None,
        uid=preconditions.get("uid") or None,
        dry_run=_dry_run(request) or bool(_dry_run_values(options.get("dryRun"))),
        actor=_actor(request))
    return respond(obj)


async def _delete_options(request: web.Request) -> dict:
    """The DeleteOptions a DELETE carries in its body (as kubectl sends them), checked;
    ``{}`` without a body."""
    if not (await connections.read(request)).strip():
        return {}
    options = await _body(request, request.headers.get("Content-Type") or "application/json")
    if not isinstance(options, dict):
        raise BadRequest("the body of a DELETE must be a DeleteOptions object")
    if options.get("kind", "DeleteOptions") != "DeleteOptions":
        raise BadRequest(f"the body of a DELETE must be a DeleteOptions object, not "
                         f"{options.get('kind')!r}")
    preconditions = options.get("preconditions")
    if not isinstance(preconditions, (dict, type(None))):
        raise BadRequest("DeleteOptions.preconditions must be an object")
    for field in ("uid", "resourceVersion"):
        if not isinstance((preconditions or {}).get(field), (str, type(None))):
            raise BadRequest(f"DeleteOptions.preconditions.{field} must be a string")
    policy = options.get("propagationPolicy")
    if policy not in (None, "Orphan", "Background", "Foreground"):
        raise BadRequest("DeleteOptions.propagationPolicy must be Orphan, Background or "
                         f"Foreground, not {policy!r}")
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise BadRequest("DeleteOptions.gracePeriodSeconds must be an integer")
    _dry_run_values(options.get("dryRun"))
    return options


# -- watch ----------------------------------------------------------------------------------
async def watch(request: web.Request, kind: Kind, namespace: str | None) -> web.StreamResponse:
    """Newline-delimited watch events after ``resourceVersion`` (all current objects as ADDED
    first when it is absent or 0); a compacted start yields one 410 ERROR event."""
    store, settings = _store(request), request.app[keys.SETTINGS]
    options = _list_options(request)
    keep = store.filter_for(kind, options, _actor(request))
    asked = _integer(request, "timeoutSeconds")
    timeout = settings.watch_timeout if asked is None else min(asked, settings.watch_timeout)
    bookmarks = _flag(request, "allowWatchBookmarks")
    since = options.resource_version or 0
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
        except (ConnectionResetError, TimeoutError):   # the client left or stopped reading
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
        if now >= next_bookmark:   # due after a quiet interval, filtered-out changes or not
            next_bookmark = now + settings.bookmark_interval
            if bookmarks and sub.queue.empty():
                await _write(resp, _bookmark(kind, cache.revision), settings.watch_write_timeout)
            continue
        try:
            async with asyncio.timeout(min(deadline, next_bookmark, now + IDLE_CHECK) - now):
                change = await sub.get()
        except TimeoutError:
            continue
        if change is None:
            if isinstance(sub.error, ApiError):
                await _write(resp, _error_event(sub.error), settings.watch_write_timeout)
            return
        event = _filtered(change, keep)
        if event:
            await _write(resp, event, settings.watch_write_timeout)
            next_bookmark = loop.time() + settings.bookmark_interval


def _filtered(change, keep) -> bytes | None:
    """The event a selector watch sees, as Kubernetes reports it: an object that starts
    matching is ADDED, one that stops matching is DELETED (its last matching state, at the
    revision of the change), one that matches before and after is MODIFIED."""
    now = keep(change.entry.obj)
    if change.type != "MODIFIED":
        return _event(change.type, change.entry.json()) if now else None
    before = keep(change.prev.obj) if change.prev is not None else now
    if now:
        return _event("MODIFIED" if before else "ADDED", change.entry.json())
    if not before:
        return None
    gone = change.prev.obj
    return _event("DELETED", dumps({**gone, "metadata": {
        **gone["metadata"], "resourceVersion": str(change.revision)}}))


async def _write(resp: web.StreamResponse, line: bytes, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        await resp.write(line)


def _event(type_: str, obj_json: bytes) -> bytes:
    return b'{"type":"' + type_.encode() + b'","object":' + obj_json + b"}\n"


def _error_event(err: ApiError) -> bytes:
    return _event("ERROR", dumps(err.status()))


def _bookmark(kind: Kind, revision: int) -> bytes:
    return _event("BOOKMARK", dumps({"kind": kind.kind, "apiVersion": API_VERSION,
                                     "metadata": {"resourceVersion": str(revision)}}))

