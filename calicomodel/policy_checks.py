"""Checks of policy rules and policy kinds (validator.go ``validateRule``, ``validateEntityRule``,
``validate(Global)NetworkPolicySpec``, ``validateHTTPRule``; the policy CRD CEL rules).

Where Go and CEL disagree on numeric protocols (Go compares with the *name*, CEL also accepts
the number), the stricter Go reading wins for HTTP/ICMP matches, as Calico applies both.
"""
from __future__ import annotations

from typing import Any

from . import selectors
from .checking import Report, items, mapping, text
from .formats import (
    cidr_problem, decode_protocol, is_name, parse_cidr, parse_port, port_problem,
    protocol_is, protocol_problem, protocol_supports_ports, shown)
from .metadata_checks import check_annotations, check_labels

GLOBAL_ONLY_IN_NAMESPACE_SELECTOR = "global() can only be used in an EntityRule namespaceSelector"
PORTS_NEED_PROTOCOL = "rules that specify ports must set protocol to TCP, UDP or SCTP"


def selector_field(report: Report, field: str, value: Any, *, allow_global: bool = True) -> None:
    """A Calico selector must parse; ``global(`` is refused unless ``allow_global``."""
    if not isinstance(value, str) or not value:
        return
    try:
        selectors.parse(value)
    except selectors.SelectorError as err:
        report.add(field, f"invalid selector: {err}")
        return
    if not allow_global and "global(" in value:
        report.add(field, GLOBAL_ONLY_IN_NAMESPACE_SELECTOR)


def _namespace_selector(report: Report, field: str, value: Any) -> None:
    """An EntityRule namespaceSelector may be ``global()`` only as the whole selector."""
    if not isinstance(value, str) or not value:
        return
    try:
        parsed = selectors.parse(value)
    except selectors.SelectorError as err:
        report.add(field, f"invalid selector: {err}")
        return
    if "global(" in value and not parsed.is_global_only:
        report.add(field, "global() cannot be combined with other selectors")


def check_entity_rule(report: Report, field: str, entity: dict[str, Any]) -> None:
    """One rule side (source or destination)."""
    selector_field(report, f"{field}.selector", entity.get("selector"), allow_global=False)
    selector_field(report, f"{field}.notSelector", entity.get("notSelector"))
    _namespace_selector(report, f"{field}.namespaceSelector", entity.get("namespaceSelector"))
    accounts = mapping(entity, "serviceAccounts")
    selector_field(report, f"{field}.serviceAccounts.selector", accounts.get("selector"))
    for index, name in enumerate(items(accounts, "names")):
        if not isinstance(name, str) or not name:
            report.add(f"{field}.serviceAccounts.names[{index}]", "service account name must not be empty")
    for key in ("ports", "notPorts"):
        for index, value in enumerate(items(entity, key)):
            port = parse_port(value)
            report.check(f"{field}.{key}[{index}]", port if isinstance(port, str) else port_problem(port))
    if "services" in entity:
        _services(report, field, entity)


def _services(report: Report, field: str, entity: dict[str, Any]) -> None:
    services = mapping(entity, "services")
    name, namespace = text(services, "name"), text(services, "namespace")
    if not name:
        report.add(f"{field}.services.name", "services must specify a service name", "FieldValueRequired")
    elif not is_name(name):
        report.add(f"{field}.services.name", f"invalid service name {shown(name)}")
    if namespace and not is_name(namespace):
        report.add(f"{field}.services.namespace", f"invalid namespace {shown(namespace)}")
    conflicts = (("namespaceSelector", "NamespaceSelector"), ("selector", "Selector/NotSelector"),
                 ("notSelector", "Selector/NotSelector"), ("serviceAccounts", "ServiceAccounts"),
                 ("nets", "Nets/NotNets"), ("notNets", "Nets/NotNets"))
    for key, label in conflicts:
        if entity.get(key):
            report.add(f"{field}.{key}", f"cannot specify {label} and Services on the same rule",
                       "FieldValueForbidden")


def check_rule(report: Report, field: str, rule: dict[str, Any]) -> None:
    """One policy rule: protocols, ports, ICMP, HTTP, nets and IP versions, services."""
    for key in ("protocol", "notProtocol"):
        if key in rule:
            report.check(f"{field}.{key}", protocol_problem(rule[key]))
    _ports_need_protocol(report, field, rule)
    _icmp(report, field, rule)
    _http(report, field, rule)
    _nets(report, field, rule)
    for side in ("source", "destination"):
        if isinstance(rule.get(side), dict):
            check_entity_rule(report, f"{field}.{side}", rule[side])
    destination = mapping(rule, "destination")
    if "services" in destination:
        for key in ("ports", "notPorts"):
            if destination.get(key):
                report.add(f"{field}.destination.{key}", "ports and notPorts cannot be specified with services",
                           "FieldValueForbidden")
    check_annotations(report, f"{field}.metadata.annotations", mapping(mapping(rule, "metadata"), "annotations"))


def _ports_need_protocol(report: Report, field: str, rule: dict[str, Any]) -> None:
    """Numeric ports need a protocol with ports (named ports resolve per endpoint)."""
    if "protocol" in rule and protocol_supports_ports(rule["protocol"]):
        return
    for side in ("source", "destination"):
        for key in ("ports", "notPorts"):
            ports = [parse_port(p) for p in items(mapping(rule, side), key)]
            if any(not isinstance(p, str) and not p.name for p in ports):
                report.add(f"{field}.{side}.{key}", PORTS_NEED_PROTOCOL)


def _icmp(report: Report, field: str, rule: dict[str, Any]) -> None:
    protocol = decode_protocol(rule.get("protocol"))
    if "icmp" in rule and protocol not in ("ICMP", "ICMPv6"):
        report.add(f"{field}.icmp", "ICMP fields require protocol to be ICMP or ICMPv6")
    for key in ("icmp", "notICMP"):
        fields = mapping(rule, key)
        if "code" in fields and "type" not in fields:
            report.add(f"{field}.{key}.code", "ICMP code specified without an ICMP type")
    version = rule.get("ipVersion")
    if version is None:
        return
    for key in ("protocol", "notProtocol"):
        if protocol_is(rule.get(key), "ICMP") and version != 4:
            report.add(f"{field}.ipVersion", f"{key} ICMP requires ipVersion 4")
        if protocol_is(rule.get(key), "ICMPv6") and version != 6:
            report.add(f"{field}.ipVersion", f"{key} ICMPv6 requires ipVersion 6")


def _http(report: Report, field: str, rule: dict[str, Any]) -> None:
    if "http" not in rule:
        return
    if rule.get("action") != "Allow":
        report.add(f"{field}.http", "HTTP match is only valid on Allow rules")
    if "protocol" in rule and decode_protocol(rule["protocol"]) != "TCP":
        report.add(f"{field}.protocol", "rules with HTTP match must have protocol TCP or unset")
    http = mapping(rule, "http")
    methods = [m for m in items(http, "methods") if isinstance(m, str)]
    if len(set(methods)) != len(methods):
        report.add(f"{field}.http.methods", "HTTP methods must not repeat", "FieldValueDuplicate")
    for index, path in enumerate(items(http, "paths")):
        report.check(f"{field}.http.paths[{index}]", _http_path_problem(path))


def _http_path_problem(path: Any) -> str | None:
    if not isinstance(path, dict):
        return None
    exact, prefix = text(path, "exact"), text(path, "prefix")
    if exact and prefix:
        return "only one of 'exact' and 'prefix' may be set"
    value = exact or prefix
    if not value:
        return "one of 'exact' or 'prefix' must be set"
    if not value.startswith("/") or any(c in value for c in "? #"):
        return f"invalid path {shown(value)}: must start with '/' and not contain '?', '#' or spaces"
    return None


def _nets(report: Report, field: str, rule: dict[str, Any]) -> None:
    """Every CIDR parses and is masked; one IP version per rule, matching ipVersion."""
    version = rule.get("ipVersion")
    seen: set[int] = set()
    for side in ("source", "destination"):
        for key in ("nets", "notNets"):
            here: set[int] = set()
            path = f"{field}.{side}.{key}"
            for index, net in enumerate(items(mapping(rule, side), key)):
                cidr = parse_cidr(net, allow_ip=False)
                if cidr is None or not cidr.is_masked:
                    report.add(f"{path}[{index}]", cidr_problem(net, masked=True, allow_ip=False) or "")
                    continue
                here.add(cidr.version)
                if key == "notNets" and cidr.network.prefixlen == 0:
                    report.add(f"{path}[{index}]", f"{shown(net)} matches every address; "
                                                   "a catch-all notNets would match nothing")
            if version in (4, 6) and here - {version}:
                report.add(path, f"rule ipVersion {version} does not match the CIDR version")
            if len(here | seen) > 1:
                report.add(path, "rule contains both IPv4 and IPv6 CIDRs")
            seen |= here


def _rules(report: Report, spec: dict[str, Any]) -> None:
    for direction in ("ingress", "egress"):
        for index, rule in enumerate(items(spec, direction)):
            if isinstance(rule, dict):
                check_rule(report, f"spec.{direction}[{index}]", rule)


def _direction_rules(report: Report, spec: dict[str, Any], *, global_scope: bool) -> None:
    """Services only as egress destination / ingress source; no HTTP in egress rules."""
    for index, rule in enumerate(items(spec, "egress")):
        field = f"spec.egress[{index}]"
        if "services" in mapping(rule, "source"):
            report.add(f"{field}.source.services", "services are not allowed in an egress rule source",
                       "FieldValueForbidden")
        if isinstance(rule, dict) and "http" in rule:
            report.add(f"{field}.http", "HTTP match is not allowed in egress rules", "FieldValueForbidden")
        if global_scope and "services" in mapping(rule, "destination") \
                and not text(mapping(mapping(rule, "destination"), "services"), "namespace"):
            report.add(f"{field}.destination.services.namespace", "must specify a namespace",
                       "FieldValueRequired")
    for index, rule in enumerate(items(spec, "ingress")):
        field = f"spec.ingress[{index}]"
        if "services" in mapping(rule, "destination"):
            report.add(f"{field}.destination.services",
                       "services are not allowed in an ingress rule destination", "FieldValueForbidden")
        if global_scope and "services" in mapping(rule, "source") \
                and not text(mapping(mapping(rule, "source"), "services"), "namespace"):
            report.add(f"{field}.source.services.namespace", "must specify a namespace", "FieldValueRequired")


def _policy_spec(report: Report, spec: dict[str, Any], *, global_scope: bool) -> None:
    types = [t for t in items(spec, "types") if isinstance(t, str)]
    for duplicate in sorted({t for t in types if types.count(t) > 1}):
        report.add("spec.types", f"'{duplicate}' type specified more than once", "FieldValueDuplicate")
    hints = [h for h in items(spec, "performanceHints") if isinstance(h, str)]
    if len(set(hints)) != len(hints):
        report.add("spec.performanceHints", "performance hints must not repeat", "FieldValueDuplicate")
    tier = spec.get("tier")
    if isinstance(tier, str) and tier and not is_name(tier):
        report.add("spec.tier", f"invalid tier name {shown(tier)}")
    selector_field(report, "spec.selector", spec.get("selector"), allow_global=False)
    selector_field(report, "spec.serviceAccountSelector", spec.get("serviceAccountSelector"),
                   allow_global=False)
    selector_field(report, "spec.namespaceSelector", spec.get("namespaceSelector"), allow_global=False)
    _rules(report, spec)
    _direction_rules(report, spec, global_scope=global_scope)
    if global_scope:
        _global_flags(report, spec)


def _global_flags(report: Report, spec: dict[str, Any]) -> None:
    pre_dnat, no_track = spec.get("preDNAT") is True, spec.get("doNotTrack") is True
    if pre_dnat and no_track:
        report.add("spec.preDNAT", "preDNAT and doNotTrack cannot both be true")
    if pre_dnat and items(spec, "egress"):
        report.add("spec.egress", "preDNAT policy cannot have any egress rules")
    if pre_dnat and "Egress" in items(spec, "types"):
        report.add("spec.types", "preDNAT policy cannot have 'Egress' type")
    if (pre_dnat or no_track) and spec.get("applyOnForward") is not True:
        report.add("spec.applyOnForward", "applyOnForward must be true if either preDNAT or doNotTrack is true")


_STAGED_KEEP = frozenset({"tier", "stagedAction"})


def _staged(report: Report, spec: dict[str, Any], *, global_scope: bool) -> None:
    if spec.get("stagedAction") == "Delete":
        extra = sorted(k for k, v in spec.items() if k not in _STAGED_KEEP and v not in (None, "", [], {}, False))
        if extra:
            report.add("spec", "with stagedAction Delete, every spec field except tier must be empty "
                               f"(set: {', '.join(extra)})")
        return
    _policy_spec(report, spec, global_scope=global_scope)


def profile(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    _rules(report, spec)
    check_labels(report, "spec.labelsToApply", mapping(spec, "labelsToApply"))


def network_policy(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    _policy_spec(report, spec, global_scope=False)


def global_network_policy(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    _policy_spec(report, spec, global_scope=True)


def staged_network_policy(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    _staged(report, spec, global_scope=False)


def staged_global_network_policy(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    _staged(report, spec, global_scope=True)
