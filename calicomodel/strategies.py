"""What is special about each kind: one ``Strategy`` per catalog row (``Kind.strategy``).

As Kubernetes' generic registry gives each resource a ``Store`` with its create, update and
delete strategies, a row names its strategy and the store applies its parts in a fixed order
(``store.py``; ``rest.BeforeCreate``/``BeforeUpdate`` in Kubernetes):

    1. ``defaults``     canonical forms of typed values, then clientv3's defaults (defaults.py);
                        the CRD defaults of the kind's schema follow, for every kind
    2. validation       the kind's JSON Schema (every kind), then the ``name`` rule and
                        ``singleton`` name, label/annotation syntax (every kind), then ``checks``
    3. ``update_rules`` on an update, rules comparing the stored object with the new one
    4. ``references``   rules about other objects (the policy's tier exists…), against the cache
    5. the admission chain (``ResourceStore.admission``: federation ownership, RCC files)
       and, before a delete, ``delete_checks``

plus facts the store, codec and federation read: ``tiered`` (a policy: tier label and
libcalico-go's name annotation), ``federation`` (what peers read and importers mirror: the one
source of the RemoteClusterConfiguration's ``kinds``, FederationExport's ``kinds`` and the
``calico:federation`` role), ``read_only`` (with the spec fields a patch may still change,
``patchable``),
``virtual`` (an object that always exists without being stored), ``reserved`` (names that
belong to another owner) and ``layout`` (where in etcd the kind lives and how its objects are
stored: ``stored.Layout``; None is libcalico-go's v3 resource layout, ``stored.ResourceLayout``).
A kind with none of this uses ``PLAIN``.

To add a kind: its schema in ``schemas/``, its row in ``catalog.py``, and here a strategy
when it has behaviour of its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import checks, config_checks, defaults, endpoint_checks, ipam, network_checks
from . import policy_checks, references, update_rules
from .builtins import default_allow_profile
from .checking import Check
from .metadata_checks import GLOBAL_POLICY_NAME, LABEL_NAME, POLICY_NAME, SUBDOMAIN_NAME, NameRule
from .stored import Layout


@dataclass(frozen=True)
class Federation:
    """What federation does with a kind (DESIGN §7). Peers may read it (the
    ``calico:federation`` role, narrowed by the exporter's FederationExport rules); an importer
    mirrors it as objects of kind ``mirrored_as``, named ``<peer>.<name>``; ``mirrored_as`` None:
    read only for what it adds to other kinds' copies (a Profile's ``labelsToApply``).
    ``endpoint``: the copy-name infix of an endpoint kind, mirrored as a network set of its
    labels and the addresses in its spec field ``addresses``, named
    ``<peer>.<endpoint>.<name>``, and only when an RCC's ``syncOptions.kinds`` names it (pods
    churn)."""

    mirrored_as: str | None = None
    endpoint: str = ""
    addresses: str = ""


@dataclass(frozen=True)
class Strategy:
    defaults: tuple[defaults.Default, ...] = ()
    checks: tuple[Check, ...] = ()
    name: NameRule = SUBDOMAIN_NAME
    singleton: str | None = None        # the one name objects of the kind may have
    update_rules: tuple[update_rules.UpdateRule, ...] = ()
    references: tuple[references.Reference, ...] = ()
    delete_checks: tuple[references.DeleteCheck, ...] = ()
    reserved: Callable[[str], str | None] | None = None   # why a name is not ours, or None
    virtual: Callable[[], dict] | None = None
    tiered: bool = False
    federation: Federation | None = None
    read_only: bool = False             # the API may not create, replace or delete it
    patchable: tuple[str, ...] = ()     # read-only kind: the spec fields an admin may patch
    layout: Layout | None = None        # None: the v3 resource layout of the kind's row

    def is_virtual(self, name: str) -> bool:
        return self.virtual is not None and name == self.virtual()["metadata"]["name"]

    def unpatchable_changes(self, old: dict, new: dict) -> list[str]:
        """The fields a patch of a read-only kind would change beyond ``patchable``."""
        spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
        return [f"spec.{key}" for key in sorted(set(spec) | set(new_spec))
                if key not in self.patchable and spec.get(key) != new_spec.get(key)] + \
            [f"metadata.{key}" for key in ("labels", "annotations")
             if (meta.get(key) or {}) != (new_meta.get(key) or {})]


PLAIN = Strategy()


def _policy(check: Check, name: NameRule, **extra) -> Strategy:
    return Strategy(defaults=(defaults.canonical_rules, defaults.policy), checks=(check,),
                    name=name, references=(references.tier_exists,), tiered=True, **extra)


NETWORK_POLICY = _policy(policy_checks.network_policy, POLICY_NAME,
                         reserved=references.kubernetes_policy_name)
GLOBAL_NETWORK_POLICY = _policy(policy_checks.global_network_policy, GLOBAL_POLICY_NAME)
STAGED_NETWORK_POLICY = _policy(policy_checks.staged_network_policy, POLICY_NAME)
STAGED_GLOBAL_NETWORK_POLICY = _policy(policy_checks.staged_global_network_policy,
                                       GLOBAL_POLICY_NAME)
PROFILE = Strategy(defaults=(defaults.canonical_rules,), checks=(policy_checks.profile,),
                   virtual=default_allow_profile, federation=Federation())
TIER = Strategy(defaults=(defaults.tier,), checks=(checks.builtin_tier,), name=LABEL_NAME,
                delete_checks=(references.tier_deletable,))

NETWORK_SET = Strategy(checks=(checks.network_set,), federation=Federation("NetworkSet"))
GLOBAL_NETWORK_SET = Strategy(checks=(checks.network_set,),
                              federation=Federation("GlobalNetworkSet"))
IPPOOL = Strategy(defaults=(defaults.canonical_ippool_cidr, defaults.ippool),
                  checks=(network_checks.ippool,), update_rules=(update_rules.ippool,),
                  references=(references.ippool_no_overlap,))
IP_RESERVATION = Strategy(checks=(checks.ip_reservation,))
BGP_CONFIGURATION = Strategy(checks=(network_checks.bgp_configuration,))
BGP_PEER = Strategy(checks=(network_checks.bgp_peer,),
                    references=(references.bgppeer_filters_exist,))
BGP_FILTER = Strategy(defaults=(defaults.canonical_bgp_filter,),
                      checks=(network_checks.bgp_filter,))

HOST_ENDPOINT = Strategy(checks=(endpoint_checks.host_endpoint,),
                         federation=Federation("GlobalNetworkSet", "hep", "expectedIPs"))
WORKLOAD_ENDPOINT = Strategy(defaults=(defaults.workload_endpoint,),
                             checks=(endpoint_checks.workload_endpoint,),
                             federation=Federation("NetworkSet", "wep", "ipNetworks"))
NODE = Strategy(checks=(endpoint_checks.node,))
CALICO_NODE_STATUS = Strategy(checks=(checks.calico_node_status,))

FELIX_CONFIGURATION = Strategy(defaults=(defaults.canonical_felix_ports,
                                         defaults.felix_configuration),
                               checks=(config_checks.felix_configuration,))
KUBE_CONTROLLERS_CONFIGURATION = Strategy(defaults=(defaults.kube_controllers_configuration,),
                                          checks=(config_checks.kube_controllers_configuration,),
                                          singleton="default")
# Read-only but for the datastore lock an admin sets and clears (calicoctl datastore migrate
# lock/unlock; nothing else of it may change through the API).
CLUSTER_INFORMATION = Strategy(singleton="default", read_only=True,
                               patchable=("datastoreReady",))
REMOTE_CLUSTER_CONFIGURATION = Strategy(checks=(checks.remote_cluster_configuration,))
FEDERATION_EXPORT = Strategy(checks=(checks.federation_export,))

# IPAM, in libcalico-go's own layout (ipam.py). Its bookkeeping is written by calico-node and
# the CNI plugin, and is read-only to the API as calicoctl treats it; the server's IPAM
# actions (ipam_actions.py: release, migration) write it for admins.
IPAM_BLOCK = Strategy(layout=ipam.BLOCK, read_only=True)
BLOCK_AFFINITY = Strategy(layout=ipam.AFFINITY, checks=(checks.block_affinity,), read_only=True)
IPAM_HANDLE = Strategy(layout=ipam.HANDLE, read_only=True)
IPAM_CONFIGURATION = Strategy(layout=ipam.CONFIG, singleton="default",
                              checks=(config_checks.ipam_configuration,))
