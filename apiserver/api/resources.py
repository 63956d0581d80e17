"""Generic handlers for every kind's collection, object and status paths (DESIGN §3)."""
from __future__ import annotations

import asyncio
import contextlib
import re
from urllib.parse import unquote

from aiohttp import web

from calicomodel import selectors, tables
from calicomodel.catalog import API_VERSION, Kind
from calicomodel.errors import (ApiError, BadRequest, Cause, Gone, Invalid, MethodNotAllowed,
                                NotFound, UnsupportedMediaType)
from calicomodel.formats import is_digits

from ..resources.cache import Entry
from ..resources.patch import APPLY, PATCH_TYPES
from ..resources.store import Actor, ListOptions, ResourceStore, WriteOptions
from . import connections, keys
from .codec import base_type, dumps, read_body, respond, respond_list, respond_raw

PREFIX = "/apis/projectcalico.org/v3"
COLLECTION = "/{plural}"
NS_COLLECTION = "/namespaces/{namespace}/{plural}"
IDLE_CHECK = 1.0  # seconds between checks that an idle watch's client is still there
INITIAL_EVENTS_END = "k8s.io/initial-events-end"   # the annotation of a watch-list's bookmark


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
        if kind.read_only and not (request.method == "PATCH" and kind.strategy.patchable):
            # before the body is read: whatever it holds, the answer is 405
            name = request.match_info.get("name")
            raise MethodNotAllowed(f"operation {_verb(request).capitalize()} is not supported "
                                   f"on {kind.kind}" + (f"({name})" if name else "")
                                   + ": it is read-only", kind=kind.kind, name=name)
    _check_query(request)
    return kind, namespace


LIST_PARAMETERS = frozenset({"dryRun"})
FIELD_VALIDATION = ("", "Ignore", "Strict", "Warn")


def _check_query(request: web.Request) -> None:
    """BadRequest for what the OpenAPI document rules out on every path: a parameter given
    twice (only dryRun is a list) and, on a write, a fieldValidation that is none of
    Kubernetes' directives."""
    for name in request.query:
        if name not in LIST_PARAMETERS and len(request.query.getall(name)) > 1:
            raise BadRequest(f"the query parameter {name} is given more than once")
    directive = request.query.get("fieldValidation", "")
    if request.method in ("POST", "PUT", "PATCH") and directive not in FIELD_VALIDATION:
        raise BadRequest(f"fieldValidation must be Ignore, Strict or Warn, not {directive!r}")


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
        return reads | ({"PATCH"} if kind.strategy.patchable and name and "sub" not in parts
                        else set())
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


def _table_rows(request: web.Request) -> str | None:
    """How the rows of the Table a request asks for (``Accept: …;as=Table``) carry their
    objects: ``includeObject``, whole by default (ctl reads them; kube-apiserver's default is
    ``Metadata``), 400 for a value kube-apiserver does not know; None for a request that
    asks for no Table."""
    if "as=Table" not in request.headers.get("Accept", ""):
        return None
    include = request.query.get("includeObject") or "Object"
    if include not in tables.INCLUDE_OBJECT:
        raise BadRequest(f'unrecognized includeObject value: "{include}"')
    return include


async def get(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    keys.authorize(request, "get", kind)
    rows = _table_rows(request)
    entry = await _store(request).get(kind, request.match_info["name"], namespace,
                                      _actor(request))
    if rows is not None:
        body = tables.table(kind.columns, [entry.obj], include=rows)
        body["metadata"] = {"resourceVersion": entry.obj["metadata"]["resourceVersion"]}
        return respond(body)
    return respond_raw(entry.json())


def _integer(request: web.Request, name: str) -> int | None:
    """A non-negative 64-bit integer query parameter (None when absent or empty)."""
    text = request.query.get(name, "")
    if not text:
        return None
    if not is_digits(text) or int(text) >= 2**63:
        raise BadRequest(f"{name} must be a non-negative 64-bit integer, not {text!r}")
    return int(text)


MATCHES = ("NotOlderThan", "Exact")


def _list_options(request: web.Request) -> ListOptions:
    q = request.query
    limit = _integer(request, "limit") or 0
    rv = _integer(request, "resourceVersion")
    match = q.get("resourceVersionMatch", "")
    sending = _initial_events(request)
    if match and match not in MATCHES:
        raise BadRequest(f"resourceVersionMatch must be one of {', '.join(MATCHES)}, not "
                         f"{match!r}")
    if match and rv is None and sending is None:
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


def _initial_events(request: web.Request) -> bool | None:
    """A watch-list's ``sendInitialEvents`` (client-go's reflectors, as in ``kubectl wait``,
    ask for one before they fall back to list then watch); None when not given. As
    kube-apiserver's, it needs a watch and ``resourceVersionMatch=NotOlderThan``, and a watch
    takes ``resourceVersionMatch`` only with it."""
    q = request.query
    if "sendInitialEvents" not in q:
        if q.get("resourceVersionMatch") and is_watch(request):
            raise BadRequest("resourceVersionMatch is forbidden for watch unless "
                             "sendInitialEvents is provided")
        return None
    _check_flag(request, "sendInitialEvents")
    if not is_watch(request):
        raise BadRequest("sendInitialEvents is forbidden for list")
    if q.get("resourceVersionMatch") != "NotOlderThan":
        raise BadRequest("sendInitialEvents requires setting resourceVersionMatch to "
                         "NotOlderThan")
    return _flag(request, "sendInitialEvents")


async def list_or_watch(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    if is_watch(request):
        keys.authorize(request, "watch", kind)
        return await watch(request, kind, namespace)
    keys.authorize(request, "list", kind)
    options = _list_options(request)
    rows = _table_rows(request)
    page = await _store(request).list(kind, namespace, options, _actor(request))
    meta = {"resourceVersion": str(page.revision)}
    if page.continue_token:
        meta["continue"] = page.continue_token
    if rows is not None:
        cols = list(kind.columns)
        return await respond_list(request, {**tables.head(cols), "metadata": meta},
                                  (_table_row(cols, e, rows) for e in page.entries),
                                  field="rows")
    return await respond_list(request, {"apiVersion": API_VERSION, "kind": f"{kind.kind}List",
                                        "metadata": meta}, (e.json() for e in page.entries))


def _table_row(cols: list[tables.Col], entry: Entry, include: str) -> bytes:
    """A list's Table row, its object (when whole) spliced in as the cache holds it."""
    obj = entry.obj
    if include == "Object":
        return b'{"cells":' + dumps(tables.cells(cols, obj)) + b',"object":' + entry.json() + b"}"
    return dumps(tables.row(cols, obj, include))


OPTIONS_KIND = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}
MAX_MANAGER = 128   # kube's FieldManagerMaxLength


def _write_options(request: web.Request, *, apply: bool = False) -> WriteOptions:
    """The write's ``fieldManager`` (by default the User-Agent's product, as kube-apiserver
    derives it; required for apply), ``fieldValidation`` (checked by ``_check_query``;
    Strict by default) and ``force`` (a patch's, for apply only). 422 for options
    kube-apiserver refuses."""
    q = request.query
    force = request.method == "PATCH" and "force" in q
    if force:
        _check_flag(request, "force")
    manager = q.get("fieldManager", "")
    problems = []
    if apply and not manager:
        problems.append(Cause("fieldManager", "Required value: is required for apply patch",
                              "FieldValueRequired"))
    if force and not apply:
        problems.append(Cause("force", "Forbidden: may not be specified for non-apply patch",
                              "FieldValueForbidden"))
    if len(manager) > MAX_MANAGER:
        problems.append(Cause("fieldManager", f"Too long: may not be more than {MAX_MANAGER} "
                              "bytes", "FieldValueTooLong"))
    bad = next(((i, c) for i, c in enumerate(manager) if not c.isprintable()), None)
    if bad is not None:
        problems.append(Cause("fieldManager", f"Invalid value: invalid character "
                              f"U+{ord(bad[1]):04X} (at position {bad[0]})", "FieldValueInvalid"))
    if problems:
        listed = ", ".join(f"{c.field}: {c.message}" for c in problems)
        raise Invalid(f'{OPTIONS_KIND[request.method]}.meta.k8s.io "" is invalid: '
                      + (f"[{listed}]" if len(problems) > 1 else listed), causes=problems)
    return WriteOptions(manager=manager or _user_agent_product(request),
                        validation=q.get("fieldValidation") or "Strict",
                        force=force and _flag(request, "force"))


def _user_agent_product(request: web.Request) -> str:
    """``kubectl`` of ``kubectl/v1.37.1 (linux/amd64) kubernetes/abc``: printable, at most
    MAX_MANAGER characters (kube-apiserver's default field manager)."""
    product = request.headers.get("User-Agent", "").split("/")[0]
    return "".join(c for c in product if c.isprintable())[:MAX_MANAGER]


async def create(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    options = _write_options(request)
    obj = await _store(request).create(kind, namespace, await _body(request),
                                       dry_run=_dry_run(request), actor=_actor(request),
                                       options=options)
    return respond(obj, 201, warnings=options.warnings)


async def replace(request: web.Request) -> web.StreamResponse:
    kind, namespace = _kind(request)
    options = _write_options(request)
    obj = await _store(request).replace(
        kind, namespace, request.match_info["name"], await _body(request),
        dry_run=_dry_run(request), actor=_actor(request),
        subresource=request.match_info.get("subresource"), options=options)
    return respond(obj, warnings=options.warnings)


async def patch(request: web.Request) -> web.StreamResponse:
    """A patch document applied to the stored object, or a server-side apply (201 when it
    creates the object)."""
    kind, namespace = _kind(request)
    content_type = base_type(request.headers.get("Content-Type", ""))
    if content_type not in (*PATCH_TYPES, APPLY):
        raise UnsupportedMediaType(f"the patch content type {content_type!r} is not supported; "
                                   "use one of " + ", ".join((*PATCH_TYPES, APPLY)))
    options = _write_options(request, apply=content_type == APPLY)
    args = dict(dry_run=_dry_run(request), actor=_actor(request),
                subresource=request.match_info.get("subresource"), options=options)
    name, store = request.match_info["name"], _store(request)
    if content_type == APPLY:
        obj, created = await store.apply(kind, namespace, name, await _body(request, APPLY),
                                         **args)
        return respond(obj, 201 if created else 200, warnings=options.warnings)
    obj = await store.patch(kind, namespace, name, content_type,
                            await _body(request, "application/json"), **args)
    return respond(obj, warnings=options.warnings)


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
    first when it is absent or 0); a compacted start yields one 410 ERROR event. A watch-list
    (``sendInitialEvents=true``) starts with the current objects whatever its
    resourceVersion, then a BOOKMARK marking their end (with ``allowWatchBookmarks``), as
    kube-apiserver's; ``sendInitialEvents=false`` never sends them."""
    store, settings = _store(request), request.app[keys.SETTINGS]
    options = _list_options(request)
    sending = _initial_events(request)
    events = _Events(kind, _table_rows(request))
    matches = store.filter_for(kind, options, _actor(request))
    asked = _integer(request, "timeoutSeconds")
    timeout = settings.watch_timeout if asked is None else min(asked, settings.watch_timeout)
    bookmarks = _flag(request, "allowWatchBookmarks")
    since = options.resource_version or 0
    async with keys.watch_slot(request):
        cache = store.cache
        await cache.sync()
        initial: list[bytes] = []
        try:
            if sending and since > cache.revision:
                raise Gone(f"resource version {since} is newer than the datastore's "
                           f"({cache.revision}): relist")
            sub = cache.subscribe(kind, namespace, 0 if sending else since)
            if sending or (sending is None and not since):
                initial = [events.line("ADDED", e)
                           for e in cache.entries(kind, namespace) if matches(e)]
            if sending and bookmarks:
                initial.append(events.bookmark(cache.revision, initial_events_end=True))
        except Gone as err:
            sub, initial = None, [_error_event(err)]
        resp = web.StreamResponse(headers={"Content-Type": "application/json;stream=watch"})
        await resp.prepare(request)
        try:
            for line in initial:
                await _write(resp, line, settings.watch_write_timeout)
            if sub is not None:
                await _stream(request, resp, sub, events, matches, timeout, bookmarks, settings,
                              cache)
        except (ConnectionResetError, TimeoutError):   # the client left or stopped reading
            pass
        finally:
            if sub is not None:
                cache.unsubscribe(sub)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp


class _Events:
    """A watch's event lines. Each object is itself or, for a client that asked for a Table,
    a one-row Table that only the first event gives column definitions, as kube-apiserver's
    watch encoder does: ``kubectl get --watch`` keeps the columns it printed the list with."""

    def __init__(self, kind: Kind, rows: str | None) -> None:
        self.kind, self.rows, self.headers = kind, rows, True

    def line(self, type_: str, entry: Entry) -> bytes:
        if self.rows is None:
            return _event(type_, entry.json())
        return self._line(type_, entry.obj)

    def _line(self, type_: str, obj: dict) -> bytes:
        if self.rows is None:
            return _event(type_, dumps(obj))
        body = tables.table(self.kind.columns, [obj], include=self.rows, headers=self.headers)
        body["metadata"] = {"resourceVersion": obj["metadata"]["resourceVersion"]}
        self.headers = False
        return _event(type_, dumps(body))

    def bookmark(self, revision: int, *, initial_events_end: bool = False) -> bytes:
        meta: dict = {"resourceVersion": str(revision)}
        if initial_events_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        return self._line("BOOKMARK", {"kind": self.kind.kind, "apiVersion": API_VERSION,
                                      "metadata": meta})


async def _stream(request: web.Request, resp, sub, events: _Events, matches, timeout: float,
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
                await _write(resp, events.bookmark(cache.revision), settings.watch_write_timeout)
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
        event = _filtered(change, matches)
        if event:
            await _write(resp, events.line(*event), settings.watch_write_timeout)
            next_bookmark = loop.time() + settings.bookmark_interval


def _filtered(change, matches) -> tuple[str, Entry] | None:
    """The event (type and object version) a selector watch sees, as Kubernetes reports it:
    an object that starts matching is ADDED, one that stops matching is DELETED (its last
    matching state, at the revision of the change), one that matches before and after is
    MODIFIED."""
    now = matches(change.entry)
    if change.type != "MODIFIED":
        return (change.type, change.entry) if now else None
    before = matches(change.prev) if change.prev is not None else now
    if now:
        return "MODIFIED" if before else "ADDED", change.entry
    if not before:
        return None
    return "DELETED", change.prev.at(change.revision)


async def _write(resp: web.StreamResponse, line: bytes, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        await resp.write(line)


def _event(type_: str, obj_json: bytes) -> bytes:
    return b'{"type":"' + type_.encode() + b'","object":' + obj_json + b"}\n"


def _error_event(err: ApiError) -> bytes:
    """An ERROR event: its Status is never a Table (kube-apiserver passes it through)."""
    return _event("ERROR", dumps(err.status()))
