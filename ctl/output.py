"""Rendering results as calicoctl prints them: ps/wide tables (Go text/tabwriter), YAML
(sigs.k8s.io/yaml: sorted keys), JSON (MarshalIndent, struct field order, no trailing newline),
custom columns and Go templates."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import yaml

from . import gotemplate

MINWIDTH, PADDING = 5, 3
_TOP_ORDER = ("kind", "apiVersion", "metadata", "spec", "status", "items")
_META_ORDER = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
               "generation", "creationTimestamp", "deletionTimestamp",
               "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
               "finalizers", "managedFields", "continue", "remainingItemCount")


class OutputError(Exception):
    """A bad ``-o`` value (message as calicoctl prints it)."""


@dataclass(frozen=True)
class Format:
    """A parsed ``-o`` value: ``kind`` is ps, wide, yaml, json, custom-columns or
    go-template; ``arg`` holds the column list or the template text."""

    kind: str
    arg: str = ""

    @property
    def tabular(self) -> bool:
        return self.kind in ("ps", "wide", "custom-columns")


def parse_format(value: str) -> Format:
    """``-o`` as calicoctl parses it. Raises OutputError."""
    if value in ("ps", "wide", "json"):
        return Format(value)
    if value in ("yaml", "yml"):
        return Format("yaml")
    for prefix, missing in (("custom-columns=", "need to specify at least one column"),
                            ("go-template=", "need to specify a template")):
        if value.startswith(prefix):
            if not value[len(prefix):]:
                raise OutputError(missing)
            return Format(prefix[:-1], value[len(prefix):])
    if value.startswith("go-template-file="):
        path = value[len("go-template-file="):]
        if not path:
            raise OutputError("need to specify a template file")
        try:
            with open(path, encoding="utf-8") as handle:
                return Format("go-template", handle.read())
        except OSError as err:
            raise OutputError(f"error reading template file: {err}") from None
    raise OutputError(f"unrecognized output format '{value}'")


# -- tables ----------------------------------------------------------------------------------
def tabwrite(rows: Sequence[Sequence[str]]) -> str:
    """Go ``text/tabwriter`` (minwidth 5, padding 3, pad ' ') with every cell tab-terminated."""
    if not rows:
        return ""
    widths = [MINWIDTH] * max(len(r) for r in rows)
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell) + PADDING)
    return "".join("".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + "\n"
                   for row in rows)


# olekukonko/tablewriter v0.0.5 defaults, as calicoctl's ``node status`` uses them.
_WRAP_AT = 30
_DECIMAL = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})*|\d+)(?:\.\d+)?$", re.ASCII)


def box_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table in ``+---+`` borders, as tablewriter renders it: upper-cased centred
    headings, cells wrapped at 30 columns (fewest ragged lines), numbers right-aligned."""
    wrapped = [[_wrap(c) for c in row] for row in rows]
    cells = [[lines for lines, _ in row] for row in wrapped]
    widths = [max([len(h), *(row[i][1] for row in wrapped)]) for i, h in enumerate(header)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+\n"

    def line(parts: Sequence[str]) -> str:
        return "|" + "|".join(f" {p} " for p in parts) + "|\n"

    body = []
    for row in cells:
        for n in range(max(len(c) for c in row)):
            texts = [c[n] if n < len(c) else "" for c in row]
            body.append(line([t.rjust(w) if _DECIMAL.match(t.strip()) else t.ljust(w)
                              for t, w in zip(texts, widths)]))
    heading = line([_centred(h.replace("_", " ").strip().upper(), w)
                    for h, w in zip(header, widths)])
    return rule + heading + rule + "".join(body) + rule


def _centred(text: str, width: int) -> str:
    gap = width - len(text)
    return " " * (gap // 2) + text + " " * (gap - gap // 2)


def _wrap(text: str) -> tuple[list[str], int]:
    """tablewriter's WrapString: the words of ``text`` in lines of at most 30 columns (or
    the longest word), with the least raggedness (the sum of each line's squared
    shortfall); and the width the cell asks of its column (a wrapped cell: the limit)."""
    words = text.split(" ")
    limit = max([min(len(text), _WRAP_AT), *(len(w) for w in words)])
    n = len(words)
    cost, breaks = [0] * (n + 1), [n] * (n + 1)
    for i in range(n - 1, -1, -1):
        if len(" ".join(words[i:])) <= limit:
            cost[i], breaks[i] = 0, n
            continue
        cost[i] = 2 ** 31 - 1
        for j in range(i + 1, n):
            width = len(" ".join(words[i:j]))
            c = (limit - width) ** 2 + cost[j] + (100_000 if width > limit else 0)
            if c < cost[i]:
                cost[i], breaks[i] = c, j
    lines, i = [], 0
    while i < n:
        lines.append(" ".join(words[i:breaks[i]]))
        i = breaks[i]
    return lines, limit


def with_namespace_column(table: dict) -> dict:
    """``table`` led by a NAMESPACE column read from each row's object, as kubectl adds one:
    the server's Tables, like kube-apiserver's, have none."""
    heading = {"name": "NAMESPACE", "type": "string", "format": "", "description": "",
               "priority": 0}
    rows = [{**row, "cells": [((row.get("object") or {}).get("metadata") or {})
                              .get("namespace", "")] + list(row.get("cells") or [])}
            for row in table.get("rows") or []]
    return {**table, "columnDefinitions": [heading] + list(table.get("columnDefinitions") or []),
            "rows": rows}


def select_columns(table: dict, fmt: Format, *, with_namespace: bool) -> list[int]:
    """Indexes of the Table's columns to show. Raises OutputError for an unknown heading."""
    defs = table.get("columnDefinitions") or []
    names = [d.get("name", "") for d in defs]
    if fmt.kind == "custom-columns":
        out = []
        for heading in fmt.arg.split(","):
            wanted = heading.strip().upper()
            if wanted not in names:
                valid = ", ".join(n for n in names if n != "NAMESPACE")
                raise OutputError(f"unknown heading {heading.strip()}, valid values are: {valid}")
            out.append(names.index(wanted))
        return out
    out = []
    for i, d in enumerate(defs):
        if d.get("name") == "NAMESPACE" and i == 0 and not with_namespace:
            continue
        if fmt.kind == "ps" and int(d.get("priority") or 0) > 0:
            continue
        out.append(i)
    return out


def render_table(table: dict, fmt: Format, *, with_namespace: bool) -> str:
    """One table (header + rows) followed by a blank line."""
    cols = select_columns(table, fmt, with_namespace=with_namespace)
    names = [table["columnDefinitions"][i]["name"] for i in cols]
    rows = [names] + [[_cell(row["cells"][i]) for i in cols]
                      for row in table.get("rows") or []]
    return tabwrite(rows) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- YAML / JSON -----------------------------------------------------------------------------
_YAML11_BOOLS = ("y", "Y", "n", "N")


class _Dumper(yaml.SafeDumper):
    """YAML as go-yaml v2 writes it: strings that would read back as another type are
    double-quoted, multi-line strings are literal blocks, integral floats print as ints."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = None
    if "\n" in value:
        style = "|"
    elif value in _YAML11_BOOLS or \
            dumper.resolve(yaml.ScalarNode, value, (True, False)) != "tag:yaml.org,2002:str":
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _float(dumper: yaml.SafeDumper, value: float) -> yaml.Node:
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return dumper.represent_int(int(value))
    return yaml.SafeDumper.represent_float(dumper, value)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(float, _float)


def to_yaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=math.inf)


def go_order(value: Any, depth: int = 0) -> Any:
    """Objects re-keyed in Go struct order (TypeMeta, ObjectMeta, Spec…); floats that are
    integers become ints; a null creationTimestamp is left out, as calicoctl prints it."""
    if isinstance(value, dict):
        order = _TOP_ORDER if depth == 0 or "apiVersion" in value else ()
        keys = [k for k in order if k in value] + [k for k in value if k not in order]
        out = {}
        for k in keys:
            child = value[k]
            if k == "metadata" and isinstance(child, dict):
                child = {m: child[m] for m in
                         [m for m in _META_ORDER if m in child] +
                         [m for m in child if m not in _META_ORDER]
                         if not (m == "creationTimestamp" and child[m] is None)}
            out[k] = go_order(child, depth + 1)
        return out
    if isinstance(value, list):
        return [go_order(v, depth + 1) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


def to_json(value: Any) -> str:
    """``json.MarshalIndent(v, "", "  ")``: HTML characters escaped, no trailing newline."""
    text = json.dumps(go_order(value), indent=2, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_objects(results: Sequence[dict], fmt: Format) -> str:
    """YAML / JSON / go-template output of the results of one get: one result is printed
    bare, several as a sequence; without managedFields, as calicoctl (and kubectl, unless
    asked) prints objects."""
    results = [_without_managed_fields(r) for r in results]
    if fmt.kind == "go-template":
        return gotemplate.render(fmt.arg, gotemplate.go_view(list(results)))
    value: Any = results[0] if len(results) == 1 else list(results)
    if fmt.kind == "json":
        return to_json(value)
    return to_yaml(go_order(value))


def _without_managed_fields(obj: dict) -> dict:
    """``obj`` (or each item of a list) without ``metadata.managedFields``."""
    if isinstance(obj.get("items"), list):
        return {**obj, "items": [_without_managed_fields(i) for i in obj["items"]]}
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


def as_list(kind: str, api_version: str, items: Iterable[dict], resource_version: str) -> dict:
    """The ``<Kind>List`` calicoctl prints for a list query."""
    return {"apiVersion": api_version, "kind": f"{kind}List", "items": list(items),
            "metadata": {"resourceVersion": resource_version}}
