"""``ResourceStore``: THE pipeline every verb of every kind goes through.

Write order (fixed; the kind's ``Strategy`` supplies the per-kind parts, strategies.py):
request checks → system metadata → defaults (unknown fields dropped unless Strict) → validate
→ references → field ownership (``managedFields``, apply.py) → admission → the key and bytes
of the kind's layout (``Kind.layout``) → one etcd transaction, skipped when the update
changes nothing → wait until the cache holds the write.
Server-side apply merges its configuration into the stored object first (apply.py), then
takes the same path. Reads come from the watch-fed cache after it has caught up with etcd.
Storage failures become API errors through ``storage_errors``, the one interpreter every verb
uses.
"""
from __future__ import annotations

import asyncio
import copy
import datetime
import logging
import math
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from calicomodel import intake, unknown_fields
from calicomodel.catalog import GROUP, Catalog, Kind
from calicomodel.errors import (AlreadyExists, ApiError, BadRequest, Cause, Conflict, Forbidden,
                                Invalid, MethodNotAllowed, NotFound, ServiceUnavailable, Timeout)

from ..storage.interface import (KeyExists, KeyNotFound, KeyValue, RevisionConflict, Storage,
                                 StorageError)
from . import apply as ownership, patch as patches
from .cache import Entry, WatchCache, make_entry
from .continuation import ContinueTokens
from .storage_errors import api_error

log = logging.getLogger(__name__)

MAX_RETRIES = 200
PAGE = 500                # keys per etcd range of a paged list
TOO_LARGE_WAIT = 3.0      # seconds a read waits for a resourceVersion not reached yet
BATCH_OBJECTS = 128       # etcd's --max-txn-ops default: the puts of one transaction
BATCH_BYTES = 1_000_000   # etcd refuses requests over 1.5 MiB
LARGE_OBJECT = 256 * 1024  # objects at least this large are validated off the event loop


class Admission:
    """One step of the admission chain every request passes, as Kubernetes' admission
    plugins: rules that are not a kind's own (who may write federation copies, which files an
    RCC may name, what a peer may see). ``create_app`` registers them
    (``ResourceStore.admission``); each method's default lets everything pass."""

    def admit(self, kind: Kind, new: dict | None, old: dict | None, actor: Actor) -> None:
        """A write, after defaulting and validation (``new`` None on delete, ``old`` None on
        create): raise an ApiError to refuse it."""

    def visible(self, kind: Kind, actor: Actor) -> Callable[[dict], bool] | None:
        """Which objects of ``kind`` exist at all for ``actor`` (list, watch and get), or
        None for every one."""
        return None

    def yields(self, kind: Kind, existing: dict, actor: Actor) -> bool:
        """Whether ``existing`` gives its name up to ``actor``'s create of the same name
        (deleted first) rather than making it AlreadyExists."""
        return False


class Validating(Admission):
    """A validating admission step written as a function ``(kind, new, old, actor)``."""

    def __init__(self, admit: Callable[[Kind, "dict | None", "dict | None", "Actor"], None]) -> None:
        self.admit = admit  # type: ignore[method-assign]


class Validator(Protocol):
    def default(self, kind: str, obj: dict) -> None: ...

    def validate(self, kind: str, obj: dict) -> list[Cause]: ...

    def validate_update(self, kind: str, old: dict, new: dict) -> list[Cause]: ...

    def schema(self, kind: str) -> dict: ...


@dataclass(frozen=True)
class Actor:
    """Who is asking. ``internal``: a part of this server (never a request's user), which
    may write the statuses only the server writes (``Kind.server_status``)."""

    user: str = "system:anonymous"
    groups: frozenset[str] = frozenset()
    internal: bool = False


SYSTEM = Actor("system:apiserver", internal=True)


@dataclass(frozen=True)
class WriteOptions:
    """How a request writes: its field manager (``managedFields``; None for the server's
    own writes, which own nothing), what becomes of fields the schema does not declare
    (``fieldValidation``: Strict refuses them, Warn drops them with a warning, Ignore drops
    them), and whether an apply takes fields other managers own (``force``). ``warnings``
    is appended to: the Warning headers the response carries."""

    manager: str | None = None
    validation: str = "Strict"
    force: bool = False
    warnings: list[str] = field(default_factory=list, compare=False)


SERVER_WRITE = WriteOptions()   # Strict: never collects warnings, so it can be shared


@dataclass(frozen=True)
class ListOptions:
    label_selector: Callable[[dict], bool] | None = None
    field_selector: Callable[[dict], bool] | None = None
    selector: Callable[[dict], bool] | None = None
    limit: int = 0
    continue_token: str = ""
    resource_version: int | None = None  # None: current; 0: any; N: not older than N
    exact: bool = False                  # resourceVersionMatch=Exact: the state at N
    selectors: tuple[str, ...] = ()      # the selector texts, which a continue token is bound to


@dataclass(frozen=True)
class ListPage:
    """A list's entries (each with its JSON) at one revision."""

    entries: list[Entry]
    revision: int
    continue_token: str = ""


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ident(kind: Kind, name: str, namespace: str | None) -> str:
    return f"{kind.plural}.{GROUP} \"{name}\"" + (f" in namespace \"{namespace}\"" if namespace else "")


class ResourceStore:
    def __init__(self, storage: Storage, cache: WatchCache, validator: Validator,
                 catalog: Catalog) -> None:
        self.storage, self.cache, self.validator, self.catalog = storage, cache, validator, catalog
        self.tokens = ContinueTokens(storage)
        self.admission: list[Admission] = []
        self._shapes: dict[str, ownership.Shape] = {}

    # -- reads -----------------------------------------------------------------------------
    async def get(self, kind: Kind, name: str, namespace: str | None = None,
                  actor: Actor = SYSTEM) -> Entry:
        """The current version of an object (its ``obj``, and its JSON encoded once), as far
        as the admission chain lets ``actor`` see it."""
        if kind.strategy.is_virtual(name):
            entry: Entry | None = self._virtual(kind, None, lambda _: True)[0]
        else:
            await self.cache.sync()
            entry = self.cache.entry(kind, name, namespace)
        if entry is None or not all(test(entry.obj) for test in self._visibility(kind, actor)):
            raise NotFound(f"{ident(kind, name, namespace)} not found", kind=kind.kind, name=name)
        return entry

    async def list(self, kind: Kind, namespace: str | None, options: ListOptions,
                   actor: Actor = SYSTEM) -> ListPage:
        """A list with Kubernetes' resourceVersion semantics: none = the current state (the
        cache, after catching up with etcd); ``0`` = whatever the cache holds; ``N`` = a state
        not older than N (waiting briefly for it, then 504 "Too large resource version");
        ``N`` with ``exact`` = the state at revision N, read from etcd (410 once compacted).
        Pages (``limit``/``continue``) are read from etcd at one snapshot revision."""
        matches = self.filter_for(kind, options, actor)
        rv = options.resource_version
        if rv:
            await self._reach(rv)
        if options.exact or options.limit or options.continue_token:
            return await self._list_page(kind, namespace, options, matches)
        if rv is None:
            await self.cache.sync()
        else:
            await self.cache.primed()
        revision = self.cache.revision
        entries = [e for e in self.cache.entries(kind, namespace) if matches(e)]
        return ListPage(entries + self._virtual(kind, namespace, matches), revision)

    async def _reach(self, revision: int) -> None:
        """Wait (at most TOO_LARGE_WAIT) for the cache to reach ``revision``; a revision this
        datastore has not reached by then is kube-apiserver's 504 "Too large resource
        version", which clients retry."""
        await self.cache.primed()
        try:
            await self.cache.wait_for(revision, timeout=TOO_LARGE_WAIT)
        except ServiceUnavailable:
            raise Timeout(f"Too large resource version: {revision}, current: "
                          f"{self.cache.revision}", causes=[Cause(
                              "", "Too large resource version", "ResourceVersionTooLarge")],
                          retry_after=1) from None

    @staticmethod
    def _virtual(kind: Kind, namespace: str | None, matches: Callable[[Entry], bool]) -> list[Entry]:
        """The kind's built-in virtual object, when a list should show it (after the stored
        ones, on a list's last page)."""
        virtual = kind.strategy.virtual
        obj = virtual() if virtual is not None and namespace is None else None
        if obj is None:
            return []
        entry = Entry.of(kind, "", None, obj["metadata"]["name"], obj, 0, 0)
        return [entry] if matches(entry) else []

    def filter_for(self, kind: Kind, options: ListOptions, actor: Actor) -> Callable[[Entry], bool]:
        """The list/watch predicate over entries: selectors (which read only names and
        labels), and what the admission chain lets ``actor`` see (which decodes)."""
        tests: list[Callable[[Entry], bool]] = []
        if options.field_selector:
            tests.append(lambda e, f=options.field_selector: f(e.fields()))
        for selector in (options.label_selector, options.selector):
            if selector:
                tests.append(lambda e, f=selector: f(e.labels or {}))
        visible = self._visibility(kind, actor)
        if visible:
            def seen(entry: Entry) -> bool:
                obj = entry.obj
                return all(test(obj) for test in visible)
            tests.append(seen)
        return lambda e: all(t(e) for t in tests)

    def _visibility(self, kind: Kind, actor: Actor) -> list[Callable[[dict], bool]]:
        return [test for step in self.admission if (test := step.visible(kind, actor))]

    async def _list_page(self, kind: Kind, namespace: str | None, options: ListOptions,
                         matches: Callable[[Entry], bool]) -> ListPage:
        """A page read from etcd at one revision, so every page belongs to one snapshot: the
        kind's key ranges in order (``Layout.prefixes``). The continue token is bound to this
        list (kind, namespace, selectors)."""
        prefixes = list(kind.layout.prefixes(namespace))
        scope = "\n".join((kind.plural, namespace or "", *options.selectors))
        revision = options.resource_version if options.exact else 0
        start: str | None = None
        if options.continue_token:
            revision, start = await self.tokens.decode(scope, tuple(prefixes),
                                                       options.continue_token)
            while not start.startswith(prefixes[0]):
                prefixes.pop(0)
        limit = options.limit or math.inf
        items: list[Entry] = []
        while prefixes and len(items) < limit:
            try:
                page = await self.storage.list(prefixes[0], revision=revision, start=start,
                                               limit=min(limit - len(items), PAGE))
            except StorageError as err:
                raise api_error(err, reading=True) from None
            revision = revision or page.revision
            for kv in page.items:
                entry = make_entry(kind, kv.key, kv.value, kv.mod_revision, kv.create_revision)
                if entry is not None and matches(entry):
                    items.append(entry)
            if page.more and page.items:
                start = page.items[-1].key + "\0"
            else:
                prefixes.pop(0)
                start = None
        if prefixes:
            return ListPage(items, revision, await self.tokens.encode(
                scope, revision, start or prefixes[0]))
        items += self._virtual(kind, namespace, matches)
        return ListPage(items, revision)

    # -- writes ----------------------------------------------------------------------------
    async def create(self, kind: Kind, namespace: str | None, body: Any, *, dry_run: bool = False,
                     actor: Actor = SYSTEM, options: WriteOptions = SERVER_WRITE) -> dict:
        obj = await self._object_to_create(kind, namespace, body, actor, options)
        return await self._insert(kind, namespace, obj, dry_run=dry_run, actor=actor)

    async def _insert(self, kind: Kind, namespace: str | None, obj: dict, *, dry_run: bool,
                      actor: Actor) -> dict:
        """Write a new object (from ``_object_to_create``): AlreadyExists when its name is taken."""
        name, key = obj["metadata"]["name"], intake.placed_key(kind, obj)
        if dry_run:
            await self.cache.sync()
            if self.cache.entry(kind, name, namespace) is not None:
                raise AlreadyExists(f"{ident(kind, name, namespace)} already exists",
                                    kind=kind.kind, name=name)
            return obj
        value = kind.layout.encode(obj)
        for _ in range(MAX_RETRIES):
            try:
                revision = await self.storage.create(key, value)
                return await self._written(kind, key, obj, value, revision, revision)
            except KeyExists as err:
                if not await self._yielded(kind, err.current, actor):
                    raise AlreadyExists(f"{ident(kind, name, namespace)} already exists",
                                        kind=kind.kind, name=name) from None
            except StorageError as err:
                raise api_error(err) from None
        raise Conflict(f"{ident(kind, name, namespace)}: gave up after {MAX_RETRIES} conflicting "
                       "concurrent writes", kind=kind.kind, name=name)

    async def _yielded(self, kind: Kind, current: KeyValue | None, actor: Actor) -> bool:
        """Delete ``current`` when an admission step says it gives its name up to ``actor``
        (a federation copy to a local object); False when it keeps it."""
        try:
            existing = kind.layout.decode(current.key, current.value, current.mod_revision,
                                          current.create_revision) \
                if current is not None else None
        except ValueError:
            return False
        if existing is None or not any(step.yields(kind, existing, actor)
                                       for step in self.admission):
            return False
        try:
            await self.storage.delete(current.key, expect_revision=current.mod_revision)
        except (KeyNotFound, RevisionConflict):
            pass          # changed meanwhile: the create is tried again
        except StorageError as err:
            raise api_error(err) from None
        return True

    async def create_many(self, kind: Kind, bodies: list[tuple[str | None, Any]], *,
                          actor: Actor = SYSTEM) -> list[dict | ApiError]:
        """Create several objects of one kind: each goes through the same pipeline as
        ``create``, then up to ``BATCH_OBJECTS`` (or ``BATCH_BYTES``) of them are written in
        one etcd transaction. A transaction that finds any of its keys present is not applied;
        its objects are then created one by one. Returns, per body, the object or its error."""
        results: list[dict | ApiError | None] = [None] * len(bodies)
        ready: list[_Ready] = []
        for i, (namespace, body) in enumerate(bodies):
            try:
                obj = await self._object_to_create(kind, namespace, body, actor, SERVER_WRITE)
                ready.append(_Ready(i, obj, intake.placed_key(kind, obj),
                                    kind.layout.encode(obj)))
            except ApiError as err:
                results[i] = err
        for chunk in _chunks(ready):
            try:
                revision = await self.storage.create_many([(r.key, r.value) for r in chunk])
            except KeyExists:
                for r in chunk:
                    results[r.index] = await self._create_or_error(kind, bodies[r.index], actor)
                continue
            except StorageError as err:
                for r in chunk:
                    results[r.index] = api_error(err)
                continue
            for r in chunk:
                results[r.index] = await self._written(kind, r.key, r.obj, r.value, revision,
                                                       revision)
        return results  # type: ignore[return-value]

    async def _create_or_error(self, kind: Kind, item: tuple[str | None, Any],
                               actor: Actor) -> dict | ApiError:
        try:
            return await self.create(kind, item[0], item[1], actor=actor)
        except ApiError as err:
            return err

    async def _object_to_create(self, kind: Kind, namespace: str | None, body: Any, actor: Actor,
                   options: WriteOptions, *, applied: bool = False) -> dict:
        """A new object ready to write: request checks, server metadata, defaults,
        validation, references, field ownership (already ``applied`` for a server-side
        apply). Raises ApiError."""
        obj, size = intake.checked_body(kind, namespace, body)
        name = obj["metadata"]["name"]
        self._check_writable("Create", kind, name, namespace, actor)
        if kind.strategy.is_virtual(name):
            raise AlreadyExists(f"{ident(kind, name, namespace)} already exists (it is built in)",
                                kind=kind.kind, name=name)
        intake.refuse_server_fields(kind, obj)
        if kind.server_status and not actor.internal:
            obj.pop("status", None)
        obj["metadata"]["uid"] = str(uuid.uuid4())
        obj["metadata"]["creationTimestamp"] = now()
        await self._prepare(kind, obj, None, size, options)
        if not applied:
            self._record(kind, None, obj, options, None)
        self._admit(kind, obj, None, actor)
        return obj

    async def replace(self, kind: Kind, namespace: str | None, name: str, body: Any, *,
                      dry_run: bool = False, actor: Actor = SYSTEM,
                      subresource: str | None = None,
                      options: WriteOptions = SERVER_WRITE) -> dict:
        obj = self._named_body(kind, namespace, name, body)

        def change(current: dict) -> dict:
            return obj
        return await self._update(kind, namespace, name, change, dry_run=dry_run, actor=actor,
                                  subresource=subresource, verb="Update", options=options)

    async def patch(self, kind: Kind, namespace: str | None, name: str, content_type: str,
                    document: Any, *, dry_run: bool = False, actor: Actor = SYSTEM,
                    subresource: str | None = None,
                    options: WriteOptions = SERVER_WRITE) -> dict:

        def change(current: dict) -> dict:
            return patches.apply(content_type, current, document)
        return await self._update(kind, namespace, name, change, dry_run=dry_run, actor=actor,
                                  subresource=subresource, verb="Patch", options=options)

    async def apply(self, kind: Kind, namespace: str | None, name: str, config: Any, *,
                    options: WriteOptions, dry_run: bool = False, actor: Actor = SYSTEM,
                    subresource: str | None = None) -> tuple[dict, bool]:
        """Server-side apply of ``config`` by ``options.manager`` (apply.py): the stored
        object with the configuration merged in, written as an update, or created (then
        True) when there is none. Raises Conflict naming the fields other managers own
        unless ``options.force``; unknown fields of the configuration are handled as
        ``options.validation`` says."""
        body = self._named_body(kind, namespace, name, config)
        self._unknown(kind, body, options)
        writer = ownership.Writer(options.manager or "", subresource or "", kind.status)
        shape = self._shape(kind)
        for _ in range(MAX_RETRIES):
            try:
                return await self._update(
                    kind, namespace, name, lambda current: ownership.applied(
                        shape, current, body, writer, now(), force=options.force),
                    dry_run=dry_run, actor=actor, subresource=subresource, verb="Patch",
                    options=options, applied=True), False
            except NotFound:
                if subresource:
                    raise
            obj = await self._object_to_create(kind, namespace, ownership.applied(
                shape, None, body, writer, now(), force=options.force), actor, options,
                applied=True)
            try:
                return await self._insert(kind, namespace, obj, dry_run=dry_run,
                                          actor=actor), True
            except AlreadyExists:
                continue     # created meanwhile: apply to it
        raise Conflict(f"{ident(kind, name, namespace)}: gave up after {MAX_RETRIES} conflicting "
                       "concurrent writes", kind=kind.kind, name=name)

    def _named_body(self, kind: Kind, namespace: str | None, name: str, body: Any) -> dict:
        """``intake.checked_body`` of an object written at ``name``: BadRequest when its own name
        differs."""
        obj, _ = intake.checked_body(kind, namespace, body)
        if obj["metadata"]["name"] != name:
            raise BadRequest(f"the name of the object ({obj['metadata']['name']}) does not match "
                             f"the name on the URL ({name})", kind=kind.kind, name=name)
        return obj

    async def _update(self, kind: Kind, namespace: str | None, name: str,
                      change: Callable[[dict], dict], *, dry_run: bool, actor: Actor,
                      subresource: str | None, verb: str, options: WriteOptions,
                      applied: bool = False) -> dict:
        """Read-modify-write with compare-and-swap on mod_revision. ``change`` maps the
        current object (with its resourceVersion) to the new one (with its managedFields
        when ``applied``); a new object whose resourceVersion differs from the current one
        is pinned to it: that is a conflict (after catching up with etcd once, in case this
        server's cache is behind). So a replace without a resourceVersion, or a patch that
        leaves it alone, is retried on conflict, and one that pins a version never is. A new
        object the same as the current one is not written: the current one is returned,
        resourceVersion and all."""
        self._check_writable(verb, kind, name, namespace, actor, reserved=False)
        if kind.strategy.is_virtual(name):
            raise _not_supported(verb, kind, name, namespace)
        if subresource == "status" and kind.server_status and not actor.internal:
            raise Forbidden(f"the status of {kind.kind} \"{name}\" is written by the server "
                            "only", kind=kind.kind, name=name)
        caught_up = False
        for _ in range(MAX_RETRIES):
            current = await self._current(kind, name, namespace, None)
            if current is None:
                raise NotFound(f"{ident(kind, name, namespace)} not found",
                               kind=kind.kind, name=name)
            new = change(copy.deepcopy(current.obj))
            pinned = _resource_version(kind, new)
            if pinned is not None and pinned != str(current.revision):
                if not caught_up:
                    await self.cache.sync()
                    caught_up = True
                    continue
                raise _conflict(kind, name, namespace, pinned, current.revision)
            obj, size = self._object_to_update(kind, current, new, subresource)
            if kind.read_only and actor is not SYSTEM:
                _check_patchable(kind, current.obj, obj)
            await self._prepare(kind, obj, current.obj, size, options)
            if not applied:
                self._record(kind, current.obj, obj, options, subresource)
            self._admit(kind, obj, current.obj, actor)
            intake.placed_key(kind, obj, at=current.key)
            if ownership.same_object(obj, current.obj):
                return current.obj
            value = kind.layout.encode(obj)
            if not kind.layout.lossless and value == kind.layout.encode(current.obj):
                return current.obj     # it differs only in what the layout does not store
            if dry_run:
                obj["metadata"]["resourceVersion"] = str(current.revision)
                return obj
            try:
                revision = await self.storage.update(current.key, value,
                                                     expect_revision=current.revision)
            except KeyNotFound:
                raise NotFound(f"{ident(kind, name, namespace)} not found",
                               kind=kind.kind, name=name) from None
            except RevisionConflict as err:
                await self.cache.wait_for(err.current.mod_revision)
                continue
            except StorageError as err:
                raise api_error(err) from None
            return await self._written(kind, current.key, obj, value, revision,
                                       current.create_revision)
        raise Conflict(f"{ident(kind, name, namespace)}: gave up after {MAX_RETRIES} conflicting "
                       "concurrent updates", kind=kind.kind, name=name)

    def _object_to_update(self, kind: Kind, current: Entry, new: Any,
                subresource: str | None) -> tuple[dict, int]:
        """The object to write and the size of what was asked: request checks, server-owned
        metadata kept from ``current``, and spec/status separated for kinds with a status
        subresource (a status write takes status and managedFields from ``new``)."""
        obj, size = intake.checked_body(kind, current.namespace, new)
        if obj["metadata"]["name"] != current.name:
            raise BadRequest("metadata.name cannot be changed", kind=kind.kind, name=current.name)
        old_meta, meta = current.obj["metadata"], obj["metadata"]
        wrong = [f for f in ("uid", "creationTimestamp", "generation")
                 if meta.get(f) not in (None, "") and meta.get(f) != old_meta.get(f)]
        if wrong:
            raise Invalid(f"{kind.kind}.{GROUP} \"{current.name}\" is invalid: server-owned "
                          "fields cannot be changed", kind=kind.kind, name=current.name,
                          causes=[Cause(f"metadata.{f}", f"{f} is set by the server and must be "
                                        f"left out or equal {old_meta.get(f)!r}",
                                        "FieldValueForbidden") for f in wrong])
        for f in ("uid", "creationTimestamp", "generation"):
            if f in old_meta:
                meta[f] = old_meta[f]
        meta.pop("resourceVersion", None)
        if kind.status:
            if subresource == "status":
                status, managed = obj.get("status"), meta.get("managedFields")
                obj = copy.deepcopy(current.obj)
                obj["metadata"].pop("resourceVersion", None)
                if managed is not None:
                    obj["metadata"]["managedFields"] = managed
                if status is None:
                    obj.pop("status", None)
                else:
                    obj["status"] = status
            elif "status" in current.obj:
                obj["status"] = copy.deepcopy(current.obj["status"])
            else:
                obj.pop("status", None)
        return obj, size

    async def delete(self, kind: Kind, namespace: str | None, name: str, *,
                     resource_version: str | None = None, uid: str | None = None,
                     dry_run: bool = False, actor: Actor = SYSTEM) -> dict:
        """Delete, under the preconditions given (resourceVersion, uid: 409 when the object
        differs). A uid precondition deletes exactly the version it was checked on."""
        self._check_writable("Delete", kind, name, namespace, actor)
        if kind.strategy.is_virtual(name):
            raise _not_supported("Delete", kind, name, namespace)
        for _ in range(MAX_RETRIES):
            current = await self._current(kind, name, namespace, resource_version)
            if current is None:
                raise NotFound(f"{ident(kind, name, namespace)} not found",
                               kind=kind.kind, name=name)
            if resource_version and resource_version != str(current.revision):
                raise _conflict(kind, name, namespace, resource_version, current.revision)
            if uid and uid != current.obj["metadata"].get("uid"):
                raise Conflict(f"Precondition failed: UID in precondition: {uid}, UID in object "
                               f"meta: {current.obj['metadata'].get('uid')}",
                               kind=kind.kind, name=name)
            for check in kind.strategy.delete_checks:
                check(self.cache, current.obj)
            self._admit(kind, None, current.obj, actor)
            if dry_run:
                return current.obj
            expect = int(resource_version) if resource_version else \
                current.revision if uid else 0
            try:
                prev = await self.storage.delete(current.key, expect_revision=expect)
            except KeyNotFound:
                raise NotFound(f"{ident(kind, name, namespace)} not found",
                               kind=kind.kind, name=name) from None
            except RevisionConflict as err:
                if resource_version:
                    raise _conflict(kind, name, namespace, resource_version,
                                    err.current.mod_revision) from None
                await self.cache.wait_for(err.current.mod_revision)
                continue
            except StorageError as err:
                raise api_error(err) from None
            await self._caught_up(prev.mod_revision)
            return kind.layout.decode(prev.key, prev.value, prev.mod_revision,
                                      prev.create_revision)
        raise Conflict(f"{ident(kind, name, namespace)}: gave up after {MAX_RETRIES} conflicting "
                       "concurrent updates", kind=kind.kind, name=name)

    # -- pipeline steps --------------------------------------------------------------------

    @staticmethod
    def _check_writable(verb: str, kind: Kind, name: str, namespace: str | None,
                        actor: Actor, *, reserved: bool = True) -> None:
        """MethodNotAllowed for read-only kinds and (on create/delete) reserved names; an
        update of a reserved name finds nothing, as in libcalico-go."""
        if kind.read_only and actor is not SYSTEM and not (verb == "Patch" and
                                                           kind.strategy.patchable):
            raise _not_supported(verb, kind, name, namespace)
        rule = kind.strategy.reserved
        why = rule(name) if reserved and rule is not None else None
        if why:
            raise _not_supported(verb, kind, name, namespace, why)

    async def _current(self, kind: Kind, name: str, namespace: str | None,
                       pinned: str | None) -> Entry | None:
        """The cached object, after catching up with etcd when the cache looks behind (absent,
        or older than the version the client pinned): writes skip that round trip otherwise,
        because their compare-and-swap catches a stale read anyway."""
        current = self.cache.entry(kind, name, namespace)
        if current is None or (pinned is not None and pinned != str(current.revision)):
            await self.cache.sync()
            current = self.cache.entry(kind, name, namespace)
        return current

    async def _prepare(self, kind: Kind, obj: dict, old: dict | None, size: int,
                       options: WriteOptions) -> None:
        """Defaults, unknown fields (``_unknown``, unless Strict, when validation refuses
        them), validation (all causes at once), then the rules about other objects
        (``Strategy.references``, re-checked after catching up with etcd before a refusal, as
        another server may have just written what the rule needs). A large object (``size``
        bytes of JSON) is defaulted and validated in a thread, which the event loop then
        shares the interpreter with, so other requests keep being answered meanwhile."""
        if size > LARGE_OBJECT:
            causes = await asyncio.to_thread(self._validated, kind, obj, old, options)
        else:
            causes = self._validated(kind, obj, old, options)
        intake.refuse_invalid(kind, obj, causes)
        for reference in kind.strategy.references:
            try:
                reference(self.cache, obj, old)
            except ApiError:
                await self.cache.sync()
                reference(self.cache, obj, old)

    def _validated(self, kind: Kind, obj: dict, old: dict | None,
                   options: WriteOptions) -> list[Cause]:
        """Default ``obj`` in place, drop its unknown fields unless Strict, and return why
        it is invalid (nothing when it is valid)."""
        self.validator.default(kind.kind, obj)
        if options.validation != "Strict":
            self._unknown(kind, obj, options)
        return self.validator.validate(kind.kind, obj) if old is None else \
            self.validator.validate_update(kind.kind, old, obj)

    def _unknown(self, kind: Kind, obj: dict, options: WriteOptions) -> None:
        """The fields of ``obj`` the kind's schema does not declare: refused (Strict:
        BadRequest naming them), or dropped, with a warning each (Warn) or silently (Ignore)."""
        fields = unknown_fields.drop(self.validator.schema(kind.kind), obj)
        if fields and options.validation == "Strict":
            causes = [Cause(f, f'unknown field "{f}"', "FieldUnknown") for f in fields]
            raise intake.strict_error(kind, obj["metadata"].get("name"), causes, causes)
        if options.validation == "Warn":
            options.warnings.extend(f'unknown field "{f}"' for f in fields)

    def _record(self, kind: Kind, live: dict | None, obj: dict, options: WriteOptions,
                subresource: str | None) -> None:
        """Field ownership of a create or update (apply.py): what it changed goes to the
        request's field manager; the server's own writes keep the ownership there is."""
        writer = None if options.manager is None else \
            ownership.Writer(options.manager, subresource or "", kind.status)
        ownership.record_update(self._shape(kind), live, obj, writer, now())

    def _shape(self, kind: Kind) -> ownership.Shape:
        if kind.kind not in self._shapes:
            self._shapes[kind.kind] = ownership.shape_of(self.validator.schema(kind.kind))
        return self._shapes[kind.kind]

    def _admit(self, kind: Kind, new: dict | None, old: dict | None, actor: Actor) -> None:
        for step in self.admission:
            step.admit(kind, new, old, actor)

    async def _written(self, kind: Kind, key: str, obj: dict, value: bytes, revision: int,
                       create_revision: int) -> dict:
        """What a read of the write gives, once the cache holds it: this request's private
        copy, or for a lossy layout (``Layout.lossless``) the stored ``value`` decoded."""
        await self._caught_up(revision)
        if not kind.layout.lossless:
            return kind.layout.decode(key, value, revision, create_revision)
        obj["metadata"]["resourceVersion"] = str(revision)
        return obj

    async def _caught_up(self, revision: int) -> None:
        """Wait for the cache to hold the write etcd acknowledged at ``revision``. A cache that
        cannot catch up (etcd lost just after the write) does not make the write fail: it
        is done, and reads wait for the cache themselves."""
        try:
            await self.cache.wait_for(revision)
        except ServiceUnavailable as err:
            log.warning("acknowledged write at revision %d is not in the cache yet: %s",
                        revision, err.message)

    async def ensure(self, objects: Iterable[dict]) -> None:
        """Create each object unless one of that name exists (built-ins at start)."""
        for obj in objects:
            kind = self.catalog.kind(obj["kind"])
            try:
                await self.create(kind, obj["metadata"].get("namespace"), obj)
            except AlreadyExists:
                pass


def _check_patchable(kind: Kind, old: dict, new: dict) -> None:
    """MethodNotAllowed, as for any other write of a read-only kind, when a patch changes
    more than its ``patchable`` fields."""
    forbidden = kind.strategy.unpatchable_changes(old, new)
    if forbidden:
        allowed = ", ".join(f"spec.{f}" for f in kind.strategy.patchable)
        raise _not_supported("Patch", kind, old["metadata"]["name"], None,
                             f"it is read-only but for {allowed} (this patch changes "
                             f"{', '.join(forbidden)})")


def _resource_version(kind: Kind, obj: Any) -> str | None:
    """The resourceVersion an object carries (None when absent or empty); BadRequest when it
    is not a string, as Kubernetes' decoding of ObjectMeta refuses."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
    if rv is not None and not isinstance(rv, str):
        raise BadRequest(f"metadata.resourceVersion must be a string, not {rv!r}", kind=kind.kind)
    return rv or None


@dataclass(frozen=True, slots=True)
class _Ready:
    """An object of a batch create, ready to write."""

    index: int
    obj: dict
    key: str
    value: bytes


def _chunks(items: list[_Ready]) -> Iterable[list[_Ready]]:
    """Runs of at most BATCH_OBJECTS items and BATCH_BYTES of values (etcd's txn limits)."""
    chunk: list[_Ready] = []
    size = 0
    for item in items:
        if chunk and (len(chunk) >= BATCH_OBJECTS or size + len(item.value) > BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += len(item.value)
    if chunk:
        yield chunk


def _conflict(kind: Kind, name: str, namespace: str | None, given: str, latest: int) -> Conflict:
    return Conflict(f"Operation cannot be fulfilled on {ident(kind, name, namespace)}: the object "
                    f"has been modified (resourceVersion {given} is out of date, latest is "
                    f"{latest}); please apply your changes to the latest version and try again",
                    kind=kind.kind, name=name)


def _not_supported(verb: str, kind: Kind, name: str, namespace: str | None,
                   reason: str = "") -> ApiError:
    target = f"{namespace}/{name}" if namespace else name
    return MethodNotAllowed(f"operation {verb} is not supported on {kind.kind}({target})"
                            + (f": {reason}" if reason else ""), kind=kind.kind, name=name)
