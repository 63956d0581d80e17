"""Semantic checks: libcalico-go validator rules that JSON Schema cannot express.

`run` applies, to a whole object whose kind has a schema:

* metadata checks for every kind (the name rule and singleton name of the kind's strategy,
  label and annotation syntax, the 256 KiB annotation limit), from ``validateObjectMeta``;
* the checks its strategy names (struct validators of ``validator.go``, the CRD CEL rules of
  ``crd_cel_rules.md``, BGPConfiguration default-only fields): those of the few small kinds
  are below, the others in ``policy_checks``, ``network_checks``, ``endpoint_checks`` and
  ``config_checks``.

Checks read the object through the total accessors of `calicomodel.checking`, so a
part of the wrong type is simply skipped here (the schema layer reports it); a check never
raises and never mutates.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from . import policy_checks
from .calico import BUILTIN_TIERS, NAMESPACE_LABEL
from .errors import Cause
from .checking import Report, items, mapping, text
from .formats import DNS_LABEL, cidr_problem, is_name, shown
from .metadata_checks import check_annotations, check_labels, check_name

if TYPE_CHECKING:
    from .strategies import Strategy


def run(kind: str, strategy: Strategy, obj: dict[str, Any]) -> Iterator[Cause]:
    """Every semantic problem of ``obj`` (a ``kind`` object that passed the shape bounds)."""
    report = Report()
    metadata = mapping(obj, "metadata")
    check_name(report, kind, strategy.name, strategy.singleton, metadata)
    check_labels(report, "metadata.labels", mapping(metadata, "labels"))
    check_annotations(report, "metadata.annotations", mapping(metadata, "annotations"))
    spec = mapping(obj, "spec")
    for check in strategy.checks:
        check(report, obj, spec)
    return iter(report.causes)


# --- network sets -----------------------------------------------------------------------------

def network_set(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    if NAMESPACE_LABEL in mapping(mapping(obj, "metadata"), "labels"):
        report.add("metadata.labels", f"{NAMESPACE_LABEL} is reserved and may not be set")
    for index, net in enumerate(items(spec, "nets")):
        report.check(f"spec.nets[{index}]", cidr_problem(net))


# --- small kinds -------------------------------------------------------------------------------
def ip_reservation(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    for index, cidr in enumerate(items(spec, "reservedCIDRs")):
        report.check(f"spec.reservedCIDRs[{index}]", cidr_problem(cidr))


def builtin_tier(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    """The built-in tiers keep their order and default action."""
    name = text(mapping(obj, "metadata"), "name")
    if name not in BUILTIN_TIERS:
        return
    action, order = BUILTIN_TIERS[name]
    if spec.get("order") != order or isinstance(spec.get("order"), bool):
        report.add("spec.order", f"{name} tier order must be {order}")
    if spec.get("defaultAction") != action:
        report.add("spec.defaultAction", f"The '{name}' tier must have default action '{action}'")


def calico_node_status(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    if not text(spec, "node"):
        report.add("spec.node", "node must be specified", "FieldValueRequired")
    elif not is_name(spec["node"]):
        report.add("spec.node", f"invalid node name {shown(spec['node'])}")
    classes = items(spec, "classes")
    if not classes:
        report.add("spec.classes", "classes must be specified", "FieldValueRequired")
    if len(classes) != len({c for c in classes if isinstance(c, str)}):
        report.add("spec.classes", "classes must not repeat", "FieldValueDuplicate")
    period = spec.get("updatePeriodSeconds")
    if period is None:
        report.add("spec.updatePeriodSeconds", "updatePeriodSeconds must be specified", "FieldValueRequired")
    elif isinstance(period, int) and not 0 <= period <= 86400:
        report.add("spec.updatePeriodSeconds", f"{period} is out of range 0-86400")


def block_affinity(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    if spec.get("deleted") is True or spec.get("deleted") == "true":
        report.add("spec.deleted", "a block affinity cannot be created or updated with deleted: true")


def remote_cluster_configuration(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    name = mapping(obj, "metadata").get("name")
    if isinstance(name, str) and len(name) > 63:
        report.add("metadata.name", f"name is {len(name)} characters long; at most 63 are allowed "
                   "(it becomes the value of the federation.projectcalico.org/cluster label)",
                   "FieldValueTooLong")
    options = mapping(spec, "syncOptions")
    policy_checks.selector_field(report, "spec.syncOptions.selector", options.get("selector"),
                                 allow_global=False)
    for index, namespace in enumerate(items(options, "namespaces")):
        if isinstance(namespace, str) and not DNS_LABEL.fullmatch(namespace):
            report.add(f"spec.syncOptions.namespaces[{index}]", f"invalid namespace {shown(namespace)}")
    if text(spec, "keyFile") and not text(spec, "certFile"):
        report.add("spec.certFile", "certFile is required with keyFile", "FieldValueRequired")


def federation_export(report: Report, obj: dict[str, Any], spec: dict[str, Any]) -> None:
    """A FederationExport names who it is for, and its selector and namespaces are valid."""
    if not items(spec, "users") and not items(spec, "groups"):
        report.add("spec.users", "a FederationExport must name at least one user or group",
                   "FieldValueRequired")
    policy_checks.selector_field(report, "spec.selector", spec.get("selector"),
                                 allow_global=False)
    for index, namespace in enumerate(items(spec, "namespaces")):
        if isinstance(namespace, str) and not DNS_LABEL.fullmatch(namespace):
            report.add(f"spec.namespaces[{index}]", f"invalid namespace {shown(namespace)}")
