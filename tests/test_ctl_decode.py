"""ctl's client-side decoding of manifests against the kinds' schemas (Go encoding/json rules)."""
from __future__ import annotations

import pytest

from ctl import decode

SCHEMA = {"properties": {
    "kind": {"type": "string"},
    "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
    "spec": {"type": "object", "properties": {
        "order": {"type": "number"},
        "disabled": {"type": "boolean"},
        "ingress": {"type": "array", "items": {"type": "object", "properties": {
            "icmp": {"type": "object", "properties": {"type": {"type": "integer"}}}}}},
        "ports": {"type": "array", "items": {"anyOf": [{"type": "integer"},
                                                        {"type": "string"}]}}}}}}


def test_field_names_fold_to_the_schema_spelling_at_every_depth():
    obj = {"kind": "Tier", "metadata": {"Name": "t"},
           "spec": {"Order": 5, "Ingress": [{"ICMP": {"Type": 3}}], "ports": [1, "2:3"],
                    "unknownField": 1}}
    assert decode.decode(obj, SCHEMA) == {
        "kind": "Tier", "metadata": {"name": "t"},
        "spec": {"order": 5, "ingress": [{"icmp": {"type": 3}}], "ports": [1, "2:3"],
                 "unknownField": 1}}


@pytest.mark.parametrize("spec, message", [
    ({"disabled": "True"},
     "cannot unmarshal string into Go struct field IPPoolSpec.spec.disabled of type bool"),
    ({"order": "first"},
     "cannot unmarshal string into Go struct field IPPoolSpec.spec.order of type float64"),
    ({"ingress": {"a": 1}}, "cannot unmarshal object into Go struct field "
                            "IPPoolSpec.spec.ingress of type []interface {}"),
])
def test_type_errors_use_go_wording(spec, message):
    with pytest.raises(decode.DecodeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        decode.decode({"kind": "IPPool", "spec": spec}, SCHEMA)


def test_without_a_schema_nothing_changes():
    obj = {"kind": "X", "spec": {"Order": "x"}}
    assert decode.decode(obj, None) is obj


PORTS = {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}],
                                    "x-kubernetes-int-or-string": True}}
AS_NUMBER = {"type": "integer", "minimum": 0, "maximum": 4294967295}
GO_SCHEMA = {"properties": {
    "kind": {"type": "string"},
    "spec": {"type": "object", "properties": {
        "asNumber": AS_NUMBER,
        "disabled": {"type": "boolean"},
        "order": {"type": "number"},
        "bgp": {"type": "object", "properties": {"asNumber": AS_NUMBER}},
        "egress": {"type": "array", "items": {"type": "object", "properties": {
            "source": {"type": "object", "properties": {"ports": PORTS,
                                                        "notPorts": PORTS}}}}}}}}}


def _spec(kind: str, spec: dict) -> dict:
    return decode.decode({"kind": kind, "spec": spec}, GO_SCHEMA)["spec"]


@pytest.mark.parametrize("spec, message", [
    ({"asNumber": 4294967296}, "cannot unmarshal number into Go struct field "
                               "BGPPeerSpec.spec.asNumber of type string"),
    ({"asNumber": -1}, "cannot unmarshal number into Go struct field BGPPeerSpec.spec.asNumber "
                       "of type string"),
    ({"asNumber": 1.5}, "cannot unmarshal number into Go struct field BGPPeerSpec.spec.asNumber "
                        "of type string"),
    ({"asNumber": True}, "cannot unmarshal bool into Go struct field BGPPeerSpec.spec.asNumber "
                         "of type string"),
    ({"asNumber": "1.65536"}, "invalid AS Number format (1.65536)"),
    ({"asNumber": "AS1"}, "invalid AS Number format (AS1)"),
    ({"bgp": {"asNumber": 2**32}}, "cannot unmarshal number into Go struct field "
                                   "NodeBGPSpec.spec.bgp.asNumber of type string"),
])
def test_as_numbers_decode_as_uint32_or_string(spec, message):
    with pytest.raises(decode.DecodeError) as err:
        _spec("BGPPeer", spec)
    assert str(err.value) == message


def test_as_number_strings_decode_to_the_number():
    assert _spec("BGPPeer", {"asNumber": "64512"}) == {"asNumber": 64512}
    assert _spec("BGPPeer", {"asNumber": "1.10"}) == {"asNumber": 65546}
    assert _spec("BGPPeer", {"asNumber": 4294967295.0}) == {"asNumber": 4294967295}


@pytest.mark.parametrize("port, message", [
    (65536, "cannot unmarshal number 65536 into Go struct field "
            "EntityRule.spec.egress.source.ports of type uint16"),
    (-1, "cannot unmarshal number -1 into Go struct field EntityRule.spec.egress.source.ports "
         "of type uint16"),
    (False, "cannot unmarshal bool into Go struct field EntityRule.spec.egress.source.ports "
            "of type uint16"),
    ("1:65536", "invalid maximum port number in range (1:65536)"),
    ("65536:70000", "invalid minimum port number in range (65536:70000)"),
    ("90:80", "minimum port number (90) is greater than maximum port number (80) in port "
              "range"),
    ("65536", "invalid port format (65536)"),
    ("no spaces", "invalid name for named port (no spaces)"),
])
def test_ports_decode_like_numorstring_port(port, message):
    with pytest.raises(decode.DecodeError) as err:
        _spec("NetworkPolicy", {"egress": [{"source": {"ports": [80, port]}}]})
    assert str(err.value) == message


def test_valid_ports_are_unchanged():
    ports = [0, 80, "80", "0:65535", "http", "named_port.1"]
    assert _spec("NetworkPolicy", {"egress": [{"source": {"notPorts": ports}}]}) == \
        {"egress": [{"source": {"notPorts": ports}}]}


def test_errors_are_met_in_gos_order():
    """Keys are walked sorted (as sigs.k8s.io/yaml hands them to Go); the first type
    mismatch is reported unless a numorstring decoder fails, which ends decoding at once."""
    with pytest.raises(decode.DecodeError, match="spec.disabled of type bool"):
        _spec("IPPool", {"order": "first", "disabled": "yes"})
    with pytest.raises(decode.DecodeError, match="spec.asNumber of type string"):
        _spec("BGPPeer", {"disabled": "yes", "asNumber": -1})
    with pytest.raises(decode.DecodeError, match="invalid maximum port number"):
        _spec("NetworkPolicy", {"disabled": "yes", "egress": [{"source": {"ports": ["1:65536"]}}]})


def test_output_keeps_the_input_order():
    assert list(_spec("BGPPeer", {"order": 1, "asNumber": 1, "Disabled": True})) == \
        ["order", "asNumber", "disabled"]
