"""Federated endpoint identity (DESIGN §7): a peer's WorkloadEndpoints and HostEndpoints are
mirrored as read-only network sets, so local rules select remote pods by label through
Calico's ordinary network-set selection, with no change to Felix.

A WorkloadEndpoint ``ns/x`` becomes the NetworkSet ``ns/<peer>.wep.x``, a HostEndpoint ``x``
the GlobalNetworkSet ``<peer>.hep.x`` (``Federation.endpoint``). The copy's labels are those
Calico matches a rule selector against for the endpoint itself (Felix's label inheritance):

* the endpoint's own labels, which win;
* ``projectcalico.org/serviceaccount`` from ``spec.serviceAccountName`` (as Calico's pod
  conversion sets it);
* the ``labelsToApply`` of its profiles, an earlier profile first: for a Kubernetes pod its
  namespace's ``kns.<ns>`` (the namespace's labels as ``pcns.<key>``, and
  ``pcns.projectcalico.org/name``) and its service account's ``ksa.<ns>.<sa>`` (``pcsa.``);
* the cluster label ``federation.projectcalico.org/cluster: <peer>``.

``projectcalico.org/namespace`` is left out: a network set may not carry it, and Felix gives
a NetworkSet that label by itself (with its namespace's local ``kns.<ns>`` profile as parent,
whose labels the copy's own override). ``nets`` are the endpoint's addresses
(``Federation.addresses``: ``ipNetworks``, ``expectedIPs``), each as the /32 or /128 Felix puts
in its IP sets for the endpoint.

The profiles are the peer's Profile objects (only their ``labelsToApply``; their rules are
never used), held in memory per peer by a ``ProfileIndex`` that a PeerSyncer fills like any
other kind. When a profile that copies were made with changes, the syncers of those endpoints
relist, writing only the copies that now say something else.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

from calicomodel.calico import NAMESPACE_LABEL
from calicomodel.catalog import Kind
from calicomodel.formats import parse_cidr, shown

from ..resources.store import ResourceStore
from .copies import (CopyWriter, ImportRejected, Key, Outcome, Sink, build_copy, checked,
                     string_map)

log = logging.getLogger(__name__)
SERVICE_ACCOUNT_LABEL = "projectcalico.org/serviceaccount"
NAMESPACE_PROFILE, SERVICE_ACCOUNT_PROFILE = "kns.", "ksa."   # kns.<ns>, ksa.<ns>.<sa>
PROFILE_WAIT = 10.0      # seconds an endpoint relist waits for the peer's profiles, once


def profile_namespace(name: str) -> str | None:
    """The namespace of a profile Calico makes for Kubernetes (``kns.<ns>``,
    ``ksa.<ns>.<sa>``); None for any other profile."""
    for prefix in (NAMESPACE_PROFILE, SERVICE_ACCOUNT_PROFILE):
        if name.startswith(prefix):
            return name[len(prefix):].split(".", 1)[0]
    return None


def endpoint_copy(peer: str, kind: Kind, obj: object,
                  profile_labels: Callable[[str], dict[str, str]]) -> tuple[Key, dict, list[str]]:
    """The network set mirroring the peer's endpoint ``obj``, its key, and the profiles it
    was made with. Raises ImportRejected when ``obj`` cannot be mirrored."""
    labels, _, spec = checked(kind, obj)
    name = obj["metadata"]["name"]  # type: ignore[index]
    profiles = spec.get("profiles") or []
    addresses = spec.get(kind.strategy.federation.addresses) or []  # type: ignore[union-attr]
    if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
        raise ImportRejected(f"{name}: spec.profiles must be a list of names")
    if not isinstance(addresses, list):
        raise ImportRejected(f"{name}: its addresses must be a list")
    nets = []
    for address in addresses:
        cidr = parse_cidr(address)
        if cidr is None:
            raise ImportRejected(f"{name}: {shown(address)} is not an address")
        nets.append(f"{cidr.address}/{cidr.address.max_prefixlen}")
    out = {k: v for k, v in labels.items() if k != NAMESPACE_LABEL}
    account = spec.get("serviceAccountName")
    if isinstance(account, str) and account:
        out.setdefault(SERVICE_ACCOUNT_LABEL, account)
    for profile in profiles:
        for key, value in profile_labels(profile).items():
            out.setdefault(key, value)
    out.pop(NAMESPACE_LABEL, None)
    key, copy = build_copy(peer, kind, obj, out, {}, {"nets": nets})  # type: ignore[arg-type]
    return key, copy, profiles


class ProfileIndex(Sink):
    """The ``labelsToApply`` of one peer's profiles, in memory; tells the endpoint writers
    that made copies with a profile when it changes."""

    copies = False

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.listed = asyncio.Event()        # the peer's profiles were listed once
        self.writers: list[EndpointWriter] = []
        self._held: dict[Key, dict] = {}

    def labels(self, name: str) -> dict[str, str]:
        held = self._held.get((None, name))
        return held["spec"]["labelsToApply"] if held is not None else {}

    def make(self, obj: object) -> tuple[Key, dict]:
        _, _, spec = checked(self.kind, obj)
        name = obj["metadata"]["name"]  # type: ignore[index]
        applied = spec.get("labelsToApply") or {}
        if not string_map(applied):
            raise ImportRejected(f"{name}: spec.labelsToApply must map strings to strings")
        return (None, name), {"metadata": {"name": name, "labels": {}},
                              "spec": {"labelsToApply": applied}}

    def synced(self) -> None:
        self.listed.set()

    def owned(self) -> dict[Key, dict]:
        return dict(self._held)

    def present(self, key: Key) -> bool:
        return key in self._held

    holds = present

    def _changed(self, key: Key, copy: dict | None) -> bool:
        old = self._held.pop(key, None)
        if copy is not None:
            self._held[key] = copy
        changed = (old or {}).get("spec") != (copy or {}).get("spec")
        if changed:
            for writer in self.writers:
                writer.profile_changed(key[1])
        return changed

    async def upsert(self, key: Key, copy: dict) -> Outcome:
        return Outcome("written" if self._changed(key, copy) else "unchanged")

    async def remove(self, key: Key) -> Outcome:
        return Outcome("written" if self._changed(key, None) else "unchanged")

    async def remove_all(self) -> int:
        return sum(self._changed(key, None) for key in list(self._held))


class EndpointWriter(CopyWriter):
    """Writes the copies of one peer's endpoints of a kind, made with the peer's profiles."""

    def __init__(self, store: ResourceStore, peer: str, kind: Kind, writes: asyncio.Semaphore,
                 profiles: ProfileIndex) -> None:
        super().__init__(store, peer, kind, writes)
        self.profiles = profiles
        profiles.writers.append(self)
        self._used: set[str] = set()      # profiles of copies made since the last relist
        self._stale: str | None = None
        self._waited = False

    def make(self, obj: object) -> tuple[Key, dict]:
        key, copy, profiles = endpoint_copy(self.peer, self.kind, obj, self.profiles.labels)
        self._used.update(profiles)
        return key, copy

    async def ready(self) -> None:
        """Before a relist: wait for the peer's profiles (at most PROFILE_WAIT seconds, once:
        a peer that does not export its profiles gets copies without their labels)."""
        if not self._waited and not self.profiles.listed.is_set():
            try:
                async with asyncio.timeout(PROFILE_WAIT):
                    await self.profiles.listed.wait()
            except TimeoutError:
                log.warning("federation: peer %s: no profiles after %gs; mirroring %s without "
                            "the labels of their profiles until they come", self.peer,
                            PROFILE_WAIT, self.kind.plural)
        self._waited = True
        self._used.clear()
        self._stale = None

    def profile_changed(self, name: str) -> None:
        if name in self._used and self._stale is None:
            self._stale = f"profile {name} changed"
            self.wake()

    def relist_reason(self) -> str | None:
        return self._stale


__all__ = ["EndpointWriter", "ProfileIndex", "endpoint_copy", "profile_namespace"]
