"""Checks of the component configuration kinds: FelixConfiguration,
KubeControllersConfiguration (validator.go ``validateFelixConfigSpec``, the Felix field tags,
``validateRouteTableRange(s)``, ``validateHealthTimeoutOverride``; their CRD CEL rules) and
IPAMConfiguration (the rules of libcalico-go's ``ipamClient.SetIPAMConfig``)."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .checking import (
    Report, as_mapping, check_durations, items, mapping, text)
from .formats import (
    INTERFACE_NAME, cidr_problem, ip_version, is_duration, is_go_regexp, is_name, parse_port,
    port_problem, shown)
from .metadata_checks import check_annotations, check_labels
from .policy_checks import selector_field

_IFACE_FILTER = re.compile(r"[a-zA-Z0-9:._+-]{1,15}")
_PROMETHEUS_HOST = re.compile(r"[a-zA-Z0-9:._+-]{1,64}")
_HEALTH_OVERRIDE_NAME = re.compile(r"[a-zA-Z0-9_ -]+")


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


def felix_configuration(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
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


def kube_controllers_configuration(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    check_durations(report, "spec", spec, ("etcdV3CompactionPeriod",))
    controllers = mapping(spec, "controllers")
    for name in ("node", "policy", "workloadEndpoint", "serviceAccount", "namespace"):
        check_durations(report, f"spec.controllers.{name}", mapping(controllers, name), ("reconcilerPeriod",))
    node = mapping(controllers, "node")
    check_durations(report, "spec.controllers.node", node, ("leakGracePeriod",))
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


def ipam_configuration(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    """What libcalico-go's IPAM refuses to set (``SetIPAMConfig``), with its messages."""
    strict = spec.get("strictAffinity") is True
    if not strict and spec.get("autoAllocateBlocks") is False:
        report.add("spec.autoAllocateBlocks",
                   "Cannot disable 'StrictAffinity' and 'AutoAllocateBlocks' at the same time")
    if not strict and _ints(spec.get("maxBlocksPerHost")) and spec["maxBlocksPerHost"] > 0:
        report.add("spec.maxBlocksPerHost", "MaxBlocksPerHost requires StrictAffinity to be enabled")
