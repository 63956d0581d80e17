#!/usr/bin/env python3
"""Generate one JSON Schema per projectcalico.org/v3 kind into this directory.

    python schemas/generate.py [--crds DIR] [--out DIR]

Sources:
* Calico's CRDs (default DIR: ``<repo>/../shared/reference/crds``): the ``openAPIV3Schema``
  of each CRD, converted to JSON Schema (draft 2020-12 keywords that OpenAPI 3 also knows).
* ``schemas/extra/*.yaml``: kinds without a CRD (Node, WorkloadEndpoint, Profile and our own
  RemoteClusterConfiguration), written in the same OpenAPI dialect. A node
  ``{x-copy: "<Kind>:<dotted.path>"}`` is replaced by that part of a CRD's converted schema,
  so shared structures (policy rules) are defined once.

Conversion (what stays, what is rewritten):
* fields, types, enums, patterns, min/max, minItems/maxItems, maxLength, required, defaults,
  formats, ``x-kubernetes-*`` annotations (incl. CEL rules, kept as documentation; the
  semantic checks in ``apiserver/resources`` implement them) stay as they are;
* Go RE2 patterns with an inline global flag (``^(?i)(A|B)$``) get the flag moved to the
  front (``(?i)^(A|B)$``), which Python ``re`` accepts with the same meaning;
* ``nullable: true`` becomes a ``"null"`` member of ``type``;
* an ``x-kubernetes-int-or-string`` node gets ``anyOf: [integer, string]`` if it lacks one;
* every object that lists ``properties`` and neither sets ``additionalProperties`` nor
  preserves unknown fields gets ``additionalProperties: false`` (unknown fields are errors);
* ``apiVersion`` is pinned to ``projectcalico.org/v3``, ``kind`` to the kind, and
  ``metadata`` is replaced by a strict ObjectMeta subset;
* each file carries ``title`` (the kind), ``x-kubernetes-group-version-kind`` and
  ``x-calico-scope`` (``Cluster`` or ``Namespaced``, from the CRD).

Output: ``<kind lower-case>.json``, sorted keys, indent 2, trailing newline; re-running the
script on the same inputs reproduces the files byte for byte.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_CRDS = HERE.parent.parent / "shared" / "reference" / "crds"
GROUP, VERSION = "projectcalico.org", "v3"
INLINE_FLAG = re.compile(r"^\^\(\?([a-z]+)\)")

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_TIME = {"type": ["string", "null"], "format": "date-time"}
OBJECT_META: dict[str, Any] = {
    "type": "object",
    "description": "Standard object metadata (a strict subset of Kubernetes ObjectMeta).",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 253},
        "generateName": {"type": "string", "maxLength": 253},
        "namespace": {"type": "string", "maxLength": 63},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer", "format": "int64"},
        "creationTimestamp": _TIME,
        "deletionTimestamp": _TIME,
        "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["apiVersion", "kind", "name", "uid"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "name": {"type": "string"},
                    "uid": {"type": "string"},
                    "controller": {"type": "boolean"},
                    "blockOwnerDeletion": {"type": "boolean"},
                },
            },
        },
        "managedFields": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "apiVersion": {"type": "string"},
                    "fieldsType": {"type": "string"},
                    "fieldsV1": {"type": "object"},
                    "manager": {"type": "string"},
                    "operation": {"type": "string"},
                    "subresource": {"type": "string"},
                    "time": _TIME,
                },
            },
        },
    },
}


AS_NUMBER_FIELDS = frozenset({"asNumber", "localASNumber", "asPathPrefix", "prefix"})
"""numorstring.ASNumber fields: the CRDs say int32, the Go type is uint32."""


def fix_as_numbers(properties: dict[str, Any]) -> None:
    """Give AS-number integers (or lists of them) the uint32 range instead of ``int32``."""
    for name, sub in properties.items():
        target = sub.get("items", {}) if sub.get("type") == "array" else sub
        if name in AS_NUMBER_FIELDS and target.get("type") == "integer":
            target.pop("format", None)
            target.update(minimum=0, maximum=4294967295)


def fix_pattern(pattern: str) -> str:
    """Move a leading inline flag group after ``^`` (``^(?i)…``) to the very front."""
    m = INLINE_FLAG.match(pattern)
    return f"(?{m.group(1)})^{pattern[m.end():]}" if m else pattern


def convert(node: Any) -> Any:
    """Return the JSON Schema form of one OpenAPI v3 (CRD dialect) schema node."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: convert(value) for key, value in node.items()}
    if "pattern" in out:
        out["pattern"] = fix_pattern(out["pattern"])
    if isinstance(out.get("properties"), dict):
        fix_as_numbers(out["properties"])
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def resource_schema(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Wrap a converted top-level schema into the schema of a whole v3 resource."""
    schema = copy.deepcopy(body)
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "enum": [f"{GROUP}/{VERSION}"],
                           "description": "Always projectcalico.org/v3."}
    props["kind"] = {"type": "string", "enum": [kind], "description": f"Always {kind}."}
    props["metadata"] = copy.deepcopy(OBJECT_META)
    schema["type"] = "object"
    schema["additionalProperties"] = False
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://{GROUP}/{VERSION}/{kind.lower()}.json"
    schema["title"] = kind
    schema["x-kubernetes-group-version-kind"] = [{"group": GROUP, "version": VERSION, "kind": kind}]
    return schema


def load_crds(crd_dir: Path) -> dict[str, dict[str, Any]]:
    """Kind → (scope, converted openAPIV3Schema) for every CRD file in ``crd_dir``."""
    kinds: dict[str, dict[str, Any]] = {}
    for path in sorted(crd_dir.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        kind = crd["spec"]["names"]["kind"]
        version = next(v for v in crd["spec"]["versions"] if v["name"] == VERSION)
        kinds[kind] = {"scope": crd["spec"]["scope"],
                       "schema": convert(version["schema"]["openAPIV3Schema"])}
    return kinds


def resolve_copies(node: Any, crds: dict[str, dict[str, Any]]) -> Any:
    """Replace every ``{x-copy: "Kind:a.b.c"}`` node by that sub-schema of a converted CRD."""
    if isinstance(node, list):
        return [resolve_copies(item, crds) for item in node]
    if not isinstance(node, dict):
        return node
    if "x-copy" in node:
        kind, _, dotted = node["x-copy"].partition(":")
        target: Any = crds[kind]["schema"]
        for part in dotted.split("."):
            target = target["properties"][part] if part != "items" else target["items"]
        return copy.deepcopy(target)
    return {key: resolve_copies(value, crds) for key, value in node.items()}


def load_extras(extra_dir: Path, crds: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Kind → (scope, converted schema) for every hand-written ``extra/*.yaml`` source."""
    kinds: dict[str, dict[str, Any]] = {}
    for path in sorted(extra_dir.glob("*.yaml")):
        source = yaml.safe_load(path.read_text())
        schema = convert(resolve_copies(source["schema"], crds))
        kinds[source["kind"]] = {"scope": source["scope"], "schema": schema}
    return kinds


def render(schema: dict[str, Any]) -> str:
    """The canonical text of one schema file."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate(crd_dir: Path, out_dir: Path) -> list[Path]:
    """Write every kind's schema into ``out_dir``; return the written paths."""
    crds = load_crds(crd_dir)
    kinds = {**crds, **load_extras(HERE / "extra", crds)}
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, source in sorted(kinds.items()):
        schema = resource_schema(kind, source["schema"])
        schema["x-calico-scope"] = source["scope"]
        path = out_dir / f"{kind.lower()}.json"
        path.write_text(render(schema))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crds", type=Path, default=DEFAULT_CRDS, help="directory of Calico CRD YAMLs")
    parser.add_argument("--out", type=Path, default=HERE, help="output directory (default: schemas/)")
    args = parser.parse_args(argv)
    if not args.crds.is_dir():
        print(f"no CRD directory at {args.crds}", file=sys.stderr)
        return 2
    for path in generate(args.crds, args.out):
        print(path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
