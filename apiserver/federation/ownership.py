"""Federation's rules for everyone else, as one step of the admission chain
(``ResourceStore.admission``): mirrored copies belong to the federation controller, a local
object wins a name over a copy, and a peer never sees copies.

A copy is an object of a kind that copies are written as (a network set: ``Kind.mirrored_as``
names itself) carrying the cluster label naming its peer.
"""
from __future__ import annotations

from typing import Callable

from calicomodel.catalog import Kind
from calicomodel.errors import Forbidden

from ..auth import ADMIN, FEDERATION
from ..resources.store import Actor, Admission

FEDERATION_LABEL = "federation.projectcalico.org/cluster"
CONTROLLER = Actor("system:federation-controller", internal=True)


def owner(obj: dict | None) -> str | None:
    """The peer a copy is mirrored from; None for a local object."""
    return ((obj or {}).get("metadata", {}).get("labels") or {}).get(FEDERATION_LABEL)


def is_peer(actor: Actor) -> bool:
    """Whether ``actor`` reads as a peer cluster (the ``calico:federation`` role alone)."""
    return FEDERATION in actor.groups and ADMIN not in actor.groups


def holds_copies(kind: Kind) -> bool:
    return kind.mirrored_as == kind.kind


def _local(obj: dict) -> bool:
    return owner(obj) is None


class CopyOwnership(Admission):
    def admit(self, kind: Kind, new: dict | None, old: dict | None, actor: Actor) -> None:
        """Only the controller writes copies; nobody else may make an object one."""
        if not holds_copies(kind) or actor is CONTROLLER:
            return
        for obj in (old, new):
            peer = owner(obj)
            if peer:
                raise Forbidden(f"{kind.kind} \"{obj['metadata']['name']}\" is a read-only copy "
                                f"mirrored from cluster \"{peer}\" by the federation "
                                "controller; change it in its home cluster", kind=kind.kind,
                                name=obj["metadata"]["name"])

    def visible(self, kind: Kind, actor: Actor) -> Callable[[dict], bool] | None:
        """A peer reads only locally authored objects, so meshes of clusters never echo."""
        return _local if is_peer(actor) else None

    def yields(self, kind: Kind, existing: dict, actor: Actor) -> bool:
        """A local create takes the name of a copy: the local object always wins (the
        peer's status then shows the conflict)."""
        return holds_copies(kind) and actor is not CONTROLLER and owner(existing) is not None
