"""Total accessors for reading untrusted JSON objects, the `Report` checks write into, and the
`Check` signature with a few checks every kind module shares.

The accessors never raise: a field of the wrong type reads as empty, so semantic checks can
run on objects that also have schema errors (which the schema layer reports).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import Cause
from .formats import is_duration, shown


class Report:
    """Collects the causes found by semantic checks, in order."""

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def add(self, field: str, message: str, reason: str = "FieldValueInvalid") -> None:
        """Record that ``field`` (a JSON path) is wrong, saying why in ``message``."""
        self.causes.append(Cause(field, message, reason))

    def check(self, field: str, problem: str | None, reason: str = "FieldValueInvalid") -> None:
        """Record ``problem`` for ``field`` when there is one (``None`` means fine)."""
        if problem:
            self.add(field, problem, reason)


Check = Callable[[Report, dict[str, Any], dict[str, Any]], None]
"""A named semantic check: ``check(report, obj, spec)`` adds causes, never raises or mutates."""


def as_mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else ``{}``."""
    return value if isinstance(value, dict) else {}


def mapping(holder: Any, key: str) -> dict[str, Any]:
    """``holder[key]`` when it is an object, else ``{}``."""
    value = holder.get(key) if isinstance(holder, dict) else None
    return value if isinstance(value, dict) else {}


def items(holder: Any, key: str) -> list[Any]:
    """``holder[key]`` when it is a list, else ``[]``."""
    value = holder.get(key) if isinstance(holder, dict) else None
    return value if isinstance(value, list) else []


def text(holder: Any, key: str) -> str:
    """``holder[key]`` when it is a string, else ``""``."""
    value = holder.get(key) if isinstance(holder, dict) else None
    return value if isinstance(value, str) else ""


def check_durations(report: Report, base: str, holder: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Each present ``holder[key]`` must be a Go duration string (``metav1.Duration``)."""
    for key in keys:
        if key in holder and not is_duration(holder[key]):
            report.add(f"{base}.{key}", f"invalid duration {shown(holder[key])}: use a Go duration such as \"90s\"")
