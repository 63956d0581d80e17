"""Rules about other objects (a strategy's ``references`` and ``delete_checks``), and names
a kind reserves for other owners (``reserved``).

They see other objects through a ``Lookup`` (the watch-fed cache) and report by raising
``ApiError``s; they never write.
"""
from __future__ import annotations

import ipaddress
from typing import Callable, Protocol

from .calico import BUILTIN_TIERS, DEFAULT_TIER
from .errors import Cause, Forbidden, Invalid, NotFound


class Lookup(Protocol):
    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None: ...

    def list(self, kind: str, namespace: str | None = None) -> list[dict]: ...

    def tiered_kinds(self) -> list[str]: ...


Reference = Callable[[Lookup, dict, "dict | None"], None]
"""``fn(lookup, new, old)`` before a create (``old`` None) or update: raise to refuse."""
DeleteCheck = Callable[[Lookup, dict], None]
"""``fn(lookup, stored)`` before a delete: raise to refuse."""


def kubernetes_policy_name(name: str) -> str | None:
    """``knp.default.*`` names belong to Kubernetes NetworkPolicies (libcalico-go)."""
    if name.startswith("knp.default."):
        return "kubernetes network policies must be managed through the kubernetes API"
    return None


def tier_exists(lookup: Lookup, obj: dict, old: dict | None) -> None:
    tier = obj.get("spec", {}).get("tier") or DEFAULT_TIER
    if lookup.get("Tier", tier) is None:
        raise NotFound(f'tiers.projectcalico.org "{tier}" not found: the policy\'s tier must '
                       f"exist before the policy", kind="Tier", name=tier)


def bgppeer_filters_exist(lookup: Lookup, obj: dict, old: dict | None) -> None:
    missing = [(i, f) for i, f in enumerate(obj.get("spec", {}).get("filters") or [])
               if lookup.get("BGPFilter", f) is None]
    if missing:
        raise Invalid(f"BGPPeer.projectcalico.org \"{obj['metadata']['name']}\" is invalid: "
                      "referenced BGPFilters do not exist", kind="BGPPeer",
                      name=obj["metadata"]["name"],
                      causes=[Cause(f"spec.filters[{i}]", f'BGPFilter "{f}" does not exist',
                                    "FieldValueNotFound") for i, f in missing])


def ippool_no_overlap(lookup: Lookup, obj: dict, old: dict | None) -> None:
    name = obj["metadata"]["name"]
    try:
        cidr = ipaddress.ip_network(obj["spec"]["cidr"], strict=False)
    except (KeyError, ValueError):
        return
    for other in lookup.list("IPPool"):
        if other["metadata"]["name"] == name:
            continue
        try:
            theirs = ipaddress.ip_network(other["spec"]["cidr"], strict=False)
        except (KeyError, ValueError):
            continue
        if theirs.version == cidr.version and theirs.overlaps(cidr):
            raise Invalid(
                f'IPPool.projectcalico.org "{name}" is invalid: IPPool({name}) CIDR {cidr} '
                f"overlaps with IPPool({other['metadata']['name']}) CIDR {theirs}",
                kind="IPPool", name=name, causes=[Cause(
                    "spec.cidr", f"{cidr} overlaps with IPPool {other['metadata']['name']} "
                                 f"({theirs})")])


def tier_deletable(lookup: Lookup, obj: dict) -> None:
    name = obj["metadata"]["name"]
    if name in BUILTIN_TIERS:
        raise Forbidden(f"Cannot delete {name} tier", kind="Tier", name=name)
    for kind in lookup.tiered_kinds():
        if any((p.get("spec", {}).get("tier") or DEFAULT_TIER) == name
               for p in lookup.list(kind)):
            raise Forbidden("Cannot delete a non-empty tier", kind="Tier", name=name)
