"""Metadata checks every kind gets (validator.go ``validateObjectMeta``), with the name rule
and singleton name of the kind's strategy (``validateTier``/``validate(Global)NetworkPolicy``;
clientv3's singleton names)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .checking import Report
from .formats import (
    DNS_LABEL, DNS_SUBDOMAIN, GLOBAL_NETWORK_POLICY_NAME, NETWORK_POLICY_NAME,
    label_value_problem, qualified_name_problem, shown)

ANNOTATION_LIMIT = 256 * 1024
"""Largest total size (keys + values, bytes) of an object's annotations."""


@dataclass(frozen=True)
class NameRule:
    """What ``metadata.name`` must be for a kind (a Strategy's ``name``)."""

    pattern: Any            # a compiled regular expression the whole name must match
    limit: int
    wanted: str             # says what the pattern allows, for the message


SUBDOMAIN_NAME = NameRule(DNS_SUBDOMAIN, 253, "a DNS subdomain: lower-case alphanumerics, '-' and '.'")
LABEL_NAME = NameRule(DNS_LABEL, 63, "a DNS label: lower-case alphanumerics and '-' (no '.')")
POLICY_NAME = NameRule(NETWORK_POLICY_NAME, 253,
                       "lower-case alphanumerics and '-', with at most one '.'")
GLOBAL_POLICY_NAME = NameRule(GLOBAL_NETWORK_POLICY_NAME, 253,
                              "lower-case alphanumerics and '-', with at most one '.'")


def check_name(report: Report, kind: str, rule: NameRule, singleton: str | None,
               metadata: dict[str, Any]) -> None:
    """``metadata.name`` follows ``rule`` (and is ``singleton`` when the kind has only that
    one), and ``metadata.namespace`` is a DNS label."""
    name = metadata.get("name")
    if not isinstance(name, str):
        return
    if len(name) > rule.limit:
        report.add("metadata.name", f"name is {len(name)} characters long; at most {rule.limit} "
                   "are allowed", "FieldValueTooLong")
    elif not rule.pattern.fullmatch(name):
        report.add("metadata.name", f"invalid name {shown(name)}: must be {rule.wanted}")
    if singleton is not None and name != singleton:
        report.add("metadata.name", f"{kind} must be named '{singleton}', not {shown(name)}")
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
