"""Mirrored copies in the local datastore: how a peer's object becomes a local copy, and the
one place that writes copies (through ``ResourceStore``, as the federation controller).

A peer's GlobalNetworkSet ``x`` is mirrored as GlobalNetworkSet ``<peer>.x``; its NetworkSet
``ns/x`` as NetworkSet ``ns/<peer>.x``. A copy carries the peer's labels plus
``federation.projectcalico.org/cluster: <peer>``, the peer's annotations, and the origin
annotations below. Only objects that carry our cluster label for this peer are ever changed or
deleted here: a local object that owns a copy's name wins. A copy never goes back in time: it
is not replaced by a copy of an older version (lower origin resourceVersion) of the same
origin object. (A peer's revisions only grow; restore a peer's etcd from a snapshot with
``--bump-revision``, as for Kubernetes.)

What the local store says about a write is one of three things: the object is refused
(``REJECTED``: invalid, or too large for etcd — the object is reported, never written, and
nothing is retried), the name changed hands meanwhile (look again), or the datastore itself is
in trouble (out of space, unreachable, a lost answer): raised, so the syncer reports the peer
as Failed with that reason and retries with backoff.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Iterable, TypeVar

from ..resources.catalog import API_VERSION, Kind
from ..resources.codec import dumps
from ..resources.errors import (AlreadyExists, BadRequest, Conflict, Invalid,
                                NotFound, TooLarge)
from ..resources.formats import IPNetwork, parse_cidr
from ..resources.store import ResourceStore
from .ownership import CONTROLLER, FEDERATION_LABEL, owner

ANNOTATION_PREFIX = "federation.projectcalico.org/"
ORIGIN_NAME = ANNOTATION_PREFIX + "origin-name"
ORIGIN_UID = ANNOTATION_PREFIX + "origin-uid"
ORIGIN_REVISION = ANNOTATION_PREFIX + "origin-resource-version"

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


def copy_name(peer: str, name: str) -> str:
    return f"{peer}.{name}"


def make_copy(peer: str, kind: Kind, obj: dict) -> tuple[Key, dict]:
    """The local copy of peer object ``obj`` and its key. Raises ImportRejected when ``obj`` is
    not a mirrorable object of ``kind``; never mutates ``obj``."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or obj.get("kind") not in (None, kind.kind):
        raise ImportRejected(f"not a {kind.kind}")
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not name:
        raise ImportRejected("metadata.name is missing")
    if kind.namespaced and (not isinstance(namespace, str) or not namespace):
        raise ImportRejected(f"{name}: metadata.namespace is missing")
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    if not _string_map(labels) or not _string_map(annotations):
        raise ImportRejected(f"{name}: labels and annotations must map strings to strings")
    if FEDERATION_LABEL in labels:
        raise ImportRejected(f"{name}: is itself a mirrored copy (never re-exported)")
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise ImportRejected(f"{name}: spec must be an object")
    local = copy_name(peer, name)
    out_meta: dict = {
        "name": local,
        "labels": {**labels, FEDERATION_LABEL: peer},
        "annotations": {**{k: v for k, v in annotations.items()
                           if not str(k).startswith(ANNOTATION_PREFIX)},
                        ORIGIN_NAME: name, ORIGIN_UID: str(meta.get("uid") or ""),
                        ORIGIN_REVISION: str(meta.get("resourceVersion") or "")}}
    if kind.namespaced:
        out_meta["namespace"] = namespace
    copy = {"apiVersion": API_VERSION, "kind": kind.kind, "metadata": out_meta,
            "spec": dict(spec or {})}
    return (namespace if kind.namespaced else None, local), copy


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


def _string_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                           for k, v in value.items())


def origin_revision(obj: dict) -> int | None:
    """The origin resourceVersion a copy was made of, or None when it is not a number."""
    text = (obj["metadata"].get("annotations") or {}).get(ORIGIN_REVISION)
    if isinstance(text, str) and 0 < len(text) <= 19 and text.isascii() and text.isdigit():
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


def same_origin(current: dict, copy: dict) -> bool:
    """True when ``current`` already mirrors exactly the peer version ``copy`` was made of."""
    a, b = current["metadata"].get("annotations") or {}, copy["metadata"]["annotations"]
    return all(a.get(k) == b[k] for k in (ORIGIN_UID, ORIGIN_REVISION, ORIGIN_NAME))


class CopyWriter:
    """Writes the copies of one peer; every call goes through the store pipeline (defaults,
    validation, compare-and-swap), so an invalid object is never written."""

    def __init__(self, store: ResourceStore, peer: str, kind: Kind,
                 writes: asyncio.Semaphore) -> None:
        self.store, self.peer, self.kind, self.writes = store, peer, kind, writes

    def owned(self) -> dict[Key, dict]:
        """This peer's copies of the kind now in the local cache."""
        return {(e.namespace, e.name): e.obj for e in self.store.cache.entries(self.kind)
                if owner(e.obj) == self.peer}

    async def upsert(self, key: Key, copy: dict) -> Outcome:
        """Create or replace the copy at ``key`` (``unchanged`` when it already mirrors this or
        a later version of the origin). Raises ApiError only for local outages."""
        namespace, name = key
        for _ in range(5):
            entry = self.store.cache.entry(self.kind, name, namespace)
            try:
                async with self.writes:
                    if entry is None:
                        await self.store.create(self.kind, namespace, copy, actor=CONTROLLER)
                        return Outcome("written")
                    if owner(entry.obj) != self.peer:
                        return Outcome("conflict", f"{show_key(key)} is owned by "
                                       f"{_owner_text(entry.obj)}")
                    if same_origin(entry.obj, copy) or is_newer(entry.obj, copy):
                        return Outcome("unchanged")
                    body = {**copy, "metadata": {**copy["metadata"],
                                                 "resourceVersion": str(entry.revision)}}
                    await self.store.replace(self.kind, namespace, name, body, actor=CONTROLLER)
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
                self.kind, [(key[0], copy) for key, copy in items], actor=CONTROLLER)
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
            entry = self.store.cache.entry(self.kind, name, namespace)
            if entry is None or owner(entry.obj) != self.peer:
                return Outcome("unchanged")
            try:
                async with self.writes:
                    await self.store.delete(self.kind, namespace, name,
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
    return f"a copy from cluster {other!r}" if other else "a local object"


__all__ = ["CopyWriter", "ImportRejected", "Key", "Outcome", "copy_bytes", "make_copy",
           "net_outside", "run_all", "show_key"]
