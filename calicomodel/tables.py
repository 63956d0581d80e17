"""Printer columns (calicoctl's ``-o ps`` / ``-o wide``) as data, and the ``Table`` they render to."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Union

Getter = Callable[[dict], Any]


def path(expr: str) -> Getter:
    """A getter for a dotted path such as ``spec.cidr``; absent → ``""``."""
    steps = expr.split(".")

    def get(obj: dict) -> Any:
        cur: Any = obj
        for step in steps:
            if not isinstance(cur, dict) or step not in cur:
                return ""
            cur = cur[step]
        return cur
    return get


@dataclass(frozen=True)
class Col:
    """One column: heading, value (dotted path or getter), and whether only ``wide`` shows it."""

    name: str
    value: Union[str, Getter]
    wide: bool = False
    getter: Getter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "getter",
                           path(self.value) if isinstance(self.value, str) else self.value)

    def get(self, obj: dict) -> str:
        return cell(self.getter(obj))


def cell(value: Any) -> str:
    """Render a value the way calicoctl's Go templates print it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(v if isinstance(v, str) else cell(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={cell(v)}" for k, v in sorted(value.items()))
    return str(value)


def truncated(expr: str, width: int = 80) -> Getter:
    """Joined with ``,`` and cut to ``width`` characters with ``...`` (NETS, CIDRS)."""
    get = path(expr)

    def value(obj: dict) -> str:
        text = cell(get(obj))
        return text if len(text) <= width else text[: width - 3] + "..."
    return value


def first_of(*exprs: str, default: str = "") -> Getter:
    """The first non-empty of several paths (BGPPeer NODE: node, nodeSelector, ``(global)``)."""
    getters = [path(e) for e in exprs]

    def value(obj: dict) -> Any:
        for g in getters:
            v = g(obj)
            if v not in ("", None, [], {}):
                return v
        return default
    return value


INCLUDE_OBJECT = ("Object", "Metadata", "None")


def table(columns: Iterable[Col], objects: Iterable[dict], *, include: str = "Object",
          headers: bool = True) -> dict:
    """A ``meta.k8s.io/v1`` Table; wide-only columns have priority 1. As kube-apiserver's, it
    has no NAMESPACE column: clients add one from each row's object (kubectl's ``-A``). A row
    carries its object whole, as a PartialObjectMetadata (``include="Metadata"``) or not at
    all (``"None"``); without ``headers`` (a watch's events after the first) the column
    definitions are null, and clients keep the ones they have."""
    cols = list(columns)
    return {**head(cols, headers=headers), "rows": [row(cols, obj, include) for obj in objects]}


def head(columns: list[Col], *, headers: bool = True) -> dict:
    """A Table without its ``rows`` (which a long list streams after it)."""
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": [{"name": c.name, "type": "string", "format": "",
                                   "description": "", "priority": 1 if c.wide else 0}
                                  for c in columns] if headers else None}


def cells(columns: list[Col], obj: dict) -> list[str]:
    return [c.get(obj) for c in columns]


def row(columns: list[Col], obj: dict, include: str) -> dict:
    """One object's row: its cells and, as ``include`` says, the object."""
    out: dict[str, Any] = {"cells": cells(columns, obj)}
    if include == "Object":
        out["object"] = obj
    elif include == "Metadata":
        out["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj.get("metadata") or {}}
    return out
