"""Checks of endpoint kinds: HostEndpoint, WorkloadEndpoint and Node (validator.go
``validateHostEndpointSpec``, ``validateWorkloadEndpointSpec``, ``validateIPNAT``,
``validateEndpointPort``/``validateWorkloadEndpointPort``, ``validateNodeSpec``; the
HostEndpoint CEL rules)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .checking import Report, items, mapping, text
from .formats import (
    CONTAINER_ID, INTERFACE_NAME, cidr_problem, ip_problem, is_mac, is_name, is_wireguard_key,
    parse_cidr, port_name_problem, protocol_problem, protocol_supports_ports, shown)


def host_endpoint(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    if not text(spec, "node"):
        report.add("spec.node", "node must be specified", "FieldValueRequired")
    elif not is_name(spec["node"]):
        report.add("spec.node", f"invalid node name {shown(spec['node'])}")
    interface = text(spec, "interfaceName")
    if not interface and not items(spec, "expectedIPs"):
        report.add("spec.interfaceName", "at least one of interfaceName or expectedIPs must be specified",
                   "FieldValueRequired")
    if interface and interface != "*" and not INTERFACE_NAME.fullmatch(interface):
        report.add("spec.interfaceName", f"invalid interface name {shown(interface)}")
    for index, address in enumerate(items(spec, "expectedIPs")):
        report.check(f"spec.expectedIPs[{index}]", ip_problem(address))
    _profile_names(report, spec)
    for index, port in enumerate(items(spec, "ports")):
        if isinstance(port, dict):
            _endpoint_port(report, f"spec.ports[{index}]", port, need_name=True)


def _profile_names(report: Report, spec: dict[str, Any]) -> None:
    for index, profile in enumerate(items(spec, "profiles")):
        if not is_name(profile):
            report.add(f"spec.profiles[{index}]", f"invalid profile name {shown(profile)}")


def _endpoint_port(report: Report, field: str, port: dict[str, Any], *, need_name: bool) -> None:
    name = port.get("name", "")
    if name or need_name:
        report.check(f"{field}.name", port_name_problem(name))
    protocol = port.get("protocol", "")
    report.check(f"{field}.protocol", protocol_problem(protocol) or _ports_problem(protocol))


def _ports_problem(protocol: Any) -> str | None:
    if protocol_supports_ports(protocol):
        return None
    return f"protocol {shown(protocol)} does not support ports (use TCP, UDP or SCTP)"


def node(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    bgp = spec.get("bgp")
    if isinstance(bgp, dict):
        if not bgp:
            report.add("spec.bgp", "spec.bgp must not be empty when present")
        _check_all(report, "spec.bgp", bgp, {
            "ipv4Address": lambda v: cidr_problem(v, version=4),
            "ipv6Address": lambda v: cidr_problem(v, version=6),
            "ipv4IPIPTunnelAddr": lambda v: ip_problem(v, version=4),
            "routeReflectorClusterID": lambda v: ip_problem(v, version=4),
        })
    _check_all(report, "spec.wireguard", mapping(spec, "wireguard"), {
        "interfaceIPv4Address": lambda v: ip_problem(v, version=4),
        "interfaceIPv6Address": lambda v: ip_problem(v, version=6),
    })
    _check_all(report, "spec", spec, {
        "ipv4VXLANTunnelAddr": lambda v: ip_problem(v, version=4),
        "ipv6VXLANTunnelAddr": lambda v: ip_problem(v, version=6),
        "vxlanTunnelMACAddr": _mac_problem,
        "vxlanTunnelMACAddrV6": _mac_problem,
    })
    for index, address in enumerate(items(spec, "addresses")):
        if isinstance(address, dict):
            _check_all(report, f"spec.addresses[{index}]", address, {"address": cidr_problem})
    status = mapping(obj, "status")
    for key in ("wireguardPublicKey", "wireguardPublicKeyV6"):
        if text(status, key) and not is_wireguard_key(status[key]):
            report.add(f"status.{key}", "invalid WireGuard public key: must be 32 bytes, base64-encoded")


def _mac_problem(value: Any) -> str | None:
    return None if is_mac(value) else f"invalid MAC address {shown(value)}"


def _check_all(report: Report, base: str, holder: dict[str, Any],
               rules: dict[str, Callable[[Any], str | None]]) -> None:
    """Apply ``rules[key](value)`` to every non-empty string field ``key`` of ``holder``."""
    for key, rule in rules.items():
        if text(holder, key):
            report.check(f"{base}.{key}", rule(holder[key]))


def workload_endpoint(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    for key in ("orchestrator", "workload", "node", "pod", "endpoint", "serviceAccountName"):
        if text(spec, key) and not is_name(spec[key]):
            report.add(f"spec.{key}", f"invalid {key} {shown(spec[key])}: must be a DNS subdomain")
    if text(spec, "containerID") and not CONTAINER_ID.fullmatch(spec["containerID"]):
        report.add("spec.containerID", f"invalid container ID {shown(spec['containerID'])}")
    interface = text(spec, "interfaceName")
    if not interface:
        report.add("spec.interfaceName", "interfaceName is required", "FieldValueRequired")
    elif not INTERFACE_NAME.fullmatch(interface):
        report.add("spec.interfaceName", f"invalid interface name {shown(interface)}")
    _check_all(report, "spec", spec, {"mac": _mac_problem,
                                      "ipv4Gateway": lambda v: ip_problem(v, version=4),
                                      "ipv6Gateway": lambda v: ip_problem(v, version=6)})
    networks = []
    for index, net in enumerate(items(spec, "ipNetworks")):
        cidr = parse_cidr(net)
        if cidr is None or not cidr.is_masked:
            report.add(f"spec.ipNetworks[{index}]", cidr_problem(net, masked=True) or "invalid CIDR")
        elif cidr.network.prefixlen != cidr.network.max_prefixlen:
            report.add(f"spec.ipNetworks[{index}]", f"{shown(net)} contains multiple addresses")
        else:
            networks.append(cidr.network)
    for index, nat in enumerate(items(spec, "ipNATs")):
        _ipnat(report, f"spec.ipNATs[{index}]", nat, networks)
    for index, prefix in enumerate(items(spec, "allowSpoofedSourcePrefixes")):
        report.check(f"spec.allowSpoofedSourcePrefixes[{index}]", cidr_problem(prefix))
    _profile_names(report, spec)
    for index, port in enumerate(items(spec, "ports")):
        if isinstance(port, dict):
            _workload_port(report, f"spec.ports[{index}]", port)


def _ipnat(report: Report, field: str, nat: Any, networks: list[Any]) -> None:
    if not isinstance(nat, dict):
        return
    internal, external = parse_cidr(nat.get("internalIP")), parse_cidr(nat.get("externalIP"))
    if internal is None:
        report.add(f"{field}.internalIP", f"invalid IP address {shown(nat.get('internalIP', ''))}")
    if external is None:
        report.add(f"{field}.externalIP", f"invalid IP address {shown(nat.get('externalIP', ''))}")
    if internal and external and internal.version != external.version:
        report.add(f"{field}.externalIP", "internalIP and externalIP must be the same IP version")
    if internal and not any(internal.address in net for net in networks):
        report.add(f"{field}.internalIP", "NAT internal IP is not in the endpoint's ipNetworks")


def _workload_port(report: Report, field: str, port: dict[str, Any]) -> None:
    name, host_port = port.get("name", ""), port.get("hostPort", 0)
    if name:
        report.check(f"{field}.name", port_name_problem(name))
    elif not host_port:
        report.add(f"{field}.name", "port name must not be empty when no hostPort is given",
                   "FieldValueRequired")
    if not port.get("port"):
        report.add(f"{field}.port", "port must be between 1 and 65535")
    protocol = port.get("protocol", "")
    report.check(f"{field}.protocol", protocol_problem(protocol) or _ports_problem(protocol))
    if text(port, "hostIP"):
        report.check(f"{field}.hostIP", cidr_problem(port["hostIP"], masked=True))
