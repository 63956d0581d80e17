"""Client-side decoding of manifests the way calicoctl's Go decoder reads them, driven by the
kinds' JSON Schemas that the server publishes (``/openapi/v3/apis/projectcalico.org/v3``).

* Field names match case-insensitively (Go ``encoding/json``): ``Order`` becomes ``order``.
* A value of the wrong JSON type is a decode error, reported before anything is sent, with
  Go's wording: ``cannot unmarshal string into Go struct field IPPoolSpec.spec.disabled of
  type bool``.

Unknown fields are left alone: the server's strict decoding reports them.
"""
from __future__ import annotations

from typing import Any

from .client import ApiClient, ApiError

OPENAPI_PATH = "/openapi/v3/apis/projectcalico.org/v3"
_GO_TYPES = {"boolean": "bool", "string": "string", "integer": "int", "number": "float64",
             "array": "[]interface {}", "object": "map[string]interface {}"}


class DecodeError(Exception):
    """A value Go's decoder would refuse (message without the ``json: `` prefix)."""


def schemas(client: ApiClient) -> dict[str, dict]:
    """Per-kind schemas from the server; empty when it publishes none."""
    try:
        doc = client.request("GET", OPENAPI_PATH)
    except ApiError:
        return {}
    return (doc.get("components") or {}).get("schemas") or {}


def decode(obj: dict, schema: dict | None) -> dict:
    """``obj`` with field names folded to the schema's spelling. Raises DecodeError."""
    if not schema:
        return obj
    return _value(obj, schema, [], obj.get("kind", ""))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _accepts(schema: dict, value: Any) -> bool:
    types = schema.get("type")
    if types is None or value is None or "anyOf" in schema or "oneOf" in schema or \
            schema.get("x-kubernetes-int-or-string"):
        return True
    allowed = {types} if isinstance(types, str) else set(types)
    kind = _json_type(value)
    if kind == "bool":
        return "boolean" in allowed
    if kind == "number":
        return "number" in allowed or ("integer" in allowed and float(value).is_integer())
    return {"string": "string", "array": "array", "object": "object"}[kind] in allowed


def _value(value: Any, schema: dict, path: list[str], kind: str) -> Any:
    if not _accepts(schema, value):
        wanted = schema["type"] if isinstance(schema["type"], str) else schema["type"][0]
        raise DecodeError(f"cannot unmarshal {_json_type(value)} into Go struct field "
                          f"{_owner(path, kind)}.{'.'.join(path)} of type "
                          f"{_GO_TYPES.get(wanted, wanted)}")
    if isinstance(value, dict):
        return _object(value, schema, path, kind)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_value(v, schema["items"], path, kind) for v in value]
    return value


def _owner(path: list[str], kind: str) -> str:
    return f"{kind}Spec" if len(path) > 1 and path[0] == "spec" else kind


def _object(value: dict, schema: dict, path: list[str], kind: str) -> dict:
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    out: dict[str, Any] = {}
    for key, child in value.items():
        name = key if key in props else _fold(key, props)
        if name in props:
            out[name] = _value(child, props[name], [*path, name], kind)
        elif isinstance(extra, dict):
            out[key] = _value(child, extra, [*path, key], kind)
        else:
            out[key] = child
    return out


def _fold(key: str, props: dict) -> str:
    matches = [p for p in props if p.lower() == key.lower()]
    return matches[0] if len(matches) == 1 else key
