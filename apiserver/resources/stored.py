"""Objects ↔ the bytes libcalico-go stores (``model.SerializeValue`` / ``kvPairToResource``)."""
from __future__ import annotations

import json
from typing import Any

from .calico import DEFAULT_TIER, POLICY_METADATA, TIER_LABEL
from .catalog import Kind
_ORDER = ("kind", "apiVersion", "metadata", "spec", "status")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def encode(kind: Kind, obj: dict) -> bytes:
    """The stored JSON: the whole object without ``resourceVersion``; policies carry their
    name in the ``projectcalico.org/metadata`` annotation. ``obj`` is not mutated."""
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    if kind.tiered:
        meta["annotations"] = {**(meta.get("annotations") or {}),
                               POLICY_METADATA: dumps({"name": meta["name"]}).decode()}
    out = {k: obj[k] for k in _ORDER if k in obj and k != "metadata"}
    out["metadata"] = meta
    return dumps({k: out[k] for k in _ORDER if k in out})


def decode(kind: Kind, value: bytes, revision: int) -> dict:
    """The API object for stored bytes at ``revision``. Raises ValueError on undecodable data."""
    obj = json.loads(value)
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        raise ValueError("not a Calico resource")
    meta = obj["metadata"]
    meta["resourceVersion"] = str(revision)
    meta.pop("selfLink", None)
    if kind.tiered:
        annotations = meta.get("annotations") or {}
        annotations.pop(POLICY_METADATA, None)
        if not annotations:
            meta.pop("annotations", None)
        labels = meta.setdefault("labels", {})
        labels.setdefault(TIER_LABEL, (obj.get("spec") or {}).get("tier") or DEFAULT_TIER)
    return obj
