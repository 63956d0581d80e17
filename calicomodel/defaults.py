"""Defaulting: what Calico fills into an object before it validates and stores it.

`apply` runs, in Calico's order (libcalico.md §c):

1. canonical forms of typed values, as Go's JSON decoding produces them: numeric protocol
   strings that fit uint8 become ints (``"6"`` → ``6``), single-port strings and ``"n:n"``
   ranges become ints, dotted AS numbers ``"a.b"`` become ``a<<16 + b`` — for every kind's
   ``ports`` and AS numbers here, and for the fields only some kinds have (rules, Felix port
   ranges, BGP filter AS paths, the IPPool CIDR, which clientv3's ``validateAndSetDefaults``
   makes its network: ``10.0.0.1/16`` → ``10.0.0.0/16``) by the ``canonical_*`` functions below;
2. the per-kind defaults of libcalico-go's clientv3 below;
   (both 1 and 2 as the kind's strategy lists them in ``Strategy.defaults``)
3. the CRD defaults of the kind's schema, which fill only absent fields (an empty string
   counts as absent: Go's ``omitempty`` drops it before the CRD defaults are applied), and
   the Go zero value of absent required integers, booleans and structs ("absent == Go zero
   value").

Everything here tolerates ill-typed input: a part of the wrong shape is left unchanged for
validation to report.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .calico import (DEFAULT_TIER, DEFAULT_TIER_ORDER, NAMESPACE_LABEL,
                                        ORCHESTRATOR_LABEL, TIER_LABEL)
from .formats import (decode_protocol, go_duration, parse_cidr,
                                         parse_duration, parse_port)

Default = Callable[[dict[str, Any], dict[str, Any]], None]
"""A kind's canonical forms or defaults: ``fn(obj, spec)`` mutates in place."""


def apply(kind_defaults: tuple[Default, ...], plan: SchemaDefaults, obj: dict[str, Any]) -> None:
    """Default ``obj`` in place: ``kind_defaults`` are its strategy's, ``plan`` is
    `compile_defaults` of its schema.

    Every v3 kind has a ``spec``: an absent or null one becomes ``{}`` (Go's zero struct).
    """
    if obj.get("spec") is None:
        obj["spec"] = {}
    spec = obj["spec"]
    if not isinstance(spec, dict):
        return
    _canonicalise(spec)
    for default in kind_defaults:
        default(obj, spec)
    fill_schema_defaults(plan, obj)


POINTER_FIELDS = frozenset({"assignmentMode", "serviceLoadBalancerAggregation", "nftablesMode",
                            "nftablesFlowTableOffload", "defaultAction"})
"""Defaulted fields that are Go pointers: an explicit empty string is kept (and validated)."""
_GO_ZERO: dict[str, Any] = {"integer": 0, "boolean": False, "object": {}}


@dataclass(frozen=True)
class SchemaDefaults:
    """The defaulting-relevant part of a JSON Schema, computed once per kind.

    ``fills``: (field, value, empty string counts as absent); ``durations``: Go duration
    fields, rewritten in Go's canonical form (``125s`` → ``2m5s``) as metav1.Duration
    round-trips them; ``children``/``items``: the sub-schemas below which something is done.
    """

    fills: tuple[tuple[str, Any, bool], ...] = ()
    durations: tuple[str, ...] = ()
    children: tuple[tuple[str, SchemaDefaults], ...] = ()
    items: SchemaDefaults | None = None


def compile_defaults(schema: dict[str, Any]) -> SchemaDefaults | None:
    """The `SchemaDefaults` of ``schema``, or None when nothing below it is ever filled.

    Fills are the CRD ``default``s and, for required (non-``omitempty`` in Go) integers,
    booleans and structs, their Go zero value, which Go's JSON encoding always writes.
    """
    fills, children, durations = [], [], []
    required = schema.get("required", ())
    for name, sub in schema.get("properties", {}).items():
        if sub.get("type") == "string" and "ms|s|m|h" in sub.get("pattern", ""):
            durations.append(name)
        if "default" in sub:
            fills.append((name, sub["default"], name not in POINTER_FIELDS))
        elif name in required and sub.get("type") in _GO_ZERO:
            fills.append((name, _GO_ZERO[sub["type"]], False))
        child = compile_defaults(sub)
        if child is not None:
            children.append((name, child))
    items = compile_defaults(schema["items"]) if isinstance(schema.get("items"), dict) else None
    if not fills and not children and not durations and items is None:
        return None
    return SchemaDefaults(tuple(fills), tuple(durations), tuple(children), items)


def fill_schema_defaults(plan: SchemaDefaults | None, value: Any) -> None:
    """Fill ``plan``'s values into the absent fields of ``value`` (and below), in place."""
    if plan is None:
        return
    if isinstance(value, dict):
        for name, default, empty_is_absent in plan.fills:
            if name not in value or (empty_is_absent and value[name] == ""):
                value[name] = copy.deepcopy(default)
        for name in plan.durations:
            nanos = parse_duration(value.get(name))
            if nanos is not None:
                value[name] = go_duration(nanos)
        for name, child in plan.children:
            if name in value:
                fill_schema_defaults(child, value[name])
    elif isinstance(value, list) and plan.items is not None:
        for item in value:
            fill_schema_defaults(plan.items, item)


# --- canonical forms -------------------------------------------------------------------------

def _canonicalise(spec: dict[str, Any]) -> None:
    """The canonical forms of fields any kind may have (endpoint ports, AS numbers)."""
    for port in _dicts(spec.get("ports")):
        _canonical_protocol(port, "protocol")
    for key in ("asNumber", "localASNumber"):
        _canonical_as_number(spec, key)
    if isinstance(spec.get("bgp"), dict):
        _canonical_as_number(spec["bgp"], "asNumber")


def canonical_rules(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    """Policy and profile rules: protocols and ports."""
    for key in ("ingress", "egress"):
        for rule in _dicts(spec.get(key)):
            for name in ("protocol", "notProtocol"):
                _canonical_protocol(rule, name)
            for side in ("source", "destination"):
                entity = rule.get(side)
                if isinstance(entity, dict):
                    for name in ("ports", "notPorts"):
                        _canonical_port_list(entity, name)


def canonical_felix_ports(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    _canonical_port_list(spec, "kubeNodePortRanges")
    for key in ("natPortRange", "bpfPSNATPorts"):
        _canonical_port(spec, key)


def canonical_ippool_cidr(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    cidr = parse_cidr(spec.get("cidr")) if isinstance(spec.get("cidr"), str) else None
    if cidr is not None:
        spec["cidr"] = str(cidr.network)


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _canonical_protocol(holder: dict[str, Any], key: str) -> None:
    value = holder.get(key)
    if isinstance(value, str):
        decoded = decode_protocol(value)
        if isinstance(decoded, int):
            holder[key] = decoded


def _canonical_port(holder: dict[str, Any], key: str) -> None:
    value = holder.get(key)
    if isinstance(value, str):
        port = parse_port(value)
        if not isinstance(port, str) and not port.name and port.min == port.max:
            holder[key] = port.min


def _canonical_port_list(holder: dict[str, Any], key: str) -> None:
    ports = holder.get(key)
    if isinstance(ports, list):
        wrapper = {}
        for index, value in enumerate(ports):
            wrapper["p"] = value
            _canonical_port(wrapper, "p")
            ports[index] = wrapper["p"]


def parse_as_number(value: Any) -> int | None:
    """``numorstring.ASNumber``: an int, a decimal string, or dotted ``"a.b"`` (a<<16 + b)."""
    if isinstance(value, str) and value.isascii() and 0 < len(value) <= 11:
        high, dot, low = value.partition(".")
        if dot and high.isdigit() and low.isdigit() and int(high) < 65536 and int(low) < 65536:
            return (int(high) << 16) + int(low)
        if not dot and high.isdigit() and int(high) < 2**32:
            return int(high)
    return None


def _canonical_as_number(holder: dict[str, Any], key: str) -> None:
    number = parse_as_number(holder.get(key))
    if number is not None:
        holder[key] = number


def canonical_bgp_filter(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    for key in ("exportV4", "importV4", "exportV6", "importV6"):
        for rule in _dicts(spec.get(key)):
            _canonical_as_list(rule.get("asPathPrefix"))
            for operation in _dicts(rule.get("operations")):
                prepend = operation.get("prependASPath")
                if isinstance(prepend, dict):
                    _canonical_as_list(prepend.get("prefix"))


def _canonical_as_list(values: Any) -> None:
    if isinstance(values, list):
        for index, value in enumerate(values):
            number = parse_as_number(value)
            if number is not None:
                values[index] = number


# --- per-kind defaults (libcalico-go clientv3) -----------------------------------------------

def ippool(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    cidr = parse_cidr(spec.get("cidr"))
    if cidr is not None and not spec.get("blockSize"):
        spec["blockSize"] = 26 if cidr.version == 4 else 122
    if not spec.get("allowedUses"):
        # Tunnel addresses belong to nodes, never to namespaces (and Calico's CEL forbids
        # Tunnel with a namespaceSelector), so a namespace-selecting pool defaults to Workload.
        spec["allowedUses"] = ["Workload"] if spec.get("namespaceSelector") else ["Workload", "Tunnel"]
    for key in ("ipipMode", "vxlanMode"):
        if not spec.get(key):
            spec[key] = "Never"


def policy_types(spec: dict[str, Any]) -> list[str]:
    """``defaultPolicyTypesField``: the policy types implied by the rules present."""
    if spec.get("egress"):
        return ["Ingress", "Egress"] if spec.get("ingress") else ["Egress"]
    return ["Ingress"]


def policy(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    if not spec.get("tier"):
        spec["tier"] = DEFAULT_TIER
    if spec.get("stagedAction") == "Delete":
        spec.pop("types", None)
    elif not spec.get("types"):
        spec["types"] = policy_types(spec)
    tier = spec["tier"]
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and isinstance(tier, str):
        labels = metadata.setdefault("labels", {})
        if isinstance(labels, dict):
            labels[TIER_LABEL] = tier


def tier(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    spec.setdefault("order", DEFAULT_TIER_ORDER)
    spec.setdefault("defaultAction", "Deny")


def felix_configuration(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    spec.setdefault("floatingIPs", "Disabled")
    deprecated = spec.get("bpfConnectTimeLoadBalancingEnabled")
    if isinstance(deprecated, bool):
        spec["bpfHostNetworkedNATWithoutCTLB"] = "Disabled"
        spec["bpfConnectTimeLoadBalancing"] = "Enabled" if deprecated else "Disabled"
    spec.setdefault("bpfConnectTimeLoadBalancing", "TCP")
    spec.setdefault("bpfHostNetworkedNATWithoutCTLB", "Enabled")


def kube_controllers_configuration(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    spec.setdefault("prometheusMetricsPort", 9094)
    controllers = spec.get("controllers")
    node = controllers.get("node") if isinstance(controllers, dict) else None
    if isinstance(node, dict):
        node.setdefault("leakGracePeriod", "15m0s")


def workload_endpoint(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return
    labels = metadata.setdefault("labels", {})
    if isinstance(labels, dict):
        if isinstance(metadata.get("namespace"), str):
            labels[NAMESPACE_LABEL] = metadata["namespace"]
        if isinstance(spec.get("orchestrator"), str) and spec["orchestrator"]:
            labels[ORCHESTRATOR_LABEL] = spec["orchestrator"]
