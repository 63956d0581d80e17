"""Mirrored copies in the local datastore: how a peer's object becomes a local copy, and the
one place that writes copies (through ``ResourceStore``, as the federation controller).

A peer's GlobalNetworkSet ``x`` is mirrored as GlobalNetworkSet ``<peer>.x``; its NetworkSet
``ns/x`` as NetworkSet ``ns/<peer>.x``; its endpoints as network sets
``<peer>.wep.<name>``/``<peer>.hep.<name>`` (endpoints.py). A network set whose name starts
with ``wep.``, ``hep.`` or ``set.`` is ``<peer>.set.<name>``, so no two peer objects share a
copy name. A copy carries the peer's labels plus ``federation.projectcalico.org/cluster:
<peer>``, the peer's annotations, and the origin annotations below (the origin kind tells a
peer's network set copies from its endpoints' copies in the same local kind). Only objects
that carry our cluster label for this peer are ever changed or deleted here: a local object
that owns a copy's name wins. A copy is written when it would say something new, and never
goes back in time: it is not replaced by a copy of an older version (lower origin
resourceVersion) of the same origin object. (A peer's revisions only grow; restore a peer's
etcd from a snapshot with ``--bump-revision``, as for Kubernetes.)

What the local store says about a write is one of three things: the object is refused
(``REJECTED``: invalid, or too large for etcd — the object is reported, never written, and
nothing is retried), the name changed hands meanwhile (look again), or the datastore itself is
in trouble (out of space, unreachable, a lost answer): raised, so the syncer reports the peer
as Failed with that reason and retries with backoff.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable, TypeVar

from calicomodel.catalog import API_VERSION, KINDS, Kind
from calicomodel.errors import AlreadyExists, BadRequest, Conflict, Invalid, NotFound, TooLarge
from calicomodel.formats import IPNetwork, is_digits, parse_cidr
from calicomodel.stored import dumps

from ..resources.store import ResourceStore
from .ownership import CONTROLLER, FEDERATION_LABEL, owner

ANNOTATION_PREFIX = "federation.projectcalico.org/"
ORIGIN_NAME = ANNOTATION_PREFIX + "origin-name"
ORIGIN_UID = ANNOTATION_PREFIX + "origin-uid"
ORIGIN_REVISION = ANNOTATION_PREFIX + "origin-resource-version"
ORIGIN_KIND = ANNOTATION_PREFIX + "origin-kind"
ESCAPE = "set"        # <peer>.set.<name>: a network set whose name could look like another's
RESERVED = frozenset({ESCAPE} | {k.strategy.federation.endpoint for k in KINDS
                                 if k.strategy.federation and k.strategy.federation.endpoint})

Key = tuple[str | None, str]      # (namespace, local name)
T = TypeVar("T")
MAX_PASSES = 5      # list-and-delete rounds of remove_all before it gives up (for now)
REJECTED = (Invalid, BadRequest, TooLarge)   # the store's answers about one object itself


class ImportRejected(ValueError):
    """A peer object that cannot be mirrored (missing name, foreign shape, …)."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one write: ``written`` (created, replaced or deleted), ``unchanged``,
    ``conflict`` (a local object owns the name) or ``invalid`` (the store refused it)."""

    result: str
    message: str = ""


def endpoint_infix(kind: Kind) -> str:
    """The copy-name infix of an endpoint kind (``wep``, ``hep``); "" for any other."""
    return kind.strategy.federation.endpoint if kind.strategy.federation else ""


def copy_name(peer: str, kind: Kind, name: str) -> str:
    """The local name of the peer's ``kind`` object ``name`` (see the module doc)."""
    infix = endpoint_infix(kind)
    head, dot, _ = name.partition(".")
    if not infix and dot and head in RESERVED:
        infix = ESCAPE
    return f"{peer}.{infix}.{name}" if infix else f"{peer}.{name}"


def origin_kind(obj: dict) -> str:
    """The peer kind a copy mirrors (a copy written before the annotation: its own kind)."""
    return (obj["metadata"].get("annotations") or {}).get(ORIGIN_KIND) or obj.get("kind", "")


def checked(kind: Kind, obj: object) -> tuple[dict, dict, dict]:
    """``obj``'s labels, annotations and spec, when it is a mirrorable object of ``kind``;
    raises ImportRejected otherwise."""
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict) \
            or obj.get("kind") not in (None, kind.kind):
        raise ImportRejected(f"not a {kind.kind}")
    meta = obj["metadata"]
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not name:
        raise ImportRejected("metadata.name is missing")
    if kind.namespaced and (not isinstance(namespace, str) or not namespace):
        raise ImportRejected(f"{name}: metadata.namespace is missing")
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    if not string_map(labels) or not string_map(annotations):
        raise ImportRejected(f"{name}: labels and annotations must map strings to strings")
    if FEDERATION_LABEL in labels:
        raise ImportRejected(f"{name}: is itself a mirrored copy (never re-exported)")
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise ImportRejected(f"{name}: spec must be an object")
    return labels, annotations, spec or {}


def build_copy(peer: str, kind: Kind, obj: dict, labels: dict, annotations: dict,
               spec: dict) -> tuple[Key, dict]:
    """The copy of the peer's ``kind`` object ``obj`` (already ``checked``) with these labels,
    annotations and spec, and its key."""
    meta = obj["metadata"]
    namespace = meta.get("namespace") if kind.namespaced else None
    local = copy_name(peer, kind, meta["name"])
    out_meta: dict = {
        "name": local,
        "labels": {**labels, FEDERATION_LABEL: peer},
        "annotations": {**{k: v for k, v in annotations.items()
                           if not str(k).startswith(ANNOTATION_PREFIX)},
                        ORIGIN_NAME: meta["name"], ORIGIN_UID: str(meta.get("uid") or ""),
                        ORIGIN_REVISION: str(meta.get("resourceVersion") or ""),
                        ORIGIN_KIND: kind.kind}}
    if namespace is not None:
        out_meta["namespace"] = namespace
    copy = {"apiVersion": API_VERSION, "kind": kind.mirrored_as, "metadata": out_meta,
            "spec": spec}
    return (namespace, local), copy


def make_copy(peer: str, kind: Kind, obj: object) -> tuple[Key, dict]:
    """The local copy of the peer's network set ``obj`` and its key. Raises ImportRejected
    when ``obj`` is not a mirrorable object of ``kind``; never mutates ``obj``."""
    labels, annotations, spec = checked(kind, obj)
    return build_copy(peer, kind, obj, labels, annotations, dict(spec))  # type: ignore[arg-type]


def copy_bytes(obj: dict) -> int:
    """The size a copy counts against its peer's ``maxBytes``: the JSON of its name,
    namespace, labels, annotations and spec (what the peer decides; the server's own metadata
    adds about 150 bytes more in etcd)."""
    meta = obj["metadata"]
    return len(dumps([meta.get("name"), meta.get("namespace"), meta.get("labels"),
                      meta.get("annotations"), obj.get("spec")]))


def net_outside(copy: dict, allowed: tuple[IPNetwork, ...]) -> str | None:
    """The first net of ``copy`` that lies in none of ``allowed`` (nothing is outside an
    empty tuple); a net that is not a CIDR is left to validation."""
    if not allowed:
        return None
    nets = copy["spec"].get("nets")
    for net in nets if isinstance(nets, list) else ():
        cidr = parse_cidr(net)
        if cidr is not None and not any(cidr.version == a.version and cidr.network.subnet_of(a)
                                        for a in allowed):
            return net
    return None


def string_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                           for k, v in value.items())


def origin_revision(obj: dict) -> int | None:
    """The origin resourceVersion a copy was made of, or None when it is not a number."""
    text = (obj["metadata"].get("annotations") or {}).get(ORIGIN_REVISION)
    if isinstance(text, str) and len(text) <= 19 and is_digits(text):
        return int(text)
    return None


def is_newer(current: dict, copy: dict) -> bool:
    """True when ``current`` mirrors a later version of the same origin object than ``copy``."""
    a, b = current["metadata"].get("annotations") or {}, copy["metadata"]["annotations"]
    if a.get(ORIGIN_UID) != b[ORIGIN_UID] or a.get(ORIGIN_NAME) != b[ORIGIN_NAME]:
        return False
    have, given = origin_revision(current), origin_revision(copy)
    return have is not None and given is not None and have > given


async def run_all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Await all concurrently and return their results in order. If one raises, the others
    are cancelled and awaited before its exception is raised: nothing outlives the call."""
    tasks: list[asyncio.Task] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(a) for a in awaitables]  # type: ignore[arg-type]
    except ExceptionGroup as errors:
        first: BaseException = errors
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]


def same_copy(current: dict, copy: dict) -> bool:
    """True when ``current`` already says what ``copy`` says (labels, annotations, spec)."""
    a, b = current["metadata"], copy["metadata"]
    return all((a.get(f) or {}) == b[f] for f in ("labels", "annotations")) \
        and (current.get("spec") or {}) == copy["spec"]


class Sink:
    """Where a ``PeerSyncer`` puts what it mirrors of one peer kind: ``CopyWriter`` (copies in
    the local datastore) or a ``ProfileIndex`` (endpoints.py; in memory). ``wake`` is the
    syncer's: a sink calls it when it wants a relist soon (``relist_reason`` says why)."""

    kind: Kind
    copies = True           # what it holds are copies in the local datastore
    wake: Callable[[], None] = staticmethod(lambda: None)

    def make(self, obj: object) -> tuple[Key, dict]:
        """The key and copy of a peer object; raises ImportRejected."""
        raise NotImplementedError

    async def ready(self) -> None:
        """Wait, before a (re)list, until copies can be made."""

    def relist_reason(self) -> str | None:
        return None

    def synced(self) -> None:
        """The peer's full list is mirrored (after each relist)."""

    async def sync(self) -> None:
        """Catch up with every write acknowledged so far."""

    def owned(self) -> dict[Key, dict]:
        raise NotImplementedError

    def present(self, key: Key) -> bool:
        """Whether anything holds the copy's name."""
        raise NotImplementedError

    def holds(self, key: Key) -> bool:
        """Whether this sink's copy holds it."""
        raise NotImplementedError

    async def upsert(self, key: Key, copy: dict) -> Outcome:
        raise NotImplementedError

    async def create_many(self, items: list[tuple[Key, dict]]) -> list[Outcome]:
        return [await self.upsert(key, copy) for key, copy in items]

    async def remove(self, key: Key) -> Outcome:
        raise NotImplementedError

    async def remove_all(self) -> int:
        raise NotImplementedError


class CopyWriter(Sink):
    """Writes the copies of one peer's ``kind`` (as ``kind.mirrored_as``); every call goes
    through the store pipeline (defaults, validation, compare-and-swap), so an invalid object
    is never written."""

    def __init__(self, store: ResourceStore, peer: str, kind: Kind,
                 writes: asyncio.Semaphore) -> None:
        self.store, self.peer, self.kind, self.writes = store, peer, kind, writes
        self.target = store.catalog.kind(kind.mirrored_as)  # type: ignore[arg-type]

    def make(self, obj: object) -> tuple[Key, dict]:
        return make_copy(self.peer, self.kind, obj)

    async def sync(self) -> None:
        await self.store.cache.sync()

    def _mine(self, obj: dict | None) -> bool:
        return obj is not None and owner(obj) == self.peer and origin_kind(obj) == self.kind.kind

    def owned(self) -> dict[Key, dict]:
        """This peer's copies of the kind now in the local cache."""
        return {(e.namespace, e.name): obj for e in self.store.cache.entries(self.target)
                if self._mine(obj := e.obj)}

    def _entry(self, key: Key):
        return self.store.cache.entry(self.target, key[1], key[0])

    def present(self, key: Key) -> bool:
        return self._entry(key) is not None

    def holds(self, key: Key) -> bool:
        return self._mine(getattr(self._entry(key), "obj", None))

    async def upsert(self, key: Key, copy: dict) -> Outcome:
        """Create or replace the copy at ``key`` (``unchanged`` when it already mirrors this or
        a later version of the origin). Raises ApiError only for local outages."""
        namespace, name = key
        for _ in range(5):
            entry = self._entry(key)
            try:
                async with self.writes:
                    if entry is None:
                        await self.store.create(self.target, namespace, copy, actor=CONTROLLER)
                        return Outcome("written")
                    current = entry.obj
                    if not self._mine(current):
                        return Outcome("conflict", f"{show_key(key)} is owned by "
                                       f"{_owner_text(current)}")
                    if same_copy(current, copy) or is_newer(current, copy):
                        return Outcome("unchanged")
                    body = {**copy, "metadata": {**copy["metadata"],
                                                 "resourceVersion": str(entry.revision)}}
                    await self.store.replace(self.target, namespace, name, body,
                                             actor=CONTROLLER)
                    return Outcome("written")
            except (AlreadyExists, Conflict, NotFound):
                await self.store.cache.sync()
                continue
            except REJECTED as err:
                return Outcome("invalid", err.message)
        return Outcome("conflict", f"{show_key(key)} keeps changing under the federation "
                       "controller")

    async def create_many(self, items: list[tuple[Key, dict]]) -> list[Outcome]:
        """Create copies that do not exist yet, many per etcd transaction (the initial sync);
        a name taken meanwhile goes through ``upsert``. Raises ApiError for local outages."""
        async with self.writes:
            results = await self.store.create_many(
                self.target, [(key[0], copy) for key, copy in items], actor=CONTROLLER)
        outcomes = []
        for (key, copy), result in zip(items, results):
            if isinstance(result, dict):
                outcomes.append(Outcome("written"))
            elif isinstance(result, REJECTED):
                outcomes.append(Outcome("invalid", result.message))
            elif isinstance(result, AlreadyExists):
                outcomes.append(await self.upsert(key, copy))
            else:
                raise result
        return outcomes

    async def remove(self, key: Key) -> Outcome:
        """Delete the copy at ``key`` if it is this peer's copy."""
        namespace, name = key
        for _ in range(5):
            entry = self._entry(key)
            if entry is None or not self._mine(entry.obj):
                return Outcome("unchanged")
            try:
                async with self.writes:
                    await self.store.delete(self.target, namespace, name,
                                            resource_version=str(entry.revision),
                                            actor=CONTROLLER)
                return Outcome("written")
            except NotFound:
                return Outcome("unchanged")
            except Conflict:
                await self.store.cache.sync()
        return Outcome("conflict", f"{show_key(key)} keeps changing under the federation "
                       "controller")

    async def remove_all(self) -> int:
        """Delete every copy of this peer of the kind; return how many were deleted. Each
        round first catches the cache up with etcd, so copies whose writes were still in flight
        when the round before listed are found; it ends when a round finds none (or after
        MAX_PASSES rounds: the manager's periodic sweep finishes the job). Raises ApiError for
        local outages."""
        removed = 0
        for _ in range(MAX_PASSES):
            await self.store.cache.sync()
            owned = list(self.owned())
            if not owned:
                break
            results = await run_all(self.remove(k) for k in owned)
            removed += sum(r.result == "written" for r in results)
        return removed


def show_key(key: Key) -> str:
    return f"{key[0]}/{key[1]}" if key[0] else key[1]


def _owner_text(obj: dict) -> str:
    other = owner(obj)
    return f"a copy from cluster {other!r} of a {origin_kind(obj)}" if other \
        else "a local object"


__all__ = ["CopyWriter", "ImportRejected", "Key", "Outcome", "Sink", "build_copy", "checked",
           "copy_bytes", "copy_name", "endpoint_infix", "make_copy", "net_outside", "origin_kind",
           "run_all", "show_key", "string_map"]
