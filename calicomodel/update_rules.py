"""Update-time rules: the CRD transition rules (``self == oldSelf``) and clientv3's update checks.

A kind's strategy names its rules (``Strategy.update_rules``). They compare the stored object
with its replacement, so they run only on updates
(`calicomodel.validation.Validator.validate_update`). Both objects are read through the
total accessors: a malformed stored object yields no causes rather than an exception.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import Cause
from .checking import Report, items, mapping
from .formats import parse_cidr

UpdateRule = Callable[[Report, dict[str, Any], dict[str, Any]], None]


def ippool(report: Report, old: dict[str, Any], new: dict[str, Any]) -> None:
    old_cidr, new_cidr = parse_cidr(old.get("cidr")), parse_cidr(new.get("cidr"))
    if old_cidr is not None and new_cidr is not None and old_cidr.network != new_cidr.network:
        report.add("spec.cidr", "CIDR cannot be changed; follow IP pool migration guide to avoid corruption.",
                   "FieldValueForbidden")
    if "blockSize" in old and old.get("blockSize") != new.get("blockSize"):
        report.add("spec.blockSize", "Block size cannot be changed; follow IP pool migration guide to avoid "
                                     "corruption.", "FieldValueForbidden")
    if "LoadBalancer" in items(old, "allowedUses") and "LoadBalancer" not in items(new, "allowedUses"):
        report.add("spec.allowedUses", "a LoadBalancer IP pool cannot be changed to another allowed use",
                   "FieldValueForbidden")


def run(update_rules: tuple[UpdateRule, ...], old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    """The causes that forbid replacing ``old`` by ``new`` (whole objects of one kind)."""
    report = Report()
    for transition in update_rules:
        transition(report, mapping(old, "spec"), mapping(new, "spec"))
    return report.causes
