"""What the API publishes about the kinds, built from the catalog and the schemas alone: the
discovery document (``APIResourceList``) and each kind's schema as OpenAPI serves it. The
server answers with them; ``ctl`` without a server (``ctl validate``) reads the same.
"""
from __future__ import annotations

from typing import Any

from .catalog import API_VERSION, Catalog

ALL_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
READ_VERBS = ["get", "list", "watch"]


def resource_list(catalog: Catalog) -> dict:
    """The ``APIResourceList`` of the group version: each kind, its verbs and names."""
    resources = []
    for kind in catalog:
        verbs = ALL_VERBS if not kind.read_only else \
            sorted(READ_VERBS + ["patch"]) if kind.strategy.patchable else READ_VERBS
        resources.append({"name": kind.plural, "singularName": kind.singular,
                          "namespaced": kind.namespaced, "kind": kind.kind, "verbs": verbs,
                          "shortNames": kind.short_names, "categories": ["calico"]})
        if kind.status:
            resources.append({"name": f"{kind.plural}/status", "singularName": "",
                              "namespaced": kind.namespaced, "kind": kind.kind,
                              "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": API_VERSION,
            "resources": resources}


def kind_schema(schema: dict) -> dict:
    """A kind's schema as served: in OpenAPI's dialect, and with the name required, as the
    server requires it (it does not generate names)."""
    served = oas30(schema)
    served["properties"]["metadata"]["required"] = ["name"]
    return served


# Schema keywords whose values are schemas (the only places `oas30` descends into).
_SCHEMA_MAPS = ("properties",)
_SCHEMA_VALUES = ("additionalProperties", "items", "not")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf")


def oas30(schema: Any) -> Any:
    """A kind's JSON Schema (draft 2020-12 with RE2 patterns: the validator's dialect) as an
    OpenAPI 3.0 Schema Object: no ``$schema``/``$id``, ``nullable`` instead of a ``"null"``
    type, ECMA-262 patterns."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("$schema", "$id"):
            continue
        if key in _SCHEMA_MAPS:
            value = {name: oas30(sub) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            value = oas30(value)
        elif key in _SCHEMA_LISTS:
            value = [oas30(sub) for sub in value]
        elif key == "pattern":
            value = ecma_pattern(value)
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if len(types) != 1:
                raise ValueError(f"OpenAPI 3.0 has no type {value}")
            value = types[0]
            out["nullable"] = True
        out[key] = value
    return out


def ecma_pattern(pattern: str) -> str:
    """An RE2 pattern in ECMA-262 (OpenAPI's dialect): a leading ``(?i)``, which ECMA-262
    lacks, becomes ``[xX]`` for each letter. Calico's case-insensitive patterns are
    alternations of words; one with a character class is refused rather than mistranslated."""
    if not pattern.startswith("(?i)"):
        return pattern
    out, escaped = [], False
    for ch in pattern[len("(?i)"):]:
        if escaped or not ch.isalpha():
            if ch == "[" and not escaped:
                raise ValueError(f"cannot translate the case-insensitive class in {pattern!r}")
            out.append(ch)
            escaped = ch == "\\" and not escaped
        else:
            out.append(f"[{ch.lower()}{ch.upper()}]")
    return "".join(out)
