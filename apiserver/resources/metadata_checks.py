"""Metadata checks every kind gets (validator.go ``validateObjectMeta`` and the per-kind name
rules of ``validateTier``/``validate(Global)NetworkPolicy``; clientv3's singleton names)."""
from __future__ import annotations

from typing import Any

from apiserver.resources.fieldview import Report
from apiserver.resources.formats import (
    DNS_LABEL, DNS_SUBDOMAIN, GLOBAL_NETWORK_POLICY_NAME, NETWORK_POLICY_NAME,
    label_value_problem, qualified_name_problem, shown)

ANNOTATION_LIMIT = 256 * 1024
"""Largest total size (keys + values, bytes) of an object's annotations."""
SINGLETONS = frozenset({"ClusterInformation", "KubeControllersConfiguration", "IPAMConfiguration"})
"""Kinds whose only allowed name is ``default``."""

_NAME_RULES = {
    "Tier": (DNS_LABEL, 63, "a DNS label: lower-case alphanumerics and '-' (no '.')"),
    "NetworkPolicy": (NETWORK_POLICY_NAME, 253,
                      "lower-case alphanumerics and '-', with at most one '.'"),
    "StagedNetworkPolicy": (NETWORK_POLICY_NAME, 253,
                            "lower-case alphanumerics and '-', with at most one '.'"),
    "GlobalNetworkPolicy": (GLOBAL_NETWORK_POLICY_NAME, 253,
                            "lower-case alphanumerics and '-', with at most one '.'"),
    "StagedGlobalNetworkPolicy": (GLOBAL_NETWORK_POLICY_NAME, 253,
                                  "lower-case alphanumerics and '-', with at most one '.'"),
}
_SUBDOMAIN_RULE = (DNS_SUBDOMAIN, 253, "a DNS subdomain: lower-case alphanumerics, '-' and '.'")


def check_name(report: Report, kind: str, metadata: dict[str, Any]) -> None:
    """``metadata.name`` syntax for ``kind`` (and ``default`` for singleton kinds), and
    ``metadata.namespace`` syntax."""
    name = metadata.get("name")
    if not isinstance(name, str):
        return
    pattern, limit, wanted = _NAME_RULES.get(kind, _SUBDOMAIN_RULE)
    if len(name) > limit:
        report.add("metadata.name", f"name is {len(name)} characters long; at most {limit} are allowed",
                   "FieldValueTooLong")
    elif not pattern.fullmatch(name):
        report.add("metadata.name", f"invalid name {shown(name)}: must be {wanted}")
    if kind in SINGLETONS and name != "default":
        report.add("metadata.name", f"{kind} must be named 'default', not {shown(name)}")
    namespace = metadata.get("namespace")
    if isinstance(namespace, str) and not (len(namespace) <= 63 and DNS_LABEL.fullmatch(namespace)):
        report.add("metadata.namespace", f"invalid namespace {shown(namespace)}: must be a DNS "
                   "label of at most 63 characters: lower-case alphanumerics and '-'")


def check_labels(report: Report, field: str, labels: dict[str, Any]) -> None:
    """Label keys are qualified names and values are label values."""
    for key, value in labels.items():
        report.check(field, qualified_name_problem(key) or label_value_problem(value))


def check_annotations(report: Report, field: str, annotations: dict[str, Any]) -> None:
    """Annotation keys (lower-cased) are qualified names; total size at most 256 KiB."""
    total = 0
    for key, value in annotations.items():
        report.check(field, qualified_name_problem(key.lower()))
        total += len(key.encode()) + (len(value.encode()) if isinstance(value, str) else 0)
    if total > ANNOTATION_LIMIT:
        report.add(field, f"annotations total {total} bytes; at most {ANNOTATION_LIMIT} are allowed",
                   "FieldValueTooLong")
