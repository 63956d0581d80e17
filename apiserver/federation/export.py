"""The exporting cluster decides what each peer may read: FederationExport rules, enforced as
the admission chain's ``visible()`` for peers (the ``calico:federation`` role alone), so a
peer's list, get and watch show only what is exported, and nothing else exists for it.

A rule is for the users and groups it names (of the token file, or a client certificate's CN
and O). An object of a federated kind is exported to a peer when a rule for the peer names
the kind (default: every federated kind), the object's namespace (namespaced kinds only;
default: every namespace; a Profile counts as of the namespace its Calico name says,
``kns.<ns>`` or ``ksa.<ns>.<sa>``) and its selector selects the object's own labels (default
``all()``). A federation identity that no rule names reads nothing: exporting is always a
decision of the exporter. A peer also reads the rules for it: its importer lists them on every
reconnection to notice that its export changed (then it relists).

Rules are read when a request starts: a running watch keeps the export it started with.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from calicomodel.catalog import Catalog, Kind
from calicomodel.selectors import Selector, parse

from ..resources.cache import WatchCache
from ..resources.store import Actor, Admission
from .endpoints import profile_namespace
from .ownership import is_peer

EXPORT = "FederationExport"


@dataclass(frozen=True)
class Rule:
    """One FederationExport, read."""

    users: frozenset[str]
    groups: frozenset[str]
    kinds: frozenset[str]          # empty: every federated kind
    namespaces: frozenset[str]     # empty: every namespace
    selector: Selector

    @classmethod
    def of(cls, obj: dict) -> "Rule":
        """The rule a stored (so validated) FederationExport says."""
        spec = obj.get("spec") or {}
        return cls(frozenset(spec.get("users") or ()), frozenset(spec.get("groups") or ()),
                   frozenset(spec.get("kinds") or ()), frozenset(spec.get("namespaces") or ()),
                   parse(spec.get("selector") or ""))

    def names(self, actor: Actor) -> bool:
        return actor.user in self.users or not self.groups.isdisjoint(actor.groups)

    def exports(self, kind: Kind, obj: dict) -> bool:
        meta = obj["metadata"]
        if self.namespaces:
            namespace = meta.get("namespace") if kind.namespaced else \
                profile_namespace(meta["name"]) if kind.kind == "Profile" else None
            if (kind.namespaced or namespace is not None) and namespace not in self.namespaces:
                return False
        return self.selector.matches(meta.get("labels") or {})


class ExportRules(Admission):
    def __init__(self, cache: WatchCache, catalog: Catalog) -> None:
        self.cache, self.kind = cache, catalog.kind(EXPORT)

    def rules(self, actor: Actor) -> list[Rule]:
        """The rules for ``actor``, as the cache holds them now."""
        return [rule for rule in (Rule.of(e.obj) for e in self.cache.entries(self.kind))
                if rule.names(actor)]

    def visible(self, kind: Kind, actor: Actor) -> Callable[[dict], bool] | None:
        """For a peer: the objects its rules export, and the rules that name it."""
        if not is_peer(actor):
            return None
        if kind is self.kind:
            return lambda obj: Rule.of(obj).names(actor)
        if not kind.federated:
            return None
        rules = [r for r in self.rules(actor) if not r.kinds or kind.kind in r.kinds]
        return lambda obj: any(r.exports(kind, obj) for r in rules)


__all__ = ["EXPORT", "ExportRules", "Rule"]
