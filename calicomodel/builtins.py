"""Objects every Calico datastore has: created at start when absent, and the one virtual
object (a strategy's ``virtual``).

Two sources: libcalico-go's ``EnsureInitialized`` (the Tiers and ClusterInformation
``default``), and the defaults a Calico cluster's own components create when they start and
find none, so that the commands written for a Calico cluster (``patch felixconfiguration
default …``) work on a new datastore too: calico-node's ``ensureDefaultConfig``
(FelixConfiguration and BGPConfiguration ``default``) and kube-controllers'
``NewDefaultKubeControllersConfig`` (KubeControllersConfiguration ``default``), with the
specs those components write.
"""
from __future__ import annotations

import copy
import uuid

from .calico import BUILTIN_TIERS, CALICO_VERSION, DEFAULT_ALLOW_PROFILE

API_VERSION = "projectcalico.org/v3"
_FIVE_MINUTES = {"reconcilerPeriod": "5m0s"}
KUBE_CONTROLLERS_DEFAULT = {
    "logSeverityScreen": "Info", "healthChecks": "Enabled", "etcdV3CompactionPeriod": "10m0s",
    "controllers": {
        "node": {"reconcilerPeriod": "5m0s", "syncLabels": "Enabled",
                 "hostEndpoint": {"autoCreate": "Disabled",
                                  "createDefaultHostEndpoint": "Enabled"},
                 "leakGracePeriod": "15m0s"},
        "policy": _FIVE_MINUTES, "workloadEndpoint": _FIVE_MINUTES,
        "serviceAccount": _FIVE_MINUTES, "namespace": _FIVE_MINUTES,
        "loadBalancer": {"assignIPs": "AllServices"},
        "migration": {"policyNameMigrator": "Enabled"}}}
"""kube-controllers' ``NewDefaultKubeControllersConfig`` (kube-controllers/pkg/config)."""
COMPONENT_DEFAULTS = {
    "FelixConfiguration": {"reportingInterval": "0s", "logSeverityScreen": "Info"},
    "BGPConfiguration": {},
    "KubeControllersConfiguration": KUBE_CONTROLLERS_DEFAULT}
"""Kind → spec of the ``default`` object Calico's components create at start."""


def default_allow_profile() -> dict:
    """The read-only Profile that always exists (libcalico-go serves it without storing it)."""
    return {"kind": "Profile", "apiVersion": API_VERSION,
            "metadata": {"name": DEFAULT_ALLOW_PROFILE, "resourceVersion": "1"},
            "spec": {"ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]}}


def builtins() -> list[dict]:
    """The built-in Tiers, ClusterInformation ``default`` and the components' defaults."""
    objs = [{"apiVersion": API_VERSION, "kind": "Tier", "metadata": {"name": name},
             "spec": {"defaultAction": action, "order": order}}
            for name, (action, order) in BUILTIN_TIERS.items()]
    objs.append({"apiVersion": API_VERSION, "kind": "ClusterInformation",
                 "metadata": {"name": "default"},
                 "spec": {"clusterGUID": uuid.uuid4().hex, "clusterType": "etcdv3",
                          "calicoVersion": CALICO_VERSION, "datastoreReady": True}})
    objs += [{"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": "default"},
              "spec": copy.deepcopy(spec)} for kind, spec in COMPONENT_DEFAULTS.items()]
    return objs

