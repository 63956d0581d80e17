"""The storage contract: keys, bytes and revisions — never kinds.

Exception tree (everything a caller needs to handle is a ``StorageError``):

    StorageError
    ├── KeyExists          create of a key that is present (``current`` holds it)
    ├── KeyNotFound        update/delete of an absent key
    ├── RevisionConflict   update/delete whose expected mod_revision is stale (``current`` holds the key)
    ├── Compacted          a read or watch at a revision etcd has compacted away
    ├── FutureRevision     a read at a revision etcd has not reached (a restored datastore)
    ├── Unavailable        the datastore cannot be reached; the operation was not applied and may be retried
    │   └── Indeterminate  the datastore was lost after a write was sent: it may or may not have been applied
    ├── NoSpace            the datastore is full (etcd's NOSPACE alarm): no write is applied until an
    │                      operator frees space; reads still work
    └── TooLarge           the value is larger than the datastore accepts
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int = 0


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change. For ``DELETE``, ``kv.value`` is empty and ``prev`` holds the last value."""

    type: str  # "PUT" | "DELETE"
    kv: KeyValue
    prev: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int
    more: bool = False


class StorageError(Exception):
    pass


class KeyExists(StorageError):
    def __init__(self, key: str, current: KeyValue | None = None) -> None:
        super().__init__(f"key exists: {key}")
        self.key, self.current = key, current


class KeyNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionConflict(StorageError):
    def __init__(self, key: str, current: KeyValue) -> None:
        super().__init__(f"revision conflict on {key}: now at {current.mod_revision}")
        self.key, self.current = key, current


class Compacted(StorageError):
    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"revision compacted (oldest available: {compact_revision})")
        self.compact_revision = compact_revision


class FutureRevision(StorageError):
    pass


class Unavailable(StorageError):
    pass


class Indeterminate(Unavailable):
    pass


class TooLarge(StorageError):
    pass


class NoSpace(StorageError):
    pass


class WatchStream(Protocol):
    """Iterate for ``(revision, events)`` batches (``revision``: the store's revision when the
    batch was sent, which may run ahead of the events). Raises Compacted or Unavailable."""

    def __aiter__(self) -> "WatchStream": ...

    async def __anext__(self) -> tuple[int, list[WatchEvent]]: ...

    def close(self) -> None: ...


class Storage(Protocol):
    """A consistent key-value store with revisions (etcd v3 semantics)."""

    async def get(self, key: str) -> KeyValue | None: ...

    async def list(self, prefix: str, *, revision: int = 0, start: str | None = None,
                   limit: int = 0) -> ListResult:
        """Keys under ``prefix`` (from ``start`` inclusive), sorted by key, at ``revision`` (0 = now)."""
        ...

    async def current_revision(self) -> int: ...

    async def create(self, key: str, value: bytes, *, lease: int = 0) -> int:
        """Write ``key`` only if absent; return the new revision. Raises KeyExists."""
        ...

    async def create_many(self, items: list[tuple[str, bytes]]) -> int:
        """Write every ``(key, value)`` in one transaction, only if none of the keys exists;
        return the new revision. Raises KeyExists (naming the first key) and writes nothing
        when any is present."""
        ...

    async def update(self, key: str, value: bytes, *, expect_revision: int) -> int:
        """Write ``key`` only if its mod_revision is ``expect_revision``; return the new revision.

        Raises KeyNotFound or RevisionConflict."""
        ...

    async def delete(self, key: str, *, expect_revision: int = 0) -> KeyValue:
        """Delete ``key`` (only at ``expect_revision`` when non-zero); return the deleted value
        with ``mod_revision`` set to the revision of the delete. Raises KeyNotFound or RevisionConflict."""
        ...

    def watch(self, prefix: str, *, start_revision: int) -> "WatchStream":
        """Changes under ``prefix`` (``""``: every key) from ``start_revision`` on."""
        ...

    async def grant_lease(self, ttl: int) -> int: ...

    async def keepalive(self, lease: int) -> int:
        """Refresh ``lease``; return its remaining TTL in seconds (0 = expired)."""
        ...

    async def revoke(self, lease: int) -> None: ...

    async def alarms(self) -> list[str]:
        """The datastore's active alarms (``NOSPACE``, ``CORRUPT``); a quick health probe."""
        ...

    async def compaction_turn(self, key: str, version: int, value: bytes) -> tuple[bool, int, int]:
        """Put ``key`` only if its version is ``version`` (one replica's turn to compact per
        interval); return (won, the key's version now, the store's revision)."""
        ...

    async def compact(self, revision: int) -> None:
        """Discard the history before ``revision``. Raises Compacted when already past it."""
        ...

    async def close(self) -> None: ...
