"""What IPAM does beyond writing one object: releasing addresses as libcalico-go's
``ipamClient.ReleaseIPs`` does for ``calicoctl ipam release``, and moving IPAM data between
datastores in calicoctl's migration format (``datastore migrate export`` / ``import``).

Every change goes through the store's one pipeline as the server itself (the bookkeeping
kinds are read-only to requests): validation, a compare-and-swap on the object's
resourceVersion, the cache. The HTTP layer (``api/ipam.py``) has checked that the user may.
"""
from __future__ import annotations

import collections
import copy
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable

from calicomodel.errors import ApiError, Conflict, NotFound
from calicomodel.ipam import Network, network
from calicomodel.stored import dumps

from .store import ResourceStore

log = logging.getLogger(__name__)

RETRIES = 100   # libcalico-go's datastoreRetries
WINDOWS_RESERVED_HANDLE = "windows-reserved-ipam-handle"
# calicoctl's migration JSON: section → kind, in the order calicoctl imports them.
SECTIONS = (("block_affinities", "BlockAffinity"), ("blocks", "IPAMBlock"),
            ("handles", "IPAMHandle"), ("config", "IPAMConfiguration"))
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Release:
    """An address to release (libcalico-go's ``ReleaseOptions``); ``handle`` and
    ``sequence``, when given, must still be its allocation's, or its block is not touched."""

    address: Address
    handle: str = ""
    sequence: int | None = None


def sanitized(handle: str) -> str:
    """libcalico-go's ``sanitizeHandle``: what precedes a stray ``\\r``."""
    return handle.split("\r")[0]


class IpamActions:
    def __init__(self, store: ResourceStore) -> None:
        self.store = store
        kinds = store.catalog.by_kind
        self.blocks, self.handles = kinds["IPAMBlock"], kinds["IPAMHandle"]

    # -- release ---------------------------------------------------------------------------
    async def release(self, releases: list[Release]) -> tuple[list[str], str]:
        """Release ``releases`` block by block; returns the addresses that were not
        allocated and the first error (""), as ``ReleaseIPs``: a block that fails keeps its
        addresses, the others are released."""
        await self.store.cache.sync()
        block_of = self._block_locator()
        unallocated: list[str] = []
        by_block: dict[str, list[Release]] = collections.defaultdict(list)
        for release in releases:
            name = block_of(release.address)
            if name is None:
                unallocated.append(str(release.address))
            else:
                by_block[name].append(release)
        error = ""
        for name, group in by_block.items():
            try:
                unallocated += await self._release_from(name, group)
            except ApiError as err:
                error = error or err.message
        return unallocated, error

    def _block_locator(self) -> Callable[[Address], str | None]:
        """Address → the name of the block holding it (one lookup per block size)."""
        by_size: dict[int, dict[Network, str]] = collections.defaultdict(dict)
        for entry in self.store.cache.entries(self.blocks):
            net = network(entry.obj["spec"]["cidr"])
            by_size[net.prefixlen][net] = entry.name

        def block_of(address: Address) -> str | None:
            for size, blocks in by_size.items():
                if size <= address.max_prefixlen:
                    name = blocks.get(ipaddress.ip_network(f"{address}/{size}", strict=False))
                    if name is not None:
                        return name
            return None
        return block_of

    async def _release_from(self, name: str, group: list[Release]) -> list[str]:
        """``releaseIPsFromBlock``: free the addresses in the block (compare-and-swap, retried
        on conflict; an emptied block without affinity is deleted), then decrement their
        handles. Returns the addresses that were not allocated."""
        for _ in range(RETRIES):
            entry = self.store.cache.entry(self.blocks, name)
            if entry is None:
                return [str(r.address) for r in group]
            block = copy.deepcopy(entry.obj)
            spec = block["spec"]
            unallocated, by_handle = _release(spec, group)
            if len(unallocated) == len(group):
                return unallocated
            try:
                if _empty(spec) and spec.get("affinity") is None:
                    await self.store.delete(self.blocks, None, name,
                                            resource_version=str(entry.revision))
                else:
                    spec["sequenceNumber"] = (spec.get("sequenceNumber") or 0) + 1
                    await self.store.replace(self.blocks, None, name, block)
            except (Conflict, NotFound):
                await self.store.cache.sync()
                continue
            cidr = str(network(spec["cidr"]))
            for handle, count in by_handle.items():
                await self._decrement(handle, cidr, count)
            return unallocated
        raise Conflict(f"Max retries hit - excessive concurrent IPAM requests on block {name}")

    async def _decrement(self, handle: str, cidr: str, count: int) -> None:
        """``decrementHandle``: the handle holds ``count`` fewer addresses of the block; a
        handle left with none is deleted. A failure is logged, as libcalico-go does: the
        addresses are released either way."""
        name = handle.lower()
        for _ in range(RETRIES):
            entry = self.store.cache.entry(self.handles, name)
            if entry is None:
                log.warning("releasing from handle %s: it does not exist", handle)
                return
            obj = copy.deepcopy(entry.obj)
            blocks = obj["spec"].setdefault("block", {})
            left = (blocks.get(cidr) or 0) - count
            if left < 0:
                log.warning("handle %s holds fewer than %d addresses of %s", handle, count, cidr)
                return
            if left:
                blocks[cidr] = left
            else:
                blocks.pop(cidr, None)
            try:
                if blocks:
                    await self.store.replace(self.handles, None, name, obj)
                else:
                    await self.store.delete(self.handles, None, name,
                                            resource_version=str(entry.revision))
                return
            except Conflict:
                await self.store.cache.sync()
            except NotFound:
                return
        log.warning("releasing from handle %s: too many concurrent updates", handle)

    async def delete_handles(self, handles: list[tuple[str, str, str]]) -> dict[str, str]:
        """Delete leaked handles ``(id, resourceVersion, uid)`` of an ``ipam check`` report
        unless they changed since: id → ``released``, ``skipped`` (gone or changed) or the
        error."""
        outcome = {}
        for handle, revision, uid in handles:
            try:
                await self.store.delete(self.handles, None, handle.lower(),
                                        resource_version=revision or None, uid=uid or None)
                outcome[handle] = "released"
            except (NotFound, Conflict):
                outcome[handle] = "skipped"
            except ApiError as err:
                outcome[handle] = err.message
        return outcome

    # -- migration -------------------------------------------------------------------------
    async def export(self) -> dict[str, Any]:
        """calicoctl's migration JSON (``migrateIPAM``): each object's key and model value."""
        await self.store.cache.sync()
        out: dict[str, Any] = {}
        for section, name in SECTIONS:
            kind = self.store.catalog.kind(name)
            pairs = [{"Key": e.key, "Value": json.loads(kind.layout.encode(e.obj)), "TTL": 0}
                     for e in self.store.cache.entries(kind)]
            if pairs:
                out[section] = pairs[0] if section == "config" else pairs
        return out

    async def import_(self, data: dict[str, Any]) -> tuple[int, list[str]]:
        """Create what a migration JSON holds (``PushToDatastore``), each at its own key and
        only where none is; returns how many were created and why the others were not."""
        created, errors = 0, []
        for section, name in SECTIONS:
            kind = self.store.catalog.kind(name)
            pairs = data.get(section) or []
            bodies, refused = [], []
            for pair in [pairs] if isinstance(pairs, dict) else pairs:
                key = pair.get("Key") if isinstance(pair, dict) else None
                try:
                    if not isinstance(key, str) or self.store.catalog.locate(key) is not kind:
                        raise ValueError(f"{key!r} is not a key of {name}")
                    obj = kind.layout.decode(key, dumps(pair.get("Value")), 0, 0)
                except ValueError as err:
                    refused.append(f"error trying to create {name} {key}: {err}")
                    continue
                bodies.append((None, {**obj, "metadata": {"name": obj["metadata"]["name"]}}))
            results = await self.store.create_many(kind, bodies)
            created += sum(not isinstance(r, ApiError) for r in results)
            errors += refused + [
                f"error trying to create {name} {body['metadata']['name']}: {r.message}"
                for (_, body), r in zip(bodies, results, strict=True) if isinstance(r, ApiError)]
        return created, errors


def _release(spec: dict, group: list[Release]) -> tuple[list[str], dict[str, int]]:
    """``allocationBlock.release`` on a block's spec, in place: the addresses that were not
    allocated, and how many were released per handle. Raises Conflict when a release's
    handle or sequence number is no longer its allocation's (the block is left alone)."""
    net = network(spec["cidr"])
    allocations, attributes = spec["allocations"], spec["attributes"]
    sequences = spec.get("sequenceNumberForAllocation") or {}
    ordinals, unallocated = [], []
    refs_dropped: collections.Counter[int] = collections.Counter()
    by_handle: collections.Counter[str] = collections.Counter()
    for release in {r.address: r for r in group}.values():
        ordinal = int(release.address) - int(net.network_address)
        if release.sequence is not None and release.sequence != sequences.get(str(ordinal), 0):
            raise Conflict(f"update conflict: {release.address}: the allocation's sequence "
                           f"number is {sequences.get(str(ordinal), 0)}, not {release.sequence}")
        index = allocations[ordinal] if ordinal < len(allocations) else None
        if index is None:
            unallocated.append(str(release.address))
            continue
        handle = sanitized(attributes[index].get("handle_id") or "")
        if release.handle and handle != release.handle:
            raise Conflict(f"update conflict: {release.address}: it is allocated to handle "
                           f"{handle!r}, not {release.handle!r}")
        ordinals.append(ordinal)
        refs_dropped[index] += 1
        if handle:
            by_handle[handle] += 1
    refs = collections.Counter(a for a in allocations if a is not None)
    unused = {index for index, dropped in refs_dropped.items() if refs[index] == dropped}
    if unused:
        kept = [i for i in range(len(attributes)) if i not in unused]
        renumbered = {old: new for new, old in enumerate(kept)}
        spec["attributes"] = [attributes[i] for i in kept]
        spec["allocations"] = allocations = [None if a is None else renumbered.get(a)
                                             for a in allocations]
    for ordinal in ordinals:
        allocations[ordinal] = None
        spec["unallocated"].append(ordinal)
        sequences.pop(str(ordinal), None)
    return unallocated, dict(by_handle)


def _empty(spec: dict) -> bool:
    """No allocation but Windows' reserved addresses (``containsOnlyReservedIPs``)."""
    attributes = spec["attributes"]
    return all(index is None or (attributes[index].get("handle_id") or "").lower()
               == WINDOWS_RESERVED_HANDLE for index in spec["allocations"])
