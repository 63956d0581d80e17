"""Total accessors for reading untrusted JSON objects, and the `Report` checks write into.

The accessors never raise: a field of the wrong type reads as empty, so semantic checks can
run on objects that also have schema errors (which the schema layer reports).
"""
from __future__ import annotations

from typing import Any

from apiserver.resources.errors import Cause


class Report:
    """Collects the causes found by semantic checks, in order."""

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def add(self, field: str, message: str, reason: str = "FieldValueInvalid") -> None:
        """Record that ``field`` (a JSON path) is wrong, saying why in ``message``."""
        self.causes.append(Cause(field, message, reason))


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
