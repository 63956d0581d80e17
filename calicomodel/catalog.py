"""The kind catalog: one row per projectcalico.org/v3 kind — what it is called, its scope,
its table columns, and its strategy (``strategies.py``: everything special it does).

A new kind is one row here, one schema file ``schemas/<kind lower-case>.json``, and, when it
has behaviour of its own, a strategy (which also says where in etcd the kind lives, when that
is not libcalico-go's v3 resource layout: ``Strategy.layout``). ``tests/test_catalog.py``
holds the rows to the schemas and to Calico's CRDs.
"""
from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from typing import Iterable

from . import strategies
from .stored import Layout, ResourceLayout
from .strategies import Strategy
from .tables import Col, first_of, truncated

GROUP = "projectcalico.org"
VERSION = "v3"
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    namespaced: bool = False
    aliases: tuple[str, ...] = ()
    columns: tuple[Col, ...] = (Col("NAME", "metadata.name"),)
    status: bool = False      # has a ``status`` subresource (spec and status written separately)
    server_status: bool = False  # only this server writes the status (clients' status is dropped)
    strategy: Strategy = strategies.PLAIN

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def short_names(self) -> list[str]:
        return [a for a in self.aliases if a not in (self.singular, self.plural)]

    @property
    def tiered(self) -> bool:
        return self.strategy.tiered

    @property
    def federated(self) -> bool:
        """Peers may read it (``Strategy.federation``)."""
        return self.strategy.federation is not None

    @property
    def mirrored_as(self) -> str | None:
        """The kind an importer mirrors it as, or None when it is not mirrored."""
        return self.strategy.federation.mirrored_as if self.strategy.federation else None

    @property
    def read_only(self) -> bool:
        return self.strategy.read_only

    @functools.cached_property
    def layout(self) -> Layout:
        """Its keys and stored values: the strategy's, else libcalico-go's v3 resource layout."""
        return self.strategy.layout or ResourceLayout(self.plural, self.namespaced, self.tiered)


NAME = Col("NAME", "metadata.name")
POLICY_COLUMNS = (NAME, Col("TIER", "spec.tier"), Col("ORDER", "spec.order", wide=True),
                  Col("SELECTOR", "spec.selector", wide=True))


def _count(expr: str):
    def value(obj: dict) -> int:
        return len(obj.get("spec", {}).get(expr) or [])
    return value


def _allocated(obj: dict) -> int:
    return sum(a is not None for a in obj.get("spec", {}).get("allocations") or [])


def _ip_mode(expr: str):
    def value(obj: dict) -> str:
        return obj.get("spec", {}).get(expr) or "Never"
    return value


# ``aliases``: calicoctl's names for the kind, plus the CRD's kubectl short names.
KINDS: tuple[Kind, ...] = (
    Kind("BGPConfiguration", "bgpconfigurations",
         aliases=("bgpconfiguration", "bgpconfigurations", "bgpconfig", "bgpconfigs"),
         columns=(NAME, Col("LOGSEVERITY", "spec.logSeverityScreen"),
                  Col("MESHENABLED", "spec.nodeToNodeMeshEnabled"),
                  Col("ASNUMBER", "spec.asNumber")),
         strategy=strategies.BGP_CONFIGURATION),
    Kind("BGPFilter", "bgpfilters",
         aliases=("bgpfilter", "bgpfilters", "bgpf", "bgpfs", "bf", "bfs"),
         columns=(NAME, Col("NUMEXPORTV4", _count("exportV4")), Col("NUMIMPORTV4", _count("importV4")),
                  Col("NUMEXPORTV6", _count("exportV6")), Col("NUMIMPORTV6", _count("importV6"))),
         strategy=strategies.BGP_FILTER),
    Kind("BGPPeer", "bgppeers", aliases=("bgppeer", "bgppeers", "bgpp", "bgpps", "bp", "bps"),
         columns=(NAME, Col("PEERIP", "spec.peerIP"),
                  Col("NODE", first_of("spec.node", "spec.nodeSelector", default="(global)")),
                  Col("ASN", "spec.asNumber")),
         strategy=strategies.BGP_PEER),
    Kind("BlockAffinity", "blockaffinities", strategy=strategies.BLOCK_AFFINITY,
         aliases=("blockaffinity", "blockaffinities", "affinity", "affinities"),
         columns=(NAME, Col("NODE", "spec.node"), Col("CIDR", "spec.cidr"),
                  Col("STATE", "spec.state"), Col("TYPE", "spec.type", wide=True),
                  Col("DELETED", "spec.deleted", wide=True))),
    Kind("CalicoNodeStatus", "caliconodestatuses", status=True,
         aliases=("caliconodestatus", "caliconodestatuses", "nodestatus", "nodestatuses"),
         columns=(NAME, Col("NODE", "spec.node"), Col("CLASSES", "spec.classes", wide=True)),
         strategy=strategies.CALICO_NODE_STATUS),
    Kind("ClusterInformation", "clusterinformations", strategy=strategies.CLUSTER_INFORMATION,
         aliases=("clusterinformation", "clusterinformations", "clusterinfo", "clusterinfos"),
         columns=(NAME, Col("CLUSTERGUID", "spec.clusterGUID"), Col("CLUSTERTYPE", "spec.clusterType"),
                  Col("CALICOVERSION", "spec.calicoVersion"),
                  Col("DATASTOREREADY", "spec.datastoreReady"))),
    Kind("FederationExport", "federationexports",
         aliases=("federationexport", "federationexports", "fedexport", "fedexports"),
         columns=(NAME, Col("USERS", "spec.users"), Col("GROUPS", "spec.groups"),
                  Col("KINDS", "spec.kinds", wide=True),
                  Col("NAMESPACES", "spec.namespaces", wide=True),
                  Col("SELECTOR", "spec.selector", wide=True)),
         strategy=strategies.FEDERATION_EXPORT),
    Kind("FelixConfiguration", "felixconfigurations",
         aliases=("felixconfiguration", "felixconfigurations", "felixconfig", "felixconfigs"),
         strategy=strategies.FELIX_CONFIGURATION),
    Kind("GlobalNetworkPolicy", "globalnetworkpolicies",
         aliases=("globalnetworkpolicy", "globalnetworkpolicies", "gnp", "gnps", "cgnp"),
         columns=POLICY_COLUMNS, strategy=strategies.GLOBAL_NETWORK_POLICY),
    Kind("GlobalNetworkSet", "globalnetworksets",
         aliases=("globalnetworkset", "globalnetworksets", "gnetsets", "gns"),
         columns=(NAME, Col("NETS", truncated("spec.nets"), wide=True)),
         strategy=strategies.GLOBAL_NETWORK_SET),
    Kind("HostEndpoint", "hostendpoints", aliases=("hostendpoint", "hostendpoints", "hep", "heps"),
         columns=(NAME, Col("NODE", "spec.node"), Col("INTERFACE", "spec.interfaceName", wide=True),
                  Col("IPS", "spec.expectedIPs", wide=True), Col("PROFILES", "spec.profiles", wide=True)),
         strategy=strategies.HOST_ENDPOINT),
    Kind("IPAMBlock", "ipamblocks", aliases=("ipamblock", "ipamblocks"),
         columns=(NAME, Col("CIDR", "spec.cidr"), Col("AFFINITY", "spec.affinity"),
                  Col("ALLOCATED", _allocated, wide=True), Col("FREE", _count("unallocated"),
                                                               wide=True)),
         strategy=strategies.IPAM_BLOCK),
    Kind("IPAMConfiguration", "ipamconfigurations",
         aliases=("ipamconfiguration", "ipamconfigurations", "ipamconfig", "ipamconfigs"),
         columns=(NAME, Col("STRICTAFFINITY", "spec.strictAffinity"),
                  Col("AUTOALLOCATEBLOCKS", "spec.autoAllocateBlocks"),
                  Col("MAXBLOCKSPERHOST", first_of("spec.maxBlocksPerHost", default="0"),
                      wide=True)),
         strategy=strategies.IPAM_CONFIGURATION),
    Kind("IPAMHandle", "ipamhandles", aliases=("ipamhandle", "ipamhandles"),
         columns=(NAME, Col("HANDLEID", "spec.handleID"), Col("BLOCKS", "spec.block", wide=True)),
         strategy=strategies.IPAM_HANDLE),
    Kind("IPPool", "ippools", aliases=("ippool", "ippools", "ipp", "ipps", "pool", "pools"),
         columns=(NAME, Col("CIDR", "spec.cidr"),
                  Col("NAT", first_of("spec.natOutgoing", default="false"), wide=True),
                  Col("IPIPMODE", _ip_mode("ipipMode"), wide=True),
                  Col("VXLANMODE", _ip_mode("vxlanMode"), wide=True),
                  Col("DISABLED", first_of("spec.disabled", default="false"), wide=True),
                  Col("DISABLEBGPEXPORT", first_of("spec.disableBGPExport", default="false"),
                      wide=True),
                  Col("SELECTOR", "spec.nodeSelector"),
                  Col("ASSIGNMENTMODE", "spec.assignmentMode", wide=True)),
         strategy=strategies.IPPOOL),
    Kind("IPReservation", "ipreservations",
         aliases=("ipreservation", "ipreservations", "reservation", "reservations"),
         columns=(NAME, Col("CIDRS", truncated("spec.reservedCIDRs"), wide=True)),
         strategy=strategies.IP_RESERVATION),
    Kind("KubeControllersConfiguration", "kubecontrollersconfigurations",
         aliases=("kubecontrollersconfiguration", "kubecontrollersconfigurations",
                  "kubecontrollersconfig", "kubecontrollersconfigs", "kcc", "kccs"),
         strategy=strategies.KUBE_CONTROLLERS_CONFIGURATION),
    Kind("NetworkPolicy", "networkpolicies", namespaced=True,
         aliases=("networkpolicy", "networkpolicies", "policy", "policies", "np", "pol", "pols",
                  "cnp", "caliconetworkpolicy"),
         columns=POLICY_COLUMNS, strategy=strategies.NETWORK_POLICY),
    Kind("NetworkSet", "networksets", namespaced=True,
         aliases=("networkset", "networksets", "netsets"),
         columns=(NAME, Col("NETS", truncated("spec.nets"), wide=True)),
         strategy=strategies.NETWORK_SET),
    Kind("Node", "nodes", aliases=("node", "nodes", "no", "nos"),
         columns=(NAME, Col("ASN", first_of("spec.bgp.asNumber", default="(64512)"), wide=True),
                  Col("IPV4", "spec.bgp.ipv4Address", wide=True),
                  Col("IPV6", "spec.bgp.ipv6Address", wide=True)),
         strategy=strategies.NODE),
    Kind("Profile", "profiles", aliases=("profile", "profiles", "pro", "pros"),
         columns=(NAME, Col("LABELS", "spec.labelsToApply", wide=True)),
         strategy=strategies.PROFILE),
    Kind("RemoteClusterConfiguration", "remoteclusterconfigurations", status=True,
         server_status=True,
         aliases=("remoteclusterconfiguration", "remoteclusterconfigurations", "rcc", "rccs"),
         columns=(NAME, Col("APISERVER", "spec.apiServer"), Col("STATE", "status.state"),
                  Col("OBJECTS", "status.objects", wide=True),
                  Col("LAG", "status.lagSeconds", wide=True),
                  Col("LASTSYNC", "status.lastSyncTime", wide=True),
                  Col("ERROR", "status.lastError", wide=True)),
         strategy=strategies.REMOTE_CLUSTER_CONFIGURATION),
    Kind("StagedGlobalNetworkPolicy", "stagedglobalnetworkpolicies",
         aliases=("stagedglobalnetworkpolicy", "stagedglobalnetworkpolicies", "sgnp", "sgnps"),
         columns=POLICY_COLUMNS, strategy=strategies.STAGED_GLOBAL_NETWORK_POLICY),
    Kind("StagedKubernetesNetworkPolicy", "stagedkubernetesnetworkpolicies", namespaced=True,
         aliases=("stagedkubernetesnetworkpolicy", "stagedkubernetesnetworkpolicies",
                  "stagedkubernetespolicy", "stagedkubernetespolicies", "sknp", "skpol", "skpols"),
         columns=(NAME, Col("PODSELECTOR", "spec.podSelector", wide=True))),
    Kind("StagedNetworkPolicy", "stagednetworkpolicies", namespaced=True,
         aliases=("stagednetworkpolicy", "stagednetworkpolicies", "stagedpolicy", "stagedpolicies",
                  "snp", "spol", "spols", "scnp"),
         columns=POLICY_COLUMNS, strategy=strategies.STAGED_NETWORK_POLICY),
    Kind("Tier", "tiers", aliases=("tier", "tiers"),
         columns=(NAME, Col("ORDER", "spec.order")),
         strategy=strategies.TIER),
    Kind("WorkloadEndpoint", "workloadendpoints", namespaced=True,
         aliases=("workloadendpoint", "workloadendpoints", "wep", "weps"),
         columns=(Col("NAME", "metadata.name", wide=True), Col("WORKLOAD", "spec.workload"),
                  Col("NODE", "spec.node"), Col("NETWORKS", "spec.ipNetworks"),
                  Col("INTERFACE", "spec.interfaceName"), Col("PROFILES", "spec.profiles", wide=True),
                  Col("NATS", "spec.ipNATs", wide=True)),
         strategy=strategies.WORKLOAD_ENDPOINT),
)


class Catalog:
    """Kinds by name and plural, and by etcd key: the one place a key is routed to its kind."""

    def __init__(self, kinds: Iterable[Kind] = KINDS) -> None:
        self.kinds = tuple(kinds)
        self.by_kind = {k.kind: k for k in self.kinds}
        self.by_plural = {k.plural: k for k in self.kinds}
        ranges = sorted(((prefix, k) for k in self.kinds for prefix in k.layout.prefixes()),
                        key=lambda pair: pair[0])
        for (prefix, kind), (after, other) in zip(ranges, ranges[1:]):
            if after.startswith(prefix):
                raise ValueError(f"the keys of {other.kind} ({after}) lie inside those of "
                                 f"{kind.kind} ({prefix})")
        self._starts = [prefix for prefix, _ in ranges]
        self._owners = [kind for _, kind in ranges]

    def __iter__(self):
        return iter(self.kinds)

    def kind(self, name: str) -> Kind:
        return self.by_kind[name]

    @property
    def prefixes(self) -> list[str]:
        """Every kind's key range, in key order."""
        return list(self._starts)

    def locate(self, key: str) -> Kind | None:
        """The kind whose keys ``key`` lies among (by prefix: no kind's prefix begins another's,
        so the nearest prefix at or before the key is the only candidate), or None."""
        at = bisect.bisect_right(self._starts, key) - 1
        return self._owners[at] if at >= 0 and key.startswith(self._starts[at]) else None
