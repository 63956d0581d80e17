"""Objects every Calico datastore has: created at start when absent (libcalico-go's
``EnsureInitialized``), and the one virtual object (a strategy's ``virtual``)."""
from __future__ import annotations

import uuid

from .calico import BUILTIN_TIERS, CALICO_VERSION, DEFAULT_ALLOW_PROFILE

API_VERSION = "projectcalico.org/v3"


def default_allow_profile() -> dict:
    """The read-only Profile that always exists (libcalico-go serves it without storing it)."""
    return {"kind": "Profile", "apiVersion": API_VERSION,
            "metadata": {"name": DEFAULT_ALLOW_PROFILE, "resourceVersion": "1"},
            "spec": {"ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}}


def builtins() -> list[dict]:
    """The built-in Tiers and ClusterInformation ``default``."""
    objs = [{"apiVersion": API_VERSION, "kind": "Tier", "metadata": {"name": name},
             "spec": {"defaultAction": action, "order": order}}
            for name, (action, order) in BUILTIN_TIERS.items()]
    objs.append({"apiVersion": API_VERSION, "kind": "ClusterInformation",
                 "metadata": {"name": "default"},
                 "spec": {"clusterGUID": uuid.uuid4().hex, "clusterType": "etcdv3",
                          "calicoVersion": CALICO_VERSION, "datastoreReady": True}})
    return objs
