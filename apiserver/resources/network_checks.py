"""Checks of the networking configuration kinds: IPPool, BGPConfiguration, BGPPeer, BGPFilter,
FelixConfiguration, KubeControllersConfiguration (validator.go struct validators and field
tags, the CRD CEL rules, clientv3's BGPConfiguration default-only fields)."""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from apiserver.resources.fieldview import Check, Report, as_mapping, items, mapping, text
from apiserver.resources.metadata_checks import check_annotations, check_labels
from apiserver.resources.formats import (
    INTERFACE_NAME, cidr_problem, ip_problem, ip_version, is_duration, is_go_regexp, is_name,
    parse_cidr, parse_port, port_problem, shown)
from apiserver.resources.policy_checks import selector_field

_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
_BGP_FILTER_INTERFACE = re.compile(r"[a-zA-Z0-9_.*-]{1,15}")
_IFACE_FILTER = re.compile(r"[a-zA-Z0-9:._+-]{1,15}")
_PROMETHEUS_HOST = re.compile(r"[a-zA-Z0-9:._+-]{1,64}")
_HEALTH_OVERRIDE_NAME = re.compile(r"[a-zA-Z0-9_ -]+")
_STANDARD_COMMUNITY = re.compile(r"(\d+):(\d+)")
_LARGE_COMMUNITY = re.compile(r"(\d+):(\d+):(\d+)")
_IPV4_PORT = re.compile(r"(\d+).(\d+).(\d+).(\d+):(\d+)")
_IPV6_PORT = re.compile(r"\[([0-9a-fA-F:.]+)\]:(\d+)")
BGP_DEFAULT_ONLY = ("nodeToNodeMeshEnabled", "asNumber", "serviceLoadBalancerIPs", "serviceExternalIPs",
                    "serviceClusterIPs", "nodeMeshPassword", "nodeMeshMaxRestartTime")


AS_NUMBER_MAX = 2**32 - 1


def as_number_problem(value: Any) -> str | None:
    """Why ``value`` is not a (canonicalised) ``numorstring.ASNumber``: a uint32."""
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= AS_NUMBER_MAX:
        return f"AS number {value} is out of range 0-{AS_NUMBER_MAX}"
    return None


def _as_numbers(report: Report, base: str, holder: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in holder:
            report.check(f"{base}.{key}", as_number_problem(holder[key]))
        for index, value in enumerate(items(holder, key)):
            report.check(f"{base}.{key}[{index}]", as_number_problem(value))


def _enabled(mode: Any) -> bool:
    return mode in ("Always", "CrossSubnet")


def _ippool(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
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
            report.add("spec.cidr", f"IP pool size /{cidr.network.prefixlen} is too small for use with Calico "
                                    f"IPAM: it must be equal to or greater than the block size /{block}")


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


def _bgp_configuration(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    name = text(mapping(obj, "metadata"), "name")
    if name and name != "default":
        for key in BGP_DEFAULT_ONLY:
            if key in spec:
                report.add(f"spec.{key}", f"{key} may only be set on the BGPConfiguration named 'default'",
                           "FieldValueForbidden")
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
    _durations(report, "spec", spec, ("nodeMeshMaxRestartTime",))
    _as_numbers(report, "spec", spec, ("asNumber",))


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


def _bgp_peer(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
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
    _durations(report, "spec", spec, ("maxRestartTime", "keepaliveTime"))
    _as_numbers(report, "spec", spec, ("asNumber", "localASNumber"))


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


def _bgp_filter(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
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
    _as_numbers(report, field, rule, ("asPathPrefix",))
    for index, operation in enumerate(items(rule, "operations")):
        _as_numbers(report, f"{field}.operations[{index}].prependASPath",
                    mapping(operation, "prependASPath"), ("prefix",))
    interface = text(rule, "interface")
    if interface and not _BGP_FILTER_INTERFACE.fullmatch(interface):
        report.add(f"{field}.interface", f"invalid interface pattern {shown(interface)}")


# --- Felix and kube-controllers --------------------------------------------------------------------

def _range(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
            return f"{value} is out of range {low}-{high}"
        return None
    return check


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value and not pattern.fullmatch(value):
            return f"invalid {what} {shown(value)}"
        return None
    return check


def _regexp(value: Any) -> str | None:
    if isinstance(value, str) and value and not is_go_regexp(value):
        return f"invalid regular expression {shown(value)}"
    return None


def _address(version: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value:
            return None if ip_version(value) == version else f"must be a valid IPv{version} address, not {shown(value)}"
        return None
    return check


_PORT = _range(0, 65535)
_ROUTE_PRIORITY = _range(1, 2147483646)
FELIX_FIELDS: dict[str, Callable[[Any], str | None]] = {
    "iptablesNATOutgoingInterfaceFilter": _matching(_IFACE_FILTER, "interface filter"),
    "bpfDataIfacePattern": _regexp, "bpfL3IfacePattern": _regexp, "mtuIfacePattern": _regexp,
    "logDebugFilenameRegex": _regexp,
    "bpfExtToServiceConnmark": _range(0, 2**32 - 1),
    "ipv4NormalRoutePriority": _ROUTE_PRIORITY, "ipv4ElevatedRoutePriority": _ROUTE_PRIORITY,
    "ipv6NormalRoutePriority": _ROUTE_PRIORITY, "ipv6ElevatedRoutePriority": _ROUTE_PRIORITY,
    "prometheusMetricsHost": _matching(_PROMETHEUS_HOST, "host"),
    "healthHost": _matching(_PROMETHEUS_HOST, "host"),
    "wireguardListeningPort": _range(1, 65535), "wireguardListeningPortV6": _range(1, 65535),
    "wireguardRoutingRulePriority": _range(1, 32765),
    "wireguardInterfaceName": _matching(INTERFACE_NAME, "interface name"),
    "wireguardInterfaceNameV6": _matching(INTERFACE_NAME, "interface name"),
    "natOutgoingAddress": _address(4), "deviceRouteSourceAddress": _address(4),
    "deviceRouteSourceAddressIPv6": _address(6),
    "metadataPort": _PORT, "healthPort": _PORT, "prometheusMetricsPort": _PORT, "debugPort": _PORT,
    "bpfKubeProxyHealthzPort": _PORT, "vxlanPort": _PORT,
}


def _felix(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    name = text(mapping(obj, "metadata"), "name")
    if (name == "default" or name.startswith("node.")) and "nodeSelector" in spec:
        report.add("spec.nodeSelector",
                   "nodeSelector must not be set on the 'default' or per-node ('node.*') FelixConfiguration")
    selector_field(report, "spec.nodeSelector", spec.get("nodeSelector"))
    for key, rule in FELIX_FIELDS.items():
        if key in spec:
            report.check(f"spec.{key}", rule(spec[key]))
    for index, interface in enumerate(items(spec, "bpfForceTrackPacketsFromIfaces")):
        report.check(f"spec.bpfForceTrackPacketsFromIfaces[{index}]",
                _matching(_IFACE_FILTER, "interface filter")(interface))
    _felix_ports(report, spec)
    _felix_cidrs(report, spec)
    _route_tables(report, spec)
    region = text(spec, "openstackRegion")
    if len(region) > 63 - len("openstack-region-"):
        report.add("spec.openstackRegion", "openstackRegion is too long (at most 46 characters)")
    elif region and not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", region):
        report.add("spec.openstackRegion", f"openstackRegion {shown(region)} must be a valid DNS label")
    for index, override in enumerate(items(spec, "healthTimeoutOverrides")):
        field = f"spec.healthTimeoutOverrides[{index}]"
        if not _HEALTH_OVERRIDE_NAME.fullmatch(text(override, "name")):
            report.add(f"{field}.name", f"name must match {_HEALTH_OVERRIDE_NAME.pattern}")
        timeout = text(override, "timeout")
        if timeout and (not is_duration(timeout) or timeout.startswith("-")):
            report.add(f"{field}.timeout", f"timeout must be a non-negative duration, not {shown(timeout)}")


def _felix_ports(report: Report, spec: dict[str, Any]) -> None:
    for index, value in enumerate(items(spec, "kubeNodePortRanges")):
        port = parse_port(value)
        problem = port if isinstance(port, str) else port_problem(port)
        if not problem and port.name:
            problem = "node port ranges must not contain named ports"
        report.check(f"spec.kubeNodePortRanges[{index}]", problem)
    for key in ("natPortRange", "bpfPSNATPorts"):
        if key in spec:
            port = parse_port(spec[key])
            report.check(f"spec.{key}", port if isinstance(port, str) else port_problem(port))
    for key in ("failsafeInboundHostPorts", "failsafeOutboundHostPorts"):
        for index, proto_port in enumerate(items(spec, key)):
            protocol = proto_port.get("protocol", "") if isinstance(proto_port, dict) else ""
            if protocol not in ("TCP", "UDP", "SCTP"):
                report.add(f"spec.{key}[{index}].protocol",
                           f"protocol must be 'TCP', 'UDP' or 'SCTP', not {shown(protocol)}")
            if text(proto_port, "net"):
                report.check(f"spec.{key}[{index}].net", cidr_problem(proto_port["net"]))


def _felix_cidrs(report: Report, spec: dict[str, Any]) -> None:
    for index, cidr in enumerate(items(spec, "externalNodesList")):
        report.check(f"spec.externalNodesList[{index}]", cidr_problem(cidr, version=4))
    for key in ("bpfExcludeCIDRsFromNAT", "bpfDSROptoutCIDRs"):
        for index, cidr in enumerate(items(spec, key)):
            report.check(f"spec.{key}[{index}]", cidr_problem(cidr))


def _route_tables(report: Report, spec: dict[str, Any]) -> None:
    if "routeTableRange" in spec and "routeTableRanges" in spec:
        report.add("spec.routeTableRange", "routeTableRange and routeTableRanges cannot both be set")
    single = mapping(spec, "routeTableRange")
    low, high = single.get("min", 0), single.get("max", 0)
    if single and _ints(low, high) and not (1 <= low <= high <= 250):
        report.add("spec.routeTableRange", "must be a range of route table indices within 1..250")
    total = 0
    for index, entry in enumerate(items(spec, "routeTableRanges")):
        low, high = as_mapping(entry).get("min", 0), as_mapping(entry).get("max", 0)
        if not _ints(low, high):
            continue
        field = f"spec.routeTableRanges[{index}]"
        if low < 1:
            report.add(field, "min must be >= 1")
        if low > high:
            report.add(field, "min must not be greater than max")
        if high > 2**32 - 1:
            report.add(field, "max must be at most 4294967295")
        total += max(0, high - low + 1)
    if total > 0xFFFF:
        report.add("spec.routeTableRanges", f"route table ranges target {total} tables; at most 65535 are allowed")


def _ints(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _kube_controllers(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    _durations(report, "spec", spec, ("etcdV3CompactionPeriod",))
    controllers = mapping(spec, "controllers")
    for name in ("node", "policy", "workloadEndpoint", "serviceAccount", "namespace"):
        _durations(report, f"spec.controllers.{name}", mapping(controllers, name), ("reconcilerPeriod",))
    node = mapping(controllers, "node")
    _durations(report, "spec.controllers.node", node, ("leakGracePeriod",))
    host_endpoint = mapping(node, "hostEndpoint")
    create = host_endpoint.get("createDefaultHostEndpoint")
    if create not in (None, "", "Enabled", "Disabled"):
        report.add("spec.controllers.node.hostEndpoint.createDefaultHostEndpoint",
                   f"unsupported value {shown(create)}: supported values: \"Enabled\", \"Disabled\"",
                   "FieldValueNotSupported")
    for index, template in enumerate(items(host_endpoint, "templates")):
        field = f"spec.controllers.node.hostEndpoint.templates[{index}]"
        if text(template, "generateName") and not is_name(template["generateName"]):
            report.add(f"{field}.generateName", f"invalid generateName {shown(template['generateName'])}")
        for position, cidr in enumerate(items(template, "interfaceCIDRs")):
            report.check(f"{field}.interfaceCIDRs[{position}]", cidr_problem(cidr))
        report.check(f"{field}.interfacePattern", _regexp(template.get("interfacePattern")))
        selector_field(report, f"{field}.nodeSelector", template.get("nodeSelector"))
        check_labels(report, f"{field}.labels", mapping(template, "labels"))
        check_annotations(report, f"{field}.annotations", mapping(template, "annotations"))


def _durations(report: Report, base: str, holder: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in holder and not is_duration(holder[key]):
            report.add(f"{base}.{key}", f"invalid duration {shown(holder[key])}: use a Go duration such as \"90s\"")


KIND_CHECKS: dict[str, tuple[Check, ...]] = {
    "IPPool": (_ippool,),
    "BGPConfiguration": (_bgp_configuration,),
    "BGPPeer": (_bgp_peer,),
    "BGPFilter": (_bgp_filter,),
    "FelixConfiguration": (_felix,),
    "KubeControllersConfiguration": (_kube_controllers,),
}
