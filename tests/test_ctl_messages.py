"""calicoctl's wording of API errors, rebuilt by ctl from Kubernetes Status causes."""
from __future__ import annotations

import pytest

from ctl.client import error_from_status
from ctl.messages import describe, massage, validation_text

POLICY = {"spec": {"ingress": [{"action": "Jump", "destination": {"ports": ["0:65535"]}}],
                   "cidr": "fd5f::1/123", "peerIP": "badpeerIP"}}


@pytest.mark.parametrize("field, message, text", [
    ("spec.peerIP", "bad IP", "error with field BGPPeer.Spec.PeerIP = 'badpeerIP' (bad IP)"),
    ("spec.ingress[0].action", "unsupported", "error with field Action = 'Jump' (unsupported)"),
    ("spec.ingress[0].destination.ports[0]", "Invalid value: 0: port range invalid",
     "error with field Port = '0' (port range invalid)"),
    ("spec.ingress[0].destination.ports[0]", 'Invalid value: "0:65535": bad',
     "error with field Port = '0:65535' (bad)"),
    ("spec.cidr", "too small", "error with field BGPPeer.Spec.CIDR = 'fd5f::/123' (too small)"),
    ("spec.missing", "Required value", "error with field BGPPeer.Spec.Missing (Required value)"),
    ("spec.peerIP", "Forbidden: not here", "error with field BGPPeer.Spec.PeerIP (not here)"),
    ("spec.node", "Required value: give one", "error with field BGPPeer.Spec.Node (give one)"),
])
def test_one_field(field, message, text):
    assert validation_text([{"field": field, "message": message}], "BGPPeer", POLICY) == text


def test_several_fields_and_status_reasons():
    causes = [{"field": "spec.peerIP", "message": "a"}, {"field": "spec.node", "message": "b"}]
    assert validation_text(causes, "BGPPeer", POLICY) == (
        "error with the following fields:\n-  BGPPeer.Spec.PeerIP = 'badpeerIP' (a)\n"
        "-  BGPPeer.Spec.Node (b)\n")
    status = {"kind": "Status", "reason": "NotFound", "message": "x"}
    assert describe(error_from_status(status, 404), "IPPool", "p", None) == \
        "resource does not exist: IPPool(p) with error: <nil>"
    assert describe(error_from_status({"reason": "Conflict"}, 409), "NetworkPolicy", "p",
                    "ns") == "update conflict: NetworkPolicy(ns/p)"
    assert describe(error_from_status({"reason": "AlreadyExists"}, 409), "Tier", "t") == \
        "resource already exists: Tier(t) with error: <nil>"
    unknown = {"reason": "BadRequest", "message": "strict decoding error",
               "details": {"causes": [{"field": "spec.bogus", "reason": "FieldUnknown"}]}}
    assert describe(error_from_status(unknown, 400), "Tier", "t") == \
        "field in document is not recognized or is in the wrong location: bogus"


@pytest.mark.parametrize("text, printed", [
    ('failed to execute command: error unmarshaling JSON: while decoding JSON: json: unknown '
     'field "xyz"', "field in document is not recognized or is in the wrong location: xyz"),
    ("error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go "
     "value of type bool", "cannot unmarshal string into Go value of type bool"),
    ("failed to execute command: error unmarshaling JSON: while decoding JSON: json: cannot "
     "unmarshal", "failed to execute command: error unmarshaling JSON: while decoding JSON: "
     "json: cannot unmarshal"),
])
def test_massage_is_calicoctls_massage_error(text, printed):
    assert massage(text) == printed
