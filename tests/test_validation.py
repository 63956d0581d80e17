"""Unit tests of validation and defaulting: each case names the field and message it expects."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from calicomodel.validation import MAX_CAUSES, Cause, Validator

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
NAMESPACED = {"NetworkPolicy", "NetworkSet", "StagedNetworkPolicy", "StagedKubernetesNetworkPolicy",
              "WorkloadEndpoint"}


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(SCHEMAS)


def obj(kind: str, spec: dict[str, Any] | None = None, *, name: str = "x", **meta: Any) -> dict[str, Any]:
    metadata = {"name": name, **meta}
    if kind in NAMESPACED:
        metadata.setdefault("namespace", "default")
    return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": metadata, "spec": spec or {}}


def gnp_rule(rule: dict[str, Any], direction: str = "ingress") -> dict[str, Any]:
    return obj("GlobalNetworkPolicy", {direction: [rule]})


def check(validator: Validator, resource: dict[str, Any]) -> list[Cause]:
    validator.default(resource["kind"], resource)
    return validator.validate(resource["kind"], resource)


INVALID = [
    # (id, object, expected field, substring of the message, expected reason)
    ("unknown-field", obj("IPPool", {"cidr": "10.0.0.0/16", "bogus": 1}), "spec.bogus", "unknown field", "FieldUnknown"),
    ("unknown-metadata-field", obj("IPPool", {"cidr": "10.0.0.0/16"}, colour="red"),
     "metadata.colour", "unknown field", "FieldUnknown"),
    ("wrong-api-version", {**obj("Tier", {}), "apiVersion": "v1"}, "apiVersion", "projectcalico.org/v3",
     "FieldValueNotSupported"),
    ("wrong-type", obj("IPPool", {"cidr": "10.0.0.0/16", "natOutgoing": "yes"}), "spec.natOutgoing",
     "must be a boolean, got a string", "FieldValueTypeInvalid"),
    ("enum", obj("IPPool", {"cidr": "10.0.0.0/16", "vxlanMode": "Sometimes"}), "spec.vxlanMode",
     "unsupported value 'Sometimes'", "FieldValueNotSupported"),
    ("required", obj("IPPool", {}), "spec.cidr", "Required value", "FieldValueRequired"),
    ("max-length", obj("GlobalNetworkPolicy", {"selector": "a == 'b' || " * 100 + "all()"}),
     "spec.selector", "may not be longer than 1024", "FieldValueTooLong"),
    ("max-items", gnp_rule({"action": "Allow", "source": {"nets": ["10.0.0.0/8"] * 257}}),
     "spec.ingress[0].source.nets", "at most 256 items", "FieldValueTooMany"),
    ("go-inline-flag-pattern", obj("BGPConfiguration", {"logSeverityScreen": "Verbose"}, name="default"),
     "spec.logSeverityScreen", "does not match the pattern", "FieldValueInvalid"),
    ("re2-dollar-is-end-of-text", obj("BGPConfiguration", {"logSeverityScreen": "Info\n"}, name="default"),
     "spec.logSeverityScreen", "does not match the pattern", "FieldValueInvalid"),
    ("bad-cidr-format", obj("IPReservation", {"reservedCIDRs": ["10.0.0.0/33"]}), "spec.reservedCIDRs[0]",
     "invalid CIDR '10.0.0.0/33'", "FieldValueInvalid"),
    ("name-subdomain", obj("GlobalNetworkSet", {}, name="Bad_Name"), "metadata.name",
     "invalid name 'Bad_Name'", "FieldValueInvalid"),
    ("name-too-long", obj("GlobalNetworkSet", {}, name="a" * 254), "metadata.name",
     "may not be longer than 253 characters", "FieldValueTooLong"),
    ("tier-name-no-dot", obj("Tier", {"order": 5}, name="a.b"), "metadata.name", "DNS label", "FieldValueInvalid"),
    ("gnp-name-two-dots", obj("GlobalNetworkPolicy", {}, name="a.b.c"), "metadata.name",
     "at most one '.'", "FieldValueInvalid"),
    ("singleton-name", obj("ClusterInformation", {}, name="other"), "metadata.name",
     "must be named 'default'", "FieldValueInvalid"),
    ("label-key", obj("GlobalNetworkSet", {}, labels={"Bad Key": "v"}), "metadata.labels",
     "invalid key 'Bad Key'", "FieldValueInvalid"),
    ("label-value", obj("GlobalNetworkSet", {}, labels={"k": "x" * 64}), "metadata.labels",
     "no more than 63 characters", "FieldValueInvalid"),
    ("annotation-size", obj("GlobalNetworkSet", {}, annotations={"k": "x" * 262_144}), "metadata.annotations",
     "at most 262144", "FieldValueTooLong"),
    ("reserved-namespace-label", obj("GlobalNetworkSet", {}, labels={"projectcalico.org/namespace": "a"}),
     "metadata.labels", "reserved", "FieldValueInvalid"),
    ("selector-syntax", obj("GlobalNetworkPolicy", {"selector": "a = 'b'"}), "spec.selector",
     "invalid selector", "FieldValueInvalid"),
    ("global-in-policy-selector", obj("GlobalNetworkPolicy", {"selector": "global()"}), "spec.selector",
     "global() can only be used in an EntityRule namespaceSelector", "FieldValueInvalid"),
    ("global-combined-in-namespace-selector",
     gnp_rule({"action": "Allow", "source": {"namespaceSelector": "global() && all()"}}),
     "spec.ingress[0].source.namespaceSelector", "cannot be combined", "FieldValueInvalid"),
    ("rule-cidr-prefix", gnp_rule({"action": "Allow", "source": {"nets": ["10.0.0.0/33"]}}),
     "spec.ingress[0].source.nets[0]", "invalid CIDR '10.0.0.0/33'", "FieldValueInvalid"),
    ("rule-cidr-host-bits", gnp_rule({"action": "Allow", "source": {"nets": ["10.0.0.1/8"]}}),
     "spec.ingress[0].source.nets[0]", "host bits set (the network is 10.0.0.0/8)", "FieldValueInvalid"),
    ("rule-mixed-versions", gnp_rule({"action": "Allow", "source": {"nets": ["10.0.0.0/8"]},
                                      "destination": {"nets": ["fd00::/64"]}}),
     "spec.ingress[0].destination.nets", "both IPv4 and IPv6", "FieldValueInvalid"),
    ("rule-ip-version-mismatch", gnp_rule({"action": "Allow", "ipVersion": 6, "source": {"nets": ["10.0.0.0/8"]}}),
     "spec.ingress[0].source.nets", "ipVersion 6 does not match", "FieldValueInvalid"),
    ("port-range-reversed", gnp_rule({"action": "Allow", "protocol": "TCP", "destination": {"ports": ["200:100"]}}),
     "spec.ingress[0].destination.ports[0]",
     "minimum port number (200) is greater than maximum port number (100) in port range", "FieldValueInvalid"),
    ("port-range-too-high", gnp_rule({"action": "Allow", "protocol": "TCP", "destination": {"ports": ["1:65536"]}}),
     "spec.ingress[0].destination.ports[0]", "invalid maximum port number in range (1:65536)", "FieldValueInvalid"),
    ("port-number-too-high", gnp_rule({"action": "Allow", "protocol": "TCP", "destination": {"ports": [65536]}}),
     "spec.ingress[0].destination.ports[0]", "cannot unmarshal number 65536", "FieldValueInvalid"),
    ("port-zero", gnp_rule({"action": "Allow", "protocol": "TCP", "destination": {"ports": [0]}}),
     "spec.ingress[0].destination.ports[0]", "port range invalid, port number must be between 1 and 65535",
     "FieldValueInvalid"),
    ("ports-need-protocol", gnp_rule({"action": "Allow", "destination": {"ports": [80]}}),
     "spec.ingress[0].destination.ports", "must set protocol to TCP, UDP or SCTP", "FieldValueInvalid"),
    ("protocol-name", gnp_rule({"action": "Allow", "protocol": "tcp"}), "spec.ingress[0].protocol",
     "invalid protocol 'tcp'", "FieldValueInvalid"),
    ("protocol-zero", gnp_rule({"action": "Allow", "protocol": "0"}), "spec.ingress[0].protocol",
     "protocol number 0 is invalid", "FieldValueInvalid"),
    ("icmp-code-without-type", gnp_rule({"action": "Allow", "protocol": "ICMP", "icmp": {"code": 1}}),
     "spec.ingress[0].icmp.code", "without an ICMP type", "FieldValueInvalid"),
    ("icmp-type-range", gnp_rule({"action": "Allow", "protocol": "ICMP", "icmp": {"type": 255}}),
     "spec.ingress[0].icmp.type", "greater than the maximum 254", "FieldValueInvalid"),
    ("icmp-needs-protocol", gnp_rule({"action": "Allow", "protocol": "TCP", "icmp": {"type": 8}}),
     "spec.ingress[0].icmp", "require protocol to be ICMP or ICMPv6", "FieldValueInvalid"),
    ("icmpv6-needs-v6", gnp_rule({"action": "Allow", "protocol": "ICMPv6", "ipVersion": 4}),
     "spec.ingress[0].ipVersion", "requires ipVersion 6", "FieldValueInvalid"),
    ("http-only-allow", gnp_rule({"action": "Deny", "http": {"methods": ["GET"]}}),
     "spec.ingress[0].http", "only valid on Allow rules", "FieldValueInvalid"),
    ("http-not-in-egress", gnp_rule({"action": "Allow", "http": {"methods": ["GET"]}}, "egress"),
     "spec.egress[0].http", "not allowed in egress rules", "FieldValueForbidden"),
    ("services-conflict", obj("NetworkPolicy", {"ingress": [{"action": "Allow", "source": {
        "services": {"name": "svc"}, "nets": ["10.0.0.0/8"]}}]}),
     "spec.ingress[0].source.nets", "cannot specify Nets/NotNets and Services", "FieldValueForbidden"),
    ("pre-dnat-apply-on-forward", obj("GlobalNetworkPolicy", {"preDNAT": True}), "spec.applyOnForward",
     "applyOnForward must be true", "FieldValueInvalid"),
    ("types-repeated", obj("GlobalNetworkPolicy", {"types": ["Ingress", "Ingress"]}), "spec.types",
     "'Ingress' type specified more than once", "FieldValueDuplicate"),
    ("staged-delete-with-fields", obj("StagedGlobalNetworkPolicy", {"stagedAction": "Delete", "selector": "all()"}),
     "spec", "every spec field except tier must be empty", "FieldValueInvalid"),
    ("ippool-too-small", obj("IPPool", {"cidr": "10.0.0.0/27"}), "spec.cidr",
     "IP pool size is too small for use with Calico IPAM. It must be equal to or greater than the block size.",
     "FieldValueInvalid"),
    ("ippool-link-local", obj("IPPool", {"cidr": "169.254.0.0/16"}), "spec.cidr", "link local", "FieldValueInvalid"),
    ("ippool-ipip-v6", obj("IPPool", {"cidr": "fd00::/64", "ipipMode": "Always"}), "spec.ipipMode",
     "IPIP is not supported on IPv6 pools", "FieldValueInvalid"),
    ("ippool-block-size", obj("IPPool", {"cidr": "10.0.0.0/8", "blockSize": 19}), "spec.blockSize",
     "between 20 and 32", "FieldValueInvalid"),
    ("ippool-lb-uses", obj("IPPool", {"cidr": "10.0.0.0/16", "allowedUses": ["LoadBalancer", "Workload"]}),
     "spec.allowedUses", "cannot be combined", "FieldValueInvalid"),
    ("ippool-global-node-selector", obj("IPPool", {"cidr": "10.0.0.0/16", "nodeSelector": "global()"}),
     "spec.nodeSelector", "global() selector is not valid", "FieldValueInvalid"),
    ("bgp-default-only", obj("BGPConfiguration", {"asNumber": 64512}, name="node.a"), "spec.asNumber",
     "Cannot set asNumber on a non default BGP Configuration.", "FieldValueForbidden"),
    ("bgp-community", obj("BGPConfiguration", {"communities": [{"name": "c", "value": "65536:1"}],
                                                "prefixAdvertisements": [{"cidr": "10.0.0.0/8", "communities": ["c"]}]},
                          name="default"),
     "spec.communities[0].value", "expected 16 bit values", "FieldValueInvalid"),
    ("bgppeer-peer-ip", obj("BGPPeer", {"peerIP": "10.0.0.1:0"}), "spec.peerIP", "invalid peerIP", "FieldValueInvalid"),
    ("bgppeer-as-range", obj("BGPPeer", {"peerIP": "10.0.0.1", "asNumber": -1}), "spec.asNumber",
     "less than the minimum 0", "FieldValueInvalid"),
    ("bgppeer-both-node-and-selector", obj("BGPPeer", {"node": "a", "nodeSelector": "all()"}), "spec.node",
     "cannot both be set", "FieldValueInvalid"),
    ("bgpfilter-cidr-family", obj("BGPFilter", {"exportV4": [{"cidr": "fd00::/64", "matchOperator": "In",
                                                              "action": "Accept"}]}),
     "spec.exportV4[0].cidr", "not an IPv4 CIDR", "FieldValueInvalid"),
    ("felix-route-table-range", obj("FelixConfiguration", {"routeTableRange": {"min": 0, "max": 250}}, name="default"),
     "spec.routeTableRange", "within 1..250", "FieldValueInvalid"),
    ("felix-nat-outgoing-address", obj("FelixConfiguration", {"natOutgoingAddress": "fd00::1"}, name="default"),
     "spec.natOutgoingAddress", "valid IPv4 address", "FieldValueInvalid"),
    ("felix-regexp", obj("FelixConfiguration", {"mtuIfacePattern": "*"}, name="default"), "spec.mtuIfacePattern",
     "invalid regular expression", "FieldValueInvalid"),
    ("tier-default-order", obj("Tier", {"order": 5}, name="default"), "spec.order",
     "default tier order must be 1000000", "FieldValueInvalid"),
    ("hostendpoint-needs-node", obj("HostEndpoint", {"interfaceName": "eth0"}), "spec.node",
     "node must be specified", "FieldValueRequired"),
    ("node-empty-bgp", obj("Node", {"bgp": {}}), "spec.bgp", "must not be empty", "FieldValueInvalid"),
    ("wep-multi-address-network", obj("WorkloadEndpoint", {"interfaceName": "eth0", "ipNetworks": ["10.0.0.0/24"]}),
     "spec.ipNetworks[0]", "contains multiple addresses", "FieldValueInvalid"),
    ("rcc-url", obj("RemoteClusterConfiguration", {"apiServer": "ftp://peer"}), "spec.apiServer",
     "does not match the pattern", "FieldValueInvalid"),
    ("rcc-selector", obj("RemoteClusterConfiguration", {"apiServer": "https://peer:5443",
                                                        "syncOptions": {"selector": "x =="}}),
     "spec.syncOptions.selector", "invalid selector", "FieldValueInvalid"),
    ("rcc-kinds", obj("RemoteClusterConfiguration", {"apiServer": "https://peer",
                                                     "syncOptions": {"kinds": ["Tier"]}}),
     "spec.syncOptions.kinds[0]", "unsupported value 'Tier'", "FieldValueNotSupported"),
]


@pytest.mark.parametrize(("resource", "field", "message", "reason"),
                         [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_objects_name_the_field(validator: Validator, resource: dict, field: str, message: str,
                                        reason: str) -> None:
    causes = check(validator, copy.deepcopy(resource))
    assert any(c.field == field and message in c.message and c.reason == reason for c in causes), causes


VALID = [
    ("ippool-v4", obj("IPPool", {"cidr": "10.0.0.0/16"})),
    ("ippool-v6", obj("IPPool", {"cidr": "fd00::/48", "vxlanMode": "Always"})),
    ("ippool-namespace-selector", obj("IPPool", {"cidr": "10.0.0.0/16", "namespaceSelector": "a == 'b'"})),
    ("gnp-full-rule", gnp_rule({"action": "Allow", "protocol": "TCP", "ipVersion": 4,
                                "source": {"nets": ["10.0.0.0/8"], "selector": "role == 'db'",
                                           "namespaceSelector": "global()"},
                                "destination": {"ports": [80, "8000:8080", "http"], "notNets": ["10.1.0.0/16"]}})),
    ("named-port-without-protocol", gnp_rule({"action": "Allow", "destination": {"ports": ["http"]}})),
    ("numeric-protocol-string", gnp_rule({"action": "Allow", "protocol": "17", "destination": {"ports": [53]}})),
    ("icmp", gnp_rule({"action": "Allow", "protocol": "ICMP", "icmp": {"type": 8, "code": 0}})),
    ("network-policy-knp-name", obj("NetworkPolicy", {}, name="knp.default.allow-all")),
    ("tier-builtin", obj("Tier", {"order": 1000, "defaultAction": "Pass"}, name="kube-admin")),
    ("tier-custom", obj("Tier", {"order": 100}, name="security")),
    ("bgp-node", obj("BGPConfiguration", {"logSeverityScreen": "debug"}, name="node.a")),
    ("bgppeer-ip-port", obj("BGPPeer", {"peerIP": "[fd00::1]:179", "asNumber": "1.10"})),
    ("felix", obj("FelixConfiguration", {"kubeNodePortRanges": ["30000:32767"], "ipipEnabled": True},
                  name="default")),
    ("kube-controllers", obj("KubeControllersConfiguration", {"controllers": {"node": {}}}, name="default")),
    ("hostendpoint", obj("HostEndpoint", {"node": "n1", "interfaceName": "eth0",
                                          "ports": [{"name": "http", "protocol": "TCP", "port": 80}]})),
    ("networkset", obj("NetworkSet", {"nets": ["10.0.0.1", "fd00::/64"]})),
    ("profile", obj("Profile", {"labelsToApply": {"a": "b"}, "ingress": [{"action": "Allow"}]})),
    ("node", obj("Node", {"bgp": {"ipv4Address": "10.0.0.1/24", "asNumber": 64512}})),
    ("rcc", obj("RemoteClusterConfiguration", {"apiServer": "https://198.51.100.2:5443",
                                               "syncOptions": {"kinds": ["NetworkSet"], "staleTTL": "0s",
                                                               "selector": "export == 'true'"}})),
    ("annotation-at-limit", obj("GlobalNetworkSet", {}, annotations={"k": "x" * 262_143})),
]


@pytest.mark.parametrize("resource", [case[1] for case in VALID], ids=[case[0] for case in VALID])
def test_valid_objects_have_no_causes(validator: Validator, resource: dict) -> None:
    assert check(validator, copy.deepcopy(resource)) == []


DEFAULTS = [
    ("ippool-v4", obj("IPPool", {"cidr": "10.0.0.0/16"}),
     {"blockSize": 26, "ipipMode": "Never", "vxlanMode": "Never", "nodeSelector": "all()",
      "allowedUses": ["Workload", "Tunnel"], "assignmentMode": "Automatic"}),
    ("ippool-v6-canonical", obj("IPPool", {"cidr": "FD00:0:0::/48"}), {"cidr": "fd00::/48", "blockSize": 122}),
    ("ippool-masked", obj("IPPool", {"cidr": "10.0.0.1/16"}), {"cidr": "10.0.0.0/16"}),
    ("ippool-empty-node-selector", obj("IPPool", {"cidr": "10.0.0.0/16", "nodeSelector": ""}),
     {"nodeSelector": "all()"}),
    ("policy-types-ingress", obj("NetworkPolicy", {}), {"types": ["Ingress"], "tier": "default"}),
    ("policy-types-egress", obj("GlobalNetworkPolicy", {"egress": [{"action": "Allow"}]}), {"types": ["Egress"]}),
    ("policy-types-both", obj("GlobalNetworkPolicy", {"ingress": [{"action": "Allow"}], "egress": [{"action": "Deny"}]}),
     {"types": ["Ingress", "Egress"]}),
    ("staged-action", obj("StagedNetworkPolicy", {}), {"stagedAction": "Set"}),
    ("tier", obj("Tier", {}), {"order": 1_000_000.0, "defaultAction": "Deny"}),
    ("felix", obj("FelixConfiguration", {}, name="default"),
     {"floatingIPs": "Disabled", "bpfConnectTimeLoadBalancing": "TCP", "bpfHostNetworkedNATWithoutCTLB": "Enabled",
      "nftablesMode": "Auto"}),
    ("felix-deprecated-ctlb", obj("FelixConfiguration", {"bpfConnectTimeLoadBalancingEnabled": False}, name="default"),
     {"bpfConnectTimeLoadBalancing": "Disabled", "bpfHostNetworkedNATWithoutCTLB": "Disabled"}),
    ("kube-controllers", obj("KubeControllersConfiguration", {"controllers": {"node": {}, "loadBalancer": {}}},
                             name="default"),
     {"prometheusMetricsPort": 9094, "healthChecks": "Enabled",
      "controllers": {"node": {"leakGracePeriod": "15m0s"}, "loadBalancer": {"assignIPs": "AllServices"}}}),
    ("bgp", obj("BGPConfiguration", {}, name="default"),
     {"logSeverityScreen": "Info", "serviceLoadBalancerAggregation": "Enabled"}),
    ("protocol-and-ports", gnp_rule({"action": "Allow", "protocol": "6", "destination": {"ports": ["80", "90:90"]}}),
     {"ingress": [{"action": "Allow", "protocol": 6, "destination": {"ports": [80, 90]}}]}),
    ("dotted-as-number", obj("BGPPeer", {"asNumber": "1.10"}), {"asNumber": 65546}),
    ("go-zero-of-required-int", obj("FelixConfiguration", {"failsafeInboundHostPorts": [{"protocol": "TCP"}]},
                                    name="default"),
     {"failsafeInboundHostPorts": [{"protocol": "TCP", "port": 0}]}),
]


@pytest.mark.parametrize(("resource", "expected"), [case[1:] for case in DEFAULTS], ids=[case[0] for case in DEFAULTS])
def test_defaults(validator: Validator, resource: dict, expected: dict) -> None:
    validator.default(resource["kind"], resource)
    for key, value in expected.items():
        assert resource["spec"][key] == value, key


def test_field_names_match_case_insensitively_like_go(validator: Validator) -> None:
    resource = {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "Metadata": {"Name": "admin"},
                "Spec": {"Order": 10, "DEFAULTACTION": "Pass"}}
    assert check(validator, resource) == []
    assert resource["spec"] == {"order": 10, "defaultAction": "Pass"}
    assert resource["metadata"] == {"name": "admin"}


def test_label_keys_are_never_renamed(validator: Validator) -> None:
    resource = obj("GlobalNetworkSet", {}, labels={"Name": "a"})
    validator.default("GlobalNetworkSet", resource)
    assert resource["metadata"]["labels"] == {"Name": "a"}


def test_policy_gets_tier_label(validator: Validator) -> None:
    resource = obj("GlobalNetworkPolicy", {"tier": "security"})
    validator.default("GlobalNetworkPolicy", resource)
    assert resource["metadata"]["labels"]["projectcalico.org/tier"] == "security"


def test_absent_spec_is_defaulted_to_empty(validator: Validator) -> None:
    resource = obj("GlobalNetworkSet")
    del resource["spec"]
    assert check(validator, resource) == [] and resource["spec"] == {}


def test_unmasked_pool_is_rejected_without_defaulting(validator: Validator) -> None:
    causes = validator.validate("IPPool", obj("IPPool", {"cidr": "10.0.0.1/16"}))
    assert any(c.field == "spec.cidr" and "strictly masked" in c.message for c in causes), causes


def test_validate_never_mutates(validator: Validator) -> None:
    resource = obj("IPPool", {"cidr": "10.0.0.1/16", "extra": 1})
    before = copy.deepcopy(resource)
    assert validator.validate("IPPool", resource)
    assert resource == before


def test_all_failures_are_reported_at_once(validator: Validator) -> None:
    resource = obj("IPPool", {"cidr": "10.0.0.0/27", "vxlanMode": "Sometimes"}, name="Bad")
    fields = {c.field for c in check(validator, resource)}
    assert {"metadata.name", "spec.cidr", "spec.vxlanMode"} <= fields


def test_unknown_kind_raises_key_error(validator: Validator) -> None:
    with pytest.raises(KeyError):
        validator.validate("Nope", {})


def test_schema_is_served(validator: Validator) -> None:
    assert validator.schema("IPPool")["title"] == "IPPool"
    assert "RemoteClusterConfiguration" in validator.kinds


def _nested(depth: int) -> dict:
    root: dict = {}
    node = root
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


HOSTILE = [
    ("deep-nesting", obj("GlobalNetworkPolicy", {"ingress": [_nested(100_000)]})),
    ("deep-in-labels", obj("GlobalNetworkSet", {}, labels={"a": _nested(10_000)})),
    ("10k-item-list", obj("GlobalNetworkPolicy", {"ingress": [{"action": "Allow", "source": {
        "nets": ["10.0.0.0/8"] * 10_000}}] * 5})),
    ("10k-bad-rules", obj("GlobalNetworkPolicy", {"ingress": [{"action": "Nope", "x": 1}] * 10_000})),
    ("huge-string", obj("GlobalNetworkPolicy", {"selector": "a" * 5_000_000})),
    ("deep-selector", obj("GlobalNetworkPolicy", {"selector": "(" * 50_000 + "a == 'b'" + ")" * 50_000})),
    ("numbers-for-strings", obj("GlobalNetworkPolicy", {"selector": 5, "ingress": [{"action": 1, "source": 3}]},
                                name=7)),
    ("redos-shaped-duration", obj("FelixConfiguration", {"routeRefreshInterval": "ms" * 100_000 + "!"},
                                  name="default")),
    ("nulls-everywhere", {"apiVersion": None, "kind": None, "metadata": {"name": None, "labels": None},
                          "spec": {"ingress": [None], "types": None}}),
    ("list-body", [1, 2, 3]),
    ("enormous-integer", obj("GlobalNetworkPolicy", {"order": 10**5000, "selector": 10**5000})),
]


@pytest.mark.parametrize("resource", [case[1] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_hostile_input_is_rejected_without_exceptions(validator: Validator, resource: Any) -> None:
    """Bounded work is by construction (depth/size guard, maxItems short-cut, RE2); bench/ times it."""
    if isinstance(resource, dict):
        validator.default("GlobalNetworkPolicy", resource)
    causes = validator.validate("GlobalNetworkPolicy", resource)
    assert causes and len(causes) <= MAX_CAUSES
    assert all(isinstance(c, Cause) and len(c.message) < 1000 for c in causes)


UPDATES = [
    ("ippool-cidr-change", {"cidr": "10.0.0.0/16"}, {"cidr": "10.1.0.0/16"}, "spec.cidr", "cannot be changed"),
    ("ippool-block-size-change", {"cidr": "10.0.0.0/16"}, {"cidr": "10.0.0.0/16", "blockSize": 28},
     "spec.blockSize", "cannot be changed"),
    ("ippool-load-balancer-to-workload", {"cidr": "10.0.0.0/16", "allowedUses": ["LoadBalancer"]},
     {"cidr": "10.0.0.0/16", "allowedUses": ["Workload"]}, "spec.allowedUses", "LoadBalancer"),
]


@pytest.mark.parametrize(("old_spec", "new_spec", "field", "message"), [case[1:] for case in UPDATES],
                         ids=[case[0] for case in UPDATES])
def test_update_rules(validator: Validator, old_spec: dict, new_spec: dict, field: str, message: str) -> None:
    old, new = obj("IPPool", old_spec), obj("IPPool", new_spec)
    validator.default("IPPool", old)
    validator.default("IPPool", new)
    assert validator.validate("IPPool", old) == []
    causes = validator.validate_update("IPPool", old, new)
    assert any(c.field == field and message in c.message for c in causes), causes


def test_update_with_canonicalised_cidr_is_allowed(validator: Validator) -> None:
    old, new = obj("IPPool", {"cidr": "fd00::/48"}), obj("IPPool", {"cidr": "FD00:0::/48"})
    for resource in (old, new):
        validator.default("IPPool", resource)
    assert validator.validate_update("IPPool", old, new) == []


def test_required_struct_gets_go_zero_value(validator: Validator) -> None:
    resource = obj("KubeControllersConfiguration", {}, name="default")
    assert check(validator, resource) == []
    assert resource["spec"]["controllers"] == {}


@pytest.mark.parametrize("given,canonical", [("125s", "2m5s"), ("9910s", "2h45m10s"),
                                             ("1h", "1h0m0s"), ("90m", "1h30m0s"), ("0", "0s"),
                                             ("500ms", "500ms"), ("1m30s", "1m30s")])
def test_durations_are_stored_in_go_canonical_form(validator, given, canonical):
    felix = obj("FelixConfiguration", {"routeRefreshInterval": given}, name="default")
    assert check(validator, felix) == []
    assert felix["spec"]["routeRefreshInterval"] == canonical


ARABIC_INDIC = "١٠"   # "10" in Arabic-Indic digits: Python's \d and int() take them, Go's do not


def _advertised(community: str) -> dict:
    return obj("BGPConfiguration", {"prefixAdvertisements": [
        {"cidr": "10.0.0.0/8", "communities": [community]}]}, name="default")


@pytest.mark.parametrize("resource, field", [
    (_advertised(f"{ARABIC_INDIC}:20"), "spec.prefixAdvertisements[0].communities[0]"),
    (_advertised(f"1:2:{ARABIC_INDIC}"), "spec.prefixAdvertisements[0].communities[0]"),
    (obj("BGPPeer", {"peerIP": f"10.0.0.1:{ARABIC_INDIC}", "asNumber": 64512}), "spec.peerIP"),
])
def test_only_ascii_digits_are_numbers(validator: Validator, resource: dict, field: str) -> None:
    causes = validator.validate(resource["kind"], resource)
    assert field in {c.field for c in causes}, causes
    ascii_twin = json.loads(json.dumps(resource, ensure_ascii=False).replace(ARABIC_INDIC, "10"))
    assert validator.validate(resource["kind"], ascii_twin) == []


def test_durations_take_only_ascii_digits() -> None:
    from calicomodel.formats import parse_duration
    assert parse_duration("10s") == 10 * 10**9
    assert parse_duration(f"{ARABIC_INDIC}s") is None
