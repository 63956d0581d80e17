"""Client-side decoding of manifests the way calicoctl's Go decoder reads them
(``yaml.UnmarshalStrict`` of one ``---`` document into the resource, the typed ``<Kind>List``
or the slice of resources), driven by the kinds' JSON Schemas that the server publishes
(``/openapi/v3/apis/projectcalico.org/v3``).

* Field names match case-insensitively (Go ``encoding/json``): ``Order`` becomes ``order``.
* Unknown fields are errors in every struct (``json: unknown field "x"``): a schema object with
  ``additionalProperties: false`` is a struct with just its properties. ``metadata`` is
  Kubernetes ``ObjectMeta`` (``ListMeta`` in a list), whatever the server's schema says.
* A value of the wrong JSON type is a decode error with Go's wording: ``json: cannot unmarshal
  string into Go struct field IPPoolSpec.spec.disabled of type bool``.
* Numbers and booleans given for a plain string field become strings, as sigs.k8s.io/yaml
  converts YAML towards the Go type: in a resource or a typed list, not in a YAML sequence of
  resources (its elements are interfaces to the converter).
* libcalico-go's ``numorstring`` values decode with their own rules, which the CRD-derived
  schemas cannot express (they say only "integer" or "int-or-string"): AS numbers are
  ``uint32`` or ``"<n>"``/``"<high>.<low>"`` strings (decoded to the number, as calicoctl
  sends it), ports are ``uint16`` numbers or ``"<n>"``, ``"<min>:<max>"`` or a name.
  Timestamps (``metav1.Time``) must be strings or null.
* Which error wins is Go's, per document: the document is walked in the order Go sees it
  (sigs.k8s.io/yaml hands it JSON with sorted keys); an error from a value's own decoder
  (``numorstring``, ``metav1.Time``) ends decoding at once; a type mismatch or an unknown field
  is remembered and decoding goes on, and the first one remembered is reported if nothing
  ends decoding.
"""
from __future__ import annotations

import re
import struct
from typing import Any, Callable, Mapping

from .manifests import API_VERSION

_PREFIX = "error unmarshaling JSON: while decoding JSON: "  # sigs.k8s.io/yaml's wrapping
_GO_TYPES = {"boolean": "bool", "string": "string", "integer": "int", "number": "float64",
             "array": "[]interface {}", "object": "map[string]interface {}"}
# Go names the innermost struct in "Go struct field <Struct>.<path>": a schema of ctl's own
# says it (``x-go-struct``); otherwise the kind's ``<Kind>Spec``/``<Kind>Status``, else the
# struct of the object under one of these fields, else the enclosing struct's name.
_GO_STRUCT = "x-go-struct"
_GO_STRUCTS = {"ingress": "Rule", "egress": "Rule", "source": "EntityRule",
               "destination": "EntityRule", "bgp": "NodeBGPSpec"}
_UINT32_MAX, _UINT16_MAX = 2**32 - 1, 2**16 - 1
_PORT_RANGE = re.compile(r"(\d+):(\d+)", re.ASCII)
_PORT_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")


def _struct(name: str, fields: dict[str, dict]) -> dict:
    return {"type": "object", "properties": fields, "additionalProperties": False,
            _GO_STRUCT: name}


_STRING, _BOOL = {"type": "string"}, {"type": "boolean"}
_INT64 = {"type": "integer", "format": "int64"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_STRING_MAP = {"type": "object", "additionalProperties": _STRING}
# k8s.io/apimachinery/pkg/apis/meta/v1 ObjectMeta and ListMeta, field for field.
OBJECT_META = _struct("ObjectMeta", {
    "name": _STRING, "generateName": _STRING, "namespace": _STRING, "selfLink": _STRING,
    "uid": _STRING, "resourceVersion": _STRING, "generation": _INT64,
    "creationTimestamp": _TIME, "deletionTimestamp": _TIME,
    "deletionGracePeriodSeconds": _INT64, "labels": _STRING_MAP, "annotations": _STRING_MAP,
    "ownerReferences": {"type": "array", "items": _struct("OwnerReference", {
        "apiVersion": _STRING, "kind": _STRING, "name": _STRING, "uid": _STRING,
        "controller": _BOOL, "blockOwnerDeletion": _BOOL})},
    "finalizers": {"type": "array", "items": _STRING},
    "managedFields": {"type": "array", "items": _struct("ManagedFieldsEntry", {
        "manager": _STRING, "operation": _STRING, "apiVersion": _STRING, "time": _TIME,
        "fieldsType": _STRING, "fieldsV1": {"type": "object"}, "subresource": _STRING})}})
LIST_META = _struct("ListMeta", {"selfLink": _STRING, "resourceVersion": _STRING,
                                 "continue": _STRING, "remainingItemCount": _INT64})


class DecodeError(Exception):
    """A document Go's decoder would refuse. ``str()`` is calicoctl's decoder text
    (``error unmarshaling JSON: while decoding JSON: json: unknown field "x"``); ``message``
    is the part after ``while decoding JSON: ``."""

    def __init__(self, message: str) -> None:
        super().__init__(_PREFIX + message)
        self.message = message


class _Abort(Exception):
    """A value's own decoder failed: Go's decoder stops at once."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def document(doc: Any, kind_schemas: Mapping[str, dict]) -> Any:
    """One parsed ``---`` document decoded as calicoctl decodes it: a resource, a typed
    ``<Kind>List`` (projectcalico.org/v3), a Kubernetes ``kind: List`` (v1, each item by its
    own kind) or a YAML sequence of resources. Returns it in the same shape, field names
    folded, ``numorstring`` AS numbers as numbers and strings converted. Parts of a kind the
    server publishes no schema for are left as they are. Raises DecodeError."""
    if isinstance(doc, list):
        decoder = _Decoder(coerce=False)
        return decoder.run(lambda: [decoder.resource(item, kind_schemas) for item in doc])
    decoder = _Decoder(coerce=True)
    return decoder.run(lambda: decoder.resource(doc, kind_schemas))


def decode(obj: dict, schema: dict | None) -> dict:
    """One resource decoded with its kind's ``schema`` (see ``document``)."""
    kind = obj.get("kind", "")
    return document(obj, {kind: schema} if schema else {})


class _Decoder:
    """One walk over one document; ``remembered`` is the first mismatch or unknown field."""

    def __init__(self, *, coerce: bool) -> None:
        self.coerce = coerce
        self.kind = ""
        self.remembered = ""

    def run(self, walk: Callable[[], Any]) -> Any:
        try:
            out = walk()
        except _Abort as stop:
            raise DecodeError(stop.message) from None
        if self.remembered:
            raise DecodeError(self.remembered)
        return out

    def resource(self, doc: Any, kind_schemas: Mapping[str, dict], path: tuple = ()) -> Any:
        """A resource or list at ``path`` of the document, by its kind's schema."""
        if not isinstance(doc, dict):
            return doc
        kind, version = doc.get("kind"), doc.get("apiVersion")
        if kind == "List" and version == "v1":
            return self._list(doc, "List", lambda item, at: self.resource(item, kind_schemas,
                                                                           at), path)
        element = kind[:-len("List")] if isinstance(kind, str) and kind.endswith("List") \
            else ""
        if element and version == API_VERSION and kind_schemas.get(element):
            schema = _resource_schema(kind_schemas[element])
            return self._list(doc, kind, lambda item, at: self._typed(item, element, schema,
                                                                      at), path)
        if isinstance(kind, str) and kind_schemas.get(kind):
            return self._typed(doc, kind, _resource_schema(kind_schemas[kind]), path)
        return doc

    def _typed(self, obj: Any, kind: str, schema: dict, path: tuple) -> Any:
        outer, self.kind = self.kind, kind
        try:
            return self.value(obj, schema, list(path), kind, struct_name=kind)
        finally:
            self.kind = outer

    def _list(self, doc: dict, name: str, item: Callable[[Any, tuple], Any],
              path: tuple) -> dict:
        """A list document: its own fields as a struct, each item by ``item``."""
        schema = _struct(name, {"apiVersion": _STRING, "kind": _STRING, "metadata": LIST_META,
                                "items": {"type": "array"}})
        decoded: dict[str, tuple[str, Any]] = {}
        for key in sorted(doc):
            field = _field(key, schema["properties"])
            if field is None:
                self.remember(f'json: unknown field "{key}"')
                decoded[key] = key, doc[key]
            elif field == "items" and isinstance(doc[key], list):
                decoded[key] = field, [item(v, (*path, field)) for v in doc[key]]
            else:
                decoded[key] = field, self.value(doc[key], schema["properties"][field],
                                                 [*path, field], name)
        return dict(decoded[key] for key in doc)

    def value(self, value: Any, schema: dict, path: list[str], owner: str, *,
              struct_name: str = "") -> Any:
        """``value`` of the field at ``path`` of struct ``owner`` (``struct_name``: the Go
        struct the value itself decodes into, when known)."""
        special = _special(schema, path)
        if special is not None:
            return special(self, value, path, owner)
        if self.coerce and _plain_string(schema) and _json_type(value) in ("bool", "number"):
            return _go_string(value)
        if not _accepts(schema, value):
            wanted = schema["type"] if isinstance(schema["type"], str) else schema["type"][0]
            self.mismatch(value, path, owner, _go_type(wanted, schema))
            return value
        if isinstance(value, dict):
            return self.object(value, schema, path,
                               struct_name or self.struct_of(schema, path, owner))
        if isinstance(value, list) and isinstance(schema.get("items"), dict):
            return [self.value(v, schema["items"], path, owner) for v in value]
        return value

    def object(self, value: dict, schema: dict, path: list[str], name: str) -> dict:
        """A JSON object decoded into struct ``name`` (or a map, or free-form data)."""
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        decoded: dict[str, tuple[str, Any]] = {}
        for key in sorted(value):  # Go's order, so errors are met as Go meets them
            field = _field(key, props)
            if field is not None:
                decoded[key] = field, self.value(value[key], props[field], [*path, field],
                                                 name)
            elif isinstance(extra, dict):  # a map: Go's field path leaves the key out
                decoded[key] = key, self.value(value[key], extra, path, name)
            else:
                if extra is False:
                    self.remember(f'json: unknown field "{key}"')
                decoded[key] = key, value[key]
        return dict(decoded[key] for key in value)

    def struct_of(self, schema: dict, path: list[str], owner: str) -> str:
        """The Go struct an object at ``path`` (a field of ``owner``) decodes into."""
        if _GO_STRUCT in schema:
            return schema[_GO_STRUCT]
        field = path[-1] if path else ""
        if owner == self.kind and field in ("spec", "status"):
            return f"{self.kind}{field.capitalize()}"
        return _GO_STRUCTS.get(field, owner)

    def remember(self, message: str) -> None:
        """An error Go saves and reports at the end unless decoding is stopped."""
        if not self.remembered:
            self.remembered = message

    def mismatch(self, value: Any, path: list[str], owner: str, go_type: str) -> None:
        """A JSON value Go cannot store in ``go_type``: remembered, decoding goes on."""
        what = _json_type(value)
        if what == "number" and go_type.startswith(("int", "uint")):
            what = f"number {_go_number(value)}"
        self.remember(self.type_error(what, path, owner, go_type))

    @staticmethod
    def type_error(what: str, path: list[str], owner: str, go_type: str) -> str:
        return (f"json: cannot unmarshal {what} into Go struct field {owner}."
                f"{'.'.join(path)} of type {go_type}")

    # metav1.Time: null or a string (its own decoder reads a JSON string)
    def time(self, value: Any, path: list[str], owner: str) -> Any:
        if value is not None and not isinstance(value, str):
            raise _Abort(self.type_error(_json_type(value), path, owner, "string"))
        return value

    # numorstring.ASNumber: uint32, else a string (plain or dotted "high.low")
    def as_number(self, value: Any, path: list[str], owner: str) -> Any:
        if value is None:
            return value
        if _json_type(value) == "number" and float(value).is_integer() \
                and 0 <= value <= _UINT32_MAX:
            return int(value)
        if not isinstance(value, str):
            raise _Abort(self.type_error(_json_type(value), path, owner, "string"))
        if value.isascii() and value.isdigit() and int(value) <= _UINT32_MAX:
            return int(value)
        high, dot, low = value.partition(".")
        if dot and value.isascii() and all(p.isdigit() and int(p) <= _UINT16_MAX
                                           for p in (high, low)):
            return (int(high) << 16) + int(low)
        raise _Abort(f"invalid AS Number format ({value})")

    # numorstring.Port: a uint16, or "<n>", "<min>:<max>" or a port name
    def port(self, value: Any, path: list[str], owner: str) -> Any:
        if isinstance(value, str):
            problem = _port_string_problem(value)
            if problem:
                raise _Abort(problem)
            return value
        if value is None:
            return value
        if _json_type(value) != "number":
            raise _Abort(self.type_error(_json_type(value), path, owner, "uint16"))
        if not (float(value).is_integer() and 0 <= value <= _UINT16_MAX):
            raise _Abort(self.type_error(f"number {_go_number(value)}", path, owner,
                                         "uint16"))
        return value


_Special = Callable[[_Decoder, Any, list[str], str], Any]


def _special(schema: dict, path: list[str]) -> _Special | None:
    """The decoder of a Go type with its own ``UnmarshalJSON`` for this field's values:
    ``numorstring`` (named as in the v3 API types) or ``metav1.Time``."""
    field = path[-1] if path else ""
    if field in ("asNumber", "localASNumber", "asPathPrefix", "prefix") and \
            schema.get("type") == "integer":
        return _Decoder.as_number
    if field in ("ports", "notPorts", "kubeNodePortRanges") and \
            schema.get("x-kubernetes-int-or-string"):
        return _Decoder.port
    if schema.get("format") == "date-time":
        return _Decoder.time
    return None


def _resource_schema(schema: dict) -> dict:
    """A kind's schema with Kubernetes ObjectMeta as its ``metadata``."""
    return {**schema, "properties": {**(schema.get("properties") or {}),
                                     "metadata": OBJECT_META}}


def _plain_string(schema: dict) -> bool:
    """A Go ``string`` field that sigs.k8s.io/yaml converts scalars into (formatted and
    patterned strings are mostly types with their own decoder, such as metav1.Duration)."""
    return schema.get("type") == "string" and not ({"format", "pattern", "anyOf", "oneOf",
                                                    "x-kubernetes-int-or-string"} & set(schema))


def _go_string(value: bool | int | float) -> str:
    """A YAML scalar converted for a string field as sigs.k8s.io/yaml does (floats with
    ``strconv.FormatFloat(f, 'g', -1, 32)``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _format_float32(value)


def _format_float32(value: float) -> str:
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    single = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):  # the shortest decimal that reads back as the same float32
        text = f"{single:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, exponent = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    figures = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    exp = int(exponent)
    if exp < -4 or exp >= 6:  # %e, as Go's shortest 'g' decides
        body = figures[0] + ("." + figures[1:] if len(figures) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{figures}"
    whole = figures[:exp + 1].ljust(exp + 1, "0")
    rest = figures[exp + 1:]
    return f"{sign}{whole}{'.' + rest if rest else ''}"


def _port_string_problem(text: str) -> str | None:
    """``numorstring.PortFromString``'s error for ``text``, or None."""
    if text.isascii() and text.isdigit():
        return None if int(text) <= _UINT16_MAX else f"invalid port format ({text})"
    m = _PORT_RANGE.fullmatch(text)
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


def _go_type(wanted: str, schema: dict) -> str:
    if wanted == "integer" and schema.get("format") in ("int32", "int64"):
        return schema["format"]
    return _GO_TYPES.get(wanted, wanted)


def _field(key: str, props: dict) -> str | None:
    """The struct field a JSON key decodes into: the exact name, else the one equal under
    case folding (Go ``encoding/json``); None for an unknown field."""
    if key in props:
        return key
    folded = key.casefold()
    return next((p for p in props if p.casefold() == folded), None)
