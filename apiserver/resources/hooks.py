"""The few kinds with real special behaviour: cross-object rules, built-ins, virtual objects.

Hooks see other objects through a ``Lookup`` (the watch-fed cache) and report by raising
``ApiError``s; they never write.
"""
from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from typing import Callable, Protocol

from .errors import Cause, Forbidden, Invalid, NotFound

TIER_LABEL = "projectcalico.org/tier"
POLICY_KINDS = ("NetworkPolicy", "GlobalNetworkPolicy", "StagedNetworkPolicy",
                "StagedGlobalNetworkPolicy")
BUILTIN_TIERS = {"default": ("Deny", 1_000_000), "kube-admin": ("Pass", 1_000),
                 "kube-baseline": ("Pass", 10_000_000)}
DEFAULT_ALLOW = "projectcalico-default-allow"
CALICO_VERSION = "v3.32.1"


class Lookup(Protocol):
    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None: ...

    def list(self, kind: str, namespace: str | None = None) -> list[dict]: ...


Check = Callable[[Lookup, dict, "dict | None"], None]
CheckDelete = Callable[[Lookup, dict], None]


@dataclass(frozen=True)
class Hooks:
    check: Check | None = None               # cross-object rules before a create/update
    check_delete: CheckDelete | None = None  # rules before a delete
    virtual: Callable[[], dict] | None = None  # a read-only object that always exists
    reserved: Callable[[str], str | None] | None = None  # why a name may not be written, or None


def kubernetes_policy_name(name: str) -> str | None:
    """``knp.default.*`` names belong to Kubernetes NetworkPolicies (libcalico-go)."""
    if name.startswith("knp.default."):
        return "kubernetes network policies must be managed through the kubernetes API"
    return None


def tier_exists(lookup: Lookup, obj: dict, old: dict | None) -> None:
    tier = obj.get("spec", {}).get("tier") or "default"
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
    for kind in POLICY_KINDS:
        if any((p.get("spec", {}).get("tier") or "default") == name for p in lookup.list(kind)):
            raise Forbidden("Cannot delete a non-empty tier", kind="Tier", name=name)


def default_allow_profile() -> dict:
    return {"kind": "Profile", "apiVersion": "projectcalico.org/v3",
            "metadata": {"name": DEFAULT_ALLOW, "resourceVersion": "1"},
            "spec": {"ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}}


def builtins() -> list[dict]:
    """Objects every datastore has (created at start when absent), as libcalico-go's
    ``EnsureInitialized``."""
    objs = [{"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": name},
             "spec": {"defaultAction": action, "order": order}}
            for name, (action, order) in BUILTIN_TIERS.items()]
    objs.append({"apiVersion": "projectcalico.org/v3", "kind": "ClusterInformation",
                 "metadata": {"name": "default"},
                 "spec": {"clusterGUID": uuid.uuid4().hex, "clusterType": "etcdv3",
                          "calicoVersion": CALICO_VERSION, "datastoreReady": True}})
    return objs
