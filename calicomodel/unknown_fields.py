"""Fields a kind's JSON Schema does not declare (where an object says
``additionalProperties: false``), found and dropped for ``fieldValidation=Warn|Ignore`` and
for server-side apply configurations; validation reports the same fields as ``FieldUnknown``."""
from __future__ import annotations

from typing import Any

from .validation import json_path


def drop(schema: dict, value: Any) -> list[str]:
    """Remove, in place, every field of ``value`` that ``schema`` does not declare; return
    their paths as validation spells them (``spec.ingress[0].foo``), in document order."""
    dropped: list[str] = []
    _drop(schema, value, [], dropped)
    return dropped


def _drop(schema: dict, value: Any, path: list, dropped: list[str]) -> None:
    if isinstance(value, dict):
        declared = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key in list(value):
            if key in declared:
                _drop(declared[key], value[key], [*path, key], dropped)
            elif isinstance(extra, dict):
                _drop(extra, value[key], [*path, key], dropped)
            elif extra is False:
                del value[key]
                dropped.append(json_path([*path, key]))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _drop(schema["items"], item, [*path, index], dropped)
