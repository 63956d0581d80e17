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
           "spec": {"Order": 5, "Ingress": [{"ICMP": {"Type": 3}}], "ports": [1, "2:3"]}}
    assert decode.decode(obj, SCHEMA) == {
        "kind": "Tier", "metadata": {"name": "t"},
        "spec": {"order": 5, "ingress": [{"icmp": {"type": 3}}], "ports": [1, "2:3"]}}


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
    ({"asNumber": 4294967296}, "json: cannot unmarshal number into Go struct field "
                               "BGPPeerSpec.spec.asNumber of type string"),
    ({"asNumber": -1}, "json: cannot unmarshal number into Go struct field "
                       "BGPPeerSpec.spec.asNumber of type string"),
    ({"asNumber": 1.5}, "json: cannot unmarshal number into Go struct field "
                        "BGPPeerSpec.spec.asNumber of type string"),
    ({"asNumber": True}, "json: cannot unmarshal bool into Go struct field "
                         "BGPPeerSpec.spec.asNumber of type string"),
    ({"asNumber": "1.65536"}, "invalid AS Number format (1.65536)"),
    ({"asNumber": "AS1"}, "invalid AS Number format (AS1)"),
    ({"asNumber": "\u00b2"}, "invalid AS Number format (\u00b2)"),     # a digit int() refuses
    ({"asNumber": "1.\u0663"}, "invalid AS Number format (1.\u0663)"),
    ({"bgp": {"asNumber": 2**32}}, "json: cannot unmarshal number into Go struct field "
                                   "NodeBGPSpec.spec.bgp.asNumber of type string"),
])
def test_as_numbers_decode_as_uint32_or_string(spec, message):
    with pytest.raises(decode.DecodeError) as err:
        _spec("BGPPeer", spec)
    assert err.value.message == message


def test_as_number_strings_decode_to_the_number():
    assert _spec("BGPPeer", {"asNumber": "64512"}) == {"asNumber": 64512}
    assert _spec("BGPPeer", {"asNumber": "1.10"}) == {"asNumber": 65546}
    assert _spec("BGPPeer", {"asNumber": 4294967295.0}) == {"asNumber": 4294967295}


@pytest.mark.parametrize("port, message", [
    (65536, "json: cannot unmarshal number 65536 into Go struct field "
            "EntityRule.spec.egress.source.ports of type uint16"),
    (-1, "json: cannot unmarshal number -1 into Go struct field "
         "EntityRule.spec.egress.source.ports of type uint16"),
    (False, "json: cannot unmarshal bool into Go struct field "
            "EntityRule.spec.egress.source.ports of type uint16"),
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
    assert err.value.message == message


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


STRICT = {"type": "object", "additionalProperties": False, "properties": {
    "apiVersion": {"type": "string"}, "kind": {"type": "string"},
    "metadata": {"type": "object", "additionalProperties": False,
                 "properties": {"name": {"type": "string"}}},
    "spec": {"type": "object", "additionalProperties": False, "properties": {
        "disabled": {"type": "boolean"},
        "asNumber": AS_NUMBER,
        "node": {"type": "string"},
        "selectorLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {"type": "object"},
        "ingress": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                               "properties": {"action": {"type": "string"}}}}}}}}
SCHEMAS = {"BGPPeer": STRICT}
V3 = "projectcalico.org/v3"


def _peer(spec: dict | None = None, **top) -> dict:
    return {"apiVersion": V3, "kind": "BGPPeer", "metadata": {"name": "p"}, **top,
            "spec": spec or {}}


def _message(doc) -> str:
    with pytest.raises(decode.DecodeError) as err:
        decode.document(doc, SCHEMAS)
    assert str(err.value) == "error unmarshaling JSON: while decoding JSON: " + err.value.message
    return err.value.message


@pytest.mark.parametrize("doc, field", [
    (_peer({"bogus": 1}), "bogus"),
    (_peer(Status={}), "Status"),
    (_peer({"ingress": [{"action": "Allow", "destination": {}}]}), "destination"),
    ({**_peer(), "metadata": {"name": "p", "colour": "red"}}, "colour"),
    ({**_peer(), "metadata": {"name": "p", "ownerReferences": [{"kind": "K", "x": 1}]}}, "x"),
    ({"apiVersion": V3, "kind": "BGPPeerList", "metadata": {"x": 1}, "items": []}, "x"),
    ({"apiVersion": V3, "kind": "BGPPeerList", "extra": 1, "items": []}, "extra"),
    ({"apiVersion": V3, "kind": "BGPPeerList", "items": [_peer({"bogus": 1})]}, "bogus"),
    ([_peer(), _peer({"bogus": 1})], "bogus"),
    ({"apiVersion": "v1", "kind": "List", "items": [_peer({"bogus": 1})]}, "bogus"),
])
def test_unknown_fields_of_structs_are_errors(doc, field):
    assert _message(doc) == f'json: unknown field "{field}"'


def test_maps_free_objects_and_case_folded_names_are_not_unknown():
    doc = _peer({"SelectorLabels": {"any": "x"}, "free": {"what": {"ever": 1}},
                 "INGRESS": [{"Action": "Allow"}]})
    assert decode.document(doc, SCHEMAS)["spec"] == {
        "selectorLabels": {"any": "x"}, "free": {"what": {"ever": 1}},
        "ingress": [{"action": "Allow"}]}


def test_metadata_is_object_meta_whatever_the_server_schema_says():
    """The server's metadata schema has no selfLink; Kubernetes ObjectMeta has."""
    meta = {"name": "p", "selfLink": "/x", "uid": "u", "generation": 2, "finalizers": ["f"],
            "creationTimestamp": None, "deletionGracePeriodSeconds": 30,
            "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}]}
    assert decode.document({**_peer(), "metadata": meta}, SCHEMAS)["metadata"] == meta
    assert _message({**_peer(), "metadata": {"name": "p", "generation": 1.5}}) == (
        "json: cannot unmarshal number 1.5 into Go struct field ObjectMeta.metadata.generation "
        "of type int64")
    assert _message({**_peer(), "metadata": {"name": "p", "creationTimestamp": 5}}) == (
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata."
        "creationTimestamp of type string")


def test_the_first_error_go_meets_wins():
    """Sorted keys; unknown fields and type mismatches are remembered (the first one wins);
    a numorstring error ends decoding, beating anything remembered before it."""
    assert _message(_peer({"aaa": 1, "disabled": "no"})) == 'json: unknown field "aaa"'
    assert _message(_peer({"zzz": 1, "disabled": "no"})) == (
        "json: cannot unmarshal string into Go struct field BGPPeerSpec.spec.disabled of "
        "type bool")
    assert _message(_peer({"aaa": 1, "asNumber": "AS1"})) == "invalid AS Number format (AS1)"
    assert _message({**_peer({"bogus": 1}), "metadata": {"name": "p", "zz": 1}}) == \
        'json: unknown field "zz"'
    assert _message([_peer({"bogus": 1}), _peer({"asNumber": "AS1"})]) == \
        "invalid AS Number format (AS1)"
    assert _message({"apiVersion": V3, "kind": "BGPPeerList", "zzz": 1,
                     "items": [_peer({"disabled": "no"})]}) == (
        "json: cannot unmarshal string into Go struct field BGPPeerSpec.items.spec.disabled "
        "of type bool")


def test_scalars_for_string_fields_become_strings_except_in_a_sequence():
    spec = {"node": 7, "selectorLabels": {"a": True, "b": 1.10, "c": 1e6}}
    assert decode.document(_peer(spec), SCHEMAS)["spec"] == {
        "node": "7", "selectorLabels": {"a": "true", "b": "1.1", "c": "1e+06"}}
    listed = {"apiVersion": V3, "kind": "BGPPeerList", "items": [_peer(spec)]}
    assert decode.document(listed, SCHEMAS)["items"][0]["spec"]["node"] == "7"
    assert _message([_peer(spec)]) == ("json: cannot unmarshal number into Go struct field "
                                       "BGPPeerSpec.spec.node of type string")


@pytest.mark.parametrize("value, text", [
    (1.5, "1.5"), (0.1, "0.1"), (100.0, "100"), (123456.0, "123456"), (1e6, "1e+06"),
    (1234567.0, "1.234567e+06"), (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"),
    (3.14159265358979, "3.1415927"),
])
def test_floats_convert_like_go_formatfloat_g_32(value, text):
    assert decode.document(_peer({"node": value}), SCHEMAS)["spec"]["node"] == text


def test_kinds_without_a_schema_are_left_alone():
    doc = {"apiVersion": V3, "kind": "Other", "spec": {"anything": 1}}
    assert decode.document(doc, SCHEMAS) == doc
