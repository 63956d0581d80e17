"""The one translation of storage failures into API errors (Kubernetes' ``storage/errors``).

Outcomes that are part of a verb's logic — ``KeyExists``, ``KeyNotFound``,
``RevisionConflict`` — are handled by the verb, which knows what they mean for it. Everything
else a storage call can raise is about the datastore itself and means the same to every
caller, so every verb, the paged list, the continue tokens and the cache use ``translated``.
The reasons are counted for ``/metrics`` (``apiserver_storage_errors_total``).
"""
from __future__ import annotations

import collections
import contextlib
from typing import Iterator

from calicomodel.errors import ApiError, Gone, InsufficientStorage, ServiceUnavailable, Timeout, TooLarge

from ..storage import interface as storage

FULL = ("the datastore is full (etcd's NOSPACE alarm), so nothing was written; reads still "
        "work. To recover: compact and defragment etcd (`etcdctl compact <revision>`, "
        "`etcdctl defrag`), or raise its --quota-backend-bytes, then `etcdctl alarm disarm`")
counts: collections.Counter[str] = collections.Counter()


def api_error(err: storage.StorageError, *, reading: bool = False) -> ApiError:
    """The API error for a storage failure; ``reading``: nothing was being written."""
    error = _translate(err, reading)
    counts[error.reason if not isinstance(err, storage.NoSpace) else "NoSpace"] += 1
    return error


def _translate(err: storage.StorageError, reading: bool) -> ApiError:
    if isinstance(err, storage.Compacted):
        return Gone("the requested resourceVersion is too old: etcd has compacted it; start a "
                    "new list without it")
    if isinstance(err, storage.FutureRevision):
        return Gone("the requested resourceVersion is newer than the datastore's: it comes from "
                    "another or an earlier datastore; start a new list without it")
    if isinstance(err, storage.NoSpace):
        return InsufficientStorage(FULL)
    if isinstance(err, storage.TooLarge):
        return TooLarge(f"the object is too large for the datastore: {err}")
    if isinstance(err, storage.Indeterminate) and not reading:
        return Timeout("etcd was lost before it confirmed the write, so it may or may not have "
                       f"been applied; read the object to find out ({err})")
    if reading:
        return ServiceUnavailable(f"etcd is unreachable: {err}")
    return ServiceUnavailable(f"etcd is unreachable, nothing was written: {err}")


@contextlib.contextmanager
def translated(*, reading: bool = False) -> Iterator[None]:
    """Raise the API error for any storage failure in the block."""
    try:
        yield
    except storage.StorageError as err:
        raise api_error(err, reading=reading) from None
