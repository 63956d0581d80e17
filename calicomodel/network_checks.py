"""Checks of the IP pool and BGP kinds: IPPool, BGPConfiguration, BGPPeer, BGPFilter
(validator.go struct validators and field tags, the CRD CEL rules, clientv3's BGPConfiguration
default-only fields)."""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from .checking import (
    Report, as_mapping, check_durations, items, mapping, text)
from .formats import (
    cidr_problem, ip_problem, ip_version, is_name, parse_cidr, shown)
from .policy_checks import selector_field

_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
_BGP_FILTER_INTERFACE = re.compile(r"[a-zA-Z0-9_.*-]{1,15}")
_STANDARD_COMMUNITY = re.compile(r"(\d+):(\d+)", re.ASCII)
_LARGE_COMMUNITY = re.compile(r"(\d+):(\d+):(\d+)", re.ASCII)
_IPV4_PORT = re.compile(r"(\d+).(\d+).(\d+).(\d+):(\d+)", re.ASCII)
_IPV6_PORT = re.compile(r"\[([0-9a-fA-F:.]+)\]:(\d+)", re.ASCII)
BGP_DEFAULT_ONLY = ("nodeToNodeMeshEnabled", "asNumber", "serviceLoadBalancerIPs", "serviceExternalIPs",
                    "serviceClusterIPs", "nodeMeshPassword", "nodeMeshMaxRestartTime")


def _enabled(mode: Any) -> bool:
    return mode in ("Always", "CrossSubnet")


def ippool(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    cidr = parse_cidr(spec.get("cidr"))
    uses = items(spec, "allowedUses")
    load_balancer = "LoadBalancer" in uses
    ipip, vxlan = spec.get("ipipMode"), spec.get("vxlanMode")
    if "cidr" in spec and cidr is None:
        report.add("spec.cidr", f"IPPool CIDR must be a valid subnet, not {shown(spec['cidr'])}")
    if cidr is not None:
        _pool_cidr(report, spec, cidr)
    if _enabled(ipip) and _enabled(vxlan):
        report.add("spec.ipipMode", "ipipMode and vxlanMode cannot both be enabled")
    if load_balancer:
        if _enabled(ipip) or _enabled(vxlan):
            report.add("spec.allowedUses", "LoadBalancer IP pool cannot have IPIP or VXLAN enabled")
        if "Workload" in uses or "Tunnel" in uses:
            report.add("spec.allowedUses", "LoadBalancer cannot be combined with Workload or Tunnel allowed uses")
        if spec.get("disableBGPExport") is True:
            report.add("spec.disableBGPExport", "LoadBalancer IP pools cannot disable BGP export")
        if spec.get("nodeSelector") != "all()":
            report.add("spec.nodeSelector", "IP Pool with AllowedUse LoadBalancer must have nodeSelector set to all()")
    if "Tunnel" in uses and text(spec, "namespaceSelector"):
        report.add("spec.namespaceSelector", "IP Pool with AllowedUse Tunnel cannot have namespaceSelector")
    for key in ("nodeSelector", "namespaceSelector"):
        selector_field(report, f"spec.{key}", spec.get(key))
        if "global(" in text(spec, key):
            report.add(f"spec.{key}", f"global() selector is not valid for IPPool {key}")


def _pool_cidr(report: Report, spec: dict[str, Any], cidr: Any) -> None:
    if cidr.version == 6 and spec.get("ipipMode", "Never") not in ("Never", ""):
        report.add("spec.ipipMode", "IPIP is not supported on IPv6 pools")
    if not cidr.is_masked:
        report.add("spec.cidr", f"IPPool CIDR must be strictly masked (did you mean {cidr.network}?)")
    if cidr.network.overlaps(_LINK_LOCAL[0 if cidr.version == 4 else 1]):
        report.add("spec.cidr", f"IPPool CIDR overlaps with the IPv{cidr.version} link local range "
                                f"{_LINK_LOCAL[0 if cidr.version == 4 else 1]}")
    block = spec.get("blockSize")
    if isinstance(block, int) and not isinstance(block, bool):
        low, high = (20, 32) if cidr.version == 4 else (116, 128)
        if not low <= block <= high:
            report.add("spec.blockSize", f"blockSize must be between {low} and {high} for IPv{cidr.version} pools")
        elif spec.get("disabled") is not True and cidr.network.prefixlen > block:
            report.add("spec.cidr", "IP pool size is too small for use with Calico IPAM. It must be equal to "
                                    "or greater than the block size.")


# --- BGP ---------------------------------------------------------------------------------------

def _community_problem(value: Any) -> str | None:
    """Why ``value`` is not ``aa:nn`` (16-bit parts) or ``aa:nn:mm`` (32-bit parts)."""
    if not isinstance(value, str):
        return f"invalid community value {shown(value)}"
    for pattern, bits in ((_STANDARD_COMMUNITY, 16), (_LARGE_COMMUNITY, 32)):
        match = pattern.fullmatch(value)
        if match:
            if any(int(part) >= 2**bits for part in match.groups()):
                return f"invalid community value {shown(value)}: expected {bits} bit values"
            return None
    return f"invalid community value {shown(value)}: must be aa:nn or aa:nn:mm"


def bgp_configuration(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    name = text(mapping(obj, "metadata"), "name")
    if name and name != "default":
        for key in BGP_DEFAULT_ONLY:
            if key in spec:
                report.add(f"spec.{key}", f"Forbidden: Cannot set {key} on a non default BGP "
                                          "Configuration.", "FieldValueForbidden")
    if spec.get("nodeToNodeMeshEnabled") is False:
        for key in ("nodeMeshPassword", "nodeMeshMaxRestartTime"):
            if key in spec:
                report.add(f"spec.{key}", f"{key} cannot be set when nodeToNodeMeshEnabled is false")
    _communities(report, spec)
    for key in ("serviceLoadBalancerIPs", "serviceExternalIPs", "serviceClusterIPs"):
        for index, block in enumerate(items(spec, key)):
            if text(block, "cidr"):
                report.check(f"spec.{key}[{index}].cidr", cidr_problem(block["cidr"], masked=True))
    for index, interface in enumerate(items(spec, "ignoredInterfaces")):
        if interface == "*" or not (isinstance(interface, str) and _BGP_FILTER_INTERFACE.fullmatch(interface)):
            report.add(f"spec.ignoredInterfaces[{index}]", f"invalid interface name {shown(interface)}")
    for key, version in (("localWorkloadPeeringIPV4", 4), ("localWorkloadPeeringIPV6", 6)):
        if text(spec, key):
            report.check(f"spec.{key}", ip_problem(spec[key], version=version))
    check_durations(report, "spec", spec, ("nodeMeshMaxRestartTime",))


def _communities(report: Report, spec: dict[str, Any]) -> None:
    communities = items(spec, "communities")
    names = {text(c, "name") for c in communities}
    for index, community in enumerate(communities):
        field = f"spec.communities[{index}]"
        if not text(community, "name"):
            report.add(f"{field}.name", "community name is required", "FieldValueRequired")
        elif not is_name(community["name"]):
            report.add(f"{field}.name", f"invalid community name {shown(community['name'])}")
        if not text(community, "value"):
            report.add(f"{field}.value", "community value is required", "FieldValueRequired")
        else:
            report.check(f"{field}.value", _community_problem(community["value"]))
    advertisements = items(spec, "prefixAdvertisements")
    if communities and not advertisements:
        report.add("spec.communities", "communities are defined but not used in prefixAdvertisements")
    for index, advertisement in enumerate(advertisements):
        field = f"spec.prefixAdvertisements[{index}]"
        if not text(advertisement, "cidr"):
            report.add(f"{field}.cidr", "cidr is required", "FieldValueRequired")
        else:
            report.check(f"{field}.cidr", cidr_problem(advertisement["cidr"]))
        if "communities" not in as_mapping(advertisement):
            report.add(f"{field}.communities", "communities are required", "FieldValueRequired")
        for position, value in enumerate(items(advertisement, "communities")):
            if value not in names and _community_problem(value):
                report.add(f"{field}.communities[{position}]",
                           f"community {shown(value)} is invalid or not defined in spec.communities")


def _split_ip_port(peer: str) -> tuple[str, int | None] | None:
    """``processIPPort``: ``IP``, ``IPv4:port`` or ``[IPv6]:port`` → (ip, port), else None."""
    match = _IPV4_PORT.fullmatch(peer) or _IPV6_PORT.fullmatch(peer)
    if not match:
        return (peer, None) if ip_version(peer) else None
    host, _, port_text = peer.rpartition(":")
    host = host[1:-1] if host.startswith("[") else host
    if len(port_text) > 5 or int(port_text) > 65535 or int(port_text) < 1 or not ip_version(host):
        return None
    return host, int(port_text)


def bgp_peer(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    node, peer_ip = text(spec, "node"), text(spec, "peerIP")
    has = {key: bool(spec.get(key)) for key in ("nodeSelector", "peerSelector", "localWorkloadSelector")}
    as_number = spec.get("asNumber") or 0
    if node and not is_name(node):
        report.add("spec.node", f"invalid node name {shown(node)}")
    for key in has:
        selector_field(report, f"spec.{key}", spec.get(key))
    if peer_ip and _split_ip_port(peer_ip) is None:
        report.add("spec.peerIP", f"invalid peerIP {shown(peer_ip)}: must be <IP>, <IPv4>:<port> or [<IPv6>]:<port>")
    rules = (
        (node and has["nodeSelector"], "spec.node", "node and nodeSelector cannot both be set"),
        (peer_ip and has["peerSelector"], "spec.peerIP", "peerIP and peerSelector cannot both be set"),
        (as_number and has["peerSelector"], "spec.asNumber", "asNumber must be empty when peerSelector is set"),
        (peer_ip and has["localWorkloadSelector"], "spec.peerIP",
         "peerIP must be empty when localWorkloadSelector is set"),
        (has["peerSelector"] and has["localWorkloadSelector"], "spec.peerSelector",
         "peerSelector must be empty when localWorkloadSelector is set"),
        (not as_number and has["localWorkloadSelector"], "spec.asNumber",
         "asNumber is required when localWorkloadSelector is set"),
        (spec.get("keepOriginalNextHop") is True and "nextHopMode" in spec, "spec.keepOriginalNextHop",
         "keepOriginalNextHop and nextHopMode cannot both be set; keepOriginalNextHop is deprecated, "
         "use nextHopMode instead"),
    )
    for failed, field, message in rules:
        if failed:
            report.add(field, message)
    _reachable_by(report, text(spec, "reachableBy"), peer_ip)
    for index, name in enumerate(items(spec, "filters")):
        if not is_name(name):
            report.add(f"spec.filters[{index}]", f"invalid BGPFilter name {shown(name)}")
    check_durations(report, "spec", spec, ("maxRestartTime", "keepaliveTime"))


def _reachable_by(report: Report, reachable_by: str, peer_ip: str) -> None:
    if not reachable_by:
        return
    if not peer_ip:
        report.add("spec.reachableBy", "reachableBy must be empty when peerIP is empty")
        return
    version = ip_version(reachable_by)
    split = _split_ip_port(peer_ip)
    if version is None:
        report.add("spec.reachableBy", f"invalid reachableBy address {shown(reachable_by)}")
    elif split is not None and ip_version(split[0]) != version:
        report.add("spec.reachableBy", "reachableBy and peerIP address families do not match")


def bgp_filter(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    for key, version in (("exportV4", 4), ("importV4", 4), ("exportV6", 6), ("importV6", 6)):
        for index, rule in enumerate(items(spec, key)):
            if isinstance(rule, dict):
                _bgp_filter_rule(report, f"spec.{key}[{index}]", rule, version)


def _bgp_filter_rule(report: Report, field: str, rule: dict[str, Any], version: int) -> None:
    cidr, operator = text(rule, "cidr"), text(rule, "matchOperator")
    if cidr:
        report.check(f"{field}.cidr", cidr_problem(cidr, version=version, masked=True))
    if bool(cidr) != bool(operator):
        report.add(f"{field}.cidr" if not cidr else f"{field}.matchOperator",
                   "cidr and matchOperator must both be set or both be empty")
    if "prefixLength" in rule and not cidr:
        report.add(f"{field}.cidr", "cidr is required when prefixLength is set", "FieldValueRequired")
    if items(rule, "operations") and rule.get("action") != "Accept":
        report.add(f"{field}.operations", "operations may only be used with action Accept")
    interface = text(rule, "interface")
    if interface and not _BGP_FILTER_INTERFACE.fullmatch(interface):
        report.add(f"{field}.interface", f"invalid interface pattern {shown(interface)}")
