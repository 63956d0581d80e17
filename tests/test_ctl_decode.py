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
