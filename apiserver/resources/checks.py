"""Semantic checks: libcalico-go validator rules that JSON Schema cannot express.

`run` applies, to a whole object whose kind has a schema:

* metadata checks for every kind (name syntax per kind, label and annotation syntax, the
  256 KiB annotation limit), from ``validateObjectMeta`` and friends;
* the kind's named checks in `KIND_CHECKS` (struct validators of ``validator.go``, the CRD
  CEL rules of ``crd_cel_rules.md``, singleton names, BGPConfiguration default-only fields).

Checks read the object through the total accessors of `apiserver.resources.fieldview`, so a
part of the wrong type is simply skipped here (the schema layer reports it); a check never
raises and never mutates. A new kind needs no entry here unless it has such rules.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from apiserver.resources import network_checks, policy_checks
from apiserver.resources.errors import Cause
from apiserver.resources.fieldview import Report, items, mapping, text
from apiserver.resources.formats import (
    CONTAINER_ID, DNS_LABEL, INTERFACE_NAME, cidr_problem, ip_problem, is_mac, is_name,
    is_wireguard_key, parse_cidr, port_name_problem, protocol_problem, protocol_supports_ports,
    shown)
from apiserver.resources.metadata_checks import check_annotations, check_labels, check_name

NAMESPACE_LABEL = "projectcalico.org/namespace"

Check = Callable[[Report, dict[str, Any], dict[str, Any]], None]


def run(kind: str, obj: dict[str, Any]) -> Iterator[Cause]:
    """Every semantic problem of ``obj`` (a ``kind`` object that passed the shape bounds)."""
    report = Report()
    metadata = mapping(obj, "metadata")
    check_name(report, kind, metadata)
    check_labels(report, "metadata.labels", mapping(metadata, "labels"))
    check_annotations(report, "metadata.annotations", mapping(metadata, "annotations"))
    spec = mapping(obj, "spec")
    for check in KIND_CHECKS.get(kind, ()):
        check(report, obj, spec)
    return iter(report.causes)


# --- network sets -----------------------------------------------------------------------------

def _no_namespace_label(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    if NAMESPACE_LABEL in mapping(mapping(obj, "metadata"), "labels"):
        report.add("metadata.labels", f"{NAMESPACE_LABEL} is reserved and may not be set")


def _nets(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    for index, net in enumerate(items(spec, "nets")):
        problem = cidr_problem(net)
        if problem:
            report.add(f"spec.nets[{index}]", problem)


# --- small kinds -------------------------------------------------------------------------------

def _host_endpoint(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
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
        problem = ip_problem(address)
        if problem:
            report.add(f"spec.expectedIPs[{index}]", problem)
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
        problem = port_name_problem(name)
        if problem:
            report.add(f"{field}.name", problem)
    protocol = port.get("protocol", "")
    problem = protocol_problem(protocol)
    if problem:
        report.add(f"{field}.protocol", problem)
    elif not protocol_supports_ports(protocol):
        report.add(f"{field}.protocol", f"protocol {shown(protocol)} does not support ports "
                                        "(use TCP, UDP or SCTP)")


def _ip_reservation(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    for index, cidr in enumerate(items(spec, "reservedCIDRs")):
        problem = cidr_problem(cidr)
        if problem:
            report.add(f"spec.reservedCIDRs[{index}]", problem)


def _tier(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    name = text(mapping(obj, "metadata"), "name")
    builtins = {"default": (1_000_000, "Deny"), "kube-admin": (1_000, "Pass"),
                "kube-baseline": (10_000_000, "Pass")}
    if name not in builtins:
        return
    order, action = builtins[name]
    if spec.get("order") != order or isinstance(spec.get("order"), bool):
        report.add("spec.order", f"{name} tier order must be {order}")
    if spec.get("defaultAction") != action:
        report.add("spec.defaultAction", f"The '{name}' tier must have default action '{action}'")


def _node(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    bgp = spec.get("bgp")
    if isinstance(bgp, dict):
        if not bgp:
            report.add("spec.bgp", "spec.bgp must not be empty when present")
        _report_problem(report, "spec.bgp.asNumber", network_checks.as_number_problem(bgp.get("asNumber")))
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


def _report_problem(report: Report, field: str, problem: str | None) -> None:
    if problem:
        report.add(field, problem)


def _mac_problem(value: Any) -> str | None:
    return None if is_mac(value) else f"invalid MAC address {shown(value)}"


def _check_all(report: Report, base: str, holder: dict[str, Any],
               rules: dict[str, Callable[[Any], str | None]]) -> None:
    """Apply ``rules[key](value)`` to every non-empty string field ``key`` of ``holder``."""
    for key, rule in rules.items():
        if text(holder, key):
            problem = rule(holder[key])
            if problem:
                report.add(f"{base}.{key}", problem)


def _workload_endpoint(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
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
        problem = cidr_problem(prefix)
        if problem:
            report.add(f"spec.allowSpoofedSourcePrefixes[{index}]", problem)
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
        problem = port_name_problem(name)
        if problem:
            report.add(f"{field}.name", problem)
    elif not host_port:
        report.add(f"{field}.name", "port name must not be empty when no hostPort is given",
                   "FieldValueRequired")
    if not port.get("port"):
        report.add(f"{field}.port", "port must be between 1 and 65535")
    protocol = port.get("protocol", "")
    problem = protocol_problem(protocol)
    if problem or not protocol_supports_ports(protocol):
        report.add(f"{field}.protocol", problem or f"protocol {shown(protocol)} does not support ports")
    if text(port, "hostIP"):
        problem = cidr_problem(port["hostIP"], masked=True)
        if problem:
            report.add(f"{field}.hostIP", problem)


def _calico_node_status(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    if not text(spec, "node"):
        report.add("spec.node", "node must be specified", "FieldValueRequired")
    elif not is_name(spec["node"]):
        report.add("spec.node", f"invalid node name {shown(spec['node'])}")
    classes = items(spec, "classes")
    if not classes:
        report.add("spec.classes", "classes must be specified", "FieldValueRequired")
    if len(classes) != len({c for c in classes if isinstance(c, str)}):
        report.add("spec.classes", "classes must not repeat", "FieldValueDuplicate")
    period = spec.get("updatePeriodSeconds")
    if period is None:
        report.add("spec.updatePeriodSeconds", "updatePeriodSeconds must be specified", "FieldValueRequired")
    elif isinstance(period, int) and not 0 <= period <= 86400:
        report.add("spec.updatePeriodSeconds", f"{period} is out of range 0-86400")


def _block_affinity(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    if spec.get("deleted") is True or spec.get("deleted") == "true":
        report.add("spec.deleted", "a block affinity cannot be created or updated with deleted: true")


def _remote_cluster(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    options = mapping(spec, "syncOptions")
    policy_checks.selector_field(report, "spec.syncOptions.selector", options.get("selector"),
                                 allow_global=False)
    for index, namespace in enumerate(items(options, "namespaces")):
        if isinstance(namespace, str) and not DNS_LABEL.fullmatch(namespace):
            report.add(f"spec.syncOptions.namespaces[{index}]", f"invalid namespace {shown(namespace)}")
    if text(spec, "keyFile") and not text(spec, "certFile"):
        report.add("spec.certFile", "certFile is required with keyFile", "FieldValueRequired")


KIND_CHECKS: dict[str, tuple[Check, ...]] = {
    "GlobalNetworkSet": (_no_namespace_label, _nets),
    "NetworkSet": (_no_namespace_label, _nets),
    "HostEndpoint": (_host_endpoint,),
    "IPReservation": (_ip_reservation,),
    "Tier": (_tier,),
    "Node": (_node,),
    "WorkloadEndpoint": (_workload_endpoint,),
    "CalicoNodeStatus": (_calico_node_status,),
    "BlockAffinity": (_block_affinity,),
    "RemoteClusterConfiguration": (_remote_cluster,),
    **policy_checks.KIND_CHECKS,
    **network_checks.KIND_CHECKS,
}
"""Named semantic checks per kind, run after the metadata checks."""
