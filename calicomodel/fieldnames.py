"""Field-name canonicalisation: Go's ``encoding/json`` matches object keys to struct fields
case-insensitively (an exact match wins), so calicoctl accepts ``spec: {Order: 10}`` for a
Tier's ``order``. `canonicalise` renames such keys to the schema's spelling before defaulting
and validation; keys that match no field stay as they are and are reported as unknown.

Only objects whose schema lists ``properties`` are touched: the keys of free-form maps
(labels, annotations, ...) are user data and never renamed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldNames:
    """Per schema node: lower-cased name → field name, and the same for sub-schemas."""

    names: dict[str, str]
    children: dict[str, FieldNames]
    items: FieldNames | None = None


def compile_field_names(schema: dict[str, Any]) -> FieldNames | None:
    """The `FieldNames` of ``schema`` (None when no object below it lists properties)."""
    properties = schema.get("properties", {})
    children = {}
    for name, sub in properties.items():
        child = compile_field_names(sub)
        if child is not None:
            children[name] = child
    items = compile_field_names(schema["items"]) if isinstance(schema.get("items"), dict) else None
    if not properties and items is None:
        return None
    return FieldNames({name.lower(): name for name in properties}, children, items)


def canonicalise(plan: FieldNames | None, value: Any) -> None:
    """Rename, in place, keys of ``value`` that match a field only case-insensitively."""
    if plan is None:
        return
    if isinstance(value, dict):
        if plan.names:
            for key in [k for k in value if k not in plan.children and k not in plan.names.values()]:
                field = plan.names.get(key.lower())
                if field is not None and field not in value:
                    value[field] = value.pop(key)
        for name, child in plan.children.items():
            if name in value:
                canonicalise(child, value[name])
    elif isinstance(value, list) and plan.items is not None:
        for item in value:
            canonicalise(plan.items, item)
