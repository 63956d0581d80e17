"""Validation and defaulting of whole projectcalico.org/v3 objects.

The store calls, for every write and in this order::

    validator.default(kind, obj)          # mutates obj: CRD + Calico defaults, canonical forms
    causes = validator.validate(kind, obj)   # never mutates; [] means valid
    # on updates, validate_update(kind, stored, obj) adds the rules that compare with the
    # stored object (CRD transition rules such as "IPPool CIDR cannot be changed")

`validate` reports every failure at once as `Cause` values (a JSON path, a message saying
what was given and what is allowed, and a Kubernetes cause type). Two layers produce them:

1. the kind's JSON Schema (``schemas/<kind>.json``, generated from Calico's CRDs): fields,
   types, enums, patterns (matched with RE2, as Go does), bounds, required fields, unknown
   fields (``FieldUnknown``);
2. the semantic checks of `calicomodel.checks` with the kind's strategy
   (``strategies.py``: selectors, CIDRs, ports, protocols, CEL rules, names, labels, Calico's
   struct validators).

A semantic cause on a field that already has a schema cause is left out (one clear message
per field). Hostile input costs bounded time and memory: objects nested deeper than `MAX_DEPTH` or with
more than `MAX_NODES` values are refused before any other check, at most `MAX_CAUSES` causes
are reported, and nothing here recurses on user data except jsonschema, which the depth bound
protects. No exception escapes `validate` or `default` for any JSON-shaped input.

A new kind needs its schema file; its strategy's checks and defaults are optional.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

import jsonschema
import re2
from jsonschema import ValidationError
from jsonschema.validators import Draft202012Validator, extend

from . import checks, defaults, fieldnames, update_rules
from .catalog import Catalog
from .strategies import PLAIN, Strategy
from .errors import Cause
from .formats import RE2_OPTIONS, parse_cidr, shown

__all__ = ["Cause", "Validator", "MissingSchemas", "MAX_CAUSES", "MAX_DEPTH", "MAX_NODES"]

MAX_DEPTH = 64
"""Deepest nesting of objects/lists accepted (Calico's deepest real path is ~10)."""
MAX_NODES = 200_000
"""Most JSON values (objects, lists, scalars) one object may contain."""
MAX_CAUSES = 100
"""Most causes reported for one object; the last one says how many more were found."""
_SCAN_LIMIT = 10 * MAX_CAUSES

_RFC3339 = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
_DRAFT_ITEMS = Draft202012Validator.VALIDATORS["items"]
_FORMAT_NAMES = {"cidr": "CIDR", "date-time": "RFC 3339 date-time"}
_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "a boolean", "object": "an object", "array": "a list", "null": "null"}


def _re2_pattern(validator: Any, pattern: str, instance: Any, schema: dict) -> Iterator[ValidationError]:
    """``pattern`` with Go's RE2 semantics (``$`` is end of text; linear time)."""
    if isinstance(instance, str) and not _compiled(pattern).search(instance):
        yield ValidationError(f"does not match the pattern {pattern}")


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, RE2_OPTIONS)


def _items_within_bounds(validator: Any, items: Any, instance: Any, schema: dict) -> Iterator[ValidationError]:
    """``items``, skipped for a list already over its ``maxItems`` (that error suffices).

    Items whose schema is only a type (``nets: [string]``, thousands per network set) are
    type-checked in one loop; only a mismatch goes through the full machinery, so errors
    are the same."""
    if isinstance(instance, list) and len(instance) > schema.get("maxItems", len(instance)):
        return
    if isinstance(instance, list) and isinstance(items, dict) and \
            isinstance(items.get("type"), str) and items.keys() <= {"type", "description"}:
        for index, item in enumerate(instance):
            if not validator.is_type(item, items["type"]):
                yield from validator.descend(item, items, path=index)
        return
    yield from _DRAFT_ITEMS(validator, items, instance, schema)


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("cidr")(lambda value: not isinstance(value, str)
                           or parse_cidr(value) is not None)
    checker.checks("date-time")(lambda value: not isinstance(value, str)
                                or _compiled(_RFC3339).fullmatch(value) is not None)
    return checker


_SchemaValidator = extend(Draft202012Validator, {"pattern": _re2_pattern, "items": _items_within_bounds})


def _schema_dir() -> Path:
    """The kinds' JSON Schemas: the top-level ``schemas/`` of a checkout (or editable
    install), shipped in a wheel as the package data ``calicomodel/schemas/``."""
    here = Path(__file__).resolve().parent
    return here / "schemas" if (here / "schemas").is_dir() else here.parent / "schemas"


SCHEMAS = _schema_dir()


class MissingSchemas(RuntimeError):
    """A served kind has no schema: an installation without its ``schemas/`` (serving such
    a kind would fail every request; refusing to start says why at once)."""


class Validator:
    """Defaults and validates objects of every kind that has a schema in ``schema_dir``."""

    def __init__(self, schema_dir: Path, catalog: Catalog | None = None) -> None:
        """Load and compile every ``*.json`` schema in ``schema_dir`` (raises OSError/ValueError,
        and MissingSchemas unless every kind of ``catalog`` has one); each kind is defaulted
        and checked as its catalog row's strategy says.

        The schemas are trusted files (``tests/test_schemas.py`` checks they are valid JSON Schema).
        """
        self._schemas: dict[str, dict[str, Any]] = {}
        self._compiled: dict[str, Any] = {}
        self._defaults: dict[str, defaults.SchemaDefaults] = {}
        self._field_names: dict[str, fieldnames.FieldNames | None] = {}
        formats = _format_checker()
        for path in sorted(Path(schema_dir).glob("*.json")):
            schema = json.loads(path.read_text())
            kind = schema["title"]
            self._schemas[kind] = schema
            self._compiled[kind] = _SchemaValidator(schema, format_checker=formats)
            self._defaults[kind] = defaults.compile_defaults(schema) or defaults.SchemaDefaults()
            self._field_names[kind] = fieldnames.compile_field_names(schema)
        catalog = catalog or Catalog()
        self._strategies: dict[str, Strategy] = {k.kind: k.strategy for k in catalog}
        missing = sorted({kind.kind for kind in catalog} - self._schemas.keys())
        if missing:
            named = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more kinds"
                                              if len(missing) > 3 else "")
            raise MissingSchemas(f"no JSON Schema in {schema_dir} for {named}: the "
                                 "installation lacks its schemas/")

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds this validator knows."""
        return frozenset(self._schemas)

    def schema(self, kind: str) -> dict[str, Any]:
        """The JSON Schema of ``kind`` (raises KeyError for an unknown kind). Do not mutate."""
        return self._schemas[kind]

    def default(self, kind: str, obj: dict[str, Any]) -> None:
        """Fill CRD and Calico defaults and canonical forms into ``obj`` in place (field names
        matched case-insensitively, as Go decodes them, are first renamed to their spelling).

        Parts of ``obj`` of the wrong shape are left for `validate` to report. Raises KeyError
        for an unknown kind only.
        """
        plan = self._defaults[kind]
        if isinstance(obj, dict) and _shape_problem(obj) is None:
            fieldnames.canonicalise(self._field_names[kind], obj)
            defaults.apply(self._strategy(kind).defaults, plan, obj)

    def validate(self, kind: str, obj: Any) -> list[Cause]:
        """Every reason ``obj`` is not a valid ``kind`` (empty when valid). Never mutates ``obj``.

        Raises KeyError for an unknown kind only.
        """
        compiled = self._compiled[kind]
        problem = _shape_problem(obj)
        if problem is not None:
            return [problem]
        schema_causes = list(islice(_dedupe(_schema_causes(compiled.iter_errors(obj))), _SCAN_LIMIT))
        reported = {cause.field for cause in schema_causes}
        semantic = (cause for cause in checks.run(kind, self._strategy(kind), obj)
                    if cause.field not in reported)
        return _bounded(_dedupe(chain(schema_causes, semantic)))

    def validate_update(self, kind: str, old: dict[str, Any], new: Any) -> list[Cause]:
        """`validate` of ``new`` plus the update-time rules against the stored ``old`` object
        (IPPool CIDR and blockSize are immutable, ...). Never mutates either object."""
        rules = self._strategy(kind).update_rules
        return _bounded(_dedupe(chain(self.validate(kind, new), update_rules.run(rules, old, new))))

    def _strategy(self, kind: str) -> Strategy:
        return self._strategies.get(kind, PLAIN)


def _shape_problem(obj: Any) -> Cause | None:
    """A cause when ``obj`` is not an object, exceeds the depth/size bounds or holds an integer
    no Go type can hold (iterative: safe on any nesting)."""
    if not isinstance(obj, dict):
        return Cause("", f"the body must be a JSON object, not {shown(obj)}", "FieldValueTypeInvalid")
    level: list[Any] = [obj]
    nodes = 0
    for depth in range(1, MAX_DEPTH + 2):
        if not level:
            return None
        if depth > MAX_DEPTH:
            return Cause("", f"the object is nested deeper than {MAX_DEPTH} levels", "FieldValueInvalid")
        nodes += len(level)
        if nodes > MAX_NODES:
            return Cause("", f"the object has more than {MAX_NODES} values", "FieldValueTooLong")
        below: list[Any] = []
        for value in level:
            if isinstance(value, dict):
                below.extend(value.values())
            elif isinstance(value, list):
                below.extend(value)
            elif isinstance(value, int) and value.bit_length() > 64:
                return Cause("", "the object holds a number beyond 64 bits", "FieldValueInvalid")
        level = below
    return None


def json_path(parts: Iterable[Any]) -> str:
    """``["spec", "ingress", 0, "ports"]`` → ``"spec.ingress[0].ports"``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out and not _is_identifier(part):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _is_identifier(text: str) -> bool:
    return text.replace("_", "a").isalnum() and text.isascii()


def _schema_causes(errors: Iterable[ValidationError]) -> Iterator[Cause]:
    for error in errors:
        yield from _translate(error)


def _translate(error: ValidationError) -> Iterator[Cause]:
    """Causes for one jsonschema error, with messages built from the schema (never from repr)."""
    path = list(error.absolute_path)
    field = json_path(path)
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword == "required":
        for name in expected:
            if isinstance(value, dict) and name not in value:
                yield Cause(json_path([*path, name]), "Required value", "FieldValueRequired")
    elif keyword == "additionalProperties" and expected is False and isinstance(value, dict):
        known = error.schema.get("properties", {})
        for name in value:
            if name not in known:
                yield Cause(json_path([*path, name]), f"unknown field {shown(name)}", "FieldUnknown")
    elif keyword == "type":
        wanted = [expected] if isinstance(expected, str) else list(expected)
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        yield Cause(field, f"must be {names}, got {_kind_of(value)}", "FieldValueTypeInvalid")
    elif keyword == "anyOf" and error.schema.get("x-kubernetes-int-or-string"):
        yield Cause(field, f"must be an integer or a string, got {_kind_of(value)}", "FieldValueTypeInvalid")
    elif keyword == "enum":
        allowed = ", ".join(json.dumps(v) for v in expected)
        yield Cause(field, f"unsupported value {shown(value)}: supported values: {allowed}",
                    "FieldValueNotSupported")
    else:
        yield _bound_cause(field, keyword, expected, value)


def _bound_cause(field: str, keyword: str, expected: Any, value: Any) -> Cause:
    if keyword == "maxLength":
        return Cause(field, f"may not be longer than {expected} characters (got {len(value)})",
                     "FieldValueTooLong")
    if keyword == "maxItems":
        return Cause(field, f"must have at most {expected} items (got {len(value)})", "FieldValueTooMany")
    messages = {
        "minLength": f"must be at least {expected} characters long",
        "minItems": f"must have at least {expected} items",
        "minimum": f"{shown(value)} is less than the minimum {expected}",
        "maximum": f"{shown(value)} is greater than the maximum {expected}",
        "pattern": f"{shown(value)} does not match the pattern {expected}",
        "format": f"invalid {_FORMAT_NAMES.get(expected, expected)} {shown(value)}",
        "maxProperties": f"must have at most {expected} entries",
        "minProperties": f"must have at least {expected} entries",
    }
    return Cause(field, messages.get(keyword, f"{shown(value)} is invalid ({keyword})"))


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    for python_type, name in ((str, "string"), (int, "integer"), (float, "number"),
                              (dict, "object"), (list, "array"), (type(None), "null")):
        if isinstance(value, python_type):
            return _TYPE_NAMES[name]
    return type(value).__name__


def _dedupe(causes: Iterable[Cause]) -> Iterator[Cause]:
    seen: set[Cause] = set()
    for cause in causes:
        if cause not in seen:
            seen.add(cause)
            yield cause


def _bounded(causes: Iterable[Cause]) -> list[Cause]:
    """The first `MAX_CAUSES` - 1 causes, plus one that counts the rest (scanning a bounded number)."""
    kept = list(islice(causes, _SCAN_LIMIT))
    if len(kept) <= MAX_CAUSES:
        return kept
    more = f"{len(kept) - MAX_CAUSES + 1}{'+' if len(kept) == _SCAN_LIMIT else ''}"
    return [*kept[:MAX_CAUSES - 1], Cause("", f"{more} more problems not shown")]
