"""Client-side decoding of manifests the way calicoctl's Go decoder reads them, driven by the
kinds' JSON Schemas that the server publishes (``/openapi/v3/apis/projectcalico.org/v3``).

* Field names match case-insensitively (Go ``encoding/json``): ``Order`` becomes ``order``.
* A value of the wrong JSON type is a decode error with Go's wording: ``cannot unmarshal
  string into Go struct field IPPoolSpec.spec.disabled of type bool``.
* libcalico-go's ``numorstring`` values decode with their own rules, which the CRD-derived
  schemas cannot express (they say only "integer" or "int-or-string"): AS numbers are
  ``uint32`` or ``"<n>"``/``"<high>.<low>"`` strings (decoded to the number, as calicoctl
  sends it), ports are ``uint16`` numbers or ``"<n>"``, ``"<min>:<max>"`` or a name.
* Which error wins is Go's: the object is walked in the order Go sees it (sigs.k8s.io/yaml
  hands it JSON with sorted keys); an error from a ``numorstring`` decoder ends decoding at
  once, a type mismatch is remembered and decoding goes on, and the first one remembered is
  reported if nothing ends decoding.

Unknown fields are left alone: the server's strict decoding reports them (so a type mismatch
wins over an unknown field that Go would have met first).
"""
from __future__ import annotations

import re
from typing import Any, Callable

from .client import ApiClient, ApiError

OPENAPI_PATH = "/openapi/v3/apis/projectcalico.org/v3"
_GO_TYPES = {"boolean": "bool", "string": "string", "integer": "int", "number": "float64",
             "array": "[]interface {}", "object": "map[string]interface {}"}
# The Go struct holding the fields of the object under a field, where it is not the kind's
# own ``<Kind>Spec``; Go names the innermost struct in "Go struct field <Struct>.<path>".
_GO_STRUCTS = {"metadata": "ObjectMeta", "ingress": "Rule", "egress": "Rule",
               "source": "EntityRule", "destination": "EntityRule", "bgp": "NodeBGPSpec"}
_UINT32_MAX, _UINT16_MAX = 2**32 - 1, 2**16 - 1
_PORT_RANGE = re.compile(r"(\d+):(\d+)")
_PORT_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")


class DecodeError(Exception):
    """A value Go's decoder would refuse (message without the ``json: `` prefix)."""


class _Abort(Exception):
    """A ``numorstring`` decoder failed: Go's decoder stops at once."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def schemas(client: ApiClient) -> dict[str, dict]:
    """Per-kind schemas from the server; empty when it publishes none."""
    try:
        doc = client.request("GET", OPENAPI_PATH)
    except ApiError:
        return {}
    return (doc.get("components") or {}).get("schemas") or {}


def decode(obj: dict, schema: dict | None) -> dict:
    """``obj`` with field names folded to the schema's spelling and ``numorstring`` AS
    numbers as numbers. Raises DecodeError."""
    if not schema:
        return obj
    decoder = _Decoder(obj.get("kind", ""))
    try:
        out = decoder.value(obj, schema, [])
    except _Abort as stop:
        raise DecodeError(stop.message) from None
    if decoder.remembered:
        raise DecodeError(decoder.remembered)
    return out


class _Decoder:
    """One walk over one object; ``remembered`` is the first type mismatch met."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.remembered = ""

    def value(self, value: Any, schema: dict, path: list[str]) -> Any:
        special = _numorstring(schema, path)
        if special is not None:
            return special(self, value, path)
        if not _accepts(schema, value):
            wanted = schema["type"] if isinstance(schema["type"], str) else schema["type"][0]
            self.mismatch(value, path, _GO_TYPES.get(wanted, wanted))
            return value
        if isinstance(value, dict):
            return self.object(value, schema, path)
        if isinstance(value, list) and isinstance(schema.get("items"), dict):
            return [self.value(v, schema["items"], path) for v in value]
        return value

    def object(self, value: dict, schema: dict, path: list[str]) -> dict:
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        decoded: dict[str, tuple[str, Any]] = {}
        for key in sorted(value):  # Go's order, so errors are met as Go meets them
            name = key if key in props else _fold(key, props)
            if name in props:
                decoded[key] = name, self.value(value[key], props[name], [*path, name])
            elif isinstance(extra, dict):
                decoded[key] = key, self.value(value[key], extra, [*path, key])
            else:
                decoded[key] = key, value[key]
        return dict(decoded[key] for key in value)

    def mismatch(self, value: Any, path: list[str], go_type: str) -> None:
        """A JSON value Go cannot store in ``go_type``: remembered, decoding goes on."""
        if not self.remembered:
            self.remembered = self.type_error(_json_type(value), path, go_type)

    def type_error(self, what: str, path: list[str], go_type: str) -> str:
        return (f"cannot unmarshal {what} into Go struct field {_owner(path, self.kind)}."
                f"{'.'.join(path)} of type {go_type}")

    # numorstring.ASNumber: uint32, else a string (plain or dotted "high.low")
    def as_number(self, value: Any, path: list[str]) -> Any:
        if value is None:
            return value
        if _json_type(value) == "number" and float(value).is_integer() \
                and 0 <= value <= _UINT32_MAX:
            return int(value)
        if not isinstance(value, str):
            raise _Abort(self.type_error(_json_type(value), path, "string"))
        if value.isdigit() and int(value) <= _UINT32_MAX:
            return int(value)
        high, dot, low = value.partition(".")
        if dot and all(p.isdigit() and int(p) <= _UINT16_MAX for p in (high, low)):
            return (int(high) << 16) + int(low)
        raise _Abort(f"invalid AS Number format ({value})")

    # numorstring.Port: a uint16, or "<n>", "<min>:<max>" or a port name
    def port(self, value: Any, path: list[str]) -> Any:
        if isinstance(value, str):
            problem = _port_string_problem(value)
            if problem:
                raise _Abort(problem)
            return value
        if value is None:
            return value
        if _json_type(value) != "number":
            raise _Abort(self.type_error(_json_type(value), path, "uint16"))
        if not (float(value).is_integer() and 0 <= value <= _UINT16_MAX):
            raise _Abort(self.type_error(f"number {_go_number(value)}", path, "uint16"))
        return value


def _numorstring(schema: dict, path: list[str]) -> Callable[[_Decoder, Any, list[str]],
                                                            Any] | None:
    """The ``numorstring`` decoder of this field's values (named as in the v3 API types)."""
    field = path[-1] if path else ""
    if field in ("asNumber", "localASNumber", "asPathPrefix", "prefix") and \
            schema.get("type") == "integer":
        return _Decoder.as_number
    if field in ("ports", "notPorts", "kubeNodePortRanges") and \
            schema.get("x-kubernetes-int-or-string"):
        return _Decoder.port
    return None


def _port_string_problem(text: str) -> str | None:
    """``numorstring.PortFromString``'s error for ``text``, or None."""
    if text.isascii() and text.isdigit():
        return None if int(text) <= _UINT16_MAX else f"invalid port format ({text})"
    m = _PORT_RANGE.fullmatch(text) if text.isascii() else None
    if m:
        low, high = int(m.group(1)), int(m.group(2))
        if low > _UINT16_MAX:
            return f"invalid minimum port number in range ({text})"
        if high > _UINT16_MAX:
            return f"invalid maximum port number in range ({text})"
        if low > high:
            return (f"minimum port number ({low}) is greater than maximum port number "
                    f"({high}) in port range")
        return None
    return None if _PORT_NAME.fullmatch(text) else f"invalid name for named port ({text})"


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


def _go_number(value: int | float) -> str:
    """A number as it appears in the JSON Go decodes."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


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


def _owner(path: list[str], kind: str) -> str:
    """The Go struct that holds the field at ``path`` (the innermost one known)."""
    owner = kind
    for index, name in enumerate(path[:-1]):
        if index == 0 and name == "spec":
            owner = f"{kind}Spec"
        elif name in _GO_STRUCTS:
            owner = _GO_STRUCTS[name]
    return owner


def _fold(key: str, props: dict) -> str:
    matches = [p for p in props if p.lower() == key.lower()]
    return matches[0] if len(matches) == 1 else key
